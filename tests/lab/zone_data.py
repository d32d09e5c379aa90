"""The lab's DNS as data: what the fixture servers answer from.

One `ZoneData` holds every record the lab serves (the lab root, DNSBL zones, PTR/A/AAAA/MX of the
lab hosts) plus *wildcard zones* (every name below the zone gets the same records: how a retired
list that "lists the world" or a list that answers 127.255.255.252 for everything behaves).
The honest authority answers from it authoritatively; the resolver personalities start from the
same answer and then lie in their own way.

It is built by `build_zone_data` from declarative DNSBL zone entries and record lines, and it
round-trips through JSON (`to_json`/`from_json`) so that fixture processes load the file the
lab wrote. The lab's DNSBL zone entries come from the collection's DNSBL catalog
(`lab_dnsbl_zones`): every catalog list is served with the catalog's kind, IPv6 support and
test points, its DQS twin for the lab's test key beside it; base.yml adds only what is the lab's
own (listed entries, TXT wording, zones the catalog does not hold).
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

from ansible_collections.maildns.audit.plugins.module_utils.dnsbl_catalog import CATALOG as DNSBL_CATALOG
from ansible_collections.maildns.audit.plugins.module_utils.dnsbl_catalog import Dnsbl, filter_matches

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
            return Answer("NOERROR", authority=[self.soa_for(qname)])
        wildcard = self._wildcard_for(qname)
        if wildcard is not None:
            matching = [rdata for (t, rdata) in wildcard if t == rdtype]
            if matching:
                rrset = dns.rrset.from_text(qname, DEFAULT_TTL, dns.rdataclass.IN, rdtype, *matching)
                return Answer("NOERROR", [rrset])
            return Answer("NOERROR", authority=[self.soa_for(qname)])
        if qname in self._ancestors or qname == dns.name.root:
            return Answer("NOERROR", authority=[self.soa_for(qname)])
        return Answer("NXDOMAIN", authority=[self.soa_for(qname)])

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

    def soa_for(self, qname: dns.name.Name) -> dns.rrset.RRset:
        """The SOA of the closest enclosing zone (what a negative answer carries in authority)."""
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
    {query} and {zone}), ipv6 (serve the IPv6 test point), test_points (true: RFC 5782's; a list:
    these names are listed; false: a dead list), test_code (what a test point answers: 127.0.0.2,
    127.0.1.2 for a domain list), answer_all (codes every name below the zone answers: a list that
    lists the world).
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
    test_points = spec.get("test_points", True)
    test_code = str(spec.get("test_code") or ("127.0.0.2" if kind == "ip" else "127.0.1.2"))
    if test_points is True:
        if kind == "ip":
            test_points = [RFC5782_IPV4_LISTED] + ([RFC5782_IPV6_LISTED] if spec.get("ipv6") else [])
        else:
            test_points = [RFC5782_DOMAIN_LISTED]
    for point in test_points or ():  # false: a dead list, the zone exists, its test point is not listed
        listed[str(point)] = [test_code]
    for key, codes in (spec.get("listed") or {}).items():
        listed[str(key)] = [str(code) for code in codes]

    lines = [f"{zone}. NS ns.lab.test.", f"{zone}. SOA ns.lab.test. hostmaster.lab.test. 1 3600 600 86400 60"]
    for key, codes in listed.items():
        owner = reverse_pointer(key) if kind == "ip" else key.rstrip(".")
        name = f"{owner}.{zone}."
        lines.extend(f"{name} A {code}" for code in codes)
        lines.append(f'{name} TXT "{txt.format(zone=zone, query=key)}"')
    return lines, None


# What a base.yml entry may say about a zone the catalog holds: the rest comes from the catalog.
LAB_ONLY_KEYS = frozenset({"zone", "listed", "txt"})


def catalog_zone_spec(entry: Dnsbl) -> dict[str, Any]:
    """How the lab serves one catalog list: its kind, IPv6 and test points, as the catalog says.

    A retired list that lists the world answers 127.0.0.2 for every name; any other retired list
    is dead (the zone is there, its test point is not listed).
    """
    spec: dict[str, Any] = {"zone": entry.zone, "kind": entry.kind, "ipv6": entry.ipv6}
    if entry.lookup_url:
        spec["txt"] = entry.lookup_url
    if entry.status == "retired":
        if entry.lists_the_world:
            spec["answer_all"] = ["127.0.0.2"]
            spec["txt"] = f"{entry.operator} has shut down ({entry.history})"
        else:
            spec["test_points"] = False
        return spec
    spec["test_points"] = list(entry.test_points["listed"])
    # The test point answers the first listing code that the list's own reply filter admits.
    literal = [code for code in entry.codes if filter_matches(entry.reply_filter, code)]
    if literal:
        spec["test_code"] = literal[0]
    return spec


def lab_dnsbl_zones(
    lab_zones: list[dict[str, Any]], dqs_key: str | None = None, catalog: dict[str, Dnsbl] | None = None
) -> list[dict[str, Any]]:
    """Every zone the lab serves: the catalog's lists (with base.yml's lab-only additions), their
    DQS twins for `dqs_key`, then base.yml's zones that the catalog does not hold.

    A base.yml entry for a catalog zone may only add `listed` entries and `txt`: anything else
    (kind, ipv6, test points) would say something the catalog already says, and could disagree.
    """
    catalog = DNSBL_CATALOG if catalog is None else catalog
    extra = {str(spec["zone"]).rstrip(".").lower(): spec for spec in lab_zones}
    zones = []
    for zone, entry in catalog.items():
        spec = catalog_zone_spec(entry)
        own = extra.pop(zone, None)
        if own is not None:
            repeated = sorted(set(own) - LAB_ONLY_KEYS)
            if repeated:
                raise ValueError(
                    f"base.yml dnsbl_zones {zone}: {', '.join(repeated)} come from the DNSBL catalog; "
                    f"a lab entry for a catalog zone holds only {', '.join(sorted(LAB_ONLY_KEYS - {'zone'}))}"
                )
            spec.update({key: value for key, value in own.items() if key != "zone"})
        zones.append(spec)
        if dqs_key and entry.dqs_zone:
            zones.append(dict(spec, zone=entry.dqs_zone.replace("<key>", dqs_key)))
    clashes = sorted(zone for zone in extra if any(z["zone"] == zone for z in zones))
    if clashes:
        raise ValueError(f"base.yml dnsbl_zones: {', '.join(clashes)} is a DQS zone the catalog already gives")
    zones.extend(extra.values())
    return zones


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
