# Copyright: maildns.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The DNSBL policy applied on a host: planned, previewed, validated, reloaded, verified, or rolled back.

Private to the collection. Runs on managed hosts: Python 3.8 syntax.

One run, in this order (DESIGN section 5):
1. Plan (`dnsbl_policy_plan.plan_for_host`) from the host model the audit reads. Every file the plan
   may touch goes into one `FileTransaction`: main.cf and master.cf with the bytes the real
   `postconf` writes (computed on a private copy, so check mode shows postconf's own result), the
   reply maps, the SpamAssassin rule files, the dnsblock_* files to remove.
2. Check mode stops here: the preview (masked plan, per-file diff), nothing written.
3. `postfix check` before any change (its warnings are the baseline), then postconf on the real
   directory, then the other files, each written in place with its mode and owner (the files that
   hold a DQS key: 0640, root and the postfix or SpamAssassin group).
4. Validate: `postfix check` must exit 0 with no warning or fatal line it did not print before;
   `spamassassin --lint` where a SpamAssassin configuration file changed.
5. Verify with the audit's own judge: the host read again, the findings the plan claimed to fix
   must be gone.
6. Only then reload what runs and changed: `postfix reload` (where `postfix status` says it runs),
   spamd.
Any failure restores every file byte for byte (mode and owner too) and fails with the checker's
message. DQS keys are masked (`<DQS key>`) in everything returned.
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import shutil
import stat
from typing import Callable, List, Optional

from ansible_collections.maildns.audit.plugins.module_utils import dnsbl_catalog
from ansible_collections.maildns.audit.plugins.module_utils._remediate.dnsbl_policy_plan import (
    Plan,
    PolicyOptions,
    plan_for_host,
)
from ansible_collections.maildns.audit.plugins.module_utils._remediate.postconf_edit import (
    Change,
    PostconfEditError,
    _copy_for_check,
    edit_postfix,
)
from ansible_collections.maildns.audit.plugins.module_utils._remediate.services import Service, run
from ansible_collections.maildns.audit.plugins.module_utils._remediate.transaction import (
    FileTransaction,
    TransactionError,
    read_bytes,
)
from ansible_collections.maildns.audit.plugins.module_utils.host_model import find_postconf
from ansible_collections.maildns.audit.plugins.module_utils.judge import judge_postfix, judge_spamassassin

SECRET_MODE = 0o640
LINT_TIMEOUT = 180
# postfix-script prints its warnings only to a terminal (or the mail log): `script` gives it one.
_PID = re.compile(r"\[\d+\]")


class StepFailed(Exception):
    pass


def finding_ids(host) -> dict:  # type: ignore[no-untyped-def]
    """{finding id: count} the audit's judge gives for the host's Postfix and SpamAssassin."""
    found: dict = {}
    findings = []
    if host.postfix is not None:
        findings += judge_postfix(host.postfix)
    if host.spamassassin is not None:
        findings += judge_spamassassin(host.spamassassin)
    for finding in findings:
        found[finding.id] = found.get(finding.id, 0) + 1
    return found


def still_there(claimed: list, after: dict) -> list:
    """The claimed finding ids the judge still reports after the change."""
    return sorted(finding for finding in claimed if after.get(finding, 0))


def problem_lines(output: str) -> list:
    """The warning and fatal lines of a checker's output, without pids (so runs compare)."""
    lines = []
    for line in output.splitlines():
        if "warning:" in line or "fatal:" in line or "error:" in line:
            text = _PID.sub("", line.strip())
            if text not in lines:
                lines.append(text)
    return lines


def _group_id(name: str) -> Optional[int]:
    try:
        return grp.getgrnam(name).gr_gid
    except (KeyError, TypeError):
        return None


def _user_id(name: str) -> Optional[int]:
    try:
        return pwd.getpwnam(name).pw_uid
    except (KeyError, TypeError):
        return None


class Ownership:
    """The mode, owner and group a file must have after the run (a file that holds a DQS key)."""

    def __init__(self, path: str, mode: int, owner: str, group: str) -> None:
        self.path = path
        self.mode = mode
        self.owner = owner
        self.group = group
        self.before: Optional[tuple] = None  # (mode, uid, gid) before the run, when it was changed

    def wanted(self) -> tuple:
        uid = _user_id(self.owner)
        gid = _group_id(self.group)
        return self.mode, 0 if uid is None else uid, 0 if gid is None else gid

    def current(self, real: str) -> Optional[tuple]:
        try:
            info = os.stat(real)
        except OSError:
            return None
        return stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid

    def label(self) -> str:
        return "%04o %s:%s" % (self.mode, self.owner, self.group)


class DnsblPolicyRun:
    def __init__(
        self,
        host,  # type: ignore[no-untyped-def]
        options: PolicyOptions,
        reread: Callable,
        postconf_path: Optional[str] = None,
        map_mode: int = SECRET_MODE,
        reload: bool = True,
    ) -> None:
        self.host = host
        self.files = host.files
        self.options = options
        self.reread = reread
        self.reload = reload
        self.plan: Plan = plan_for_host(host, options)
        self.secrets = tuple(self.plan.secrets)
        self.tx = FileTransaction(self.files, mask=self.mask)
        self.directory = self.plan.config_directory
        self.postconf = find_postconf(postconf_path)
        self.log: List[str] = []
        self.notes: List[str] = list(self.plan.notes)
        self.ownership: List[Ownership] = []
        self.postfix_paths: List[str] = []  # main.cf, master.cf, the reply maps
        self.postconf_paths: List[str] = []  # main.cf and master.cf, when postconf changes them
        self.spamassassin_paths: List[str] = []
        self.spamd = Service(self.files, "spamd", pidfile="/run/spamd.pid")
        self._stage(map_mode)

    # -- masking ---------------------------------------------------------------------------------------
    def mask(self, text):  # type: ignore[no-untyped-def]
        if text is None:
            return None
        for secret in self.secrets:
            if secret:
                text = text.replace(secret, "<DQS key>")
        return dnsbl_catalog.mask_secrets(text)

    # -- planning every file ----------------------------------------------------------------------------
    def _changes(self) -> list:
        return [Change(p["name"], p["value"], p["state"], p["service"]) for p in self.plan.parameters()]

    def _postconf_result(self) -> dict:
        """{main.cf path: bytes, master.cf path: bytes} as the real postconf writes them (on a copy)."""
        real = self.files.path(self.directory)
        scratch = _copy_for_check(real)
        try:
            edit_postfix(scratch, self._changes(), postconf=self.postconf, secrets=self.secrets)
            found = {}
            for name in ("main.cf", "master.cf"):
                with open(os.path.join(scratch, name), "rb") as handle:
                    found["%s/%s" % (self.directory, name)] = handle.read()
            return found
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def _stage(self, map_mode: int) -> None:
        plan = self.plan
        if plan.postconf:
            reason = "postconf: " + ", ".join(
                "%s%s" % (step.service + "/" if step.service else "", step.name) for step in plan.postconf
            )
            for path, data in self._postconf_result().items():
                self.tx.set(path, data, reason)
                self.postfix_paths.append(path)
                self.postconf_paths.append(path)
        sa_group = self._spamassassin_group()
        for step in plan.files:
            postfix_map = step.group == "postfix"
            mode = map_mode if postfix_map and step.secret else int(step.mode, 8)
            group = step.group if postfix_map else sa_group
            self.tx.set(step.path, step.content.encode("utf-8"), step.reason, mode=mode)
            (self.postfix_paths if postfix_map else self.spamassassin_paths).append(step.path)
            if step.secret:
                self.ownership.append(Ownership(step.path, mode, step.owner, self._existing_group(group)))
        for step in plan.replacements:
            current = self.tx.read(step.path)
            if current is None:
                self.notes.append(self.mask("%s is gone: %s not replaced there" % (step.path, step.old)))
                continue
            self.tx.set(step.path, current.replace(step.old.encode(), step.new.encode()), step.reason)
            self.spamassassin_paths.append(step.path)
            # The file now holds the key: root and the SpamAssassin user only.
            self.ownership.append(Ownership(step.path, SECRET_MODE, "root", sa_group))
        for step in plan.removals:
            self.tx.set(step.path, None, step.reason)

    def _spamassassin_group(self) -> str:
        wanted = self.options.spamassassin_group
        if not wanted:
            config = self.host.spamassassin
            directory = config.site_directory if config is not None else "/etc/spamassassin"
            wanted = "debian-spamd" if directory == "/etc/spamassassin" else "root"
        return self._existing_group(wanted)

    def _existing_group(self, name: str) -> str:
        if name == "root" or self.files.root not in ("", "/") or _group_id(name) is not None:
            return name
        self.notes.append("group %s does not exist here: the files that hold the key are root's only" % name)
        return "root"

    # -- what would happen ------------------------------------------------------------------------------
    def pending_paths(self) -> list:
        return [change.path for change in self.tx.pending()]

    def ownership_fixes(self) -> list:
        """Files whose bytes stay but whose mode or owner must change."""
        pending = self.pending_paths()
        fixes = []
        for entry in self.ownership:
            if entry.path in pending:
                continue
            current = entry.current(self.files.path(entry.path))
            if current is not None and self.files.root in ("", "/") and current != entry.wanted():
                fixes.append(entry)
        return fixes

    def _postfix_pending(self) -> bool:
        pending = self.pending_paths()
        return any(path in pending for path in self.postfix_paths) or any(
            fix.path in self.postfix_paths for fix in self.ownership_fixes()
        )

    def _spamassassin_configs_pending(self) -> list:
        pending = self.pending_paths()
        return [path for path in self.spamassassin_paths if path in pending]

    def _postfix_running(self) -> bool:
        if self.host.postfix is None or shutil.which("postfix") is None or self.files.root not in ("", "/"):
            return False
        code, _output = run(["postfix", "-c", self.directory, "status"])
        return code == 0

    def planned_actions(self) -> list:
        actions = []
        if self._postfix_pending():
            actions.append("postfix check")
        if self._spamassassin_configs_pending():
            actions.append("spamassassin --lint")
        if self.plan.findings_fixed():
            actions.append("verify: " + ", ".join(self.plan.findings_fixed()) + " gone")
        if self.reload and self._postfix_pending() and self._postfix_running():
            actions.append("postfix reload")
        if self.reload and self._spamassassin_configs_pending() and self.spamd.running():
            actions.append("reload spamd")
        return actions

    def _summary(self) -> list:
        files = self.tx.summary()
        for entry in self.ownership:
            for item in files:
                if item["path"] == entry.path and item["action"] != "remove":
                    item["mode"] = entry.label()
        for fix in self.ownership_fixes():
            files.append(
                {"path": fix.path, "action": "permissions", "reason": "holds the DQS key", "mode": fix.label()}
            )
        return files

    def preview(self) -> dict:
        changed = bool(self.tx.pending()) or bool(self.ownership_fixes())
        return {
            "changed": changed,
            "status": "preview" if changed else "unchanged",
            "plan": self.plan.as_dict(),
            "files": self._summary(),
            "actions": self.planned_actions() if changed else [],
            "notes": [self.mask(note) for note in self.notes],
            "diff": self.tx.diffs(),
            "unified_diff": self.tx.unified_diff(),
        }

    # -- doing it ----------------------------------------------------------------------------------------
    def _step(self, what: str, result: tuple) -> str:
        code, output = result
        output = self.mask(output)
        self.log.append("%s: exit %d%s" % (what, code, (": " + output[-400:]) if output else ""))
        if code != 0:
            raise StepFailed("%s failed (exit %d): %s" % (what, code, output[-800:] or "no output"))
        return output

    def postfix_check(self) -> tuple:
        """(exit code, output) of `postfix check`, under a terminal so that its warnings show."""
        argv = ["postfix", "-c", self.directory, "check"]
        if shutil.which("script"):
            code, output = run(["script", "-qec", " ".join(argv), "/dev/null"])
        else:
            code, output = run(argv)
        return code, output.replace("\r", "")

    def spamassassin_lint(self) -> tuple:
        argv = ["spamassassin", "--lint"]
        config = self.host.spamassassin
        if config is not None and config.site_directory:
            argv.append("--siteconfigpath=" + self.files.path(config.site_directory))
        return run(argv, timeout=LINT_TIMEOUT)

    def _apply_ownership(self, entries: list) -> None:
        for entry in entries:
            real = self.files.path(entry.path)
            current = entry.current(real)
            if current is None:
                continue
            mode, uid, gid = entry.wanted()
            if current == (mode, uid, gid):
                continue
            if entry.before is None:
                entry.before = current
            try:
                os.chown(real, uid, gid)
                os.chmod(real, mode)
            except OSError as error:
                raise TransactionError("%s: cannot set %s: %s" % (entry.path, entry.label(), error.strerror)) from error

    def apply(self) -> dict:
        result = self.preview()
        if not result["changed"]:
            result["log"] = []
            return result
        postfix_pending = self._postfix_pending()
        sa_configs = self._spamassassin_configs_pending()
        reloaded: List[str] = []
        done: List[str] = []
        try:
            baseline: list = []
            if postfix_pending:
                code, output = self.postfix_check()
                baseline = problem_lines(output)
                if code != 0:
                    raise StepFailed(
                        "postfix check fails before any change (exit %d): %s; nothing was changed, fix that first"
                        % (code, self.mask(output.strip())[-800:] or "no output")
                    )
            # postconf on the real directory: main.cf and master.cf as the preview showed them.
            postconf_changes = [c for c in self.tx.pending() if c.path in self.postconf_paths]
            if postconf_changes:
                for change in postconf_changes:
                    change.applied = True  # whatever postconf leaves, the rollback restores
                edit_postfix(
                    self.files.path(self.directory), self._changes(), postconf=self.postconf, secrets=self.secrets
                )
                for change in postconf_changes:
                    change.after = read_bytes(self.files, change.path)
                self.log.append("postconf: %d parameters set" % len(self.plan.postconf))
            self.tx.apply()
            self._apply_ownership(self.ownership)
            if postfix_pending:
                done.append("postfix check")
                code, output = self.postfix_check()
                new = [line for line in problem_lines(output) if line not in baseline]
                self.log.append("postfix check: exit %d%s" % (code, ("; " + "; ".join(new)) if new else ""))
                if code != 0 or new:
                    raise StepFailed(
                        "postfix check failed on the new configuration (exit %d): %s"
                        % (code, self.mask("; ".join(new) or output.strip()[-800:] or "no output"))
                    )
            if sa_configs:
                done.append("spamassassin --lint")
                self._step("spamassassin --lint", self.spamassassin_lint())
            claimed = self.plan.findings_fixed()
            if claimed:
                done.append("verify: " + ", ".join(claimed) + " gone")
                left = still_there(claimed, finding_ids(self.reread()))
                self.log.append("verify: %s" % ("still reported: " + ", ".join(left) if left else "gone"))
                if left:
                    raise StepFailed(
                        "the audit still reports %s after the change: the policy did not take effect" % ", ".join(left)
                    )
            if self.reload and postfix_pending and self._postfix_running():
                reloaded.append("postfix")
                done.append("postfix reload")
                self._step("postfix reload", run(["postfix", "-c", self.directory, "reload"]))
            if self.reload and sa_configs and self.spamd.running():
                reloaded.append("spamd")
                done.append("reload spamd")
                self._step("reload spamd", self.spamd.reload())
        except (StepFailed, TransactionError, PostconfEditError) as failure:
            result.update(self._roll_back(str(failure), reloaded, done))
            return result
        result["status"] = "applied"
        result["changed"] = True
        result["diff"] = self.tx.diffs()
        result["unified_diff"] = self.tx.unified_diff()
        result["files"] = self._summary_applied()
        result["actions"] = done
        result["log"] = self.log
        return result

    def _summary_applied(self) -> list:
        files = self.tx.summary()
        for entry in self.ownership:
            for item in files:
                if item["path"] == entry.path and item["action"] != "remove":
                    item["mode"] = entry.label()
            if entry.before is not None and entry.path not in [item["path"] for item in files]:
                files.append(
                    {"path": entry.path, "action": "permissions", "reason": "holds the DQS key", "mode": entry.label()}
                )
        return files

    def _roll_back(self, reason: str, reloaded: list, done: list) -> dict:
        restored = [self.mask(path) for path in self.tx.applied_paths()]
        problems = self.tx.rollback()
        for entry in self.ownership:
            if entry.before is None:
                continue
            mode, uid, gid = entry.before
            try:
                os.chown(self.files.path(entry.path), uid, gid)
                os.chmod(self.files.path(entry.path), mode)
                if entry.path not in restored:
                    restored.append(entry.path)
            except OSError as error:
                if os.path.exists(self.files.path(entry.path)):
                    problems.append("%s: mode and owner not restored: %s" % (entry.path, error.strerror))
        # Daemons reloaded on the new files read the old ones again.
        if "postfix" in reloaded and self._postfix_running():
            run(["postfix", "-c", self.directory, "reload"])
        if "spamd" in reloaded:
            self.spamd.reload()
        message = "%s. Rolled back: %s restored byte for byte" % (
            reason,
            ", ".join(restored) or "no file had changed",
        )
        if problems:
            message += "; NOT restored: " + "; ".join(problems)
        return {
            "failed": True,
            "changed": False,
            "status": "failed",
            "msg": self.mask(message),
            "rolled_back": restored,
            "actions": done,
            "log": [self.mask(line) for line in self.log],
        }


def run_dnsbl_policy(
    host,  # type: ignore[no-untyped-def]
    options: PolicyOptions,
    check_mode: bool,
    reread: Callable,
    postconf_path: Optional[str] = None,
    map_mode: int = SECRET_MODE,
    reload: bool = True,
) -> dict:
    """The module's whole job: a preview in check mode, else the change, validated and verified or rolled back."""
    secrets = (options.dqs_key,) if options.dqs_key else ()
    try:
        job = DnsblPolicyRun(host, options, reread, postconf_path, map_mode, reload)
    except (PostconfEditError, TransactionError) as error:
        text = str(error)
        for secret in secrets:
            text = text.replace(secret, "<DQS key>")
        return {"failed": True, "changed": False, "status": "failed", "msg": dnsbl_catalog.mask_secrets(text)}
    if check_mode:
        return job.preview()
    return job.apply()


def parse_mode(text: str) -> int:
    """An octal mode for the reply maps; anything that lets others read or write the key is refused."""
    try:
        mode = int(str(text), 8)
    except ValueError:
        raise ValueError("map_mode %r is not an octal mode such as 0640" % (text,)) from None
    if mode & 0o007 or mode & ~0o777:
        raise ValueError(
            "map_mode %s gives other users access to the DQS key: use 0640 (root and the postfix group)" % text
        )
    if not mode & 0o040:
        raise ValueError("map_mode %s: the postfix group must read the maps (0640)" % text)
    return mode
