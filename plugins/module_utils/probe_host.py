# Copyright: maildns.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What maildns.audit.dnsbl_probe and rdns_probe return: live DNS about a host's model.

Private to the collection. Runs on managed hosts: Python 3.8 syntax. `dnsbl_part(host, options)`
and `identity_part(host, options)` take the host model (`host_model.read_host`) that the
inspections judge; `probe_host(root, ...)` and `identity_host(root, ...)` read a host and probe it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ansible_collections.maildns.audit.plugins.module_utils import dns_engine
from ansible_collections.maildns.audit.plugins.module_utils.dnsbl_catalog import mask_dqs_key
from ansible_collections.maildns.audit.plugins.module_utils.dnsbl_probe import (
    DEFAULT_TIMEOUT,
    check_outbound_ips,
    judge_probes,
    probe_test_points,
)
from ansible_collections.maildns.audit.plugins.module_utils.findings import Check
from ansible_collections.maildns.audit.plugins.module_utils.host_model import HostModel, read_host
from ansible_collections.maildns.audit.plugins.module_utils.rdns_probe import probe_identity
from ansible_collections.maildns.audit.plugins.module_utils.resolver_target import ResolverTarget

# The options both live probes take (documented once: doc_fragments/probe.py).
PROBE_ARGUMENT_SPEC = {
    "outbound_ips": {"type": "list", "elements": "str", "default": []},
    "timeout": {"type": "float", "default": DEFAULT_TIMEOUT},
    "postfix_config_directory": {"type": "path", "default": "/etc/postfix"},
}


@dataclass
class ProbeOptions:
    """What the caller asks of the live probes, besides what the host model says."""

    timeout: float = DEFAULT_TIMEOUT
    lists: list = field(default_factory=list)  # zones to probe besides the host's own
    outbound_ips: list = field(default_factory=list)  # empty: from the model
    check_outbound: bool = True
    domains: list = field(default_factory=list)  # mail domains besides Postfix's mydomain
    helo_name: str | None = None  # None: from the model


def timeout_problem(timeout: float) -> str | None:
    """What is wrong with a timeout option, for fail_json; None when it is fine."""
    if 0 < timeout <= 60:
        return None
    return f"timeout must be between 0 and 60 seconds, for example {DEFAULT_TIMEOUT} (got {timeout})"


def _status(checks: list) -> str:
    return "unknown" if any(check.status == "unknown" for check in checks) else "ok"


def dnsbl_part(host: HostModel, options: ProbeOptions) -> dict:
    """The host's lists (and `options.lists`) through every resolver on its path; its outbound listings."""
    checks = []
    zones = host.dnsbl_zones(options.lists)
    engine = dns_engine.engine_name()
    if engine == "dnspython":
        resolvers = host.dnsbl_resolvers()
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
    probes, outbound = [], []
    if not zones:
        checks.append(Check("dnsbl_probe", "ok", "the host uses no DNSBL and none was given"))
    else:
        ips, source = host.outbound_addresses(options.outbound_ips) if options.check_outbound else ([], "")
        probes = probe_test_points(zones, resolvers, options.timeout, outbound_ips=ips)
        checks.append(Check("dnsbl_probe", "ok", f"{len(zones)} lists through {len(resolvers)} resolvers"))
        if options.check_outbound:
            if ips:
                outbound = check_outbound_ips(zones, ips, probes, options.timeout)
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
    return {
        "engine": engine,
        "resolvers": [{"address": r.address, "source": r.source} for r in resolvers],
        "lists": [mask_dqs_key(zone) for zone in zones],
        "probes": [probe.as_dict() for probe in probes],
        "outbound": outbound,
        "findings": [finding.as_dict() for finding in findings],
        "checks": [check.as_dict() for check in checks],
        "status": _status(checks),
    }


def identity_part(host: HostModel, options: ProbeOptions) -> dict:
    """PTR, forward-confirmed rDNS, HELO and MX of the host, through its own nameservers."""
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
    ips, source = host.outbound_addresses(options.outbound_ips)
    helo_name = host.helo_name if options.helo_name is None else options.helo_name
    report = probe_identity(
        ips, helo_name or "", host.mail_domains(options.domains), host.identity_resolvers(), options.timeout
    )
    checks = report.checks
    if not ips:
        checks.append(Check("outbound_addresses", "unknown", f"no outbound address found ({source})"))
    return {
        "helo": report.helo,
        "addresses": report.addresses,
        "domains": report.domains,
        "outbound_source": source,
        "findings": [f.as_dict() for f in report.findings],
        "checks": [c.as_dict() for c in checks],
        "status": _status(checks),
    }


# -- read a host, then probe it: what the single-purpose modules call --------------------------------


def probe_host(
    root: str = "/",
    lists: list | None = None,
    outbound_ips: list | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    check_outbound: bool = True,
    postfix_config_directory: str = "/etc/postfix",
) -> dict:
    """What maildns.audit.dnsbl_probe returns."""
    options = ProbeOptions(timeout, list(lists or []), list(outbound_ips or []), check_outbound)
    return dnsbl_part(read_host(root, postfix_config_directory), options)


def identity_host(
    root: str = "/",
    outbound_ips: list | None = None,
    domains: list | None = None,
    helo_name: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    postfix_config_directory: str = "/etc/postfix",
) -> dict:
    """What maildns.audit.rdns_probe returns."""
    options = ProbeOptions(
        timeout, outbound_ips=list(outbound_ips or []), domains=list(domains or []), helo_name=helo_name
    )
    return identity_part(read_host(root, postfix_config_directory, spamassassin=False), options)
