# Copyright: maildns.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One mail host, read once: the typed model that every judge and probe takes.

Private to the collection. Runs on managed hosts: Python 3.8 syntax.

`read_host()` reads the host's files and `postconf` into a `HostModel`: its resolver path, its
Postfix and SpamAssassin configurations, and the inputs of the identity checks (HELO name, mail
domains, outbound addresses). The inspections judge it, the probes ask DNS about it, and
remediation plans from it: nothing reads or parses a host's configuration a second time.
"""

from __future__ import annotations

import ipaddress
import shutil
import socket
import subprocess
from dataclasses import dataclass, field

from ansible_collections.maildns.audit.plugins.module_utils.dnsbl_catalog import normalise_zone
from ansible_collections.maildns.audit.plugins.module_utils.files import HostFiles
from ansible_collections.maildns.audit.plugins.module_utils.postfix_config import PostfixConfig, read_postfix
from ansible_collections.maildns.audit.plugins.module_utils.resolver_path import ResolverPath, read_resolver_path
from ansible_collections.maildns.audit.plugins.module_utils.resolver_target import ResolverTarget
from ansible_collections.maildns.audit.plugins.module_utils.spamassassin_config import (
    DQS_PLACEHOLDER,
    SITE_DIRECTORIES,
    SpamAssassinConfig,
    read_spamassassin,
)

DEFAULT_QUEUE_DIRECTORY = "/var/spool/postfix"


@dataclass
class HostModel:
    """What the audit knows of one host after reading it; `None` parts are not configured there."""

    files: HostFiles
    resolver_path: ResolverPath
    postfix: PostfixConfig | None = None
    spamassassin: SpamAssassinConfig | None = None
    postfix_config_directory: str = "/etc/postfix"
    spamassassin_where: str = " or ".join(SITE_DIRECTORIES)
    _addresses: list | None = field(default=None, repr=False)

    # -- Postfix facts the other parts need ----------------------------------------------------------
    @property
    def queue_directory(self) -> str:
        return queue_directory_of(self.postfix)

    @property
    def helo_name(self) -> str:
        """The name Postfix's SMTP client says HELO with (smtp_helo_name, default $myhostname)."""
        if self.postfix is None:
            return ""
        return self.postfix.parameters.get("smtp_helo_name") or self.postfix.parameters.get("myhostname", "")

    def mail_domains(self, extra: list | None = None) -> list:
        wanted = list(extra or [])
        mydomain = self.postfix.parameters.get("mydomain", "") if self.postfix is not None else ""
        if mydomain and mydomain not in wanted:
            wanted.insert(0, mydomain)
        return wanted

    # -- the resolver path, as DNSBL queries meet it ---------------------------------------------------
    def dnsbl_resolvers(self) -> list:
        """Every resolver a DNSBL query from this host can go through, with where the host names it."""
        path = self.resolver_path
        targets = [
            ResolverTarget(ns.address, f"{path.resolv_conf.path} line {ns.line}" if ns.line else "glibc default")
            for ns in path.resolv_conf.effective_nameservers
        ]
        if path.chroot.get("differs"):
            targets += [
                ResolverTarget(address, f"Postfix chroot copy {path.chroot['path']}")
                for address in path.chroot.get("nameservers", [])
            ]
        if self.spamassassin is not None:
            targets += [
                ResolverTarget(server["address"], f"SpamAssassin dns_server {server['file']}:{server['line']}")
                for server in self.spamassassin.dns_servers
            ]
        unique, seen = [], set()
        for target in targets:
            if target.address not in seen:
                seen.add(target.address)
                unique.append(target)
        return unique

    def identity_resolvers(self) -> list:
        """The nameservers libc (and so Postfix's SMTP client) asks for PTR, A and MX."""
        return [ns.address for ns in self.resolver_path.resolv_conf.effective_nameservers]

    def dnsbl_zones(self, extra: list | None = None) -> list:
        """The zones the host's software queries (as queried: DQS keys included), then `extra`."""
        zones = []
        if self.postfix is not None:
            zones += [use["zone"] for use in self.postfix.dnsbl_uses(mask=False) if use.get("active", True)]
        if self.spamassassin is not None:
            zones += [rule["zone"] for rule in self.spamassassin.dnsbl_rules if DQS_PLACEHOLDER not in rule["zone"]]
        zones += list(extra or [])
        unique = []
        for zone in zones:
            name = normalise_zone(zone)
            if name and name not in unique:
                unique.append(name)
        return unique

    def rejecting_zones(self) -> list:
        """Zones an active Postfix restriction rejects on (not warn, not allowlists), as queried."""
        if self.postfix is None:
            return []
        return sorted(
            {
                normalise_zone(use["zone"])
                for use in self.postfix.dnsbl_uses(mask=False)
                if use.get("active", True) and use["action"] == "reject"
            }
        )

    # -- outbound identity -----------------------------------------------------------------------------
    def outbound_addresses(self, given: list | None = None) -> tuple:
        """(addresses, where they came from): given, else smtp_bind_address(6), else the host's own."""
        if given:
            return [ip for ip in given if _is_address(ip)], "parameter outbound_ips"
        if self.postfix is not None:
            bound = [self.postfix.parameters.get(name, "") for name in ("smtp_bind_address", "smtp_bind_address6")]
            bound = [address for address in bound if _is_address(address)]
            if bound:
                return bound, "Postfix smtp_bind_address / smtp_bind_address6"
        if self._addresses is None:
            self._addresses = [a for a in global_addresses() if _is_address(a)]
        return list(self._addresses), "the host's global addresses"


def global_addresses() -> list:
    """The host's global unicast addresses (`ip -o addr show scope global`)."""
    try:
        output = subprocess.run(
            ["ip", "-o", "addr", "show", "scope", "global"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            universal_newlines=True,
            timeout=10,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    addresses = []
    for line in output.splitlines():
        fields = line.split()
        if len(fields) > 3 and fields[2] in ("inet", "inet6"):
            addresses.append(fields[3].split("/", 1)[0])
    return addresses


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


def queue_directory_of(postfix: PostfixConfig | None) -> str:
    """Where Postfix keeps its queue, and so its chroot (and the chroot's copy of resolv.conf)."""
    if postfix is None:
        return DEFAULT_QUEUE_DIRECTORY
    return postfix.parameters.get("queue_directory") or DEFAULT_QUEUE_DIRECTORY


def find_postconf(postconf_path: str | None = None) -> str | None:
    return (
        postconf_path
        or shutil.which("postconf")
        or ("/usr/sbin/postconf" if HostFiles().exists("/usr/sbin/postconf") else None)
    )


def read_host(
    root: str = "/",
    postfix_config_directory: str = "/etc/postfix",
    use_postconf: bool = True,
    postconf_path: str | None = None,
    spamassassin: bool = True,
    spamassassin_site_directory: str | None = None,
    spamassassin_path: str | None = None,
) -> HostModel:
    """Read a host once. `root` other than / reads a corpus folder (files only, never postconf)."""
    files = HostFiles(root)
    postfix = None
    # postconf without a main.cf is a package leftover, not a configured Postfix.
    if files.exists(f"{postfix_config_directory}/main.cf"):
        # postconf reads the real /etc: under another root (a corpus folder) the files are the truth.
        postconf = find_postconf(postconf_path) if use_postconf and files.root in ("", "/") else None
        postfix = read_postfix(files, postconf, postfix_config_directory, hostname=socket.gethostname())
    chrooted = postfix.chrooted_services if postfix is not None else []
    path = read_resolver_path(files, queue_directory_of(postfix), chrooted)
    model = HostModel(files, path, postfix, postfix_config_directory=postfix_config_directory)
    if spamassassin_site_directory:
        model.spamassassin_where = spamassassin_site_directory
    if spamassassin:
        model.spamassassin = read_spamassassin(
            files, spamassassin_site_directory, spamassassin_path or shutil.which("spamassassin")
        )
    return model
