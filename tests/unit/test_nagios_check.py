"""The Nagios plugin: states, exit codes and perfdata from real DNS answers (loopback fixtures), and fleet mode."""

from __future__ import annotations

import datetime
import io
import json
import os
import re
import shutil
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

import pytest

from ansible_collections.maildns.audit.plugins.module_utils import nagios_check
from ansible_collections.maildns.audit.plugins.module_utils.nagios_check import (
    CRITICAL,
    OK,
    UNKNOWN,
    WARNING,
    evaluate_report,
    main,
    parse_nameserver,
    system_resolvers,
)
from tests.lab.dns_fixture import FixtureResolver, FixtureServer, ThreadedFixture
from tests.lab.zone_data import build_zone_data

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "extras" / "nagios" / "check_maildns_dnsbl"
LISTED = "192.0.2.7"  # on both lists
CLEAN = "192.0.2.8"
DATA = build_zone_data(
    [
        {"zone": "zen.spamhaus.org", "kind": "ip", "ipv6": True, "listed": {LISTED: ["127.0.0.3"]}},
        {"zone": "bl.spamcop.net", "kind": "ip", "listed": {LISTED: ["127.0.0.2"]}},
    ],
    [". NS ns.lab.test.", "ns.lab.test. A 127.0.0.1", f"mx.lab.test. A {LISTED}"],
)
PERSONALITIES = ("authority", "resolver", "public", "ratelimited", "hidelists", "blackhole", "servfail", "refused")
PERSONALITIES += ("nxrewrite", "garbage", "broken")

# The Monitoring Plugins guidelines' perfdata: 'label'=value[UOM];[warn];[crit];[min];[max]
_NUMBER = r"-?\d+(?:\.\d+)?"
_RANGE = rf"@?(?:{_NUMBER}|~)?:?(?:{_NUMBER})?"
PERF_ITEM = re.compile(
    rf"^(?:'(?:[^']|'')+'|[^'=\s]+)={_NUMBER}(?:s|ms|us|%|B|KB|MB|TB|c)?(?:;{_RANGE}(?:;{_RANGE}(?:;(?:{_NUMBER})?(?:;(?:{_NUMBER})?)?)?)?)?$"
)


@pytest.fixture(scope="module")
def fixtures():
    with ExitStack() as stack:
        running = {}
        for personality in PERSONALITIES:
            server = FixtureServer(FixtureResolver(personality, DATA), "127.0.0.1", 0)
            running[personality] = stack.enter_context(ThreadedFixture(server)).address
        yield running


def run(fixtures, personality: str, *args: str, zones=("zen.spamhaus.org", "bl.spamcop.net")) -> tuple[int, str]:
    address, port = fixtures[personality]
    argv = [*(x for zone in zones for x in ("-s", zone)), "-n", f"{address}#{port}", "-t", "6"]
    argv += ["--query-timeout", "0.4", "--authority-port", str(fixtures["authority"][1]), *args]
    out = io.StringIO()
    code = main(argv, out)
    return code, out.getvalue()


def status_and_perfdata(output: str) -> tuple[str, list[str]]:
    first = output.splitlines()[0]
    status, _sep, perf = first.partition(" | ")
    return status, perf.split()


def assert_guidelines(code: int, output: str) -> None:
    status, perf = status_and_perfdata(output)
    assert status.startswith(f"DNSBL {nagios_check.STATE_NAMES[code]} - ") or status.startswith(
        f"MAILDNS {nagios_check.STATE_NAMES[code]} - "
    ), output
    assert "|" not in status
    for item in perf:
        assert PERF_ITEM.match(item), f"perfdata {item!r} is not label=value[UOM];warn;crit;min;max"


@pytest.mark.parametrize(
    ("host", "args", "state", "words"),
    [
        (CLEAN, [], OK, "192.0.2.8 not listed on 2 checked"),
        (LISTED, [], CRITICAL, "BLACKLISTED on 2 servers of 2 checked"),
        (LISTED, ["-w", "1", "-c", "3"], WARNING, "BLACKLISTED on 2 servers"),
        (LISTED, ["-w", "3", "-c", "3"], OK, "BLACKLISTED on 2 servers"),
        ("mx.lab.test", [], CRITICAL, "mx.lab.test (192.0.2.7) BLACKLISTED on 2 servers"),
    ],
)
def test_an_honest_resolver_counts_real_listings_against_the_thresholds(fixtures, host, args, state, words) -> None:
    code, output = run(fixtures, "resolver", "-H", host, *args)
    assert code == state and words in output, output
    assert_guidelines(code, output)
    _status, perf = status_and_perfdata(output)
    warning = int(args[1]) if args else 1
    critical = int(args[3]) if args else 1
    listed = 0 if host == CLEAN else 2
    # check_rbl's label and thresholds (its -w/-c minus one), with min and max
    assert perf[0] == f"servers={listed};{warning - 1};{critical - 1};0;2"
    assert perf[-1].startswith("time=") and perf[-1].endswith("s")


@pytest.mark.parametrize(
    ("personality", "state", "words"),
    [
        ("public", CRITICAL, "zen.spamhaus.org blocked for resolver 127.0.0.1"),
        ("ratelimited", CRITICAL, "127.255.255.255: rate limited"),
        ("hidelists", CRITICAL, "zen.spamhaus.org hidden by resolver"),
        ("nxrewrite", CRITICAL, "answers rewritten by resolver"),
        ("garbage", CRITICAL, "malformed answers from resolver"),
        ("broken", CRITICAL, "malformed answers from resolver"),
        ("blackhole", UNKNOWN, "not checked on any of 2 lists"),
        ("servfail", UNKNOWN, "(SERVFAIL)"),
        ("refused", UNKNOWN, "(REFUSED)"),
    ],
)
def test_a_resolver_fault_is_about_the_resolver_never_a_listing(fixtures, personality, state, words) -> None:
    code, output = run(fixtures, personality, "-H", CLEAN)
    assert code == state and words in output, output
    assert "BLACKLISTED" not in output  # check_rbl says "BLACKLISTED" for 127.255.255.254
    assert_guidelines(code, output)


def test_a_listing_on_the_list_that_works_still_counts_beside_a_blocked_one(fixtures) -> None:
    code, output = run(fixtures, "public", "-H", LISTED, "-v")
    status, perf = status_and_perfdata(output)
    assert code == CRITICAL
    assert "BLACKLISTED on 1 server of 1 checked (bl.spamcop.net (127.0.0.2))" in status
    assert "not checked: zen.spamhaus.org" in status
    assert "servers=1;0;0;0;2" in perf and "unchecked=1;;;0;2" in perf
    # long output (-v): why the list was not checked, in the probe's words
    assert "the resolver gets the list's error answers" in output


def test_resolver_state_option_turns_a_blocked_list_into_unknown(fixtures) -> None:
    code, output = run(fixtures, "public", "-H", CLEAN, "--resolver-state", "unknown", zones=("zen.spamhaus.org",))
    assert code == UNKNOWN and "blocked for resolver" in output


def test_without_host_the_plugin_checks_the_lists_through_the_resolver(fixtures) -> None:
    code, output = run(fixtures, "resolver")
    assert code == OK and "2 of 2 lists working" in output
    code, output = run(fixtures, "hidelists")
    assert code == CRITICAL and "1 of 2 lists working" in output


def test_verbosity_levels(fixtures) -> None:
    _code, quiet = run(fixtures, "public", "-H", CLEAN)
    assert len(quiet.splitlines()) == 1  # verbosity 0: the status line only
    _code, pairs = run(fixtures, "public", "-H", CLEAN, "-vv")
    assert "zen.spamhaus.org via 127.0.0.1#" in pairs and "blocked_open_resolver" in pairs
    _code, debug = run(fixtures, "public", "-H", CLEAN, "-vvv")
    assert json.loads(debug.splitlines()[-1])["probes"]


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["-H", CLEAN, "-s", "zen.spamhaus.org", "-w", "3", "-c", "2"], "critical has to be greater or equal warning"),
        (["-H", CLEAN], "at least one -s/--server"),
        (["-H", CLEAN, "-s", "zen.spamhaus.org", "-n", "resolver.example"], "Invalid nameserver resolver.example"),
        (["-H", CLEAN, "-s", "zen.spamhaus.org", "--bogus"], "unrecognized arguments: --bogus"),
        (["-U", "example.org", "-s", "dbl.spamhaus.org"], "-U/--url is not supported"),
        (["--report", "x.json", "--critical-severity", "awful"], "unknown severity 'awful'"),
    ],
)
def test_usage_errors_are_unknown_with_one_line(argv, words) -> None:
    out = io.StringIO()
    assert main(argv, out) == UNKNOWN
    assert out.getvalue().count("\n") == 1 and words in out.getvalue() and out.getvalue().startswith("DNSBL UNKNOWN")


def test_help_and_version_exit_unknown_as_check_rbl() -> None:
    out = io.StringIO()
    assert main(["-h"], out) == UNKNOWN and "--nameserver" in out.getvalue()
    out = io.StringIO()
    assert main(["-V"], out) == UNKNOWN and out.getvalue().startswith("check_maildns_dnsbl ")


def test_nameserver_forms() -> None:
    assert parse_nameserver("192.0.2.53").port == 53
    assert (parse_nameserver("192.0.2.53#5353").address, parse_nameserver("192.0.2.53#5353").port) == (
        "192.0.2.53",
        5353,
    )
    assert parse_nameserver("192.0.2.53:5353").port == 5353
    assert parse_nameserver("2001:db8::53").address == "2001:db8::53"
    assert parse_nameserver("[2001:db8::53]:5353").port == 5353


def test_system_resolvers_are_what_glibc_takes_from_resolv_conf(tmp_path) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text("# x\nnameserver 10.0.0.1\nnameserver not-an-ip\nnameserver 10.0.0.2\noptions rotate\n")
    assert [(r.address, r.source) for r in system_resolvers(str(conf))] == [
        ("10.0.0.1", f"{conf} line 2"),
        ("10.0.0.2", f"{conf} line 4"),
    ]
    [default] = system_resolvers(str(tmp_path / "missing"))
    assert default.address == "127.0.0.1" and "glibc default" in default.source


def test_perf_labels_are_quoted_when_they_must_be() -> None:
    assert nagios_check.Perf("time", 0.0123, "s").text() == "time=0.012s"
    assert nagios_check.Perf("a b", 1, "", "0", "", "0").text() == "'a b'=1;0;;0"
    assert PERF_ITEM.match(nagios_check.Perf("it's", 2).text())


# -- the script, as Nagios runs it ------------------------------------------------------------------


def script_env() -> dict:
    return dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")


def test_the_script_runs_the_plugin_from_the_collection_it_lives_in(fixtures) -> None:
    address, port = fixtures["public"]
    result = subprocess.run(
        [str(SCRIPT), "-H", CLEAN, "-s", "zen.spamhaus.org", "-n", f"{address}#{port}", "--query-timeout", "0.4"],
        capture_output=True,
        text=True,
        env=script_env(),
        check=False,
    )
    assert result.returncode == CRITICAL and result.stdout.startswith("DNSBL CRITICAL - zen.spamhaus.org blocked")
    assert result.stderr == ""


def test_the_script_without_its_collection_is_unknown_with_a_reason(tmp_path) -> None:
    lonely = tmp_path / "check_maildns_dnsbl"
    shutil.copy(SCRIPT, lonely)
    env = dict(script_env(), MAILDNS_COLLECTION_PATH=str(tmp_path / "nowhere"))
    result = subprocess.run([str(lonely), "-V"], capture_output=True, text=True, env=env, check=False)
    assert result.returncode == UNKNOWN and result.stdout.startswith("DNSBL UNKNOWN - the maildns.audit collection")
    env["MAILDNS_COLLECTION_PATH"] = str(REPO / ".collections")
    result = subprocess.run([str(lonely), "-V"], capture_output=True, text=True, env=env, check=False)
    assert result.returncode == UNKNOWN and result.stdout.startswith("check_maildns_dnsbl ")


# -- fleet mode --------------------------------------------------------------------------------------

NOW = datetime.datetime(2026, 11, 23, 12, 0, tzinfo=datetime.UTC)


def finding(severity: str, fid: str = "X_FINDING", waived: bool = False) -> dict:
    return {"id": fid, "severity": severity, "title": "t", "fix": "f", "evidence": {}, "waived": waived}


def report(*hosts: dict, generated: str = "2026-11-23T10:00:00+00:00") -> dict:
    return {"schema": "maildns.audit/report", "version": 1, "generated": generated, "summary": {}, "hosts": list(hosts)}


def host(name: str, *findings: dict, audited: bool = True, why: str | None = None) -> dict:
    return {"host": name, "audited": audited, "not_audited": why, "findings": list(findings), "status": "findings"}


@pytest.mark.parametrize(
    ("hosts", "state", "words"),
    [
        ([host("mx01"), host("mx02", finding("low"))], OK, "all 2 hosts audited"),
        ([host("mx01", finding("medium"))], WARNING, "1 host at medium (mx01)"),
        ([host("mx01", finding("high")), host("mx02", finding("critical"))], CRITICAL, "2 hosts at high or worse"),
        ([host("mx01", finding("critical", waived=True))], OK, "no unwaived finding"),
        ([host("mx01"), host("mx02", audited=False, why="unreachable")], WARNING, "1 not audited (mx02 (unreachable))"),
    ],
)
def test_the_fleet_state_is_the_worst_unwaived_severity(hosts, state, words) -> None:
    result = evaluate_report(report(*hosts), NOW)
    assert result.state == state and words in result.summary, result.summary
    output = result.render()
    assert_guidelines(result.state, output)
    perf = status_and_perfdata(output)[1]
    assert f"hosts={len(hosts)};;;0" in perf and "age=7200s;;;0" in perf
    assert any(p.startswith("high=") and p.endswith(";;0;0") for p in perf)  # high is critical by default
    assert any(p.startswith("medium=") and p.endswith(";0;;0") for p in perf)


def test_an_old_report_is_unknown_or_what_the_user_says() -> None:
    old = report(host("mx01", finding("critical")), generated="2026-11-20T12:00:00+00:00")
    result = evaluate_report(old, NOW, max_age_minutes=60)
    assert result.state == UNKNOWN and "report is 3 days old" in result.summary
    result = evaluate_report(report(host("mx01")), NOW, max_age_minutes=60, stale_state=WARNING)
    assert result.state == WARNING and "age=7200s;3600;;0" in result.render()


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (None, "no report at"),
        ("{not json", "is not JSON"),
        ("[1, 2]", "not a maildns.audit report"),
        (json.dumps({"schema": "maildns.audit/report", "version": 7, "hosts": []}), "version 7 is not supported"),
        (json.dumps(report(host("mx01"), generated="yesterday")), "says not when it was generated"),
        (json.dumps({**report(), "hosts": {"mx01": {}}}), "no list of hosts"),
        (json.dumps(report({"host": "mx01", "findings": [{"severity": "awful"}]})), "unknown severity 'awful'"),
        (json.dumps(report({"host": "mx01", "findings": 3})), "not a list"),
        ("\udcff", "cannot read"),
    ],
)
def test_a_bad_report_is_unknown_with_a_one_line_reason(tmp_path, content, words) -> None:
    path = tmp_path / "report.json"
    if content == "\udcff":
        path.write_bytes(b"\xff\xfe\x00garbage")
    elif content is not None:
        path.write_text(content)
    out = io.StringIO()
    code = main(["--report", str(path), "--max-age", "0"], out)
    assert code == UNKNOWN and out.getvalue().startswith("MAILDNS UNKNOWN - "), out.getvalue()
    assert words in out.getvalue() and out.getvalue().count("\n") == 1 and "Traceback" not in out.getvalue()


def test_fleet_mode_reads_a_file_and_lists_hosts_in_long_output(tmp_path) -> None:
    path = tmp_path / "report.json"
    data = report(host("mx01", finding("high", "DNSBL_RESOLVER_REFUSED"), finding("high", "DNSBL_RESOLVER_REFUSED")))
    data["generated"] = datetime.datetime.now(datetime.UTC).isoformat()
    path.write_text(json.dumps(data))
    out = io.StringIO()
    code = main(["--report", str(path), "-v", "--critical-severity", "critical"], out)
    assert code == WARNING, out.getvalue()
    assert "mx01: high: DNSBL_RESOLVER_REFUSED x2" in out.getvalue().splitlines()[1:]
