# Copyright: maildns.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Many DNS questions to chosen servers at once, each with its own timeout.

Private to the collection. Runs on managed hosts: Python 3.8 syntax.

With dnspython every question goes to the server it names, all at once over one UDP socket per
address family (answers matched by server and ID), so a batch takes about one timeout plus the
slowest answer however large it is; a truncated answer is asked again over TCP. Without dnspython
the system resolver (libc) answers A/AAAA questions only, through whatever resolv.conf says: the
result says so (`engine: libc`) and per-server questions are marked as not possible.
"""

from __future__ import annotations

import errno
import random
import selectors
import socket
import time
from dataclasses import dataclass, field

try:
    import dns.exception
    import dns.flags
    import dns.message
    import dns.query
    import dns.rcode
    import dns.rdatatype

    HAS_DNSPYTHON = True
    DNSPYTHON_IMPORT_ERROR = None
except ImportError as _error:  # pragma: no cover - exercised on hosts without dnspython
    HAS_DNSPYTHON = False
    DNSPYTHON_IMPORT_ERROR = _error


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
    rcode: str = ""  # NOERROR, NXDOMAIN, SERVFAIL, REFUSED, ... ; "" when no answer came
    answers: list = field(default_factory=list)  # texts: addresses, names, "10 mx.example.", TXT strings
    cnames: list = field(default_factory=list)  # CNAME targets seen on the way
    error: str = ""  # timeout | unreachable: ... | malformed: ... | unsupported: ...
    elapsed_ms: float = 0.0
    authoritative: bool = False

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


def resolve_many(questions: list, timeout: float = 3.0) -> list:
    """Ask every question at once; replies in the order of the questions."""
    if not HAS_DNSPYTHON:
        return [_libc(question, timeout) for question in questions]
    return _Batch(questions, timeout).run()


class _Batch:
    def __init__(self, questions: list, timeout: float) -> None:
        self.questions = questions
        self.timeout = timeout
        self.replies = [Reply(question) for question in questions]
        self.pending: dict = {}  # (server, port, id) -> index
        self.started: dict = {}
        self.sockets: dict = {}

    def _socket(self, family: int) -> socket.socket:
        if family not in self.sockets:
            sock = socket.socket(family, socket.SOCK_DGRAM)
            sock.setblocking(False)
            self.sockets[family] = sock
        return self.sockets[family]

    def run(self) -> list:
        used_ids: dict = {}
        selector = selectors.DefaultSelector()
        try:
            for index, question in enumerate(self.questions):
                self._send(index, question, used_ids)
            for sock in self.sockets.values():
                selector.register(sock, selectors.EVENT_READ)
            deadline = time.monotonic() + self.timeout
            while self.pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                for key, _events in selector.select(remaining):
                    self._receive(key.fileobj)
            for index in self.pending.values():
                self.replies[index].error = "timeout"
                self.replies[index].elapsed_ms = self.timeout * 1000
        finally:
            selector.close()
            for sock in self.sockets.values():
                sock.close()
        return self.replies

    def _send(self, index: int, question: Question, used_ids: dict) -> None:
        reply = self.replies[index]
        if question.server is None:
            self.replies[index] = _libc(question, self.timeout)
            return
        try:
            family = socket.AF_INET6 if ":" in question.server else socket.AF_INET
            message = dns.message.make_query(question.name, question.rdtype)
            if not question.recursion:
                message.flags &= ~dns.flags.RD
            ids = used_ids.setdefault((question.server, question.port), set())
            message.id = _fresh_id(ids)
            ids.add(message.id)
            self.started[index] = time.monotonic()
            self._socket(family).sendto(message.to_wire(), (question.server, question.port))
            self.pending[(_canonical(question.server), question.port, message.id)] = index
        except OSError as error:
            # No route (a public resolver seen from a closed network) fails here, at once.
            reply.error = "unreachable: " + (error.strerror or str(error))
        except (dns.exception.DNSException, ValueError) as error:
            reply.error = f"unsupported: {error}"

    def _receive(self, sock: socket.socket) -> None:
        while True:
            try:
                wire, source = sock.recvfrom(65535)
            except BlockingIOError:
                return
            except OSError as error:
                # An ICMP error for one destination: we cannot tell which; the others time out or answer.
                if error.errno in (errno.ECONNREFUSED, errno.ENETUNREACH, errno.EHOSTUNREACH):
                    continue
                return
            if len(wire) < 2:
                continue
            key = (_canonical(source[0]), source[1], int.from_bytes(wire[:2], "big"))
            index = self.pending.pop(key, None)
            if index is None:
                continue
            reply = self.replies[index]
            reply.elapsed_ms = (time.monotonic() - self.started[index]) * 1000
            _fill(reply, wire, self.timeout)


def _fresh_id(ids: set) -> int:
    if len(ids) >= 65000:
        ids.clear()  # a batch that large reuses IDs; replies are still matched by server
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


def _fill(reply: Reply, wire: bytes, timeout: float) -> None:
    try:
        message = dns.message.from_wire(wire)
    except dns.exception.DNSException as error:
        reply.error = f"malformed: {error.__class__.__name__}: {error}"
        return
    except Exception as error:  # dnspython can raise plain errors on hostile input
        reply.error = f"malformed: {error.__class__.__name__}"
        return
    if message.flags & dns.flags.TC:
        question = reply.question
        try:
            query = dns.message.make_query(question.name, question.rdtype)
            message = dns.query.tcp(query, question.server, port=question.port, timeout=timeout)
        except dns.exception.Timeout:
            reply.error = "timeout (TCP, after a truncated UDP answer)"
            return
        except (OSError, dns.exception.DNSException, EOFError) as error:
            reply.error = f"malformed: truncated UDP answer and TCP failed ({error.__class__.__name__})"
            return
    reply.rcode = dns.rcode.to_text(message.rcode())
    reply.authoritative = bool(message.flags & dns.flags.AA)
    wanted = dns.rdatatype.from_text(reply.question.rdtype)
    for rrset in message.answer:
        for rdata in rrset:
            if rrset.rdtype == dns.rdatatype.CNAME:
                reply.cnames.append(rdata.target.to_text())
            elif rrset.rdtype == wanted:
                if rrset.rdtype == dns.rdatatype.TXT:
                    reply.answers.append(b"".join(rdata.strings).decode("utf-8", "replace"))
                else:
                    reply.answers.append(rdata.to_text())


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
