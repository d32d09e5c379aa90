"""playbooks/audit.yml on the lab fleet, as a user runs it: report, gate, waivers, --check, unreachable hosts."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import NamedTuple
from xml.etree import ElementTree

import pytest

from tests.conftest import REPO_ROOT, TEST_FLEET
from tests.integration.helpers import host_tree_digest
from tests.junit import junit_schema_errors

pytestmark = pytest.mark.lab

GHOST = "ghost"  # in the inventory, on a lab address where nothing answers


class AuditRun(NamedTuple):
    result: subprocess.CompletedProcess
    report: dict
    report_dir: Path


def run_audit(lab, tmp_path: Path, name: str, *extra: str) -> AuditRun:
    inventory = tmp_path / f"{name}.ini"
    text = lab.inventory.read_text().replace(
        "[mailservers]\n", f"[mailservers]\n{GHOST} ansible_host={lab.network.net}.250.250\n", 1
    )
    text = text.replace(
        "mx16 ansible_host",
        'mx16 audit_waivers=\'[{"id": "MX_IS_IP_LITERAL", "reason": "moving DNS", '
        '"expires": "2099-12-31"}, {"id": "PTR_MISSING", "reason": "old", "expires": "2020-01-01"}]\' '
        "ansible_host",
        1,
    )
    inventory.write_text(text)
    report_dir = tmp_path / name
    result = subprocess.run(
        [
            "ansible-playbook",
            "-i",
            str(inventory),
            "playbooks/audit.yml",
            "-e",
            f"maildns_report_dir={report_dir}",
            "-e",
            # 3 s: the lab's slow list (1.5 s) and slow resolver (1.3 s) answer well within it, as slow,
            # even on a loaded CI machine
            "audit_timeout=3",
            *extra,
        ],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        check=False,
    )
    report = json.loads((report_dir / "report.json").read_text())
    return AuditRun(result, report, report_dir)


@pytest.fixture(scope="module")
def audited(lab, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("audit")
    return run_audit(lab, tmp, "run", "-e", f"maildns_metrics_path={tmp}/run/maildns_audit.prom")


def by_host(report: dict) -> dict:
    return {host["host"]: host for host in report["hosts"]}


def ids(host: dict) -> list[str]:
    return sorted({f["id"] for f in host["findings"] if not f["waived"]} - {"MAIL_REJECTED_BY_DNSBL_ERROR"})


def test_the_gate_fails_after_the_report_is_written(audited) -> None:
    result, report = audited.result, audited.report
    assert result.returncode == 2, result.stdout[-3000:]
    assert "Findings of severity high or worse on" in result.stdout
    assert report["summary"]["gate"]["failed"] is True
    assert report["schema"] == "maildns.audit/report" and report["version"] == 1


def test_every_host_is_in_the_report_and_the_healthy_one_is_clean(audited) -> None:
    report = audited.report
    hosts = by_host(report)
    assert set(hosts) == {name for name, _scenario in TEST_FLEET} | {GHOST}
    assert (hosts["mx01"]["status"], hosts["mx01"]["findings"]) == ("ok", [])


def test_an_unreachable_host_is_unknown_with_the_reason(audited) -> None:
    report = audited.report
    ghost = by_host(report)[GHOST]
    assert ghost["status"] == "unreachable"
    assert "ssh" in ghost["reason"].lower() or "unreachable" in ghost["reason"].lower()
    assert report["summary"]["unreachable"] == 1
    # A host nobody looked at fails the gate, and the summary says so first (issue 9 item 7).
    assert report["summary"]["gate"]["not_audited"] == [GHOST] and ghost["not_audited"] == "unreachable"
    first = (audited.report_dir / "summary.md").read_text().splitlines()[0]
    assert first.endswith(f"1 of {len(TEST_FLEET) + 1} hosts not audited (1 unreachable)")
    assert by_host(report)["mx18"]["audited"] is True  # no Postfix is a finding of the audit, not a gap


def findings_of(host: dict, finding_id: str) -> list[dict]:
    return [f for f in host["findings"] if f["id"] == finding_id]


def test_a_resolver_that_hides_zen_is_blamed_and_zen_is_kept(lab, audited) -> None:
    mx20 = by_host(audited.report)["mx20"]
    [hidden] = findings_of(mx20, "DNSBL_HIDDEN_BY_RESOLVER")
    assert hidden["evidence"]["zone"] == "zen.spamhaus.org"
    assert hidden["evidence"]["resolver"] == lab.fixture("hidelists")
    assert hidden["evidence"]["works_through"] == [lab.fixture("resolver")]
    assert hidden["evidence"]["authoritative"]["verdict"] == "alive"


def test_a_refusal_names_the_egress_resolver_spamhaus_saw(lab, audited) -> None:
    [refused] = findings_of(by_host(audited.report)["mx21"], "DNSBL_RESOLVER_REFUSED")
    egress = lab.fixture_state("forwarder").egress
    assert refused["evidence"]["resolver"] == lab.fixture("forwarder") != egress
    assert refused["evidence"]["egress_resolver"] == egress
    assert refused["evidence"]["explanation"].startswith("Error: open resolver")


def test_a_broken_middlebox_is_blamed_for_every_bad_answer(lab, audited) -> None:
    mx29 = by_host(audited.report)["mx29"]
    malformed = findings_of(mx29, "RESOLVER_ANSWER_MALFORMED")
    assert len(malformed) >= 5  # zen, spamcop, psbl, mailspike, ... and the PTR
    assert {f["evidence"]["resolver"] for f in malformed} == {lab.fixture("broken")}
    assert any(f["evidence"].get("lookup", "").startswith("PTR of") for f in malformed)


def test_a_dqs_key_typed_under_org_never_appears(audited) -> None:
    mx23 = by_host(audited.report)["mx23"]
    assert "labtestkey0123456789" not in json.dumps(mx23)
    [wrong] = findings_of(mx23, "DNSBL_WRONG_LIST")
    assert wrong["evidence"]["did_you_mean"] == "<DQS key>.zen.dq.spamhaus.net"


def test_scenario_findings_reach_the_report(audited) -> None:
    report = audited.report
    hosts = by_host(report)
    assert "DNSBL_RESOLVER_REFUSED" in ids(hosts["mx02"])
    assert "DNSBL_LISTS_THE_WORLD" in ids(hosts["mx12"])
    assert ids(hosts["mx13"]) == ["PTR_MISSING"]
    assert "SPAMASSASSIN_DNS_SERVER_PUBLIC" in ids(hosts["mx09"])


def test_waivers_are_shown_and_expired_ones_are_findings(audited) -> None:
    report = audited.report
    mx16 = by_host(report)["mx16"]
    [waived] = [f for f in mx16["findings"] if f["waived"]]
    assert waived["id"] == "MX_IS_IP_LITERAL" and waived["waiver"]["reason"] == "moving DNS"
    assert ids(mx16) == ["WAIVER_EXPIRED"]


def test_junit_has_a_suite_per_host_and_is_valid(audited) -> None:
    report, report_dir = audited.report, audited.report_dir
    assert junit_schema_errors((report_dir / "junit.xml").read_text()) == []
    root = ElementTree.parse(report_dir / "junit.xml").getroot()
    assert {suite.get("name") for suite in root} == set(by_host(report))
    assert int(root.get("failures")) > 0 and int(root.get("errors")) >= 1


def test_check_mode_gives_the_same_findings_and_changes_no_host(lab, audited, tmp_path) -> None:
    report = audited.report
    before = host_tree_digest(lab.state_dir)
    result, checked, _check_dir = run_audit(lab, tmp_path, "check", "--check")
    assert result.returncode == 2
    assert host_tree_digest(lab.state_dir) == before
    assert {h: ids(v) for h, v in by_host(checked).items()} == {h: ids(v) for h, v in by_host(report).items()}
    assert "changed=0" in result.stdout.split("PLAY RECAP")[1].split("localhost")[0]


# Every host's unwaived findings, exactly: what the demo shows for the same scenarios.
EXACT = {
    "mx01": [],
    "mx02": ["DNSBL_NO_REPLY_FILTER", "DNSBL_RESOLVER_REFUSED", "DNSBL_SINGLE_LIST"],
    "mx03": ["DNSBL_RESOLVER_REFUSED", "DNSBL_SINGLE_LIST"],
    "mx04": ["DNSBL_NO_REPLY_FILTER", "DNSBL_RESOLVER_REFUSED", "DNSBL_SINGLE_LIST"],
    "mx05": ["DNSBL_NO_REPLY_FILTER", "DNSBL_SINGLE_LIST", "DNSBL_UNREACHABLE", "RESOLV_CONF_PUBLIC_NAMESERVER"],
    "mx06": ["DNSBL_UNREACHABLE", "LOCAL_RESOLVER_FORWARDS_PUBLIC", "LOOPBACK_NAMESERVER_NOTHING_LISTENS"],
    "mx07": ["DNSBL_UNREACHABLE", "LOOPBACK_NAMESERVER_NOTHING_LISTENS", "SYSTEMD_RESOLVED_PUBLIC_UPSTREAM"],
    "mx08": ["DNSBL_UNREACHABLE", "POSTFIX_CHROOT_RESOLV_CONF_DRIFT", "RESOLV_CONF_PUBLIC_NAMESERVER"],
    "mx09": ["DNSBL_UNREACHABLE", "SPAMASSASSIN_DNS_SERVER_PUBLIC", "SPAMASSASSIN_DQS_PLACEHOLDER"],
    "mx10": ["DNSBL_NO_REPLY_FILTER", "DQS_KEY_EXPOSED_IN_SMTP_REPLY", "POSTFIX_MASTER_OVERRIDES_DNSBL"],
    "mx11": [
        "DNSBL_ANSWER_HIJACKED",
        "DNSBL_UNREACHABLE",
        "POSTFIX_CHROOT_RESOLV_CONF_DRIFT",
        "RESOLVER_ANSWER_MALFORMED",
    ],
    "mx12": [
        "DNSBL_LISTS_THE_WORLD",
        "DNSBL_MISSPELLED",
        "DNSBL_RETIRED",
        "DNSBL_WRONG_LIST",
        "OUTBOUND_IP_LISTED",
    ],
    "mx13": ["PTR_MISSING"],
    "mx14": ["HELO_NAME_DOES_NOT_RESOLVE", "MX_TARGET_DOES_NOT_RESOLVE", "PTR_NOT_FORWARD_CONFIRMED"],
    "mx15": ["HELO_NAME_DOES_NOT_RESOLVE", "HELO_NOT_PTR_NAME"],
    "mx16": ["WAIVER_EXPIRED"],  # MX_IS_IP_LITERAL is waived
    "mx17": ["HELO_NOT_PTR_NAME", "PTR_LOOKS_GENERIC"],
    "mx18": [],
    "mx19": [],
    "mx20": ["DNSBL_HIDDEN_BY_RESOLVER"],  # not DNSBL_DEAD: zen works at its name servers
    "mx21": ["DNSBL_RESOLVER_REFUSED"],
    "mx22": [],  # DQS behind a public resolver works: nothing to report
    "mx23": ["DNSBL_MISSPELLED", "DNSBL_WRONG_LIST"],
    "mx24": ["RESOLV_CONF_INVALID_NAMESERVER"],
    "mx25": ["DNSBL_NONE_ACTIVE", "POSTSCREEN_DNSBL_SITES_UNUSED"],
    "mx26": ["DNSBL_NONE_ACTIVE"],
    "mx27": ["DNSBL_NONE_ACTIVE", "POSTFIX_PARAMETER_UNEXPANDABLE"],
    "mx28": ["POSTFIX_PARAMETER_UNEXPANDABLE"],
    "mx29": ["DNSBL_UNREACHABLE", "RESOLVER_ANSWER_MALFORMED"],  # never PTR_MISSING, never a dead list
    "mx30": ["DNSBL_LIST_SLOW"],
    "mx31": ["DNSBL_RESOLVER_SLOW"],
    GHOST: [],
}


def test_every_host_has_exactly_its_expected_findings(audited) -> None:
    report = audited.report
    assert {host: ids(entry) for host, entry in by_host(report).items()} == EXACT


def test_a_host_without_postfix_is_unknown_with_the_reason(audited) -> None:
    report = audited.report
    host = by_host(report)["mx18"]
    assert host["status"] == "unknown"
    assert "postfix: postfix_config: no Postfix here: /etc/postfix/main.cf does not exist" in host["reason"]


def test_the_audit_writes_node_exporter_metrics_with_a_series_per_host_and_severity(audited) -> None:
    """maildns_metrics_path: the report as textfile metrics, read back by prometheus_client's own parser."""
    from prometheus_client.parser import text_string_to_metric_families

    families = {
        family.name: family
        for family in text_string_to_metric_families((audited.report_dir / "maildns_audit.prom").read_text())
    }
    series = {(s.labels["host"], s.labels["severity"]): s.value for s in families["maildns_audit_findings"].samples}
    hosts = {host["host"] for host in audited.report["hosts"]}
    severities = {"critical", "high", "medium", "low", "info"}
    assert set(series) == {(host, severity) for host in hosts for severity in severities}
    for host in audited.report["hosts"]:
        for severity in severities:
            live = [f for f in host["findings"] if f["severity"] == severity and not f["waived"]]
            assert series[(host["host"], severity)] == len(live), (host["host"], severity)
    # every list and resolver the probe asked on mx01 (healthy) is there, working
    probes = [s.labels for s in families["maildns_audit_dnsbl_probe"].samples if s.labels["host"] == "mx01"]
    assert probes and all(p["classification"] == "working" for p in probes)
