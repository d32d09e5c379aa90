"""The DNSBL probe beside check_rbl 1.7 and a sequential dnspython loop, on one lab fixture.

    sudo .venv/bin/python bench/probe_bench.py        (or: make bench-probe)

One fixture resolver on 127.53.1.1:53 (loopback; port 53 because check_rbl's Net::DNS asks port 53)
answers every query 20 ms late, for N lists named listNN.bench.test; "4 dead" adds four lists it
never answers. Each tool runs as a whole process (start-up included), at its defaults:
  check_rbl  /usr/lib/nagios/plugins/check_rbl -H 192.0.2.99 -n 127.53.1.1 -s ... (timeout 15 s;
             one query per list: the address)
  probe      python -m ...dnsbl_probe --resolver 127.53.1.1 --ip 192.0.2.99 (timeout 2.5 s; four
             queries per list: both test points, the zone's NS and the address)
  loop       dnspython, one query per list (the address) after another, timeout 3 s
Then the full probe of a host: 60 lists + 4 dead through 3 resolvers, test points and 2 outbound
addresses (several hundred queries), against (timeout + slowest answer).
Runs without dead lists are timed 7 times each, tools interleaved, and the medians compared; the
collection's modules are byte-compiled first, as on an installed host. Needs root and
bench/install-bench-deps.sh. Results go to docs/BENCHMARKS.md by hand.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.lab.dns_fixture import spawn_fixture  # noqa: E402
from tests.lab.zone_data import build_zone_data  # noqa: E402

CHECK_RBL = "/usr/lib/nagios/plugins/check_rbl"
ADDRESSES = ["127.53.1.1", "127.53.1.2", "127.53.1.3"]
DELAY_MS = 20
DEAD = [f"dead{n}.bench.test" for n in range(1, 5)]
PROBE_TIMEOUT = 2.5  # the probe's default (dnsbl_probe.DEFAULT_TIMEOUT)
RUNS = 7  # fast cases: the median of this many runs of each tool, side by side
ENV = {**os.environ, "PYTHONPATH": f"{REPO}:{REPO / '.collections'}"}
LOOP = """
import sys, dns.message, dns.query, dns.exception
for zone in sys.argv[2:]:
    try:
        dns.query.udp(dns.message.make_query("99.2.0.192." + zone, "A"), sys.argv[1], timeout=3)
    except dns.exception.Timeout:
        pass
"""


def flags(flag: str, values: list[str]) -> list[str]:
    """["-s", "a", "-s", "b"] from "-s" and ["a", "b"]."""
    return [item for value in values for item in (flag, value)]


def zones(count: int) -> list[str]:
    return [f"list{n:02d}.bench.test" for n in range(1, count + 1)]


def start_fixture(data_file: Path) -> list[subprocess.Popen]:
    processes = []
    for address in ADDRESSES:
        subprocess.run(["ip", "addr", "add", f"{address}/32", "dev", "lo"], check=False, capture_output=True)
        delay = ["--delay-ms", str(DELAY_MS), *flags("--silent-zone", DEAD)]
        process, _server = spawn_fixture("resolver", data_file, address, 53, *delay)
        processes.append(process)
    return processes


def timed(argv: list[str], runs: int = 1) -> tuple[float, subprocess.CompletedProcess]:
    """Median wall time of `runs` whole-process runs (start-up included), and the last result."""
    times = []
    for _run in range(runs):
        started = time.perf_counter()
        result = subprocess.run(argv, capture_output=True, text=True, env=ENV, cwd=REPO, check=False)
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def probe_argv(lists: list[str], resolvers: list[str], ips: list[str]) -> list[str]:
    argv = [sys.executable, "-m", "ansible_collections.maildns.audit.plugins.module_utils.dnsbl_probe"]
    argv += ["--json", *flags("--zone", lists), *flags("--resolver", resolvers)]
    return argv + flags("--ip", ips)


def main() -> int:
    if os.geteuid() != 0 or not Path(CHECK_RBL).exists():
        print("needs root and check_rbl: run bench/install-bench-deps.sh as root first", file=sys.stderr)
        return 1
    specs = [{"zone": zone, "kind": "ip"} for zone in zones(60) + DEAD]
    with tempfile.TemporaryDirectory() as tmp:
        data_file = Path(tmp) / "dns.json"
        data_file.write_text(build_zone_data(specs, [". NS ns.lab.test."]).to_json())
        # As installed: the collection's modules byte-compiled once (this machine's environment sets
        # PYTHONDONTWRITEBYTECODE, so otherwise every run would compile them again).
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "plugins")], check=True, env=ENV)
        fixtures = start_fixture(data_file)
        try:
            print(f"cores: {os.cpu_count()}; {time.strftime('%Y-%m-%d')}; {DELAY_MS} ms per answer")
            print(
                "| lists | dead | check_rbl (s) | probe (s) | sequential loop (s) | probe / check_rbl | probe / loop |"
            )
            print("|---|---|---|---|---|---|---|")
            for count in (10, 30, 60):
                for dead in (0, 4):
                    lists = zones(count) + DEAD[:dead]
                    runs = 1 if dead else RUNS  # a run with dead lists is seconds of waiting, not noise
                    check_rbl_s, check_rbl = timed(
                        [CHECK_RBL, "-H", "192.0.2.99", "-n", ADDRESSES[0], *flags("-s", lists)], runs
                    )
                    probe_s, probe = timed(probe_argv(lists, ADDRESSES[:1], ["192.0.2.99"]), runs)
                    loop_s, _loop_result = timed([sys.executable, "-c", LOOP, ADDRESSES[0], *lists], runs)
                    assert probe.returncode in (0, 1), probe.stderr
                    print(
                        f"| {count} | {dead} | {check_rbl_s:.2f} | {probe_s:.2f} | {loop_s:.2f} "
                        f"| {probe_s / check_rbl_s:.2f} | {probe_s / loop_s:.3f} |",
                        flush=True,
                    )
            lists = zones(60) + DEAD
            full_s, full = timed(probe_argv(lists, ADDRESSES, ["192.0.2.99", "192.0.2.98"]))
            report = json.loads(full.stdout)
            queries = sum(len(p["queries"]) for p in report["probes"]) + len(report["outbound"])
            slowest = max(q["elapsed_ms"] for p in report["probes"] for q in p["queries"] if not q["error"]) / 1000
            bound = PROBE_TIMEOUT + slowest
            print(
                f"\nfull probe: {len(lists)} lists x {len(ADDRESSES)} resolvers + 2 outbound addresses = "
                f"{queries} queries in {full_s:.2f} s (process) / {report['elapsed_s']:.2f} s (probe); "
                f"timeout + slowest answer = {bound:.2f} s; ratio {report['elapsed_s'] / bound:.2f} "
                f"(process {full_s / bound:.2f})"
            )
            print(f"check_rbl on the 4 dead lists said: {check_rbl.stdout.strip()[:200]}")
        finally:
            for process in fixtures:
                process.terminate()
                process.wait()
            for address in ADDRESSES:
                subprocess.run(["ip", "addr", "del", f"{address}/32", "dev", "lo"], check=False, capture_output=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
