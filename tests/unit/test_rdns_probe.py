"""Outbound identity checks against answers on the wire (loopback fixture), and the generic-name rules."""

from __future__ import annotations

from dataclasses import dataclass, field

import dns.message
import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest

from ansible_collections.maildns.audit.plugins.module_utils.rdns_probe import looks_generic, probe_identity
from tests.lab.dns_fixture import FixtureResolver, FixtureServer, ThreadedFixture
from tests.lab.zone_data import build_zone_data

RECORDS = [
    # good: FCrDNS, HELO name = PTR name
    "25.2.0.192.in-addr.arpa. PTR mail.good.example.",
    "mail.good.example. A 192.0.2.25",
    "good.example. MX 10 mail.good.example.",
    # two PTRs, the second one generic
    "26.2.0.192.in-addr.arpa. PTR mail.two.example.",
    "26.2.0.192.in-addr.arpa. PTR 192-0-2-26.pool.isp.example.",
    "mail.two.example. A 192.0.2.26",
    # PTR without forward record
    "27.2.0.192.in-addr.arpa. PTR orphan.example.",
    # MX trouble
    "literal.example. MX 10 192.0.2.25.",
    "alias.example. MX 10 mx-alias.alias.example.",
    "mx-alias.alias.example. CNAME mail.good.example.",
    "dangling.example. MX 10 nowhere.dangling.example.",
    "nomx.example. A 192.0.2.99",
]


@pytest.fixture(scope="module")
def resolver():
    server = FixtureServer(FixtureResolver("resolver", build_zone_data([], RECORDS)), "127.0.0.1", 0)
    with ThreadedFixture(server) as fixture:
        yield fixture.address


def ids(report) -> list[str]:
    return sorted({finding.id for finding in report.findings})


def run(resolver, ips, helo="mail.good.example", domains=()):
    address, port = resolver
    return probe_identity(list(ips), helo, list(domains), [address], 1.0, port)


def test_a_good_identity_gives_nothing(resolver) -> None:
    report = run(resolver, ["192.0.2.25"], domains=["good.example"])
    assert ids(report) == []
    assert report.addresses == [
        {"ip": "192.0.2.25", "ptr": ["mail.good.example"], "forward": {"mail.good.example": ["192.0.2.25"]}}
    ]


@pytest.mark.parametrize(
    ("ips", "helo", "domains", "expected"),
    [
        (["192.0.2.24"], "mail.good.example", [], ["HELO_NAME_DOES_NOT_RESOLVE", "PTR_MISSING"]),
        (["192.0.2.26"], "mail.two.example", [], ["PTR_LOOKS_GENERIC", "PTR_MULTIPLE"]),
        (["192.0.2.27"], "orphan.example", [], ["HELO_NAME_DOES_NOT_RESOLVE", "PTR_NOT_FORWARD_CONFIRMED"]),
        (["192.0.2.25"], "localhost.localdomain", [], ["HELO_NAME_DOES_NOT_RESOLVE", "HELO_NOT_PTR_NAME"]),
        ([], "", ["literal.example"], ["MX_IS_IP_LITERAL"]),
        ([], "", ["alias.example"], ["MX_IS_CNAME"]),
        ([], "", ["dangling.example"], ["MX_TARGET_DOES_NOT_RESOLVE"]),
        ([], "", ["nomx.example"], ["MX_MISSING"]),
        ([], "", ["nxdomain.example"], ["MX_MISSING"]),
    ],
)
def test_each_identity_problem_is_found(resolver, ips, helo, domains, expected) -> None:
    assert ids(run(resolver, ips, helo, domains)) == expected


def test_a_failing_nameserver_makes_checks_unknown_not_passed() -> None:
    report = probe_identity(["192.0.2.25"], "mail.good.example", ["good.example"], ["127.0.0.1"], 0.3, port=9)
    assert report.findings == []
    assert {check.status for check in report.checks} == {"unknown"}


@pytest.mark.parametrize(
    ("name", "address", "generic"),
    [
        ("dsl.static851056487.ttnet.net.tr", "85.105.64.87", True),
        ("85-105-64-87.dyn.example.net", "85.105.64.87", True),
        ("87.64.105.85.in-addr.example.net", "85.105.64.87", True),
        ("pool-71-170-1-2.dllstx.fios.verizon.net", "71.170.1.2", True),
        ("c-73-1-2-3.hsd1.ca.comcast.net", "73.1.2.3", True),
        ("mail.example.org", "192.0.2.25", False),
        ("mx1.mailhost.example.net", "192.0.2.1", False),
        ("smtp-out.example.com", "2001:db8::25", False),
    ],
)
def test_generic_names(name: str, address: str, generic: bool) -> None:
    assert bool(looks_generic(name, address)) is generic


# --- a resolver that answers some lookups wrongly: its fault, never a missing record (issue 15) ---


def _wrong_question(query: dns.message.Message) -> bytes:
    response = dns.message.make_response(query)
    response.question = [
        dns.rrset.RRset(dns.name.from_text("evil.example."), dns.rdataclass.IN, query.question[0].rdtype)
    ]
    return response.to_wire()


def _only_txt(query: dns.message.Message) -> bytes:
    response = dns.message.make_response(query)
    response.answer.append(dns.rrset.from_text(query.question[0].name, 300, "IN", "TXT", '"not a PTR"'))
    return response.to_wire()


def _cname_loop(query: dns.message.Message) -> bytes:
    response = dns.message.make_response(query)
    name = query.question[0].name
    response.answer.append(dns.rrset.from_text(name, 300, "IN", "CNAME", name.to_text()))
    return response.to_wire()


@dataclass
class BrokenResolver(FixtureResolver):
    """The honest fixture resolver, except for the (name, type) lookups it answers wrongly."""

    breaks: dict = field(default_factory=dict)

    def respond(self, wire: bytes) -> bytes | None:
        query = dns.message.from_wire(wire)
        question = query.question[0]
        key = (question.name.to_text().rstrip("."), dns.rdatatype.to_text(question.rdtype))
        if key in self.breaks:
            return self.breaks[key](query)
        return super().respond(wire)


@pytest.fixture(scope="module")
def broken():
    breaks = {
        ("25.2.0.192.in-addr.arpa", "PTR"): _only_txt,
        ("orphan.example", "A"): _cname_loop,
        ("good.example", "MX"): _wrong_question,
    }
    resolver = BrokenResolver("resolver", build_zone_data([], RECORDS), breaks=breaks)
    with ThreadedFixture(FixtureServer(resolver, "127.0.0.1", 0)) as fixture:
        yield fixture.address


def malformed_findings(report) -> list[dict]:
    return [f.evidence for f in report.findings if f.id == "RESOLVER_ANSWER_MALFORMED"]


def test_a_malformed_ptr_answer_is_the_resolvers_fault_not_a_missing_ptr(broken) -> None:
    address, port = broken
    report = probe_identity(["192.0.2.25"], "mail.good.example", [], [address], 0.5, port)
    assert ids(report) == ["RESOLVER_ANSWER_MALFORMED"]  # not PTR_MISSING, not HELO_NOT_PTR_NAME
    [evidence] = malformed_findings(report)
    assert evidence == {
        "resolver": "127.0.0.1",
        "port": port,
        "query": {"name": "25.2.0.192.in-addr.arpa", "type": "PTR"},
        "detail": "malformed: only TXT records in the answer to a PTR question",
        "lookup": "PTR of 192.0.2.25",
    }
    assert [c.as_dict() for c in report.checks if c.status == "unknown"] == [
        {
            "name": "PTR 25.2.0.192.in-addr.arpa",
            "status": "unknown",
            "reason": "malformed: only TXT records in the answer to a PTR question",
        }
    ]


def test_a_malformed_forward_answer_is_not_a_failed_confirmation(broken) -> None:
    address, port = broken
    report = probe_identity(["192.0.2.27"], "", [], [address], 0.5, port)
    assert ids(report) == ["RESOLVER_ANSWER_MALFORMED"]  # not PTR_NOT_FORWARD_CONFIRMED
    [evidence] = malformed_findings(report)
    assert evidence["lookup"] == "A of orphan.example (the PTR name of 192.0.2.27)"
    assert evidence["detail"] == "malformed: CNAME loop (orphan.example. -> orphan.example.)"


def test_an_mx_reply_to_another_question_is_not_a_missing_mx(broken) -> None:
    address, port = broken
    report = probe_identity([], "", ["good.example"], [address], 0.3, port)
    assert ids(report) == ["RESOLVER_ANSWER_MALFORMED"]
    [evidence] = malformed_findings(report)
    assert evidence["detail"] == "malformed: the reply answers another question (evil.example. MX)"
    assert evidence["lookup"] == "MX of good.example"


def test_the_next_nameserver_answers_and_the_broken_one_is_still_named(broken) -> None:
    bad_address, port = broken
    # The probe asks one port of every nameserver: the good one listens on another address, same port.
    good = FixtureServer(FixtureResolver("resolver", build_zone_data([], RECORDS)), "127.0.0.2", port)
    with ThreadedFixture(good):
        servers = [bad_address, "127.0.0.2"]
        report = probe_identity(["192.0.2.25"], "mail.good.example", ["good.example"], servers, 0.5, port)
    assert ids(report) == ["RESOLVER_ANSWER_MALFORMED"]
    assert {e["lookup"] for e in malformed_findings(report)} == {"PTR of 192.0.2.25", "MX of good.example"}
    assert {e["resolver"] for e in malformed_findings(report)} == {"127.0.0.1"}
    assert report.addresses == [
        {"ip": "192.0.2.25", "ptr": ["mail.good.example"], "forward": {"mail.good.example": ["192.0.2.25"]}}
    ]
