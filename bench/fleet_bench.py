"""playbooks/audit.yml on 10, 25 and 50 lab hosts beside `ansible -m ping` on the same hosts.

    sudo .venv/bin/python bench/fleet_bench.py 10 25 50        (or: make bench-fleet)

For each size: bring up a lab of that many hosts (default fleet: the scenarios in turn; prefix mdflt,
net 10.236, so a lab brought up by hand is left alone), time `ansible all -m ping -f 50` and
`ansible-playbook playbooks/audit.yml -f 50` (audit_timeout=1, gate off), all with the lab
inventory's SSH settings (ControlPersist masters in the lab's cp/ folder, pipelining on), then take
the lab down. The first ping pays the SSH handshakes that open the masters; one untimed audit lets
the lab's fresh main.cf files settle; then 3 warm pings and 3 audits, interleaved, whose medians
give the ratio audit / warm ping, like with like. Prints both ratios and the per-host slope between
sizes.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STATE = REPO / ".lab-fleet-bench"
LAB = [sys.executable, "-m", "tests.lab", "--state-dir", str(STATE), "--prefix", "mdflt", "--net", "10.236"]
BIN = Path(sys.executable).parent
RUNS = 3  # warm pings and audits per size, interleaved; their medians are compared
ENV = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "ANSIBLE_CONFIG": str(REPO / "ansible.cfg")}


def timed(argv: list[str]) -> float:
    started = time.perf_counter()
    result = subprocess.run(argv, cwd=REPO, env=ENV, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"{argv[0]} failed: {result.stdout[-2000:]}{result.stderr[-2000:]}")
    return time.perf_counter() - started


def main() -> int:
    if os.geteuid() != 0:
        print("bench/fleet_bench.py needs root (it builds a lab)", file=sys.stderr)
        return 1
    sizes = [int(arg) for arg in sys.argv[1:]] or [10, 25, 50]
    rows = []
    print(f"cores: {os.cpu_count()}; {time.strftime('%Y-%m-%d')}; pipelining on, ControlPersist on")
    print("| hosts | ping, cold (s) | ping, warm (s) | audit.yml (s) | audit / cold ping | audit / warm ping |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as reports:
        for count in sizes:
            subprocess.run([*LAB, "up", "--hosts", str(count)], cwd=REPO, check=True, stdout=subprocess.DEVNULL)
            try:
                inventory = str(STATE / "inventory.ini")
                ping_argv = [str(BIN / "ansible"), "-i", inventory, "all", "-m", "ansible.builtin.ping", "-f", "50"]
                audit_argv = [
                    str(BIN / "ansible-playbook"),
                    "-i",
                    inventory,
                    "playbooks/audit.yml",
                    "-f",
                    "50",
                    "-e",
                    f"maildns_report_dir={reports}/{count}",
                    "-e",
                    "audit_timeout=1",
                    "-e",
                    "maildns_fail_on=none",
                    "-e",
                    "maildns_fail_on_not_audited=false",
                ]
                cold = timed(ping_argv)
                # One audit before the timed ones: Postfix waits for a main.cf written less than a
                # second ago to settle (postconf re-reads it), which a lab just brought up always has.
                timed(audit_argv)
                pings, audits = [], []
                for _run in range(RUNS):  # interleaved, so that both meet the same machine
                    pings.append(timed(ping_argv))
                    audits.append(timed(audit_argv))
                ping, audit = statistics.median(pings), statistics.median(audits)
            finally:
                subprocess.run([*LAB, "down"], cwd=REPO, check=False, stdout=subprocess.DEVNULL)
            rows.append((count, ping, audit))
            print(
                f"| {count} | {cold:.2f} | {ping:.2f} | {audit:.2f} | {audit / cold:.2f} | {audit / ping:.2f} |",
                flush=True,
            )
    if len(rows) > 1:
        (n1, p1, a1), (n2, p2, a2) = rows[0], rows[-1]
        print(
            f"\nslope {n1}->{n2} hosts: warm ping {(p2 - p1) / (n2 - n1):.3f} s/host, "
            f"audit {(a2 - a1) / (n2 - n1):.3f} s/host"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
