"""Time `lab up` for N hosts and measure what each host holds in memory.

    sudo .venv/bin/python bench/lab_up.py 10 50        (or: make bench-lab)

For each N it runs, side by side in this one process:
  baseline  the bare network the lab needs (N namespaces + veths on a bridge, one `ip -batch`),
            then deletes it: the floor no lab bring-up can go under;
  lab up    the whole bring-up (`python -m tests.lab up --hosts N`, a process of its own, as
            `make lab-up` runs it): host files, host keys, network, DNS fixtures, sshd, ready.
Memory: resident (RSS) and proportional (PSS, shared pages split among their users) size of every
process in each host's namespace, averaged per host. The lab uses its own prefix (mdbch) and net
(10.234), so a lab brought up by hand is left alone. Results go to docs/BENCHMARKS.md by hand.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.lab.fleet import Lab, _netns_pids  # noqa: E402

STATE = REPO / ".lab-bench"
NETWORK = ["--prefix", "mdbch", "--net", "10.234"]


def baseline(count: int) -> float:
    lines = ["link add mdbasebr0 type bridge", "link set mdbasebr0 up"]
    for index in range(count):
        lines += [
            f"netns add mdbase-{index}",
            f"link add mdbasev{index:04d} type veth peer name eth0 netns mdbase-{index}",
            f"link set mdbasev{index:04d} master mdbasebr0 up",
        ]
    started = time.perf_counter()
    subprocess.run(["ip", "-batch", "-"], input="\n".join(lines) + "\n", text=True, check=True)
    elapsed = time.perf_counter() - started
    cleanup = [f"netns del mdbase-{index}" for index in range(count)] + ["link del mdbasebr0"]
    subprocess.run(["ip", "-batch", "-"], input="\n".join(cleanup) + "\n", text=True, check=False)
    return elapsed


def memory_kib(pid: int) -> tuple[int, int]:
    fields = {}
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
            name, value = line.split(":", 1)
            fields[name] = int(value.split()[0])
    except OSError:
        return 0, 0
    return fields.get("Rss", 0), fields.get("Pss", 0)


def lab_up(count: int) -> tuple[float, float, float]:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "tests.lab", "--state-dir", str(STATE), *NETWORK, "up", "--hosts", str(count)],
        cwd=REPO,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    elapsed = time.perf_counter() - started
    lab = Lab.load(STATE)
    rss = pss = 0
    for host in lab.hosts:
        for pid in _netns_pids(host.netns):
            host_rss, host_pss = memory_kib(pid)
            rss, pss = rss + host_rss, pss + host_pss
    subprocess.run(
        [sys.executable, "-m", "tests.lab", "--state-dir", str(STATE), *NETWORK, "down"],
        cwd=REPO,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return elapsed, rss / count / 1024, pss / count / 1024


def main() -> int:
    if os.geteuid() != 0:
        print("bench/lab_up.py needs root (it builds a lab)", file=sys.stderr)
        return 1
    counts = [int(arg) for arg in sys.argv[1:]] or [10, 50]
    print(f"cores: {os.cpu_count()}; {time.strftime('%Y-%m-%d')}")
    print(
        "| hosts | baseline: bare netns+veth (s) | lab up (s) | lab up / baseline | per host (s) "
        "| RSS per host (MiB) | PSS per host (MiB) |"
    )
    print("|---|---|---|---|---|---|---|")
    for count in counts:
        floor = baseline(count)
        elapsed, rss, pss = lab_up(count)
        print(
            f"| {count} | {floor:.3f} | {elapsed:.2f} | {elapsed / floor:.0f}x | {elapsed / count:.3f} "
            f"| {rss:.1f} | {pss:.1f} |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
