"""A host that freezes mid-audit does not hold the fleet (issue 15 item 3).

Its own lab of three healthy hosts (the shared test fleet is left alone), reached through an
inventory written here that sets no SSH keepalive of its own: the bounds must come from what the
collection ships (ansible.cfg's ServerAlive options, the audit role's task timeout).

- `frozen`: every process of the host (sshd included) is stopped with SIGSTOP right after the
  audit module started there, as a hung kernel or a stalled NFS mount would leave it. Nothing on
  the host answers any more, but the kernel still ACKs TCP, so without keepalives ssh waits forever.
- `stuck`: only the module's own processes are stopped: sshd still answers keepalives, as with a
  module stuck in the kernel. Only the task timeout ends it.
- `fine`: audited as usual.

How the freeze is made reliable: with pipelining and a fixed interpreter, the first process that
Ansible starts in a host is `/usr/bin/python3` reading the audit module from stdin (no facts are
gathered), so a watcher that polls the host's network namespace (`ip netns pids`) every 10 ms sees
the module start long before it can finish (its imports alone take longer) and stops it there.
The watcher records what it stopped; the test says so when it did not get there in time.

The playbook's limit here is a hang check (several times the configured bounds), not a timing.
Teardown continues (SIGCONT) what was stopped, then takes the lab down.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, require_lab_privileges
from tests.integration.helpers import side_lab

pytestmark = pytest.mark.lab

# The lab of this file: MAILDNS_FROZEN_LAB=prefix,net, else one beside the test lab (its prefix
# with an "f", its net + 1), so that two test runs with different MAILDNS_TEST_LAB do not meet.
FROZEN_LAB_PREFIX, FROZEN_LAB_NET = side_lab("MAILDNS_FROZEN_LAB", "f", 1)

FLEET = [("fine", "healthy"), ("frozen", "healthy"), ("stuck", "healthy")]
KEEPALIVE_BOUND = 15 * 4  # ansible.cfg: ServerAliveInterval 15 x ServerAliveCountMax 4
TASK_TIMEOUT = KEEPALIVE_BOUND + 30  # longer than the keepalive bound, so that both bounds show
HANG_CHECK = 5 * (TASK_TIMEOUT + KEEPALIVE_BOUND)  # far beyond both: only a hang reaches it
MODULE_ARGV = ["/usr/bin/python3"]  # a pipelined module: the interpreter alone, the module on stdin


@pytest.fixture(scope="module")
def frozen_lab() -> Iterator[object]:
    require_lab_privileges()
    from tests.lab.fleet import Lab, LabNetwork

    lab = Lab(REPO_ROOT / f".lab-test-{FROZEN_LAB_PREFIX}", LabNetwork(FROZEN_LAB_PREFIX, FROZEN_LAB_NET))
    try:
        lab.up(FLEET)
        yield lab
    finally:
        lab.down()


def write_inventory(lab, path: Path) -> Path:  # type: ignore[no-untyped-def]
    """Like inventory.example: the hosts, a user and a key, and no ServerAlive (or any keepalive) option."""
    lines = ["[mailservers]"]
    lines += [f"{host.name} ansible_host={host.address}" for host in lab.hosts]
    lines += [
        "",
        "[mailservers:vars]",
        "ansible_user=root",
        f"ansible_ssh_private_key_file={lab.ssh_dir / 'id_ed25519'}",
        f"ansible_ssh_common_args='-o UserKnownHostsFile={lab.ssh_dir / 'known_hosts'} -o StrictHostKeyChecking=yes'",
        # The lab's teardown ends the ControlPersist masters it finds in this folder.
        f"ansible_control_path_dir={lab.control_dir}",
        "ansible_python_interpreter=/usr/bin/python3",
        "",
    ]
    path.write_text("\n".join(lines))
    assert "ServerAlive" not in path.read_text() and "TCPKeepAlive" not in path.read_text()
    return path


def netns_pids(netns: str) -> list[int]:
    result = subprocess.run(["ip", "netns", "pids", netns], capture_output=True, text=True, check=False)
    return [int(pid) for pid in result.stdout.split() if pid.isdigit()]


def argv_of(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")[:-1]
    except OSError:
        return []


def parent_of(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


class Freezer(threading.Thread):
    """Stops a host's processes once the audit module runs there: all of them, or the module's own."""

    def __init__(self, netns: str, everything: bool) -> None:
        super().__init__(daemon=True)
        self.netns, self.everything = netns, everything
        self.stopped: set[int] = set()
        self.done = threading.Event()
        self.quit = threading.Event()

    def _stop(self, pids: set[int]) -> None:
        for pid in sorted(pids - self.stopped):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)
                self.stopped.add(pid)

    def run(self) -> None:
        while not self.quit.is_set():
            pids = netns_pids(self.netns)
            module = [pid for pid in pids if argv_of(pid) == MODULE_ARGV]
            if module:
                break
            time.sleep(0.01)
        else:
            return
        # Stop the module first (it can fork no more), then, a few rounds over, what else belongs.
        self._stop(set(module))
        for _round in range(5):
            pids = set(netns_pids(self.netns))
            if self.everything:
                self._stop(pids)
            else:
                self._stop({pid for pid in pids if parent_of(pid) in self.stopped})
            time.sleep(0.05)
        self.done.set()

    def resume(self) -> None:
        self.quit.set()
        for pid in self.stopped:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)


@pytest.fixture(scope="module")
def frozen_run(frozen_lab, tmp_path_factory) -> Iterator[dict]:
    lab = frozen_lab
    work = tmp_path_factory.mktemp("frozen")
    inventory = write_inventory(lab, work / "inventory.ini")
    freezers = {
        "frozen": Freezer(lab.network.host_netns("frozen"), everything=True),
        "stuck": Freezer(lab.network.host_netns("stuck"), everything=False),
    }
    for freezer in freezers.values():
        freezer.start()
    report_dir = work / "report"
    log = work / "ansible.log"
    try:
        with log.open("w") as output:
            # Output to a file, not a pipe: a leftover ssh process may hold a pipe open after the end.
            process = subprocess.Popen(
                [
                    "ansible-playbook",
                    "-i",
                    str(inventory),
                    "playbooks/audit.yml",
                    "-e",
                    f"maildns_report_dir={report_dir}",
                    "-e",
                    f"audit_task_timeout={TASK_TIMEOUT}",
                    "-e",
                    "audit_timeout=1",
                ],
                stdout=output,
                stderr=subprocess.STDOUT,
                cwd=REPO_ROOT,
            )
            try:
                returncode = process.wait(timeout=HANG_CHECK)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                pytest.fail(
                    f"audit.yml still waited after {HANG_CHECK} s, far beyond the keepalive ({KEEPALIVE_BOUND} s) "
                    f"and task timeout ({TASK_TIMEOUT} s) bounds: a frozen host holds the fleet\n"
                    + log.read_text()[-3000:]
                )
        for name, freezer in freezers.items():
            assert freezer.done.is_set(), f"the watcher never saw the audit module start on {name}"
        yield {
            "returncode": returncode,
            "output": log.read_text(),
            "report": json.loads((report_dir / "report.json").read_text()),
            "summary": (report_dir / "summary.md").read_text(),
            "junit": (report_dir / "junit.xml").read_text(),
            "stopped": {name: sorted(freezer.stopped) for name, freezer in freezers.items()},
        }
    finally:
        for freezer in freezers.values():
            freezer.resume()


def by_host(report: dict) -> dict:
    return {host["host"]: host for host in report["hosts"]}


def test_the_fleet_completes_and_the_healthy_host_is_audited(frozen_run) -> None:
    hosts = by_host(frozen_run["report"])
    assert set(hosts) == {name for name, _scenario in FLEET}
    assert (hosts["fine"]["status"], hosts["fine"]["audited"], hosts["fine"]["findings"]) == ("ok", True, [])


def test_a_host_that_stopped_answering_is_reported_unreachable(frozen_run) -> None:
    frozen = by_host(frozen_run["report"])["frozen"]
    # sshd stopped too: the keepalives of ansible.cfg go unanswered and ssh gives up first.
    assert (frozen["audited"], frozen["not_audited"], frozen["status"]) == (False, "unreachable", "unreachable")
    assert frozen["reason"], frozen


def test_a_host_whose_module_hangs_while_sshd_answers_times_out(frozen_run) -> None:
    stuck = by_host(frozen_run["report"])["stuck"]
    assert (stuck["audited"], stuck["not_audited"]) == (False, "timed out")
    assert stuck["reason"] == f"the audit did not finish within {TASK_TIMEOUT} s (task timeout)"


def test_the_gate_fails_for_the_hosts_not_audited_and_says_so_first(frozen_run) -> None:
    assert frozen_run["returncode"] == 2, frozen_run["output"][-3000:]
    gate = frozen_run["report"]["summary"]["gate"]
    assert (gate["failed"], gate["findings"], gate["not_audited"]) == (True, [], ["frozen", "stuck"])
    first = frozen_run["summary"].splitlines()[0]
    assert first == "# maildns.audit fleet report: 2 of 3 hosts not audited (1 unreachable, 1 timed out)"
    assert "2 of 3 hosts not audited: frozen (unreachable: " in frozen_run["output"]
    assert "stuck (timed out: the audit did not finish within" in frozen_run["output"]
    assert "timedout.frame" not in frozen_run["output"]  # the role keeps no deprecated key
