# Copyright: maildns.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Live DNSBL health through each resolver on the host's path, and the host's own listings.

Private to the collection. Runs on managed hosts: Python 3.8 syntax.

`probe_test_points` asks every list's RFC 5782 test points (listed and not listed) through every
resolver on the path at once and classifies what each (list, resolver) pair answered. Wherever a
pair does not work, it asks the list's own name servers (found through the path, asked without
recursion) for the same test points, and so tells who is at fault: a list that works at its name
servers but not through a resolver is hidden by that resolver (Google Public DNS answers NXDOMAIN
for every Spamhaus name), never "dead". Error answers (127.255.255.x) get their TXT read: Spamhaus
names there the resolver that really reached it (the egress, often a forwarder behind the one the
host names). `check_outbound_ips` asks every list about the host's outbound addresses through a
path that works, and never reports an error code as a listing.

At most three sequential DNS batches here (test points with the zones' NS; NS addresses with the
error TXTs; the name servers' own answers) and one in `check_outbound_ips`, each bounded by
`timeout`: the probe's time is bounded by 4 x timeout, and is one timeout when every list answers.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import re
import sys
import time
from dataclasses import dataclass, field

from ansible_collections.maildns.audit.plugins.module_utils import dnsbl_catalog
from ansible_collections.maildns.audit.plugins.module_utils.dns_engine import Question, Reply, engine_name, resolve_many
from ansible_collections.maildns.audit.plugins.module_utils.findings import Finding
from ansible_collections.maildns.audit.plugins.module_utils.public_resolvers import PUBLIC_KNOWN, classify_address
from ansible_collections.maildns.audit.plugins.module_utils.resolver_target import ResolverTarget

WORKING = "working"
BLOCKED = "blocked_open_resolver"
RATE_LIMITED = "rate_limited"
WRONG_LIST = "wrong_list"
DEAD = "dead"
LISTS_THE_WORLD = "lists_the_world"
HIJACKED = "hijacked"
UNREACHABLE = "unreachable"
MALFORMED = "malformed"
ERROR_CLASSES = {"127.255.255.254": BLOCKED, "127.255.255.255": RATE_LIMITED, "127.255.255.252": WRONG_LIST}
REFUSALS = (BLOCKED, RATE_LIMITED, WRONG_LIST)
# An answer slower than this is "slow but alive": its own finding, not a dead list.
SLOW_MS = 1000.0
DEFAULT_TIMEOUT = 2.5
# The resolver that reached Spamhaus, in the TXT beside an error answer: .../returnc/pub/<address>/
_EGRESS = re.compile(r"/returnc/[a-z]+/([0-9A-Fa-f:.]+)/?")


@dataclass
class ListProbe:
    zone: str  # as queried (a DQS zone carries its key: never returned, see `shown`)
    resolver: ResolverTarget
    classification: str = ""  # what the resolver answered (WORKING, DEAD, ...)
    detail: str = ""
    queries: list = field(default_factory=list)
    authoritative: dict = field(default_factory=dict)  # what the list's own name servers answered
    explanation: str = ""  # the TXT beside an error answer
    egress: str = ""  # the resolver address that TXT names
    slowest_ms: float = 0.0  # the slowest test-point answer that came
    at_fault: str = ""  # "resolver", "list" or "" (working, or not known)
    # The outbound addresses on this list, asked through this pair's resolver beside its test points
    # (the first resolver only): reused by check_outbound_ips when this pair works.
    outbound_replies: dict = field(default_factory=dict)

    @property
    def shown(self) -> str:
        return dnsbl_catalog.mask_dqs_key(self.zone)

    def as_dict(self) -> dict:
        result = {
            "zone": self.shown,
            "resolver": self.resolver.address,
            "resolver_source": self.resolver.source,
            "classification": self.classification,
            "detail": dnsbl_catalog.mask_secrets(self.detail),
            "queries": [_masked(query) for query in self.queries],
            "authoritative": _masked(self.authoritative),
            "slowest_ms": round(self.slowest_ms, 1),
            "at_fault": self.at_fault,
        }
        if self.explanation:
            result["explanation"] = dnsbl_catalog.mask_secrets(self.explanation)
            result["egress"] = self.egress
        return result


def _masked(query: dict) -> dict:
    return {
        k: (
            dnsbl_catalog.mask_secrets(v)
            if isinstance(v, str)
            else [dnsbl_catalog.mask_secrets(x) if isinstance(x, str) else x for x in v]
            if isinstance(v, list)
            else v
        )
        for k, v in query.items()
    }


def list_kind(zone: str) -> str:
    entry = dnsbl_catalog.lookup(zone)
    return entry.kind if entry is not None else "ip"


def query_name(key: str, zone: str, kind: str) -> str:
    if kind == "ip":
        address = ipaddress.ip_address(key)
        reverse = address.reverse_pointer
        suffix = ".in-addr.arpa" if address.version == 4 else ".ip6.arpa"
        return reverse[: -len(suffix)] + "." + zone
    return key.rstrip(".") + "." + zone


def test_points(zone: str) -> tuple:
    """(listed names, not-listed names) of a zone's RFC 5782 test points."""
    entry = dnsbl_catalog.lookup(zone)
    kind = list_kind(zone)
    points = entry.test_points if entry is not None else {"listed": ["127.0.0.2"], "not_listed": ["127.0.0.1"]}
    return (
        [query_name(key, zone, kind) for key in points["listed"]],
        [query_name(key, zone, kind) for key in points["not_listed"]],
    )


def classify(listed: list, not_listed: list) -> tuple:
    """(classification, detail) of one list through one resolver from its test-point replies."""
    replies = listed + not_listed
    # A malformed reply on either test point: the resolver's answers cannot be read at all.
    for reply in replies:
        if reply.error.startswith("malformed"):
            return MALFORMED, f"{reply.question.name}: {reply.error}"
    for reply in listed:
        if reply.error:
            return UNREACHABLE, f"{reply.question.name}: {reply.error}"
        if reply.rcode not in ("NOERROR", "NXDOMAIN"):
            return UNREACHABLE, f"{reply.question.name}: {reply.rcode}"
    for reply in replies:
        for answer in reply.answers:
            if answer in ERROR_CLASSES:
                return ERROR_CLASSES[answer], f"{reply.question.name} answered {answer}"
    for reply in replies:
        outside = [a for a in reply.answers if not _in_loopback_net(a)]
        if outside:
            return HIJACKED, f"{reply.question.name} answered {', '.join(outside)} (outside 127.0.0.0/8)"
    for reply in not_listed:
        if reply.rcode == "NOERROR" and reply.answers:
            return LISTS_THE_WORLD, f"{reply.question.name} (never listed) answered {', '.join(reply.answers)}"
    for reply in listed:
        if not reply.answers:
            return DEAD, f"{reply.question.name} (always listed) answered {reply.rcode or 'nothing'}"
    return WORKING, ", ".join(f"{r.question.name} answered {', '.join(r.answers)}" for r in listed)


def _in_loopback_net(text: str) -> bool:
    try:
        return ipaddress.ip_address(text) in ipaddress.ip_network("127.0.0.0/8")
    except ValueError:
        return False


def probe_test_points(
    zones: list,
    resolvers: list,
    timeout: float = DEFAULT_TIMEOUT,
    authority_port: int = 53,
    outbound_ips: list | None = None,
) -> list:
    """Every (list, resolver) pair, classified, and where one fails, who is at fault.

    `outbound_ips` are asked on every IP list through the first resolver in the same batch, so that
    `check_outbound_ips` needs no round of its own where that resolver works.
    """
    plans = []
    questions = []
    early = []  # (probe, ip, index) of the outbound questions asked beside the test points
    zone_of = {}  # index of a test-point question -> (zone, whether it is a listed point)
    for zone in zones:
        listed, not_listed = test_points(zone)
        for position, resolver in enumerate(resolvers):
            start = len(questions)
            server = resolver.address or None  # "": the system resolver (libc, without dnspython)
            for name in listed + not_listed:
                zone_of[len(questions)] = (zone, name in listed)
                questions.append(Question(name, "A", server, resolver.port))
            probe = ListProbe(zone, resolver)
            plans.append((probe, start, len(listed), len(not_listed)))
            if position == 0 and list_kind(zone) == "ip":
                for ip in outbound_ips or []:
                    early.append((probe, ip, len(questions)))
                    questions.append(Question(query_name(ip, zone, "ip"), "A", server, resolver.port))
    # Where a test point fails (or has no answer yet at the stall), the zone's NS joins the same
    # batch: finding the list's own name servers then costs no extra round of waiting, and a host
    # whose lists all answer asks nothing more.
    asked_ns: set = set()

    def follow_up(index: int, reply) -> list:  # type: ignore[no-untyped-def]
        if index not in zone_of:
            return []  # an outbound question: its list's test points decide
        zone, listed = zone_of[index]
        if zone in asked_ns or engine_name() != "dnspython" or not _suspect(reply, listed):
            return []
        asked_ns.add(zone)
        return [Question(zone, "NS", r.address or None, r.port) for r in resolvers]

    replies = resolve_many(questions, timeout, follow_up, stall=min(0.5, timeout / 3))
    ns_replies = replies[len(questions) :]
    replies = replies[: len(questions)]
    for probe, ip, index in early:
        probe.outbound_replies[ip] = replies[index]
    probes = []
    for probe, start, n_listed, n_not in plans:
        mine = replies[start : start + n_listed + n_not]
        probe.classification, probe.detail = classify(mine[:n_listed], mine[n_listed:])
        probe.queries = [reply.as_dict() for reply in mine]
        answered = [r.elapsed_ms for r in mine if not r.error]
        probe.slowest_ms = max(answered) if answered else 0.0
        probes.append(probe)
    failing = [p for p in probes if p.classification != WORKING]
    if failing:
        ask_authorities(failing, resolvers, timeout, authority_port, ns_replies)
        for probe in failing:
            probe.at_fault = _at_fault(probe, probes)
    return probes


def ask_authorities(
    probes: list, resolvers: list, timeout: float, authority_port: int = 53, ns_replies: list | None = None
) -> None:
    """The zones' name servers and their addresses, then both test points straight from them (no recursion).

    Error answers get their TXT read through the same resolver in the same batch as the addresses.
    """
    zones = sorted({p.zone for p in probes})
    ns_replies = list(ns_replies or [])
    # NS not asked yet (a failure the test-point batch did not see coming): one round for those.
    missing = sorted(set(zones) - {reply.question.name for reply in ns_replies})
    if missing and engine_name() == "dnspython":
        ns_replies += resolve_many(
            [Question(zone, "NS", r.address or None, r.port) for zone in missing for r in resolvers], timeout
        )
    names: dict = {}
    ns_rcodes: dict = {}
    for reply in ns_replies:
        zone = reply.question.name
        ns_rcodes.setdefault(zone, set()).add(reply.rcode if not reply.error else "error")
        if zone in zones and reply.answers and zone not in names:
            names[zone] = reply.answers
    questions = [
        Question(name, "A", r.address or None, r.port)
        for zone in zones
        for name in names.get(zone, [])
        for r in resolvers
    ]
    n_addresses = len(questions)
    refused = [p for p in probes if p.classification in REFUSALS]
    for probe in refused:
        listed, _unlisted = test_points(probe.zone)
        questions.append(Question(listed[0], "TXT", probe.resolver.address or None, probe.resolver.port))
    replies = resolve_many(questions, timeout) if questions else []
    addresses: dict = {}
    for reply in replies[:n_addresses]:
        for answer in reply.answers:
            addresses.setdefault(reply.question.name, answer)
    for probe, reply in zip(refused, replies[n_addresses:]):
        probe.explanation = " ".join(reply.answers)[:300]
        match = _EGRESS.search(probe.explanation)
        probe.egress = match.group(1) if match else ""
    truth_questions = []
    servers = {}
    for zone in zones:
        server = next((addresses[n] for n in names.get(zone, []) if n in addresses), None)
        servers[zone] = server
        if server is not None:
            listed, not_listed = test_points(zone)
            truth_questions += [Question(listed[0], "A", server, authority_port, recursion=False)]
            truth_questions += [Question(not_listed[0], "A", server, authority_port, recursion=False)]
    truth = {reply.question.name: reply for reply in resolve_many(truth_questions, timeout)} if truth_questions else {}
    for probe in probes:
        server = servers.get(probe.zone)
        if server is None:
            verdict = "unknown"
            if engine_name() != "dnspython":
                reason = "not asked: finding a zone's name servers needs dnspython"
            elif ns_rcodes.get(probe.zone) == {"NXDOMAIN"}:
                # Every resolver says the zone itself does not exist: the list is gone, not hidden.
                reason, verdict = "the zone does not exist (NXDOMAIN for its NS through every resolver)", "dead"
            else:
                reason = "the zone's name servers could not be found through any resolver on the path"
            probe.authoritative = {"server": None, "reason": reason, "verdict": verdict}
            continue
        listed, not_listed = test_points(probe.zone)
        reply, unlisted = truth.get(listed[0]), truth.get(not_listed[0])
        probe.authoritative = {
            "server": server,
            "query": listed[0],
            "answers": reply.answers if reply else [],
            "rcode": reply.rcode if reply else "",
            "error": reply.error if reply else "not asked",
            "verdict": _verdict(reply, unlisted),
        }


def _suspect(reply, listed: bool) -> bool:  # type: ignore[no-untyped-def]
    """Whether a test-point reply (None: none yet) may make its pair fail: then its zone's NS is wanted."""
    if reply is None or reply.error:
        return True
    if reply.rcode != "NOERROR":
        return listed or reply.rcode != "NXDOMAIN"  # NXDOMAIN is the unlisted point's right answer
    if listed and not reply.answers:
        return True  # NODATA for a point that is always listed
    return any(a in ERROR_CLASSES or not _in_loopback_net(a) for a in reply.answers) or (
        not listed and bool(reply.answers)
    )


def _verdict(listed, unlisted) -> str:  # type: ignore[no-untyped-def]
    """What the list's own name servers say of it: alive, dead, lists_the_world, silent, or unknown."""
    if listed is None:
        return "unknown"
    if listed.error == "timeout" or listed.error.startswith("unreachable") or listed.rcode in ("SERVFAIL", "REFUSED"):
        return "silent"  # its own name server does not answer for it either
    if listed.error or listed.rcode not in ("NOERROR", "NXDOMAIN"):
        return "unknown"
    if unlisted is not None and not unlisted.error and unlisted.rcode == "NOERROR" and unlisted.answers:
        # 127.0.0.1 listed, or any address at all: a lapsed domain parked on a wildcard answers
        # its parking server's address for every name (SpamCannibal, MegaRBL, ...).
        return "lists_the_world"
    listings = [a for a in listed.answers if _in_loopback_net(a) and a not in ERROR_CLASSES]
    return "alive" if listings else "dead"


def _at_fault(probe: ListProbe, probes: list) -> str:
    """Who is to blame for a failing pair: the resolver, the list, or "" when it cannot be told."""
    verdict = probe.authoritative.get("verdict", "unknown")
    if probe.classification == HIJACKED and verdict == "lists_the_world":
        return "list"  # the list's own name servers answer outside 127/8 too: a parked domain
    if probe.classification in (MALFORMED, HIJACKED, BLOCKED, RATE_LIMITED):
        return "resolver"
    entry = dnsbl_catalog.lookup(probe.zone)
    if entry is not None and entry.status == "retired" and verdict != "alive":
        return "list"  # closed: whatever the resolver does, the list is the fault to fix
    elsewhere = [p for p in probes if p.zone == probe.zone and p is not probe and p.classification == WORKING]
    if probe.classification == WRONG_LIST:
        return "list"  # the name is wrong for every resolver: the configuration is at fault
    if probe.classification == LISTS_THE_WORLD:
        return "resolver" if verdict == "alive" or elsewhere else "list"
    if verdict == "alive" or elsewhere:
        return "resolver"
    if probe.classification == UNREACHABLE and _answers_nothing(probe, probes):
        return "resolver"  # it answers no list at all
    if verdict in ("dead", "lists_the_world", "silent"):
        return "list"
    if probe.classification in (DEAD, UNREACHABLE) and entry is not None:
        # The catalog knows the list as active: a resolver problem until its name servers say otherwise.
        return "resolver"
    return ""


def _answers_nothing(probe: ListProbe, probes: list) -> bool:
    """Whether the pair's resolver failed for every list (dead resolver), not for this one only."""
    return all(p.classification in (UNREACHABLE, MALFORMED) for p in probes if p.resolver == probe.resolver)


def check_outbound_ips(
    zones: list, ips: list, probes: list, timeout: float = DEFAULT_TIMEOUT, authority_port: int = 53
) -> list:
    """Each outbound IP on each list, through a resolver that works for that list (or its authority)."""
    questions = []
    plans = []
    for zone in zones:
        if list_kind(zone) != "ip":
            continue
        mine = [p for p in probes if p.zone == zone]
        working = next((p.resolver for p in mine if p.classification == WORKING), None)
        authority = next((p.authoritative for p in mine if p.authoritative.get("server")), None)
        if working is not None:
            path, port, recursion = working.address, working.port, True
        elif authority is not None and authority.get("verdict") == "alive":
            # No resolver on the path works for this list: ask its name server, as the failing pairs did.
            path, port, recursion = authority["server"], authority_port, False
        else:
            path, port, recursion = None, authority_port, False
        asked = next((p.outbound_replies for p in mine if p.resolver == working), {}) if working else {}
        for ip in ips:
            if path is None:
                plans.append((zone, ip, None, None, _no_path_reason(mine)))
            elif ip in asked:
                plans.append((zone, ip, path, asked[ip], ""))  # asked beside the test points already
            else:
                plans.append((zone, ip, path, len(questions), ""))
                questions.append(Question(query_name(ip, zone, "ip"), "A", path, port, recursion=recursion))
    replies = resolve_many(questions, timeout) if questions else []
    results = []
    for zone, ip, path, index, reason in plans:
        entry = dnsbl_catalog.lookup(zone)
        result = {
            "zone": dnsbl_catalog.mask_dqs_key(zone),
            "ip": ip,
            "resolver": path,
            "listed": False,
            "codes": [],
            "errors": [],
            "lookup_url": (entry.lookup_url.format(query=ip) if entry else ""),
        }
        if index is None:
            result["status"] = "unknown"
            result["reason"] = reason
        else:
            reply = index if isinstance(index, Reply) else replies[index]
            result["status"] = "unknown" if reply.error else "ok"
            result["reason"] = dnsbl_catalog.mask_secrets(reply.error)
            for answer in reply.answers:
                meaning = _meaning(entry, answer)
                if answer in ERROR_CLASSES or (entry and answer in entry.errors):
                    result["errors"].append({"answer": answer, "meaning": meaning})
                else:
                    result["codes"].append({"answer": answer, "meaning": meaning})
            result["listed"] = bool(result["codes"])
        results.append(result)
    return results


def _no_path_reason(mine: list) -> str:
    """Why an outbound address could not be looked up on a list: what was tried, never more."""
    authority = next((p.authoritative for p in mine if p.authoritative), {})
    if not authority:
        return "no resolver on the path works for this list"
    if authority.get("server") is None:
        return "no resolver on the path works for this list; " + authority.get("reason", "")
    return (
        f"no resolver on the path works for this list, and its name server {authority['server']} "
        f"does not list the test point ({authority.get('verdict', 'unknown')})"
    )


def _meaning(entry, answer: str) -> str:  # type: ignore[no-untyped-def]
    if entry is None:
        return "listed (code not in the catalog)" if answer not in ERROR_CLASSES else "error answer"
    for table in (entry.codes, entry.errors, entry.advisory_codes, dnsbl_catalog.SPAMHAUS_ERRORS):
        for code, meaning in table.items():
            if code == answer or ("[" in code and dnsbl_catalog.filter_matches(code, answer)):
                return meaning
    return "listed (code not in the catalog)"


# -- findings ---------------------------------------------------------------------------------------


def _evidence(probe: ListProbe) -> dict:
    address_class, provider = classify_address(probe.resolver.address) if probe.resolver.address else ("", None)
    evidence = {
        "zone": probe.shown,
        "resolver": probe.resolver.address,
        "resolver_source": probe.resolver.source,
        "classification": probe.classification,
        "detail": dnsbl_catalog.mask_secrets(probe.detail),
    }
    if address_class == PUBLIC_KNOWN:
        evidence["provider"] = provider
    if probe.at_fault:
        evidence["at_fault"] = probe.at_fault
    if probe.authoritative:
        evidence["authoritative"] = _masked(probe.authoritative)
    return evidence


def _list_finding(probe: ListProbe, probes: list) -> Finding | None:
    """The finding of one failing pair, named for whoever is at fault."""
    evidence = _evidence(probe)
    entry = dnsbl_catalog.lookup(probe.zone)
    working = sorted({p.resolver.address for p in probes if p.zone == probe.zone and p.classification == WORKING})
    if working:
        evidence["works_through"] = working
    if probe.classification == MALFORMED:
        return Finding("RESOLVER_ANSWER_MALFORMED", evidence)
    if probe.classification in (BLOCKED, RATE_LIMITED):
        if probe.explanation:
            evidence["explanation"] = dnsbl_catalog.mask_secrets(probe.explanation)
        if probe.egress:
            evidence["egress_resolver"] = probe.egress
            egress_class, egress_provider = classify_address(probe.egress)
            if egress_class == PUBLIC_KNOWN:
                evidence["egress_provider"] = egress_provider
            if probe.egress != probe.resolver.address:
                evidence["egress_note"] = (
                    f"Spamhaus was reached by {probe.egress}, not by {probe.resolver.address}: "
                    "the resolver the host names forwards to it"
                )
        return Finding("DNSBL_RESOLVER_REFUSED", evidence)
    if probe.classification == WRONG_LIST:
        if probe.explanation:
            evidence["explanation"] = dnsbl_catalog.mask_secrets(probe.explanation)
        corrected = dnsbl_catalog.dqs_correction(probe.zone)
        if corrected:
            evidence["did_you_mean"] = corrected
            evidence["hint"] = "Spamhaus DQS zones end in .dq.spamhaus.net"
        return Finding("DNSBL_WRONG_LIST", evidence)
    if probe.classification == HIJACKED and probe.at_fault == "resolver":
        return Finding("DNSBL_ANSWER_HIJACKED", evidence)
    if probe.at_fault == "resolver" and probe.classification == LISTS_THE_WORLD:
        # The list's name servers do not list 127.0.0.1: the resolver invents the listing.
        return Finding("DNSBL_ANSWER_HIJACKED", dict(evidence, note="the resolver answers a listing for every name"))
    if probe.at_fault == "resolver" and probe.classification in (DEAD, UNREACHABLE):
        if probe.classification == UNREACHABLE and _answers_nothing(probe, probes):
            # The resolver answers no list at all: not a fact about this list, and not a hidden list.
            return Finding("DNSBL_UNREACHABLE", dict(evidence, note="this resolver answers none of the host's lists"))
        if entry is not None:
            evidence["catalog_status"] = entry.status
        return Finding("DNSBL_HIDDEN_BY_RESOLVER", evidence)
    if entry is not None and entry.status == "retired":
        evidence = dict(evidence, history=entry.history, lists_the_world=entry.lists_the_world)
        if probe.classification in (LISTS_THE_WORLD, HIJACKED):
            return Finding("DNSBL_LISTS_THE_WORLD", evidence)  # seen live: every sender is rejected now
        return Finding("DNSBL_RETIRED", evidence)  # dead, or not answering: it is closed, say so
    if probe.classification == UNREACHABLE and probe.at_fault == "list":
        evidence["note"] = "the list's own name server does not answer either"
    kind = {
        DEAD: "DNSBL_DEAD",
        LISTS_THE_WORLD: "DNSBL_LISTS_THE_WORLD",
        HIJACKED: "DNSBL_LISTS_THE_WORLD",  # the list's own name servers answer outside 127/8 too
        UNREACHABLE: "DNSBL_UNREACHABLE",
    }
    return Finding(kind[probe.classification], evidence) if probe.classification in kind else None


def slow_findings(probes: list) -> list:
    """Answers slower than SLOW_MS: a slow resolver (slow for every list) or a slow list (slow alone)."""
    findings = []
    resolvers = []
    for probe in probes:
        if probe.resolver not in resolvers:
            resolvers.append(probe.resolver)
    slow_resolvers = set()
    for resolver in resolvers:
        answered = [p for p in probes if p.resolver == resolver and p.slowest_ms > 0]
        slow = [p for p in answered if p.slowest_ms > SLOW_MS]
        if slow and len(slow) == len(answered) and (len(answered) > 1 or len(probes) == 1):
            slow_resolvers.add(resolver)
            findings.append(
                Finding(
                    "DNSBL_RESOLVER_SLOW",
                    {
                        "resolver": resolver.address,
                        "resolver_source": resolver.source,
                        "slowest_ms": round(max(p.slowest_ms for p in slow), 1),
                        "lists": [p.shown for p in slow],
                        "threshold_ms": SLOW_MS,
                    },
                )
            )
    for probe in probes:
        if probe.slowest_ms > SLOW_MS and probe.resolver not in slow_resolvers:
            findings.append(
                Finding(
                    "DNSBL_LIST_SLOW",
                    {
                        "zone": probe.shown,
                        "resolver": probe.resolver.address,
                        "resolver_source": probe.resolver.source,
                        "slowest_ms": round(probe.slowest_ms, 1),
                        "threshold_ms": SLOW_MS,
                    },
                )
            )
    return findings


def judge_probes(probes: list, outbound: list) -> list:
    findings = []
    seen = set()
    for probe in probes:
        if probe.classification == WORKING:
            continue
        finding = _list_finding(probe, probes)
        if finding is None:
            continue
        if finding.id in ("DNSBL_RETIRED", "DNSBL_DEAD", "DNSBL_LISTS_THE_WORLD", "DNSBL_WRONG_LIST"):
            # A fact about the list, the same through every resolver: said once.
            key = (finding.id, probe.zone)
            if key in seen:
                continue
            seen.add(key)
        findings.append(finding)
    findings += slow_findings(probes)
    for result in outbound:
        if result["listed"]:
            findings.append(
                Finding("OUTBOUND_IP_LISTED", {k: result[k] for k in ("zone", "ip", "codes", "lookup_url", "resolver")})
            )
    return findings


def main(argv: list | None = None) -> int:
    """Command line: the same probe as the module, timed as a whole process by the benchmarks.

    A table for people by default; `--json` for the one-line JSON that programs (bench/) read.
    Exit 1 when there are findings, 0 when there are none.
    """
    parser = argparse.ArgumentParser(description="Probe DNSBL test points through resolvers (maildns.audit).")
    parser.add_argument("--zone", action="append", required=True, help="DNSBL zone (repeatable)")
    parser.add_argument(
        "--resolver", action="append", required=True, help="resolver address, ADDRESS[#PORT] (repeatable)"
    )
    parser.add_argument("--ip", action="append", default=[], help="outbound IP to check on every list")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT)
    parser.add_argument("--json", action="store_true", help="one line of JSON instead of the table")
    args = parser.parse_args(argv)
    started = time.monotonic()
    resolvers = []
    for text in args.resolver:
        address, _sep, port = text.partition("#")
        if port and not port.isdigit():
            parser.error(f"bad resolver {text!r}: ADDRESS or ADDRESS#PORT")
        resolvers.append(ResolverTarget(address, "command line", int(port) if port else 53))
    probes = probe_test_points(args.zone, resolvers, args.timeout, outbound_ips=args.ip)
    outbound = check_outbound_ips(args.zone, args.ip, probes, args.timeout) if args.ip else []
    findings = judge_probes(probes, outbound)
    result = {
        "engine": engine_name(),
        "elapsed_s": round(time.monotonic() - started, 3),
        "probes": [p.as_dict() for p in probes],
        "outbound": outbound,
        "findings": [f.as_dict() for f in findings],
    }
    if args.json:
        # One line, through json's C encoder (an indent makes it the pure-Python one: 30 ms at 60 lists).
        sys.stdout.write(json.dumps(result) + "\n")
    else:
        sys.stdout.write(render_table(result))
    return 1 if findings else 0


def render_table(result: dict) -> str:
    """The probe's result for people: one row per (list, resolver), the host's listings, the findings."""
    rows = [("list", "resolver", "classification", "at fault", "answer", "time")]
    for probe in result["probes"]:
        first = next((q for q in probe["queries"] if q["answers"] or q["error"] or q["rcode"]), None)
        if first is None:
            answer = "-"
        elif first["error"]:
            answer = first["error"]
        else:
            answer = ", ".join(first["answers"]) or first["rcode"]
        resolver = probe["resolver"] or "system"
        rows.append(
            (
                probe["zone"],
                resolver,
                probe["classification"],
                probe["at_fault"] or "-",
                answer[:60],
                f"{probe['slowest_ms']:.0f} ms" if probe["slowest_ms"] else "-",
            )
        )
    lines = _table(rows)
    if result["outbound"]:
        lines.append("")
        rows = [("address", "list", "status", "listed", "answer")]
        for item in result["outbound"]:
            answers = [c["answer"] for c in item["codes"]] + [e["answer"] + " (error)" for e in item["errors"]]
            rows.append(
                (
                    item["ip"],
                    item["zone"],
                    item["status"] + (f": {item['reason']}" if item.get("reason") else ""),
                    "yes" if item["listed"] else "no",
                    ", ".join(answers) or "-",
                )
            )
        lines += _table(rows)
    lines.append("")
    if result["findings"]:
        lines.append(f"findings ({len(result['findings'])}):")
        for finding in result["findings"]:
            evidence = finding["evidence"]
            where = " ".join(str(evidence[k]) for k in ("zone", "resolver", "ip") if evidence.get(k))
            lines.append(f"  {finding['severity']:<8} {finding['id']}: {where}: {finding['title']}")
    else:
        lines.append("findings: none")
    lines.append(f"engine {result['engine']}, {result['elapsed_s']:.3f} s")
    return "\n".join(lines) + "\n"


def _table(rows: list) -> list:
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    text = ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    return [text[0], "  ".join("-" * width for width in widths), *text[1:]]


if __name__ == "__main__":
    # raised, not sys.exit(): module_utils must not call sys.exit (ansible-test's pylint), and this
    # branch runs only from the command line, never inside a module
    raise SystemExit(main())
