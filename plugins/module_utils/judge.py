# Copyright: maildns.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Findings from the Postfix and SpamAssassin models (the resolver path judges itself).

Private to the collection. Runs on managed hosts: Python 3.8 syntax.
"""

from __future__ import annotations

from ansible_collections.maildns.audit.plugins.module_utils import dnsbl_catalog
from ansible_collections.maildns.audit.plugins.module_utils.findings import Finding
from ansible_collections.maildns.audit.plugins.module_utils.mail_log import RejectionEvidence
from ansible_collections.maildns.audit.plugins.module_utils.postfix_config import PostfixConfig
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
