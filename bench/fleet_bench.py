"""playbooks/audit.yml on lab fleets of several sizes beside `ansible -m ping` on the same hosts.

    sudo .venv/bin/python bench/fleet_bench.py 10 25 50                    (or: make bench-fleet)
    sudo .venv/bin/python bench/fleet_bench.py --runs 1 --variants 50/linear,100/linear,50/free 50 500
                                                                            (or: make bench-scale)

For each size: bring up a lab of that many hosts (default fleet: the scenarios in turn; prefix mdflt,
net 10.236, so a lab brought up by hand is left alone), time `ansible all -m ping` and
`ansible-playbook playbooks/audit.yml` (audit_timeout=1, gate off), all with the lab inventory's SSH
settings (ControlPersist masters in the lab's cp/ folder, pipelining on), then take the lab down.
The first ping pays the SSH handshakes that open the masters; one untimed audit lets the lab's
just-written main.cf files settle; then --runs warm pings and audits, interleaved, whose medians give
the ratio audit / warm ping, like with like. Each variant (forks/strategy) is one more set of timed
audits on the same lab; the first variant is the one the ratio and slope use.

While each audit runs, the controller's memory is sampled every 0.2 s: the proportional set size
(PSS, /proc/PID/smaps_rollup: shared pages split between their users) summed over ansible-playbook
and every process under it (its forks and their ssh clients; the ControlPersist masters are not
under it), and the largest resident size of one of those processes. Prints the table, the per-host
time and memory, and the slope between the smallest and the largest size.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STATE = REPO / ".lab-fleet-bench"
LAB = [sys.executable, "-m", "tests.lab", "--state-dir", str(STATE), "--prefix", "mdflt", "--net", "10.236"]
BIN = Path(sys.executable).parent
ENV = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "ANSIBLE_CONFIG": str(REPO / "ansible.cfg")}


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    parent = int(handle.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            tree.setdefault(parent, []).append(int(entry))
    return tree


def _memory_kib(pid: int) -> tuple[int, int]:
    """(PSS, RSS) of one process in KiB; (0, 0) once it is gone."""
    pss = rss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    pss = int(line.split()[1])
                elif line.startswith("Rss:"):
                    rss = int(line.split()[1])
    except OSError:
        pass
    return pss, rss


class TreeMemory(threading.Thread):
    """Peak PSS summed over a process tree, and the peak RSS of its largest process, sampled."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak_pss_kib, self.peak_rss_kib, self.peak_processes = pid, 0, 0, 0
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(0.2):
            tree, todo, pids = _children(), [self.pid], []
            while todo:
                pid = todo.pop()
                pids.append(pid)
                todo.extend(tree.get(pid, []))
            sizes = [_memory_kib(pid) for pid in pids]
            self.peak_pss_kib = max(self.peak_pss_kib, sum(pss for pss, _rss in sizes))
            self.peak_rss_kib = max(self.peak_rss_kib, max((rss for _pss, rss in sizes), default=0))
            self.peak_processes = max(self.peak_processes, len(pids))


def timed(argv: list[str], env: dict | None = None) -> tuple[float, TreeMemory]:
    started = time.perf_counter()
    process = subprocess.Popen(
        argv, cwd=REPO, env=env or ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    memory = TreeMemory(process.pid)
    memory.start()
    output = process.communicate()[0]
    elapsed = time.perf_counter() - started
    memory.stopped.set()
    memory.join()
    if process.returncode != 0:
        raise SystemExit(f"{argv[0]} failed ({process.returncode}): {output[-4000:]}")
    return elapsed, memory


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[10, 25, 50])
    parser.add_argument("--runs", type=int, default=3, help="warm pings and audits per size, interleaved")
    parser.add_argument(
        "--variants", default="50/linear", help="forks/strategy of the timed audits, comma-separated; first is compared"
    )
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench/fleet_bench.py needs root (it builds a lab)", file=sys.stderr)
        return 1
    variants = [tuple(v.split("/")) for v in args.variants.split(",")]
    rows = []
    print(f"cores: {os.cpu_count()}; {time.strftime('%Y-%m-%d')}; pipelining on, ControlPersist on; runs {args.runs}")
    print(
        "| hosts | forks/strategy | lab up (s) | load before | ping, cold (s) | ping, warm (s) | audit.yml (s)"
        " | per host (ms) | audit / warm ping | controller PSS, peak (MiB) | PSS per host (MiB)"
        " | largest process RSS (MiB) | most controller processes |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as reports:
        for count in args.sizes:
            started = time.perf_counter()
            subprocess.run([*LAB, "up", "--hosts", str(count)], cwd=REPO, check=True, stdout=subprocess.DEVNULL)
            lab_up = time.perf_counter() - started
            load = os.getloadavg()[0]
            try:
                inventory = str(STATE / "inventory.ini")
                ping_argv = [str(BIN / "ansible"), "-i", inventory, "all", "-m", "ansible.builtin.ping", "-f", "50"]

                audit_argv = [
                    str(BIN / "ansible-playbook"),
                    *("-i", inventory, "playbooks/audit.yml"),
                    *("-e", f"maildns_report_dir={reports}/{count}", "-e", "audit_timeout=1"),
                    *("-e", "maildns_fail_on=none", "-e", "maildns_fail_on_not_audited=false"),
                ]
                cold = timed(ping_argv)[0]
                # One audit before the timed ones: Postfix waits for a main.cf written less than a
                # second ago to settle (postconf re-reads it), which a lab just brought up always has.
                timed([*audit_argv, "-f", variants[0][0]])
                results = {}
                for index, (forks, strategy) in enumerate(variants):
                    pings, audits = [], []
                    for _run in range(args.runs):  # interleaved, so that both meet the same machine
                        if index == 0:
                            pings.append(timed(ping_argv)[0])
                        audits.append(timed([*audit_argv, "-f", forks], {**ENV, "ANSIBLE_STRATEGY": strategy}))
                    elapsed = statistics.median(t for t, _m in audits)
                    memory = max((m for _t, m in audits), key=lambda m: m.peak_pss_kib)
                    results[(forks, strategy)] = (elapsed, memory, statistics.median(pings) if pings else None)
            finally:
                subprocess.run([*LAB, "down"], cwd=REPO, check=False, stdout=subprocess.DEVNULL)
            rows.append((count, lab_up, load, cold, results))
            for (forks, strategy), (elapsed, memory, ping) in results.items():
                print(
                    f"| {count} | {forks}/{strategy} | {lab_up:.0f} | {load:.1f} | {cold:.1f} "
                    f"| {'-' if ping is None else f'{ping:.1f}'} | {elapsed:.1f} | {1000 * elapsed / count:.0f} "
                    f"| {'-' if ping is None else f'{elapsed / ping:.2f}'} | {memory.peak_pss_kib / 1024:.0f} "
                    f"| {memory.peak_pss_kib / 1024 / count:.2f} | {memory.peak_rss_kib / 1024:.0f} "
                    f"| {memory.peak_processes} |",
                    flush=True,
                )
    if len(rows) > 1:
        first, last = rows[0], rows[-1]
        (t1, m1, p1), (t2, m2, p2) = first[4][variants[0]], last[4][variants[0]]
        n1, n2 = first[0], last[0]
        print(
            f"slope {n1}->{n2} hosts ({'/'.join(variants[0])}): warm ping {(p2 - p1) / (n2 - n1):.3f} s/host, "
            f"audit {(t2 - t1) / (n2 - n1):.3f} s/host; per-host audit time {n2} against {n1}: "
            f"{(t2 / n2) / (t1 / n1):.2f}; controller PSS {(m2.peak_pss_kib - m1.peak_pss_kib) / 1024 / (n2 - n1):.2f}"
            " MiB/host"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
