"""DNS fixture servers: the lab's Internet, one small process per personality.

Every personality answers from the same `ZoneData` and then behaves like a server a mail host
meets in the wild:

| personality  | behaves like                                                                 |
|--------------|------------------------------------------------------------------------------|
| authority    | the lab root and every lab zone, authoritative (AA); a real Unbound recurses  |
|              | through it (it answers `. NS` with itself plus glue)                          |
| resolver     | an honest recursive resolver (ISP or local): the same answers, RA set         |
| public       | a public resolver Spamhaus refuses: 127.255.255.254 for its public mirrors    |
| ratelimited  | a resolver over Spamhaus' volume limit (AdGuard-like): 127.255.255.255        |
| hidelists    | Google Public DNS-like: NXDOMAIN (SOA in authority) for every name below      |
|              | Spamhaus' public mirrors, test point 127.0.0.2 included; honest otherwise     |
| blackhole    | never answers                                                                |
| servfail     | SERVFAIL for everything                                                      |
| refused      | REFUSED for everything                                                       |
| nxrewrite    | rewrites NXDOMAIN to an address outside 127/8 (ISP "search help" / adblock)   |
| listsworld   | a retired list that answers 127.0.0.2 for every name                         |
| garbage      | answers with random bytes                                                    |
| truncated    | answers with the first half of a valid answer (a cut-off message)            |
| broken       | a broken middlebox: one malformed answer per question, by zone (table below)  |

`broken` answers, by the zone of the question (`BROKEN_BY_ZONE`; any other name gets the
behaviour that a stable hash of its name and type picks from `BROKEN_BEHAVIOURS`):

| zone                                   | behaviour       | what comes back                                   |
|----------------------------------------|-----------------|---------------------------------------------------|
| zen.spamhaus.org                       | other_question  | right ID, question `evil.example. A`, answer      |
|                                        |                 | `evil.example. A 127.0.0.2`                       |
| bl.spamcop.net                         | cname_loop      | `<qname> CNAME <qname>` (a CNAME to itself)       |
| psbl.surriel.com, in-addr.arpa,        | wrong_type      | only a record of another type: TXT "127.0.0.2" to |
| ip6.arpa (PTR of the host's address)   |                 | an A question, A 127.0.0.2 to any other (PTR)     |
| bl.mailspike.net                       | garbage         | random bytes behind the query's ID                |
| zrd.spamhaus.org                       | echo            | the query itself sent back (QR clear): a          |
|                                        |                 | middlebox that reflects packets                   |
| list.dnswl.org                         | wrong_owner     | right question, but the answer's owner is another |
|                                        |                 | name (`evil.example. A 127.0.0.2`)                |
| dbl.spamhaus.org                       | wrong_id        | the honest answer under another ID (a NAT that    |
|                                        |                 | rewrites IDs): a stub drops it and times out      |

Options that any personality takes: a delay for every answer (`--delay-ms`, for benchmarks and a
slow resolver), a delay below some zones only (`--slow-zone ZONE=MS`: a slow list), zones that
never answer (`--silent-zone`), and the egress address (`--egress`) that Spamhaus' error TXT
names: by default the fixture's own, but a forwarder's TXT names the resolver behind it that
really reached Spamhaus. UDP and TCP on the same port.

Run one: `python -m tests.lab.dns_fixture --personality public --listen 10.231.53.54 --data .lab/dns.json`
It prints `ready <address> <port>` once both sockets are bound.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import struct
import subprocess
import sys
import threading
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from ansible_collections.maildns.audit.plugins.module_utils.dnsbl_catalog import CATALOG as DNSBL_CATALOG
from tests.lab.zone_data import ZoneData

# What Spamhaus answers, on its public mirrors, to queries that come through a resolver it refuses
# (DESIGN.md section 1). The TXT mirrors what its mirrors say, so a probe can show it to the admin.
OPEN_RESOLVER_CODE = "127.255.255.254"
OPEN_RESOLVER_TXT = "Error: open resolver; https://check.spamhaus.org/returnc/pub/{resolver}/"
RATE_LIMITED_CODE = "127.255.255.255"
RATE_LIMITED_TXT = "Error: excessive number of queries; https://check.spamhaus.org/returnc/vol/{resolver}/"
# The zones the public mirrors serve (from the collection's DNSBL catalog): queries below them get
# the error code instead of the answer.
SPAMHAUS_PUBLIC_MIRROR_ZONES = tuple(zone for zone, entry in DNSBL_CATALOG.items() if entry.operator == "Spamhaus")
# RFC 5737 TEST-NET-2: never routed, so a host that follows the rewritten answer goes nowhere.
NXDOMAIN_REWRITE_ADDRESS = "198.51.100.80"
LISTS_THE_WORLD_CODE = "127.0.0.2"

# The broken middlebox (personality `broken`): what it does, and to which questions.
BROKEN_BEHAVIOURS = ("other_question", "cname_loop", "wrong_type", "garbage", "echo", "wrong_owner", "wrong_id")
BROKEN_BY_ZONE = {
    "zen.spamhaus.org": "other_question",
    "bl.spamcop.net": "cname_loop",
    "psbl.surriel.com": "wrong_type",
    "bl.mailspike.net": "garbage",
    "zrd.spamhaus.org": "echo",
    "list.dnswl.org": "wrong_owner",
    "dbl.spamhaus.org": "wrong_id",
    "in-addr.arpa": "wrong_type",
    "ip6.arpa": "wrong_type",
}
BROKEN_OTHER_NAME = "evil.example."
BROKEN_OTHER_ADDRESS = "127.0.0.2"

PERSONALITIES = (
    "authority",
    "resolver",
    "public",
    "ratelimited",
    "hidelists",
    "blackhole",
    "servfail",
    "refused",
    "nxrewrite",
    "listsworld",
    "garbage",
    "truncated",
    "broken",
)


@dataclass
class FixtureResolver:
    """Decides what one personality answers; pure (no sockets), so unit tests call it directly."""

    personality: str
    data: ZoneData
    own_address: str = "127.0.0.1"
    refused_zones: Iterable[str] = SPAMHAUS_PUBLIC_MIRROR_ZONES
    silent_zones: Iterable[str] = ()  # lists that never answer (dead lists, for benchmarks)
    # The resolver that reached Spamhaus, named in its error TXT (None: this fixture's own address).
    egress_address: str | None = None
    # Seconds to wait before answering names below a zone (a slow list), on top of any server delay.
    slow_zones: Mapping[str, float] = field(default_factory=dict)
    _refused: tuple[dns.name.Name, ...] = field(init=False, default=())
    _silent: tuple[dns.name.Name, ...] = field(init=False, default=())
    _slow: tuple[tuple[dns.name.Name, float], ...] = field(init=False, default=())
    _broken: tuple[tuple[dns.name.Name, str], ...] = field(init=False, default=())

    def __post_init__(self) -> None:
        if self.personality not in PERSONALITIES:
            raise ValueError(f"unknown personality {self.personality!r}; one of {', '.join(PERSONALITIES)}")
        self._refused = tuple(dns.name.from_text(zone) for zone in self.refused_zones)
        self._silent = tuple(dns.name.from_text(zone) for zone in self.silent_zones)
        self._slow = tuple((dns.name.from_text(zone), float(delay)) for zone, delay in self.slow_zones.items())
        self._broken = tuple((dns.name.from_text(zone), how) for zone, how in BROKEN_BY_ZONE.items())

    @property
    def egress(self) -> str:
        return self.egress_address or self.own_address

    def delay_for(self, wire: bytes) -> float:
        """How long to hold back the reply to this query because its name is below a slow zone."""
        question = _question(wire)
        if question is None:
            return 0.0
        return max((delay for zone, delay in self._slow if question[0].is_subdomain(zone)), default=0.0)

    def broken_behaviour(self, qname: dns.name.Name, rdtype: int) -> str:
        """What the `broken` personality does to this question (BROKEN_BY_ZONE, else a stable hash)."""
        for zone, how in self._broken:
            if qname.is_subdomain(zone):
                return how
        digest = zlib.crc32(f"{qname.to_text().lower()} {rdtype}".encode())
        return BROKEN_BEHAVIOURS[digest % len(BROKEN_BEHAVIOURS)]

    def respond(self, wire: bytes) -> bytes | None:
        """The reply to one query message (None: stay silent)."""
        if self.personality == "blackhole":
            return None
        if self.personality == "garbage":
            # Keep the query ID so that the client takes the noise as the reply to its question.
            return wire[:2] + random.Random(0x6D646C).randbytes(46)
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return _formerr(wire)
        if not query.question:
            response = dns.message.make_response(query)
            response.set_rcode(dns.rcode.FORMERR)
            return response.to_wire()
        if any(query.question[0].name.is_subdomain(zone) for zone in self._silent):
            return None
        if self.personality == "broken":
            return self._broken_reply(query, wire)
        response = self._answer(query)
        full = response.to_wire()
        if self.personality == "truncated":
            return full[: max(12, len(full) // 2)]
        return full

    def _answer(self, query: dns.message.Message) -> dns.message.Message:
        response = dns.message.make_response(query)
        question = query.question[0]
        qname, rdtype = question.name, question.rdtype
        if self.personality == "authority":
            response.flags |= dns.flags.AA
            response.flags &= ~dns.flags.RA
        else:
            response.flags |= dns.flags.RA
        if self.personality == "servfail":
            response.set_rcode(dns.rcode.SERVFAIL)
            return response
        if self.personality == "refused":
            response.set_rcode(dns.rcode.REFUSED)
            return response
        if question.rdclass != dns.rdataclass.IN:
            response.set_rcode(dns.rcode.REFUSED)
            return response

        lie = self._lie(qname, rdtype)
        if lie is not None:
            response.answer.append(lie)
            return response
        if self.personality == "hidelists" and self._is_refused(qname):
            # What Google Public DNS answers for every Spamhaus query: no error, no listing.
            response.set_rcode(dns.rcode.NXDOMAIN)
            response.authority.append(self.data.soa_for(qname))
            return response
        answer = self.data.lookup(qname, rdtype)
        if answer.rcode == "NXDOMAIN" and self.personality == "nxrewrite" and rdtype == dns.rdatatype.A:
            response.answer.append(_rrset(qname, "A", NXDOMAIN_REWRITE_ADDRESS))
            return response
        response.set_rcode(dns.rcode.from_text(answer.rcode))
        response.answer.extend(answer.answer)
        response.authority.extend(answer.authority)
        response.additional.extend(answer.additional)
        return response

    def _lie(self, qname: dns.name.Name, rdtype: int) -> dns.rrset.RRset | None:
        """The personality's own answer, where it replaces what the data says."""
        if self.personality == "listsworld":
            if rdtype == dns.rdatatype.A:
                return _rrset(qname, "A", LISTS_THE_WORLD_CODE)
            if rdtype == dns.rdatatype.TXT:
                return _rrset(qname, "TXT", '"Listed: this list is retired and lists everything"')
            return None
        if self.personality in ("public", "ratelimited") and self._is_refused(qname):
            code, txt = (
                (OPEN_RESOLVER_CODE, OPEN_RESOLVER_TXT)
                if self.personality == "public"
                else (RATE_LIMITED_CODE, RATE_LIMITED_TXT)
            )
            if rdtype == dns.rdatatype.A:
                return _rrset(qname, "A", code)
            if rdtype == dns.rdatatype.TXT:
                return _rrset(qname, "TXT", '"' + txt.format(resolver=self.egress) + '"')
        return None

    def _broken_reply(self, query: dns.message.Message, wire: bytes) -> bytes:
        """One of the broken middlebox's malformed replies (see BROKEN_BY_ZONE)."""
        question = query.question[0]
        qname, rdtype = question.name, question.rdtype
        how = self.broken_behaviour(qname, rdtype)
        if how == "garbage":
            noise = random.Random(zlib.crc32(wire[2:])).randbytes(46)
            return wire[:2] + noise
        if how == "echo":
            return wire
        if how == "wrong_id":
            honest = dns.message.make_response(query)
            honest.flags |= dns.flags.RA
            answer = self.data.lookup(qname, rdtype)
            honest.set_rcode(dns.rcode.from_text(answer.rcode))
            honest.answer.extend(answer.answer)
            honest.authority.extend(answer.authority)
            honest.id = (query.id + 0x5A5A) & 0xFFFF
            return honest.to_wire()
        if how == "other_question":
            other = dns.message.make_query(BROKEN_OTHER_NAME, "A")
            response = dns.message.make_response(other)
            response.id = query.id
            response.flags |= dns.flags.RA
            response.answer.append(_rrset(other.question[0].name, "A", BROKEN_OTHER_ADDRESS))
            return response.to_wire()
        response = dns.message.make_response(query)
        response.flags |= dns.flags.RA
        if how == "cname_loop":
            response.answer.append(_rrset(qname, "CNAME", qname.to_text()))
        elif how == "wrong_type":
            if rdtype == dns.rdatatype.A:
                response.answer.append(_rrset(qname, "TXT", f'"{BROKEN_OTHER_ADDRESS}"'))
            else:
                response.answer.append(_rrset(qname, "A", BROKEN_OTHER_ADDRESS))
        else:  # wrong_owner
            response.answer.append(_rrset(dns.name.from_text(BROKEN_OTHER_NAME), "A", BROKEN_OTHER_ADDRESS))
        return response.to_wire()

    def _is_refused(self, qname: dns.name.Name) -> bool:
        return any(qname != zone and qname.is_subdomain(zone) for zone in self._refused)


def _rrset(qname: dns.name.Name, rdtype: str, rdata: str) -> dns.rrset.RRset:
    return dns.rrset.from_text(qname, 300, "IN", rdtype, rdata)


def _question(wire: bytes) -> tuple[dns.name.Name, int] | None:
    """The first question of a query message, or None when it does not parse."""
    try:
        query = dns.message.from_wire(wire)
    except dns.exception.DNSException:
        return None
    if not query.question:
        return None
    return query.question[0].name, query.question[0].rdtype


def _formerr(wire: bytes) -> bytes | None:
    """FORMERR with the query's ID, or silence when not even a header came."""
    if len(wire) < 12:
        return None
    (query_id,) = struct.unpack("!H", wire[:2])
    flags = dns.flags.QR | (dns.rcode.FORMERR & 0xF)
    return struct.pack("!HHHHHH", query_id, flags, 0, 0, 0, 0)


def _fit_udp(reply: bytes, query_wire: bytes) -> bytes:
    """Apply the UDP size limit: an oversized reply goes out as header + question with TC set."""
    try:
        query = dns.message.from_wire(query_wire)
        limit = max(512, query.payload) if query.edns >= 0 else 512
    except dns.exception.DNSException:
        return reply
    if len(reply) <= limit:
        return reply
    try:
        response = dns.message.from_wire(reply)
    except dns.exception.DNSException:
        return reply[:limit]
    truncated = dns.message.make_response(query)
    truncated.flags = response.flags | dns.flags.TC
    truncated.set_rcode(response.rcode())
    return truncated.to_wire()


class FixtureServer:
    """One personality on one address, UDP and TCP on the same port, with an optional delay."""

    def __init__(self, resolver: FixtureResolver, address: str, port: int = 53, delay: float = 0.0):
        self.resolver = resolver
        self.address = address
        self.port = port
        self.delay = delay
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        loop = asyncio.get_running_loop()
        server = self

        class _Udp(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
                server._spawn(server._reply_udp(data, addr))

        wanted = self.port
        # With port 0 the kernel picks a free UDP port, which TCP may already use elsewhere: try again.
        for _attempt in range(50 if wanted == 0 else 1):
            transport, _protocol = await loop.create_datagram_endpoint(_Udp, local_addr=(self.address, wanted))
            port = transport.get_extra_info("sockname")[1]
            try:
                self._tcp = await asyncio.start_server(self._serve_tcp, self.address, port)
            except OSError:
                transport.close()
                if wanted != 0:
                    raise
                continue
            self._udp, self.port = transport, port
            return port
        raise OSError(f"no port free for both UDP and TCP on {self.address}")

    def _spawn(self, coroutine) -> None:  # type: ignore[no-untyped-def]
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _reply(self, wire: bytes) -> bytes | None:
        delay = self.delay + self.resolver.delay_for(wire)
        if delay:
            await asyncio.sleep(delay)
        return self.resolver.respond(wire)

    async def _reply_udp(self, data: bytes, addr: tuple[str, int]) -> None:
        reply = await self._reply(data)
        if reply is not None and self._udp is not None and not self._udp.is_closing():
            self._udp.sendto(_fit_udp(reply, data), addr)

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                header = await reader.readexactly(2)
                (length,) = struct.unpack("!H", header)
                wire = await reader.readexactly(length)
                reply = await self._reply(wire)
                if reply is None:
                    continue
                writer.write(struct.pack("!H", len(reply)) + reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def stop(self) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
            await self._tcp.wait_closed()
        for task in list(self._tasks):
            task.cancel()


class ThreadedFixture:
    """A fixture server on its own event loop thread, for tests on loopback (no root needed)."""

    def __init__(self, server: FixtureServer):
        self.server = server
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def __enter__(self) -> ThreadedFixture:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self._loop).result(timeout=10)
        return self

    def __exit__(self, *exc_info: object) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    @property
    def address(self) -> tuple[str, int]:
        return self.server.address, self.server.port


async def _serve_forever(servers: list[FixtureServer], announce: Callable[[str], None]) -> None:
    for server in servers:
        port = await server.start()
        announce(f"ready {server.address} {port}")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    for server in servers:
        await server.stop()


REPO = Path(__file__).resolve().parents[2]


def spawn_fixture(
    personality: str, data_file: Path, listen: str = "127.0.0.1", port: int = 0, *extra: str
) -> tuple[subprocess.Popen[str], tuple[str, int]]:
    """One fixture as a process of its own (its sockets are not the caller's), once it is ready.

    For benchmarks and tests that must not share a process with the servers they measure; the
    caller terminates the process. `extra` are more command-line options (--delay-ms, ...).
    """
    argv = [sys.executable, "-m", "tests.lab.dns_fixture", "--personality", personality, "--listen", listen]
    process = subprocess.Popen(
        [*argv, "--port", str(port), "--data", str(data_file), *extra],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{REPO / '.collections'}"},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    ready, address, bound = process.stdout.readline().split()
    assert ready == "ready", f"dns_fixture {personality} did not start"
    return process, (address, int(bound))


def parse_slow_zones(items: Iterable[str]) -> dict[str, float]:
    """`ZONE=MS` items into {zone: seconds}."""
    slow = {}
    for item in items:
        zone, sep, millis = item.partition("=")
        try:
            if not sep or not zone:
                raise ValueError(item)
            slow[zone] = float(millis) / 1000
        except ValueError:
            raise ValueError(f"--slow-zone takes ZONE=MS, got {item!r}") from None
    return slow


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve one DNS fixture personality.")
    parser.add_argument("--personality", required=True, choices=PERSONALITIES)
    parser.add_argument("--listen", action="append", required=True, help="address to bind (repeatable)")
    parser.add_argument("--port", type=int, default=53)
    parser.add_argument("--data", type=Path, required=True, help="zone data JSON written by the lab")
    parser.add_argument("--delay-ms", type=float, default=0.0, help="wait this long before each answer")
    parser.add_argument("--silent-zone", action="append", default=[], help="never answer below this zone")
    parser.add_argument(
        "--slow-zone",
        action="append",
        default=[],
        metavar="ZONE=MS",
        help="wait MS milliseconds before answering names below ZONE (repeatable)",
    )
    parser.add_argument("--egress", help="the address Spamhaus' error TXT names (default: the listen address)")
    args = parser.parse_args(argv)
    try:
        slow_zones = parse_slow_zones(args.slow_zone)
    except ValueError as error:
        parser.error(str(error))
    try:
        data = ZoneData.load(args.data)
    except (OSError, ValueError, dns.exception.DNSException) as error:
        print(f"dns_fixture: cannot load {args.data}: {error}", file=sys.stderr)
        return 2
    servers = [
        FixtureServer(
            FixtureResolver(
                args.personality,
                data,
                own_address=address,
                silent_zones=args.silent_zone,
                egress_address=args.egress,
                slow_zones=slow_zones,
            ),
            address,
            args.port,
            args.delay_ms / 1000,
        )
        for address in args.listen
    ]

    def announce(line: str) -> None:
        print(line, flush=True)

    try:
        asyncio.run(_serve_forever(servers, announce))
    except OSError as error:
        print(f"dns_fixture: cannot listen: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
