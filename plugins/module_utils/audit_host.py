# Copyright: maildns.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One host's whole audit in one module round trip: the inspections and the live probes.

Private to the collection. Runs on managed hosts: Python 3.8 syntax. The host is read once into
a `HostModel`; every part judges or probes that model. The resolver part runs after the live
probes when both are asked for, so that a public resolver's severity follows what the probes saw
through it.
"""

from __future__ import annotations

from ansible_collections.maildns.audit.plugins.module_utils.dnsbl_probe import DEFAULT_TIMEOUT
from ansible_collections.maildns.audit.plugins.module_utils.host_model import read_host
from ansible_collections.maildns.audit.plugins.module_utils.inspect_host import (
    postfix_part,
    resolver_part,
    spamassassin_part,
)
from ansible_collections.maildns.audit.plugins.module_utils.probe_host import ProbeOptions, dnsbl_part, identity_part

CHECKS = ("resolver", "postfix", "spamassassin", "dnsbl", "identity")


def audit_host(
    checks: list | None = None,
    lists: list | None = None,
    outbound_ips: list | None = None,
    domains: list | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    postfix_config_directory: str = "/etc/postfix",
    root: str = "/",
) -> dict:
    """{facts: {area: ...}, findings: [...], checks: [...] (names prefixed with the area), status}."""
    wanted = [area for area in CHECKS if area in (checks or CHECKS)]
    host = read_host(root, postfix_config_directory, spamassassin="spamassassin" in wanted or "dnsbl" in wanted)
    options = ProbeOptions(timeout, list(lists or []), list(outbound_ips or []), True, list(domains or []))
    results: dict = {}
    # The probes first: the resolver part weighs its findings by what they saw.
    if "dnsbl" in wanted:
        results["dnsbl"] = dnsbl_part(host, options)
    if "identity" in wanted:
        results["identity"] = identity_part(host, options)
    if "resolver" in wanted:
        results["resolver"] = resolver_part(host, results.get("dnsbl", {}).get("probes"))
    if "postfix" in wanted:
        results["postfix"] = postfix_part(host)
    if "spamassassin" in wanted:
        results["spamassassin"] = spamassassin_part(host)
    facts: dict = {}
    findings: list = []
    all_checks: list = []
    for area in wanted:
        result = results[area]
        findings += [dict(finding, area=area) for finding in result.pop("findings")]
        all_checks += [dict(check, name=f"{area}: {check['name']}") for check in result.pop("checks")]
        result.pop("status")
        facts[area] = result
    status = "unknown" if any(check["status"] == "unknown" for check in all_checks) else "ok"
    return {"facts": facts, "findings": findings, "checks": all_checks, "status": status, "audited": wanted}
