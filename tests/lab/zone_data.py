"""The lab's DNS as data: what the fixture servers answer from.

One `ZoneData` holds every record the lab serves (the lab root, DNSBL zones, PTR/A/AAAA/MX of the
lab hosts) plus *wildcard zones* (every name below the zone gets the same records: how a retired
list that "lists the world" or a list that answers 127.255.255.252 for everything behaves).
The honest authority answers from it authoritatively; the resolver personalities start from the
same answer and then lie in their own way.

It is built by `build_zone_data` from declarative DNSBL zone entries and record lines, and it
round-trips through JSON (`to_json`/`from_json`) so that fixture processes load the file the
lab wrote.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.rrset

DEFAULT_TTL = 300
ROOT_SOA = "ns.lab.test. hostmaster.lab.test. 1 3600 600 86400 300"

# RFC 5782 section 5: every IPv4 list lists 127.0.0.2 and never 127.0.0.1; IPv6 lists use
# ::FFFF:7F00:2 and ::FFFF:7F00:1; domain lists list TEST and never INVALID.
RFC5782_IPV4_LISTED = "127.0.0.2"
RFC5782_IPV6_LISTED = "::ffff:7f00:2"
RFC5782_DOMAIN_LISTED = "test"


def reverse_pointer(address: str) -> str:
    """The DNSBL/PTR owner name of an IP address, without trailing dot or zone."""
    ip = ipaddress.ip_address(address)
    return ip.reverse_pointer.removesuffix(".in-addr.arpa").removesuffix(".ip6.arpa")


@dataclass(frozen=True)
class Answer:
    """What the data says about one question: an rcode plus answer and authority RRsets."""

    rcode: str  # "NOERROR" or "NXDOMAIN"
    answer: list[dns.rrset.RRset] = field(default_factory=list)
    authority: list[dns.rrset.RRset] = field(default_factory=list)
    additional: list[dns.rrset.RRset] = field(default_factory=list)


class ZoneData:
    """Records by owner name and type, wildcard zones, and the negative-answer logic."""

    def __init__(self) -> None:
        self._rrsets: dict[tuple[dns.name.Name, int], dns.rrset.RRset] = {}
        self._owners: set[dns.name.Name] = set()
        self._ancestors: set[dns.name.Name] = set()
        self._wildcards: dict[dns.name.Name, list[tuple[int, str]]] = {}
        self._lines: list[str] = []
        self._wildcard_specs: dict[str, list[str]] = {}

    # -- building ------------------------------------------------------------------------------
    def add(self, line: str) -> None:
        """Add one record in zone-file form: `owner [ttl] TYPE rdata` (owner absolute or not)."""
        owner_text, rest = _split_owner(line)
        parts = rest.split(None, 1)
        ttl = DEFAULT_TTL
        if parts and parts[0].isdigit():
            ttl = int(parts[0])
            parts = parts[1].split(None, 1)
        if len(parts) != 2:
            raise ValueError(f"record needs 'owner [ttl] TYPE rdata': {line!r}")
        rdtype_text, rdata_text = parts
        owner = dns.name.from_text(owner_text)
        rdtype = dns.rdatatype.from_text(rdtype_text)
        new = dns.rrset.from_text(owner, ttl, dns.rdataclass.IN, rdtype, rdata_text)
        key = (owner, rdtype)
        if key in self._rrsets:
            self._rrsets[key].union_update(new)
        else:
            self._rrsets[key] = new
        self._owners.add(owner)
        parent = owner
        while parent != dns.name.root:
            parent = parent.parent()
            self._ancestors.add(parent)
        self._lines.append(f"{owner.to_text()} {ttl} {rdtype_text.upper()} {rdata_text}")

    def add_wildcard_zone(self, zone: str, records: list[str]) -> None:
        """Every name strictly below `zone` answers `records` (lines of `TYPE rdata`)."""
        name = dns.name.from_text(zone)
        parsed = []
        for record in records:
            rdtype_text, rdata_text = record.split(None, 1)
            parsed.append((dns.rdatatype.from_text(rdtype_text), rdata_text))
        self._wildcards[name] = parsed
        self._wildcard_specs[name.to_text()] = list(records)
        parent = name
        while parent != dns.name.root:
            parent = parent.parent()
            self._ancestors.add(parent)

    # -- serialisation -------------------------------------------------------------------------
    def to_json(self) -> str:
        return json.dumps({"records": self._lines, "wildcard_zones": self._wildcard_specs}, indent=1)

    @classmethod
    def from_json(cls, text: str) -> ZoneData:
        raw = json.loads(text)
        data = cls()
        for line in raw.get("records", []):
            data.add(line)
        for zone, records in raw.get("wildcard_zones", {}).items():
            data.add_wildcard_zone(zone, records)
        return data

    @classmethod
    def load(cls, path: Path) -> ZoneData:
        return cls.from_json(path.read_text())

    # -- answering -----------------------------------------------------------------------------
    def lookup(self, qname: dns.name.Name, rdtype: int) -> Answer:
        """Answer as an authority for every lab name would: data, CNAME, NODATA or NXDOMAIN."""
        if qname in self._owners:
            exact = self._rrsets.get((qname, rdtype))
            if exact is not None:
                return Answer("NOERROR", [exact], additional=self._glue(exact))
            cname = self._rrsets.get((qname, dns.rdatatype.CNAME))
            if cname is not None and rdtype != dns.rdatatype.CNAME:
                chased = self.lookup(cname[0].target, rdtype) if len(cname) else Answer("NOERROR")
                return Answer(chased.rcode, [cname, *chased.answer], chased.authority)
            return Answer("NOERROR", authority=[self._soa_for(qname)])
        wildcard = self._wildcard_for(qname)
        if wildcard is not None:
            matching = [rdata for (t, rdata) in wildcard if t == rdtype]
            if matching:
                rrset = dns.rrset.from_text(qname, DEFAULT_TTL, dns.rdataclass.IN, rdtype, *matching)
                return Answer("NOERROR", [rrset])
            return Answer("NOERROR", authority=[self._soa_for(qname)])
        if qname in self._ancestors or qname == dns.name.root:
            return Answer("NOERROR", authority=[self._soa_for(qname)])
        return Answer("NXDOMAIN", authority=[self._soa_for(qname)])

    def _glue(self, rrset: dns.rrset.RRset) -> list[dns.rrset.RRset]:
        """Addresses of the targets of an NS or MX answer (what lets a resolver use `. NS`)."""
        if rrset.rdtype not in (dns.rdatatype.NS, dns.rdatatype.MX):
            return []
        glue = []
        for rdata in rrset:
            target = rdata.target if rrset.rdtype == dns.rdatatype.NS else rdata.exchange
            for address_type in (dns.rdatatype.A, dns.rdatatype.AAAA):
                found = self._rrsets.get((target, address_type))
                if found is not None:
                    glue.append(found)
        return glue

    def _wildcard_for(self, qname: dns.name.Name) -> list[tuple[int, str]] | None:
        for zone, records in self._wildcards.items():
            if qname != zone and qname.is_subdomain(zone):
                return records
        return None

    def _soa_for(self, qname: dns.name.Name) -> dns.rrset.RRset:
        name = qname
        while True:
            soa = self._rrsets.get((name, dns.rdatatype.SOA))
            if soa is not None:
                return soa
            if name == dns.name.root:
                return dns.rrset.from_text(dns.name.root, DEFAULT_TTL, "IN", "SOA", ROOT_SOA)
            name = name.parent()


def _split_owner(line: str) -> tuple[str, str]:
    parts = line.strip().split(None, 1)
    if len(parts) != 2:
        raise ValueError(f"record needs 'owner [ttl] TYPE rdata': {line!r}")
    owner, rest = parts
    return (owner if owner.endswith(".") else owner + "."), rest


def dnsbl_zone_records(spec: dict[str, Any]) -> tuple[list[str], list[str] | None]:
    """Expand one declarative DNSBL zone entry into record lines (and wildcard records, if any).

    spec keys: zone, kind (ip|domain), listed ({ip-or-name: [codes]}), txt (format string with
    {query} and {zone}), ipv6 (serve the IPv6 test point), test_points (false: a dead list),
    answer_all (codes every name below the zone answers: a list that lists the world).
    """
    zone = spec["zone"].rstrip(".")
    kind = spec.get("kind", "ip")
    txt = spec.get("txt", "Listed; see https://lookup.lab.test/{zone}/{query}")
    codes_for_all = spec.get("answer_all")
    if codes_for_all:
        wildcard = [f"A {code}" for code in codes_for_all]
        wildcard.append(f'TXT "{txt.format(zone=zone, query="any")}"')
        return [f"{zone}. NS ns.lab.test."], wildcard

    listed: dict[str, list[str]] = {}
    if not spec.get("test_points", True):
        pass  # a dead list: the zone exists, its test point is not listed
    elif kind == "ip":
        listed[RFC5782_IPV4_LISTED] = ["127.0.0.2"]
        if spec.get("ipv6"):
            listed[RFC5782_IPV6_LISTED] = ["127.0.0.2"]
    else:
        listed[RFC5782_DOMAIN_LISTED] = ["127.0.1.2"]
    for key, codes in (spec.get("listed") or {}).items():
        listed[str(key)] = [str(code) for code in codes]

    lines = [f"{zone}. NS ns.lab.test.", f"{zone}. SOA ns.lab.test. hostmaster.lab.test. 1 3600 600 86400 60"]
    for key, codes in listed.items():
        owner = reverse_pointer(key) if kind == "ip" else key.rstrip(".")
        name = f"{owner}.{zone}."
        lines.extend(f"{name} A {code}" for code in codes)
        lines.append(f'{name} TXT "{txt.format(zone=zone, query=key)}"')
    return lines, None


def build_zone_data(dnsbl_zones: list[dict[str, Any]], records: list[str]) -> ZoneData:
    data = ZoneData()
    for spec in dnsbl_zones:
        lines, wildcard = dnsbl_zone_records(spec)
        for line in lines:
            data.add(line)
        if wildcard is not None:
            data.add_wildcard_zone(spec["zone"], wildcard)
    for line in records:
        data.add(line)
    return data
