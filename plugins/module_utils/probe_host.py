# Copyright: maildns.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What maildns.audit.dnsbl_probe returns: the host's lists through each resolver on its path.

Private to the collection. Runs on managed hosts: Python 3.8 syntax. Reads the same model as the
inspection modules (resolver path, Postfix, SpamAssassin), then probes.
"""

from __future__ import annotations

import ipaddress
import subprocess

from ansible_collections.maildns.audit.plugins.module_utils import dns_engine
from ansible_collections.maildns.audit.plugins.module_utils.dnsbl_catalog import mask_dqs_key, normalise_zone
from ansible_collections.maildns.audit.plugins.module_utils.dnsbl_probe import (
    ResolverTarget,
    check_outbound_ips,
    judge_probes,
    probe_test_points,
)
from ansible_collections.maildns.audit.plugins.module_utils.files import HostFiles
from ansible_collections.maildns.audit.plugins.module_utils.findings import Check
from ansible_collections.maildns.audit.plugins.module_utils.inspect_host import NOT_READ, load_postfix
from ansible_collections.maildns.audit.plugins.module_utils.rdns_probe import probe_identity
from ansible_collections.maildns.audit.plugins.module_utils.resolver_path import read_resolver_path
from ansible_collections.maildns.audit.plugins.module_utils.spamassassin_config import (
    DQS_PLACEHOLDER,
    read_spamassassin,
)

# The options both live probes take (documented once: doc_fragments/probe.py).
PROBE_ARGUMENT_SPEC = {
    "outbound_ips": {"type": "list", "elements": "str", "default": []},
    "timeout": {"type": "float", "default": 3.0},
    "postfix_config_directory": {"type": "path", "default": "/etc/postfix"},
}


def timeout_problem(timeout: float) -> str | None:
    """What is wrong with a timeout option, for fail_json; None when it is fine."""
    if 0 < timeout <= 60:
        return None
    return f"timeout must be between 0 and 60 seconds, for example 3.0 (got {timeout})"


def path_resolvers(files: HostFiles, postfix, spamassassin) -> list:  # type: ignore[no-untyped-def]
    """Every resolver a DNSBL query from this host can go through, with where the host names it."""
    queue = postfix.parameters.get("queue_directory", "/var/spool/postfix") if postfix else "/var/spool/postfix"
    path = read_resolver_path(files, queue, postfix.chrooted_services if postfix else [])
    targets = [
        ResolverTarget(ns.address, f"{path.resolv_conf.path} line {ns.line}" if ns.line else "glibc default")
        for ns in path.resolv_conf.effective_nameservers
    ]
    if path.chroot.get("differs"):
        targets += [
            ResolverTarget(address, f"Postfix chroot copy {path.chroot['path']}")
            for address in path.chroot.get("nameservers", [])
        ]
    if spamassassin is not None:
        targets += [
            ResolverTarget(server["address"], f"SpamAssassin dns_server {server['file']}:{server['line']}")
            for server in spamassassin.dns_servers
        ]
    unique, seen = [], set()
    for target in targets:
        if target.address not in seen:
            seen.add(target.address)
            unique.append(target)
    return unique


def host_zones(postfix, spamassassin, extra: list) -> list:  # type: ignore[no-untyped-def]
    zones = []
    if postfix is not None:
        zones += [use["zone"] for use in postfix.dnsbl_uses(mask=False) if use.get("active", True)]
    if spamassassin is not None:
        zones += [rule["zone"] for rule in spamassassin.dnsbl_rules if DQS_PLACEHOLDER not in rule["zone"]]
    zones += list(extra or [])
    unique = []
    for zone in zones:
        name = normalise_zone(zone)
        if name and name not in unique:
            unique.append(name)
    return unique


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


def outbound_addresses(postfix, given: list) -> tuple:  # type: ignore[no-untyped-def]
    """(addresses, where they came from): given, else Postfix's smtp_bind_address(6), else the host's."""
    if given:
        return list(given), "parameter outbound_ips"
    if postfix is not None:
        bound = [postfix.parameters.get(name, "") for name in ("smtp_bind_address", "smtp_bind_address6")]
        bound = [address for address in bound if address]
        if bound:
            return bound, "Postfix smtp_bind_address / smtp_bind_address6"
    return global_addresses(), "the host's global addresses"


def probe_host(
    root: str = "/",
    lists: list | None = None,
    outbound_ips: list | None = None,
    timeout: float = 3.0,
    check_outbound: bool = True,
    postfix_config_directory: str = "/etc/postfix",
    postfix: object = NOT_READ,
    spamassassin: object = NOT_READ,
) -> dict:
    files = HostFiles(root)
    checks = []
    if postfix is NOT_READ:
        postfix = load_postfix(files, postfix_config_directory)
    if spamassassin is NOT_READ:
        spamassassin = read_spamassassin(files)
    zones = host_zones(postfix, spamassassin, lists or [])
    engine = dns_engine.engine_name()
    if engine == "dnspython":
        resolvers = path_resolvers(files, postfix, spamassassin)
    else:
        resolvers = [ResolverTarget("", "system resolver (libc): resolv.conf as a whole, no per-server probing")]
        checks.append(
            Check(
                "per_resolver_probes",
                "unknown",
                "dnspython is not installed on the host (python3-dnspython): probed through libc only, "
                "A records only, without TXT, authoritative or per-resolver answers",
            )
        )
    if not zones:
        checks.append(Check("dnsbl_probe", "ok", "the host uses no DNSBL and none was given"))
        probes, outbound = [], []
    else:
        probes = probe_test_points(zones, resolvers, timeout)
        checks.append(Check("dnsbl_probe", "ok", f"{len(zones)} lists through {len(resolvers)} resolvers"))
        outbound = []
        if check_outbound:
            ips, source = outbound_addresses(postfix, outbound_ips or [])
            ips = [ip for ip in ips if _valid(ip)]
            if ips:
                outbound = check_outbound_ips(zones, ips, probes, timeout)
                unknown = [r for r in outbound if r["status"] == "unknown"]
                checks.append(
                    Check(
                        "outbound_listings",
                        "unknown" if unknown else "ok",
                        f"{len(unknown)} of {len(outbound)} lookups could not be made"
                        if unknown
                        else f"{len(ips)} addresses from {source}",
                    )
                )
            else:
                checks.append(Check("outbound_listings", "unknown", f"no outbound address found ({source})"))
    findings = judge_probes(probes, outbound)
    status = "unknown" if any(check.status == "unknown" for check in checks) else "ok"
    return {
        "engine": engine,
        "resolvers": [{"address": r.address, "source": r.source} for r in resolvers],
        "lists": [mask_dqs_key(zone) for zone in zones],
        "probes": [probe.as_dict() for probe in probes],
        "outbound": outbound,
        "findings": [finding.as_dict() for finding in findings],
        "checks": [check.as_dict() for check in checks],
        "status": status,
    }


def _valid(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


def identity_host(
    root: str = "/",
    outbound_ips: list | None = None,
    domains: list | None = None,
    helo_name: str | None = None,
    timeout: float = 3.0,
    postfix_config_directory: str = "/etc/postfix",
    postfix: object = NOT_READ,
) -> dict:
    """What maildns.audit.rdns_probe returns."""
    files = HostFiles(root)
    if postfix is NOT_READ:
        postfix = load_postfix(files, postfix_config_directory)
    checks = []
    if dns_engine.engine_name() != "dnspython":
        checks.append(
            Check(
                "identity",
                "unknown",
                "dnspython is not installed on the host (python3-dnspython): PTR and MX lookups need it",
            )
        )
        return {
            "helo": {},
            "addresses": [],
            "domains": [],
            "findings": [],
            "checks": [c.as_dict() for c in checks],
            "status": "unknown",
            "outbound_source": "",
        }
    ips, source = outbound_addresses(postfix, outbound_ips or [])
    ips = [ip for ip in ips if _valid(ip)]
    if helo_name is None:
        helo_name = (
            postfix.parameters.get("smtp_helo_name") or postfix.parameters.get("myhostname", "") if postfix else ""
        )
    wanted = list(domains or [])
    if postfix is not None and postfix.parameters.get("mydomain") and postfix.parameters["mydomain"] not in wanted:
        wanted.insert(0, postfix.parameters["mydomain"])
    servers = [ns.address for ns in read_resolver_path(files).resolv_conf.effective_nameservers]
    report = probe_identity(ips, helo_name or "", wanted, servers, timeout)
    checks = report.checks
    if not ips:
        checks.append(Check("outbound_addresses", "unknown", f"no outbound address found ({source})"))
    status = "unknown" if any(check.status == "unknown" for check in checks) else "ok"
    return {
        "helo": report.helo,
        "addresses": report.addresses,
        "domains": report.domains,
        "outbound_source": source,
        "findings": [f.as_dict() for f in report.findings],
        "checks": [c.as_dict() for c in checks],
        "status": status,
    }
