# Copyright: maildns.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet report: per-host audit results -> report.json, junit.xml, summary.md, and the gate.

Private to the collection. Runs on the controller (the fleet_report module is delegated to
localhost), in Python 3.8 syntax like the rest of module_utils.

report.json schema "maildns.audit/report" version 1 (docs/REPORT.md describes every field).
"""

from __future__ import annotations

import datetime
import json
import os
import xml.etree.ElementTree as ElementTree

from ansible_collections.maildns.audit.plugins.module_utils.findings import SEVERITIES, Finding

SCHEMA, VERSION = "maildns.audit/report", 1
AREAS = ("resolver", "postfix", "spamassassin", "dnsbl", "identity")
GATE_CHOICES = (*SEVERITIES, "none")


def _rank(severity: str | None) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)


def apply_waivers(findings: list, waivers: list, today: datetime.date) -> list:
    """Mark waived findings (they stay in the report); an expired waiver is a finding of its own."""
    result = []
    for finding in findings:
        finding = dict(finding, waived=False)
        for waiver in waivers:
            if waiver.get("id") != finding["id"]:
                continue
            if _expiry(waiver) >= today:
                finding["waived"] = True
                finding["waiver"] = {"reason": waiver.get("reason", ""), "expires": str(waiver.get("expires"))}
        result.append(finding)
    for waiver in waivers:
        if _expiry(waiver) < today:
            expired = Finding(
                "WAIVER_EXPIRED",
                {
                    "waived_id": waiver.get("id"),
                    "reason": waiver.get("reason", ""),
                    "expired": str(waiver.get("expires")),
                },
            ).as_dict()
            result.append(dict(expired, area="audit", waived=False))
    return result


def _expiry(waiver: dict) -> datetime.date:
    value = waiver.get("expires")
    if isinstance(value, datetime.date):
        return value
    try:
        return datetime.date.fromisoformat(str(value))
    except ValueError:
        return datetime.date.min  # an unreadable date waives nothing, and says so as expired


def host_entry(host: str, result: dict | None, waivers: list, today: datetime.date) -> dict:
    if not result or result.get("unreachable"):
        reason = (result or {}).get("msg") or "no audit result: the host was not reached"
        return {
            "host": host,
            "status": "unreachable",
            "reason": reason,
            "worst_severity": None,
            "findings": apply_waivers([], waivers, today),
            "checks": [],
        }
    if result.get("failed") or "findings" not in result:
        return {
            "host": host,
            "status": "unknown",
            "reason": result.get("msg") or "the audit failed on this host",
            "worst_severity": None,
            "findings": apply_waivers([], waivers, today),
            "checks": [],
        }
    findings = apply_waivers(result["findings"], waivers, today)
    live = [f for f in findings if not f["waived"]]
    unknown = [c for c in result.get("checks", []) if c["status"] == "unknown"]
    status = "findings" if live else "unknown" if unknown else "ok"
    worst = min((f["severity"] for f in live), key=_rank, default=None)
    reason = "; ".join(f"{c['name']}: {c['reason']}" for c in unknown)
    return {
        "host": host,
        "status": status,
        "reason": reason,
        "worst_severity": worst,
        "findings": sorted(findings, key=lambda f: (_rank(f["severity"]), f["id"])),
        "checks": result.get("checks", []),
    }


def build_report(results: dict, waivers: dict, fail_on: str = "high", today: datetime.date | None = None) -> dict:
    today = today or datetime.date.today()
    hosts = [host_entry(host, results.get(host), waivers.get(host) or [], today) for host in sorted(results)]
    by_severity = {severity: 0 for severity in SEVERITIES}
    for host in hosts:
        for finding in host["findings"]:
            if not finding["waived"]:
                by_severity[finding["severity"]] += 1
    gate_hosts = (
        []
        if fail_on == "none"
        else [
            host["host"]
            for host in hosts
            if any(not f["waived"] and _rank(f["severity"]) <= _rank(fail_on) for f in host["findings"])
        ]
    )
    statuses = [host["status"] for host in hosts]
    return {
        "schema": SCHEMA,
        "version": VERSION,
        "generated": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "summary": {
            "hosts": len(hosts),
            "ok": statuses.count("ok"),
            "with_findings": statuses.count("findings"),
            "unknown": statuses.count("unknown"),
            "unreachable": statuses.count("unreachable"),
            "findings_by_severity": by_severity,
            "gate": {"fail_on": fail_on, "failed": bool(gate_hosts), "hosts": gate_hosts},
        },
        "hosts": sorted(hosts, key=lambda h: (_rank(h["worst_severity"]), h["status"] != "unreachable", h["host"])),
    }


def render_junit(report: dict) -> str:
    """One test suite per host, one test case per check area: failure = unwaived findings, error = unknown."""
    suites = ElementTree.Element("testsuites", name="maildns.audit")
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for host in report["hosts"]:
        suite = ElementTree.SubElement(suites, "testsuite", name=host["host"])
        counts = {"tests": 0, "failures": 0, "errors": 0}
        areas = sorted({c["name"].split(":", 1)[0] for c in host["checks"]}) or ["audit"]
        for area in areas:
            case = ElementTree.SubElement(
                suite, "testcase", name=f"{host['host']}: {area}", classname=f"maildns.audit.{area}"
            )
            counts["tests"] += 1
            if host["status"] == "unreachable" or (host["status"] == "unknown" and not host["checks"]):
                ElementTree.SubElement(case, "error", message=host["reason"], type=host["status"])
                counts["errors"] += 1
                continue
            live = [f for f in host["findings"] if not f["waived"] and _area_of(f) == area]
            unknown = [c for c in host["checks"] if c["status"] == "unknown" and c["name"].startswith(area + ":")]
            if live:
                failure = ElementTree.SubElement(
                    case, "failure", type=live[0]["severity"], message=", ".join(f["id"] for f in live)
                )
                failure.text = "\n".join(f"[{f['severity']}] {f['id']}: {f['title']} -- fix: {f['fix']}" for f in live)
                counts["failures"] += 1
            elif unknown:
                ElementTree.SubElement(
                    case, "error", type="unknown", message="; ".join(f"{c['name']}: {c['reason']}" for c in unknown)
                )
                counts["errors"] += 1
        for key, value in counts.items():
            suite.set(key, str(value))
            totals[key] += value
    for key, value in totals.items():
        suites.set(key, str(value))
    return ElementTree.tostring(suites, encoding="unicode") + "\n"


def _area_of(finding: dict) -> str:
    return {"audit": "identity"}.get(finding.get("area", ""), finding.get("area", ""))


def render_markdown(report: dict) -> str:
    summary = report["summary"]
    severities = ", ".join(
        f"{count} {severity}" for severity, count in summary["findings_by_severity"].items() if count
    )
    lines = [
        "# maildns.audit fleet report",
        "",
        f"{summary['hosts']} hosts: {summary['ok']} ok, {summary['with_findings']} with findings, "
        f"{summary['unknown']} unknown, {summary['unreachable']} unreachable. Findings: {severities or 'none'}.",
        f"Gate (fail on {summary['gate']['fail_on']} and worse): "
        + ("**failed** on " + ", ".join(summary["gate"]["hosts"]) if summary["gate"]["failed"] else "passed"),
        "",
        "| host | status | worst | findings |",
        "|---|---|---|---|",
    ]
    for host in report["hosts"]:
        ids = ", ".join(f["id"] + (" (waived)" if f["waived"] else "") for f in host["findings"]) or "-"
        lines.append(f"| {host['host']} | {host['status']} | {host['worst_severity'] or '-'} | {ids} |")
    for host in report["hosts"]:
        if not host["findings"] and not host["reason"]:
            continue
        lines += ["", f"## {host['host']}", ""]
        if host["reason"]:
            lines.append(f"Not known: {host['reason']}")
            lines.append("")
        for finding in host["findings"]:
            waived = (
                f" (waived: {finding['waiver']['reason']}, until {finding['waiver']['expires']})"
                if finding["waived"]
                else ""
            )
            lines.append(f"- **{finding['severity']}** `{finding['id']}`{waived}: {finding['title']}")
            lines.append(f"  - evidence: `{json.dumps(finding['evidence'], sort_keys=True)[:400]}`")
            lines.append(f"  - fix: {finding['fix']}")
    return "\n".join(lines) + "\n"


def write_report(report: dict, directory: str) -> dict:
    """Write the three files; {path: changed}."""
    os.makedirs(directory, exist_ok=True)
    outputs = {
        "report.json": json.dumps(report, indent=1, sort_keys=True) + "\n",
        "junit.xml": render_junit(report),
        "summary.md": render_markdown(report),
    }
    changed = {}
    for name, text in outputs.items():
        path = os.path.join(directory, name)
        try:
            with open(path) as handle:
                old = handle.read()
        except OSError:
            old = None
        if name == "report.json" and old is not None:
            # A report that differs only in its time stamp is the same report.
            old_report = json.loads(old) if old.strip() else {}
            old_report["generated"] = report["generated"]
            old = json.dumps(old_report, indent=1, sort_keys=True) + "\n"
        changed[path] = old != text
        with open(path, "w") as handle:
            handle.write(text)
    return changed
