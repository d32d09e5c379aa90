"""The fleet report: statuses, waivers, the gate, and the JUnit and Markdown renderings."""

from __future__ import annotations

import datetime
import json
import re
from xml.etree import ElementTree

import junitparser
import pytest

from ansible_collections.maildns.audit.plugins.module_utils.findings import Finding
from ansible_collections.maildns.audit.plugins.module_utils.fleet_report import (
    build_report,
    render_html,
    render_junit,
    render_markdown,
    write_report,
)
from tests.junit import junit_schema_errors

TODAY = datetime.date(2026, 11, 23)


def result(*ids: str, unknown: str = "") -> dict:
    checks = [
        {"name": "resolver: resolv_conf", "status": "ok", "reason": ""},
        {"name": "dnsbl: dnsbl_probe", "status": "unknown" if unknown else "ok", "reason": unknown},
    ]
    findings = [
        dict(Finding(i, {"file": "/etc/x"}).as_dict(), area="resolver" if "RESOLV" in i else "dnsbl") for i in ids
    ]
    return {"findings": findings, "checks": checks, "status": "unknown" if unknown else "ok"}


RESULTS = {
    "good": result(),
    "bad": result("RESOLV_CONF_PUBLIC_NAMESERVER", "DNSBL_UNREACHABLE"),
    "medium": result("DNSBL_UNREACHABLE"),
    "blind": result(unknown="no dnspython"),
    "gone": {"unreachable": True, "msg": "Failed to connect to the host via ssh: Connection timed out"},
    "never": {},
}


def test_statuses_and_reasons() -> None:
    report = build_report(RESULTS, {}, "high", TODAY)
    hosts = {host["host"]: host for host in report["hosts"]}
    assert {name: host["status"] for name, host in hosts.items()} == {
        "good": "ok",
        "bad": "findings",
        "medium": "findings",
        "blind": "unknown",
        "gone": "unreachable",
        "never": "unreachable",
    }
    assert "Connection timed out" in hosts["gone"]["reason"]
    assert hosts["blind"]["reason"] == "dnsbl: dnsbl_probe: no dnspython"
    assert hosts["bad"]["worst_severity"] == "critical"
    assert report["hosts"][0]["host"] == "bad"  # worst first
    assert report["summary"]["gate"] == {"fail_on": "high", "failed": True, "hosts": ["bad"]}


def test_gate_levels() -> None:
    assert build_report(RESULTS, {}, "medium", TODAY)["summary"]["gate"]["hosts"] == ["bad", "medium"]
    assert build_report(RESULTS, {}, "none", TODAY)["summary"]["gate"]["failed"] is False


def test_waivers_keep_findings_visible_and_expired_ones_are_findings() -> None:
    waivers = {
        "bad": [{"id": "RESOLV_CONF_PUBLIC_NAMESERVER", "reason": "migrating to unbound", "expires": "2026-12-31"}],
        "medium": [{"id": "DNSBL_UNREACHABLE", "reason": "list under test", "expires": "2026-11-01"}],
    }
    report = build_report(RESULTS, waivers, "high", TODAY)
    hosts = {host["host"]: host for host in report["hosts"]}
    waived = [f for f in hosts["bad"]["findings"] if f["waived"]]
    assert [f["id"] for f in waived] == ["RESOLV_CONF_PUBLIC_NAMESERVER"]
    assert waived[0]["waiver"] == {"reason": "migrating to unbound", "expires": "2026-12-31"}
    assert report["summary"]["gate"]["hosts"] == []  # the critical one is waived; the rest is medium
    ids = sorted(f["id"] for f in hosts["medium"]["findings"])
    assert ids == ["DNSBL_UNREACHABLE", "WAIVER_EXPIRED"]
    assert not any(f["waived"] for f in hosts["medium"]["findings"])


def test_junit_has_a_case_per_host_and_area_with_failures_and_errors() -> None:
    report = build_report(RESULTS, {}, "high", TODAY)
    root = ElementTree.fromstring(render_junit(report))
    assert root.tag == "testsuites"
    suites = {suite.get("name"): suite for suite in root}
    assert set(suites) == set(RESULTS)
    bad_cases = {case.get("name"): case for case in suites["bad"]}
    assert set(bad_cases) == {"bad: resolver", "bad: dnsbl"}
    assert bad_cases["bad: resolver"].find("failure").get("message") == "RESOLV_CONF_PUBLIC_NAMESERVER"
    assert suites["blind"].find("testcase[@name='blind: dnsbl']/error") is not None
    assert suites["gone"].find("testcase/error").get("type") == "unreachable"
    assert int(root.get("tests")) == sum(int(s.get("tests")) for s in root)
    assert suites["good"].get("failures") == "0" and suites["good"].get("errors") == "0"


def test_junit_is_valid_for_the_schema_ci_systems_read() -> None:
    assert junit_schema_errors(render_junit(build_report(RESULTS, {}, "high", TODAY))) == []


@pytest.mark.parametrize(
    ("document", "complaint"),
    [
        ('<testsuites><testsuite name="h"/></testsuites>', "'tests' is required"),
        (
            '<testsuites><testsuite name="h" tests="1"><testcase name="c"><failure/><error/></testcase>'
            "</testsuite></testsuites>",
            "error",
        ),
        ('<testsuites><testsuite name="h" tests="many"/></testsuites>', "many"),
    ],
)
def test_the_schema_refuses_what_ci_readers_refuse(document: str, complaint: str) -> None:
    errors = junit_schema_errors(document)
    assert errors and complaint in " ".join(errors)


def test_junitparser_reads_the_counts_the_report_has() -> None:
    report = build_report(RESULTS, {}, "high", TODAY)
    xml = junitparser.JUnitXml.fromstring(render_junit(report))
    suites = {suite.name: suite for suite in xml}
    assert set(suites) == set(RESULTS)
    assert (suites["bad"].tests, suites["bad"].failures, suites["bad"].errors) == (2, 2, 0)
    assert (suites["gone"].failures, suites["gone"].errors) == (0, 1)
    outcomes = {case.name: [type(r).__name__ for r in case.result] for case in suites["bad"]}
    assert outcomes == {"bad: resolver": ["Failure"], "bad: dnsbl": ["Failure"]}
    assert all(case.is_passed for case in suites["good"])


def test_markdown_names_every_host_and_the_gate() -> None:
    text = render_markdown(build_report(RESULTS, {}, "high", TODAY))
    assert "**failed** on bad" in text
    for host in RESULTS:
        assert f"| {host} |" in text


def test_writing_twice_changes_nothing_the_second_time(tmp_path) -> None:
    first = write_report(build_report(RESULTS, {}, "high", TODAY), str(tmp_path))
    second = write_report(build_report(RESULTS, {}, "high", TODAY), str(tmp_path))
    assert all(first.values()) and not any(second.values())
    assert json.loads((tmp_path / "report.json").read_text())["schema"] == "maildns.audit/report"


def test_html_is_self_contained_escaped_and_shows_the_fleet_summary() -> None:
    results = dict(RESULTS)
    evil = result("DNSBL_UNREACHABLE")
    evil["findings"][0]["evidence"] = {"detail": "<script>alert(1)</script>"}
    results["evil"] = evil
    text = render_html(build_report(results, {}, "high", TODAY))
    assert "<script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert not re.search(r"""(src|href)\\s*=\\s*['"]?(https?:|//)""", text, re.IGNORECASE)
    assert "<link" not in text and "@import" not in text
    assert "Fleet summary" in text and "Gate failed" in text
    for host in results:
        assert f"id='host-{host}'" in text
