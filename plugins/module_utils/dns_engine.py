# Copyright: maildns.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Many DNS questions to chosen servers at once, each read as a careful resolver reads it.

Private to the collection. Runs on managed hosts: Python 3.8 syntax.

With dnspython every question goes to the server it names, all at once over a few UDP sockets
per address family (UDP_SOCKETS_PER_FAMILY source ports), at most MAX_IN_FLIGHT_PER_SERVER
queries that a server has not responded to at a time, so a batch ends by its timeout however
large it is (TC retries excepted, below). Without dnspython the system resolver (libc) answers
A/AAAA questions only, through whatever resolv.conf says: the result says so (`engine: libc`) and
per-server questions are marked as not possible.

How an answer is read (RFC 5452 section 9.1, RFC 1034 section 3.6.2):

- A reply is taken for a question only when it comes from the server and port the question went
  to, on the socket it left from, carries the query's ID, is a reply (QR) to a QUERY, and its
  question section is exactly that question (name, type, class IN). Anything else that arrives is
  not the answer: the engine notes what it was and keeps waiting for the right reply until the
  deadline. If none comes, the reply's error says what did come ("malformed: the reply answers
  another question (evil.example. A)", "malformed: 48 bytes that are not a DNS message"), never
  a plain "timeout": a server that sends garbage is not a silent one.
- In the answer section only records whose owner is the question name, or a name on its CNAME
  chain (followed inside the message, at most MAX_CNAME_CHAIN links), count; `Reply.cnames` lists
  the chain's targets in order. Other records are ignored. A loop, an over-long chain, two CNAMEs
  for one name, or a CNAME beside other data at one name make the reply malformed.
- NOERROR with an empty answer section (NODATA), or a chain that ends in a name without the type,
  is a normal empty answer. NOERROR whose answer section holds records but none of the wanted
  type on the chain (TXT or AAAA only to an A question, records of other names only) is
  malformed: that resolver answers something other than what was asked.
- A truncated (TC) reply to the right question is asked again over TCP, by the same rules, with
  its own timeout from the moment the truncated reply came (so a batch with TC answers may take
  up to twice the timeout).

`Reply.error` is "" for an answer (rcode in `Reply.rcode`, NXDOMAIN and NODATA included), or one
of: "timeout" / "timeout (TCP, after a truncated UDP answer)"; "unreachable: ..." (the send or the
TCP connection failed); "unsupported: ..." (the question cannot be asked this way); "malformed: "
followed by what came back. A malformed reply has no answers and no cnames; its rcode is the real
rcode when the reply did answer the question (a CNAME loop under NOERROR keeps "NOERROR"), and ""
when no reply to the question was readable at all (garbage, another question).

The engine never raises on anything a server sends; `parse_reply` is the pure reading of one
message, for tests and for anyone holding wire bytes.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import os
import random
import selectors
import socket
import struct
import time
from dataclasses import dataclass, field

try:
    import dns.exception
    import dns.flags
    import dns.message
    import dns.name
    import dns.opcode
    import dns.rcode
    import dns.rdataclass
    import dns.rdatatype

    HAS_DNSPYTHON = True
    DNSPYTHON_IMPORT_ERROR = None
except ImportError as _error:  # pragma: no cover - exercised on hosts without dnspython
    HAS_DNSPYTHON = False
    DNSPYTHON_IMPORT_ERROR = _error

MAX_CNAME_CHAIN = 8  # links followed inside one message; a ninth is "longer than 8"
UDP_SOCKETS_PER_FAMILY = 4  # source ports per batch and address family (RFC 5452 section 9.2)
MAX_TCP_CONNECTIONS = 16  # open at once for TC retries; the rest wait their turn
MAX_IN_FLIGHT_PER_SERVER = 100  # queries a server has not responded to yet; the rest wait their turn
MALFORMED = "malformed: "
_ERROR_RCODES = ("FORMERR", "SERVFAIL", "NOTIMP", "REFUSED")
_UNCOUNTED_TYPES = ("RRSIG", "NSEC", "NSEC3", "DNAME")  # never an answer, never a complaint
_RECEIVE_BUFFER = 1 << 20
_PACKETS_PER_WAKEUP = 128


@dataclass
class Question:
    name: str
    rdtype: str  # A, AAAA, TXT, PTR, MX, NS, CNAME
    server: str | None  # None: the system resolver
    port: int = 53
    recursion: bool = True


@dataclass
class Reply:
    question: Question
    rcode: str = ""  # NOERROR, NXDOMAIN, SERVFAIL, REFUSED, ... ; "" when no reply to the question was read
    answers: list = field(default_factory=list)  # texts: addresses, names, "10 mx.example.", TXT strings
    cnames: list = field(default_factory=list)  # the CNAME chain from the question name, targets in order
    error: str = ""  # timeout | unreachable: ... | malformed: ... | unsupported: ...
    elapsed_ms: float = 0.0
    authoritative: bool = False

    @property
    def malformed(self) -> bool:
        """The server sent something that is not a correct answer to the question."""
        return self.error.startswith(MALFORMED)

    def as_dict(self) -> dict:
        return {
            "name": self.question.name,
            "type": self.question.rdtype,
            "server": self.question.server,
            "rcode": self.rcode,
            "answers": self.answers,
            "cnames": self.cnames,
            "error": self.error,
            "elapsed_ms": round(self.elapsed_ms, 1),
        }


def engine_name() -> str:
    return "dnspython" if HAS_DNSPYTHON else "libc"


def resolve_many(questions: list, timeout: float = 3.0, follow_up=None, stall: float | None = None) -> list:  # type: ignore[no-untyped-def]
    """Ask every question at once; replies in the order of the questions. Never raises on replies.

    `follow_up(index, reply)`, when given, is called once for each of the given questions: as soon
    as its reply is final, or with `None` when it still has none `stall` seconds into the batch.
    The questions it returns join the same batch, under the same deadline, and their replies
    follow the given ones in the order they were added. So a caller asks a second question only
    where the first one failed, without a second round trip of waiting.
    """
    if not HAS_DNSPYTHON:
        replies = [_libc(question, timeout) for question in questions]
        extra = [q for i, r in enumerate(replies) for q in (follow_up(i, r) if follow_up else None) or []]
        return replies + [_libc(question, timeout) for question in extra]
    return _Batch(questions, timeout, follow_up, stall).run()


# --- reading one message --------------------------------------------------------------------

_FINAL = "final"  # the reply to the question (an answer, or a malformed answer to it)
_STRAY = "stray"  # not the reply to the question: keep waiting
_TRUNCATED = "truncated"  # the reply to the question, cut short (TC): ask over TCP


_RD = 0x0100


def query_wire(question: Question, query_id: int) -> bytes:
    """The query message for a question, as dns.message.make_query writes it (no EDNS).

    Packed by hand for plain ASCII names: building hundreds of dnspython messages was a fifth of
    the probe's command-line time. Anything else (IDNA, escapes, odd labels) goes through dnspython.
    """
    labels = question.name.rstrip(".").split(".") if question.name not in ("", ".") else []
    if all(0 < len(label) < 64 and label.isascii() and "\\" not in label for label in labels):
        encoded = b"".join(bytes([len(label)]) + label.encode("ascii") for label in labels) + b"\0"
        if len(encoded) <= 255:
            flags = _RD if question.recursion else 0
            rdtype = dns.rdatatype.from_text(question.rdtype)
            return struct.pack("!HHHHHH", query_id, flags, 1, 0, 0, 0) + encoded + struct.pack("!HH", rdtype, 1)
    message = dns.message.make_query(question.name, question.rdtype)
    if not question.recursion:
        message.flags &= ~dns.flags.RD
    message.id = query_id
    return message.to_wire()


def parse_reply(question: Question, wire: bytes, query_id: int | None = None) -> Reply:
    """What one message says about `question`, read as the engine reads it; never raises.

    With `query_id`, a message with another ID is not the reply. A message that is not the reply
    to the question (another ID or question, not a DNS message) gives a "malformed: ..." error
    with rcode "". A truncated reply gives "malformed: a truncated answer (TC) ..." here: the
    engine asks again over TCP instead.
    """
    reply, verdict = _read(question, wire, query_id)
    if verdict == _TRUNCATED:
        reply.error = MALFORMED + "a truncated answer (TC) that was not asked again over TCP"
    return reply


def _read(question: Question, wire: bytes, query_id: int | None) -> tuple:
    """(Reply, verdict): the pure reading behind parse_reply and the batch."""
    reply = Reply(question)
    try:
        verdict = _read_into(reply, bytes(wire), query_id)
    except Exception as error:  # hostile input must never escape; whatever it was, it is not an answer
        reply = Reply(question, error=f"{MALFORMED}{len(wire)} bytes this engine cannot read ({_kind(error)})")
        return reply, _STRAY
    if reply.error:
        reply.answers = []
        reply.cnames = []
    return reply, verdict


def _read_into(reply: Reply, wire: bytes, query_id: int | None) -> str:
    question = reply.question
    if query_id is not None and len(wire) >= 2 and struct.unpack("!H", wire[:2])[0] != query_id:
        reply.error = f"{MALFORMED}a message with another ID ({_bytes(len(wire))})"
        return _STRAY
    qname = dns.name.from_text(question.name)
    wanted = dns.rdatatype.from_text(question.rdtype)
    try:
        message = dns.message.from_wire(wire)
    except Exception as error:  # dnspython raises many kinds on hostile input
        return _unreadable(reply, wire, qname, wanted, error)
    if not message.flags & dns.flags.QR:
        reply.error = MALFORMED + "a query, not a reply (QR bit clear)"
        return _STRAY
    opcode = dns.opcode.from_flags(message.flags)
    if opcode != dns.opcode.QUERY:
        reply.error = f"{MALFORMED}a reply with opcode {dns.opcode.to_text(opcode)}"
        return _STRAY
    rcode = _rcode_text(message.rcode())
    if not message.question:
        if rcode in _ERROR_RCODES:  # servers often drop the question from error replies
            reply.rcode = rcode
            return _FINAL
        reply.error = f"{MALFORMED}a {rcode} reply without a question section"
        return _STRAY
    if len(message.question) > 1:
        asked = ", ".join(_question_text(q) for q in message.question[:3])
        reply.error = f"{MALFORMED}a reply to {len(message.question)} questions ({asked})"
        return _STRAY
    echoed = message.question[0]
    if echoed.name != qname or echoed.rdtype != wanted or echoed.rdclass != dns.rdataclass.IN:
        reply.error = f"{MALFORMED}the reply answers another question ({_question_text(echoed)})"
        return _STRAY
    if message.flags & dns.flags.TC:
        return _TRUNCATED
    reply.rcode = rcode
    reply.authoritative = bool(message.flags & dns.flags.AA)
    if rcode not in ("NOERROR", "NXDOMAIN"):
        return _FINAL  # an error rcode carries no answer, whatever its sections hold
    _read_answer(reply, message, qname, wanted)
    return _FINAL


def _unreadable(reply: Reply, wire: bytes, qname, wanted: int, error: Exception) -> str:
    """A message dnspython cannot parse: a truncated reply to our question, or garbage."""
    if len(wire) >= 12 and struct.unpack("!H", wire[2:4])[0] & dns.flags.TC:
        try:
            head = dns.message.from_wire(wire, question_only=True)
        except Exception:
            head = None
        if (
            head is not None
            and head.flags & dns.flags.QR
            and len(head.question) == 1
            and head.question[0].name == qname
            and head.question[0].rdtype == wanted
            and head.question[0].rdclass == dns.rdataclass.IN
        ):
            return _TRUNCATED  # cut off inside a record, as some servers truncate
    reply.error = f"{MALFORMED}{_bytes(len(wire))} that are not a DNS message ({_kind(error)})"
    return _STRAY


def _read_answer(reply: Reply, message, qname, wanted: int) -> None:
    """The answers on the question's CNAME chain, or a malformed error saying what is wrong."""
    cname_type = dns.rdatatype.CNAME
    records: dict = {}  # (owner, type) -> [rdata], class IN only
    foreign = []  # (owner, type text) of records in another class
    for rrset in message.answer:
        if rrset.rdclass != dns.rdataclass.IN:
            foreign.append((rrset.name, f"{dns.rdataclass.to_text(rrset.rdclass)} {_type_text(rrset.rdtype)}"))
            continue
        records.setdefault((rrset.name, rrset.rdtype), []).extend(rrset)
    chain = [qname]
    used = set()
    if wanted != cname_type:
        while (chain[-1], cname_type) in records:
            owner = chain[-1]
            used.add((owner, cname_type))
            if (owner, wanted) in records:
                reply.error = f"{MALFORMED}{owner} has both a CNAME and {_type_text(wanted)} records"
                return
            targets = []
            for rdata in records[(owner, cname_type)]:
                if rdata.target not in targets:
                    targets.append(rdata.target)
            if len(targets) > 1:
                names = ", ".join(str(t) for t in targets[:3])
                reply.error = f"{MALFORMED}{len(targets)} CNAME records for {owner} ({names})"
                return
            target = targets[0]
            if target in chain:
                reply.error = f"{MALFORMED}CNAME loop ({_chain_text([*chain, target])})"
                return
            if len(chain) > MAX_CNAME_CHAIN:
                links = _chain_text([*chain, target])
                reply.error = f"{MALFORMED}CNAME chain longer than {MAX_CNAME_CHAIN} links ({links})"
                return
            chain.append(target)
    final = chain[-1]
    found = records.get((final, wanted), [])
    used.add((final, wanted))
    if reply.rcode == "NXDOMAIN":
        if found:
            reply.error = f"{MALFORMED}NXDOMAIN with {_type_text(wanted)} records for {final}"
            return
        reply.cnames = [name.to_text() for name in chain[1:]]
        return
    if found:
        # Sorted: an RRset has no order (RFC 2181 section 5), and a report must not change between
        # two runs because a server rotated its records (the libc path below sorts too).
        reply.answers = sorted(_rdata_text(rdata, wanted) for rdata in found)
        reply.cnames = [name.to_text() for name in chain[1:]]
        return
    leftovers = [
        (owner, dns.rdatatype.to_text(rdtype))
        for (owner, rdtype) in records
        if (owner, rdtype) not in used and dns.rdatatype.to_text(rdtype) not in _UNCOUNTED_TYPES
    ] + foreign
    if not leftovers:
        reply.cnames = [name.to_text() for name in chain[1:]]  # NODATA, possibly at a chain's end
        return
    question_type = _type_text(wanted)
    if all(owner in chain for owner, _type in leftovers):
        types = ", ".join(sorted({rdtype for _owner, rdtype in leftovers}))
        article = "an" if question_type[:1] in "AEFHILMNORSX" else "a"
        reply.error = f"{MALFORMED}only {types} records in the answer to {article} {question_type} question"
        return
    shown = ", ".join(f"{owner} {rdtype}" for owner, rdtype in leftovers[:3])
    more = f" and {len(leftovers) - 3} more" if len(leftovers) > 3 else ""
    other = "other names" if all(owner not in chain for owner, _type in leftovers) else "other names or types"
    reply.error = f"{MALFORMED}the answer holds only records of {other} ({shown}{more})"


def _rdata_text(rdata, rdtype: int) -> str:
    if rdtype == dns.rdatatype.TXT:
        return b"".join(rdata.strings).decode("utf-8", "replace")
    if rdtype == dns.rdatatype.CNAME:
        return rdata.target.to_text()
    return rdata.to_text()


def _question_text(echoed) -> str:
    text = f"{echoed.name} {_type_text(echoed.rdtype)}"
    if echoed.rdclass != dns.rdataclass.IN:
        text = f"{echoed.name} {dns.rdataclass.to_text(echoed.rdclass)} {_type_text(echoed.rdtype)}"
    return text


def _chain_text(names: list) -> str:
    return " -> ".join(str(name) for name in names)


def _type_text(rdtype: int) -> str:
    try:
        return dns.rdatatype.to_text(rdtype)
    except Exception:  # pragma: no cover - dnspython names every 16-bit type
        return f"TYPE{rdtype}"


def _rcode_text(rcode: int) -> str:
    try:
        return dns.rcode.to_text(rcode)
    except Exception:  # pragma: no cover - older dnspython refuses unknown values
        return f"RCODE{rcode}"


def _kind(error: Exception) -> str:
    return error.__class__.__name__


def _bytes(count: int) -> str:
    return "1 byte" if count == 1 else f"{count} bytes"


# --- the batch ----------------------------------------------------------------------------------


class _Tcp:
    """One TCP retry after a truncated UDP reply."""

    def __init__(self, index: int, query_id: int, wire: bytes, deadline: float) -> None:
        self.index = index
        self.query_id = query_id
        self.out = struct.pack("!H", len(wire)) + wire
        self.deadline = deadline
        self.buffer = b""
        self.connected = False
        self.sock = None


class _Batch:
    def __init__(self, questions: list, timeout: float, follow_up=None, stall: float | None = None) -> None:  # type: ignore[no-untyped-def]
        self.questions = list(questions)  # grows by the follow-up questions
        self.timeout = timeout
        self.replies = [Reply(question) for question in questions]
        self.given = len(questions)
        self.follow_up = follow_up
        self.stall = stall
        self.followed: set = set()  # given questions whose follow-up was asked for
        self.added: list = []  # follow-up questions not prepared yet
        self.pending: dict = {}  # (socket fd, server, port, id) -> index, while a UDP reply is awaited
        self.started: dict = {}  # index -> when its query left
        self.wires: dict = {}  # index -> (query id, query wire), kept for a TCP retry
        self.strays: dict = {}  # index -> what came instead of the reply (the first such thing)
        self.noise: dict = {}  # (server, port) -> garbage it sent that no pending ID could claim
        self.waiting: dict = {}  # (server, port) -> deque of (index, socket, key, wire) not sent yet
        self.in_flight: dict = {}  # (server, port) -> queries sent that it has not responded to at all
        self.unheard: set = set()  # indices of those queries
        self.blocked = False  # a send met a full socket buffer: wait until the sockets are writable
        self.sockets: dict = {}  # family -> [UDP sockets]
        self.used_ids: dict = {}  # (server, port) -> query IDs given out
        self.tcp_waiting: collections.deque = collections.deque()
        self.tcp_open: dict = {}  # socket -> _Tcp
        self.selector = None

    # sockets

    def _udp(self, family: int, index: int) -> socket.socket:
        pool = self.sockets.setdefault(family, [])
        if len(pool) < UDP_SOCKETS_PER_FAMILY:
            sock = socket.socket(family, socket.SOCK_DGRAM)
            pool.append(sock)
            sock.setblocking(False)
            with contextlib.suppress(OSError):  # the kernel caps the size; never an error on Linux
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RECEIVE_BUFFER)
            self.selector.register(sock, selectors.EVENT_READ, None)
            return sock
        return pool[index % UDP_SOCKETS_PER_FAMILY]

    def _udp_sockets(self) -> list:
        return [sock for pool in self.sockets.values() for sock in pool]

    def run(self) -> list:
        self.selector = selectors.DefaultSelector()
        started = time.monotonic()
        deadline = started + self.timeout
        stall_at = started + self.stall if self.follow_up is not None and self.stall is not None else None
        try:
            for index, question in enumerate(self.questions):
                self._prepare(index, question)
            self._pump()
            self._loop(deadline, stall_at)
            self._expire_udp()
            for state in list(self.tcp_open.values()) + list(self.tcp_waiting):
                self._tcp_timeout(state)
        finally:
            self.selector.close()
            for sock in self._udp_sockets() + list(self.tcp_open):
                sock.close()
            self.tcp_open.clear()
        return self.replies

    def _loop(self, deadline: float, stall_at: float | None = None) -> None:
        while True:
            now = time.monotonic()
            if stall_at is not None and now >= stall_at:
                stall_at = None
                for index in range(self.given):
                    if index not in self.followed and not self.replies[index].rcode and not self.replies[index].error:
                        self._follow(index, None)  # no reply yet: what would follow a failure starts now
            if self.added:
                self._pump()
            udp_busy = bool(self.pending) or any(self.waiting.values())
            if now >= deadline and udp_busy:
                self._expire_udp()
                udp_busy = False
            for state in [s for s in self.tcp_open.values() if s.deadline <= now]:
                self._tcp_timeout(state)
            self._start_tcp()
            waits = [s.deadline for s in self.tcp_open.values()]
            if udp_busy:
                waits.append(deadline)
                if stall_at is not None:
                    waits.append(stall_at)
            if not waits:
                return
            remaining = min(waits) - now
            if remaining <= 0:
                continue
            for key, events in self.selector.select(remaining):
                if key.data is not None:
                    self._tcp_event(key.data, events)
                    continue
                if events & selectors.EVENT_READ:
                    self._receive(key.fileobj)
                if events & selectors.EVENT_WRITE:
                    self._unblock()
            self._pump()

    # UDP

    def _follow(self, index: int, reply: Reply | None) -> None:
        """The caller's follow-up questions for a given question (once each); sent by the next _pump."""
        if self.follow_up is None or index >= self.given or index in self.followed:
            return
        self.followed.add(index)
        self.added += list(self.follow_up(index, reply) or [])

    def _prepare(self, index: int, question: Question) -> None:
        """Queue a question for its server; the query itself is built when it is sent."""
        if question.server is None:
            self.replies[index] = _libc(question, self.timeout)
            self._follow(index, self.replies[index])
            return
        server = (_canonical(question.server), question.port)
        self.waiting.setdefault(server, collections.deque()).append(index)
        self.in_flight.setdefault(server, 0)

    def _query(self, index: int, server: tuple) -> tuple:
        """(socket, pending key, wire) of the query for one question; raises on a question it cannot ask."""
        question = self.questions[index]
        ids = self.used_ids.setdefault(server, set())
        query_id = _fresh_id(ids)
        ids.add(query_id)
        wire = query_wire(question, query_id)
        sock = self._udp(socket.AF_INET6 if ":" in server[0] else socket.AF_INET, index)
        self.wires[index] = (query_id, wire)
        return sock, (sock.fileno(), server[0], server[1], query_id), wire

    def _pump(self) -> None:
        """Send what waits, at most MAX_IN_FLIGHT_PER_SERVER unanswered queries per server at a time.

        A burst of a thousand queries overflows a server's receive buffer (and drops most of them);
        a query leaves the window when the server responds to it at all, garbage included.
        """
        while self.added:
            question = self.added.pop(0)
            self.questions.append(question)
            self.replies.append(Reply(question))
            self._prepare(len(self.questions) - 1, question)
        if self.blocked:
            return
        failed = []  # follow-ups of sends that failed at once, asked for after the loop
        for server, queue in self.waiting.items():
            while queue and self.in_flight[server] < MAX_IN_FLIGHT_PER_SERVER:
                index = queue[0]
                question = self.questions[index]
                try:
                    sock, key, wire = self._query(index, server)
                    self.started[index] = time.monotonic()
                    sock.sendto(wire, (question.server, question.port))
                except (BlockingIOError, InterruptedError):
                    self.blocked = True  # the socket's buffer is full: go on when it is writable
                    for udp in self._udp_sockets():
                        self.selector.modify(udp, selectors.EVENT_READ | selectors.EVENT_WRITE, None)
                    return
                except OSError as error:
                    # No route (a public resolver seen from a closed network) fails here, at once.
                    self.replies[index].error = "unreachable: " + (error.strerror or str(error))
                    failed.append(index)
                except (dns.exception.DNSException, ValueError) as error:
                    self.replies[index].error = f"unsupported: {error}"
                    failed.append(index)
                else:
                    self.pending[key] = index
                    self.in_flight[server] += 1
                    self.unheard.add(index)
                queue.popleft()
        for index in failed:
            self._follow(index, self.replies[index])

    def _unblock(self) -> None:
        if self.blocked:
            self.blocked = False
            for udp in self._udp_sockets():
                self.selector.modify(udp, selectors.EVENT_READ, None)

    def _heard(self, index: int, server: tuple) -> None:
        if index in self.unheard:
            self.unheard.discard(index)
            self.in_flight[server] -= 1

    def _receive(self, sock: socket.socket) -> None:
        for _packet in range(_PACKETS_PER_WAKEUP):  # then back to the loop: deadlines, other sockets
            try:
                wire, source = sock.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as error:
                # An ICMP error for one destination: we cannot tell which; the others time out or answer.
                if error.errno in (errno.ECONNREFUSED, errno.ENETUNREACH, errno.EHOSTUNREACH):
                    continue
                return
            server, port = _canonical(source[0]), source[1]
            query_id = struct.unpack("!H", wire[:2])[0] if len(wire) >= 2 else -1
            key = (sock.fileno(), server, port, query_id)
            index = self.pending.get(key)
            if index is None:
                self._note_noise(server, port, wire)
                continue
            self._heard(index, (server, port))
            reply, verdict = _read(self.questions[index], wire, query_id)
            if verdict == _STRAY:
                self.strays.setdefault(index, reply.error)
                continue
            del self.pending[key]
            if verdict == _TRUNCATED:
                query_id, query_wire = self.wires[index]
                self.tcp_waiting.append(_Tcp(index, query_id, query_wire, time.monotonic() + self.timeout))
                continue
            self._finish(index, reply)

    def _note_noise(self, server: str, port: int, wire: bytes) -> None:
        """Bytes from a server we asked that no pending ID claims: remembered only if not DNS at all."""
        if (server, port) in self.noise or not self.in_flight.get((server, port), 0):
            return  # a server we are not waiting for, or one that already sent garbage
        try:
            dns.message.from_wire(wire)
            return  # a DNS message with an ID we did not send (late, or forged): not our business
        except Exception as error:
            self.noise[(server, port)] = (
                f"{MALFORMED}no reply to this question; the server sent {_bytes(len(wire))} "
                f"that are not a DNS message ({_kind(error)})"
            )

    def _expire_udp(self) -> None:
        for key, index in list(self.pending.items()):
            reply = self.replies[index]
            reply.elapsed_ms = self.timeout * 1000
            stray = self.strays.get(index) or self.noise.get((key[1], key[2]))
            reply.error = stray or "timeout"
        self.pending.clear()
        for queue in self.waiting.values():
            for index in queue:
                self.replies[index].error = "timeout"  # never sent: earlier queries to it got no response
                self.replies[index].elapsed_ms = self.timeout * 1000
            queue.clear()

    def _finish(self, index: int, reply: Reply) -> None:
        reply.elapsed_ms = (time.monotonic() - self.started.get(index, time.monotonic())) * 1000
        self.replies[index] = reply
        self._follow(index, reply)

    # TCP, after a truncated UDP reply

    def _start_tcp(self) -> None:
        while self.tcp_waiting and len(self.tcp_open) < MAX_TCP_CONNECTIONS:
            state = self.tcp_waiting.popleft()
            question = self.questions[state.index]
            family = socket.AF_INET6 if ":" in (question.server or "") else socket.AF_INET
            try:
                sock = socket.socket(family, socket.SOCK_STREAM)
            except OSError as error:
                self._tcp_fail(state, "unreachable: TCP after a truncated UDP answer: " + (error.strerror or ""))
                continue
            sock.setblocking(False)
            state.sock = sock
            self.tcp_open[sock] = state
            result = sock.connect_ex((question.server, question.port))
            if result not in (0, errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EALREADY):
                self._tcp_fail(state, "unreachable: TCP after a truncated UDP answer: " + _strerror(result))
                continue
            self.selector.register(sock, selectors.EVENT_WRITE, state)

    def _tcp_event(self, state: _Tcp, events: int) -> None:
        sock = state.sock
        if not state.connected:
            result = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if result:
                self._tcp_fail(state, "unreachable: TCP after a truncated UDP answer: " + _strerror(result))
                return
            state.connected = True
        if state.out:
            try:
                sent = sock.send(state.out)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as error:
                self._tcp_fail(state, "unreachable: TCP after a truncated UDP answer: " + (error.strerror or ""))
                return
            state.out = state.out[sent:]
            if not state.out:
                self.selector.modify(sock, selectors.EVENT_READ, state)
            return
        try:
            chunk = sock.recv(65537)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as error:
            self._tcp_fail(state, "unreachable: TCP after a truncated UDP answer: " + (error.strerror or ""))
            return
        if not chunk:
            stray = self.strays.get(state.index)
            self._tcp_fail(state, stray or "unreachable: the TCP connection closed without an answer")
            return
        state.buffer += chunk
        while len(state.buffer) >= 2:
            (length,) = struct.unpack("!H", state.buffer[:2])
            if len(state.buffer) < 2 + length:
                return
            frame, state.buffer = state.buffer[2 : 2 + length], state.buffer[2 + length :]
            reply, verdict = _read(self.questions[state.index], frame, state.query_id)
            if verdict == _STRAY:
                self.strays[state.index] = reply.error
                continue
            if verdict == _TRUNCATED:
                reply = Reply(self.questions[state.index], error=MALFORMED + "a truncated answer (TC) over TCP")
            self._tcp_close(state)
            self._finish(state.index, reply)
            return

    def _tcp_timeout(self, state: _Tcp) -> None:
        stray = self.strays.get(state.index)
        self._tcp_fail(state, stray or "timeout (TCP, after a truncated UDP answer)")

    def _tcp_fail(self, state: _Tcp, error: str) -> None:
        self._tcp_close(state)
        self._finish(state.index, Reply(self.questions[state.index], error=error))

    def _tcp_close(self, state: _Tcp) -> None:
        sock = state.sock
        if sock is None:
            with contextlib.suppress(ValueError):
                self.tcp_waiting.remove(state)
            return
        if self.tcp_open.pop(sock, None) is not None:
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(sock)
            sock.close()


def _strerror(number: int) -> str:
    try:
        return os.strerror(number)
    except ValueError:  # pragma: no cover
        return f"error {number}"


def _fresh_id(ids: set) -> int:
    if len(ids) >= 65000:
        ids.clear()  # a batch that large reuses IDs; replies are still matched by server and question
    while True:
        candidate = random.randint(1, 65535)
        if candidate not in ids:
            return candidate


def _canonical(address: str) -> str:
    try:
        return (
            socket.inet_ntop(socket.AF_INET6, socket.inet_pton(socket.AF_INET6, address)) if ":" in address else address
        )
    except OSError:
        return address


def _libc(question: Question, timeout: float) -> Reply:
    """The system resolver: A/AAAA only, no choice of server, no rcode beyond found / not found."""
    reply = Reply(question)
    if question.server is not None or question.rdtype not in ("A", "AAAA"):
        reply.error = "unsupported: needs dnspython (python3-dnspython) for this question"
        return reply
    family = socket.AF_INET if question.rdtype == "A" else socket.AF_INET6
    started = time.monotonic()
    try:
        infos = socket.getaddrinfo(question.name, None, family, socket.SOCK_DGRAM)
        reply.rcode = "NOERROR"
        reply.answers = sorted({info[4][0] for info in infos})
    except socket.gaierror as error:
        if error.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", -5)):
            reply.rcode = "NXDOMAIN"
        else:
            reply.error = f"unreachable: {error.strerror}"
    reply.elapsed_ms = (time.monotonic() - started) * 1000
    return reply
