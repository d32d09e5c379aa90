"""Each DNS fixture personality answers on the wire as specified (loopback, no root needed)."""

from __future__ import annotations

import socket
import time

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import pytest

from tests.lab.dns_fixture import (
    NXDOMAIN_REWRITE_ADDRESS,
    FixtureResolver,
    FixtureServer,
    ThreadedFixture,
)
from tests.lab.zone_data import build_zone_data

DATA = build_zone_data(
    [{"zone": "zen.spamhaus.org", "kind": "ip"}, {"zone": "bl.spamcop.net", "kind": "ip"}],
    [". NS ns.lab.test.", "ns.lab.test. A 127.0.0.1", "big.lab.test. TXT " + " ".join(['"' + "x" * 200 + '"'] * 5)],
)
LISTED, NOT_LISTED = "2.0.0.127.zen.spamhaus.org", "1.0.0.127.zen.spamhaus.org"


def serve(personality: str, delay: float = 0.0) -> ThreadedFixture:
    resolver = FixtureResolver(personality, DATA, own_address="127.0.0.1")
    return ThreadedFixture(FixtureServer(resolver, "127.0.0.1", 0, delay))


def ask(fixture: ThreadedFixture, name: str, rdtype: str = "A", tcp: bool = False) -> dns.message.Message:
    address, port = fixture.address
    query = dns.message.make_query(name, rdtype)
    send = dns.query.tcp if tcp else dns.query.udp
    return send(query, address, port=port, timeout=2)


def answers(response: dns.message.Message) -> list[str]:
    return sorted(rdata.to_text() for rrset in response.answer for rdata in rrset)


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
@pytest.mark.parametrize(
    ("personality", "name", "rcode", "expected"),
    [
        ("authority", LISTED, "NOERROR", ["127.0.0.2"]),
        ("authority", NOT_LISTED, "NXDOMAIN", []),
        ("resolver", LISTED, "NOERROR", ["127.0.0.2"]),
        ("resolver", NOT_LISTED, "NXDOMAIN", []),
        ("public", LISTED, "NOERROR", ["127.255.255.254"]),
        ("public", NOT_LISTED, "NOERROR", ["127.255.255.254"]),
        ("public", "2.0.0.127.bl.spamcop.net", "NOERROR", ["127.0.0.2"]),
        ("ratelimited", NOT_LISTED, "NOERROR", ["127.255.255.255"]),
        ("ratelimited", "1.0.0.127.bl.spamcop.net", "NXDOMAIN", []),
        ("servfail", LISTED, "SERVFAIL", []),
        ("refused", LISTED, "REFUSED", []),
        ("nxrewrite", NOT_LISTED, "NOERROR", [NXDOMAIN_REWRITE_ADDRESS]),
        ("nxrewrite", LISTED, "NOERROR", ["127.0.0.2"]),
        ("listsworld", NOT_LISTED, "NOERROR", ["127.0.0.2"]),
        ("listsworld", "1.0.0.127.any.list.example", "NOERROR", ["127.0.0.2"]),
    ],
)
def test_personality_answers(personality: str, name: str, rcode: str, expected: list[str], tcp: bool) -> None:
    with serve(personality) as fixture:
        response = ask(fixture, name, tcp=tcp)
    assert dns.rcode.to_text(response.rcode()) == rcode
    assert answers(response) == expected


def test_authority_is_authoritative_and_answers_root_ns_with_glue() -> None:
    with serve("authority") as fixture:
        response = ask(fixture, ".", "NS")
    assert response.flags & dns.flags.AA
    assert not response.flags & dns.flags.RA
    assert answers(response) == ["ns.lab.test."]
    assert [rdata.to_text() for rrset in response.additional for rdata in rrset] == ["127.0.0.1"]


def test_resolvers_say_recursion_available_and_are_not_authoritative() -> None:
    with serve("resolver") as fixture:
        response = ask(fixture, LISTED)
    assert response.flags & dns.flags.RA
    assert not response.flags & dns.flags.AA


def test_open_resolver_error_carries_spamhaus_txt_explanation() -> None:
    with serve("public") as fixture:
        response = ask(fixture, NOT_LISTED, "TXT")
    assert "Error: open resolver" in answers(response)[0]


def test_blackhole_never_answers() -> None:
    with serve("blackhole") as fixture, pytest.raises(dns.exception.Timeout):
        address, port = fixture.address
        dns.query.udp(dns.message.make_query(LISTED, "A"), address, port=port, timeout=0.3)


@pytest.mark.parametrize("personality", ["garbage", "truncated"])
def test_broken_answers_do_not_parse(personality: str) -> None:
    with serve(personality) as fixture, pytest.raises(dns.exception.DNSException) as raised:
        ask(fixture, LISTED)
    assert not isinstance(raised.value, dns.exception.Timeout)


def test_oversized_udp_answer_is_truncated_and_whole_over_tcp() -> None:
    with serve("resolver") as fixture:
        udp = ask(fixture, "big.lab.test", "TXT")
        tcp = ask(fixture, "big.lab.test", "TXT", tcp=True)
    assert udp.flags & dns.flags.TC and not udp.answer
    assert len(tcp.answer[0][0].strings) == 5


def test_malformed_query_gets_formerr_with_its_id() -> None:
    with serve("resolver") as fixture, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2)
        sock.sendto(b"\x12\x34" + b"\x01\x00\x00\x01" + b"\xff" * 10, fixture.address)
        reply = sock.recv(512)
    assert reply[:2] == b"\x12\x34"
    assert reply[3] & 0x0F == dns.rcode.FORMERR


def test_delay_holds_every_answer_back() -> None:
    with serve("resolver", delay=0.2) as fixture:
        started = time.monotonic()
        ask(fixture, LISTED)
        elapsed = time.monotonic() - started
    assert elapsed >= 0.2  # a lower bound: the delay happened, however slow the machine


def test_unknown_personality_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="one of authority"):
        FixtureResolver("friendly", DATA)


def test_silent_zones_never_answer_while_others_do() -> None:
    resolver = FixtureResolver("resolver", DATA, silent_zones=["bl.spamcop.net"])
    with ThreadedFixture(FixtureServer(resolver, "127.0.0.1", 0)) as fixture:
        assert answers(ask(fixture, LISTED)) == ["127.0.0.2"]
        address, port = fixture.address
        with pytest.raises(dns.exception.Timeout):
            dns.query.udp(dns.message.make_query("2.0.0.127.bl.spamcop.net", "A"), address, port=port, timeout=0.3)
