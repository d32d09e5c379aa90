"""AWX job slicing on the lab fleet: three slices of audit.yml, merged, say what one unsliced run says.

The slices are made the way AWX makes them (awx/main/models/inventory.py, Inventory.get_script_data
and get_sliced_hosts): the inventory's enabled hosts ordered by name, slice k of N takes
hosts[k-1::N], and each slice job gets an inventory holding only its hosts, in their groups. AWX
runs the slices as separate jobs, at the same time, each with its own awx_job_id (and tower_job_id)
and the sliced workflow's awx_workflow_job_id among its extra vars; it passes no slice number
(Job.awx_meta_vars, UnifiedJob.awx_meta_vars). So here: three inventories, three concurrent
ansible-playbook runs with those extra vars, playbooks/merge_reports.yml, and one unsliced run.

Measured times (slowest_ms, elapsed_ms of a DNS answer) differ from any run to the next, sliced or
not: they are compared as present, not by value; a DNS answer's records come in any order, so they
are compared as sets. So do the two findings that are a measured time
past a threshold (DNSBL_RESOLVER_SLOW, DNSBL_LIST_SLOW at 1 s): on a loaded machine (load 23 on two
cores, seen while writing this test) a run finds them on hosts whose resolver is only slow under that
load. They are compared apart: the lab's slow list (mx30) and slow resolver (mx31) are found both
ways; the rest of both reports, with those two IDs set aside, must be equal, host by host and file by
file. When both runs found the same slow findings, their summaries must be equal too.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import NamedTuple

import pytest

from ansible_collections.maildns.audit.plugins.module_utils.findings import SEVERITIES
from ansible_collections.maildns.audit.plugins.module_utils.fleet_report import (
    assemble_report,
    render_html,
    render_junit,
    render_markdown,
)
from tests.conftest import REPO_ROOT, TEST_FLEET

pytestmark = pytest.mark.lab

GHOST = "ghost"  # in the inventory, on a lab address where nothing answers: a host not audited
SLICES = 3
WORKFLOW_JOB_ID = 700  # the sliced job's workflow job, as AWX numbers it
FIRST_JOB_ID = 701  # its slice jobs
REPORT_FILES = ("report.json", "junit.xml", "summary.md", "report.html")
# Evidence that is a measurement, different in every run: its value is not compared.
TIMING_KEY = re.compile(r"(_ms|elapsed_s)$")
# Findings that are a measured time past a threshold: a loaded machine adds some to any run.
TIMING_IDS = ("DNSBL_RESOLVER_SLOW", "DNSBL_LIST_SLOW")


class Run(NamedTuple):
    result: subprocess.CompletedProcess
    report_dir: Path

    @property
    def report(self) -> dict:
        return json.loads((self.report_dir / "report.json").read_text())


def playbook(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        ["ansible-playbook", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
    )


def finished(process: subprocess.Popen) -> subprocess.CompletedProcess:
    stdout, stderr = process.communicate()
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def fleet_inventory(lab) -> str:
    """The lab inventory with a ghost host and a waiver, as tests/integration/test_audit.py audits it."""
    text = lab.inventory.read_text().replace(
        "[mailservers]\n", f"[mailservers]\n{GHOST} ansible_host={lab.network.net}.250.250\n", 1
    )
    return text.replace(
        "mx16 ansible_host",
        'mx16 audit_waivers=\'[{"id": "MX_IS_IP_LITERAL", "reason": "moving DNS", "expires": "2099-12-31"}]\' '
        "ansible_host",
        1,
    )


def awx_slice_inventories(text: str, count: int) -> list[str]:
    """The inventory of each slice job: hosts by name, slice k takes hosts[k-1::count], groups kept."""
    head, rest = text.split("[mailservers]\n", 1)
    host_block, tail = rest.split("\n\n", 1)
    lines = {line.split()[0]: line for line in host_block.splitlines() if line.strip()}
    names = sorted(lines)
    return [
        head + "[mailservers]\n" + "".join(lines[name] + "\n" for name in names[k::count]) + "\n" + tail
        for k in range(count)
    ]


@pytest.fixture(scope="module")
def runs(lab, tmp_path_factory):
    """(slices, merge, unsliced, slice host lists): the four audit runs (three at once, as AWX runs them), the merge."""
    tmp = tmp_path_factory.mktemp("slices")
    shutil.copytree(lab.inventory.parent / "group_vars", tmp / "group_vars")  # read beside the inventory
    text = fleet_inventory(lab)
    (tmp / "fleet.ini").write_text(text)
    common = ["playbooks/audit.yml", "-e", "audit_timeout=3"]  # the lab's timing, as test_audit.py explains
    shared = tmp / "reports"  # the shared volume every slice job writes to
    started = []
    for k, inventory in enumerate(awx_slice_inventories(text, SLICES)):
        (tmp / f"slice{k + 1}.ini").write_text(inventory)
        job_id = FIRST_JOB_ID + k
        awx_vars = {
            "awx_job_id": job_id,
            "tower_job_id": job_id,
            "awx_workflow_job_id": WORKFLOW_JOB_ID,
            "tower_workflow_job_id": WORKFLOW_JOB_ID,
            "awx_job_launch_type": "workflow",
            "maildns_report_dir": str(shared),
        }
        started.append(playbook("-i", str(tmp / f"slice{k + 1}.ini"), *common, "-e", json.dumps(awx_vars)))
    slices = [Run(finished(p), shared / f"job-{FIRST_JOB_ID + k}") for k, p in enumerate(started)]
    merge = Run(finished(playbook("playbooks/merge_reports.yml", "-e", f"maildns_report_dir={shared}")), shared)
    unsliced = Run(
        finished(playbook("-i", str(tmp / "fleet.ini"), *common, "-e", f"maildns_report_dir={tmp / 'unsliced'}")),
        tmp / "unsliced",
    )
    names = sorted([GHOST] + [name for name, _scenario in TEST_FLEET])
    return slices, merge, unsliced, [names[k::SLICES] for k in range(SLICES)]


def untimed(value: object, key: str = "") -> object:
    """The value with every measured time replaced by a marker (the key stays: the measurement was made).

    And the answers of a DNS reply in one order (DNS gives an RRset in any order).
    """
    if isinstance(value, dict):
        return {k: untimed(v, k) for k, v in value.items()}
    if isinstance(value, list):
        items = [untimed(item) for item in value]
        # an RRset has no order: the lab's authority, like any DNS server, answers it in any order
        return sorted(items, key=json.dumps) if key == "answers" else items
    if TIMING_KEY.search(key) and isinstance(value, (int, float)):
        return "<time>"
    return value


def untimed_text(text: str) -> str:
    """A rendered report with its time stamp and measured times (raw evidence and sentences) masked."""
    text = re.sub(r"generated [^<]*</div>", "generated T</div>", text)
    text = re.sub(r"(_ms|elapsed_s)(&quot;|\"|\\&quot;)?: ?[0-9.]+", r"\1\2: T", text)
    return re.sub(r"\b[0-9]+(\.[0-9]+)? ?(ms|s)\b", "T ms", text)


def test_each_slice_audits_its_awx_share_and_writes_its_own_report(runs) -> None:
    slices, _merge, _unsliced, shares = runs
    for number, (run, share) in enumerate(zip(slices, shares, strict=True), 1):
        report = run.report
        assert run.report_dir.name == f"job-{FIRST_JOB_ID + number - 1}", "audit.yml under AWX writes job-<id>"
        assert sorted(h["host"] for h in report["hosts"]) == share, f"slice {number} of {SLICES}"
        # each slice gates its own share, like any run of audit.yml
        assert run.result.returncode == (2 if report["summary"]["gate"]["failed"] else 0), run.result.stdout[-2000:]


def timing_findings(report: dict) -> dict:
    return {h["host"]: sorted(f["id"] for f in h["findings"] if f["id"] in TIMING_IDS) for h in report["hosts"]}


def steady(report: dict) -> dict:
    """The report without its timing findings (host status and worst severity follow), measured times masked."""
    hosts = []
    for host in untimed(report["hosts"]):
        findings = [f for f in host["findings"] if f["id"] not in TIMING_IDS]
        live = [f for f in findings if not f["waived"]]
        status = host["status"]
        if host["audited"]:
            unknown = any(check["status"] == "unknown" for check in host["checks"])
            status = "findings" if live else "unknown" if unknown else "ok"
        worst = min((f["severity"] for f in live), key=SEVERITIES.index, default=None)
        hosts.append(dict(host, findings=findings, status=status, worst_severity=worst))
    gate = report["summary"]["gate"]
    return dict(assemble_report(hosts, gate["fail_on"], gate["fail_on_not_audited"]), generated="T")


def test_three_merged_slices_are_the_unsliced_run(runs) -> None:
    slices, merge, unsliced, _shares = runs
    merged, whole = merge.report, unsliced.report
    assert sorted(h["host"] for h in merged["hosts"]) == sorted(h["host"] for h in whole["hosts"])
    assert len(whole["hosts"]) == len(TEST_FLEET) + 1
    # same findings per host (ids, severities, evidence, waivers), same summary, gate and order of hosts
    mine, theirs = steady(merged), steady(whole)
    for host, other in zip(mine["hosts"], theirs["hosts"], strict=True):
        assert host == other, host["host"]
    assert mine == theirs
    assert {key: merged[key] for key in ("schema", "version", "collection_version")} == {
        key: whole[key] for key in ("schema", "version", "collection_version")
    }
    # the slow list and the slow resolver of the lab are found, sliced or not
    for report in (merged, whole):
        assert "DNSBL_LIST_SLOW" in timing_findings(report)["mx30"]
        assert "DNSBL_RESOLVER_SLOW" in timing_findings(report)["mx31"]
    assert merged["slices"] == [
        {
            "file": str(run.report_dir / "report.json"),
            "generated": run.report["generated"],
            "collection_version": whole["collection_version"],
            "hosts": len(run.report["hosts"]),
        }
        for run in slices
    ]
    # the other three files say the same, and the merge wrote them from its report.json
    for name, render in (("junit.xml", render_junit), ("summary.md", render_markdown), ("report.html", render_html)):
        assert untimed_text(render(mine)) == untimed_text(render(theirs)), name
        assert (merge.report_dir / name).read_text() == render(merged), f"{name} is not the merged report's"
    if timing_findings(merged) == timing_findings(whole):  # the usual case, on a machine not loaded
        assert merged["summary"] == whole["summary"]


def test_the_merge_gates_the_fleet_as_the_unsliced_run_does(runs) -> None:
    _slices, merge, unsliced, _shares = runs
    assert unsliced.result.returncode == 2 and merge.result.returncode == 2, merge.result.stdout[-3000:]
    gate = merge.report["summary"]["gate"]
    assert gate["failed"] and gate["not_audited"] == [GHOST]
    message = re.search(r'"msg": "(Findings of severity [^"]*)"', unsliced.result.stdout)
    assert message and message.group(1).replace(str(unsliced.report_dir), "D") in merge.result.stdout.replace(
        str(merge.report_dir), "D"
    )
