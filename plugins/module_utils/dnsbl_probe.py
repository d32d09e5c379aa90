# Copyright: maildns.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Live DNSBL health through each resolver on the host's path, and the host's own listings.

Private to the collection. Runs on managed hosts: Python 3.8 syntax.

`probe_test_points` asks every list's RFC 5782 test points (listed and not listed) through every
resolver on the path at once and classifies each (list, resolver) pair; where a resolver is
refused it asks the list's own authoritative servers directly and reports the true answer beside
the error; `check_outbound_ips` asks every list about the host's outbound addresses through a path
that works, and never reports an error code as a listing.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import sys
import time
from dataclasses import dataclass, field

from ansible_collections.maildns.audit.plugins.module_utils import dnsbl_catalog
from ansible_collections.maildns.audit.plugins.module_utils.dns_engine import Question, engine_name, resolve_many
from ansible_collections.maildns.audit.plugins.module_utils.findings import Finding

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
FINDING_OF = {
    BLOCKED: "DNSBL_RESOLVER_REFUSED",
    RATE_LIMITED: "DNSBL_RESOLVER_REFUSED",
    WRONG_LIST: "DNSBL_WRONG_LIST",
    DEAD: "DNSBL_DEAD",
    LISTS_THE_WORLD: "DNSBL_LISTS_THE_WORLD",
    HIJACKED: "DNSBL_ANSWER_HIJACKED",
    UNREACHABLE: "DNSBL_UNREACHABLE",
    MALFORMED: "DNSBL_UNREACHABLE",
}


@dataclass(frozen=True)
class ResolverTarget:
    """One resolver on the host's path, and where the host names it."""

    address: str
    source: str  # "/etc/resolv.conf line 2", "Postfix chroot copy", "SpamAssassin dns_server"
    port: int = 53


@dataclass
class ListProbe:
    zone: str  # as queried (a DQS zone carries its key: never returned, see `shown`)
    resolver: ResolverTarget
    classification: str = ""
    detail: str = ""
    queries: list = field(default_factory=list)
    authoritative: dict = field(default_factory=dict)

    @property
    def shown(self) -> str:
        return dnsbl_catalog.mask_dqs_key(self.zone)

    def as_dict(self) -> dict:
        return {
            "zone": self.shown,
            "resolver": self.resolver.address,
            "resolver_source": self.resolver.source,
            "classification": self.classification,
            "detail": dnsbl_catalog.mask_secrets(self.detail),
            "queries": [_masked(query) for query in self.queries],
            "authoritative": self.authoritative,
        }


def _masked(query: dict) -> dict:
    return {
        k: (
            dnsbl_catalog.mask_secrets(v)
            if isinstance(v, str)
            else [dnsbl_catalog.mask_secrets(x) for x in v]
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
    for reply in listed:
        if reply.error.startswith("malformed"):
            return MALFORMED, f"{reply.question.name}: {reply.error}"
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


def probe_test_points(zones: list, resolvers: list, timeout: float = 3.0, authority_port: int = 53) -> list:
    """Every (list, resolver) pair, classified; refused pairs get the authoritative answer beside."""
    plans = []
    questions = []
    for zone in zones:
        listed, not_listed = test_points(zone)
        for resolver in resolvers:
            start = len(questions)
            server = resolver.address or None  # "": the system resolver (libc, without dnspython)
            questions += [Question(name, "A", server, resolver.port) for name in listed + not_listed]
            plans.append((ListProbe(zone, resolver), start, len(listed), len(not_listed)))
    replies = resolve_many(questions, timeout)
    probes = []
    for probe, start, n_listed, n_not in plans:
        mine = replies[start : start + n_listed + n_not]
        probe.classification, probe.detail = classify(mine[:n_listed], mine[n_listed:])
        probe.queries = [reply.as_dict() for reply in mine]
        probes.append(probe)
    refused = [p for p in probes if p.classification in (BLOCKED, RATE_LIMITED, WRONG_LIST)]
    if refused:
        ask_authorities(refused, resolvers, timeout, authority_port)
    return probes


def ask_authorities(probes: list, resolvers: list, timeout: float, authority_port: int = 53) -> None:
    """NS of each zone, their addresses, then the listed test point straight from them (no recursion)."""
    zones = sorted({p.zone for p in probes})
    ns_replies = resolve_many(
        [Question(zone, "NS", r.address or None, r.port) for zone in zones for r in resolvers], timeout
    )
    names: dict = {}
    for reply in ns_replies:
        if reply.answers and reply.question.name not in names:
            names[reply.question.name] = reply.answers
    address_questions = [
        Question(name, "A", r.address or None, r.port)
        for zone in zones
        for name in names.get(zone, [])
        for r in resolvers
    ]
    addresses: dict = {}
    for reply in resolve_many(address_questions, timeout):
        for answer in reply.answers:
            addresses.setdefault(reply.question.name, answer)
    truth_questions = []
    servers = {}
    for zone in zones:
        server = next((addresses[n] for n in names.get(zone, []) if n in addresses), None)
        servers[zone] = server
        if server is not None:
            listed, _unlisted = test_points(zone)
            truth_questions.append(Question(listed[0], "A", server, authority_port, recursion=False))
    truth = {reply.question.name: reply for reply in resolve_many(truth_questions, timeout)}
    for probe in probes:
        server = servers.get(probe.zone)
        if server is None:
            probe.authoritative = {"server": None, "reason": "the zone's name servers could not be found"}
            continue
        listed, _unlisted = test_points(probe.zone)
        reply = truth.get(listed[0])
        probe.authoritative = {
            "server": server,
            "query": dnsbl_catalog.mask_secrets(listed[0]),
            "answers": reply.answers if reply else [],
            "rcode": reply.rcode if reply else "",
            "error": reply.error if reply else "not asked",
        }


def check_outbound_ips(zones: list, ips: list, probes: list, timeout: float = 3.0, authority_port: int = 53) -> list:
    """Each outbound IP on each list, through a resolver that works for that list (or its authority)."""
    questions = []
    plans = []
    for zone in zones:
        if list_kind(zone) != "ip":
            continue
        working = next((p.resolver for p in probes if p.zone == zone and p.classification == WORKING), None)
        path, port, recursion = (working.address, working.port, True) if working else (None, authority_port, False)
        if path is None:
            # No resolver works for this list: ask its authoritative server, as the refused pairs did.
            path = next(
                (p.authoritative.get("server") for p in probes if p.zone == zone and p.authoritative.get("server")),
                None,
            )
        for ip in ips:
            if path is None:
                plans.append((zone, ip, None, None))
                continue
            plans.append((zone, ip, path, len(questions)))
            questions.append(Question(query_name(ip, zone, "ip"), "A", path, port, recursion=recursion))
    replies = resolve_many(questions, timeout)
    results = []
    for zone, ip, path, index in plans:
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
            result["reason"] = "no resolver on the path works for this list, and its name servers were not found"
        else:
            reply = replies[index]
            result["status"] = "unknown" if reply.error else "ok"
            result["reason"] = reply.error
            for answer in reply.answers:
                meaning = _meaning(entry, answer)
                if answer in ERROR_CLASSES or (entry and answer in entry.errors):
                    result["errors"].append({"answer": answer, "meaning": meaning})
                else:
                    result["codes"].append({"answer": answer, "meaning": meaning})
            result["listed"] = bool(result["codes"])
        results.append(result)
    return results


def _meaning(entry, answer: str) -> str:  # type: ignore[no-untyped-def]
    if entry is None:
        return "listed (code not in the catalog)" if answer not in ERROR_CLASSES else "error answer"
    for table in (entry.codes, entry.errors, entry.advisory_codes, dnsbl_catalog.SPAMHAUS_ERRORS):
        for code, meaning in table.items():
            if code == answer or ("[" in code and dnsbl_catalog.filter_matches(code, answer)):
                return meaning
    return "listed (code not in the catalog)"


def judge_probes(probes: list, outbound: list) -> list:
    findings = []
    for probe in probes:
        kind = FINDING_OF.get(probe.classification)
        if kind is None:
            continue
        evidence = {
            "zone": probe.shown,
            "resolver": probe.resolver.address,
            "resolver_source": probe.resolver.source,
            "classification": probe.classification,
            "detail": dnsbl_catalog.mask_secrets(probe.detail),
        }
        if probe.authoritative:
            evidence["authoritative"] = probe.authoritative
        findings.append(Finding(kind, evidence))
    for result in outbound:
        if result["listed"]:
            findings.append(
                Finding("OUTBOUND_IP_LISTED", {k: result[k] for k in ("zone", "ip", "codes", "lookup_url", "resolver")})
            )
    return findings


def main(argv: list | None = None) -> int:
    """Command line: the same probe as the module, timed as a whole process by the benchmarks."""
    parser = argparse.ArgumentParser(description="Probe DNSBL test points through resolvers (maildns.audit).")
    parser.add_argument("--zone", action="append", required=True, help="DNSBL zone (repeatable)")
    parser.add_argument("--resolver", action="append", required=True, help="resolver address (repeatable)")
    parser.add_argument("--ip", action="append", default=[], help="outbound IP to check on every list")
    parser.add_argument("--timeout", type=float, default=3.0)
    args = parser.parse_args(argv)
    started = time.monotonic()
    resolvers = [ResolverTarget(address, "command line") for address in args.resolver]
    probes = probe_test_points(args.zone, resolvers, args.timeout)
    outbound = check_outbound_ips(args.zone, args.ip, probes, args.timeout) if args.ip else []
    findings = judge_probes(probes, outbound)
    json.dump(
        {
            "engine": engine_name(),
            "elapsed_s": round(time.monotonic() - started, 3),
            "probes": [p.as_dict() for p in probes],
            "outbound": outbound,
            "findings": [f.as_dict() for f in findings],
        },
        sys.stdout,
        indent=1,
    )
    sys.stdout.write("\n")
    return 1 if findings else 0


if __name__ == "__main__":
    # raised, not sys.exit(): module_utils must not call sys.exit (ansible-test's pylint), and this
    # branch runs only from the command line, never inside a module
    raise SystemExit(main())
