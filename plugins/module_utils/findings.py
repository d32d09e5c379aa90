# Copyright: maildns.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The finding catalog: every finding the collection can report, in one place.

Private to the collection. Runs on managed hosts: Python 3.8 syntax.

An ID never changes meaning once released. `docs/FINDINGS.md` is generated from this module
(`python -m tests.tools.render_docs`); a test fails when it is out of date.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SEVERITIES = ("critical", "high", "medium", "low", "info")
AREAS = ("resolver", "postfix", "spamassassin", "probe", "identity", "audit")


@dataclass(frozen=True)
class FindingKind:
    id: str
    severity: str
    title: str
    fix: str
    area: str


def _kinds(*kinds: FindingKind) -> dict:
    return {kind.id: kind for kind in kinds}


CATALOG = _kinds(
    # -- the resolver path ---------------------------------------------------------------------
    FindingKind(
        "RESOLV_CONF_PUBLIC_NAMESERVER",
        "critical",
        "/etc/resolv.conf sends DNS queries to a public resolver that DNSBLs refuse",
        "Run a local recursive resolver (role maildns.audit.local_resolver) and point resolv.conf at it; "
        "a single public nameserver among local ones is enough to break mail.",
        "resolver",
    ),
    FindingKind(
        "RESOLV_CONF_UNKNOWN_PUBLIC_NAMESERVER",
        "medium",
        "/etc/resolv.conf uses a public address that is not a known public resolver",
        "Check whose resolver it is; DNSBLs refuse shared resolvers without attributable reverse DNS. "
        "A local recursive resolver (role maildns.audit.local_resolver) removes the doubt.",
        "resolver",
    ),
    FindingKind(
        "RESOLV_CONF_INVALID_NAMESERVER",
        "high",
        "resolv.conf has nameserver lines that are not IP addresses: glibc ignores them",
        "Write IP addresses on nameserver lines (a local recursive resolver: role maildns.audit.local_resolver); "
        "with no valid line left, glibc asks 127.0.0.1.",
        "resolver",
    ),
    FindingKind(
        "RESOLV_CONF_MISSING",
        "medium",
        "/etc/resolv.conf is missing or names no nameserver: glibc falls back to 127.0.0.1",
        "Write an explicit resolv.conf pointing at a local recursive resolver (role maildns.audit.local_resolver).",
        "resolver",
    ),
    FindingKind(
        "LOOPBACK_NAMESERVER_NOTHING_LISTENS",
        "high",
        "resolv.conf names a loopback nameserver, but nothing on the host serves DNS there",
        "Start the local resolver (role maildns.audit.local_resolver) or point resolv.conf at one that runs.",
        "resolver",
    ),
    FindingKind(
        "SYSTEMD_RESOLVED_PUBLIC_UPSTREAM",
        "critical",
        "systemd-resolved forwards to a public resolver that DNSBLs refuse",
        "Set DNS= in /etc/systemd/resolved.conf(.d) to a local recursive resolver, or bypass the stub "
        "(role maildns.audit.local_resolver); FallbackDNS= counts too.",
        "resolver",
    ),
    FindingKind(
        "LOCAL_RESOLVER_FORWARDS_PUBLIC",
        "critical",
        "The local resolver forwards to a public resolver: the path is still public",
        "Remove the forward zone for '.' so that the local resolver recurses itself "
        "(role maildns.audit.local_resolver).",
        "resolver",
    ),
    FindingKind(
        "POSTFIX_CHROOT_RESOLV_CONF_DRIFT",
        "high",
        "Postfix's chroot copy of resolv.conf differs from /etc/resolv.conf",
        "Copy /etc/resolv.conf into <queue_directory>/etc/ (Debian: restart postfix, which copies it), "
        "or run smtpd unchrooted; chrooted smtpd and postscreen resolve through the copy.",
        "resolver",
    ),
    # -- Postfix DNSBL use -----------------------------------------------------------------------
    FindingKind(
        "DNSBL_NO_REPLY_FILTER",
        "high",
        "A DNSBL is used without a reply-code filter: its error answers count as listings",
        "Add the list's filter (for example zen.spamhaus.org=127.0.0.[2..11]); role maildns.audit.dnsbl_policy "
        "writes them from the catalog.",
        "postfix",
    ),
    FindingKind(
        "DNSBL_FILTER_ADMITS_ERROR_CODES",
        "high",
        "A DNSBL reply-code filter matches the list's error answers (127.255.255.x)",
        "Narrow the filter to the listing codes (zen: 127.0.0.[2..11], DBL: 127.0.1.[2..99]).",
        "postfix",
    ),
    FindingKind(
        "DBL_WITHOUT_FILTER",
        "high",
        "Spamhaus DBL is used without its 127.0.1.[2..99] filter",
        "Write dbl.spamhaus.org=127.0.1.[2..99]: 127.0.1.255 means an IP was queried against the DBL, "
        "127.255.255.x are errors.",
        "postfix",
    ),
    FindingKind(
        "DNSBL_RETIRED",
        "critical",
        "A retired DNSBL is configured: it is dead or lists the whole Internet",
        "Remove the list; role maildns.audit.dnsbl_policy offers active fallback lists.",
        "postfix",
    ),
    FindingKind(
        "DNSBL_MISSPELLED",
        "high",
        "A DNSBL zone name is not a known list but is one typo away from one",
        "Correct the zone name; a misspelled Spamhaus zone answers 127.255.255.252 (wrong list) or nothing.",
        "postfix",
    ),
    FindingKind(
        "DNSBL_NEEDS_REGISTRATION",
        "medium",
        "A DNSBL that needs registration is used: unregistered queries are refused or answered wrongly",
        "Register the querying IPs with the list's operator, or replace the list.",
        "postfix",
    ),
    FindingKind(
        "DQS_KEY_EXPOSED_IN_SMTP_REPLY",
        "high",
        "A Spamhaus DQS key can appear in SMTP reject replies",
        "Hide the zone in replies with rbl_reply_maps (smtpd) and postscreen_dnsbl_reply_map (postscreen); "
        "role maildns.audit.dnsbl_policy writes both.",
        "postfix",
    ),
    FindingKind(
        "DNSBL_SINGLE_LIST",
        "low",
        "A single DNSBL decides alone: when it fails or errs, nothing checks its answer",
        "Add fallback lists with postscreen weights (role maildns.audit.dnsbl_policy).",
        "postfix",
    ),
    FindingKind(
        "POSTFIX_MASTER_OVERRIDES_DNSBL",
        "medium",
        "master.cf overrides main.cf's DNSBL settings for a service",
        "Audit the -o overrides: the service does not use what main.cf says.",
        "postfix",
    ),
    FindingKind(
        "POSTFIX_PARAMETER_UNEXPANDABLE",
        "high",
        "A restriction names a $parameter that Postfix cannot expand (undefined, or a cycle)",
        "Define the parameter in main.cf, or break the cycle; until then the restriction does not do what it says.",
        "postfix",
    ),
    FindingKind(
        "POSTSCREEN_DNSBL_SITES_UNUSED",
        "medium",
        "postscreen_dnsbl_sites is set, but master.cf does not run postscreen: those lists protect nothing",
        "Enable postscreen in master.cf (smtp inet ... postscreen, with smtpd pass), or move the lists to "
        "smtpd_client_restrictions (role maildns.audit.dnsbl_policy).",
        "postfix",
    ),
    FindingKind(
        "DNSBL_NONE_ACTIVE",
        "medium",
        "Postfix uses no DNSBL that rejects or scores mail: the host has no DNSBL protection",
        "Add filtered lists (zen.spamhaus.org=127.0.0.[2..11], ...) to smtpd_client_restrictions or postscreen "
        "(role maildns.audit.dnsbl_policy).",
        "postfix",
    ),
    FindingKind(
        "POSTFIX_CONFIG_UNREADABLE",
        "high",
        "Postfix's configuration could not be read: its DNSBL use is unknown",
        "Fix the reason given (file missing, unreadable, malformed) or run the audit with become.",
        "postfix",
    ),
    FindingKind(
        "MAIL_REJECTED_BY_DNSBL_ERROR",
        "critical",
        "Mail was rejected because a DNSBL answered with an error code",
        "Fix the resolver path first, then add reply-code filters; the log lines show whom it hit.",
        "postfix",
    ),
    # -- live DNSBL probes ---------------------------------------------------------------------
    FindingKind(
        "DNSBL_RESOLVER_REFUSED",
        "critical",
        "A resolver on the path gets DNSBL error answers (open resolver / rate limited): every lookup through it fails",
        "Stop using that resolver for DNSBL lookups: a local recursive resolver (role maildns.audit.local_resolver) "
        "or a Spamhaus DQS key (role maildns.audit.dnsbl_policy).",
        "probe",
    ),
    FindingKind(
        "DNSBL_HIDDEN_BY_RESOLVER",
        "high",
        "A resolver on the path hides an active DNSBL: its test point is listed at the list's own name servers, "
        "but not through this resolver",
        "Do not remove the list: the resolver is at fault (Google Public DNS answers NXDOMAIN for every Spamhaus "
        "query). Use a local recursive resolver (role maildns.audit.local_resolver) or a Spamhaus DQS key "
        "(role maildns.audit.dnsbl_policy).",
        "probe",
    ),
    FindingKind(
        "RESOLVER_ANSWER_MALFORMED",
        "high",
        "A resolver on the path sends malformed DNS answers (another question, a CNAME loop, the wrong record "
        "type, garbage): its answers cannot be trusted",
        "Replace the resolver (or the middlebox in front of it) with one that answers correctly, such as a local "
        "recursive resolver (role maildns.audit.local_resolver); the lists and records are not at fault.",
        "probe",
    ),
    FindingKind(
        "DNSBL_RESOLVER_SLOW",
        "medium",
        "A resolver on the path answers DNSBL queries slower than 1 s: lookups risk timing out",
        "Use a resolver close to the host (a local recursive resolver: role maildns.audit.local_resolver); "
        "a slow resolver is alive, not dead.",
        "probe",
    ),
    FindingKind(
        "DNSBL_LIST_SLOW",
        "medium",
        "A DNSBL answers slower than 1 s while other lists answer fast: the list (or its name servers) is slow",
        "Keep the list if it still answers its test points, but not as the only one deciding; give it a low "
        "postscreen weight or replace it (role maildns.audit.dnsbl_policy).",
        "probe",
    ),
    FindingKind(
        "DNSBL_WRONG_LIST",
        "high",
        "A DNSBL answers 127.255.255.252: wrong list for the query, or a typing error in its name",
        "Check the zone name against docs/DNSBLS.md and the kind of query (IP lists vs domain lists).",
        "probe",
    ),
    FindingKind(
        "DNSBL_DEAD",
        "high",
        "A DNSBL does not list its own test point (127.0.0.2), nor do its own name servers: it is dead or not a DNSBL",
        "Remove the list (its name servers confirm it lists nothing; the evidence shows their answer); "
        "role maildns.audit.dnsbl_policy offers active fallback lists.",
        "probe",
    ),
    FindingKind(
        "DNSBL_LISTS_THE_WORLD",
        "critical",
        "A DNSBL lists 127.0.0.1, which no list may list: it answers 'listed' for everyone",
        "Remove the list now: every sender is rejected while it is configured.",
        "probe",
    ),
    FindingKind(
        "DNSBL_ANSWER_HIJACKED",
        "critical",
        "DNSBL answers come back outside 127.0.0.0/8: the resolver rewrites NXDOMAIN",
        "Use a resolver that does not rewrite answers (a local recursive resolver: role maildns.audit.local_resolver).",
        "probe",
    ),
    FindingKind(
        "DNSBL_UNREACHABLE",
        "medium",
        "A DNSBL cannot be asked through a resolver on the path (timeout, SERVFAIL, REFUSED, no route, bad answer)",
        "Postfix defers mail while a lookup fails. The evidence says who is at fault: a resolver that answers no "
        "list needs replacing (role maildns.audit.local_resolver); a list whose own name servers do not answer "
        "either may be gone (check docs/DNSBLS.md before removing it).",
        "probe",
    ),
    FindingKind(
        "OUTBOUND_IP_LISTED",
        "high",
        "One of the host's outbound addresses is listed on a DNSBL",
        "See the list's lookup page in the evidence for the reason and the delisting procedure.",
        "probe",
    ),
    # -- outbound identity -----------------------------------------------------------------------
    FindingKind(
        "PTR_MISSING",
        "high",
        "An outbound address has no PTR record",
        "Ask whoever runs the address block to set the PTR to the host's mail name.",
        "identity",
    ),
    FindingKind(
        "PTR_MULTIPLE",
        "medium",
        "An outbound address has more than one PTR record",
        "Keep one PTR, the name the host says HELO with.",
        "identity",
    ),
    FindingKind(
        "PTR_NOT_FORWARD_CONFIRMED",
        "high",
        "The PTR name does not resolve back to the address (no forward-confirmed reverse DNS)",
        "Add an A/AAAA record for the PTR name pointing to the address.",
        "identity",
    ),
    FindingKind(
        "PTR_LOOKS_GENERIC",
        "medium",
        "The PTR name looks generic or dynamic (address digits, dsl/pool/dyn words)",
        "Ask for a PTR that names the mail host (mail.example.org), not the access line.",
        "identity",
    ),
    FindingKind(
        "HELO_NOT_PTR_NAME",
        "medium",
        "The HELO name Postfix sends is not the PTR name of the address",
        "Set smtp_helo_name (or myhostname) to the PTR name.",
        "identity",
    ),
    FindingKind(
        "HELO_NAME_DOES_NOT_RESOLVE",
        "medium",
        "The HELO name does not resolve to the outbound address",
        "Add an A/AAAA record for the HELO name, or send HELO with the PTR name.",
        "identity",
    ),
    FindingKind(
        "MX_MISSING",
        "medium",
        "The mail domain has no MX record",
        "Add an MX record naming the mail host (a name, not an address).",
        "identity",
    ),
    FindingKind(
        "MX_IS_IP_LITERAL",
        "high",
        "An MX record points to an IP address instead of a host name",
        "Point the MX to a host name that has an A/AAAA record.",
        "identity",
    ),
    FindingKind(
        "MX_IS_CNAME",
        "medium",
        "An MX target is a CNAME (RFC 2181 10.3 forbids it)",
        "Point the MX at the canonical name.",
        "identity",
    ),
    FindingKind(
        "MX_TARGET_DOES_NOT_RESOLVE",
        "high",
        "An MX target name has no address",
        "Add an A/AAAA record for the MX target.",
        "identity",
    ),
    # -- the audit itself ----------------------------------------------------------------------
    FindingKind(
        "WAIVER_EXPIRED",
        "medium",
        "A waiver has expired: the finding it covered counts again",
        "Fix the finding, or renew the waiver (audit_waivers) with a new reason and expiry date.",
        "audit",
    ),
    # -- SpamAssassin ----------------------------------------------------------------------------
    FindingKind(
        "SPAMASSASSIN_DNS_SERVER_PUBLIC",
        "high",
        "SpamAssassin's dns_server points at a public resolver that DNSBLs refuse",
        "Remove dns_server (SpamAssassin then uses resolv.conf) or point it at a local recursive resolver.",
        "spamassassin",
    ),
    FindingKind(
        "SPAMASSASSIN_DQS_PLACEHOLDER",
        "high",
        "The Spamhaus DQS rules still hold the your_DQS_key placeholder",
        "Put the DQS key in place of your_DQS_key (role maildns.audit.dnsbl_policy, variable maildns_dqs_key).",
        "spamassassin",
    ),
    FindingKind(
        "SPAMASSASSIN_DNSBL_BLOCKED",
        "high",
        "SpamAssassin stopped querying a DNSBL after it answered 'blocked'",
        "Fix the resolver path, then delete the dnsblock_* files so that SpamAssassin queries the list again.",
        "spamassassin",
    ),
    FindingKind(
        "SPAMASSASSIN_RULES_IGNORE_BLOCKED_ANSWERS",
        "low",
        "SpamAssassin's rules predate the *_BLOCKED rules: DNSBL error answers go unnoticed",
        "Upgrade to SpamAssassin 4 or run sa-update.",
        "spamassassin",
    ),
    FindingKind(
        "SPAMASSASSIN_DNS_DISABLED",
        "info",
        "SpamAssassin does no DNSBL checks (dns_available no or skip_rbl_checks 1)",
        "Intended on a host without DNS; otherwise remove the setting.",
        "spamassassin",
    ),
    FindingKind(
        "SPAMASSASSIN_CONFIG_UNREADABLE",
        "medium",
        "SpamAssassin's configuration could not be read completely",
        "Fix the reason given (file unreadable, include cycle, binary or oversized file).",
        "spamassassin",
    ),
)


# -- who fixes what ------------------------------------------------------------------------------------

LOCAL_RESOLVER = "maildns.audit.local_resolver"
DNSBL_POLICY = "maildns.audit.dnsbl_policy"
DNS_PROVIDER = "whoever serves the zone (the DNS provider, or the address block's owner for a PTR)"
ADMIN = "the host's admin"


@dataclass(frozen=True)
class Remedy:
    """Who fixes a finding: one of the collection's roles (with the variables it needs), or someone else."""

    role: str = ""  # a role of this collection; "" when no role does
    needs: tuple = ()  # variables that must be set for the role to fix it (maildns_dqs_key)
    evidence: tuple = ()  # (key, value) pairs the finding's evidence must show for this remedy
    outside: str = ""  # no role: who fixes it

    def applies_to(self, evidence: dict) -> bool:
        return all(evidence.get(key) == value for key, value in self.evidence)


_RESOLVER = (Remedy(LOCAL_RESOLVER),)
_POLICY = (Remedy(DNSBL_POLICY),)
_PROVIDER = (Remedy(outside=DNS_PROVIDER),)
_ADMIN = (Remedy(outside=ADMIN),)
# One entry per catalog ID (a test checks it), the first remedy whose evidence matches wins.
REMEDIES = {
    "RESOLV_CONF_PUBLIC_NAMESERVER": _RESOLVER,
    "RESOLV_CONF_UNKNOWN_PUBLIC_NAMESERVER": _RESOLVER,
    "RESOLV_CONF_INVALID_NAMESERVER": _RESOLVER,
    "RESOLV_CONF_MISSING": _RESOLVER,
    "LOOPBACK_NAMESERVER_NOTHING_LISTENS": _RESOLVER,
    "SYSTEMD_RESOLVED_PUBLIC_UPSTREAM": _RESOLVER,
    "LOCAL_RESOLVER_FORWARDS_PUBLIC": _RESOLVER,
    "POSTFIX_CHROOT_RESOLV_CONF_DRIFT": _RESOLVER,
    "DNSBL_NO_REPLY_FILTER": _POLICY,
    "DNSBL_FILTER_ADMITS_ERROR_CODES": _POLICY,
    "DBL_WITHOUT_FILTER": _POLICY,
    "DNSBL_RETIRED": _POLICY,
    "DNSBL_MISSPELLED": (Remedy(DNSBL_POLICY, needs=("dnsbl_policy_correct_misspelled",)),),
    "DNSBL_NEEDS_REGISTRATION": (Remedy(outside="the list's operator (register the querying addresses)"),),
    "DQS_KEY_EXPOSED_IN_SMTP_REPLY": _POLICY,
    "DNSBL_SINGLE_LIST": (Remedy(DNSBL_POLICY, needs=("dnsbl_policy_fallback_lists",)),),
    "POSTFIX_MASTER_OVERRIDES_DNSBL": _ADMIN,
    "POSTFIX_PARAMETER_UNEXPANDABLE": _ADMIN,
    "POSTSCREEN_DNSBL_SITES_UNUSED": _ADMIN,
    "DNSBL_NONE_ACTIVE": (Remedy(DNSBL_POLICY, needs=("dnsbl_policy_fallback_lists",)),),
    "POSTFIX_CONFIG_UNREADABLE": _ADMIN,
    # The log keeps what happened: it goes when the log rotates, once the path and filters are fixed.
    "MAIL_REJECTED_BY_DNSBL_ERROR": (Remedy(outside="time: the mail log keeps it until it rotates"),),
    "DNSBL_RESOLVER_REFUSED": _RESOLVER,
    "DNSBL_HIDDEN_BY_RESOLVER": _RESOLVER,
    "RESOLVER_ANSWER_MALFORMED": _RESOLVER,
    "DNSBL_RESOLVER_SLOW": _RESOLVER,
    "DNSBL_LIST_SLOW": (Remedy(outside="the list's operator; keep it beside other lists"),),
    "DNSBL_WRONG_LIST": (Remedy(DNSBL_POLICY, needs=("dnsbl_policy_correct_misspelled",)),),
    "DNSBL_DEAD": (Remedy(LOCAL_RESOLVER, evidence=(("at_fault", "resolver"),)), Remedy(outside=ADMIN)),
    "DNSBL_LISTS_THE_WORLD": (Remedy(LOCAL_RESOLVER, evidence=(("at_fault", "resolver"),)), Remedy(DNSBL_POLICY)),
    "DNSBL_ANSWER_HIJACKED": _RESOLVER,
    "DNSBL_UNREACHABLE": (
        Remedy(LOCAL_RESOLVER, evidence=(("at_fault", "resolver"),)),
        Remedy(outside="the list's operator, or the admin (replace the list)"),
    ),
    "OUTBOUND_IP_LISTED": (Remedy(outside="the list's operator (its delisting procedure)"),),
    "PTR_MISSING": _PROVIDER,
    "PTR_MULTIPLE": _PROVIDER,
    "PTR_NOT_FORWARD_CONFIRMED": _PROVIDER,
    "PTR_LOOKS_GENERIC": _PROVIDER,
    "HELO_NOT_PTR_NAME": (Remedy(outside=ADMIN + " (smtp_helo_name)"),),
    "HELO_NAME_DOES_NOT_RESOLVE": _PROVIDER,
    "MX_MISSING": _PROVIDER,
    "MX_IS_IP_LITERAL": _PROVIDER,
    "MX_IS_CNAME": _PROVIDER,
    "MX_TARGET_DOES_NOT_RESOLVE": _PROVIDER,
    "WAIVER_EXPIRED": (Remedy(outside="the admin (audit_waivers)"),),
    "SPAMASSASSIN_DNS_SERVER_PUBLIC": _RESOLVER,
    "SPAMASSASSIN_DQS_PLACEHOLDER": (Remedy(DNSBL_POLICY, needs=("maildns_dqs_key",)),),
    "SPAMASSASSIN_DNSBL_BLOCKED": _RESOLVER,
    "SPAMASSASSIN_RULES_IGNORE_BLOCKED_ANSWERS": (Remedy(outside=ADMIN + " (sa-update, or SpamAssassin 4)"),),
    "SPAMASSASSIN_DNS_DISABLED": _ADMIN,
    "SPAMASSASSIN_CONFIG_UNREADABLE": _ADMIN,
}


def remedy_of(finding_id: str, evidence: dict | None = None) -> Remedy:
    """The remedy for one finding, as its evidence shows it (a list at fault is not the resolver's)."""
    for remedy in REMEDIES[finding_id]:
        if remedy.applies_to(evidence or {}):
            return remedy
    return Remedy(outside=ADMIN)


def remedy_text(remedy: Remedy) -> str:
    if remedy.role:
        return remedy.role + (" (with %s)" % ", ".join(remedy.needs) if remedy.needs else "")
    return remedy.outside


@dataclass
class Finding:
    """One finding on one host: the catalog entry plus the evidence that triggered it."""

    id: str
    evidence: dict = field(default_factory=dict)
    # Where the harm depends on the host (a public resolver breaks only the lists it refuses), the
    # judge sets the severity it found; the catalog's is the worst case and the default.
    severity: str | None = None

    def __post_init__(self) -> None:
        if self.id not in CATALOG:
            raise KeyError(f"finding {self.id} is not in the catalog")
        if self.severity is not None and self.severity not in SEVERITIES:
            raise ValueError(f"severity {self.severity} is not one of {', '.join(SEVERITIES)}")

    def as_dict(self) -> dict:
        kind = CATALOG[self.id]
        return {
            "id": kind.id,
            "severity": self.severity or kind.severity,
            "title": kind.title,
            "fix": kind.fix,
            "evidence": self.evidence,
        }


@dataclass
class Check:
    """Whether a check ran: ok, or unknown with the reason. Never a silent pass."""

    name: str
    status: str  # "ok" or "unknown"
    reason: str = ""

    def as_dict(self) -> dict:
        return {"name": self.name, "status": self.status, "reason": self.reason}


def render_markdown() -> str:
    """docs/FINDINGS.md."""
    lines = [
        "# Findings",
        "",
        "Generated from `plugins/module_utils/findings.py` by `make docs`; do not edit by hand.",
        "An ID never changes meaning once released.",
        "",
    ]
    for area in AREAS:
        lines += [f"## {area}", "", "| ID | severity | finding | fix | fixed by |", "|---|---|---|---|---|"]
        for kind in CATALOG.values():
            if kind.area == area:
                by = "; ".join(_remedy_cell(remedy) for remedy in REMEDIES[kind.id])
                lines.append(f"| `{kind.id}` | {kind.severity} | {kind.title} | {kind.fix} | {by} |")
        lines.append("")
    return "\n".join(lines)


def _remedy_cell(remedy: Remedy) -> str:
    text = (
        f"`{remedy.role}`" + (f" with `{'`, `'.join(remedy.needs)}`" if remedy.needs else "")
        if remedy.role
        else remedy.outside
    )
    if remedy.evidence:
        text += " when " + ", ".join(f"{key} = {value}" for key, value in remedy.evidence)
    return text
