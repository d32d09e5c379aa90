"""playbooks/remediate.yml on a lab fleet of every scenario, end to end with real Postfix (issue 12).

Its own lab: one host per scenario (the test fleet's names), Postfix running on the hosts that
bounce mail today, and one host made to fail its local resolver's verification (its host_vars give
root hints that lead nowhere), in the first batch. The tests run in order on that one fleet:
the preview, then the change with SMTP sessions before and after, then the audit, then a second run.
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, TEST_FLEET
from tests.integration.helpers import (
    host_files,
    host_tree_digest,
    own_lab,
    postfix_running,
    scenario,
    side_lab,
    smtp_rcpt,
)

pytestmark = pytest.mark.lab

# MAILDNS_REMEDIATE_LAB=prefix,net, else beside the test lab (its prefix with an "m", its net + 5).
LAB_PREFIX, LAB_NET = side_lab("MAILDNS_REMEDIATE_LAB", "m", 5)
LISTED_CLIENT = f"{LAB_NET}.0.66"  # on the lab bridge, listed in zen by the SMTP hosts' zone data
CLEAN_CLIENT = f"{LAB_NET}.0.1"  # the controller's address on the bridge: listed nowhere
# The hosts that bounce every clean sender today: a refused resolver behind an unfiltered zen
# (mx02), a rate-limited one (mx04), a retired list that lists the world (mx12).
BOUNCING = ("mx02", "mx04", "mx12")
FAILING = "fail-batch"
SMTP = {"postconf": {"max_idle": "3600s"}, "dns": {"listed": {"zen.spamhaus.org": [LISTED_CLIENT]}}}
FLEET = [(FAILING, scenario("public_resolver"))] + [
    (name, scenario(spec, **SMTP) if name in BOUNCING else spec) for name, spec in TEST_FLEET
]
# Batches of 8: the failing host is 1 in 8 of its batch, under the 20 % that would stop the run.
VARIABLES = {
    "dnsbl_policy_correct_misspelled": True,
    "audit_timeout": 3,
    "maildns_serial": 8,
    "maildns_max_fail_percentage": 20,
}
SEVERE = ("critical", "high")


@pytest.fixture(scope="module")
def mlab(tmp_path_factory) -> Iterator[object]:  # type: ignore[no-untyped-def]
    with own_lab(LAB_PREFIX, LAB_NET, FLEET, (LISTED_CLIENT,)) as lab:
        host_vars = lab.inventory.parent / "host_vars"
        host_vars.mkdir(exist_ok=True)
        (host_vars / f"{FAILING}.yml").write_text(
            "# Root servers nothing answers on: Unbound starts, the test points never come back.\n"
            "local_resolver_root_hints: [{name: ns.nowhere.test., address: 192.0.2.1}]\n"
        )
        lab.report_dir = tmp_path_factory.mktemp("reports")  # type: ignore[attr-defined]
        with postfix_running(lab, list(BOUNCING)):
            yield lab


def run_playbook(lab, playbook: str, *extra: str) -> tuple[int, str, dict[str, dict[str, int]]]:  # type: ignore[no-untyped-def]
    """(exit code, output, PLAY RECAP counts per host) of a playbook on the lab."""
    variables = dict(VARIABLES, maildns_report_dir=str(lab.report_dir))
    run = subprocess.run(
        ["ansible-playbook", "-i", str(lab.inventory), f"playbooks/{playbook}", "-e", json.dumps(variables), *extra],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        check=False,
    )
    recap = run.stdout[run.stdout.rfind("PLAY RECAP") :]
    counts = {}
    for line in recap.splitlines()[1:]:
        if ":" in line and "=" in line:
            host, _sep, rest = line.partition(":")
            counts[host.strip()] = {k: int(v) for k, v in (part.split("=") for part in rest.split())}
    return run.returncode, run.stdout + run.stderr, counts


def plan_report(lab) -> dict:  # type: ignore[no-untyped-def]
    return json.loads(Path(lab.report_dir, "plan.json").read_text())


def test_the_preview_changes_nothing_on_any_host_and_writes_the_plan(mlab) -> None:
    before = host_tree_digest(mlab.state_dir)
    code, output, _counts = run_playbook(mlab, "remediate.yml", "--check", "--diff")
    assert code == 0, output[-3000:]
    assert host_tree_digest(mlab.state_dir) == before, "check mode changed a host's file"
    report = plan_report(mlab)
    assert report["check_mode"] is True
    hosts = {entry["host"]: entry for entry in report["hosts"]}
    assert set(hosts) == {name for name, _spec in FLEET}
    # The seed host: both roles, each with the files it would change.
    mx02 = hosts["mx02"]
    assert mx02["plan"]["roles"] == ["maildns.audit.local_resolver", "maildns.audit.dnsbl_policy"]
    changed = {f["path"] for role in mx02["roles"].values() for f in role["files"]}
    assert {"/etc/resolv.conf", "/etc/postfix/main.cf"} <= changed
    # A healthy host is untouched and says why; a missing PTR is the DNS provider's, with the record.
    assert hosts["mx01"]["untouched"] and hosts["mx01"]["why_untouched"] == "no finding a role fixes"
    reverse = ipaddress.ip_address(mlab.host("mx13").address).reverse_pointer
    records = [o["record"] for o in hosts["mx13"]["plan"]["outside"] if o["id"] == "PTR_MISSING"]
    assert f"{reverse}. PTR mail.mx13.lab.test." in records
    markdown = Path(mlab.report_dir, "plan.md").read_text()
    assert markdown.startswith("# Remediation plan\n") and "nothing on any host was changed" in markdown
    assert "labtestkey" not in markdown + Path(mlab.report_dir, "plan.json").read_text()


def test_remediate_fixes_the_bouncing_hosts_and_one_failing_host_stops_nothing_else(mlab) -> None:
    before = {name: smtp_rcpt(mlab, name, CLEAN_CLIENT) for name in BOUNCING}
    failing_files = host_files(mlab, FAILING)
    code, output, counts = run_playbook(mlab, "remediate.yml")
    after = {name: smtp_rcpt(mlab, name, CLEAN_CLIENT) for name in BOUNCING}
    listed = {name: smtp_rcpt(mlab, name, LISTED_CLIENT) for name in BOUNCING}
    # Only remediate.yml ran between the two SMTP sessions of each host.
    assert before["mx02"][0] == 554 and "blocked using zen.spamhaus.org; Error: open resolver" in before["mx02"][1]
    assert before["mx04"][0] == 554 and "blocked using zen.spamhaus.org" in before["mx04"][1]
    assert before["mx12"][0] == 554 and "blocked using dnsbl.ahbl.org" in before["mx12"][1]
    assert {name: reply[0] for name, reply in after.items()} == dict.fromkeys(BOUNCING, 250), after
    for name, (listed_code, reply) in listed.items():
        assert listed_code == 554 and f"[{LISTED_CLIENT}] blocked using zen.spamhaus.org" in reply, (name, reply)
    # The failing host failed alone, in the first batch; every other host ran to the end.
    assert code != 0
    assert counts[FAILING]["failed"] == 1
    assert [host for host, c in counts.items() if c.get("failed") and host != FAILING] == [], output[-4000:]
    assert host_files(mlab, FAILING) == failing_files, "the failing host lost a byte of its configuration"
    assert "Unbound does not answer the test points right" in output
    assert set(counts) >= {name for name, _spec in TEST_FLEET}


def test_after_remediate_the_audit_finds_nothing_severe_that_a_role_fixes(mlab) -> None:
    from ansible_collections.maildns.audit.plugins.module_utils._remediate.fleet_plan import host_plan

    _code, output, _counts = run_playbook(mlab, "audit.yml", "-l", f"all:!{FAILING}:localhost")
    report = json.loads(Path(mlab.report_dir, "report.json").read_text())
    variables = {"dnsbl_policy_correct_misspelled": True}
    left = {}
    for entry in report["hosts"]:
        plan = host_plan(entry, variables)
        severe = [fix["id"] for fix in plan["fixes"] if fix["severity"] in SEVERE]
        if severe:
            left[entry["host"]] = severe
    assert left == {}, output[-3000:]


def test_a_second_remediate_changes_nothing(mlab) -> None:
    _code, output, counts = run_playbook(mlab, "remediate.yml", "-l", f"all:!{FAILING}:localhost")
    changed = {host: c["changed"] for host, c in counts.items() if host != "localhost" and c["changed"]}
    assert changed == {}, output[-4000:]
