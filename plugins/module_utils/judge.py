# Copyright: maildns.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Findings from the Postfix and SpamAssassin models (the resolver path judges itself).

Private to the collection. Runs on managed hosts: Python 3.8 syntax.
"""

from __future__ import annotations

from ansible_collections.maildns.audit.plugins.module_utils import dnsbl_catalog
from ansible_collections.maildns.audit.plugins.module_utils.dnsbl_catalog import mask_secrets
from ansible_collections.maildns.audit.plugins.module_utils.findings import Finding
from ansible_collections.maildns.audit.plugins.module_utils.mail_log import RejectionEvidence
from ansible_collections.maildns.audit.plugins.module_utils.postfix_config import (
    PostfixConfig,
    Service,
    parse_postscreen_site,
)
from ansible_collections.maildns.audit.plugins.module_utils.public_resolvers import PUBLIC_KNOWN, classify_address
from ansible_collections.maildns.audit.plugins.module_utils.spamassassin_config import SpamAssassinConfig


def _use_evidence(use: dict) -> dict:
    evidence = dict(use["origin"])
    evidence.update(
        {"parameter": use["parameter"], "scope": use["scope"], "zone": use["zone"], "restriction": use["restriction"]}
    )
    if use.get("filter"):
        evidence["filter"] = use["filter"]
    if use.get("via_class"):
        evidence["restriction_class"] = use["via_class"]
    return evidence


def judge_dnsbl_use(use: dict) -> list:
    """Findings about one DNSBL use (a reject_rbl_client token, a postscreen site)."""
    if not use.get("active", True) or use["action"] in ("permit", "allow", "warn"):
        return []  # inactive, allowlists and warn_if_reject never reject mail
    evidence = _use_evidence(use)
    entry = dnsbl_catalog.lookup(use["zone"])
    if entry is None:
        guess = dnsbl_catalog.near_miss(use["zone"])
        return [Finding("DNSBL_MISSPELLED", dict(evidence, did_you_mean=guess))] if guess else []
    findings = []
    if entry.status == "retired":
        findings.append(
            Finding("DNSBL_RETIRED", dict(evidence, history=entry.history, lists_the_world=entry.lists_the_world))
        )
        return findings
    if entry.status == "needs_registration":
        findings.append(Finding("DNSBL_NEEDS_REGISTRATION", dict(evidence, operator=entry.operator)))
    is_dbl = entry.zone == "dbl.spamhaus.org"
    if not use.get("filter"):
        kind = "DBL_WITHOUT_FILTER" if is_dbl else "DNSBL_NO_REPLY_FILTER"
        findings.append(
            Finding(
                kind,
                dict(evidence, suggested=f"{use['zone']}={entry.reply_filter}", error_answers=sorted(entry.errors)),
            )
        )
        return findings
    admitted = [code for code in entry.errors if dnsbl_catalog.filter_matches(use["filter"], code)]
    if is_dbl and dnsbl_catalog.filter_matches(use["filter"], "127.0.1.2") is not True:
        admitted.append("no DBL listing (127.0.1.2 is not admitted)")
    if admitted:
        kind = "DBL_WITHOUT_FILTER" if is_dbl else "DNSBL_FILTER_ADMITS_ERROR_CODES"
        findings.append(
            Finding(
                kind,
                dict(
                    evidence, admitted_error_answers=sorted(admitted), suggested=f"{use['zone']}={entry.reply_filter}"
                ),
            )
        )
    return findings


def judge_postfix(config: PostfixConfig, rejections: RejectionEvidence | None = None) -> list:
    findings = []
    uses = config.dnsbl_uses()
    for use in uses:
        findings += judge_dnsbl_use(use)
    # DQS keys in reject replies: smtpd's reply names the zone unless rbl_reply_maps rewrites it;
    # postscreen's reply names it unless postscreen_dnsbl_reply_map does.
    for use in uses:
        if not use["dqs"] or not use.get("active", True) or use["action"] in ("permit", "allow"):
            continue
        hiding = "postscreen_dnsbl_reply_map" if use["parameter"] == "postscreen_dnsbl_sites" else "rbl_reply_maps"
        # Set by the admin, in main.cf or for a service: rbl_reply_maps defaults to empty, and the
        # default postscreen_dnsbl_reply_map names a file no package creates.
        explicit = hiding in config.main_cf_lines or any(hiding in s.overrides for s in config.services)
        if not explicit or not config.parameters.get(hiding):
            findings.append(Finding("DQS_KEY_EXPOSED_IN_SMTP_REPLY", dict(_use_evidence(use), missing=hiding)))
    deciding = sorted(
        {
            use["zone"]
            for use in uses
            if use.get("active", True)
            and use["action"] in ("reject", "score")
            and (dnsbl_catalog.lookup(use["zone"]) is None or dnsbl_catalog.lookup(use["zone"]).status != "retired")
        }
    )
    if len(deciding) == 1:
        findings.append(Finding("DNSBL_SINGLE_LIST", {"zone": deciding[0]}))
    for override in config.master_overrides():
        findings.append(Finding("POSTFIX_MASTER_OVERRIDES_DNSBL", override))
    for reference in config.unexpandable_references():
        findings.append(
            Finding("POSTFIX_PARAMETER_UNEXPANDABLE", dict(reference, reference=mask_secrets(reference["reference"])))
        )
    findings += judge_protection(config, uses)
    if rejections is not None and rejections.total:
        for zone, days in sorted(rejections.counts.items()):
            findings.append(
                Finding(
                    "MAIL_REJECTED_BY_DNSBL_ERROR",
                    {
                        "file": rejections.log,
                        "zone": zone,
                        "rejections": sum(days.values()),
                        "per_day": days,
                        "reason": rejections.reasons.get(zone, ""),
                        "example": rejections.examples.get(zone, ""),
                    },
                )
            )
    return findings


def _postscreen_services_for(config: PostfixConfig, use: dict) -> list:
    """The postscreen services a postscreen_dnsbl_sites use applies to."""
    if use["scope"] == "main.cf":
        return [s for s in config.postscreen_services if "postscreen_dnsbl_sites" not in s.overrides]
    return [s for s in config.postscreen_services if use["scope"] == f"master.cf {s.label}"]


def _postscreen_inaction(config: PostfixConfig, service: Service) -> str | None:
    """Why this postscreen service never acts on its DNSBL score, or None when it does."""
    action = config.value("postscreen_dnsbl_action", service).strip().lower() or "ignore"
    if action == "ignore":
        return "postscreen_dnsbl_action = ignore: postscreen only logs the score"
    threshold = _int(config.value("postscreen_dnsbl_threshold", service), 1)
    sites = [parse_postscreen_site(site) for site in config.value("postscreen_dnsbl_sites", service).split()]
    reachable = sum(site["weight"] for site in sites if site["weight"] > 0)
    if reachable < threshold:
        return f"postscreen_dnsbl_threshold = {threshold}, but all lists together score {reachable}"
    return None


def _int(text: str, default: int) -> int:
    try:
        return int(text)
    except (TypeError, ValueError):
        return default


def _why_no_protection(config: PostfixConfig, use: dict) -> str | None:
    """Why a DNSBL use never rejects or scores a client, or None when it does."""
    if use["action"] == "warn":
        return "warn_if_reject: a listing is only logged"
    if use["action"] in ("permit", "allow"):
        return "an allowlist: it only lets clients through"
    entry = dnsbl_catalog.lookup(use["zone"])
    if entry is not None and entry.status == "retired":
        return "a retired list"
    if use["parameter"] == "postscreen_dnsbl_sites":
        if not use.get("active", True):
            return "master.cf runs no postscreen"
        services = _postscreen_services_for(config, use)
        reasons = [_postscreen_inaction(config, service) for service in services]
        if not services or all(reasons):
            return reasons[0] if reasons else "no postscreen service uses these sites"
    return None


def judge_protection(config: PostfixConfig, uses: list | None = None) -> list:
    """Protection the admin may believe in that is not there: unused postscreen sites, no active DNSBL."""
    uses = config.dnsbl_uses() if uses is None else uses
    findings = []
    sites = config.parameters.get("postscreen_dnsbl_sites", "").replace(",", " ").split()
    if sites and config.services and not config.postscreen_services:
        servers = ", ".join(f"{s.label} runs {s.command}" for s in config.services if s.type == "inet") or "none"
        findings.append(
            Finding(
                "POSTSCREEN_DNSBL_SITES_UNUSED",
                dict(
                    config._origin("postscreen_dnsbl_sites", None),
                    sites=[mask_secrets(site) for site in sites],
                    reason=f"no master.cf service runs postscreen (inet services: {servers})",
                ),
            )
        )
    # A host whose SMTP server takes no mail from other hosts (a null client) needs no DNSBL; an
    # unreadable master.cf (None) leaves it unknown, and unknown is not reported as a finding.
    if config.receives_from_network is not True:
        return findings
    inactive = []
    for use in uses:
        why = _why_no_protection(config, use)
        if why is None:
            return findings  # one list that rejects or scores is protection
        evidence = _use_evidence(use)
        evidence["why"] = why
        inactive.append(evidence)
    if inactive:
        reason = "every DNSBL this Postfix names is inactive: none rejects or scores a client"
    else:
        reason = "no DNSBL is configured: no restriction or postscreen site queries one"
    unexpandable = config.unexpandable_references()
    if unexpandable:
        names = ", ".join(sorted({entry["reference"] for entry in unexpandable}))
        reason += f"; restrictions name parameters that do not expand ({names}): POSTFIX_PARAMETER_UNEXPANDABLE"
    findings.append(Finding("DNSBL_NONE_ACTIVE", {"reason": reason, "inactive": inactive}))
    return findings


def judge_spamassassin(config: SpamAssassinConfig) -> list:
    findings = []
    for server in config.dns_servers:
        address_class, provider = classify_address(server["address"])
        if address_class == PUBLIC_KNOWN:
            findings.append(Finding("SPAMASSASSIN_DNS_SERVER_PUBLIC", dict(server, provider=provider)))
    for placeholder in config.dqs_placeholders:
        findings.append(Finding("SPAMASSASSIN_DQS_PLACEHOLDER", placeholder))
    for block in config.block_files:
        findings.append(Finding("SPAMASSASSIN_DNSBL_BLOCKED", block))
    if config.dnsbl_rules and config.knows_blocked_rules is False:
        findings.append(Finding("SPAMASSASSIN_RULES_IGNORE_BLOCKED_ANSWERS", {"version": config.version}))
    if config.dns_available.strip().lower() == "no" or config.skip_rbl_checks:
        findings.append(
            Finding(
                "SPAMASSASSIN_DNS_DISABLED",
                {"dns_available": config.dns_available, "skip_rbl_checks": config.skip_rbl_checks},
            )
        )
    for rule in config.dnsbl_rules:
        entry = dnsbl_catalog.lookup(rule["zone"])
        if entry is not None and entry.status == "retired":
            findings.append(
                Finding(
                    "DNSBL_RETIRED", dict(rule, zone=dnsbl_catalog.mask_dqs_key(rule["zone"]), history=entry.history)
                )
            )
    return findings
