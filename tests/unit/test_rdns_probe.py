"""Outbound identity checks against answers on the wire (loopback fixture), and the generic-name rules."""

from __future__ import annotations

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
