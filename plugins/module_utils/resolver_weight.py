# Copyright: maildns.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How bad a public resolver on the path is for this host: the lists it breaks, and whether they reject.

Private to the collection. Runs on managed hosts: Python 3.8 syntax.

A public resolver is not harmful in itself: it breaks the lists that refuse it (Spamhaus' public
mirrors), and a host whose Spamhaus use all goes through DQS keeps working behind it. So the
severity of a public-resolver finding follows what it breaks on this host: what the live probes
saw through that resolver when they ran, else the lists the host configures that the catalog says
refuse public resolvers. A list that breaks and rejects mail is critical (mail bounces or
protection is gone), one that only scores is high, none at all is low.
"""

from __future__ import annotations

from ansible_collections.maildns.audit.plugins.module_utils import dnsbl_catalog
from ansible_collections.maildns.audit.plugins.module_utils.findings import Finding
from ansible_collections.maildns.audit.plugins.module_utils.public_resolvers import LOOPBACK, classify_address

WEIGHED = ("RESOLV_CONF_PUBLIC_NAMESERVER", "SYSTEMD_RESOLVED_PUBLIC_UPSTREAM", "LOCAL_RESOLVER_FORWARDS_PUBLIC")


def weigh_resolver_findings(findings: list, host, probes: list | None = None) -> list:  # type: ignore[no-untyped-def]
    """The same findings; public-resolver ones with the severity and the lists that this host has at stake."""
    configured = host.dnsbl_zones()
    rejecting = {dnsbl_catalog.mask_dqs_key(zone) for zone in host.rejecting_zones()}
    loopback = [
        ns.address
        for ns in host.resolver_path.resolv_conf.effective_nameservers
        if classify_address(ns.address)[0] == LOOPBACK
    ]
    weighed = []
    for finding in findings:
        if finding.id not in WEIGHED:
            weighed.append(finding)
            continue
        # A forwarder is reached through the loopback nameserver that forwards to it.
        through = [finding.evidence["nameserver"]] if "nameserver" in finding.evidence else loopback
        weighed.append(_weigh(finding, configured, rejecting, through, probes))
    return weighed


def _weigh(finding: Finding, configured: list, rejecting: set, through: list, probes: list | None) -> Finding:
    seen = [p for p in (probes or []) if p.get("resolver") in through]
    if seen:
        affected = sorted({p["zone"] for p in seen if p.get("classification") != "working"})
        working = sorted({p["zone"] for p in seen if p.get("classification") == "working"} - set(affected))
        basis = "the live probes through " + ", ".join(through)
    else:
        affected = sorted({dnsbl_catalog.mask_dqs_key(zone) for zone in configured if _refuses_public(zone)})
        working = []
        basis = "the catalog: lists that refuse queries from public resolvers"
    if any(zone in rejecting for zone in affected):
        severity, why = "critical", "it breaks lists that Postfix rejects on: mail bounces, or protection is gone"
    elif affected:
        severity, why = "high", "it breaks lists the host uses (scoring or not rejecting): protection is gone"
    elif configured:
        severity, why = "low", "none of the host's lists is broken by it (DQS works through public resolvers)"
    else:
        severity, why = "low", "the host uses no DNSBL; other lookups still go through a shared resolver"
    evidence = dict(finding.evidence, affected_lists=affected, basis=basis, impact=why)
    if working:
        evidence["working_lists"] = working
    return Finding(finding.id, evidence, severity=severity)


def _refuses_public(zone: str) -> bool:
    """A zone the catalog says refuses public resolvers; DQS zones answer them."""
    entry = dnsbl_catalog.lookup(zone)
    return entry is not None and entry.refuses_public_resolvers and not dnsbl_catalog.is_dqs_zone(zone)
