# Copyright: maildns.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The local-resolver fix applied on a host: Unbound first, then the path, each step verified.

Private to the collection. Runs on managed hosts: Python 3.8 syntax.

Order, so that the host always has working DNS:
1. Unbound's files; `unbound-checkconf`; start (or reload) Unbound; ask it the RFC 5782 test points
   of the host's own lists directly. The host's resolver path is still the old one.
2. The resolver path (resolv.conf, or systemd-resolved's drop-in; Postfix's chroot copy); ask the
   test points again through every address glibc now uses.
3. SpamAssassin's `dns_server` lines and block files; `spamassassin --lint`.
4. Running daemons pick the change up: `postfix reload` after the chroot copy is refreshed (a
   reload alone keeps the old copy, and smtpd caches DNSBL verdicts for its life), spamd reloaded.
Any failure puts every file back byte for byte and the daemons back on the old files.
"""

from __future__ import annotations

import os
import shutil
import time
from typing import List, Optional

from ansible_collections.maildns.audit.plugins.module_utils import dnsbl_catalog
from ansible_collections.maildns.audit.plugins.module_utils._remediate.local_resolver_plan import (
    UNBOUND_CONF,
    ResolverOptions,
    ResolverPlan,
    all_entries,
    plan_local_resolver,
    plan_summary,
    unbound_of,
)
from ansible_collections.maildns.audit.plugins.module_utils._remediate.services import Service, run
from ansible_collections.maildns.audit.plugins.module_utils._remediate.transaction import (
    FileTransaction,
    TransactionError,
)
from ansible_collections.maildns.audit.plugins.module_utils.dnsbl_probe import WORKING, probe_test_points
from ansible_collections.maildns.audit.plugins.module_utils.resolver_target import ResolverTarget

UNBOUND_HELPER = "/usr/libexec/unbound-helper"  # Debian: copies dns-root-data's anchor into place
VERIFY_ATTEMPTS = 5  # Unbound may still be starting, or warming its cache from the root
VERIFY_PAUSE = 1.0


class StepFailed(Exception):
    pass


def verify_through(addresses: list, zones: list, timeout: float, attempts: int = VERIFY_ATTEMPTS) -> tuple:
    """(ok, [per address and list: classification and detail]) of the test points through `addresses`."""
    results: List[dict] = []
    for attempt in range(attempts):
        targets = [ResolverTarget(address, "local resolver") for address in addresses]
        probes = probe_test_points(zones, targets, timeout=timeout)
        results = [
            {
                "resolver": probe.resolver.address,
                "zone": probe.shown,
                "classification": probe.classification,
                "detail": dnsbl_catalog.mask_secrets(probe.detail),
            }
            for probe in probes
        ]
        if all(result["classification"] == WORKING for result in results):
            return True, results
        if attempt + 1 < attempts:
            time.sleep(VERIFY_PAUSE)
    return False, results


def _failed_lines(results: list) -> str:
    bad = [r for r in results if r["classification"] != WORKING]
    return "; ".join(
        "%s through %s: %s (%s)" % (r["zone"], r["resolver"], r["classification"], r["detail"]) for r in bad
    )


class LocalResolverRun:
    def __init__(self, host, options: ResolverOptions, timeout: float = 2.5) -> None:  # type: ignore[no-untyped-def]
        self.host = host
        self.options = options
        self.timeout = timeout
        self.files = host.files
        self.plan: ResolverPlan = plan_local_resolver(host, options)
        self.tx = FileTransaction(self.files, mask=dnsbl_catalog.mask_secrets)
        for path, data, reason, backup in all_entries(self.plan):
            self.tx.set(path, data, reason, backup=backup)
        unbound = unbound_of(host)
        pidfile = "/run/unbound.pid"
        if unbound is not None and unbound.server_options.get("pidfile"):
            pidfile = unbound.server_options["pidfile"][-1]["value"] or pidfile
        self.unbound = Service(self.files, "unbound", pidfile=pidfile)
        self.resolved = Service(self.files, "systemd-resolved", unit="systemd-resolved")
        self.spamd = Service(self.files, "spamd", pidfile="/run/spamd.pid")
        self.log: List[str] = []
        self.touched: List[str] = []  # services acted on, for the rollback
        self.created: List[str] = []  # files made outside the transaction (the trust anchor)

    # -- what would happen ---------------------------------------------------------------------------
    def _stage_changes(self, entries: list) -> list:
        paths = [entry[0] for entry in entries]
        return [change.path for change in self.tx.pending() if change.path in paths]

    def planned_actions(self) -> list:
        actions = []
        unbound_running = self.unbound.running()
        if self._stage_changes(self.plan.unbound):
            # A restart, not a reload: Unbound binds its interfaces as root before it drops privileges,
            # so a SIGHUP cannot bind an interface the new drop-in adds.
            actions.append("restart unbound" if unbound_running else "start unbound")
        elif not unbound_running:
            actions.append("start unbound")
        path_changes = self._stage_changes(self.plan.path)
        if path_changes and self.plan.resolved_stub:
            actions.append("restart systemd-resolved")
        if path_changes and self._postfix_running():
            actions.append("postfix reload")
        sa_changes = [
            p for p in self._stage_changes(self.plan.spamassassin) if not os.path.basename(p).startswith("dnsblock_")
        ]
        if sa_changes:
            actions.append("spamassassin --lint")
            if self.spamd.running():
                actions.append("reload spamd")
        return actions

    def preview(self) -> dict:
        actions = self.planned_actions() if self.plan.status == "change" else []
        return {
            "changed": bool(self.tx.pending()) or bool(actions),
            "plan": plan_summary(self.plan),
            "files": self.tx.summary(),
            "actions": actions,
            "diff": self.tx.diffs(),
        }

    # -- doing it ------------------------------------------------------------------------------------
    def _postfix_running(self) -> bool:
        if self.host.postfix is None or shutil.which("postfix") is None:
            return False
        code, _output = run(["postfix", "-c", self.host.postfix_config_directory, "status"])
        return code == 0

    def _step(self, what: str, result: tuple) -> None:
        code, output = result
        self.log.append("%s: exit %d%s" % (what, code, (": " + output[-400:]) if output else ""))
        if code != 0:
            raise StepFailed("%s failed (exit %d): %s" % (what, code, output[-800:] or "no output"))

    def _trust_anchor(self) -> None:
        """Debian's Unbound start copies dns-root-data's root key into place; checkconf wants it first."""
        anchor = self.plan.trust_anchor
        if not anchor or os.path.exists(self.files.path(anchor)):
            return
        if os.path.exists(self.files.path(UNBOUND_HELPER)) and self.files.root in ("", "/"):
            run([UNBOUND_HELPER, "root_trust_anchor_update"])
        if os.path.exists(self.files.path(anchor)):
            self.created.append(anchor)  # made for this run: a rollback removes it again
            return
        # The helper asks unbound-checkconf where the anchor goes: a configuration it refuses for
        # another reason is that reason, not a missing anchor.
        code, output = run(["unbound-checkconf", UNBOUND_CONF])
        if code != 0 and "trust-anchor" not in output:
            self._step("unbound-checkconf", (code, output))
        raise StepFailed(
            "Unbound's trust anchor %s is missing: install dns-root-data (Debian) or run unbound-anchor,"
            " or set local_resolver_dnssec=false where the root is not signed" % anchor
        )

    def _wait_running(self, what: str) -> None:
        """An init script can report success for a daemon that exits at once (a port it cannot bind)."""
        for _attempt in range(30):
            if self.unbound.running():
                return
            time.sleep(0.1)
        raise StepFailed(
            "Unbound did not start (%s reported success, but no unbound process runs): see its log, for"
            " example a port it cannot bind" % what
        )

    def apply(self) -> dict:
        result = self.preview()
        unbound_was_running = self.unbound.running()
        try:
            # 1. Unbound, verified directly, while the host still uses its old path.
            unbound_changed = self.tx.apply(only=[entry[0] for entry in self.plan.unbound])
            self._trust_anchor()
            self._step("unbound-checkconf", run(["unbound-checkconf", UNBOUND_CONF]))
            if not unbound_was_running:
                self.touched.append("unbound")
                self._step("start unbound", self.unbound.start())
                self._wait_running("start unbound")
                self.unbound.enable()
            elif unbound_changed:
                self.touched.append("unbound")
                self._step("restart unbound", self.unbound.restart())
                self._wait_running("restart unbound")
            ok, checks = verify_through(self.plan.listen, self.plan.verify_zones, self.timeout)
            result["verification"] = {"local_resolver": checks}
            if not ok:
                raise StepFailed("Unbound does not answer the test points right: " + _failed_lines(checks))
            # 2. The resolver path, verified through what glibc now asks.
            path_changed = self.tx.apply(only=[entry[0] for entry in self.plan.path])
            if path_changed and self.plan.resolved_stub:
                self.touched.append("systemd-resolved")
                self._step("restart systemd-resolved", self.resolved.restart())
            ok, checks = verify_through(self.plan.path_addresses, self.plan.verify_zones, self.timeout)
            result["verification"]["resolver_path"] = checks
            if not ok:
                raise StepFailed(
                    "the new resolver path does not answer the test points right: " + _failed_lines(checks)
                )
            # 3. SpamAssassin, linted.
            sa_changed = self.tx.apply(only=[entry[0] for entry in self.plan.spamassassin])
            configs = [p for p in sa_changed if not os.path.basename(p).startswith("dnsblock_")]
            if configs:
                self._step("spamassassin --lint", run(["spamassassin", "--lint"], timeout=120))
            # 4. Daemons that keep the old resolver until told.
            if path_changed and self._postfix_running():
                self.touched.append("postfix")
                self._step("postfix reload", run(["postfix", "-c", self.host.postfix_config_directory, "reload"]))
            if configs and self.spamd.running():
                self.touched.append("spamd")
                self._step("reload spamd", self.spamd.reload())
        except (StepFailed, TransactionError) as failure:
            result.update(self._roll_back(str(failure), unbound_was_running))
            return result
        result["changed"] = bool(self.tx.applied_paths()) or bool(self.touched)
        result["log"] = self.log
        return result

    def _roll_back(self, reason: str, unbound_was_running: bool) -> dict:
        restored = [dnsbl_catalog.mask_secrets(p) for p in self.tx.applied_paths()]
        problems = self.tx.rollback()
        for path in self.created:
            try:
                os.unlink(self.files.path(path))
                restored.append(path)
            except OSError as error:
                problems.append("%s cannot be removed: %s" % (path, error))
        for service in reversed(self.touched):
            if service == "unbound":
                self.unbound.restart() if unbound_was_running else self.unbound.stop()
            elif service == "systemd-resolved":
                self.resolved.restart()
            elif service == "spamd":
                self.spamd.reload()
        if restored and self._postfix_running():
            # The chroot copy is back: the running smtpd processes must read it again.
            run(["postfix", "-c", self.host.postfix_config_directory, "reload"])
        message = "%s. Rolled back: %s restored byte for byte" % (reason, ", ".join(restored) or "no file had changed")
        if problems:
            message += "; NOT restored: " + "; ".join(problems)
        return {
            "failed": True,
            "changed": False,
            "msg": dnsbl_catalog.mask_secrets(message),
            "rolled_back": restored,
            "log": self.log,
        }


def ipv6_loopback(files) -> bool:  # type: ignore[no-untyped-def]
    """Whether the host has ::1 (from /proc/net/if_inet6), so Unbound can listen on it."""
    try:
        with open(files.path("/proc/net/if_inet6")) as handle:
            return any(line.split()[0] == "0" * 31 + "1" for line in handle if line.strip())
    except OSError:
        return False


def run_local_resolver(host, options: ResolverOptions, check_mode: bool, timeout: float = 2.5) -> dict:  # type: ignore[no-untyped-def]
    """The module's whole job: a preview in check mode, else the change, verified or rolled back."""
    job = LocalResolverRun(host, options, timeout)
    if job.plan.status != "change":
        return {
            "changed": False,
            "failed": job.plan.status == "blocked",
            "msg": job.plan.reason,
            "plan": plan_summary(job.plan),
            "files": [],
            "actions": [],
            "diff": [],
        }
    if check_mode:
        return job.preview()
    return job.apply()


def parse_root_hints(hints: Optional[list]) -> list:
    """`[{name, address}]` or `["name=address"]` -> `[{name, address}]`; a bad entry raises ValueError."""
    parsed = []
    for hint in hints or []:
        if isinstance(hint, dict):
            name, address = hint.get("name", ""), hint.get("address", "")
        else:
            name, _sep, address = str(hint).partition("=")
        if not name or not address:
            raise ValueError("root hint %r: give it as {name: ns.example., address: 192.0.2.1}" % (hint,))
        parsed.append({"name": name.strip(), "address": address.strip()})
    return parsed
