"""Scenarios: declarative descriptions of lab hosts, rendered into files and DNS data.

A scenario file (`tests/lab/scenarios/NAME.yml`) says in a few lines what makes a host special:

    description: resolv.conf points at a public resolver that Spamhaus refuses
    files:
      /etc/resolv.conf: |
        nameserver {{ fixtures.public }}
    postconf:
      smtpd_client_restrictions: permit_mynetworks, reject_rbl_client zen.spamhaus.org

Everything it does not say comes from the `host` part of `base.yml`. Strings are Jinja templates
with `host` (name, address, address6, fqdn, domain), `fixtures` (fixture name -> address, the
names of base.yml's `fixtures`) and `lab` (authority name and address) in scope. A test can
also pass a scenario as a dict.
"""

from __future__ import annotations

import copy
import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import yaml

from tests.lab.dns_fixture import PERSONALITIES
from tests.lab.zone_data import ZoneData, build_zone_data, lab_dnsbl_zones

LAB_DIR = Path(__file__).resolve().parent
SCENARIO_DIR = LAB_DIR / "scenarios"
BASE_FILE = LAB_DIR / "base.yml"
LAB_DOMAIN = "lab.test"  # RFC 6761 reserves .test: no lab name can ever be real
AUTHORITY_NAME = "ns.lab.test."

# The directories of a host's own file system view, and the host directory that backs each:
# overlays over the machine's directory (the upper directory, beside its `.work` directory) and
# binds of an empty directory of its own. Scenarios place files under these paths only; everything
# else on a host is the machine's own.
HOST_OVERLAYS = {"/etc": "etc.upper", "/var/lib": "varlib.upper", "/var/spool": "spool.upper", "/root": "root.upper"}
HOST_BINDS = {"/run": "run", "/var/log": "log"}
FILE_ROOTS = {**HOST_OVERLAYS, **HOST_BINDS}


class ScenarioError(ValueError):
    """A scenario that cannot be rendered: the message names the scenario and the field."""


def load_base() -> dict[str, Any]:
    return yaml.safe_load(BASE_FILE.read_text())


@dataclass(frozen=True)
class FixtureSpec:
    """One DNS fixture of base.yml: its name (what scenarios say), octet, personality, options."""

    name: str
    octet: int
    personality: str
    delay_ms: float = 0.0
    slow_zones: dict[str, float] = field(default_factory=dict)  # zone -> milliseconds
    egress: str = ""  # an octet in the fixture net or an address; "" for the fixture's own

    def egress_address(self, net: str) -> str:
        """The address Spamhaus' error TXT names for this fixture, in lab `net` (10.N)."""
        if not self.egress:
            return ""
        return f"{net}.53.{self.egress}" if self.egress.isdigit() else self.egress

    def argv(self, net: str) -> list[str]:
        """The fixture's options on the dns_fixture command line."""
        argv = ["--personality", self.personality]
        if self.delay_ms:
            argv += ["--delay-ms", str(self.delay_ms)]
        for zone, millis in self.slow_zones.items():
            argv += ["--slow-zone", f"{zone}={millis}"]
        if self.egress:
            argv += ["--egress", self.egress_address(net)]
        return argv


def fixture_specs(base: dict[str, Any]) -> list[FixtureSpec]:
    """base.yml's `fixtures`: `name: octet` or `name: {octet, personality, delay_ms, slow_zones, egress}`."""
    specs = []
    for name, value in (base.get("fixtures") or {}).items():
        entry = value if isinstance(value, dict) else {"octet": value}
        unknown = set(entry) - {"octet", "personality", "delay_ms", "slow_zones", "egress"}
        if unknown:
            raise ScenarioError(f"base.yml fixture {name}: unknown keys {sorted(unknown)}")
        personality = str(entry.get("personality", name))
        if personality not in PERSONALITIES:
            raise ScenarioError(f"base.yml fixture {name}: no personality {personality!r}")
        octet = entry.get("octet")
        if not isinstance(octet, int) or not 1 <= octet <= 254:
            raise ScenarioError(f"base.yml fixture {name}: octet must be 1..254, got {octet!r}")
        specs.append(
            FixtureSpec(
                name=str(name),
                octet=octet,
                personality=personality,
                delay_ms=float(entry.get("delay_ms") or 0),
                slow_zones={str(zone): float(ms) for zone, ms in (entry.get("slow_zones") or {}).items()},
                egress=str(entry.get("egress") or ""),
            )
        )
    octets = [spec.octet for spec in specs]
    if len(set(octets)) != len(octets):
        raise ScenarioError(f"base.yml fixtures: two fixtures share an octet ({sorted(octets)})")
    taken = [spec.name for spec in specs if spec.egress.isdigit() and int(spec.egress) in octets]
    if taken:
        raise ScenarioError(f"base.yml fixtures {taken}: the egress octet is a served fixture's; pick a free one")
    return specs


def available_scenarios(directory: Path = SCENARIO_DIR) -> list[str]:
    return sorted(path.stem for path in directory.glob("*.yml"))


def load_scenario(name_or_spec: str | dict[str, Any], directory: Path = SCENARIO_DIR) -> dict[str, Any]:
    if isinstance(name_or_spec, dict):
        return copy.deepcopy(name_or_spec)
    path = directory / f"{name_or_spec}.yml"
    if not path.is_file():
        known = ", ".join(available_scenarios(directory)) or "none"
        raise ScenarioError(f"no scenario {name_or_spec!r} in {directory} (known: {known})")
    loaded = yaml.safe_load(path.read_text()) or {}
    if not isinstance(loaded, dict):
        raise ScenarioError(f"scenario {path} must be a mapping")
    return loaded


def merge_host(base: dict[str, Any], scenario: dict[str, Any]) -> dict[str, Any]:
    """Scenario over base: mappings merge key by key (None deletes), anything else replaces."""
    merged = copy.deepcopy(base)
    for key, value in scenario.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_host(merged[key], value)
        elif value is None:
            merged.pop(key, None)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


@dataclass(frozen=True)
class HostIdentity:
    """Where a lab host lives: names and addresses, the context its scenario is rendered with."""

    name: str
    index: int
    address: str
    address6: str

    @property
    def domain(self) -> str:
        return f"{self.name}.{LAB_DOMAIN}"

    @property
    def fqdn(self) -> str:
        return f"mail.{self.domain}"

    def as_context(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "index": self.index,
            "address": self.address,
            "address6": self.address6,
            "domain": self.domain,
            "fqdn": self.fqdn,
        }


@dataclass
class RenderedHost:
    """A scenario made concrete for one host: file contents, main.cf, master.cf edits, DNS."""

    identity: HostIdentity
    scenario: str
    description: str
    files: dict[str, str]
    postconf: dict[str, str]
    postconf_services: list[str]
    remove: list[str] = field(default_factory=list)
    journal: list[tuple[str, str]] = field(default_factory=list)
    dns_records: list[str] = field(default_factory=list)
    dns_listed: dict[str, list[str]] = field(default_factory=dict)

    def main_cf(self) -> str:
        lines = [f"# main.cf of lab host {self.identity.name} (scenario {self.scenario})"]
        for name, value in self.postconf.items():
            value_lines = str(value).strip().splitlines() or [""]
            lines.append(f"{name} = {value_lines[0].strip()}".rstrip())
            lines.extend(f"    {line.strip()}" for line in value_lines[1:] if line.strip())
        return "\n".join(lines) + "\n"


_JINJA = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)


def _render(value: Any, context: dict[str, Any], where: str) -> Any:
    if isinstance(value, str):
        try:
            return _JINJA.from_string(value).render(context)
        except jinja2.TemplateError as error:
            raise ScenarioError(f"{where}: {error}") from error
    if isinstance(value, list):
        return [_render(item, context, where) for item in value]
    if isinstance(value, dict):
        return {key: _render(item, context, f"{where}.{key}") for key, item in value.items()}
    return value


def render_host(
    identity: HostIdentity,
    scenario_name: str,
    scenario: dict[str, Any],
    base: dict[str, Any],
    fixture_addresses: dict[str, str],
    authority_address: str,
) -> RenderedHost:
    unknown = set(scenario) - {
        "description",
        "files",
        "remove",
        "journal",
        "postconf",
        "postconf_services",
        "identity",
        "dns",
    }
    if unknown:
        raise ScenarioError(f"scenario {scenario_name}: unknown keys {sorted(unknown)}")
    spec = merge_host(base["host"], scenario)
    context = {
        "host": identity.as_context(),
        "fixtures": fixture_addresses,
        "lab": {"authority": authority_address, "authority_name": AUTHORITY_NAME},
    }
    where = f"scenario {scenario_name}"
    files = _render(spec.get("files") or {}, context, f"{where} files")
    for path in files:
        if not any(path == root or path.startswith(root + "/") for root in FILE_ROOTS):
            raise ScenarioError(f"{where}: cannot place {path}; files go under {', '.join(FILE_ROOTS)}")
    postconf = {
        k: "" if v is None else str(v)
        for k, v in _render(spec.get("postconf") or {}, context, f"{where} postconf").items()
    }
    identity_spec = _render(spec.get("identity") or {}, context, f"{where} identity")
    dns_spec = _render(spec.get("dns") or {}, context, f"{where} dns")
    return RenderedHost(
        identity=identity,
        scenario=scenario_name,
        description=str(spec.get("description", scenario.get("description", ""))).strip(),
        files=files,
        postconf=postconf,
        postconf_services=list(_render(spec.get("postconf_services") or [], context, where)),
        remove=_removable(spec.get("remove") or [], files, where),
        journal=_journal_entries(_render(spec.get("journal") or [], context, f"{where} journal"), where),
        dns_records=identity_records(identity, identity_spec) + list(dns_spec.get("records") or []),
        dns_listed={
            zone: [str(entry) for entry in entries] for zone, entries in (dns_spec.get("listed") or {}).items()
        },
    )


def _journal_entries(entries: list[Any], where: str) -> list[tuple[str, str]]:
    """`journal:` entries, each {identifier, message}: what the host logged to the journal."""
    parsed = []
    for entry in entries:
        if not isinstance(entry, dict) or set(entry) != {"identifier", "message"}:
            raise ScenarioError(f"{where}: journal entries are {{identifier, message}}, got {entry!r}")
        parsed.append((str(entry["identifier"]), str(entry["message"])))
    return parsed


def _removable(paths: list[Any], files: dict[str, str], where: str) -> list[str]:
    """Paths a scenario hides from the host; only overlays can hide a file (with a whiteout)."""
    for path in paths:
        if not isinstance(path, str) or not any(path.startswith(root + "/") for root in HOST_OVERLAYS):
            raise ScenarioError(f"{where}: cannot remove {path!r}; only files under {', '.join(HOST_OVERLAYS)}")
        if path in files:
            raise ScenarioError(f"{where}: {path} is both placed (files:) and removed (remove:); keep one")
    return [str(path) for path in paths]


def identity_records(identity: HostIdentity, spec: dict[str, Any]) -> list[str]:
    """A/AAAA of the host name, PTR of its addresses and MX of its domain, as the spec says."""
    records = []
    if spec.get("forward", True):
        records.append(f"{identity.fqdn}. A {identity.address}")
        records.append(f"{identity.fqdn}. AAAA {identity.address6}")
    ptr = spec.get("ptr")
    if ptr:
        target = ptr if ptr.endswith(".") else ptr + "."
        for address in (identity.address, identity.address6):
            records.append(f"{ipaddress.ip_address(address).reverse_pointer}. PTR {target}")
    mx = spec.get("mx")
    if mx:
        target = mx if mx.endswith(".") else mx + "."
        records.append(f"{identity.domain}. MX 10 {target}")
    return records


def lab_zone_data(base: dict[str, Any], hosts: list[RenderedHost], authority_address: str) -> ZoneData:
    """Everything the fixtures serve: the root, DNSBL zones (with host listings), host records."""
    try:
        zones = lab_dnsbl_zones(copy.deepcopy(base.get("dnsbl_zones") or []), base.get("dqs_key"))
    except ValueError as error:
        raise ScenarioError(str(error)) from error
    by_zone = {spec["zone"]: spec for spec in zones}
    for host in hosts:
        for zone, entries in host.dns_listed.items():
            if zone not in by_zone:
                raise ScenarioError(f"scenario {host.scenario}: {zone} is not a lab DNSBL zone (base.yml)")
            listed = by_zone[zone].setdefault("listed", {})
            for entry in entries:
                listed.setdefault(entry, ["127.0.0.2"])
    records = [
        f". NS {AUTHORITY_NAME}",
        f". SOA {AUTHORITY_NAME} hostmaster.lab.test. 1 3600 600 86400 300",
        f"{AUTHORITY_NAME} A {authority_address}",
        *(base.get("records") or []),
    ]
    for host in hosts:
        records.extend(host.dns_records)
    try:
        return build_zone_data(zones, records)
    except Exception as error:  # dnspython raises many kinds for a bad record line
        raise ScenarioError(f"lab DNS data: {error}") from error
