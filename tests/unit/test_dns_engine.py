"""The DNS engine reads answers as a careful resolver does (RFC 5452 matching, CNAME chains).

Hand-made wire messages: served from a tiny UDP/TCP server on 127.0.0.1 (port 0) so that the real
engine reads them off the wire, and given straight to the pure `parse_reply`. A hypothesis
property test feeds it generated messages. The load test counts the engine's sockets.
"""

from __future__ import annotations

import os
import random
import select
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.maildns.audit.plugins.module_utils import dns_engine
from ansible_collections.maildns.audit.plugins.module_utils.dns_engine import Question, parse_reply, resolve_many
from ansible_collections.maildns.audit.plugins.module_utils.dnsbl_probe import (
    LISTS_THE_WORLD,
    ResolverTarget,
    probe_test_points,
)
from tests.lab.dns_fixture import spawn_fixture
from tests.lab.zone_data import build_zone_data

REPO = Path(__file__).resolve().parents[2]
POSITIVE = "2.0.0.127.zen.spamhaus.org"
NEGATIVE = "1.0.0.127.zen.spamhaus.org"
GARBAGE = bytes(range(7, 53))  # 46 bytes; with an ID in front they still are no DNS message


# --- building messages ---------------------------------------------------------------------------


def rr(owner: str, rdtype: str, *rdatas: str, rdclass: str = "IN") -> dns.rrset.RRset:
    return dns.rrset.from_text(dns.name.from_text(owner), 300, rdclass, rdtype, *rdatas)


def reply_to(
    query: dns.message.Message,
    *answer: dns.rrset.RRset,
    rcode: int = dns.rcode.NOERROR,
    question: tuple[str, str] | None = None,
    flags: int = 0,
) -> bytes:
    """The wire of a reply to `query` (or to `question`, when given) with these answer records."""
    response = dns.message.make_response(query)
    response.flags |= dns.flags.RA | flags
    response.set_rcode(rcode)
    if question is not None:
        response.question = [
            dns.rrset.RRset(dns.name.from_text(question[0]), dns.rdataclass.IN, dns.rdatatype.from_text(question[1]))
        ]
    response.answer.extend(answer)
    return response.to_wire()


def with_id(query: dns.message.Message, payload: bytes) -> bytes:
    return struct.pack("!H", query.id) + payload


def parsed(name: str, rdtype: str, build: Callable[[dns.message.Message], bytes]):
    """parse_reply of what `build` makes of a query for (name, rdtype)."""
    query = dns.message.make_query(name, rdtype)
    return parse_reply(Question(name, rdtype, "127.0.0.1"), build(query), query.id)


# --- a tiny server that sends whatever a test says -----------------------------------------------


Send = bytes | tuple  # wire, ("sleep", seconds), ("from another port", wire)


class WireServer:
    """UDP (and TCP) on 127.0.0.1, port 0: each query gets what `udp(query)` / `tcp(query)` return."""

    def __init__(
        self,
        udp: Callable[[dns.message.Message], list[Send]],
        tcp: Callable[[dns.message.Message], list[Send]] | None = None,
    ) -> None:
        self.udp_respond, self.tcp_respond = udp, tcp
        self.other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.other.bind(("127.0.0.1", 0))
        for _attempt in range(50):
            self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.udp.bind(("127.0.0.1", 0))
            self.port = self.udp.getsockname()[1]
            self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                self.tcp.bind(("127.0.0.1", self.port))
                break
            except OSError:
                self.udp.close()
                self.tcp.close()
        self.tcp.listen(16)
        self.queries: list[dns.message.Message] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> WireServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        for sock in (self.udp, self.tcp, self.other):
            sock.close()

    def question(self, name: str, rdtype: str) -> Question:
        return Question(name, rdtype, "127.0.0.1", self.port)

    def _serve(self) -> None:
        while not self._stop.is_set():
            ready, _w, _x = select.select([self.udp, self.tcp], [], [], 0.02)
            if self.udp in ready:
                wire, client = self.udp.recvfrom(65535)
                query = dns.message.from_wire(wire)
                self.queries.append(query)
                for item in self.udp_respond(query):
                    self._send(item, lambda data, to=client: self.udp.sendto(data, to), client)
            if self.tcp in ready:
                connection, _client = self.tcp.accept()
                with connection:
                    self._serve_tcp(connection)

    def _serve_tcp(self, connection: socket.socket) -> None:
        connection.settimeout(5)
        (length,) = struct.unpack("!H", _read_exactly(connection, 2))
        query = dns.message.from_wire(_read_exactly(connection, length))
        self.queries.append(query)
        assert self.tcp_respond is not None
        for item in self.tcp_respond(query):
            self._send(item, lambda data: connection.sendall(struct.pack("!H", len(data)) + data), None)

    def _send(self, item: Send, send: Callable[[bytes], object], client) -> None:
        if isinstance(item, bytes):
            send(item)
        elif item[0] == "sleep":
            time.sleep(item[1])
        elif item[0] == "from another port":
            self.other.sendto(item[1], client)


def _read_exactly(connection: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = connection.recv(count - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def ask_one(server: WireServer, name: str, rdtype: str = "A", timeout: float = 0.5):
    [reply] = resolve_many([server.question(name, rdtype)], timeout)
    return reply


def dnsbl_pair(server: WireServer, timeout: float = 0.5):
    """The DNSBL probe's classification of zen through this server."""
    [result] = probe_test_points(["zen.spamhaus.org"], [ResolverTarget("127.0.0.1", "test", server.port)], timeout)
    return result


def honest(query: dns.message.Message) -> bytes:
    """What an honest resolver says for the zen test points (and NXDOMAIN for the rest)."""
    name = query.question[0].name.to_text().rstrip(".")
    if name == POSITIVE and query.question[0].rdtype == dns.rdatatype.A:
        return reply_to(query, rr(POSITIVE, "A", "127.0.0.2"))
    return reply_to(query, rcode=dns.rcode.NXDOMAIN)


# --- issue 15 item 1: an answer to another question is not the answer -----------------------------


def test_a_reply_to_another_question_is_malformed_not_a_listing() -> None:
    def evil(query):
        return [reply_to(query, rr("evil.example.", "A", "127.0.0.2"), question=("evil.example.", "A"))]

    with WireServer(evil) as server:
        reply = ask_one(server, NEGATIVE)
    assert reply.answers == []
    assert reply.error == "malformed: the reply answers another question (evil.example. A)"
    assert reply.rcode == ""


def test_the_dnsbl_probe_never_says_lists_the_world_from_another_questions_answer() -> None:
    def evil_for_the_negative_test_point(query):
        if query.question[0].name == dns.name.from_text(NEGATIVE):
            return [reply_to(query, rr("evil.example.", "A", "127.0.0.2"), question=("evil.example.", "A"))]
        return [honest(query)]

    with WireServer(evil_for_the_negative_test_point) as server:
        result = dnsbl_pair(server)
    assert result.classification != LISTS_THE_WORLD, result.detail
    [negative] = [q for q in result.queries if q["name"] == NEGATIVE]
    assert negative["answers"] == [] and negative["error"].startswith("malformed: the reply answers another question")


def test_the_right_reply_after_a_wrong_one_is_taken() -> None:
    def wrong_then_right(query):
        wrong = reply_to(query, rr("evil.example.", "A", "127.0.0.2"), question=("evil.example.", "A"))
        return [wrong, ("sleep", 0.05), honest(query)]

    with WireServer(wrong_then_right) as server:
        reply = ask_one(server, NEGATIVE, timeout=2.0)
    assert (reply.error, reply.rcode, reply.answers) == ("", "NXDOMAIN", [])


def test_a_reply_from_another_port_is_not_taken() -> None:
    with WireServer(lambda query: [("from another port", honest(query))]) as server:
        reply = ask_one(server, POSITIVE)
    assert reply.answers == [] and reply.error == "timeout"


def test_records_of_other_names_in_the_answer_are_not_answers() -> None:
    def extra(query):
        return [reply_to(query, rr("evil.example.", "A", "127.0.0.2"))]  # right question, wrong owner

    with WireServer(extra) as server:
        reply = ask_one(server, NEGATIVE)
    assert reply.answers == []
    assert reply.error == "malformed: the answer holds only records of other names (evil.example. A)"


def test_off_chain_records_beside_the_answer_are_dropped() -> None:
    def mixed(query):
        return [reply_to(query, rr(POSITIVE, "A", "127.0.0.2"), rr("evil.example.", "A", "127.0.0.4"))]

    with WireServer(mixed) as server:
        reply = ask_one(server, POSITIVE)
    assert (reply.error, reply.answers) == ("", ["127.0.0.2"])


# --- issue 15 item 2: a broken answer is the resolver's fault, said as such ------------------------


@pytest.mark.parametrize(
    ("build", "error"),
    [
        (
            lambda query: reply_to(query, rr(POSITIVE, "CNAME", POSITIVE + ".")),
            f"malformed: CNAME loop ({POSITIVE}. -> {POSITIVE}.)",
        ),
        (
            lambda query: reply_to(query, rr(POSITIVE, "TXT", '"listed"')),
            "malformed: only TXT records in the answer to an A question",
        ),
        (
            lambda query: reply_to(query, rr(POSITIVE, "AAAA", "::ffff:127.0.0.2")),
            "malformed: only AAAA records in the answer to an A question",
        ),
        (
            lambda query: with_id(query, GARBAGE),
            "malformed: 48 bytes that are not a DNS message",
        ),
        (
            lambda query: struct.pack("!H", (query.id + 1) % 65536) + GARBAGE,
            "malformed: no reply to this question; the server sent 48 bytes that are not a DNS message",
        ),
    ],
    ids=["cname-to-itself", "txt-only", "aaaa-only", "garbage-with-the-id", "garbage-without-the-id"],
)
def test_a_broken_answer_is_malformed_not_a_dead_list(build, error: str) -> None:
    with WireServer(lambda query: [build(query)]) as server:
        reply = ask_one(server, POSITIVE)
        result = dnsbl_pair(server)
    assert result.classification == "malformed", result.detail  # never "dead", never "unreachable"
    assert error in result.detail
    assert reply.answers == [] and reply.error.startswith(error), reply.error


def test_garbage_first_and_then_a_valid_reply_gives_the_valid_reply() -> None:
    def noise_then_answer(query):
        return [with_id(query, GARBAGE), ("sleep", 0.05), honest(query)]

    with WireServer(noise_then_answer) as server:
        reply = ask_one(server, POSITIVE, timeout=2.0)
    assert (reply.error, reply.answers) == ("", ["127.0.0.2"])


def test_a_cname_chain_is_followed_and_listed() -> None:
    def chain(query):
        return [
            reply_to(
                query,
                rr(POSITIVE, "CNAME", "b.example."),
                rr("b.example.", "CNAME", "c.example."),
                rr("c.example.", "A", "127.0.0.2"),
                rr("d.example.", "A", "127.0.0.9"),
            )
        ]

    with WireServer(chain) as server:
        reply = ask_one(server, POSITIVE)
    assert (reply.error, reply.answers, reply.cnames) == ("", ["127.0.0.2"], ["b.example.", "c.example."])


def test_nodata_is_an_empty_answer_not_malformed() -> None:
    with WireServer(lambda query: [reply_to(query)]) as server:
        reply = ask_one(server, POSITIVE)
    assert (reply.error, reply.rcode, reply.answers) == ("", "NOERROR", [])


def test_a_truncated_reply_is_asked_again_over_tcp_by_the_same_rules() -> None:
    def truncated(query):
        return [reply_to(query, flags=dns.flags.TC)]

    def tcp_good(query):
        return [reply_to(query, rr(POSITIVE, "A", "127.0.0.2"))]

    def tcp_wrong(query):
        return [reply_to(query, rr("evil.example.", "A", "127.0.0.2"), question=("evil.example.", "A"))]

    with WireServer(truncated, tcp_good) as server:
        good = ask_one(server, POSITIVE, timeout=2.0)
    with WireServer(truncated, tcp_wrong) as server:
        wrong = ask_one(server, POSITIVE, timeout=2.0)
    assert (good.error, good.answers) == ("", ["127.0.0.2"])
    assert wrong.answers == []
    assert wrong.error == "malformed: the reply answers another question (evil.example. A)"


def test_a_truncated_reply_to_another_question_is_not_retried() -> None:
    def truncated_wrong(query):
        return [reply_to(query, question=("evil.example.", "A"), flags=dns.flags.TC)]

    with WireServer(truncated_wrong, lambda query: [honest(query)]) as server:
        reply = ask_one(server, POSITIVE)
    assert reply.error == "malformed: the reply answers another question (evil.example. A)"
    assert len(server.queries) == 1  # no TCP query went out


# --- the parser, with hand-made messages ----------------------------------------------------------


def test_the_parser_reads_an_answer() -> None:
    reply = parsed(POSITIVE, "A", lambda q: reply_to(q, rr(POSITIVE, "A", "127.0.0.2", "127.0.0.10")))
    assert (reply.error, reply.rcode, reply.cnames) == ("", "NOERROR", [])
    assert sorted(reply.answers) == ["127.0.0.10", "127.0.0.2"]


def test_the_parser_matches_names_case_insensitively() -> None:
    reply = parsed(POSITIVE, "A", lambda q: reply_to(q, rr(POSITIVE.upper(), "A", "127.0.0.2")))
    assert reply.answers == ["127.0.0.2"]


CHAIN_OF_NINE = [rr(f"c{n}.example.", "CNAME", f"c{n + 1}.example.") for n in range(9)] + [
    rr("c9.example.", "A", "192.0.2.1")
]


@pytest.mark.parametrize(
    ("name", "rdtype", "build", "expected"),
    [
        ("a.example", "A", lambda q: reply_to(q, rcode=dns.rcode.NXDOMAIN), ("", "NXDOMAIN", [], [])),
        (
            "a.example",
            "A",
            lambda q: reply_to(q, rr("a.example.", "CNAME", "b.example."), rcode=dns.rcode.NXDOMAIN),
            ("", "NXDOMAIN", [], ["b.example."]),
        ),
        (
            "a.example",
            "A",
            lambda q: reply_to(q, rr("a.example.", "CNAME", "b.example.")),
            ("", "NOERROR", [], ["b.example."]),
        ),
        (
            "a.example",
            "A",
            lambda q: reply_to(q, rr("a.example.", "CNAME", "b.example."), rr("b.example.", "CNAME", "a.example.")),
            ("malformed: CNAME loop (a.example. -> b.example. -> a.example.)", "NOERROR", [], []),
        ),
        (
            "c0.example",
            "A",
            lambda q: reply_to(q, *CHAIN_OF_NINE),
            ("malformed: CNAME chain longer than 8 links (c0.example. -> c1.example. -> ", "NOERROR", [], []),
        ),
        (
            "c1.example",
            "A",
            lambda q: reply_to(q, *CHAIN_OF_NINE),
            ("", "NOERROR", ["192.0.2.1"], [f"c{n}.example." for n in range(2, 10)]),
        ),
        (
            "a.example",
            "A",
            lambda q: reply_to(q, rr("a.example.", "CNAME", "b.example."), rr("a.example.", "A", "192.0.2.1")),
            ("malformed: a.example. has both a CNAME and A records", "NOERROR", [], []),
        ),
        (
            "a.example",
            "A",
            lambda q: reply_to(q, rr("a.example.", "A", "192.0.2.1"), rcode=dns.rcode.NXDOMAIN),
            ("malformed: NXDOMAIN with A records for a.example.", "NXDOMAIN", [], []),
        ),
        (
            "a.example",
            "A",
            lambda q: reply_to(q, rr("a.example.", "TXT", '"x"', rdclass="CH")),
            ("malformed: only CH TXT records in the answer to an A question", "NOERROR", [], []),
        ),
        (
            "a.example",
            "A",
            lambda q: reply_to(q, rr("a.example.", "A", "192.0.2.1"), rcode=dns.rcode.SERVFAIL),
            ("", "SERVFAIL", [], []),
        ),
        (
            "7.2.0.192.in-addr.arpa",
            "PTR",
            lambda q: reply_to(q, rr("7.2.0.192.in-addr.arpa.", "TXT", '"mail.example."')),
            ("malformed: only TXT records in the answer to a PTR question", "NOERROR", [], []),
        ),
        (
            "7.2.0.192.in-addr.arpa",
            "PTR",
            lambda q: reply_to(q, rr("8.2.0.192.in-addr.arpa.", "PTR", "mail.example.")),
            (
                "malformed: the answer holds only records of other names (8.2.0.192.in-addr.arpa. PTR)",
                "NOERROR",
                [],
                [],
            ),
        ),
        (
            "example.org",
            "MX",
            lambda q: reply_to(q, rr("example.org.", "MX", "10 mx.example.org.")),
            ("", "NOERROR", ["10 mx.example.org."], []),
        ),
        (
            "alias.example",
            "CNAME",
            lambda q: reply_to(q, rr("alias.example.", "CNAME", "target.example.")),
            ("", "NOERROR", ["target.example."], []),
        ),
        (
            "big.example",
            "TXT",
            lambda q: reply_to(q, rr("big.example.", "TXT", '"Error: open resolver; " "https://x/"')),
            ("", "NOERROR", ["Error: open resolver; https://x/"], []),
        ),
        (
            "a.example",
            "A",
            lambda q: reply_to(q, question=("a.example.", "AAAA")),
            ("malformed: the reply answers another question (a.example. AAAA)", "", [], []),
        ),
    ],
    ids=[
        "nxdomain",
        "nxdomain-after-cname",
        "nodata-after-cname",
        "cname-loop-of-two",
        "chain-of-nine",
        "chain-of-eight",
        "cname-and-other-data",
        "nxdomain-with-answers",
        "another-class",
        "servfail-answers-ignored",
        "ptr-question-txt-answer",
        "ptr-of-another-address",
        "mx",
        "cname-question",
        "txt-strings-joined",
        "another-type-in-the-question",
    ],
)
def test_the_parser_on_hand_made_messages(name, rdtype, build, expected) -> None:
    reply = parsed(name, rdtype, build)
    error, rcode, answers, cnames = expected
    assert reply.error.startswith(error) and bool(reply.error) == bool(error), reply.error
    assert (reply.rcode, reply.answers, reply.cnames) == (rcode, answers, cnames)


@pytest.mark.parametrize(
    ("wire", "error"),
    [
        (b"", "malformed: 0 bytes that are not a DNS message"),
        (b"\x12", "malformed: 1 byte that are not a DNS message"),
        # a header that promises a question and ends there
        (struct.pack("!HHHHHH", 0x1234, 0x8180, 1, 0, 0, 0), "malformed: 12 bytes that are not a DNS message"),
        # a query (QR clear) echoing the question
        (None, "malformed: a query, not a reply (QR bit clear)"),
        # NOERROR without any question
        (struct.pack("!HHHHHH", 0x1234, 0x8180, 0, 0, 0, 0), "malformed: a NOERROR reply without a question section"),
    ],
    ids=["empty", "one-byte", "header-only", "a-query", "no-question"],
)
def test_the_parser_on_raw_bytes(wire: bytes | None, error: str) -> None:
    question = Question("a.example", "A", "127.0.0.1")
    if wire is None:
        query = dns.message.make_query("a.example", "A")
        query.id = 0x1234
        wire = query.to_wire()
    reply = parse_reply(question, wire, 0x1234)
    assert reply.error.startswith(error), reply.error
    assert reply.answers == [] and reply.rcode == ""


def test_the_parser_takes_an_error_reply_without_its_question() -> None:
    wire = struct.pack("!HHHHHH", 0x1234, 0x8182, 0, 0, 0, 0)  # SERVFAIL, no question
    reply = parse_reply(Question("a.example", "A", "127.0.0.1"), wire, 0x1234)
    assert (reply.error, reply.rcode) == ("", "SERVFAIL")


def test_the_parser_refuses_another_id() -> None:
    query = dns.message.make_query(POSITIVE, "A")
    wire = reply_to(query, rr(POSITIVE, "A", "127.0.0.2"))
    reply = parse_reply(Question(POSITIVE, "A", "127.0.0.1"), wire, (query.id + 1) % 65536)
    assert reply.answers == [] and reply.error.startswith("malformed: a message with another ID")


def test_a_reply_cut_inside_a_record_with_tc_is_truncated_not_garbage() -> None:
    query = dns.message.make_query(POSITIVE, "A")
    wire = bytearray(reply_to(query, rr(POSITIVE, "A", "127.0.0.2")))
    wire[2] |= 0x02  # TC
    reply = parse_reply(Question(POSITIVE, "A", "127.0.0.1"), bytes(wire[:-3]), query.id)
    assert reply.error.startswith("malformed: a truncated answer (TC)")


# --- property: never raises, never answers from off the chain -------------------------------------

QNAME = "q.example."
OWNERS = [QNAME, "c1.example.", "c2.example.", "c3.example.", "evil.example.", "sub.q.example.", "Q.EXAMPLE."]
TYPES = ["A", "AAAA", "TXT", "CNAME", "PTR", "MX", "NS", "DNAME", "RRSIG"]
RDATA = {
    "A": st.sampled_from(["127.0.0.2", "127.0.0.1", "127.255.255.254", "192.0.2.1"]),
    "AAAA": st.sampled_from(["::1", "2001:db8::1"]),
    "TXT": st.sampled_from(['"listed"', '"Error: open resolver"']),
    "CNAME": st.sampled_from(OWNERS),
    "DNAME": st.sampled_from(["example.", "evil.example."]),
    "PTR": st.sampled_from(["mail.example.", "evil.example."]),
    "MX": st.sampled_from(["10 mx.example.", "0 ."]),
    "NS": st.sampled_from(["ns.example."]),
    "RRSIG": st.just("A 8 2 300 20300101000000 20000101000000 1 example. AAAA"),
}


@st.composite
def records(draw) -> tuple[str, str, str, str]:
    rdtype = draw(st.sampled_from(TYPES))
    rdclass = draw(st.sampled_from(["IN", "IN", "IN", "CH"])) if rdtype == "TXT" else "IN"
    return draw(st.sampled_from(OWNERS)), rdclass, rdtype, draw(RDATA[rdtype])


@st.composite
def messages(draw) -> tuple[str, bytes, int]:
    """(question type, wire, query id) of a generated reply: any sections, flags, rcode, truncation."""
    qtype = draw(st.sampled_from(["A", "AAAA", "TXT", "PTR", "MX", "CNAME"]))
    query = dns.message.make_query(QNAME, qtype, id=draw(st.integers(0, 65535)))
    if draw(st.booleans()):
        return qtype, draw(st.binary(max_size=80)), query.id
    response = dns.message.make_response(query)
    response.id = draw(st.sampled_from([query.id, query.id, (query.id + 1) % 65536]))
    response.flags = draw(st.integers(0, 0xFFFF)) & 0xFFF0 | dns.flags.QR * draw(st.sampled_from([1, 1, 1, 0]))
    response.set_rcode(draw(st.sampled_from([0, 0, 0, 1, 2, 3, 3, 4, 5, 9, 16])))
    question = draw(st.sampled_from(["same", "same", "same", "other", "none", "two"]))
    if question == "other":
        response.question = [dns.rrset.RRset(dns.name.from_text(draw(st.sampled_from(OWNERS))), 1, draw(RDTYPES))]
    elif question == "none":
        response.question = []
    elif question == "two":
        response.question = [*response.question, dns.rrset.RRset(dns.name.from_text("evil.example."), 1, 1)]
    for section in (response.answer, response.authority, response.additional):
        for owner, rdclass, rdtype, rdata in draw(st.lists(records(), max_size=6)):
            rrset = response.find_rrset(
                section,
                dns.name.from_text(owner),
                dns.rdataclass.from_text(rdclass),
                dns.rdatatype.from_text(rdtype),
                create=True,
            )
            rrset.add(dns.rrset.from_text(owner, 300, rdclass, rdtype, rdata)[0])
    state = random.getstate()  # dnspython shuffles each RRset as it writes it: keep hypothesis's random as it was
    wire = response.to_wire()
    random.setstate(state)
    cut = draw(st.sampled_from([None, None, None, "cut", "flip"]))
    if cut == "cut":
        wire = wire[: draw(st.integers(0, len(wire)))]
    elif cut == "flip":
        at = draw(st.integers(0, len(wire) - 1))
        wire = wire[:at] + bytes([wire[at] ^ draw(st.integers(1, 255))]) + wire[at + 1 :]
    return qtype, wire, query.id


RDTYPES = st.sampled_from([dns.rdatatype.A, dns.rdatatype.AAAA, dns.rdatatype.TXT, dns.rdatatype.PTR])


def records_at(message: dns.message.Message, owner: dns.name.Name, rdtype: int) -> list:
    return [
        rdata
        for rrset in message.answer
        if rrset.name == owner and rrset.rdtype == rdtype and rrset.rdclass == dns.rdataclass.IN
        for rdata in rrset
    ]


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messages(), st.booleans())
def test_no_generated_message_raises_or_answers_from_off_the_chain(generated, check_id: bool) -> None:
    qtype, wire, query_id = generated
    question = Question(QNAME, qtype, "127.0.0.1")
    reply = parse_reply(question, wire, query_id if check_id else None)  # must not raise
    assert isinstance(reply.error, str) and isinstance(reply.answers, list)
    if reply.error:
        assert reply.answers == [] and reply.cnames == []
        return
    if not reply.answers and not reply.cnames:
        return
    # Whatever was answered must be on the chain, checked here independently of the engine.
    message = dns.message.from_wire(wire)
    assert message.question[0].name == dns.name.from_text(QNAME)
    assert dns.rdatatype.to_text(message.question[0].rdtype) == qtype
    assert reply.rcode in ("NOERROR", "NXDOMAIN")
    owner = dns.name.from_text(QNAME)
    for target in reply.cnames:
        links = records_at(message, owner, dns.rdatatype.CNAME)
        assert [link.target for link in links] == [dns.name.from_text(target)]
        owner = dns.name.from_text(target)
    assert len(reply.cnames) <= dns_engine.MAX_CNAME_CHAIN
    wanted = dns.rdatatype.from_text(qtype)
    texts = [dns_engine._rdata_text(rdata, wanted) for rdata in records_at(message, owner, wanted)]
    assert not reply.answers or reply.rcode == "NOERROR"
    for answer in reply.answers:
        assert answer in texts  # a listing, a "lists the world", a PTR: only from the chain's end


# --- item 6: a batch with garbage resolvers closes every socket it opens --------------------------


@pytest.fixture(scope="module")
def fixture_processes(tmp_path_factory) -> Iterator[dict]:
    """Four fixture servers as processes (their sockets are not ours): (address, port) -> personality."""
    zones = [{"zone": f"list{n:03d}.bench.test", "kind": "ip"} for n in range(100)]
    data = build_zone_data(zones, [". NS ns.lab.test.", "big.lab.test. TXT " + " ".join(['"' + "x" * 200 + '"'] * 5)])
    data_file = tmp_path_factory.mktemp("engine") / "dns.json"
    data_file.write_text(data.to_json())
    processes = {}
    try:
        for personality in ("resolver", "garbage", "truncated", "blackhole"):
            process, server = spawn_fixture(personality, data_file)
            processes[server] = (personality, process)
        yield {server: personality for server, (personality, _process) in processes.items()}
    finally:
        for _personality, process in processes.values():
            process.terminate()
            process.wait(timeout=10)


@contextmanager
def fd_sampler() -> Iterator[list[int]]:
    """Counts this process's open descriptors every millisecond while the block runs."""
    counts: list[int] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            counts.append(len(os.listdir("/proc/self/fd")))
            time.sleep(0.001)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield counts
    finally:
        stop.set()
        thread.join(timeout=10)


def test_a_large_batch_through_garbage_resolvers_closes_every_socket(fixture_processes) -> None:
    servers = list(fixture_processes)
    questions = [
        Question(f"{point}.0.0.127.list{n:03d}.bench.test", "A", address, port)
        for n in range(100)
        for (address, port) in servers
        for point in (2, 1)
    ]
    questions += [Question("big.lab.test", "TXT", address, port) for address, port in servers] * 10
    before = len(os.listdir("/proc/self/fd"))
    with fd_sampler() as counts:
        replies = resolve_many(questions, 1.0)
    after = len(os.listdir("/proc/self/fd"))
    assert after == before
    # the engine's own: UDP sockets, the TCP retries at once, the selector; +1 for the sampler's listdir
    bound = dns_engine.UDP_SOCKETS_PER_FAMILY + dns_engine.MAX_TCP_CONNECTIONS + 1 + 1
    assert max(counts) - before <= bound
    by_personality: dict = {}
    for question, reply in zip(questions, replies, strict=True):
        personality = fixture_processes[(question.server, question.port)]
        by_personality.setdefault(personality, set()).add(reply.error.split(" (")[0][:40])
    assert by_personality["resolver"] == {""}  # the honest one answers everything, TCP retries included
    assert by_personality["blackhole"] == {"timeout"}
    assert all(error.startswith("malformed: ") for error in by_personality["garbage"] | by_personality["truncated"])


@pytest.mark.parametrize(
    ("name", "rdtype", "recursion"),
    [
        ("2.0.0.127.zen.spamhaus.org", "A", True),
        ("zen.spamhaus.org.", "NS", True),
        ("Test.DBL.spamhaus.org", "TXT", False),
        ("7.2.0.192.in-addr.arpa", "PTR", True),
        ("example.org", "MX", True),
        ("xn--bcher-kva.example", "AAAA", True),
        ("bücher.example", "A", True),  # not ASCII: dnspython's IDNA encoding
        (".", "NS", True),
    ],
)
def test_queries_are_the_messages_dnspython_writes(name: str, rdtype: str, recursion: bool) -> None:
    import dns.flags
    import dns.message

    message = dns.message.make_query(name, rdtype)
    message.id = 4711
    if not recursion:
        message.flags &= ~dns.flags.RD
    assert dns_engine.query_wire(dns_engine.Question(name, rdtype, "127.0.0.1", recursion=recursion), 4711) == (
        message.to_wire()
    )


# --- follow-up questions in the same batch --------------------------------------------------------


def test_follow_up_questions_are_asked_only_where_a_reply_failed_and_join_the_batch() -> None:
    seen = []

    def follow_up(index: int, reply) -> list:
        seen.append((index, reply.rcode if reply else None))
        return (
            [Question("zen.spamhaus.org", "NS", "127.0.0.1", reply.question.port)] if reply.rcode == "NXDOMAIN" else []
        )

    with WireServer(lambda query: [honest(query)]) as server:
        questions = [server.question(POSITIVE, "A"), server.question("2.0.0.127.other.example", "A")]
        replies = resolve_many(questions, 0.5, follow_up)
        asked = [(q.question[0].name.to_text(), dns.rdatatype.to_text(q.question[0].rdtype)) for q in server.queries]
    assert sorted(seen) == [(0, "NOERROR"), (1, "NXDOMAIN")]
    assert [r.question.rdtype for r in replies] == ["A", "A", "NS"]  # the follow-up's reply comes last
    assert ("zen.spamhaus.org.", "NS") in asked and len(asked) == 3


def test_a_question_still_unanswered_at_the_stall_gets_its_follow_up_within_the_same_deadline() -> None:
    calls = []

    def silent_for_the_test_point(query: dns.message.Message) -> list:
        return [] if query.question[0].rdtype == dns.rdatatype.A else [honest(query)]

    def follow_up(index: int, reply) -> list:
        calls.append(reply)
        return [Question("zen.spamhaus.org", "NS", "127.0.0.1", server.port)]

    with WireServer(silent_for_the_test_point) as server:
        replies = resolve_many([server.question(POSITIVE, "A")], 0.6, follow_up, stall=0.1)
    assert calls == [None]  # asked for at the stall, with no reply yet; not again at the timeout
    assert replies[0].error == "timeout" and replies[1].rcode == "NXDOMAIN"  # the NS was answered meanwhile


def test_a_probe_whose_lists_all_answer_asks_no_name_server_questions() -> None:
    def spamcop(query: dns.message.Message) -> list:
        name = query.question[0].name.to_text()
        if name == "2.0.0.127.bl.spamcop.net.":
            return [reply_to(query, rr(name, "A", "127.0.0.2"))]
        return [reply_to(query, rcode=dns.rcode.NXDOMAIN)]

    with WireServer(spamcop) as server:
        [result] = probe_test_points(["bl.spamcop.net"], [ResolverTarget("127.0.0.1", "test", server.port)], 0.5)
        types = {dns.rdatatype.to_text(q.question[0].rdtype) for q in server.queries}
    assert result.classification == "working" and types == {"A"}


def test_outbound_addresses_are_asked_beside_the_test_points_and_not_again() -> None:
    from ansible_collections.maildns.audit.plugins.module_utils.dnsbl_probe import check_outbound_ips

    def spamcop(query: dns.message.Message) -> list:
        name = query.question[0].name.to_text()
        if name in ("2.0.0.127.bl.spamcop.net.", "7.2.0.192.bl.spamcop.net."):
            return [reply_to(query, rr(name, "A", "127.0.0.2"))]
        return [reply_to(query, rcode=dns.rcode.NXDOMAIN)]

    with WireServer(spamcop) as server:
        resolvers = [ResolverTarget("127.0.0.1", "test", server.port)]
        probes = probe_test_points(["bl.spamcop.net"], resolvers, 0.5, outbound_ips=["192.0.2.7"])
        [outbound] = check_outbound_ips(["bl.spamcop.net"], ["192.0.2.7"], probes, 0.5)
        asked = [q.question[0].name.to_text() for q in server.queries]
    assert outbound["listed"] is True and outbound["codes"][0]["answer"] == "127.0.0.2"
    assert sorted(asked) == ["1.0.0.127.bl.spamcop.net.", "2.0.0.127.bl.spamcop.net.", "7.2.0.192.bl.spamcop.net."]
