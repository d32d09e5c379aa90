"""report.json as node_exporter textfile metrics: the .prom file, read back with the Prometheus client's parser."""

from __future__ import annotations

import copy
import datetime
import itertools
import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ansible_collections.maildns.audit.plugins.module_utils import report_metrics
from ansible_collections.maildns.audit.plugins.module_utils.collection_version import COLLECTION_VERSION
from ansible_collections.maildns.audit.plugins.module_utils.findings import SEVERITIES, Finding
from ansible_collections.maildns.audit.plugins.module_utils.fleet_report import build_report
from ansible_collections.maildns.audit.plugins.module_utils.report_metrics import (
    METRIC_NAMES,
    METRICS,
    ReportError,
    apply,
    metrics_table,
    plan,
    write_metrics,
)
from tests.conftest import REPO_ROOT
from tests.unit.test_fleet_report import ALL_UNKNOWN, RESULTS, TODAY, result

GENERATED = "2026-11-23T10:00:00+00:00"
STATUSES = ("ok", "findings", "unknown", "unreachable")


def report_of(results: dict, waivers: dict | None = None) -> dict:
    report = build_report(results, waivers or {}, "high", TODAY)
    report["generated"] = GENERATED  # build_report stamps the wall clock; the tests want one report
    return report


def write(report: dict, tmp_path: Path, name: str = "maildns_audit.prom") -> Path:
    path = tmp_path / name
    write_metrics(report, str(path))
    return path


def families(path: Path) -> dict:
    """{family name: {tuple(sorted(labels.items())): value}}, read by prometheus_client's parser."""
    parsed: dict = {}
    for family in text_string_to_metric_families(path.read_text()):
        samples = parsed.setdefault(family.name, {})
        for sample in family.samples:
            key = tuple(sorted(sample.labels.items()))
            assert key not in samples, f"{family.name} has the series {key} twice"
            samples[key] = sample.value
    return parsed


def by(samples: dict, *names: str) -> dict:
    """{(label values in the order of names): value} of one family."""
    return {tuple(dict(key)[name] for name in names): value for key, value in samples.items()}


# -- what the file holds --------------------------------------------------------------------------


def test_the_file_parses_and_holds_one_series_per_host_and_severity(tmp_path) -> None:
    parsed = families(write(report_of(RESULTS), tmp_path))
    findings = by(parsed["maildns_audit_findings"], "host", "severity")
    assert sorted(findings) == sorted(itertools.product(RESULTS, SEVERITIES))
    expected = {key: 0.0 for key in findings}
    # bad: RESOLV_CONF_PUBLIC_NAMESERVER (critical) and DNSBL_UNREACHABLE (medium); medium: DNSBL_UNREACHABLE
    expected.update({("bad", "critical"): 1.0, ("bad", "medium"): 1.0, ("medium", "medium"): 1.0})
    assert findings == expected
    assert by(parsed["maildns_audit_finding"], "host", "id", "severity") == {
        ("bad", "RESOLV_CONF_PUBLIC_NAMESERVER", "critical"): 1.0,
        ("bad", "DNSBL_UNREACHABLE", "medium"): 1.0,
        ("medium", "DNSBL_UNREACHABLE", "medium"): 1.0,
    }
    assert set(parsed) == set(METRIC_NAMES)  # the writer writes what METRICS (and the docs) say
    for family in text_string_to_metric_families((tmp_path / "maildns_audit.prom").read_text()):
        assert family.type == "gauge" and family.documentation


def test_the_report_info_the_timestamp_and_the_gate(tmp_path) -> None:
    parsed = families(write(report_of(RESULTS), tmp_path))
    assert parsed["maildns_audit_report_info"] == {
        (
            ("collection_version", COLLECTION_VERSION),
            ("schema", "maildns.audit/report"),
            ("schema_version", "1"),
        ): 1.0
    }
    stamp = parsed["maildns_audit_last_run_timestamp_seconds"][()]
    assert stamp == datetime.datetime(2026, 11, 23, 10, tzinfo=datetime.UTC).timestamp()
    assert parsed["maildns_audit_gate_failed"] == {(("fail_on", "high"), ("fail_on_not_audited", "true")): 1.0}
    assert by(parsed["maildns_audit_host_gate_failed"], "host") == {
        ("bad",): 1.0,
        ("gone",): 1.0,
        ("never",): 1.0,
        ("good",): 0.0,
        ("medium",): 0.0,
        ("blind",): 0.0,
    }
    assert by(parsed["maildns_audit_hosts"], "status") == {
        ("ok",): 1.0,
        ("findings",): 2.0,
        ("unknown",): 1.0,
        ("unreachable",): 2.0,
    }


def test_host_status_is_a_state_set_and_hosts_not_audited_say_why(tmp_path) -> None:
    results = dict(RESULTS, dark=ALL_UNKNOWN)
    parsed = families(write(report_of(results), tmp_path))
    status = by(parsed["maildns_audit_host_status"], "host", "status")
    assert sorted(status) == sorted(itertools.product(results, STATUSES))
    current = {host: [s for s in STATUSES if status[(host, s)] == 1.0] for host in results}
    assert current == {
        "good": ["ok"],
        "bad": ["findings"],
        "medium": ["findings"],
        "blind": ["unknown"],
        "gone": ["unreachable"],
        "never": ["unreachable"],
        "dark": ["unknown"],
    }
    assert sum(status.values()) == len(results)
    audited = by(parsed["maildns_audit_host_audited"], "host")
    assert {host for (host,), value in audited.items() if value == 0.0} == {"gone", "never", "dark"}
    assert by(parsed["maildns_audit_host_not_audited"], "host", "why") == {
        ("gone", "unreachable"): 1.0,
        ("never", "unreachable"): 1.0,
        ("dark", "every check unknown"): 1.0,
    }
    # a host not audited still has its five severities, at 0
    assert by(parsed["maildns_audit_findings"], "host", "severity")[("dark", "critical")] == 0.0


def test_waived_findings_count_apart_and_unknown_ids_stay_bounded(tmp_path) -> None:
    results = dict(RESULTS)
    results["twice"] = result("DNSBL_UNREACHABLE", "DNSBL_UNREACHABLE", "DNSBL_SINGLE_LIST")
    # an ID from a newer collection than this one
    results["twice"]["findings"][2].update(id="FROM_A_NEWER_RELEASE", severity="low")
    waivers = {"bad": [{"id": "RESOLV_CONF_PUBLIC_NAMESERVER", "reason": "migrating", "expires": "2026-12-31"}]}
    parsed = families(write(report_of(results, waivers), tmp_path))
    findings = by(parsed["maildns_audit_findings"], "host", "severity")
    assert findings[("bad", "critical")] == 0.0 and findings[("bad", "medium")] == 1.0
    assert by(parsed["maildns_audit_findings_waived"], "host", "severity") == {("bad", "critical"): 1.0}
    per_id = by(parsed["maildns_audit_finding"], "host", "id", "severity")
    assert ("bad", "RESOLV_CONF_PUBLIC_NAMESERVER", "critical") not in per_id
    assert per_id[("twice", "DNSBL_UNREACHABLE", "medium")] == 2.0
    assert per_id[("twice", report_metrics.OTHER_ID, "low")] == 1.0


def probe_finding(finding_id: str, zone: str, resolver: str, classification: str) -> dict:
    evidence = {"zone": zone, "resolver": resolver, "resolver_source": "/etc/resolv.conf line 1"}
    evidence["classification"] = classification
    return dict(Finding(finding_id, evidence).as_dict(), area="dnsbl")


def test_dnsbl_probe_classifications_come_from_the_findings_evidence(tmp_path) -> None:
    results = dict(RESULTS)
    results["refused"] = {
        "findings": [
            probe_finding("DNSBL_RESOLVER_REFUSED", "zen.spamhaus.org", "1.1.1.1", "blocked_open_resolver"),
            probe_finding("DNSBL_UNREACHABLE", "bl.spamcop.net", "10.0.0.53", "unreachable"),
            dict(Finding("DNSBL_SINGLE_LIST", {"zone": "zen.spamhaus.org"}).as_dict(), area="postfix"),
        ],
        "checks": [{"name": "dnsbl: dnsbl_probe", "status": "ok", "reason": ""}],
    }
    parsed = families(write(report_of(results), tmp_path))
    assert by(parsed["maildns_audit_dnsbl_probe"], "host", "zone", "resolver", "classification") == {
        ("refused", "zen.spamhaus.org", "1.1.1.1", "blocked_open_resolver"): 1.0,
        ("refused", "bl.spamcop.net", "10.0.0.53", "unreachable"): 1.0,
    }


def test_a_probes_list_in_a_host_entry_gives_every_pair_working_ones_too(tmp_path) -> None:
    report = report_of(RESULTS)
    good = next(host for host in report["hosts"] if host["host"] == "good")
    good["probes"] = [
        {"zone": "zen.spamhaus.org", "resolver": "127.0.0.1", "classification": "working"},
        {"zone": "<DQS key>.zen.dq.spamhaus.net", "resolver": "127.0.0.1", "classification": "working"},
    ]
    parsed = families(write(report, tmp_path))
    assert by(parsed["maildns_audit_dnsbl_probe"], "host", "zone", "classification") == {
        ("good", "zen.spamhaus.org", "working"): 1.0,
        ("good", "<DQS key>.zen.dq.spamhaus.net", "working"): 1.0,
    }


@pytest.mark.parametrize("odd", ['mx"quoted"', "back\\slash", "new\nline", 'all"\\\n} 1\nfake_metric 7'])
def test_odd_host_names_are_escaped_and_cannot_break_the_file(tmp_path, odd: str) -> None:
    results = {"good": RESULTS["good"], odd: result("DNSBL_UNREACHABLE")}
    path = write(report_of(results), tmp_path)
    text = path.read_text()
    assert all(
        line.startswith(("# HELP maildns_audit_", "# TYPE maildns_audit_", "maildns_audit_"))
        for line in text.splitlines()
    )
    parsed = families(path)
    assert set(parsed) == set(METRIC_NAMES)
    findings = by(parsed["maildns_audit_findings"], "host", "severity")
    assert findings[(odd, "medium")] == 1.0
    assert {pair[0] for pair in findings} == {"good", odd}


def test_an_empty_fleet_gives_a_file_with_the_fleet_metrics_and_no_host_series(tmp_path) -> None:
    parsed = families(write(report_of({}), tmp_path))
    assert set(parsed) == set(METRIC_NAMES)
    assert parsed["maildns_audit_findings"] == {} and parsed["maildns_audit_host_status"] == {}
    assert by(parsed["maildns_audit_hosts"], "status") == {(status,): 0.0 for status in STATUSES}
    assert parsed["maildns_audit_gate_failed"] == {(("fail_on", "high"), ("fail_on_not_audited", "true")): 0.0}


def test_a_report_from_before_the_audited_fields_still_reads(tmp_path) -> None:
    report = report_of(RESULTS)
    for host in report["hosts"]:
        del host["audited"], host["not_audited"]
    del report["collection_version"]
    parsed = families(write(report, tmp_path))
    audited = by(parsed["maildns_audit_host_audited"], "host")
    assert audited[("gone",)] == 0.0 and audited[("blind",)] == 1.0
    assert dict(next(iter(parsed["maildns_audit_report_info"])))["collection_version"] == "unknown"


# -- writing: atomic, idempotent, honest about changes ---------------------------------------------


def test_the_same_report_gives_the_same_bytes_and_a_second_run_changes_nothing(tmp_path) -> None:
    report_path = tmp_path / "report.json"
    report_path.write_text(json.dumps(report_of(RESULTS), indent=1, sort_keys=True))
    target = tmp_path / "maildns_audit.prom"
    first = plan(str(report_path), str(target))
    assert first["changed"] and first["before"] is None
    apply(first, str(target))
    assert target.read_bytes() == first["text"]
    assert oct(os.stat(target).st_mode & 0o7777) == oct(0o644)
    inode = os.stat(target).st_ino
    second = plan(str(report_path), str(target))
    assert not second["changed"] and second["text"] == first["text"]
    apply(second, str(target))
    assert os.stat(target).st_ino == inode  # not even rewritten
    # the same report object rendered twice, and rebuilt from the same results: the same bytes
    assert report_metrics.render_metrics(report_of(RESULTS)) == report_metrics.render_metrics(report_of(RESULTS))
    # a new audit run (a new generated time) is a change
    newer = json.loads(report_path.read_text())
    newer["generated"] = "2026-11-24T10:00:00+00:00"
    report_path.write_text(json.dumps(newer))
    assert plan(str(report_path), str(target))["content_changed"]
    # only the mode differs: changed, and the file is left alone but for its mode
    report_path.write_text(json.dumps(report_of(RESULTS)))
    only_mode = plan(str(report_path), str(target), "0640")
    assert only_mode["changed"] and not only_mode["content_changed"]
    apply(only_mode, str(target))
    assert os.stat(target).st_ino == inode and os.stat(target).st_mode & 0o7777 == 0o640


def test_the_file_is_replaced_by_a_rename_so_a_reader_never_sees_half_of_it(tmp_path) -> None:
    target = write(report_of(RESULTS), tmp_path)
    old_text = target.read_bytes()
    with open(target, "rb") as reader:  # node_exporter in the middle of a scrape
        bigger = dict(RESULTS, **{f"mx{n:03d}": result("DNSBL_UNREACHABLE") for n in range(200)})
        write_metrics(report_of(bigger), str(target), 0o600)
        assert reader.read() == old_text  # the old file, whole: the new one is another inode
    assert target.read_bytes() != old_text and families(target)["maildns_audit_findings"]
    assert sorted(os.listdir(tmp_path)) == ["maildns_audit.prom"]  # no temporary file left behind
    assert os.stat(target).st_mode & 0o7777 == 0o600


# -- what the module refuses, and the fix it names --------------------------------------------------


@pytest.mark.parametrize(
    ("content", "complaint"),
    [
        (None, "cannot read the report"),
        ("<html>not json</html>", "not JSON"),
        ("[1, 2]", "a JSON list"),
        (json.dumps({"schema": "someone/else", "version": 1}), "schema 'someone/else'"),
        (json.dumps({"schema": "maildns.audit/report", "version": 2}), "version 2"),
        (json.dumps({"schema": "maildns.audit/report", "version": 1, "generated": "yesterday"}), "generated"),
    ],
)
def test_a_missing_garbage_or_foreign_report_fails_with_the_fix(tmp_path, content: str | None, complaint: str) -> None:
    report_path = tmp_path / "report.json"
    if content is not None:
        report_path.write_text(content)
    with pytest.raises(ReportError) as error:
        plan(str(report_path), str(tmp_path / "maildns_audit.prom"))
    assert complaint in str(error.value)
    assert "fleet_report" in str(error.value) or "maildns.audit that wrote it" in str(error.value)
    assert not (tmp_path / "maildns_audit.prom").exists()


def test_a_report_whose_hosts_are_malformed_is_refused(tmp_path) -> None:
    report = report_of(RESULTS)
    broken = copy.deepcopy(report)
    broken["hosts"][0]["findings"][0]["severity"] = "apocalyptic"
    with pytest.raises(ReportError, match="severity"):
        write(broken, tmp_path)
    broken = copy.deepcopy(report)
    broken["hosts"][0]["status"] = "fine"
    with pytest.raises(ReportError, match="status 'fine'"):
        write(broken, tmp_path)
    broken = copy.deepcopy(report)
    broken["hosts"].append(copy.deepcopy(broken["hosts"][0]))
    with pytest.raises(ReportError, match="twice"):
        write(broken, tmp_path)


def test_the_target_must_be_a_prom_file_in_a_folder_that_exists_and_the_mode_octal(tmp_path) -> None:
    report_path = tmp_path / "report.json"
    report_path.write_text(json.dumps(report_of(RESULTS)))
    with pytest.raises(ReportError, match=r"reads only \*\.prom"):
        plan(str(report_path), str(tmp_path / "metrics.txt"))
    with pytest.raises(ReportError, match="/var/lib/prometheus/node-exporter"):
        plan(str(report_path), str(tmp_path / "absent" / "maildns_audit.prom"))
    with pytest.raises(ReportError, match="quote it"):
        plan(str(report_path), str(tmp_path / "maildns_audit.prom"), "u=rw,go=r")
    assert plan(str(report_path), str(tmp_path / "m.prom"), 0o640)["mode"] == 0o640  # YAML's 0640
    assert plan(str(report_path), str(tmp_path / "m.prom"), "640")["mode"] == 0o640


# -- names and docs -------------------------------------------------------------------------------


def test_metric_and_label_names_follow_prometheus_naming() -> None:
    for metric in METRICS:
        assert re.fullmatch(r"maildns_audit_[a-z][a-z0-9_]*[a-z0-9]", metric.name), metric.name
        assert metric.type == "gauge" and not metric.name.endswith("_total"), "gauges never end in _total"
        assert "timestamp" not in metric.name or metric.name.endswith("_timestamp_seconds")
        for label in metric.labels:
            assert re.fullmatch(r"[a-z][a-z0-9_]*", label) and not label.startswith("__"), label
        assert metric.help.endswith(".")
    assert len(set(METRIC_NAMES)) == len(METRICS)


def test_the_metrics_table_in_the_docs_is_generated_from_metrics() -> None:
    document = (REPO_ROOT / "docs" / "PROMETHEUS.md").read_text()
    assert report_metrics.splice_metrics_table(document) == document, (
        "docs/PROMETHEUS.md's metrics table is stale; between its markers it must read:\n" + metrics_table()
    )


# -- the module, as Ansible runs it ---------------------------------------------------------------


def run_module(*args: str) -> tuple[str, dict]:
    """`ansible localhost -o -m maildns.audit.report_metrics`: (SUCCESS/CHANGED/FAILED, result)."""
    done = subprocess.run(
        ["ansible", "localhost", "-o", "-m", "maildns.audit.report_metrics", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO_ROOT,
    )
    found = re.search(r"^localhost \| (\w+!?) => (\{.*\})$", done.stdout, re.MULTILINE)
    assert found, done.stdout + done.stderr
    return found.group(1), json.loads(found.group(2))


def test_the_module_honours_check_mode_and_a_second_run_is_unchanged(tmp_path) -> None:
    report_path = tmp_path / "report.json"
    report_path.write_text(json.dumps(report_of(RESULTS), indent=1, sort_keys=True))
    target = tmp_path / "maildns_audit.prom"
    arguments = f"report={report_path} path={target}"
    state, checked = run_module("-a", arguments, "--check")
    assert state == "CHANGED" and checked["changed"] and not target.exists()
    state, written = run_module("-a", arguments)
    assert state == "CHANGED" and written["series"] == report_metrics.series_count(target.read_bytes())
    assert written["hosts"] == len(RESULTS) and written["gate_failed"] is True
    assert by(families(target)["maildns_audit_findings"], "host", "severity")[("bad", "critical")] == 1.0
    state, again = run_module("-a", arguments)
    assert state == "SUCCESS" and again["changed"] is False
    state, checked = run_module("-a", arguments, "--check")
    assert state == "SUCCESS" and checked["changed"] is False


def test_the_module_fails_with_the_fix_for_a_foreign_report(tmp_path) -> None:
    report_path = tmp_path / "report.json"
    report_path.write_text(json.dumps({"schema": "someone/else"}))
    state, failed = run_module("-a", f"report={report_path} path={tmp_path / 'maildns_audit.prom'}")
    assert state == "FAILED!" and "not a maildns.audit fleet report" in failed["msg"]


SYSTEM_PYTHON = "/usr/bin/python3"


def test_the_module_names_the_missing_library_where_prometheus_client_is_not_installed(tmp_path) -> None:
    if (
        not os.path.exists(SYSTEM_PYTHON)
        or not subprocess.run(
            [SYSTEM_PYTHON, "-c", "import prometheus_client"], capture_output=True, check=False
        ).returncode
    ):
        pytest.skip(f"needs a Python without prometheus-client: {SYSTEM_PYTHON} is missing or has it")
    report_path = tmp_path / "report.json"
    report_path.write_text(json.dumps(report_of(RESULTS)))
    state, failed = run_module(
        "-a",
        f"report={report_path} path={tmp_path / 'maildns_audit.prom'}",
        "-e",
        f"ansible_python_interpreter={SYSTEM_PYTHON}",
    )
    assert state == "FAILED!" and "Failed to import the required Python library (prometheus-client)" in failed["msg"]
    assert not (tmp_path / "maildns_audit.prom").exists()
