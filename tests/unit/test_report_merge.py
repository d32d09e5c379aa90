"""report_merge: slices of one audit merged into the fleet report one unsliced run writes; what it refuses."""

from __future__ import annotations

import datetime
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ansible_collections.maildns.audit.plugins.module_utils.collection_version import COLLECTION_VERSION
from ansible_collections.maildns.audit.plugins.module_utils.findings import Finding
from ansible_collections.maildns.audit.plugins.module_utils.fleet_report import (
    build_report,
    render_html,
    render_junit,
    render_markdown,
    write_report,
)
from ansible_collections.maildns.audit.plugins.module_utils.report_merge import MergeError, merge_reports
from tests.conftest import REPO_ROOT

TODAY = datetime.date(2026, 11, 23)


def result(*ids: str, unknown: str = "") -> dict:
    checks = [
        {"name": "resolver: resolv_conf", "status": "ok", "reason": ""},
        {"name": "dnsbl: dnsbl_probe", "status": "unknown" if unknown else "ok", "reason": unknown},
    ]
    findings = [dict(Finding(i, {"file": "/etc/x", "n": n}).as_dict(), area="dnsbl") for n, i in enumerate(ids)]
    return {"findings": findings, "checks": checks}


RESULTS = {
    "mx01": result(),
    "mx02": result("RESOLV_CONF_PUBLIC_NAMESERVER", "DNSBL_UNREACHABLE"),
    "mx03": result("DNSBL_UNREACHABLE"),
    "mx04": result(unknown="no dnspython"),
    "mx05": {"unreachable": True, "msg": "Failed to connect to the host via ssh: Connection timed out"},
    "mx06": result("PTR_MISSING", "PTR_MISSING"),
    "mx07": result("MX_IS_IP_LITERAL"),
    "mx08": {"timedout": {"period": 300}, "failed": True},
}
WAIVERS = {"mx07": [{"id": "MX_IS_IP_LITERAL", "reason": "moving", "expires": "2099-01-01"}]}


def awx_slices(count: int) -> list[dict]:
    """The slices AWX makes: hosts by name, slice k of N takes hosts[k-1::N] (Inventory.get_sliced_hosts)."""
    names = sorted(RESULTS)
    return [
        build_report({h: RESULTS[h] for h in names[k::count]}, WAIVERS, "high", TODAY, fail_on_not_audited=True)
        for k in range(count)
    ]


def write_slices(tmp_path: Path, reports: list[dict]) -> list[str]:
    paths = []
    for number, report in enumerate(reports, 1):
        folder = tmp_path / f"job-{100 + number}"
        write_report(report, str(folder))
        paths.append(str(folder / "report.json"))
    return paths


def without_time(report: dict) -> dict:
    return {key: value for key, value in report.items() if key not in ("generated", "slices")}


def untimed(text: str) -> str:
    return re.sub(r"generated [^<]*</div>", "generated T</div>", text)


def test_three_slices_merge_into_the_unsliced_report(tmp_path) -> None:
    unsliced = build_report(RESULTS, WAIVERS, "high", TODAY)
    merged, warnings = merge_reports(write_slices(tmp_path, awx_slices(3)))
    assert warnings == []
    assert without_time(merged) == without_time(unsliced)
    assert [h["host"] for h in merged["hosts"]] == [h["host"] for h in unsliced["hosts"]]  # worst first, as one run
    assert render_junit(merged) == render_junit(unsliced)
    assert render_markdown(merged) == render_markdown(unsliced)
    assert untimed(render_html(merged)) == untimed(render_html(unsliced))
    assert merged["summary"]["gate"]["not_audited"] == ["mx05", "mx08"]


def test_the_merged_report_says_where_each_host_came_from(tmp_path) -> None:
    slices = awx_slices(3)
    paths = write_slices(tmp_path, slices)
    merged, _warnings = merge_reports(paths)
    assert merged["slices"] == [
        {"file": path, "generated": s["generated"], "collection_version": COLLECTION_VERSION, "hosts": n}
        for path, s, n in zip(paths, slices, (3, 3, 2), strict=True)
    ]
    assert merged["collection_version"] == COLLECTION_VERSION
    # and the merged report, written, is a report the merge reads again (a merge of merges)
    write_report(merged, str(tmp_path / "fleet"))
    again, _warnings = merge_reports([str(tmp_path / "fleet" / "report.json")])
    assert without_time(again) == without_time(merged)


def test_a_host_in_two_slices_is_refused_with_the_host_and_both_files(tmp_path) -> None:
    first, second = awx_slices(2)
    rerun = build_report({"mx03": RESULTS["mx03"], "mx10": result()}, {}, "high", TODAY)  # another run's slice
    paths = write_slices(tmp_path, [first, second, rerun])
    with pytest.raises(MergeError) as error:
        merge_reports(paths)
    assert "host mx03 is in two slices" in str(error.value)
    assert paths[0] in str(error.value) and paths[2] in str(error.value)
    # identical entries are no excuse: an ok host looks the same in any two runs
    copy = tmp_path / "copy.json"
    copy.write_text(Path(paths[0]).read_text())
    first_host = first["hosts"][0]["host"]
    with pytest.raises(MergeError, match=f"host {first_host} is in two slices: {re.escape(paths[0])} and {copy}"):
        merge_reports([paths[0], str(copy)])


def test_the_same_file_given_twice_is_read_once(tmp_path) -> None:
    paths = write_slices(tmp_path, awx_slices(2))
    merged, warnings = merge_reports(
        [paths[0], paths[1], str(Path(paths[0]).parent / ".." / "job-101" / "report.json")]
    )
    assert merged["summary"]["hosts"] == len(RESULTS) and len(merged["slices"]) == 2
    assert warnings == [f"{Path(paths[0]).parent}/../job-101/report.json is given twice (as {paths[0]}): read once"]


def test_slices_of_different_versions_are_refused_unless_allowed(tmp_path) -> None:
    first, second = awx_slices(2)
    second["collection_version"] = "0.0.9"
    paths = write_slices(tmp_path, [first, second])
    with pytest.raises(MergeError) as error:
        merge_reports(paths)
    message = str(error.value)
    assert f"{paths[0]} by {COLLECTION_VERSION}, {paths[1]} by 0.0.9" in message
    assert "allow_mixed_versions" in message
    merged, warnings = merge_reports(paths, allow_mixed_versions=True)
    assert merged["summary"]["hosts"] == len(RESULTS)
    assert [s["collection_version"] for s in merged["slices"]] == [COLLECTION_VERSION, "0.0.9"]
    assert len(warnings) == 1 and "merged anyway" in warnings[0] and paths[1] in warnings[0]


def test_slices_of_another_version_than_the_merge_keep_theirs_with_a_warning(tmp_path) -> None:
    slices = awx_slices(2)
    for report in slices:
        report["collection_version"] = "0.0.9"
    merged, warnings = merge_reports(write_slices(tmp_path, slices))
    assert merged["collection_version"] == "0.0.9"
    assert warnings and "the merge runs" in warnings[0]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "cannot read the slice report {path}: No such file or directory"),
        ("", "{path} is not a maildns.audit report: not JSON"),
        ("<html>502 Bad Gateway</html>", "{path} is not a maildns.audit report: not JSON"),
        (b"\xff\xfe\x00", "{path} is not a maildns.audit report: not UTF-8 text"),
        ("[1, 2]", "{path} is not a maildns.audit report: its JSON is a list"),
        ('{"schema": "junit", "version": 1}', "{path} is not a maildns.audit report: schema is 'junit'"),
        ('{"schema": "maildns.audit/report", "version": 2}', "{path} is a maildns.audit report of schema version 2"),
        ('{"schema": "maildns.audit/report", "version": 1}', "{path} has no collection_version"),
    ],
    ids=["missing", "empty", "html", "binary", "list", "other schema", "version 2", "no collection version"],
)
def test_a_file_that_is_no_report_is_refused_by_name(tmp_path, content, expected) -> None:
    good = write_slices(tmp_path, awx_slices(1))
    path = tmp_path / "slice" / "report.json"
    if content is not None:
        path.parent.mkdir()
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(MergeError) as error:
        merge_reports([*good, str(path)])
    assert str(error.value).startswith(expected.format(path=path))


def test_a_report_with_a_broken_host_entry_is_refused_naming_the_entry(tmp_path) -> None:
    [report] = awx_slices(1)
    del report["hosts"][2]["findings"]
    with pytest.raises(MergeError, match=r"report 1 hosts\[2\] \(\w+\) lacks findings"):
        merge_reports([report])
    [report] = awx_slices(1)
    report["hosts"][0]["findings"][0]["severity"] = "catastrophic"
    with pytest.raises(MergeError, match=r"has a finding without id, severity or waived"):
        merge_reports([report])
    with pytest.raises(MergeError, match="the list of reports is empty"):
        merge_reports([])


def test_the_gate_is_recomputed_over_the_whole_fleet(tmp_path) -> None:
    paths = write_slices(tmp_path, awx_slices(3))
    for fail_on, fail_on_not_audited in (("critical", True), ("medium", False), ("none", False)):
        merged, _warnings = merge_reports(paths, fail_on=fail_on, fail_on_not_audited=fail_on_not_audited)
        unsliced = build_report(RESULTS, WAIVERS, fail_on, TODAY, fail_on_not_audited=fail_on_not_audited)
        assert merged["summary"]["gate"] == unsliced["summary"]["gate"]
    assert merged["summary"]["gate"]["failed"] is False  # the slices failed theirs: the merge's own is what counts
    strict, _warnings = merge_reports(paths, fail_on="medium")
    assert strict["summary"]["gate"]["findings"] == ["mx02", "mx03", "mx06"]
    assert strict["summary"]["gate"]["not_audited"] == ["mx05", "mx08"]


def test_slices_gated_differently_need_the_gate_given(tmp_path) -> None:
    names = sorted(RESULTS)
    first = build_report({h: RESULTS[h] for h in names[:4]}, {}, "high", TODAY)
    second = build_report({h: RESULTS[h] for h in names[4:]}, {}, "critical", TODAY)
    paths = write_slices(tmp_path, [first, second])
    with pytest.raises(MergeError) as error:
        merge_reports(paths)
    assert f"{paths[0]}: fail_on high, fail_on_not_audited true; {paths[1]}: fail_on critical" in str(error.value)
    merged, _warnings = merge_reports(paths, fail_on="critical", fail_on_not_audited=True)
    assert merged["summary"]["gate"]["fail_on"] == "critical"


def run_module(tmp_path: Path, check_mode: bool = False, **arguments: object) -> dict:
    """The module run as Ansible runs it (its arguments in a file, ANSIBLE_MODULE_ARGS), on this machine."""
    args = tmp_path / "args.json"
    args.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": {**arguments, "_ansible_check_mode": check_mode}}))
    run = subprocess.run(
        [sys.executable, "-m", "ansible_collections.maildns.audit.plugins.modules.report_merge", str(args)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        check=False,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT / ".collections")},
    )
    return json.loads(run.stdout)


def test_the_module_in_check_mode_writes_nothing_and_says_what_would_change(tmp_path) -> None:
    write_slices(tmp_path, awx_slices(3))
    out = tmp_path / "fleet"
    glob = {"report_glob": f"{tmp_path}/job-*/report.json", "report_dir": str(out)}
    checked = run_module(tmp_path, True, **glob)
    assert checked["changed"] is True and not out.exists()
    assert checked["changes"] == {
        str(out / name): True for name in ("report.json", "junit.xml", "summary.md", "report.html")
    }
    written = run_module(tmp_path, **glob)
    assert written["changed"] is True and json.loads((out / "report.json").read_text())["summary"] == written["summary"]
    assert "mx05" in written["gate_message"] and len(written["slices"]) == 3
    assert run_module(tmp_path, True, **glob)["changed"] is False
    missing = run_module(tmp_path, report_glob=f"{tmp_path}/nothing-*/report.json", report_dir=str(out))
    assert missing["failed"] is True and "no slice report matches" in missing["msg"]
