# Copyright: maildns.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The resolver path of a host: where its DNS queries (and so its DNSBL queries) really go.

Private to the collection. Runs on managed hosts: Python 3.8 syntax.

read -> model: `read_resolver_path(files)` reads resolv.conf, finds what serves a loopback
nameserver (systemd-resolved, Unbound, BIND, dnsmasq, pdns-recursor: by listening socket and by
configuration), follows that resolver's forwarders, and compares Postfix's chroot copy.
judge: `judge_resolver_path(path)` turns the model into findings.
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import asdict, dataclass, field

from ansible_collections.maildns.audit.plugins.module_utils.files import HostFiles
from ansible_collections.maildns.audit.plugins.module_utils.findings import Check, Finding
from ansible_collections.maildns.audit.plugins.module_utils.public_resolvers import (
    LOOPBACK,
    PUBLIC_KNOWN,
    PUBLIC_UNKNOWN,
    classify_address,
)

GLIBC_MAXNS = 3  # glibc uses the first three valid nameserver lines and ignores the rest
RESOLVED_STUB = "127.0.0.53"
GLIBC_DEFAULT = "127.0.0.1"  # glibc's nameserver when resolv.conf gives it no valid one


@dataclass
class Nameserver:
    address: str
    line: int
    address_class: str = ""
    provider: str | None = None
    used: bool = True  # False past glibc's third valid nameserver
    text: str = ""  # as written, when glibc's reading differs (`127.1` is 127.0.0.1, `fe80::1%eth0`)

    def __post_init__(self) -> None:
        self.address_class, self.provider = classify_address(self.address)


@dataclass
class ResolvConf:
    path: str
    exists: bool
    nameservers: list = field(default_factory=list)  # the lines glibc takes, in order
    invalid_nameservers: list = field(default_factory=list)  # [{line, nameserver, reason}]: lines glibc skips
    search: list = field(default_factory=list)
    options: dict = field(default_factory=dict)
    problem: str = ""  # could not be read: the check is unknown
    absent_because: str = ""  # missing, or a dangling link (a stopped systemd-resolved's stub)

    @property
    def effective_nameservers(self) -> list:
        used = [ns for ns in self.nameservers if ns.used]
        return used or [Nameserver(GLIBC_DEFAULT, 0)]  # glibc's default without a valid nameserver line

    @property
    def uses_glibc_default(self) -> bool:
        return not self.nameservers

    def effective_description(self) -> list:
        """What glibc asks, for evidence: the addresses, or its default named as such."""
        if self.uses_glibc_default:
            return [f"{GLIBC_DEFAULT} (glibc default)"]
        return [ns.address for ns in self.effective_nameservers]


def _inet_aton_part(text: str) -> int | None:
    """One part of an inet_aton address: decimal, 0-prefixed octal or 0x-prefixed hexadecimal."""
    if not text or not text[0].isdigit():
        return None
    try:
        if text[:2] in ("0x", "0X"):
            return int(text[2:], 16) if text[2:] and all(c in "0123456789abcdefABCDEF" for c in text[2:]) else None
        if text.startswith("0") and len(text) > 1:
            return int(text[1:], 8) if text[1:].isdigit() else None
        return int(text) if text.isdigit() else None
    except ValueError:  # an 8 or 9 in an octal part
        return None


def inet_aton_exact(text: str) -> str | None:
    """glibc's `__inet_aton_exact`: `a.b.c.d`, `a.b.c` (c fills 16 bits), `a.b` (24), `a` (32) -> dotted quad."""
    parts = text.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    values = [_inet_aton_part(part) for part in parts]
    if any(value is None for value in values):
        return None
    *leading, last = values
    last_limit = (0xFFFFFFFF, 0xFFFFFF, 0xFFFF, 0xFF)[len(leading)]
    if any(value > 0xFF for value in leading) or last > last_limit:  # type: ignore[operator]
        return None
    number = 0
    for value in leading:
        number = (number << 8) | value  # type: ignore[operator]
    number = (number << (8 * (4 - len(leading)))) | last  # type: ignore[operator]
    return ".".join(str((number >> shift) & 0xFF) for shift in (24, 16, 8, 0))


def glibc_nameserver(text: str) -> str | None:
    """The address glibc's res_init takes from a `nameserver` value, or None when it skips the line.

    glibc (resolv/res_init.c, res_vinit_1) cuts the value at the first blank, tries
    `__inet_aton_exact` (IPv4, shorthand and octal/hex forms included), then cuts at `%` (the IPv6
    scope, whose errors it ignores) and tries `inet_pton(AF_INET6)`. A value that is neither is
    dropped without a word: it is not added to the list and so does not count toward the three
    nameservers glibc keeps (MAXNS); with no valid line at all glibc asks 127.0.0.1.
    """
    import ipaddress

    address = inet_aton_exact(text)
    if address is not None:
        return address
    candidate, percent, scope = text.partition("%")
    if not candidate or ":" not in candidate:
        return None
    try:
        address = str(ipaddress.IPv6Address(candidate))
    except ValueError:
        return None
    return f"{address}%{scope}" if percent and scope else address  # the scope picks the link


def _nameserver_line(raw: str) -> tuple | None:
    """(value, reason glibc skips it or "") for a nameserver line; None when the line is no nameserver line.

    glibc reads a keyword only at the start of a line, in lower case, followed by a blank.
    """
    stripped = raw.strip()
    keyword = stripped.split(None, 1)[0] if stripped else ""
    if keyword.lower() != "nameserver" or stripped.startswith(("#", ";")):
        return None
    value = stripped[len(keyword) :].strip().split(None, 1)
    text = value[0] if value else ""
    if raw[:1] in " \t":
        return text, "indented: glibc reads keywords only at the start of a line"
    if keyword != "nameserver":
        return text, f"'{keyword}': glibc reads the keyword in lower case only"
    if not text:
        return text, "no address on the line"
    if glibc_nameserver(text) is None:
        return text, "not an IP address"
    return text, ""


def parse_resolv_conf(text: str, path: str = "/etc/resolv.conf") -> ResolvConf:
    conf = ResolvConf(path=path, exists=True)
    for number, raw in enumerate(text.splitlines(), 1):
        nameserver = _nameserver_line(raw)
        if nameserver is not None:
            value, reason = nameserver
            if reason:
                conf.invalid_nameservers.append({"line": number, "nameserver": value, "reason": reason})
            else:
                address = glibc_nameserver(value) or value
                conf.nameservers.append(Nameserver(address, number, text="" if address == value else value))
            continue
        line = raw.split("#", 1)[0].split(";", 1)[0].strip()
        if not line:
            continue
        keyword, _sep, rest = line.partition(" ")
        keyword = keyword.strip().lower()
        values = rest.split()
        if keyword in ("search", "domain"):
            conf.search = values  # the last search/domain line wins
        elif keyword == "options":
            for option in values:
                name, _sep, value = option.partition(":")
                conf.options[name] = int(value) if value.isdigit() else (value or True)
    for extra in conf.nameservers[GLIBC_MAXNS:]:
        extra.used = False
    return conf


def read_resolv_conf(files: HostFiles, path: str = "/etc/resolv.conf") -> ResolvConf:
    text, problem = files.read_config(path)
    if problem is not None and problem.kind == "missing":
        return ResolvConf(path=path, exists=False, absent_because=problem.reason)
    if problem is not None:
        return ResolvConf(path=path, exists=True, problem=problem.reason)
    return parse_resolv_conf(text or "", path)


# -- what serves a loopback nameserver ----------------------------------------------------------------


@dataclass
class LocalResolver:
    """A resolver running on the host, and where it sends what it does not answer itself."""

    software: str  # systemd-resolved | unbound | bind | dnsmasq | pdns-recursor
    config_files: list = field(default_factory=list)
    forwarders: list = field(default_factory=list)  # [{address, source, line, class, provider, role}]
    listening: list = field(default_factory=list)  # loopback addresses seen listening on port 53
    running: bool | None = None  # None: could not tell (no /proc access)
    # Unbound only, for remediation: its forward zones with the lines they span, the `server:`
    # options as written, and its include lines.
    forward_zones: list = field(default_factory=list)  # [{name, source, start, end}]
    server_options: dict = field(default_factory=dict)  # {option: [{value, source, line}]}
    includes: list = field(default_factory=list)  # [{pattern, source, line, toplevel}]


def _forwarder(address: str, source: str, line: int, role: str = "forward") -> dict:
    address = address.split("@", 1)[0].split("#", 1)[0].strip().strip("[]")
    address_class, provider = classify_address(address)
    return {
        "address": address,
        "source": source,
        "line": line,
        "class": address_class,
        "provider": provider,
        "role": role,
    }


def _config_lines(files: HostFiles, patterns: list) -> list:
    """(path, line number, stripped line) of every readable file matching the host path patterns."""
    found = []
    for pattern in patterns:
        for real in sorted(glob.glob(files.path(pattern))):
            shown = "/" + os.path.relpath(real, files.path("/")) if files.root not in ("", "/") else real
            text, problem = files.read_config(shown)
            if problem is None and text is not None:
                for number, raw in enumerate(text.splitlines(), 1):
                    found.append((shown, number, raw.strip()))
    return found


RESOLVED_DROP_IN_DIRECTORIES = (
    "/etc/systemd/resolved.conf.d",
    "/run/systemd/resolved.conf.d",
    "/usr/lib/systemd/resolved.conf.d",
)


def resolved_config_files(files: HostFiles) -> list:
    """resolved.conf, then its drop-ins in the order systemd reads them.

    systemd-resolved reads the drop-ins of all three folders sorted by file name, a name in /etc
    hiding the same name in /run and /usr/lib (systemd.unit(5), "drop-in"); a later file wins.
    """
    by_name: dict = {}
    for directory in RESOLVED_DROP_IN_DIRECTORIES:
        for real in sorted(glob.glob(files.path(directory + "/*.conf"))):
            by_name.setdefault(os.path.basename(real), directory + "/" + os.path.basename(real))
    return ["/etc/systemd/resolved.conf"] + [by_name[name] for name in sorted(by_name)]


def systemd_resolved(files: HostFiles) -> LocalResolver | None:
    lines = _config_lines(files, resolved_config_files(files))
    runtime = "/run/systemd/resolve/resolv.conf"
    if not lines and not files.exists(runtime):
        return None
    resolver = LocalResolver("systemd-resolved", sorted({path for path, _number, _line in lines}))
    # DNS= and FallbackDNS= are lists: each assignment adds to what the files before it said, and an
    # empty assignment clears it (resolved.conf(5)). What the last file leaves is what resolved uses.
    listed: dict = {"DNS": [], "FallbackDNS": []}
    for path, number, line in lines:
        match = re.match(r"^(DNS|FallbackDNS)\s*=\s*(.*)$", line)
        if match:
            role = "fallback" if match.group(1) == "FallbackDNS" else "forward"
            if not match.group(2).strip():
                listed[match.group(1)] = []
            for address in match.group(2).split():
                listed[match.group(1)].append(_forwarder(address, path, number, role))
    resolver.forwarders = listed["DNS"] + listed["FallbackDNS"]
    # What resolved really uses, per-link (DHCP) servers included.
    text, problem = files.read_config(runtime)
    if problem is None and text:
        for nameserver in parse_resolv_conf(text, runtime).nameservers:
            resolver.forwarders.append(_forwarder(nameserver.address, runtime, nameserver.line, "runtime"))
    return resolver


def unbound(files: HostFiles) -> LocalResolver | None:
    lines = _config_lines(
        files, ["/etc/unbound/unbound.conf", "/etc/unbound/unbound.conf.d/*.conf", "/etc/unbound/conf.d/*.conf"]
    )
    if not lines:
        return None
    resolver = LocalResolver("unbound", sorted({path for path, _number, _line in lines}))
    clause, zone = "", None  # the clause a line is in; the forward zone being read
    for path, number, line in lines:
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        key, _sep, value = line.partition(":")
        key, value = key.strip(), value.strip().strip('"')
        if key in ("include", "include-toplevel"):
            resolver.includes.append(
                {"pattern": value, "source": path, "line": number, "toplevel": key == "include-toplevel"}
            )
            continue
        if re.match(r"^[a-z-]+$", key) and not value:
            clause, zone = key, None
            if clause == "forward-zone":
                zone = {"name": "", "source": path, "start": number, "end": number}
                resolver.forward_zones.append(zone)
            continue
        if zone is not None and zone["source"] == path:
            zone["end"] = number
        if clause == "server":
            resolver.server_options.setdefault(key, []).append({"value": value, "source": path, "line": number})
        elif clause == "forward-zone" and zone is not None:
            if key == "name":
                zone["name"] = value.rstrip(".") or "."
            elif key == "forward-addr" and zone["name"] in (".", ""):
                resolver.forwarders.append(_forwarder(value, path, number))
    return resolver


def bind(files: HostFiles) -> LocalResolver | None:
    lines = _config_lines(files, ["/etc/bind/named.conf", "/etc/bind/named.conf.options", "/etc/named.conf"])
    if not lines:
        return None
    resolver = LocalResolver("bind", sorted({path for path, _number, _line in lines}))
    text_by_file: dict = {}
    for path, number, line in lines:
        text_by_file.setdefault(path, []).append((number, line.split("//", 1)[0]))
    for path, numbered in text_by_file.items():
        inside = False
        for number, line in numbered:
            if re.search(r"\bforwarders\s*\{", line):
                inside = True
                line = line.split("{", 1)[1]
            if inside:
                body = line.split("}", 1)[0]
                for address in re.findall(r"[0-9a-fA-F:.]+(?=\s*(?:port\s+\d+\s*)?;)", body):
                    resolver.forwarders.append(_forwarder(address, path, number))
                if "}" in line:
                    inside = False
    return resolver


def dnsmasq(files: HostFiles, resolv_conf: ResolvConf) -> LocalResolver | None:
    lines = _config_lines(files, ["/etc/dnsmasq.conf", "/etc/dnsmasq.d/*"])
    if not lines:
        return None
    resolver = LocalResolver("dnsmasq", sorted({path for path, _number, _line in lines}))
    no_resolv = False
    for path, number, line in lines:
        line = line.split("#", 1)[0].strip()
        if line == "no-resolv":
            no_resolv = True
        match = re.match(r"^server=(.*)$", line)
        if match and "/" not in match.group(1):  # server=/domain/addr is a per-domain forward
            resolver.forwarders.append(_forwarder(match.group(1), path, number))
    if not no_resolv:
        # Without no-resolv, dnsmasq forwards to the non-loopback nameservers of resolv.conf.
        for nameserver in resolv_conf.nameservers:
            if nameserver.address_class != LOOPBACK:
                resolver.forwarders.append(_forwarder(nameserver.address, resolv_conf.path, nameserver.line))
    return resolver


def pdns_recursor(files: HostFiles) -> LocalResolver | None:
    lines = _config_lines(files, ["/etc/powerdns/recursor.conf", "/etc/powerdns/recursor.d/*.conf"])
    if not lines:
        return None
    resolver = LocalResolver("pdns-recursor", sorted({path for path, _number, _line in lines}))
    for path, number, line in lines:
        match = re.match(r"^forward-zones(?:-recurse)?\s*=\s*(.*)$", line.split("#", 1)[0].strip())
        if match:
            for zone in match.group(1).split(","):
                name, _sep, addresses = zone.partition("=")
                if name.strip().rstrip(".") in ("", "."):
                    for address in addresses.split(";"):
                        resolver.forwarders.append(_forwarder(address, path, number))
    return resolver


PROCESS_NAMES = {
    "systemd-resolve": "systemd-resolved",
    "unbound": "unbound",
    "named": "bind",
    "dnsmasq": "dnsmasq",
    "pdns_recursor": "pdns-recursor",
}


def dns_listeners(files: HostFiles) -> dict | None:
    """Addresses listening on UDP port 53 in this network namespace -> software, if known.

    None when the socket tables cannot be read (a corpus folder, a restricted /proc).
    """
    listeners: dict = {}
    inodes: dict = {}
    readable = False
    for table, family in (("/proc/net/udp", 4), ("/proc/net/udp6", 6)):
        text, problem = files.read_config(table)
        if problem is not None or not text:
            continue
        readable = True
        for row in text.splitlines()[1:]:
            columns = row.split()
            if len(columns) < 10:
                continue
            address_hex, _sep, port_hex = columns[1].partition(":")
            if port_hex != "0035":
                continue
            address = _proc_address(address_hex, family)
            if address is not None:
                listeners[address] = None
                inodes[columns[9]] = address
    if not readable:
        return None
    if not inodes:
        return listeners
    # The sockets of this network namespace belong to processes in it: skip the others' file
    # descriptors (one readlink per process instead of one per descriptor; on a host of containers,
    # or a lab of many namespaces, most processes are elsewhere). A process whose namespace cannot
    # be read is scanned as before.
    ours = _network_namespace(files, "self")
    for pid in files.listdir("/proc"):
        if not pid.isdigit():
            continue
        if ours is not None and _network_namespace(files, pid) not in (ours, None):
            continue
        for link in _descriptor_links(files.path(f"/proc/{pid}/fd")):
            if link.startswith("socket:[") and link[8:-1] in inodes:
                comm, _problem = files.read_config(f"/proc/{pid}/comm")
                listeners[inodes[link[8:-1]]] = PROCESS_NAMES.get((comm or "").strip(), (comm or "").strip())
    return listeners


def _descriptor_links(fd_dir: str) -> list:
    """What a process's open descriptors point at; one that closes while it is read is left out
    (the listing's own descriptor, a busy resolver's query sockets), not the whole process."""
    try:
        descriptors = os.listdir(fd_dir)
    except OSError:
        return []
    links = []
    for descriptor in descriptors:
        try:
            links.append(os.readlink(os.path.join(fd_dir, descriptor)))
        except OSError:
            continue
    return links


def _network_namespace(files: HostFiles, pid: str) -> str | None:
    try:
        return os.readlink(files.path(f"/proc/{pid}/ns/net"))
    except OSError:
        return None


def _proc_address(hex_text: str, family: int) -> str | None:
    import ipaddress
    import struct

    try:
        if family == 4:
            return str(ipaddress.IPv4Address(struct.pack("<I", int(hex_text, 16))))
        words = [struct.pack("<I", int(hex_text[i : i + 8], 16)) for i in range(0, 32, 8)]
        return str(ipaddress.IPv6Address(b"".join(words)))
    except (ValueError, struct.error):
        return None


# -- the whole path ---------------------------------------------------------------------------------


@dataclass
class ResolverPath:
    resolv_conf: ResolvConf
    local_resolvers: list = field(default_factory=list)
    listeners: dict | None = None  # None: the socket tables could not be read
    chroot: dict = field(default_factory=dict)  # {path, differs, chrooted_services, nameservers, problem}
    checks: list = field(default_factory=list)
    manager: dict | None = None  # what writes /etc/resolv.conf, when something does: {name, evidence, setting}

    def as_dict(self) -> dict:
        result = asdict(self)
        del result["checks"]  # returned once, at the top of the module result
        result["resolv_conf"]["effective_nameservers"] = [asdict(ns) for ns in self.resolv_conf.effective_nameservers]
        return result


def read_resolver_path(
    files: HostFiles, queue_directory: str = "/var/spool/postfix", chrooted_services: list | None = None
) -> ResolverPath:
    conf = read_resolv_conf(files)
    path = ResolverPath(resolv_conf=conf)
    if conf.problem:
        path.checks.append(Check("resolv_conf", "unknown", conf.problem))
    else:
        path.checks.append(Check("resolv_conf", "ok"))
    for reader in (systemd_resolved, unbound, bind, pdns_recursor):
        found = reader(files)
        if found is not None:
            path.local_resolvers.append(found)
    found = dnsmasq(files, conf)
    if found is not None:
        path.local_resolvers.append(found)
    path.listeners = dns_listeners(files)
    if path.listeners is None:
        path.checks.append(
            Check(
                "dns_listeners",
                "unknown",
                "/proc/net/udp cannot be read: whether a loopback nameserver is served is not known",
            )
        )
    else:
        for resolver in path.local_resolvers:
            resolver.listening = sorted(a for a, sw in path.listeners.items() if sw == resolver.software)
            resolver.running = bool(resolver.listening)
    path.chroot = chroot_copy(files, conf, queue_directory, chrooted_services)
    path.manager = resolv_conf_manager(files)
    return path


def resolv_conf_manager(files: HostFiles, path: str = "/etc/resolv.conf") -> dict | None:
    """What rewrites resolv.conf on this host (a change made there by hand is undone), if anything.

    Told by where the file links to and by the header each tool writes; netplan by a `nameservers:`
    key in its YAML (it hands them to systemd-resolved or NetworkManager).
    """
    real = files.path(path)
    target = os.readlink(real) if os.path.islink(real) else ""
    head, _problem = files.read_config(path)
    head = "\n".join((head or "").splitlines()[:5])
    if "/run/systemd/resolve/" in target or "managed by man:systemd-resolved" in head:
        return {
            "name": "systemd-resolved",
            "evidence": target or "its header",
            "setting": "DNS= in /etc/systemd/resolved.conf.d/",
        }
    if "resolvconf" in target or "generated by resolvconf" in head:
        return {
            "name": "resolvconf",
            "evidence": "%s links to %s" % (path, target) if target else "%s says it is generated by resolvconf" % path,
            "setting": "put 'nameserver 127.0.0.1' in /etc/resolvconf/resolv.conf.d/head (or the interface's"
            " dns-nameservers in /etc/network/interfaces) and run 'resolvconf -u'",
        }
    if "Generated by NetworkManager" in head or "NetworkManager" in target:
        return {
            "name": "NetworkManager",
            "evidence": "%s says it is generated by NetworkManager" % path,
            "setting": "set 'dns=none' in the [main] section of /etc/NetworkManager/conf.d/90-dns-none.conf"
            " and restart NetworkManager, or give the connection 'ipv4.dns 127.0.0.1 ipv4.ignore-auto-dns yes'",
        }
    for config in sorted(glob.glob(files.path("/etc/netplan/*.yaml"))):
        shown = "/etc/netplan/" + os.path.basename(config)
        text, problem = files.read_config(shown)
        if problem is None and re.search(r"^\s*nameservers\s*:", text or "", re.MULTILINE):
            return {
                "name": "netplan",
                "evidence": "%s sets nameservers" % shown,
                "setting": "set 'nameservers: {addresses: [127.0.0.1]}' in %s and run 'netplan apply'" % shown,
            }
    return None


def chroot_copy(files: HostFiles, conf: ResolvConf, queue_directory: str, chrooted_services: list | None) -> dict:
    copy_path = queue_directory.rstrip("/") + "/etc/resolv.conf"
    result = {
        "path": copy_path,
        "chrooted_services": list(chrooted_services or []),
        "differs": False,
        "nameservers": [],
        "invalid_nameservers": [],
        "problem": "",
    }
    if not chrooted_services:
        return result
    text, problem = files.read_config(copy_path)
    if problem is not None:
        result["problem"] = problem.reason
        result["differs"] = problem.kind == "missing"
        return result
    copy = parse_resolv_conf(text or "", copy_path)
    result["nameservers"] = [ns.address for ns in copy.effective_nameservers]
    result["invalid_nameservers"] = copy.invalid_nameservers
    result["effective"] = copy.effective_description()
    ours = [ns.address for ns in conf.effective_nameservers]
    result["differs"] = result["nameservers"] != ours
    return result


def serving_software(path: ResolverPath, address: str) -> str | None:
    """What serves a loopback nameserver address: the listening process, else the configuration."""
    software = (path.listeners or {}).get(address)
    if software:
        return software
    if address == RESOLVED_STUB:
        return "systemd-resolved"
    for resolver in path.local_resolvers:
        if resolver.software != "systemd-resolved":
            return resolver.software
    return None


def judge_resolver_path(path: ResolverPath) -> list:
    findings = []
    conf = path.resolv_conf
    if conf.problem:
        return findings  # reported as an unknown check, not guessed at
    # One rule for glibc's fallback: RESOLV_CONF_MISSING whenever glibc ends up asking 127.0.0.1 by
    # default, whatever the reason (no file, no nameserver line, or only lines glibc skips); each
    # skipped line is also RESOLV_CONF_INVALID_NAMESERVER, which names the line to fix.
    if not conf.exists or conf.uses_glibc_default:
        if not conf.exists:
            detail = conf.absent_because
        elif conf.invalid_nameservers:
            detail = f"names no valid nameserver: glibc skips all {len(conf.invalid_nameservers)} nameserver line(s)"
        else:
            detail = "names no nameserver"
        findings.append(
            Finding(
                "RESOLV_CONF_MISSING",
                {"file": conf.path, "effective": f"{GLIBC_DEFAULT} (glibc default)", "detail": detail},
            )
        )
    findings += _invalid_nameserver_findings(conf.path, conf.invalid_nameservers, conf.effective_description())
    for nameserver in conf.effective_nameservers:
        evidence = {
            "file": conf.path,
            "line": nameserver.line,
            "nameserver": nameserver.address,
            "rotate": bool(conf.options.get("rotate")),
            "layer": "resolv.conf",
        }
        if nameserver.address_class == PUBLIC_KNOWN:
            findings.append(Finding("RESOLV_CONF_PUBLIC_NAMESERVER", dict(evidence, provider=nameserver.provider)))
        elif nameserver.address_class == PUBLIC_UNKNOWN:
            findings.append(Finding("RESOLV_CONF_UNKNOWN_PUBLIC_NAMESERVER", evidence))
        elif nameserver.address_class == LOOPBACK:
            if path.listeners is None:
                continue
            wildcard = "0.0.0.0" if ":" not in nameserver.address else "::"
            if nameserver.address not in path.listeners and wildcard not in path.listeners:
                findings.append(Finding("LOOPBACK_NAMESERVER_NOTHING_LISTENS", evidence))
    used = {serving_software(path, ns.address) for ns in conf.effective_nameservers if ns.address_class == LOOPBACK}
    for resolver in path.local_resolvers:
        if resolver.software not in used:
            continue
        for forwarder in resolver.forwarders:
            if forwarder["class"] != PUBLIC_KNOWN:
                continue
            evidence = {
                "file": forwarder["source"],
                "line": forwarder["line"],
                "resolver": resolver.software,
                "forwarder": forwarder["address"],
                "provider": forwarder["provider"],
                "role": forwarder["role"],
                "layer": resolver.software,
            }
            kind = (
                "SYSTEMD_RESOLVED_PUBLIC_UPSTREAM"
                if resolver.software == "systemd-resolved"
                else "LOCAL_RESOLVER_FORWARDS_PUBLIC"
            )
            findings.append(Finding(kind, evidence))
    chroot = path.chroot
    if chroot.get("differs"):
        findings.append(
            Finding(
                "POSTFIX_CHROOT_RESOLV_CONF_DRIFT",
                {
                    "file": chroot["path"],
                    "chroot_nameservers": chroot["nameservers"],
                    "resolv_conf_nameservers": [ns.address for ns in conf.effective_nameservers],
                    "chrooted_services": chroot["chrooted_services"],
                    "problem": chroot["problem"],
                },
            )
        )
        for address in chroot["nameservers"]:
            address_class, provider = classify_address(address)
            if address_class == PUBLIC_KNOWN:
                findings.append(
                    Finding(
                        "RESOLV_CONF_PUBLIC_NAMESERVER",
                        {
                            "file": chroot["path"],
                            "nameserver": address,
                            "provider": provider,
                            "layer": "postfix chroot",
                        },
                    )
                )
    # The chroot copy's own bad lines; a line it shares with resolv.conf is reported there once,
    # and refreshing the copy after fixing resolv.conf fixes both.
    if chroot.get("invalid_nameservers"):
        ours = {invalid["nameserver"] for invalid in conf.invalid_nameservers}
        own = [invalid for invalid in chroot["invalid_nameservers"] if invalid["nameserver"] not in ours]
        findings += _invalid_nameserver_findings(chroot["path"], own, chroot.get("effective", []), "postfix chroot")
    return _dedupe(findings)


def _invalid_nameserver_findings(path: str, invalid: list, effective: list, layer: str = "resolv.conf") -> list:
    return [
        Finding(
            "RESOLV_CONF_INVALID_NAMESERVER",
            {
                "file": path,
                "line": line["line"],
                "nameserver": line["nameserver"],
                "reason": line["reason"],
                "effective": effective,
                "layer": layer,
            },
        )
        for line in invalid
    ]


def _dedupe(findings: list) -> list:
    seen, unique = set(), []
    for finding in findings:
        key = (finding.id, repr(sorted(finding.evidence.items())))
        if key not in seen:
            seen.add(key)
            unique.append(finding)
    return unique
