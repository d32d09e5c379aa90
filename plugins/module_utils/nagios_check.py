# Copyright: maildns.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A Nagios / Icinga plugin: a host's DNSBL listings through a resolver, or a fleet report's state.

Private to the collection. Python 3.8 syntax: it runs on monitoring hosts. The drop-in script is
`extras/nagios/check_maildns_dnsbl`; docs/NAGIOS.md says how to install it and why each state is
what it is.

DNSBL mode takes check_rbl's options (-H, -s, -n, -t, -w, -c, -v, --query-timeout, -a) and is built
on the probe (`dnsbl_probe.probe_test_points`): every list is first asked for its RFC 5782 test
points through the resolver, and only a list that works there is asked about the host. An error
answer (127.255.255.x) is a fact about the resolver, never a listing; a list the resolver refuses,
hides or garbles is "not checked", never "not listed". Fleet mode (`--report report.json`) gives the
state of the last audit of playbooks/audit.yml.

The plugin guidelines (https://www.monitoring-plugins.org/doc/guidelines.html): exit 0 OK, 1
WARNING, 2 CRITICAL, 3 UNKNOWN; one status line `DNSBL <STATE> - text | perfdata`, then long
output; perfdata `'label'=value[UOM];[warn];[crit];[min];[max]`. Every error inside ends as UNKNOWN
with a one-line reason, never a traceback.
"""

from __future__ import annotations

import argparse
import datetime
import ipaddress
import json
import re
import signal
import sys
import time
from dataclasses import dataclass, field

from ansible_collections.maildns.audit.plugins.module_utils import dnsbl_catalog, dnsbl_probe
from ansible_collections.maildns.audit.plugins.module_utils.dns_engine import (
    DNSPYTHON_IMPORT_ERROR,
    HAS_DNSPYTHON,
    Question,
    resolve_many,
)
from ansible_collections.maildns.audit.plugins.module_utils.evidence_text import evidence_sentence
from ansible_collections.maildns.audit.plugins.module_utils.findings import SEVERITIES
from ansible_collections.maildns.audit.plugins.module_utils.fleet_report import parse_generated
from ansible_collections.maildns.audit.plugins.module_utils.resolver_path import parse_resolv_conf
from ansible_collections.maildns.audit.plugins.module_utils.resolver_target import ResolverTarget

VERSION = "1.0.0"
OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3
STATE_NAMES = {OK: "OK", WARNING: "WARNING", CRITICAL: "CRITICAL", UNKNOWN: "UNKNOWN"}
_BY_NAME = {name.lower(): code for code, name in STATE_NAMES.items()}
# Which state wins when several apply (Monitoring::Plugin's order): CRITICAL > WARNING > UNKNOWN > OK.
_RANK = {OK: 0, UNKNOWN: 1, WARNING: 2, CRITICAL: 3}
DEFAULT_PLUGIN_TIMEOUT = 15  # check_rbl's -t default
RESOLV_CONF = "/etc/resolv.conf"

# Finding IDs of the probe (dnsbl_probe.judge_probes) and the state each gives the service.
# The resolver breaks the list for every program behind it: an MTA that reads any A record as a
# listing bounces everyone; one that filters loses the list silently. State: --resolver-state.
RESOLVER_FAULTS = (
    "DNSBL_RESOLVER_REFUSED",
    "DNSBL_HIDDEN_BY_RESOLVER",
    "DNSBL_ANSWER_HIJACKED",
    "RESOLVER_ANSWER_MALFORMED",
)
# The list answers "listed" (or an error code) for every name: whoever rejects on it rejects everyone.
LIST_REJECTS_ALL = ("DNSBL_LISTS_THE_WORLD", "DNSBL_WRONG_LIST")
# The list is gone: no protection from it, no harm either.
LIST_GONE = ("DNSBL_DEAD", "DNSBL_RETIRED")
SLOW = ("DNSBL_RESOLVER_SLOW", "DNSBL_LIST_SLOW")
UNREACHABLE = "DNSBL_UNREACHABLE"

# What one failing (list, resolver) pair means, for the status line.
_PAIR_TEXT = {
    dnsbl_probe.BLOCKED: "blocked for resolver {resolver} (127.255.255.254: open/public resolver refused)",
    dnsbl_probe.RATE_LIMITED: "blocked for resolver {resolver} (127.255.255.255: rate limited)",
    dnsbl_probe.WRONG_LIST: "answers 127.255.255.252 (wrong list name or typo)",
    dnsbl_probe.HIJACKED: "answers rewritten by resolver {resolver} (outside 127.0.0.0/8)",
    dnsbl_probe.MALFORMED: "malformed answers from resolver {resolver}",
    dnsbl_probe.UNREACHABLE: "not answered through resolver {resolver} ({why})",
}


class UsageError(Exception):
    """A command line the plugin cannot run: UNKNOWN with this text."""


class PluginTimeout(Exception):
    pass


@dataclass
class Perf:
    label: str
    value: float
    uom: str = ""
    warn: str = ""
    crit: str = ""
    min: str = ""
    max: str = ""

    def text(self) -> str:
        label = self.label
        if re.search(r"[\s='|]", label):
            label = "'" + label.replace("'", "''") + "'"
        fields = [_number(self.value) + self.uom, self.warn, self.crit, self.min, self.max]
        while len(fields) > 1 and fields[-1] == "":
            fields.pop()
        return f"{label}=" + ";".join(fields)


def _number(value: float) -> str:
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    return f"{value:.3f}".rstrip("0").rstrip(".")


@dataclass
class Result:
    state: int
    summary: str
    perfdata: list = field(default_factory=list)
    long_output: list = field(default_factory=list)
    name: str = "DNSBL"

    def render(self) -> str:
        line = f"{self.name} {STATE_NAMES[self.state]} - {_clean(self.summary)}"
        if self.perfdata:
            line += " | " + " ".join(p.text() for p in self.perfdata)
        return "\n".join([line] + [_clean(text) for text in self.long_output]) + "\n"


def _clean(text: str) -> str:
    """Plugin text: one line, no '|' (it starts the perfdata), no DQS key."""
    return dnsbl_catalog.mask_secrets(" ".join(str(text).split()).replace("|", "/"))


def worst(*states: int) -> int:
    return max(states, key=lambda s: _RANK[s]) if states else OK


def state_code(text: str) -> int:
    try:
        return _BY_NAME[text.strip().lower()]
    except KeyError:
        raise UsageError(f"unknown state {text!r}: one of ok, warning, critical, unknown") from None


# -- the command line ---------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # type: ignore[override]
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="check_maildns_dnsbl",
        add_help=False,
        description=(
            "Check a host's DNSBL listings through a resolver (check_rbl's options), each list first "
            "probed at its RFC 5782 test points; or (--report) the state of a maildns.audit fleet report."
        ),
    )
    add = parser.add_argument
    add("-h", "--help", action="store_true", help="print this help and exit (UNKNOWN, as check_rbl)")
    add("-?", "--usage", action="store_true", help="print the usage and exit")
    add("-V", "--version", action="store_true", help="print the version and exit")
    add("-H", "--host", help="address (or name: resolved first, through -n) to look up on every list")
    add("-s", "--server", action="append", default=[], help="DNSBL zone (repeatable), as check_rbl")
    add(
        "-n",
        "--nameserver",
        action="append",
        default=[],
        help="resolver address, ADDRESS[#PORT] (repeatable; default: the nameservers of /etc/resolv.conf)",
    )
    add("-t", "--timeout", type=float, default=DEFAULT_PLUGIN_TIMEOUT, help="seconds before the plugin gives up")
    add(
        "--query-timeout",
        type=float,
        default=dnsbl_probe.DEFAULT_TIMEOUT,
        help="seconds one batch of DNS queries waits (at most timeout/5)",
    )
    add("-w", "--warning", type=int, default=1, help="number of lists the host is listed on for WARNING")
    add("-c", "--critical", type=int, default=1, help="number of lists the host is listed on for CRITICAL")
    add("-v", "--verbose", action="count", default=0, help="long output: -v problems, -vv every pair, -vvv JSON")
    add("-d", "--debug", action="store_true", help="the same as -vvv")
    add("-a", "--append", default="", help="text appended to the status line")
    add(
        "--resolver-state",
        default="critical",
        help="state when the resolver blocks, hides or garbles a list (default critical)",
    )
    add("-r", "--retry", type=int, default=None, help="accepted for check_rbl compatibility; not used")
    add("--workers", type=int, default=None, help="accepted for check_rbl compatibility; not used")
    add("-U", "--url", help="not supported (check_rbl's domain lookup)")
    add("--whitelistings", "--wl", action="store_true", help="not supported")
    add("--resolv-conf", default=RESOLV_CONF, help=argparse.SUPPRESS)  # tests: another resolv.conf
    add("--authority-port", type=int, default=53, help=argparse.SUPPRESS)  # tests: the lists' name servers
    # Fleet mode
    add("--report", metavar="PATH", help="fleet mode: the report.json of playbooks/audit.yml")
    add("--warning-severity", default="medium", help="fleet: worst unwaived severity for WARNING (or none)")
    add("--critical-severity", default="high", help="fleet: worst unwaived severity for CRITICAL (or none)")
    add("--max-age", type=float, default=1500.0, help="fleet: minutes the report may be old (0: no limit)")
    add("--stale-state", default="unknown", help="fleet: state of an older report (default unknown)")
    add("--not-audited-state", default="warning", help="fleet: state when a host was not audited")
    return parser


def main(argv: list | None = None, out=None) -> int:  # type: ignore[no-untyped-def]
    """Run the plugin: print its output, return its exit code (the script raises SystemExit with it)."""
    out = out or sys.stdout
    parser = build_parser()
    previous = None
    try:
        args = parser.parse_args(argv)
        if args.help or args.usage or args.version:
            if args.version:
                out.write(f"check_maildns_dnsbl {VERSION} (maildns.audit)\n")
            else:
                out.write(parser.format_help() if args.help else parser.format_usage())
            return UNKNOWN
        if args.timeout <= 0:
            raise UsageError("timeout must be positive")
        if hasattr(signal, "SIGALRM"):
            previous = signal.signal(signal.SIGALRM, _on_alarm)
            signal.setitimer(signal.ITIMER_REAL, args.timeout)
        result = check_report(args) if args.report else check_dnsbl(args)
        if not (args.verbose or args.debug):
            result.long_output = []  # the guidelines' verbosity 0: the status line only
    except UsageError as error:
        result = Result(UNKNOWN, str(error))
    except PluginTimeout:
        result = Result(UNKNOWN, f"plugin timed out after {_number(args.timeout)} s")
    except Exception as error:  # a plugin never ends in a traceback: UNKNOWN, and why
        result = Result(UNKNOWN, f"internal error: {type(error).__name__}: {error}")
    finally:
        if previous is not None:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    out.write(result.render())
    return result.state


def _on_alarm(_signum, _frame):  # type: ignore[no-untyped-def]
    raise PluginTimeout()


# -- DNSBL mode ---------------------------------------------------------------------------------------


def parse_nameserver(text: str) -> ResolverTarget:
    """`192.0.2.53`, `192.0.2.53#5353`, `192.0.2.53:5353`, `2001:db8::53`, `[2001:db8::53]:5353`."""
    value, port = text.strip(), 53
    match = re.match(r"^\[([^\]]+)\](?::(\d+))?$", value)
    if match:
        value, port = match.group(1), int(match.group(2) or 53)
    elif "#" in value:
        value, _sep, number = value.rpartition("#")
        port = int(number) if number.isdigit() else -1
    elif value.count(":") == 1:
        value, _sep, number = value.partition(":")
        port = int(number) if number.isdigit() else -1
    try:
        address = str(ipaddress.ip_address(value))
    except ValueError:
        raise UsageError(f"Invalid nameserver {text} (an IP address, ADDRESS#PORT)") from None
    if not 0 < port < 65536:
        raise UsageError(f"Invalid nameserver {text}: bad port")
    return ResolverTarget(address, "-n", port)


def system_resolvers(path: str = RESOLV_CONF) -> list:
    """What the host's libc asks: the nameservers glibc takes from resolv.conf (127.0.0.1 without any)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            text = handle.read()
    except FileNotFoundError:
        text = ""
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror or error}") from None
    conf = parse_resolv_conf(text, path)
    if conf.uses_glibc_default:
        return [ResolverTarget("127.0.0.1", f"glibc default (no nameserver in {path})")]
    return [ResolverTarget(ns.address, f"{path} line {ns.line}") for ns in conf.effective_nameservers]


def resolve_host(host: str, resolvers: list, timeout: float) -> str:
    """-H as an address: an IP as given, a name through the first resolver (A, else AAAA), as check_rbl."""
    text = host.strip().rstrip(".")
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        pass
    if not re.match(r"^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9])?$", text):
        raise UsageError(f"Cannot resolve {host}: not a host name")
    resolver = resolvers[0]
    replies = resolve_many(
        [Question(text, rdtype, resolver.address, resolver.port) for rdtype in ("A", "AAAA")], timeout
    )
    for reply in replies:
        for answer in reply.answers:
            try:
                return str(ipaddress.ip_address(answer))
            except ValueError:
                continue
    why = replies[0].error or replies[0].rcode or "no address"
    raise UsageError(f"Cannot resolve {host} through {resolver.address} ({why})")


def check_dnsbl(args) -> Result:  # type: ignore[no-untyped-def]
    if args.url:
        raise UsageError("-U/--url is not supported: give -H (an address or a host name)")
    if args.whitelistings:
        raise UsageError("--whitelistings is not supported")
    if not args.server:
        raise UsageError("at least one -s/--server (a DNSBL zone) is required")
    if args.critical < args.warning:
        raise UsageError("critical has to be greater or equal warning")  # check_rbl's words
    if not HAS_DNSPYTHON:
        raise UsageError(f"needs dnspython (python3-dnspython): {DNSPYTHON_IMPORT_ERROR}")
    resolver_state = state_code(args.resolver_state)
    zones = []
    for zone in args.server:
        zone = dnsbl_catalog.normalise_zone(zone)
        if zone and zone not in zones:
            zones.append(zone)
    resolvers = [parse_nameserver(n) for n in args.nameserver] or system_resolvers(args.resolv_conf)
    # The probe takes at most 4 batches, then one for the host: keep the whole within -t.
    timeout = max(0.1, min(args.query_timeout, args.timeout / 6))
    started = time.monotonic()
    ip = resolve_host(args.host, resolvers, timeout) if args.host else ""
    probes = dnsbl_probe.probe_test_points(
        zones, resolvers, timeout, args.authority_port, outbound_ips=[ip] if ip else []
    )
    working = [p for p in probes if p.classification == dnsbl_probe.WORKING]
    # The host is looked up only where a resolver works for the list: never through a refused path,
    # nor at the list's own name servers (that is not what the mail host behind -n sees).
    outbound = dnsbl_probe.check_outbound_ips(zones, [ip], working, timeout, args.authority_port) if ip else []
    findings = [f.as_dict() for f in dnsbl_probe.judge_probes(probes, [])]
    elapsed = time.monotonic() - started
    result = evaluate_dnsbl(
        zones, resolvers, probes, outbound, findings, args.host or "", ip, args.warning, args.critical, resolver_state
    )
    result.perfdata.append(Perf("time", round(elapsed, 3), "s"))
    if args.append:
        result.summary += " " + args.append
    verbose = 3 if args.debug else args.verbose
    if verbose >= 2:
        result.long_output += pair_lines(probes)
    if verbose >= 3:
        result.long_output.append(
            json.dumps({"probes": [p.as_dict() for p in probes], "outbound": outbound, "findings": findings})
        )
    return result


def pair_lines(probes: list) -> list:
    lines = []
    for probe in probes:
        fault = f", at fault: {probe.at_fault}" if probe.at_fault else ""
        lines.append(
            f"{probe.shown} via {probe.resolver.address}#{probe.resolver.port}: {probe.classification}{fault} "
            f"({probe.detail}; slowest {probe.slowest_ms:.0f} ms)"
        )
    return lines


def _listing_codes(result: dict) -> list:
    """The listing answers of one lookup: in 127.0.0.0/8, never an error code (the probe already split those)."""
    codes = []
    for code in result.get("codes", []):
        answer = code.get("answer", "")
        if dnsbl_probe._in_loopback_net(answer) and answer not in ("127.0.0.0", "127.0.0.1"):
            codes.append(answer)
    return codes


def evaluate_dnsbl(
    zones: list,
    resolvers: list,
    probes: list,
    outbound: list,
    findings: list,
    host: str,
    ip: str,
    warning: int,
    critical: int,
    resolver_state: int = CRITICAL,
) -> Result:
    """The plugin's verdict from the probe's results (pure: the unit tests build the inputs)."""
    shown = {zone: dnsbl_catalog.mask_dqs_key(zone) for zone in zones}
    states = []
    problems = []  # (state, text): what is wrong with a list or a resolver, worst first later
    not_checked = {}  # shown zone -> why
    checked = []
    for zone in zones:
        mine = [p for p in probes if p.zone == zone]
        working = [p for p in mine if p.classification == dnsbl_probe.WORKING]
        failing = [p for p in mine if p.classification != dnsbl_probe.WORKING]
        if working:
            checked.append(zone)
        reasons = [_pair_reason(p) for p in failing]
        reasons = [r for i, r in enumerate(reasons) if r not in reasons[:i]]
        if not working:
            not_checked[shown[zone]] = "; ".join(reasons) or "not asked"
    # The states, from the probe's own findings (who is at fault, and how bad).
    for finding in findings:
        fid = finding["id"]
        if fid in RESOLVER_FAULTS:
            state = resolver_state
        elif fid in LIST_REJECTS_ALL:
            state = CRITICAL
        else:  # LIST_GONE, SLOW, UNREACHABLE: the list gives nothing, or may time out
            state = WARNING
        states.append(state)
        problems.append((state, evidence_sentence(finding)))
    # The host's listings, on the lists that could be checked.
    listed = []
    lookup_unknown = []
    if ip:
        for result in outbound:
            zone = result["zone"]
            if zone in not_checked:
                continue  # said once, as a list not checked
            if result.get("status") != "ok":
                lookup_unknown.append(f"{zone}: {result.get('reason') or 'no answer'}")
                continue
            codes = _listing_codes(result)
            if codes:
                listed.append(f"{zone} ({', '.join(codes)})")
        for zone in checked:
            if dnsbl_probe.list_kind(zone) != "ip":
                lookup_unknown.append(f"{shown[zone]}: a domain list, not asked for an address")
    n_listed = len(listed)
    if n_listed >= critical:
        states.append(CRITICAL)
    elif n_listed >= warning:
        states.append(WARNING)
    if lookup_unknown:
        states.append(WARNING)
    state = worst(*states) if states else OK
    if not checked and state != CRITICAL:
        state = UNKNOWN  # nothing could be asked at all: the plugin does not know
    # The status line: what is wrong first, then the listing in check_rbl's words.
    parts = []
    bad_pairs = [
        f"{shown[p.zone]} {_pair_text(p)}"
        for p in probes
        if p.classification != dnsbl_probe.WORKING
        and not (p.at_fault == "list" and p.classification == dnsbl_probe.UNREACHABLE)
    ]
    bad_pairs = [t for i, t in enumerate(bad_pairs) if t not in bad_pairs[:i]]
    for finding in findings:
        evidence = finding.get("evidence", {})
        if finding["id"] == "DNSBL_RESOLVER_SLOW":
            bad_pairs.append(
                f"resolver {evidence.get('resolver')} slow ({_number(evidence.get('slowest_ms', 0))} ms, "
                f"over {_number(evidence.get('threshold_ms', 0))} ms)"
            )
        elif finding["id"] == "DNSBL_LIST_SLOW":
            bad_pairs.append(f"{evidence.get('zone')} slow ({_number(evidence.get('slowest_ms', 0))} ms)")
    if bad_pairs:
        parts.append("; ".join(bad_pairs[:4]) + (f"; and {len(bad_pairs) - 4} more" if len(bad_pairs) > 4 else ""))
    subject = host if not host or host == ip else f"{host} ({ip})"
    if ip:
        if not checked:
            parts.append(f"{subject} not checked on any of {len(zones)} list{'s' if len(zones) != 1 else ''}")
        else:
            of = f"{len(checked)} checked"
            if n_listed:
                parts.append(f"{subject} BLACKLISTED on {n_listed} server{_s(n_listed)} of {of} ({', '.join(listed)})")
            else:
                parts.append(f"{subject} not listed on {of}")
    else:
        parts.append(f"{len(checked)} of {len(zones)} list{'s' if len(zones) != 1 else ''} working")
    if not_checked and ip and checked:
        parts.append("not checked: " + ", ".join(sorted(not_checked)))
    summary = "; ".join(parts)
    long_output = []
    for why in lookup_unknown:
        long_output.append(f"not looked up: {why}")
    for zone_text, why in not_checked.items():
        long_output.append(f"not checked: {zone_text}: {why}")
    for _state, text in sorted(problems, key=lambda item: -_RANK[item[0]]):
        long_output.append(text)
    if listed:
        long_output += [f"listed: {item}" for item in listed]
    n = len(zones)
    perfdata = [
        # check_rbl's own label and thresholds (its -w/-c minus one: a range, alert above it).
        Perf("servers", n_listed, "", str(warning - 1), str(critical - 1), "0", str(n)),
        Perf("checked", len(checked), "", "", "", "0", str(n)),
        Perf("unchecked", n - len(checked), "", "", "", "0", str(n)),
    ]
    return Result(state, summary, perfdata, long_output)


def _why(probe) -> str:  # type: ignore[no-untyped-def]
    detail = probe.detail.split(": ", 1)[-1] if probe.detail else ""
    return detail or probe.classification


def _pair_text(probe) -> str:  # type: ignore[no-untyped-def]
    resolver = probe.resolver.address + (f"#{probe.resolver.port}" if probe.resolver.port != 53 else "")
    if probe.classification == dnsbl_probe.DEAD:
        if probe.at_fault == "resolver":
            return f"hidden by resolver {resolver} (test point not listed through it)"
        return "dead (its test point 127.0.0.2 is not listed)"
    if probe.classification == dnsbl_probe.LISTS_THE_WORLD:
        if probe.at_fault == "resolver":
            return f"lists the world through resolver {resolver} (127.0.0.1 listed)"
        return "lists the world (127.0.0.1 listed): it rejects everyone"
    if probe.classification == dnsbl_probe.HIJACKED and probe.at_fault == "list":
        return "answers outside 127.0.0.0/8 for every name (a parked domain)"
    template = _PAIR_TEXT.get(probe.classification, probe.classification + " through resolver {resolver}")
    return template.format(resolver=resolver, why=_why(probe))


def _pair_reason(probe) -> str:  # type: ignore[no-untyped-def]
    return _pair_text(probe)


# -- fleet mode ---------------------------------------------------------------------------------------


def _severity_rank(text: str) -> int:
    """0 = critical ... 4 = info; 99 = none (the threshold is off)."""
    value = text.strip().lower()
    if value in ("none", "off", ""):
        return 99
    if value not in SEVERITIES:
        raise UsageError(f"unknown severity {text!r}: one of {', '.join(SEVERITIES)}, none")
    return SEVERITIES.index(value)


def check_report(args) -> Result:  # type: ignore[no-untyped-def]
    warn_rank = _severity_rank(args.warning_severity)
    crit_rank = _severity_rank(args.critical_severity)
    stale_state = state_code(args.stale_state)
    not_audited_state = state_code(args.not_audited_state)
    try:
        with open(args.report, encoding="utf-8") as handle:
            report = json.load(handle)
    except FileNotFoundError:
        return Result(UNKNOWN, f"no report at {args.report}", name="MAILDNS")
    except (OSError, UnicodeDecodeError) as error:
        return Result(
            UNKNOWN, f"cannot read {args.report}: {getattr(error, 'strerror', None) or error}", name="MAILDNS"
        )
    except ValueError as error:
        return Result(UNKNOWN, f"{args.report} is not JSON: {error}", name="MAILDNS")
    now = datetime.datetime.now(datetime.timezone.utc)
    return evaluate_report(report, now, warn_rank, crit_rank, args.max_age, stale_state, not_audited_state)


def _age_text(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours < 48 else f"{hours // 24} days"


def evaluate_report(
    report: object,
    now: datetime.datetime,
    warn_rank: int = 2,
    crit_rank: int = 1,
    max_age_minutes: float = 1500.0,
    stale_state: int = UNKNOWN,
    not_audited_state: int = WARNING,
) -> Result:
    """The fleet's state from report.json (pure). Anything not a report: UNKNOWN and why."""
    try:
        return _evaluate_report(report, now, warn_rank, crit_rank, max_age_minutes, stale_state, not_audited_state)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        return Result(UNKNOWN, f"not a maildns.audit report: {type(error).__name__}: {error}", name="MAILDNS")


def _evaluate_report(
    report: object,
    now: datetime.datetime,
    warn_rank: int,
    crit_rank: int,
    max_age_minutes: float,
    stale_state: int,
    not_audited_state: int,
) -> Result:
    def unknown(reason: str) -> Result:
        return Result(UNKNOWN, reason, name="MAILDNS")

    if not isinstance(report, dict) or report.get("schema") != "maildns.audit/report":
        return unknown("not a maildns.audit report (schema is not maildns.audit/report)")
    if report.get("version") != 1:
        return unknown(f"report version {report.get('version')!r} is not supported (this plugin reads version 1)")
    hosts = report.get("hosts")
    if not isinstance(hosts, list) or not all(isinstance(h, dict) and isinstance(h.get("host"), str) for h in hosts):
        return unknown("the report has no list of hosts")
    generated = parse_generated(report.get("generated"))
    if generated is None:
        return unknown("the report says not when it was generated")
    age = max(0.0, (now - generated).total_seconds())
    counts = {severity: 0 for severity in SEVERITIES}
    worst_by_host = {}
    not_audited = []
    for host in hosts:
        findings = host.get("findings") or []
        if not isinstance(findings, list):
            raise TypeError(f"findings of {host['host']} is not a list")
        for finding in findings:
            if not isinstance(finding, dict) or finding.get("waived"):
                continue
            severity = str(finding.get("severity", "")).lower()
            if severity not in counts:
                raise ValueError(f"{host['host']}: unknown severity {severity!r}")
            counts[severity] += 1
            rank = SEVERITIES.index(severity)
            worst_by_host[host["host"]] = min(rank, worst_by_host.get(host["host"], 99))
        if host.get("audited") is False:
            why = host.get("not_audited") or host.get("status") or "not audited"
            not_audited.append(f"{host['host']} ({why})")
    states = [OK]
    parts = []
    at_crit = sorted(h for h, r in worst_by_host.items() if r <= crit_rank)
    at_warn = sorted(h for h, r in worst_by_host.items() if crit_rank < r <= warn_rank)
    if at_crit:
        states.append(CRITICAL)
        parts.append(f"{len(at_crit)} host{_s(len(at_crit))} at {SEVERITIES[crit_rank]} or worse ({_some(at_crit)})")
    if at_warn:
        states.append(WARNING)
        parts.append(
            f"{len(at_warn)} host{'s' if len(at_warn) != 1 else ''} at {SEVERITIES[warn_rank]} ({_some(at_warn)})"
        )
    if not_audited:
        states.append(not_audited_state)
        parts.append(f"{len(not_audited)} not audited ({_some(not_audited)})")
    stale = max_age_minutes > 0 and age > max_age_minutes * 60
    if stale:
        states.append(stale_state)
        parts.insert(0, f"report is {_age_text(age)} old (limit {_number(max_age_minutes)} min): the audit did not run")
    if not parts:
        parts.append(
            f"all {len(hosts)} hosts audited, no unwaived finding at "
            f"{_threshold_name(min(warn_rank, crit_rank))} or worse"
        )
    else:
        parts.append(f"{len(hosts)} hosts, report {_age_text(age)} old")
    state = worst(*states)
    if stale and stale_state == UNKNOWN:
        state = UNKNOWN  # what an old report says is not the fleet's state now
    n = len(hosts)
    perfdata = [
        Perf("hosts", n, "", "", "", "0"),
        Perf("audited", n - len(not_audited), "", "", "", "0", str(n)),
        Perf(
            "not_audited",
            len(not_audited),
            "",
            "0" if not_audited_state == WARNING else "",
            "0" if not_audited_state == CRITICAL else "",
            "0",
            str(n),
        ),
    ]
    for rank, severity in enumerate(SEVERITIES):
        perfdata.append(
            Perf(
                severity,
                counts[severity],
                "",
                "0" if crit_rank < rank <= warn_rank else "",
                "0" if rank <= crit_rank else "",
                "0",
            )
        )
    limit = str(int(max_age_minutes * 60)) if max_age_minutes > 0 else ""
    perfdata.append(
        Perf(
            "age", int(age), "s", limit if stale_state == WARNING else "", limit if stale_state == CRITICAL else "", "0"
        )
    )
    long_output = []
    order = sorted(worst_by_host, key=lambda h: (worst_by_host[h], h))
    for name in order:
        host = next(h for h in hosts if h["host"] == name)
        ids = {}
        for finding in host.get("findings") or []:
            if isinstance(finding, dict) and not finding.get("waived"):
                ids[finding.get("id", "?")] = ids.get(finding.get("id", "?"), 0) + 1
        long_output.append(
            f"{name}: {SEVERITIES[worst_by_host[name]]}: "
            + ", ".join(f"{i} x{c}" if c > 1 else i for i, c in ids.items())
        )
    for item in not_audited:
        long_output.append(f"not audited: {item}")
    return Result(state, "; ".join(parts), perfdata, long_output, name="MAILDNS")


def _s(count: int) -> str:
    return "" if count == 1 else "s"


def _threshold_name(rank: int) -> str:
    return SEVERITIES[rank] if rank < len(SEVERITIES) else "any severity"


def _some(names: list, limit: int = 5) -> str:
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")
