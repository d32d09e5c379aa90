# Copyright: maildns.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet report: per-host audit results -> report.json, junit.xml, summary.md, and the gate.

Private to the collection. Runs on the controller (the fleet_report module is delegated to
localhost), in Python 3.8 syntax like the rest of module_utils.

report.json schema "maildns.audit/report" version 1 (docs/REPORT.md describes every field).
"""

from __future__ import annotations

import datetime
import html
import json
import os
import re
from xml.etree import ElementTree

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
    counts = summary["findings_by_severity"]
    severities = ", ".join(f"{counts[severity]} {severity}" for severity in SEVERITIES if counts.get(severity))
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


_CSS = """
body{font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d2330;background:#f5f6f8}
header{background:#1d2330;color:#fff;padding:18px 28px}header h1{margin:0;font-size:22px}
main{padding:20px 28px;max-width:1200px}.cards{display:flex;gap:12px;flex-wrap:wrap;margin:8px 0 18px}
.card{background:#fff;border-radius:8px;padding:12px 16px;min-width:110px;box-shadow:0 1px 2px #0002}
.card b{display:block;font-size:26px}.gate{padding:10px 14px;border-radius:8px;margin-bottom:18px;font-weight:600}
.gate.failed{background:#fde2e1;color:#8b1c13}.gate.passed{background:#dcf5e3;color:#14532d}
table{border-collapse:collapse;width:100%;background:#fff;box-shadow:0 1px 2px #0002}
th,td{text-align:left;padding:7px 10px;border-bottom:1px solid #e5e7eb;vertical-align:top}
.sev{display:inline-block;border-radius:4px;padding:1px 7px;font-size:12px;font-weight:700;color:#fff}
.critical{background:#9b1c1c}.high{background:#d9480f}.medium{background:#b7791f}.low{background:#2b6cb0}
.info{background:#4a5568}.ok{background:#2f855a}.unknown,.unreachable{background:#6b46c1}.findings{background:#444}
details{background:#fff;margin:10px 0;border-radius:8px;box-shadow:0 1px 2px #0002;padding:8px 14px}
summary{cursor:pointer;font-weight:600}.finding{border-top:1px solid #eee;padding:8px 0}
code,pre{font:12px/1.4 ui-monospace,Menlo,Consolas,monospace;background:#f1f3f5;border-radius:4px}
pre{padding:8px;white-space:pre-wrap;word-break:break-all}.waived{opacity:.6}
"""


def _badge(text: str | None, kind: str | None = None) -> str:
    return f'<span class="sev {html.escape(kind or text or "ok")}">{html.escape(text or "-")}</span>'


def render_html(report: dict) -> str:
    """report.html: one file, no external assets, readable at a glance."""
    e = html.escape
    summary = report["summary"]
    gate = summary["gate"]
    cards = [
        ("hosts", summary["hosts"]),
        ("ok", summary["ok"]),
        ("with findings", summary["with_findings"]),
        ("unknown", summary["unknown"]),
        ("unreachable", summary["unreachable"]),
    ]
    cards += [(severity, summary["findings_by_severity"].get(severity, 0)) for severity in SEVERITIES]
    gate_text = (
        f"Gate failed: findings of severity {gate['fail_on']} or worse on " + ", ".join(gate["hosts"])
        if gate["failed"]
        else f"Gate passed (fails on {gate['fail_on']} and worse)"
    )
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>maildns.audit fleet report</title><style>{_CSS}</style></head><body>",
        f"<header><h1>maildns.audit fleet report</h1><div>generated {e(report['generated'])}</div></header><main>",
        "<section id='fleet-summary'><h2>Fleet summary</h2><div class='cards'>",
        *(f"<div class='card'><b>{count}</b>{e(label)}</div>" for label, count in cards),
        "</div>",
        f"<div class='gate {'failed' if gate['failed'] else 'passed'}'>{e(gate_text)}</div></section>",
        "<section><h2>Hosts by worst severity</h2><table><tr><th>host</th><th>status</th><th>worst</th>"
        "<th>findings</th></tr>",
    ]
    for host in report["hosts"]:
        ids = ", ".join(sorted({f["id"] for f in host["findings"] if not f["waived"]})) or "-"
        parts.append(
            f"<tr><td><a href='#host-{e(host['host'])}'>{e(host['host'])}</a></td>"
            f"<td>{_badge(host['status'])}</td><td>{_badge(host['worst_severity'])}</td>"
            f"<td>{e(ids)}</td></tr>"
        )
    parts.append("</table></section><section><h2>Findings</h2>")
    for host in report["hosts"]:
        opened = " open" if host["worst_severity"] in ("critical", "high") else ""
        parts.append(
            f"<details id='host-{e(host['host'])}'{opened}><summary>{e(host['host'])} "
            f"{_badge(host['status'])} {_badge(host['worst_severity'])}</summary>"
        )
        if host["reason"]:
            parts.append(f"<p>Not known: {e(host['reason'])}</p>")
        for finding in host["findings"]:
            waived = (
                f" <em>waived until {e(finding['waiver']['expires'])}: {e(finding['waiver']['reason'])}</em>"
                if finding["waived"]
                else ""
            )
            parts.append(
                f"<div class='finding{' waived' if finding['waived'] else ''}'>{_badge(finding['severity'])} "
                f"<code>{e(finding['id'])}</code> {e(finding['title'])}{waived}"
                f"<pre>{e(json.dumps(finding['evidence'], indent=1, sort_keys=True))}</pre>"
                f"<div><b>Fix:</b> {e(finding['fix'])}</div></div>"
            )
        if not host["findings"] and not host["reason"]:
            parts.append("<p>No findings.</p>")
        parts.append("</details>")
    parts.append("</section></main></body></html>")
    return "\n".join(parts) + "\n"


def write_report(report: dict, directory: str) -> dict:
    """Write the report files; {path: changed}."""
    os.makedirs(directory, exist_ok=True)
    outputs = {
        "report.json": json.dumps(report, indent=1, sort_keys=True) + "\n",
        "junit.xml": render_junit(report),
        "summary.md": render_markdown(report),
        "report.html": render_html(report),
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
        elif name == "report.html" and old is not None:
            old = re.sub(
                r"<div>generated [^<]*</div>", f"<div>generated {html.escape(report['generated'])}</div>", old, count=1
            )
        changed[path] = old != text
        with open(path, "w") as handle:
            handle.write(text)
    return changed
