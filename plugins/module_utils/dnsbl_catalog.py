# Copyright: maildns.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The DNSBL catalog: what each list is, what its answers mean, whether it still works.

Private to the collection. Runs on managed hosts: Python 3.8 syntax. The one place these facts
live; docs/DNSBLS.md is generated from it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Spamhaus' error answers (DESIGN.md section 1): never a listing.
SPAMHAUS_ERRORS = {
    "127.255.255.252": "typing error in the DNSBL name, or the wrong list for the query",
    "127.255.255.254": "query through a public/open resolver: refused",
    "127.255.255.255": "excessive number of queries: rate limited",
}
DQS_SUFFIX = "dq.spamhaus.net"


@dataclass(frozen=True)
class Dnsbl:
    zone: str
    operator: str
    kind: str  # "ip" (client address) or "domain" (rhsbl)
    codes: dict  # listing answer -> meaning
    reply_filter: str  # the Postfix filter that admits the listing codes and nothing else
    status: str = "active"  # active | needs_registration | retired
    errors: dict = field(default_factory=dict)  # error answer -> meaning
    # Listings whose meaning is "a legitimate domain being abused": reported, but the recommended
    # filter deliberately does not reject on them.
    advisory_codes: dict = field(default_factory=dict)
    ipv6: bool = False
    lookup_url: str = ""
    dqs_zone: str = ""  # the DQS equivalent, with <key> for the account key
    history: str = ""  # why it is retired; "lists the world" when it answered every name
    # Refuses queries that come through public resolvers (answers an error code or nothing).
    refuses_public_resolvers: bool = False
    source: str = ""  # where the status and history were checked

    @property
    def lists_the_world(self) -> bool:
        return "lists the world" in self.history

    @property
    def test_points(self) -> dict:
        """RFC 5782: names that must be listed and must not be, for this list's kind."""
        if self.kind == "domain":
            return {"listed": ["test"], "not_listed": ["invalid"]}
        points = {"listed": ["127.0.0.2"], "not_listed": ["127.0.0.1"]}
        if self.ipv6:
            points["listed"].append("::ffff:7f00:2")
            points["not_listed"].append("::ffff:7f00:1")
        return points


_ZEN_CODES = {
    "127.0.0.2": "SBL: direct spam source",
    "127.0.0.3": "SBL CSS: snowshoe spam",
    "127.0.0.4": "XBL: exploited/infected host",
    "127.0.0.5": "XBL",
    "127.0.0.6": "XBL",
    "127.0.0.7": "XBL",
    "127.0.0.9": "SBL DROP: hijacked netblock",
    "127.0.0.10": "PBL: dynamic/end-user range (ISP maintained)",
    "127.0.0.11": "PBL: dynamic/end-user range (Spamhaus maintained)",
}
_SPAMHAUS_URL = "https://check.spamhaus.org/results/?query={query}"


def _spamhaus(zone: str, codes: dict, reply_filter: str, kind: str = "ip", advisory_codes: dict | None = None) -> Dnsbl:
    errors = dict(SPAMHAUS_ERRORS)
    if kind == "domain":
        errors["127.0.1.255"] = "an IP address was queried against a domain list"
    return Dnsbl(
        zone=zone,
        operator="Spamhaus",
        kind=kind,
        codes=codes,
        reply_filter=reply_filter,
        errors=errors,
        advisory_codes=advisory_codes or {},
        ipv6=(kind == "ip"),
        lookup_url=_SPAMHAUS_URL,
        dqs_zone="<key>." + zone.split(".")[0] + "." + DQS_SUFFIX,
        refuses_public_resolvers=True,
    )


def _retired(zone: str, operator: str, kind: str, history: str, source: str) -> Dnsbl:
    return Dnsbl(zone, operator, kind, {"127.0.0.2": "listed"}, "127.0.0.2", "retired", history=history, source=source)


CATALOG = {
    entry.zone: entry
    for entry in (
        _spamhaus("zen.spamhaus.org", _ZEN_CODES, "127.0.0.[2..11]"),
        _spamhaus("sbl.spamhaus.org", {k: v for k, v in _ZEN_CODES.items() if v.startswith("SBL")}, "127.0.0.[2;3;9]"),
        _spamhaus("xbl.spamhaus.org", {k: v for k, v in _ZEN_CODES.items() if v.startswith("XBL")}, "127.0.0.[4..7]"),
        _spamhaus("pbl.spamhaus.org", {k: v for k, v in _ZEN_CODES.items() if v.startswith("PBL")}, "127.0.0.[10..11]"),
        _spamhaus(
            "sbl-xbl.spamhaus.org", {k: v for k, v in _ZEN_CODES.items() if v[:3] in ("SBL", "XBL")}, "127.0.0.[2..9]"
        ),
        _spamhaus(
            "dbl.spamhaus.org",
            {
                "127.0.1.2": "spam domain",
                "127.0.1.4": "phishing domain",
                "127.0.1.5": "malware domain",
                "127.0.1.6": "botnet C&C domain",
            },
            "127.0.1.[2..99]",
            kind="domain",
            advisory_codes={
                "127.0.1.102": "abused legit spam",
                "127.0.1.103": "abused spammed redirector",
                "127.0.1.104": "abused legit phish",
                "127.0.1.105": "abused legit malware",
                "127.0.1.106": "abused legit botnet C&C",
            },
        ),
        _spamhaus(
            "zrd.spamhaus.org",
            {"127.0.2.2": "domain first seen in the last 2 to 24 hours"},
            "127.0.2.[2..24]",
            kind="domain",
        ),
        Dnsbl(
            "bl.spamcop.net",
            "SpamCop (Cisco)",
            "ip",
            {"127.0.0.2": "reported spam source"},
            "127.0.0.2",
            lookup_url="https://www.spamcop.net/bl.shtml?{query}",
        ),
        Dnsbl(
            "b.barracudacentral.org",
            "Barracuda",
            "ip",
            {"127.0.0.2": "poor reputation"},
            "127.0.0.2",
            status="needs_registration",
            lookup_url="https://www.barracudacentral.org/lookups/lookup-reputation",
        ),
        Dnsbl(
            "psbl.surriel.com",
            "PSBL",
            "ip",
            {"127.0.0.2": "spam trap hit"},
            "127.0.0.2",
            lookup_url="https://psbl.org/listing?ip={query}",
        ),
        Dnsbl(
            "bl.mailspike.net",
            "Mailspike",
            "ip",
            {
                "127.0.0.2": "listed",
                "127.0.0.10": "worst reputation",
                "127.0.0.11": "very bad reputation",
                "127.0.0.12": "bad reputation",
                "127.0.0.13": "suspicious",
                "127.0.0.14": "neutral-bad",
            },
            "127.0.0.[2..14]",
            lookup_url="https://mailspike.org/iplookup.html",
        ),
        Dnsbl(
            "dnsbl-1.uceprotect.net",
            "UCEPROTECT",
            "ip",
            {"127.0.0.2": "listed (level 1)"},
            "127.0.0.2",
            lookup_url="https://www.uceprotect.net/en/rblcheck.php?ipr={query}",
        ),
        Dnsbl(
            "list.dnswl.org",
            "dnswl.org",
            "ip",
            {
                "127.0.[0..255].0": "trusted: none",
                "127.0.[0..255].1": "trusted: low",
                "127.0.[0..255].2": "trusted: medium",
                "127.0.[0..255].3": "trusted: high",
            },
            "127.0.[0..255].[0..3]",
            errors={"127.0.0.255": "too many queries: blocked"},
            lookup_url="https://www.dnswl.org/s/?s={query}",
        ),
        Dnsbl(
            "dnsbl.sorbs.net",
            "SORBS (Proofpoint)",
            "ip",
            {"127.0.0.2": "listed"},
            "127.0.0.[2..14]",
            status="retired",
            history="shut down in June 2024, all zones emptied",
            source="https://www.techzine.eu/news/security/120916/proofpoint-discontinues-anti-spam-service-sorbs/",
        ),
        Dnsbl(
            "dnsbl.ahbl.org",
            "AHBL",
            "ip",
            {"127.0.0.2": "listed"},
            "127.0.0.2",
            status="retired",
            history="closed in 2015, then lists the world (127.0.0.2 for every address)",
            source="https://github.com/chrislee35/dnsbl-client/pull/5",
        ),
        Dnsbl(
            "rhsbl.ahbl.org",
            "AHBL",
            "domain",
            {"127.0.0.2": "listed"},
            "127.0.0.2",
            status="retired",
            history="closed in 2015, then lists the world (127.0.0.2 for every name)",
            source="https://github.com/sovereign/sovereign/issues/232",
        ),
        Dnsbl(
            "dnsbl.njabl.org",
            "NJABL",
            "ip",
            {"127.0.0.2": "listed"},
            "127.0.0.2",
            status="retired",
            history="closed in 2013, then lists the world since 2024 (a squatter's wildcard)",
            source="https://en.wikipedia.org/wiki/Not_Just_Another_Bogus_List",
        ),
        Dnsbl(
            "cbl.abuseat.org",
            "CBL (Spamhaus)",
            "ip",
            {"127.0.0.2": "listed"},
            "127.0.0.2",
            status="retired",
            history="folded into Spamhaus XBL in 2021",
            source="https://github.com/IntellexApps/blcheck/pull/31",
        ),
        Dnsbl(
            "list.dsbl.org",
            "DSBL",
            "ip",
            {"127.0.0.2": "listed"},
            "127.0.0.2",
            status="retired",
            history="closed in 2009: its name servers point at 192.0.2.1, queries time out",
            source="https://vamsoft.com/company/news/dsbl-shutdown",
        ),
        Dnsbl(
            "relays.ordb.org",
            "ORDB",
            "ip",
            {"127.0.0.2": "listed"},
            "127.0.0.2",
            status="retired",
            history="closed in 2006, later lists the world",
            source="https://www.dnsbl.com/search/label/dnsbl?updated-max=2009-03-31T10:54:00-05:00&max-results=20&start=20&by-date=false",
        ),
        # Retired lists that Postfix, SpamAssassin and Exim guides of 2010-2026 name. A list that is
        # gone often answers "not listed" for everyone (an emptied zone), or, once its domain lapses,
        # lists the world: neither may pass silently. Each with its date and a source.
        *(
            _retired(zone, operator, kind, history, source)
            for zone, operator, kind, history, source in (
                (
                    "ix.dnsbl.manitu.net",
                    "NiX Spam (heise iX)",
                    "ip",
                    "emptied on 2025-01-16; the operator asks everyone to stop querying it",
                    "https://heise.de/-10248714",
                ),
                *(
                    (
                        zone,
                        "SORBS (Proofpoint)",
                        kind,
                        "shut down in June 2024, all zones emptied",
                        "https://www.techzine.eu/news/security/120916/proofpoint-discontinues-anti-spam-service-sorbs/",
                    )
                    for zone, kind in (
                        ("dul.dnsbl.sorbs.net", "ip"),
                        ("problems.dnsbl.sorbs.net", "ip"),
                        ("spam.dnsbl.sorbs.net", "ip"),
                        ("web.dnsbl.sorbs.net", "ip"),
                        ("http.dnsbl.sorbs.net", "ip"),
                        ("socks.dnsbl.sorbs.net", "ip"),
                        ("misc.dnsbl.sorbs.net", "ip"),
                        ("aspews.ext.sorbs.net", "ip"),
                        ("rhsbl.sorbs.net", "domain"),
                    )
                ),
                (
                    "combined.njabl.org",
                    "NJABL",
                    "ip",
                    "closed in 2013, then lists the world since 2024 (a squatter's wildcard)",
                    "https://en.wikipedia.org/wiki/Not_Just_Another_Bogus_List",
                ),
                (
                    "bl.spamcannibal.org",
                    "SpamCannibal",
                    "ip",
                    "abandoned in 2017, domain lapsed in 2018: lists the world (a parking address)",
                    "https://wordtothewise.com/2018/05/spamcannibal-is-dead",
                ),
                (
                    "dul.ru",
                    "Russian Dial-up User List",
                    "ip",
                    "closed in 2015, then lists the world (wildcard since 2015-05-19)",
                    "https://www.dnsbl.com/search?updated-max=2015-08-06T11:56:00-05:00&max-results=12",
                ),
                (
                    "spam.abuse.ch",
                    "abuse.ch",
                    "ip",
                    "down since 2019: its name servers fail (SERVFAIL)",
                    "https://github.com/rspamd/rspamd/issues/2744",
                ),
                (
                    "dnsbl.inps.de",
                    "inps.de",
                    "ip",
                    "shut down on 2020-05-25",
                    "https://www.dnsbl.com/2020/05/",
                ),
                (
                    "db.wpbl.info",
                    "WPBL",
                    "ip",
                    "emptied in November 2023, shut down in 2024",
                    "https://github.com/killmasta93/tutorials/issues/3",
                ),
                (
                    "virbl.dnsbl.bit.nl",
                    "BIT",
                    "ip",
                    "closed around January 2017",
                    "https://github.com/dmippolitov/pydnsbl/issues/48",
                ),
                (
                    "bl.emailbasura.org",
                    "Email Basura",
                    "ip",
                    "domain expired in October 2019: lists the world (wildcard)",
                    "https://github.com/EvotecIT/PSBlackListChecker/issues/8",
                ),
                (
                    "rbl.megarbl.net",
                    "MegaRBL",
                    "ip",
                    "domain expired on 2019-11-25: lists the world",
                    "https://github.com/matteocorti/check_rbl/pull/32",
                ),
                *(
                    (
                        zone,
                        "RFC-Ignorant",
                        kind,
                        "shut down on 2012-09-15, entries removed, its name servers deleted in November 2012",
                        "https://www.rollernet.us/2012/09/dnsbl-rfc-ignorant-org-shutting-down-2/",
                    )
                    for zone, kind in (
                        ("dsn.rfc-ignorant.org", "domain"),
                        ("postmaster.rfc-ignorant.org", "domain"),
                        ("abuse.rfc-ignorant.org", "domain"),
                        ("whois.rfc-ignorant.org", "domain"),
                        ("bogusmx.rfc-ignorant.org", "domain"),
                        ("fulldom.rfc-ignorant.org", "domain"),
                        ("ipwhois.rfc-ignorant.org", "ip"),
                    )
                ),
                (
                    "dsn.rfc-clueless.org",
                    "RFC-Clueless",
                    "domain",
                    "closed in 2023 (announced 2023-09-23, emptied 2023-11-01)",
                    "http://rfc-clueless.org/",
                ),
                (
                    "tor.dnsbl.sectoor.de",
                    "sectoor.de",
                    "ip",
                    "dead since 2018, domain parked: lists the world",
                    "https://github.com/EvotecIT/PSBlackListChecker/issues/4",
                ),
                (
                    "dnsbl.cyberlogic.net",
                    "Cyberlogic",
                    "ip",
                    "closed in May 2018, then lists the world",
                    "https://github.com/matteocorti/check_rbl/issues/17",
                ),
                (
                    "dnsbl.burnt-tech.com",
                    "Burnt Tech",
                    "ip",
                    "domain expired in September 2015: lists the world (wildcard)",
                    "https://www.dnsbl.com/2015/09/status-of-dnsblburnt-techcom-dead.html",
                ),
                (
                    "all.rbl.webiron.net",
                    "WebIron",
                    "ip",
                    "closed in 2020, domain expired: lists the world",
                    "https://www.dnsbl.com/2020/05/",
                ),
                (
                    "spam.dnsbl.anonmails.de",
                    "anonmails.de",
                    "ip",
                    "closed on 2024-11-12: answers a bogus address for every query",
                    "https://github.com/matteocorti/check_rbl/pull/60",
                ),
                (
                    "spamtrap.drbl.drand.net",
                    "drand.net",
                    "ip",
                    "closed on 2024-03-26: lists the world",
                    "https://github.com/matteocorti/check_rbl/pull/53",
                ),
                (
                    "sbl.spamdown.org",
                    "spamdown",
                    "ip",
                    "closed around March 2026: lists the world (216.120.147.200)",
                    "https://github.com/matteocorti/check_rbl/pull/68",
                ),
                (
                    "ircbl.ahbl.org",
                    "AHBL",
                    "ip",
                    "closed in 2015, then lists the world",
                    "https://github.com/chrislee35/dnsbl-client/pull/5",
                ),
                (
                    "tor.ahbl.org",
                    "AHBL",
                    "ip",
                    "closed in 2015, then lists the world",
                    "http://www.ahbl.org/docs/torbl",
                ),
            )
        ),
    )
}


def normalise_zone(zone: str) -> str:
    return zone.strip().rstrip(".").lower()


def is_dqs_zone(zone: str) -> bool:
    return normalise_zone(zone).endswith("." + DQS_SUFFIX)


# Any name below dq.spamhaus.<tld>: the real DQS zones end in .net, but a key typed under .org or
# .com is still a key, and the typo is exactly when it shows up in findings.
_UNDER_DQS = re.compile(r"\.dq\.spamhaus\.[a-z]{2,}$")


def under_dqs_name(zone: str) -> bool:
    return bool(_UNDER_DQS.search(normalise_zone(zone)))


def mask_dqs_key(zone: str) -> str:
    """A zone below dq.spamhaus.* with the account key replaced: keys never reach facts, findings or logs."""
    labels = normalise_zone(zone).split(".")
    if under_dqs_name(zone) and len(labels) > 4:
        return "<DQS key>." + ".".join(labels[-4:])
    return zone


def dqs_correction(zone: str) -> str | None:
    """For a DQS name under the wrong TLD (`<key>.zen.dq.spamhaus.org`), the name it should have, masked."""
    labels = normalise_zone(zone).split(".")
    if under_dqs_name(zone) and not is_dqs_zone(zone) and len(labels) >= 4:
        return "<DQS key>." + labels[-4] + "." + DQS_SUFFIX
    return None


def lookup(zone: str) -> Dnsbl | None:
    """The catalog entry of a zone; a DQS zone maps to the public list it mirrors."""
    name = normalise_zone(zone)
    if is_dqs_zone(name):
        labels = name.split(".")
        if len(labels) >= 4:
            return CATALOG.get(labels[-4] + ".spamhaus.org")
        return None
    return CATALOG.get(name)


def near_miss(zone: str) -> str | None:
    """The catalog zone one or two typos away from an unknown zone name, if any."""
    name = normalise_zone(zone)
    if lookup(name) is not None:
        return None
    corrected = dqs_correction(name)
    if corrected is not None:
        return corrected
    for known in CATALOG:
        if _distance(name, known) <= 2:
            return known
        # Same list name under the operator's other TLD (zen.spamhaus.net for zen.spamhaus.org).
        if name.rsplit(".", 1)[0] == known.rsplit(".", 1)[0]:
            return known
    return None


def _distance(a: str, b: str) -> int:
    if abs(len(a) - len(b)) > 2:
        return 3
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b)))
        previous = current
    return previous[-1]


# -- Postfix reply filters ------------------------------------------------------------------------
_OCTET = re.compile(r"^(?:\d{1,3}|\[[0-9.;]+\])$")


def filter_matches(reply_filter: str, address: str) -> bool | None:
    """Whether a Postfix DNSBL filter (`127.0.0.[2..11]`, `127.0.0.[2;3]`) admits an answer.

    None when the filter cannot be parsed: the caller reports that rather than guessing.
    """
    parts = re.findall(r"\[[^\]]*\]|[^.\[\]]+", reply_filter.strip())
    octets = address.split(".")
    if len(parts) != 4 or len(octets) != 4:
        return None
    for part, octet in zip(parts, octets):
        if not _OCTET.match(part):
            return None
        value = int(octet)
        if part.startswith("["):
            if not _octet_in(part[1:-1], value):
                return False
        elif int(part) != value:
            return False
    return True


def _octet_in(spec: str, value: int) -> bool:
    for item in spec.split(";"):
        if ".." in item:
            low, _sep, high = item.partition("..")
            if low.isdigit() and high.isdigit() and int(low) <= value <= int(high):
                return True
        elif item.isdigit() and int(item) == value:
            return True
    return False


def render_markdown() -> str:
    lines = [
        "# DNSBL catalog",
        "",
        "Generated from `plugins/module_utils/dnsbl_catalog.py` by `make docs`; do not edit by hand.",
        "",
        "| zone | operator | kind | status | Postfix filter | error answers | DQS zone | history |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for entry in CATALOG.values():
        errors = ", ".join(sorted(entry.errors)) or "-"
        lines.append(
            f"| `{entry.zone}` | {entry.operator} | {entry.kind} | {entry.status} | "
            f"`{entry.zone}={entry.reply_filter}` | {errors} | {entry.dqs_zone or '-'} | "
            f"{entry.history or '-'}{f' ([source]({entry.source}))' if entry.source else ''} |"
        )
    return "\n".join(lines) + "\n"


_DQS_KEY = re.compile(r"\b[A-Za-z0-9]{8,}\.((?:[a-z0-9-]+\.)+dq\.spamhaus\.[a-z]{2,})\b", re.IGNORECASE)
_PLACEHOLDER = "your_DQS_key"


def mask_secrets(text: str) -> str:
    """Any text with DQS account keys replaced (config values, log lines, answers)."""
    if not text or "dq.spamhaus." not in text.lower():
        return text
    return _DQS_KEY.sub(
        lambda match: match.group(0) if match.group(0).startswith(_PLACEHOLDER) else "<DQS key>." + match.group(1), text
    )
