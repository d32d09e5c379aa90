"""Each DNS fixture personality answers on the wire as specified (loopback, no root needed)."""

from __future__ import annotations

import socket
import time

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from tests.lab.dns_fixture import (
    BROKEN_BEHAVIOURS,
    BROKEN_BY_ZONE,
    NXDOMAIN_REWRITE_ADDRESS,
    FixtureResolver,
    FixtureServer,
    ThreadedFixture,
    parse_slow_zones,
)
from tests.lab.scenario import lab_zone_data, load_base
from tests.lab.zone_data import build_zone_data

DATA = build_zone_data(
    [
        {"zone": "zen.spamhaus.org", "kind": "ip"},
        {"zone": "bl.spamcop.net", "kind": "ip"},
        {"zone": "psbl.surriel.com", "kind": "ip"},
        {"zone": "bl.mailspike.net", "kind": "ip"},
        {"zone": "zrd.spamhaus.org", "kind": "domain"},
        {"zone": "list.dnswl.org", "kind": "ip"},
        {"zone": "dbl.spamhaus.org", "kind": "domain"},
        {"zone": "labtestkey0123456789.zen.dq.spamhaus.net", "kind": "ip"},
    ],
    [
        ". NS ns.lab.test.",
        "ns.lab.test. A 127.0.0.1",
        "big.lab.test. TXT " + " ".join(['"' + "x" * 200 + '"'] * 5),
        "mail.mx07.lab.test. A 10.231.1.7",
        "7.1.231.10.in-addr.arpa. PTR mail.mx07.lab.test.",
    ],
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


# -- hidelists: Google Public DNS-like ------------------------------------------------------------


@pytest.mark.parametrize("rdtype", ["A", "TXT", "AAAA"])
@pytest.mark.parametrize("name", [LISTED, NOT_LISTED, "test.dbl.spamhaus.org"])
def test_hidelists_answers_nxdomain_with_the_zone_soa_for_every_spamhaus_name(name: str, rdtype: str) -> None:
    with serve("hidelists") as fixture:
        response = ask(fixture, name, rdtype)
    assert dns.rcode.to_text(response.rcode()) == "NXDOMAIN"
    assert response.answer == []
    assert response.flags & dns.flags.RA
    (soa,) = response.authority
    assert soa.rdtype == dns.rdatatype.SOA
    assert name.endswith(soa.name.to_text().rstrip("."))  # the list's own zone, as a resolver relays it


@pytest.mark.parametrize(
    ("name", "rcode", "expected"),
    [
        ("2.0.0.127.bl.spamcop.net", "NOERROR", ["127.0.0.2"]),
        ("1.0.0.127.bl.spamcop.net", "NXDOMAIN", []),
        ("2.0.0.127.labtestkey0123456789.zen.dq.spamhaus.net", "NOERROR", ["127.0.0.2"]),
        ("mail.mx07.lab.test", "NOERROR", ["10.231.1.7"]),
    ],
)
def test_hidelists_answers_everything_else_honestly(name: str, rcode: str, expected: list[str]) -> None:
    with serve("hidelists") as fixture:
        response = ask(fixture, name)
    assert dns.rcode.to_text(response.rcode()) == rcode
    assert answers(response) == expected


# -- the egress address in Spamhaus' error TXT ----------------------------------------------------


@pytest.mark.parametrize(("personality", "path"), [("public", "/returnc/pub/"), ("ratelimited", "/returnc/vol/")])
def test_error_txt_names_the_fixture_itself_by_default(personality: str, path: str) -> None:
    resolver = FixtureResolver(personality, DATA, own_address="10.244.53.54")
    response = dns.message.from_wire(resolver.respond(dns.message.make_query(NOT_LISTED, "TXT").to_wire()))
    assert f"{path}10.244.53.54/" in answers(response)[0]


@pytest.mark.parametrize(("personality", "code"), [("public", "127.255.255.254"), ("ratelimited", "127.255.255.255")])
def test_a_forwarder_names_its_egress_not_itself(personality: str, code: str) -> None:
    resolver = FixtureResolver(personality, DATA, own_address="127.0.0.1", egress_address="10.244.53.199")
    with ThreadedFixture(FixtureServer(resolver, "127.0.0.1", 0)) as fixture:
        txt = answers(ask(fixture, LISTED, "TXT"))
        a = answers(ask(fixture, LISTED))
    assert a == [code]
    assert len(txt) == 1
    assert "https://check.spamhaus.org/returnc/" in txt[0] and "/10.244.53.199/" in txt[0]
    assert "127.0.0.1" not in txt[0]


# -- broken: a broken middlebox ---------------------------------------------------------------------


def raw(fixture: ThreadedFixture, query: dns.message.Message) -> bytes:
    """The reply bytes as they came: the point is what a client makes of them."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2)
        sock.sendto(query.to_wire(), fixture.address)
        return sock.recv(4096)


@pytest.fixture(scope="module")
def broken():
    with serve("broken") as fixture:
        yield fixture


def test_broken_zen_answers_another_question_under_the_query_id(broken) -> None:
    query = dns.message.make_query(LISTED, "A")
    reply = dns.message.from_wire(raw(broken, query))
    assert reply.id == query.id
    assert [(q.name.to_text(), dns.rdatatype.to_text(q.rdtype)) for q in reply.question] == [("evil.example.", "A")]
    assert [rrset.to_text() for rrset in reply.answer] == ["evil.example. 300 IN A 127.0.0.2"]
    with pytest.raises(dns.query.BadResponse):
        ask(broken, LISTED)  # dnspython sees that the reply is not for its question


def test_broken_spamcop_answers_a_cname_to_itself(broken) -> None:
    name = "2.0.0.127.bl.spamcop.net."
    response = ask(broken, name)
    assert [rrset.to_text() for rrset in response.answer] == [f"{name} 300 IN CNAME {name}"]


@pytest.mark.parametrize(("asked", "got"), [("A", "TXT"), ("TXT", "A"), ("AAAA", "A")])
def test_broken_psbl_answers_only_another_type(broken, asked: str, got: str) -> None:
    response = ask(broken, "2.0.0.127.psbl.surriel.com", asked)
    assert [dns.rdatatype.to_text(rrset.rdtype) for rrset in response.answer] == [got]
    assert dns.rcode.to_text(response.rcode()) == "NOERROR"


def test_broken_ptr_of_a_host_address_answers_an_a_record(broken) -> None:
    response = ask(broken, "7.1.231.10.in-addr.arpa", "PTR")
    assert [rrset.to_text() for rrset in response.answer] == ["7.1.231.10.in-addr.arpa. 300 IN A 127.0.0.2"]


def test_broken_mailspike_answers_noise_behind_the_query_id(broken) -> None:
    query = dns.message.make_query("2.0.0.127.bl.mailspike.net", "A")
    reply = raw(broken, query)
    assert reply[:2] == query.to_wire()[:2]
    with pytest.raises(dns.exception.DNSException):
        dns.message.from_wire(reply)


def test_broken_zrd_echoes_the_query(broken) -> None:
    query = dns.message.make_query("test.zrd.spamhaus.org", "A")
    reply = raw(broken, query)
    assert reply == query.to_wire()
    assert not dns.message.from_wire(reply).flags & dns.flags.QR


def test_broken_dnswl_answers_a_record_of_another_owner(broken) -> None:
    response = ask(broken, "2.0.0.127.list.dnswl.org")
    assert response.question[0].name.to_text() == "2.0.0.127.list.dnswl.org."
    assert [rrset.to_text() for rrset in response.answer] == ["evil.example. 300 IN A 127.0.0.2"]


def test_broken_dbl_answers_honestly_under_another_id(broken) -> None:
    query = dns.message.make_query("test.dbl.spamhaus.org", "A")
    reply = dns.message.from_wire(raw(broken, query))
    assert reply.id != query.id
    assert answers(reply) == ["127.0.1.2"]
    assert reply.question == query.question


def test_broken_is_deterministic_and_knows_every_name() -> None:
    resolver = FixtureResolver("broken", DATA)
    query = dns.message.make_query("mail.mx07.lab.test", "A").to_wire()
    assert resolver.respond(query) == resolver.respond(query)
    chosen = {resolver.broken_behaviour(dns.name.from_text(f"host{n}.lab.test"), 1) for n in range(60)}
    assert chosen == set(BROKEN_BEHAVIOURS)  # names outside the table still meet every behaviour
    assert set(BROKEN_BY_ZONE.values()) == set(BROKEN_BEHAVIOURS)


# -- slow answers -------------------------------------------------------------------------------------


def test_slow_zone_delays_only_names_below_it() -> None:
    resolver = FixtureResolver("resolver", DATA, slow_zones={"bl.spamcop.net": 0.3})
    assert resolver.delay_for(dns.message.make_query("2.0.0.127.bl.spamcop.net", "A").to_wire()) == 0.3
    assert resolver.delay_for(dns.message.make_query(LISTED, "A").to_wire()) == 0.0
    assert resolver.delay_for(b"\x00") == 0.0
    with ThreadedFixture(FixtureServer(resolver, "127.0.0.1", 0)) as fixture:
        started = time.monotonic()
        slow = ask(fixture, "2.0.0.127.bl.spamcop.net")
        elapsed = time.monotonic() - started
        assert answers(ask(fixture, LISTED)) == ["127.0.0.2"]
    assert answers(slow) == ["127.0.0.2"]  # slow, and honest
    assert elapsed >= 0.3


def test_slow_zone_option_takes_zone_equals_milliseconds() -> None:
    assert parse_slow_zones(["uce.example=1500", "x.example=0"]) == {"uce.example": 1.5, "x.example": 0.0}
    for bad in ("uce.example", "=100", "uce.example=soon"):
        with pytest.raises(ValueError, match="ZONE=MS"):
            parse_slow_zones([bad])


# -- the lab's own data: DQS typo ---------------------------------------------------------------------


@pytest.mark.parametrize("personality", ["authority", "resolver", "public", "hidelists"])
@pytest.mark.parametrize("key", ["labtestkey0123456789", "anyotherkey42"])
def test_a_dqs_name_under_org_answers_wrong_list_for_any_key(personality: str, key: str) -> None:
    data = lab_zone_data(load_base(), [], "127.0.0.1")
    resolver = FixtureResolver(personality, data)
    name = f"2.0.0.127.{key}.zen.dq.spamhaus.org"
    a = dns.message.from_wire(resolver.respond(dns.message.make_query(name, "A").to_wire()))
    txt = dns.message.from_wire(resolver.respond(dns.message.make_query(name, "TXT").to_wire()))
    assert answers(a) == ["127.255.255.252"]
    assert answers(txt) == ['"Error: wrong list / typo"']
