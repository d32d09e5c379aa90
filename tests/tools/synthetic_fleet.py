"""Fleets of any size made of real audit results, for the report's benchmark and its at-size tests.

tests/data/lab_results.json holds what the audit returned on each of the lab's 32 scenarios (taken
from `make demo`'s report.json with `bench/report_bench.py --refresh-data reports/demo/report.json`);
a fleet of N hosts cycles through them under new names.
"""

from __future__ import annotations

import json
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data" / "lab_results.json"


def results_of_report(report: dict) -> dict:
    """Each host's audit result back from its report entry (what the audit role registered)."""
    results = {}
    for host in report["hosts"]:
        if host["not_audited"] == "unreachable":
            results[host["host"]] = {"unreachable": True, "msg": host["reason"]}
            continue
        findings = [{k: v for k, v in f.items() if k not in ("waived", "waiver")} for f in host["findings"]]
        probes = host.get("probes") or []
        results[host["host"]] = {"findings": findings, "checks": host["checks"], "facts": {"dnsbl": {"probes": probes}}}
    return results


def fleet(count: int) -> dict:
    """count hosts, each the result of one lab scenario in turn, named mx00000-<scenario> and on."""
    scenarios = json.loads(DATA.read_text())
    names = sorted(scenarios)
    return {f"mx{n:05d}-{names[n % len(names)]}": scenarios[names[n % len(names)]] for n in range(count)}
