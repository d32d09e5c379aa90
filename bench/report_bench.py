"""The report step (fleet_report) on 1,000 and 10,000 synthetic host results, side by side.

    .venv/bin/python bench/report_bench.py [1000 10000]          (or: make bench-report; no root)
    .venv/bin/python bench/report_bench.py --ansible 1000 10000    (the report play of audit.yml)
    .venv/bin/python bench/report_bench.py --refresh-data reports/demo/report.json

The host results are real: tests/data/lab_results.json holds what the audit returned for each of
the lab's 32 scenarios (taken from `make demo`'s report.json; --refresh-data rewrites it), and a
fleet of N hosts cycles through them under new names (tests/tools/synthetic_fleet.py). Each size
runs in a process of its own, so that its peak memory is its own: the time of build_report() and
of each rendering, the size of each file, the peak resident memory above the process's size with
its inputs built, and (when Debian's chromium is installed) how long headless chromium takes to
load report.html and paint its first screen. The baseline, timed in the same process: json.dumps()
of the results alone, the least any report of them costs.
Results go to docs/BENCHMARKS.md by hand.
"""

from __future__ import annotations

import datetime
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / ".collections")]
TODAY = datetime.date(2026, 12, 2)

from tests.tools.synthetic_fleet import DATA, fleet, results_of_report  # noqa: E402


def max_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def first_screen(directory: Path) -> float:
    """Seconds for headless chromium (no network) to load report.html and write a screenshot; nan without it."""
    if not shutil.which("chromium"):
        return float("nan")
    argv = ["unshare", "--net", "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
    argv += [f"--user-data-dir={directory / 'profile'}", "--window-size=1280,1000"]
    argv += [f"--screenshot={directory / 'first.png'}", (directory / "report.html").as_uri()]
    started = time.perf_counter()
    subprocess.run(argv, capture_output=True, check=True, cwd=directory)
    return time.perf_counter() - started


def measure(count: int) -> dict:
    """One size, in this process: times (s), sizes (bytes), peak memory over the inputs (MiB)."""
    from ansible_collections.maildns.audit.plugins.module_utils import fleet_report

    results = fleet(count)
    floor_rss = max_rss_mib()
    started = time.perf_counter()
    json.dumps(results, indent=1, sort_keys=True)
    baseline = time.perf_counter() - started
    times = {}
    started = time.perf_counter()
    report = fleet_report.build_report(results, {}, "high", TODAY)
    times["build_report"] = time.perf_counter() - started
    sizes = {}
    for name, render in fleet_report.RENDERERS.items():
        started = time.perf_counter()
        text = render(report)
        times[name] = time.perf_counter() - started
        sizes[name] = len(text.encode())
        del text
    with tempfile.TemporaryDirectory() as directory:
        started = time.perf_counter()
        fleet_report.write_report(report, directory)  # what the module does: all four, written
        times["write_report"] = time.perf_counter() - started
        times["browser"] = first_screen(Path(directory))
    return {
        "hosts": count,
        "baseline_s": baseline,
        "times_s": times,
        "sizes": sizes,
        "peak_rss_over_imports_mib": max_rss_mib() - floor_rss,
    }


def through_ansible(count: int) -> dict:
    """playbooks/audit.yml's report play as Ansible runs it: hostvars of `count` hosts into the module.

    Each host's result is its host_vars file (as a registered audit_result is a host variable), and
    `--limit localhost` leaves the audit play no host, so only the report play runs: the templating
    of every host's result and the module's arguments are what this measures beside measure().
    """
    from fleet_bench import timed

    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        (root / "host_vars").mkdir()
        hosts = fleet(count)
        for name, result in hosts.items():
            (root / "host_vars" / f"{name}.json").write_text(json.dumps({"audit_result": result}))
        controller = f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}"
        (root / "hosts.ini").write_text(f"{controller}\n[mailservers]\n" + "\n".join(hosts) + "\n")
        argv = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(root / "hosts.ini")]
        argv += [str(REPO / "playbooks" / "audit.yml"), "--limit", "localhost", "-e", f"maildns_report_dir={root}/r"]
        argv += ["-e", "maildns_fail_on=none", "-e", "maildns_fail_on_not_audited=false"]
        elapsed, memory = timed(argv)
        written = json.loads((root / "r" / "report.json").read_text())["summary"]["hosts"]
        assert written == count, (written, count)
        return {"hosts": count, "elapsed_s": elapsed, "peak_pss_mib": memory.peak_pss_kib / 1024}


def main() -> int:
    if sys.argv[1:2] == ["--ansible"]:
        sys.path.insert(0, str(REPO / "bench"))
        print("| hosts | audit.yml's report play, through Ansible (s) | per host (ms) | controller PSS, peak (MiB) |")
        print("|---|---|---|---|")
        for count in [int(arg) for arg in sys.argv[2:]] or [1000, 10000]:
            row = through_ansible(count)
            elapsed, pss = row["elapsed_s"], row["peak_pss_mib"]
            print(f"| {count} | {elapsed:.1f} | {1000 * elapsed / count:.2f} | {pss:.0f} |")
        return 0
    if sys.argv[1:2] == ["--refresh-data"]:
        report = json.loads(Path(sys.argv[2]).read_text())
        DATA.write_text(json.dumps(results_of_report(report), indent=1, sort_keys=True) + "\n")
        print(f"{DATA}: {len(report['hosts'])} hosts")
        return 0
    if sys.argv[1:2] == ["--one"]:
        print(json.dumps(measure(int(sys.argv[2]))))
        return 0
    sizes = [int(arg) for arg in sys.argv[1:]] or [1000, 10000]
    rows = []
    for count in sizes:
        out = subprocess.run(
            [sys.executable, __file__, "--one", str(count)], capture_output=True, text=True, check=True
        )
        rows.append(json.loads(out.stdout))
    print(f"cores: {os.cpu_count()}; {time.strftime('%Y-%m-%d')}; load {os.getloadavg()[0]:.1f}")
    print(
        "| hosts | json.dumps of the results, baseline (s) | build_report (s) | write_report, 4 files (s) "
        "| write / baseline | per host (ms) | peak RSS over the inputs (MiB) | chromium, first screen (s) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        total = row["times_s"]["build_report"] + row["times_s"]["write_report"]
        print(
            f"| {row['hosts']} | {row['baseline_s']:.2f} | {row['times_s']['build_report']:.2f} "
            f"| {row['times_s']['write_report']:.2f} | {row['times_s']['write_report'] / row['baseline_s']:.1f} "
            f"| {1000 * total / row['hosts']:.2f} | {row['peak_rss_over_imports_mib']:.0f} "
            f"| {row['times_s']['browser']:.1f} |"
        )
    print("\n| hosts | file | render (s) | size (MiB) | bytes per host |")
    print("|---|---|---|---|---|")
    for row in rows:
        for name, size in row["sizes"].items():
            render = row["times_s"][name]
            print(f"| {row['hosts']} | {name} | {render:.2f} | {size / 2**20:.1f} | {size // row['hosts']} |")
    if len(rows) > 1:
        small, large = rows[0], rows[-1]

        def per_host(row: dict) -> float:
            return (row["times_s"]["build_report"] + row["times_s"]["write_report"]) / row["hosts"]

        print(
            f"\nper-host time, {large['hosts']} against {small['hosts']} hosts: {per_host(large) / per_host(small):.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
