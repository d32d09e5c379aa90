# Copyright: maildns.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The local-resolver fix, planned from the host model: which files change, and to what.

Private to the collection. Runs on managed hosts: Python 3.8 syntax.

`plan_local_resolver(host, options)` is pure: it reads the `HostModel` the audit reads (the
resolver path with resolv.conf's lines, the local resolvers with Unbound's forward zones and
options, Postfix's chroot copy, SpamAssassin's `dns_server` lines and block files) and returns a
`ResolverPlan`: the new bytes of every file in three stages (Unbound, the resolver path,
SpamAssassin), what to say, and whether the host is to be left alone or stopped. Applying it is
`local_resolver_apply`'s job.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import List, Optional

from ansible_collections.maildns.audit.plugins.module_utils import dnsbl_catalog
from ansible_collections.maildns.audit.plugins.module_utils.public_resolvers import (
    LOOPBACK,
    PUBLIC_KNOWN,
    PUBLIC_UNKNOWN,
    classify_address,
)
from ansible_collections.maildns.audit.plugins.module_utils.resolver_path import RESOLVED_STUB

UNBOUND_CONF = "/etc/unbound/unbound.conf"
UNBOUND_DROP_IN = "/etc/unbound/unbound.conf.d/zz-maildns-local-resolver.conf"
ROOT_HINTS_FILE = "/etc/unbound/maildns-root.hints"
RESOLVED_DROP_IN = "/etc/systemd/resolved.conf.d/zz-maildns-local-resolver.conf"
RESOLV_CONF = "/etc/resolv.conf"
MARK = "maildns.audit.local_resolver"
# Software that recurses by itself when it does not forward: a host running one is left alone.
OTHER_RECURSORS = ("bind", "pdns-recursor")
PUBLIC = (PUBLIC_KNOWN, PUBLIC_UNKNOWN)
VERIFY_FALLBACK_ZONES = ("zen.spamhaus.org",)


@dataclass
class ResolverOptions:
    listen: list = field(default_factory=lambda: ["127.0.0.1", "::1"])
    ipv6_loopback: bool = True  # whether the host has ::1 (else Unbound could not bind it)
    dnssec: bool = True
    root_hints: list = field(default_factory=list)  # [{name, address}]: other root servers
    unblock_lan_zones: bool = False
    special_zones: list = field(default_factory=list)  # RFC 6761 zones Unbound answers itself: ask upstream
    resolv_conf: bool = True  # point /etc/resolv.conf (or systemd-resolved) at Unbound
    postfix_chroot: bool = True
    spamassassin: bool = True
    managed_resolv_conf_ok: bool = False  # proceed where NetworkManager, resolvconf or netplan writes it
    resolved_running: Optional[bool] = None  # None: tell from the listeners


@dataclass
class ResolverPlan:
    status: str = "change"  # change | leave_alone | blocked
    reason: str = ""  # why it is left alone or stopped (what to do)
    unbound: list = field(default_factory=list)  # [(path, bytes or None, reason, backup)]
    path: list = field(default_factory=list)
    spamassassin: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    listen: list = field(default_factory=list)  # the addresses Unbound answers on
    path_addresses: list = field(default_factory=list)  # where glibc asks after the change
    resolved_stub: bool = False  # resolv.conf keeps systemd-resolved's stub, which forwards to Unbound
    verify_zones: list = field(default_factory=list)
    trust_anchor: str = ""  # the auto-trust-anchor-file Unbound reads (Debian: made from dns-root-data)


def _lines(data: Optional[bytes]) -> list:
    return (data or b"").decode("utf-8", "replace").splitlines()


def _text(lines: list) -> bytes:
    return ("\n".join(lines) + "\n").encode("utf-8")


def _current(host, path: str) -> Optional[bytes]:  # type: ignore[no-untyped-def]
    try:
        with open(host.files.path(path), "rb") as handle:
            return handle.read()
    except OSError:
        return None


def unbound_of(host):  # type: ignore[no-untyped-def]
    for resolver in host.resolver_path.local_resolvers:
        if resolver.software == "unbound":
            return resolver
    return None


def _listen_addresses(options: ResolverOptions) -> list:
    return [a for a in options.listen if a != "::1" or options.ipv6_loopback] or ["127.0.0.1"]


def _leave_alone_or_block(host, options: ResolverOptions, listen: list) -> Optional[ResolverPlan]:  # type: ignore[no-untyped-def]
    """A host whose loopback resolver is other software: left alone when it recurses, else stopped."""
    path = host.resolver_path
    listeners = path.listeners or {}
    for resolver in path.local_resolvers:
        if resolver.software not in OTHER_RECURSORS or not resolver.listening:
            continue
        public = [f for f in resolver.forwarders if f["class"] in PUBLIC]
        if not public:
            return ResolverPlan(
                status="leave_alone",
                reason="%s already recurses on this host (listening on %s, no forwarders to a public resolver):"
                " left as it is" % (resolver.software, ", ".join(resolver.listening)),
            )
        forwarder = public[0]
        return ResolverPlan(
            status="blocked",
            reason="%s listens on %s and forwards to %s (%s line %s): Unbound cannot listen beside it. Remove"
            " %s's forwarders so that it recurses itself, or stop it, then run the role again"
            % (
                resolver.software,
                ", ".join(resolver.listening),
                forwarder["address"],
                forwarder["source"],
                forwarder["line"],
                resolver.software,
            ),
        )
    for address in listen:
        software = listeners.get(address) or listeners.get("0.0.0.0" if ":" not in address else "::")
        if software and software not in ("unbound", "systemd-resolved"):
            return ResolverPlan(
                status="blocked",
                reason="%s already listens on %s port 53: stop it or set local_resolver_listen to other"
                " loopback addresses" % (software, address),
            )
    return None


def _manager_block(host, options: ResolverOptions) -> Optional[ResolverPlan]:  # type: ignore[no-untyped-def]
    manager = getattr(host.resolver_path, "manager", None) or {}
    if not manager or manager.get("name") == "systemd-resolved":
        return None
    if options.managed_resolv_conf_ok:
        return None
    return ResolverPlan(
        status="blocked",
        reason="%s writes /etc/resolv.conf (%s): a change there would be undone. %s; or set"
        " local_resolver_managed_resolv_conf_ok=true to write it anyway"
        % (manager["name"], manager["evidence"], manager["setting"]),
    )


def plan_local_resolver(host, options: ResolverOptions) -> ResolverPlan:  # type: ignore[no-untyped-def]
    listen = _listen_addresses(options)
    early = _leave_alone_or_block(host, options, listen)
    if early is not None:
        return early
    if options.resolv_conf:
        early = _manager_block(host, options)
        if early is not None:
            return early
    plan = ResolverPlan(listen=listen)
    plan.verify_zones = verification_zones(host)
    _plan_unbound(host, options, plan)
    if options.resolv_conf:
        _plan_resolver_path(host, options, plan)
    else:
        plan.path_addresses = listen
    if options.spamassassin and host.spamassassin is not None:
        _plan_spamassassin(host, plan)
    return plan


def verification_zones(host) -> list:  # type: ignore[no-untyped-def]
    """The host's own lists that the catalog knows as answering (retired and unknown ones prove nothing)."""
    zones = []
    for zone in host.dnsbl_zones():
        entry = dnsbl_catalog.lookup(zone)
        if entry is not None and entry.status != "retired" and zone not in zones:
            zones.append(zone)
    return zones or list(VERIFY_FALLBACK_ZONES)


# -- Unbound ----------------------------------------------------------------------------------------


def drop_in_text(options: ResolverOptions, listen: list, existing_interfaces: list, trust_anchor: bool) -> bytes:
    lines = [
        "# Managed by %s: do not edit, the role rewrites this file." % MARK,
        "# A recursive resolver of this host's own. DNSBLs such as Spamhaus refuse queries that reach them",
        "# through public resolvers (answering 127.255.255.254, which Postfix without a reply filter reads",
        "# as a listing): this resolver asks the authorities itself and forwards nothing.",
        "server:",
        "    # Loopback only: it serves this host's mail software, never the network.",
    ]
    for address in listen:
        if address not in existing_interfaces:
            lines.append("    interface: %s" % address)
    lines.append("    access-control: 127.0.0.0/8 allow")
    if "::1" in listen:
        lines += ["    access-control: ::1/128 allow", "    do-ip6: yes"]
    lines += [
        "    # Hide who answers: nothing on the host needs to announce its resolver's software.",
        "    hide-identity: yes",
        "    hide-version: yes",
        "    # Drop glue outside the answering server's own zone: a poisoning attempt's extra records.",
        "    harden-glue: yes",
        "    # Refresh popular names before they expire: a busy MTA's DNSBL answers stay in the cache.",
        "    prefetch: yes",
    ]
    if options.dnssec:
        lines += [
            "    # Validate DNSSEC; the trust anchor is the distribution's (Debian: dns-root-data).",
            '    module-config: "validator iterator"',
            "    harden-dnssec-stripped: yes",
        ]
        if not trust_anchor:
            lines.append('    auto-trust-anchor-file: "/var/lib/unbound/root.key"')
    else:
        lines += [
            "    # DNSSEC validation off (local_resolver_dnssec=false): an unsigned private root, as in a lab.",
            '    module-config: "iterator"',
        ]
    if options.unblock_lan_zones:
        lines += [
            "    # Private reverse zones (10.in-addr.arpa, ...) are asked upstream, not answered NXDOMAIN here:",
            "    # the mail host's own PTR lives in one (local_resolver_unblock_lan_zones).",
            "    unblock-lan-zones: yes",
            "    insecure-lan-zones: yes",
        ]
    if options.special_zones:
        lines.append(
            "    # Special-use zones Unbound answers itself by default, asked upstream (local_resolver_special_zones)."
        )
        lines += ['    local-zone: "%s." nodefault' % zone.strip(".") for zone in options.special_zones]
    if options.root_hints:
        lines += [
            "    # Root servers other than the built-in ones (local_resolver_root_hints).",
            '    root-hints: "%s"' % ROOT_HINTS_FILE,
        ]
    return _text(lines)


def root_hints_text(root_hints: list) -> bytes:
    lines = ["; Managed by %s: the root servers given by local_resolver_root_hints." % MARK]
    for server in root_hints:
        name = server["name"].rstrip(".") + "."
        lines.append(".                        3600000  NS    %s" % name)
    for server in root_hints:
        name = server["name"].rstrip(".") + "."
        kind = "AAAA" if ":" in server["address"] else "A"
        lines.append("%-24s 3600000  %-5s %s" % (name, kind, server["address"]))
    return _text(lines)


def _plan_unbound(host, options: ResolverOptions, plan: ResolverPlan) -> None:  # type: ignore[no-untyped-def]
    resolver = unbound_of(host)
    own = [UNBOUND_DROP_IN]
    existing_interfaces, anchors = [], []
    if resolver is not None:
        existing_interfaces = [
            o["value"] for o in resolver.server_options.get("interface", []) if o["source"] not in own
        ]
        anchors = [
            o["value"]
            for name in ("auto-trust-anchor-file", "trust-anchor-file")
            for o in resolver.server_options.get(name, [])
            if o["source"] not in own
        ]
    plan.trust_anchor = anchors[0] if anchors else ("/var/lib/unbound/root.key" if options.dnssec else "")
    plan.unbound.append(
        (
            UNBOUND_DROP_IN,
            drop_in_text(options, plan.listen, existing_interfaces, bool(anchors)),
            "Unbound recurses on loopback, no forwarding",
            False,
        )
    )
    if options.root_hints:
        plan.unbound.append((ROOT_HINTS_FILE, root_hints_text(options.root_hints), "root hints", False))
    elif _current(host, ROOT_HINTS_FILE) is not None:
        plan.unbound.append((ROOT_HINTS_FILE, None, "no root hints given any more", False))
    # Forward zones for "." that send everything to a public resolver: taken out, with a backup.
    edits: dict = {}
    if resolver is not None:
        for zone in resolver.forward_zones:
            if zone["name"] not in (".", "") or zone["source"] in own:
                continue
            addresses = [f for f in resolver.forwarders if f["source"] == zone["source"]]
            addresses = [f for f in addresses if zone["start"] <= f["line"] <= zone["end"]]
            public = [f for f in addresses if f["class"] in PUBLIC]
            if not public:
                if addresses:
                    plan.notes.append(
                        "%s line %d forwards '.' to %s, not a public resolver: left as it is"
                        % (zone["source"], zone["start"], ", ".join(f["address"] for f in addresses))
                    )
                continue
            edits.setdefault(zone["source"], []).append(zone)
            plan.notes.append(
                "%s lines %d-%d forwarded '.' to %s: taken out (backup %s.maildns-backup)"
                % (
                    zone["source"],
                    zone["start"],
                    zone["end"],
                    ", ".join("%s (%s)" % (f["address"], f["provider"] or "public") for f in public),
                    zone["source"],
                )
            )
    included = resolver is not None and any(
        fnmatch.fnmatch(UNBOUND_DROP_IN, include["pattern"])
        for include in resolver.includes
        if include["source"] == UNBOUND_CONF
    )
    if resolver is None or not resolver.includes:
        # No configuration at all read (Unbound not installed yet): the package's stock unbound.conf
        # includes unbound.conf.d/*.conf; the module checks that again before validating.
        included = included or _current(host, UNBOUND_CONF) is None
    for source, zones in sorted(edits.items()):
        lines = _lines(_current(host, source))
        for zone in sorted(zones, key=lambda z: -z["start"]):
            block = ["# %s" % line if line.strip() else line for line in lines[zone["start"] - 1 : zone["end"]]]
            lines[zone["start"] - 1 : zone["end"]] = [
                "# Taken out by %s: a forward zone for '.' sends every query, DNSBL queries" % MARK,
                "# included, to a public resolver that DNSBLs refuse. The previous file is %s%s."
                % (source, ".maildns-backup"),
                *block,
            ]
        if source == UNBOUND_CONF and not included:
            lines += _include_lines()
            included = True
        plan.unbound.append((source, _text(lines), "forward zone for '.' to a public resolver taken out", True))
    if not included and _current(host, UNBOUND_CONF) is not None:
        lines = _lines(_current(host, UNBOUND_CONF)) + _include_lines()
        plan.unbound.append((UNBOUND_CONF, _text(lines), "include the role's drop-in", True))


def _include_lines() -> list:
    return ["# Added by %s: its drop-in, last, so that its settings win." % MARK, 'include: "%s"' % UNBOUND_DROP_IN]


# -- the resolver path --------------------------------------------------------------------------------


def resolv_conf_text(current: Optional[bytes], nameservers: list, replaced_lines: list) -> bytes:
    """resolv.conf with its nameserver lines commented out and the local resolver's in their place."""
    lines = _lines(current)
    out, placed = [], False
    header = "# nameserver lines set by %s: the host's own recursive resolver (Unbound)." % MARK
    ours = ["nameserver %s" % address for address in nameservers]
    for number, line in enumerate(lines, 1):
        if line == header:
            continue
        if number in replaced_lines:
            if not placed:
                out += [header, *ours]
                placed = True
            out.append("# %s  # before %s" % (line.strip(), MARK) if not line.startswith("#") else line)
            continue
        out.append(line)
    if not placed:
        out += [header, *ours]
    return _text(out)


def _resolved_running(host, options: ResolverOptions) -> bool:  # type: ignore[no-untyped-def]
    if options.resolved_running is not None:
        return options.resolved_running
    listeners = host.resolver_path.listeners or {}
    return listeners.get(RESOLVED_STUB) == "systemd-resolved"


def resolved_drop_in_text(listen: list) -> bytes:
    return _text(
        [
            "# Managed by %s: do not edit, the role rewrites this file." % MARK,
            "# systemd-resolved forwards to this host's own Unbound, which recurses itself: DNSBLs such as",
            "# Spamhaus refuse queries that come through public resolvers. The empty DNS= and FallbackDNS=",
            "# clear what earlier files set; Domains=~. sends every name here, not to per-link servers.",
            "[Resolve]",
            "DNS=",
            "DNS=%s" % " ".join(listen),
            "FallbackDNS=",
            "Domains=~.",
        ]
    )


def _plan_resolver_path(host, options: ResolverOptions, plan: ResolverPlan) -> None:  # type: ignore[no-untyped-def]
    path = host.resolver_path
    conf = path.resolv_conf
    current = _current(host, RESOLV_CONF)
    effective = [ns.address for ns in conf.effective_nameservers] if not conf.uses_glibc_default else []
    stub = RESOLVED_STUB in effective
    resolved = any(r.software == "systemd-resolved" for r in path.local_resolvers)
    new_resolv_conf = current
    if stub and _resolved_running(host, options):
        plan.resolved_stub = True
        plan.path.append(
            (RESOLVED_DROP_IN, resolved_drop_in_text(plan.listen), "systemd-resolved forwards to Unbound", False)
        )
        plan.path_addresses = [RESOLVED_STUB]
        plan.notes.append("systemd-resolved's stub stays in /etc/resolv.conf; resolved now forwards to Unbound")
    else:
        if resolved:
            # Configured but its stub is not served: glibc asks nobody. Point resolved at Unbound for
            # when it runs, and resolv.conf at Unbound now.
            plan.path.append(
                (RESOLVED_DROP_IN, resolved_drop_in_text(plan.listen), "systemd-resolved forwards to Unbound", False)
            )
            if stub:
                plan.notes.append(
                    "systemd-resolved is configured but its stub %s does not answer: /etc/resolv.conf now names"
                    " Unbound directly" % RESOLVED_STUB
                )
        plan.path_addresses = list(plan.listen)
        if effective != plan.listen:
            replaced = [ns.line for ns in conf.nameservers] + [bad["line"] for bad in conf.invalid_nameservers]
            new_resolv_conf = resolv_conf_text(current, plan.listen, replaced)
            plan.path.append((RESOLV_CONF, new_resolv_conf, "glibc asks the local Unbound", True))
    chroot = path.chroot
    if options.postfix_chroot and chroot.get("chrooted_services"):
        copy = chroot["path"]
        if _current(host, copy) != new_resolv_conf and new_resolv_conf is not None:
            plan.path.append(
                (copy, new_resolv_conf, "Postfix's chroot copy, which chrooted smtpd reads, as resolv.conf", False)
            )


# -- SpamAssassin -------------------------------------------------------------------------------------


def _plan_spamassassin(host, plan: ResolverPlan) -> None:  # type: ignore[no-untyped-def]
    config = host.spamassassin
    by_file: dict = {}
    # Every dns_server that is not this host's own: a public one is refused by the lists, and any
    # other (a private resolver that refuses, or forwards to a public one) bypasses the fix.
    public = [s for s in config.dns_servers if classify_address(s["address"])[0] != LOOPBACK]
    # The first such line (in the order SpamAssassin reads them) becomes the local resolver, unless
    # a loopback dns_server is there already; every other one is commented out.
    has_loopback = any(classify_address(s["address"])[0] == LOOPBACK for s in config.dns_servers)
    replacing = None if has_loopback or not public else public[0]
    for server in public:
        by_file.setdefault(server["file"], []).append(server)
    for source, servers in sorted(by_file.items()):
        lines = _lines(_current(host, source))
        for server in sorted(servers, key=lambda s: -s["line"]):
            index = server["line"] - 1
            if index >= len(lines):
                continue
            new = ["# %s  # replaced by the local resolver (%s)" % (lines[index].strip(), MARK)]
            if server is replacing:
                new.append("dns_server %s" % plan.listen[0])
            lines[index : index + 1] = new
        plan.spamassassin.append((source, _text(lines), "SpamAssassin asks the local Unbound", True))
    # SpamAssassin 4 stops asking a zone once it saw the list's "blocked" answer, until its
    # dnsblock_* file goes: with the resolver fixed, that file only keeps the protection off.
    for block in config.block_files:
        plan.spamassassin.append((block["file"], None, "SpamAssassin asks %s again" % block["zone"], False))


def plan_summary(plan: ResolverPlan) -> dict:
    return {
        "status": plan.status,
        "reason": plan.reason,
        "listen": plan.listen,
        "path_addresses": plan.path_addresses,
        "resolved_stub": plan.resolved_stub,
        "verify_zones": [dnsbl_catalog.mask_dqs_key(zone) for zone in plan.verify_zones],
        "notes": [dnsbl_catalog.mask_secrets(note) for note in plan.notes],
    }


def all_entries(plan: ResolverPlan) -> List[tuple]:
    return plan.unbound + plan.path + plan.spamassassin
