"""The fleet report: statuses, waivers, the gate, and the JUnit and Markdown renderings."""

from __future__ import annotations

import datetime
import html
import json
import re
from xml.etree import ElementTree

import junitparser
import pytest
import yaml

from ansible_collections.maildns.audit.plugins.module_utils.findings import Finding
from ansible_collections.maildns.audit.plugins.module_utils.fleet_report import (
    build_report,
    gate_message,
    render_html,
    render_junit,
    render_markdown,
    write_report,
)
from tests.conftest import REPO_ROOT
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
    assert report["summary"]["gate"] == {
        "fail_on": "high",
        "fail_on_not_audited": True,
        "failed": True,
        "hosts": ["bad", "gone", "never"],
        "findings": ["bad"],
        "not_audited": ["gone", "never"],
    }


def test_gate_levels() -> None:
    assert build_report(RESULTS, {}, "medium", TODAY)["summary"]["gate"]["findings"] == ["bad", "medium"]
    relaxed = build_report(RESULTS, {}, "none", TODAY, fail_on_not_audited=False)["summary"]["gate"]
    assert relaxed["failed"] is False and relaxed["hosts"] == [] and relaxed["not_audited"] == []
    # fail_on none lets every finding pass, not a host nobody looked at
    assert build_report(RESULTS, {}, "none", TODAY)["summary"]["gate"]["hosts"] == ["gone", "never"]


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
    assert report["summary"]["gate"]["findings"] == []  # the critical one is waived; the rest is medium
    ids = sorted(f["id"] for f in hosts["medium"]["findings"])
    assert ids == ["DNSBL_UNREACHABLE", "WAIVER_EXPIRED"]
    assert not any(f["waived"] for f in hosts["medium"]["findings"])


def test_junit_has_a_case_per_host_and_area_with_failures_and_errors() -> None:
    report = build_report(RESULTS, {}, "high", TODAY)
    root = ElementTree.fromstring(render_junit(report))
    assert root.tag == "testsuites"
    suites = {suite.get("name"): suite for suite in root}
    assert set(suites) == set(RESULTS)
    bad_cases = {case.get("name"): case for case in suites["bad"].findall("testcase")}
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
    assert "**Gate failed** (fail on high and worse, and on hosts not audited): findings on bad;" in text
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
    # one script, the page's own (it opens the page and host a #host- link points into)
    assert text.count("<script>") == 1 and "alert(1)</script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert not re.search(r"""(src|href)\\s*=\\s*['"]?(https?:|//)""", text, re.IGNORECASE)
    assert "<link" not in text and "@import" not in text
    assert "Fleet summary" in text and "Gate failed" in text
    for host in results:
        assert f"id='host-{host}'" in text


# -- hosts not audited (issue 9 item 7) ------------------------------------------------------------

# What ansible-core 2.19 registers for a task that ran past its `timeout` (measured with
# `command: sleep 10` and `timeout: 2`; the role's set_fact keeps msg and timedout.period).
TIMED_OUT = {
    "failed": True,
    "changed": False,
    "msg": "Task failed: Timed out after 53 second(s).",
    "timedout": {"period": 53},
}
ALL_UNKNOWN = {
    "findings": [],
    "checks": [
        {"name": "resolver: resolv_conf", "status": "unknown", "reason": "permission denied"},
        {"name": "dnsbl: dnsbl_probe", "status": "unknown", "reason": "no dnspython"},
    ],
}


def hosts_of(report: dict) -> dict:
    return {host["host"]: host for host in report["hosts"]}


def test_a_fleet_nobody_could_audit_fails_the_gate_and_says_why_first() -> None:
    unreachable = {"unreachable": True, "msg": "Failed to connect to the host via ssh: No route to host"}
    report = build_report({"mx1": unreachable, "mx2": unreachable, "mx3": {}}, {}, "high", TODAY)
    gate = report["summary"]["gate"]
    assert gate["failed"] is True and gate["not_audited"] == ["mx1", "mx2", "mx3"] and gate["findings"] == []
    first = render_markdown(report).splitlines()[0]
    assert first == "# maildns.audit fleet report: 3 of 3 hosts not audited (3 unreachable)"
    assert "Gate passed" not in render_markdown(report)


def test_what_counts_as_not_audited() -> None:
    results = {
        "gone": RESULTS["gone"],
        "slow": TIMED_OUT,
        "broken": {"failed": True, "msg": "MODULE FAILURE: python3 not found"},
        "blind": ALL_UNKNOWN,
        "empty": {"findings": [], "checks": []},
        "partly": result(unknown="no dnspython"),  # one check ok: audited, status unknown
        "found": dict(ALL_UNKNOWN, findings=result("POSTFIX_CONFIG_UNREADABLE")["findings"]),  # it found something
        "good": result(),
    }
    report = build_report(results, {}, "high", TODAY)
    hosts = hosts_of(report)
    assert {name: host["not_audited"] for name, host in hosts.items()} == {
        "gone": "unreachable",
        "slow": "timed out",
        "broken": "audit failed",
        "blind": "every check unknown",
        "empty": "every check unknown",
        "partly": None,
        "found": None,
        "good": None,
    }
    assert hosts["slow"]["reason"] == "the audit did not finish within 53 s (task timeout)"
    assert hosts["slow"]["status"] == "unknown" and hosts["broken"]["reason"] == "MODULE FAILURE: python3 not found"
    assert hosts["empty"]["reason"] == "no check ran on this host"
    summary = report["summary"]
    assert (summary["audited"], summary["not_audited"]) == (3, 5)
    assert summary["gate"]["not_audited"] == ["blind", "broken", "empty", "gone", "slow"]
    assert summary["gate"]["findings"] == ["found"]
    assert {"host": "slow", "why": "timed out", "reason": hosts["slow"]["reason"]} in summary["not_audited_hosts"]
    first = render_markdown(report).splitlines()[0]
    assert first == (
        "# maildns.audit fleet report: 5 of 8 hosts not audited "
        "(1 unreachable, 1 timed out, 1 audit failed, 2 every check unknown)"
    )


def test_the_variable_relaxes_it_and_findings_still_fail() -> None:
    results = {"gone": RESULTS["gone"], "slow": TIMED_OUT, "bad": RESULTS["bad"]}
    gate = build_report(results, {}, "high", TODAY, fail_on_not_audited=False)["summary"]["gate"]
    assert gate == {
        "fail_on": "high",
        "fail_on_not_audited": False,
        "failed": True,
        "hosts": ["bad"],
        "findings": ["bad"],
        "not_audited": [],
    }
    passed = build_report({"gone": RESULTS["gone"]}, {}, "high", TODAY, fail_on_not_audited=False)
    assert passed["summary"]["gate"]["failed"] is False
    text = render_markdown(passed)
    assert text.splitlines()[0].endswith("1 of 1 host not audited (1 unreachable)")
    assert "Gate passed (fail on high and worse; hosts not audited pass)" in text


def test_summary_html_and_junit_agree_on_who_was_not_audited() -> None:
    results = dict(RESULTS, slow=TIMED_OUT, blind2=ALL_UNKNOWN)
    report = build_report(results, {}, "high", TODAY)
    expected = {"gone", "never", "slow", "blind2"}
    markdown = render_markdown(report)
    assert markdown.splitlines()[0].endswith(
        "4 of 8 hosts not audited (2 unreachable, 1 timed out, 1 every check unknown)"
    )
    listed = re.findall(r"^- (\S+) \((unreachable|timed out|every check unknown)\): ", markdown, re.MULTILINE)
    assert {host for host, _why in listed} == expected
    page = render_html(report)
    assert "4 of 8 hosts not audited (2 unreachable, 1 timed out, 1 every check unknown)" in page
    not_audited_list = page.split("<ul id='not-audited'>", 1)[1].split("</ul>", 1)[0]
    assert set(re.findall(r"href='#host-([^']+)'", not_audited_list)) == expected
    assert "Gate failed (fail on high and worse, and on hosts not audited): findings on bad; not audited: " in page
    root = ElementTree.fromstring(render_junit(report))
    flagged = {
        suite.get("name")
        for suite in root
        if suite.find("properties/property[@name='audited']").get("value") == "false"
    }
    assert flagged == expected
    for suite in root:
        if suite.get("name") in expected:
            errors = suite.findall("testcase/error")
            assert errors and all(error.get("message").startswith("not audited (") for error in errors)
            assert suite.find("testcase/failure") is None
    assert junit_schema_errors(render_junit(report)) == []
    slow_error = root.find("testsuite[@name='slow']/testcase/error").get("message")
    assert slow_error == "not audited (timed out): the audit did not finish within 53 s (task timeout)"


# -- findings grouped by ID, evidence as sentences (issue 9 item 11) -------------------------------

PTR = Finding("PTR_MISSING", {"ip": "192.0.2.25", "query": "25.2.0.192.in-addr.arpa", "ptr": [], "rcode": "NXDOMAIN"})
PTR6 = Finding("PTR_MISSING", {"ip": "2001:db8::25", "query": "5.2.0.0.ip6.arpa", "ptr": [], "rcode": "NXDOMAIN"})
DQS = Finding(
    "DQS_KEY_EXPOSED_IN_SMTP_REPLY",
    {
        "file": "/etc/postfix/main.cf",
        "line": 9,
        "parameter": "smtpd_client_restrictions",
        "zone": "<DQS key>.zen.dq.spamhaus.net",
        "restriction": "reject_rbl_client",
        "missing": "rbl_reply_maps",
        "detail": "a judge that forgot: abcdef0123456789xyz.zen.dq.spamhaus.net",
    },
)


def grouped_report() -> dict:
    findings = [dict(f.as_dict(), area="identity") for f in (PTR, PTR6)]
    findings.append(dict(DQS.as_dict(), area="postfix"))
    checks = [{"name": "identity: identity", "status": "ok", "reason": ""}]
    return build_report({"mx1": {"findings": findings, "checks": checks}}, {}, "high", TODAY)


def test_markdown_lists_an_id_once_per_host_with_a_count_and_a_sentence_per_address() -> None:
    text = render_markdown(grouped_report())
    assert text.count("`PTR_MISSING` x2") == 2  # the host table and the host's section, once each
    section = text.split("## mx1", 1)[1]
    assert section.count("`PTR_MISSING`") == 1
    block = section.split("`PTR_MISSING` x2", 1)[1].split("</details>", 1)[0]
    assert "- 192.0.2.25 has no PTR record (25.2.0.192.in-addr.arpa answered NXDOMAIN)." in block
    assert "- 2001:db8::25 has no PTR record" in block
    raw = block.split("<details><summary>Raw evidence of PTR_MISSING</summary>", 1)[1]
    assert json.loads(raw.split("```json\n", 1)[1].split("\n```", 1)[0])[1]["ip"] == "2001:db8::25"


def test_html_groups_the_same_way_with_the_raw_json_one_click_away() -> None:
    page = render_html(grouped_report())
    [ptr] = re.findall(r"<div class='finding' data-id='PTR_MISSING'>.*?</details></div>", page, re.DOTALL)
    assert "<b class='count'>x2</b>" in ptr
    assert re.findall(r"<li>(.*?)</li>", ptr) == [
        "192.0.2.25 has no PTR record (25.2.0.192.in-addr.arpa answered NXDOMAIN).",
        "2001:db8::25 has no PTR record (5.2.0.0.ip6.arpa answered NXDOMAIN).",
    ]
    raw = ptr.split("<details class='raw'><summary>Raw evidence</summary><pre>", 1)[1].split("</pre>", 1)[0]
    assert [entry["ip"] for entry in json.loads(html.unescape(raw))] == ["192.0.2.25", "2001:db8::25"]


def test_no_rendering_shows_a_dqs_key() -> None:
    report = grouped_report()
    for text in (render_markdown(report), render_html(report), render_junit(report)):
        assert "abcdef0123456789xyz" not in text
        assert "DQS key" in text


def test_the_playbook_message_names_both_reasons() -> None:
    report = build_report({"bad": RESULTS["bad"], "slow": TIMED_OUT}, {}, "high", TODAY)
    assert gate_message(report["summary"]) == (
        "Findings of severity high or worse on bad; "
        "1 of 2 hosts not audited: slow (timed out: the audit did not finish within 53 s (task timeout))"
    )
    assert gate_message(build_report({"good": result()}, {}, "high", TODAY)["summary"]) == ""


@pytest.mark.parametrize(("audit_timeout", "expected"), [(2.5, 300), (3.0, 310), (1, 270), (0.7, 264)])
def test_the_task_timeout_default_is_the_modules_worst_case(audit_timeout: float, expected: int) -> None:
    """roles/audit: 250 s of subprocess limits and start-up, plus 10 DNS batches of up to 2 x audit_timeout each."""
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar, trust_as_template

    defaults = yaml.safe_load((REPO_ROOT / "roles/audit/defaults/main.yml").read_text())
    assert defaults["audit_timeout"] == 2.5
    templar = Templar(loader=DataLoader(), variables={"audit_timeout": audit_timeout})
    assert int(templar.template(trust_as_template(defaults["audit_task_timeout"]))) == expected
    tasks = yaml.safe_load((REPO_ROOT / "roles/audit/tasks/main.yml").read_text())
    assert tasks[0]["timeout"] == "{{ audit_task_timeout | int }}"


# -- at fleet size (issue 13 item 6) ---------------------------------------------------------------


def test_html_pages_the_hosts_and_groups_the_fleets_findings_by_id() -> None:
    results = {f"mx{n:03d}": RESULTS["bad"] if n % 2 else RESULTS["good"] for n in range(250)}
    page = render_html(build_report(results, {}, "high", TODAY))
    pages = re.findall(r"<details class='page' id='page-(\d)'( open)?><summary>Hosts (\d+) to (\d+) of 250", page)
    assert pages == [("1", " open", "1", "100"), ("2", "", "101", "200"), ("3", "", "201", "250")]
    # the worst hosts come first: page 1 holds only hosts with findings
    first = page.split("id='page-1'", 1)[1].split("id='page-2'", 1)[0]
    assert "id='host-mx000'" not in first and "id='host-mx001'" in first
    [row] = re.findall(r"<tr data-id='RESOLV_CONF_PUBLIC_NAMESERVER'>.*?</tr>", page, re.DOTALL)
    assert "<summary>125</summary>" in row and "and 75 more (report.json lists every host)" in row
    assert len(re.findall(r"<a href='#host-", row)) == 50


def test_the_gate_names_twenty_hosts_and_counts_the_rest() -> None:
    results = {f"mx{n:03d}": RESULTS["bad"] for n in range(45)}
    summary = build_report(results, {}, "high", TODAY)["summary"]
    assert gate_message(summary) == (
        "Findings of severity high or worse on " + ", ".join(f"mx{n:03d}" for n in range(20)) + " and 25 more"
    )
    assert len(summary["gate"]["hosts"]) == 45  # report.json still names them all
