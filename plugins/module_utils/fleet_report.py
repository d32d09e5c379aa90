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

from ansible_collections.maildns.audit.plugins.module_utils.collection_version import COLLECTION_VERSION
from ansible_collections.maildns.audit.plugins.module_utils.dnsbl_catalog import mask_secrets
from ansible_collections.maildns.audit.plugins.module_utils.evidence_text import evidence_sentence
from ansible_collections.maildns.audit.plugins.module_utils.findings import SEVERITIES, Finding

SCHEMA, VERSION = "maildns.audit/report", 1
AREAS = ("resolver", "postfix", "spamassassin", "dnsbl", "identity")
GATE_CHOICES = (*SEVERITIES, "none")


def parse_generated(value: object) -> datetime.datetime | None:
    """report.json's `generated` (ISO 8601, UTC as build_report writes it) as an aware time; None if unreadable."""
    if not isinstance(value, str):
        return None
    try:
        # Python 3.8's fromisoformat does not read a trailing "Z"
        moment = datetime.datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.timezone.utc)


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


# Why a host was not audited, as the report says it (the `not_audited` field of a host entry).
UNREACHABLE = "unreachable"  # no SSH connection, or it broke (keepalives unanswered): no result
TIMED_OUT = "timed out"  # the audit task ran past its timeout (audit_task_timeout)
AUDIT_FAILED = "audit failed"  # the module failed, or returned no findings list at all
ALL_UNKNOWN = "every check unknown"  # it ran, but not one check could tell anything
NOT_AUDITED_KINDS = (UNREACHABLE, TIMED_OUT, AUDIT_FAILED, ALL_UNKNOWN)


def _not_audited_entry(host: str, status: str, why: str, reason: str, waivers: list, today: datetime.date) -> dict:
    return {
        "host": host,
        "status": status,
        "audited": False,
        "not_audited": why,
        "reason": reason,
        "worst_severity": None,
        "findings": apply_waivers([], waivers, today),
        "checks": [],
        "probes": [],
    }


def host_entry(host: str, result: dict | None, waivers: list, today: datetime.date) -> dict:
    """One host of the report. `audited` is False when nothing trustworthy came back (see NOT_AUDITED_KINDS).

    Not audited: the host was not reached (or the connection broke); the audit task timed out; the
    module failed or returned no findings; or every check it ran is unknown and it found nothing.
    A host with some unknown checks beside ok ones, or with findings, is audited (status unknown or
    findings): what it found counts, and the unknown checks say what it could not see.
    """
    if not result or result.get("unreachable"):
        reason = (result or {}).get("msg") or "no audit result: the host was not reached"
        return _not_audited_entry(host, "unreachable", UNREACHABLE, reason, waivers, today)
    timedout = result.get("timedout")
    if isinstance(timedout, dict) and timedout.get("period"):
        # ansible-core 2.19: a task past its `timeout` fails with timedout.period (seconds) and
        # msg "Task failed: Timed out after N second(s)."
        reason = f"the audit did not finish within {timedout['period']} s (task timeout)"
        return _not_audited_entry(host, "unknown", TIMED_OUT, reason, waivers, today)
    if result.get("failed") or not isinstance(result.get("findings"), list):
        reason = result.get("msg") or "the audit failed on this host"
        return _not_audited_entry(host, "unknown", AUDIT_FAILED, reason, waivers, today)
    findings = apply_waivers(result["findings"], waivers, today)
    live = [f for f in findings if not f["waived"]]
    checks = result.get("checks") or []
    unknown = [c for c in checks if c["status"] == "unknown"]
    status = "findings" if live else "unknown" if unknown else "ok"
    worst = min((f["severity"] for f in live), key=_rank, default=None)
    reason = "; ".join(f"{c['name']}: {c['reason']}" for c in unknown)
    audited = bool(result["findings"]) or any(c["status"] == "ok" for c in checks)
    if not audited and not reason:
        reason = "no check ran on this host"
    return {
        "host": host,
        "status": status,
        "audited": audited,
        "not_audited": None if audited else ALL_UNKNOWN,
        "reason": reason,
        "worst_severity": worst,
        "findings": sorted(findings, key=lambda f: (_rank(f["severity"]), f["id"])),
        "checks": checks,
        "probes": _probe_classifications(result),
    }


def _probe_classifications(result: dict) -> list:
    """Each list and resolver the DNSBL probe asked, and what it found, working pairs included.

    The findings carry only the pairs that fail; monitoring (report_metrics, a dashboard of every
    list's state) wants every pair. Zones come DQS-masked from the probe.
    """
    probes = ((result.get("facts") or {}).get("dnsbl") or {}).get("probes") or []
    return [
        {"zone": probe.get("zone"), "resolver": probe.get("resolver"), "classification": probe.get("classification")}
        for probe in probes
        if isinstance(probe, dict)
    ]


def build_report(
    results: dict,
    waivers: dict,
    fail_on: str = "high",
    today: datetime.date | None = None,
    fail_on_not_audited: bool = True,
) -> dict:
    """The fleet report from each host's audit result (the fleet_report module)."""
    today = today or datetime.date.today()
    hosts = [host_entry(host, results.get(host), waivers.get(host) or [], today) for host in sorted(results)]
    return assemble_report(hosts, fail_on, fail_on_not_audited)


def assemble_report(hosts: list, fail_on: str = "high", fail_on_not_audited: bool = True) -> dict:
    """The report around host entries (from host_entry, or from other reports' `hosts`: report_merge).

    Everything but the entries is derived here: the summary, the gate and the order of hosts, so a
    report merged from slices says what one report of the whole fleet says.
    """
    by_severity = {severity: 0 for severity in SEVERITIES}
    for host in hosts:
        for finding in host["findings"]:
            if not finding["waived"]:
                by_severity[finding["severity"]] += 1
    findings_hosts = (
        []
        if fail_on == "none"
        else sorted(
            host["host"]
            for host in hosts
            if any(not f["waived"] and _rank(f["severity"]) <= _rank(fail_on) for f in host["findings"])
        )
    )
    not_audited = sorted((host for host in hosts if not host["audited"]), key=lambda h: h["host"])
    not_audited_hosts = [host["host"] for host in not_audited] if fail_on_not_audited else []
    gate_hosts = sorted(set(findings_hosts) | set(not_audited_hosts))
    statuses = [host["status"] for host in hosts]
    return {
        "schema": SCHEMA,
        "version": VERSION,
        "collection_version": COLLECTION_VERSION,
        "generated": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "summary": {
            "hosts": len(hosts),
            "ok": statuses.count("ok"),
            "with_findings": statuses.count("findings"),
            "unknown": statuses.count("unknown"),
            "unreachable": statuses.count("unreachable"),
            "audited": len(hosts) - len(not_audited),
            "not_audited": len(not_audited),
            "not_audited_hosts": [
                {"host": host["host"], "why": host["not_audited"], "reason": host["reason"]} for host in not_audited
            ],
            "findings_by_severity": by_severity,
            "gate": {
                "fail_on": fail_on,
                "fail_on_not_audited": fail_on_not_audited,
                "failed": bool(gate_hosts),
                "hosts": gate_hosts,
                "findings": findings_hosts,
                "not_audited": not_audited_hosts,
            },
        },
        "hosts": sorted(hosts, key=lambda h: (_rank(h["worst_severity"]), h["status"] != "unreachable", h["host"])),
    }


def not_audited_line(summary: dict) -> str:
    """'2 of 20 hosts not audited (1 unreachable, 1 timed out)', or 'all 20 hosts audited'."""
    missing = summary["not_audited_hosts"]
    if not missing:
        return f"all {summary['hosts']} hosts audited"
    whys = [entry["why"] for entry in missing]
    kinds = ", ".join(f"{whys.count(kind)} {kind}" for kind in NOT_AUDITED_KINDS if kind in whys)
    noun = "host" if summary["hosts"] == 1 else "hosts"
    return f"{len(missing)} of {summary['hosts']} {noun} not audited ({kinds})"


# The gate line and the playbook's message name this many hosts per reason, then count the rest:
# at fleet size a line that names 9,000 hosts is read by nobody (summary.gate lists them all).
GATE_HOSTS_NAMED = 20


def named_hosts(hosts: list, limit: int = GATE_HOSTS_NAMED) -> str:
    """'a, b, c', or 'a, b and 9,998 more' past `limit` names."""
    if len(hosts) <= limit:
        return ", ".join(hosts)
    return f"{', '.join(hosts[:limit])} and {len(hosts) - limit:,} more"


def gate_parts(gate: dict) -> tuple:
    """(rule, reasons): 'fail on high and worse, and on hosts not audited', ['findings on a', 'not audited: b']."""
    rule = f"fail on {gate['fail_on']} and worse" if gate["fail_on"] != "none" else "findings never fail"
    rule += ", and on hosts not audited" if gate["fail_on_not_audited"] else "; hosts not audited pass"
    reasons = []
    if gate["findings"]:
        reasons.append(f"findings on {named_hosts(gate['findings'])}")
    if gate["not_audited"]:
        reasons.append(f"not audited: {named_hosts(gate['not_audited'])}")
    return rule, reasons


def gate_line(gate: dict) -> str:
    """The gate's verdict in words, the same in summary.md and report.html."""
    rule, reasons = gate_parts(gate)
    return f"Gate failed ({rule}): {'; '.join(reasons)}" if gate["failed"] else f"Gate passed ({rule})"


def gate_message(summary: dict) -> str:
    """Why the gate failed, for the playbook's failing task ('' when it passed)."""
    gate = summary["gate"]
    parts = []
    if gate["findings"]:
        parts.append(f"Findings of severity {gate['fail_on']} or worse on {named_hosts(gate['findings'])}")
    if gate["not_audited"]:
        why = {entry["host"]: entry for entry in summary["not_audited_hosts"]}
        hosts = [f"{host} ({why[host]['why']}: {why[host]['reason']})" for host in gate["not_audited"]]
        parts.append(f"{len(gate['not_audited'])} of {summary['hosts']} hosts not audited: {named_hosts(hosts)}")
    return "; ".join(parts)


def _new_group(finding: dict, **fields: object) -> dict:
    """The start of a group of findings with one ID: its ID, severity, title and fix, and `fields`."""
    group = {
        "id": finding["id"],
        "severity": finding["severity"],
        "title": finding.get("title", ""),
        "fix": finding.get("fix", ""),
    }
    group.update(fields)
    return group


def group_findings(findings: list) -> list:
    """A host's findings by ID, worst first: [{id, severity, title, fix, count, waived, waiver, findings}]."""
    groups: dict = {}
    for finding in findings:
        group = groups.get(finding["id"])
        if group is None:
            group = groups[finding["id"]] = _new_group(finding, waived=True, waiver=finding.get("waiver"), findings=[])
        if _rank(finding["severity"]) < _rank(group["severity"]):
            group["severity"] = finding["severity"]
        group["waived"] = group["waived"] and bool(finding.get("waived"))
        group["findings"].append(finding)
    for group in groups.values():
        group["count"] = len(group["findings"])
    return sorted(groups.values(), key=lambda g: (g["waived"], _rank(g["severity"]), g["id"]))


def _raw_evidence(group: dict, indent: int | None = None) -> str:
    """The group's evidence as JSON, masked once more (masking never reveals anything)."""
    evidence = [finding.get("evidence") for finding in group["findings"]]
    return mask_secrets(json.dumps(evidence, indent=indent, sort_keys=True, default=str))


def render_junit(report: dict) -> str:
    """One test suite per host, one test case per check area: failure = unwaived findings, error = unknown.

    A host that was not audited has only errors, each saying "not audited (<why>): <reason>", and its
    suite says so in its properties (audited, not_audited), as summary.md and report.html do.
    """
    suites = ElementTree.Element("testsuites", name="maildns.audit")
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for host in report["hosts"]:
        suite = ElementTree.SubElement(suites, "testsuite", name=host["host"])
        properties = ElementTree.SubElement(suite, "properties")
        ElementTree.SubElement(properties, "property", name="audited", value=str(host["audited"]).lower())
        if not host["audited"]:
            ElementTree.SubElement(properties, "property", name="not_audited", value=host["not_audited"] or "")
        counts = {"tests": 0, "failures": 0, "errors": 0}
        areas = {c["name"].split(":", 1)[0] for c in host["checks"]}
        areas |= {_area_of(f) for f in host["findings"] if not f["waived"] and host["audited"]}
        areas = sorted(areas) or ["audit"]
        for area in areas:
            case = ElementTree.SubElement(
                suite, "testcase", name=f"{host['host']}: {area}", classname=f"maildns.audit.{area}"
            )
            counts["tests"] += 1
            unknown = [c for c in host["checks"] if c["status"] == "unknown" and c["name"].startswith(area + ":")]
            if not host["audited"]:
                why = "; ".join(f"{c['name']}: {c['reason']}" for c in unknown) or host["reason"]
                ElementTree.SubElement(
                    case, "error", message=f"not audited ({host['not_audited']}): {why}", type=host["status"]
                )
                counts["errors"] += 1
                continue
            live = [f for f in host["findings"] if not f["waived"] and _area_of(f) == area]
            if live:
                groups = group_findings(live)
                failure = ElementTree.SubElement(
                    case,
                    "failure",
                    type=groups[0]["severity"],
                    message=", ".join(_counted(group) for group in groups),
                )
                failure.text = "\n".join(
                    f"[{g['severity']}] {_counted(g)}: {g['title']}\n"
                    + "".join(f"  - {evidence_sentence(f)}\n" for f in g["findings"])
                    + f"  fix: {g['fix']}"
                    for g in groups
                )
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


def _counted(group: dict) -> str:
    """'PTR_MISSING' for one finding, 'PTR_MISSING x2' for two."""
    return group["id"] + (f" x{group['count']}" if group["count"] > 1 else "")


def _area_of(finding: dict) -> str:
    return {"audit": "identity"}.get(finding.get("area", ""), finding.get("area", ""))


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#])")


def _md(text: object) -> str:
    """Text for Markdown: characters that would format (or open HTML) escaped, on one line."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def _md_code_block(text: str, language: str = "json") -> str:
    """A fenced block that no run of backticks in the text can close; '</' cannot end the <details>."""
    fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", text)), default=0))
    text = text.replace("</", "<\\/")  # JSON's own escape for '/': the same value
    return f"{fence}{language}\n{text}\n{fence}"


def render_markdown(report: dict) -> str:
    """summary.md. Its first line says whether every host was audited; then the fleet, the gate, each host."""
    summary = report["summary"]
    counts = summary["findings_by_severity"]
    severities = ", ".join(f"{counts[severity]} {severity}" for severity in SEVERITIES if counts.get(severity))
    gate = summary["gate"]
    rule, reasons = gate_parts(gate)
    verdict = (
        f"**Gate failed** ({_md(rule)}): {_md('; '.join(reasons))}" if gate["failed"] else f"Gate passed ({_md(rule)})"
    )
    lines = [
        f"# maildns.audit fleet report: {not_audited_line(summary)}",
        "",
        f"{summary['hosts']} hosts: {summary['ok']} ok, {summary['with_findings']} with findings, "
        f"{summary['unknown']} unknown, {summary['unreachable']} unreachable. Findings: {severities or 'none'}.",
        verdict,
    ]
    if summary["not_audited_hosts"]:
        lines += ["", "Not audited:", ""]
        lines += [
            f"- {_md(entry['host'])} ({_md(entry['why'])}): {_md(entry['reason'])}"
            for entry in summary["not_audited_hosts"]
        ]
    lines += ["", "| host | status | worst | findings |", "|---|---|---|---|"]
    for host in report["hosts"]:
        status = host["status"] + ("" if host["audited"] else ", not audited")
        ids = ", ".join(
            f"`{g['id']}` x{g['count']}" + (" (waived)" if g["waived"] else "")
            for g in group_findings(host["findings"])
        )
        lines.append(f"| {_md(host['host'])} | {status} | {host['worst_severity'] or '-'} | {ids or '-'} |")
    for host in report["hosts"]:
        if not host["findings"] and not host["reason"]:
            continue
        lines += ["", f"## {_md(host['host'])}", ""]
        if not host["audited"]:
            lines += [f"Not audited ({_md(host['not_audited'])}): {_md(host['reason'])}", ""]
        elif host["reason"]:
            lines += [f"Not known: {_md(host['reason'])}", ""]
        for group in group_findings(host["findings"]):
            waived = (
                f" (waived: {_md(group['waiver']['reason'])}, until {_md(group['waiver']['expires'])})"
                if group["waived"] and group.get("waiver")
                else ""
            )
            lines += [
                f"**{group['severity']}** `{group['id']}` x{group['count']}{waived}: {_md(group['title'])}",
                "",
                *(f"- {_md(evidence_sentence(finding))}" for finding in group["findings"]),
                "",
                f"Fix: {_md(group['fix'])}",
                "",
                f"<details><summary>Raw evidence of {group['id']}</summary>",
                "",
                _md_code_block(_raw_evidence(group, indent=1)),
                "",
                "</details>",
                "",
            ]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).rstrip("\n") + "\n"


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
details.raw{box-shadow:none;background:#f8f9fa;margin:6px 0;padding:4px 10px}details.raw summary{font-weight:400}
details.hosts{box-shadow:none;background:none;margin:0;padding:0}details.page>summary{font-size:16px}
ul.evidence{margin:6px 0 6px 18px;padding:0}.count{font-size:13px}p.not-audited{color:#8b1c13;font-weight:600}
"""


def _badge(text: str | None, kind: str | None = None) -> str:
    return f'<span class="sev {html.escape(kind or text or "ok")}">{html.escape(text or "-")}</span>'


# report.html at fleet size (issue 13, measured in bench/report_bench.py and docs/BENCHMARKS.md):
# hosts come in pages of HTML_PAGE_SIZE, each a <details> that only the first page opens, so a
# browser lays out one page however large the fleet; the findings across the fleet come first,
# grouped by ID, each naming at most HTML_HOSTS_PER_ID hosts (report.json names them all).
HTML_PAGE_SIZE = 100
HTML_HOSTS_PER_ID = 50

# A link to #host-x (from the fleet's findings, the not-audited list, or a bookmark) opens the
# page and the host that hold it: browsers do not open a closed <details> for a fragment.
_REVEAL_JS = """
function reveal(){var id=decodeURIComponent(location.hash.slice(1));var t=id&&document.getElementById(id);
if(!t)return;for(var e=t;e;e=e.parentElement){if(e.tagName==='DETAILS')e.open=true;}t.scrollIntoView();}
addEventListener('hashchange',reveal);addEventListener('DOMContentLoaded',reveal);
"""


def fleet_findings(hosts: list) -> list:
    """Unwaived findings across the fleet by ID, worst first, then most hosts: [{id, severity, ..., hosts}]."""
    groups: dict = {}
    for host in hosts:
        for finding in host["findings"]:
            if finding.get("waived"):
                continue
            group = groups.get(finding["id"])
            if group is None:  # a new group only for an ID not seen yet: this runs for every finding of the fleet
                group = groups[finding["id"]] = _new_group(finding, count=0, hosts=[])
            if _rank(finding["severity"]) < _rank(group["severity"]):
                group["severity"] = finding["severity"]
            group["count"] += 1
            if not group["hosts"] or group["hosts"][-1] != host["host"]:
                group["hosts"].append(host["host"])
    return sorted(groups.values(), key=lambda g: (_rank(g["severity"]), -len(g["hosts"]), g["id"]))


def _host_link(host: str) -> str:
    return f"<a href='#host-{html.escape(host)}'>{html.escape(host)}</a>"


def _html_fleet_findings(hosts: list) -> list:
    e = html.escape
    groups = fleet_findings(hosts)
    if not groups:
        return ["<section id='fleet-findings'><h2>Findings across the fleet</h2><p>No findings.</p></section>"]
    parts = [
        "<section id='fleet-findings'><h2>Findings across the fleet</h2>",
        "<table><tr><th>severity</th><th>finding</th><th>hosts</th><th>occurrences</th></tr>",
    ]
    for group in groups:
        named = group["hosts"][:HTML_HOSTS_PER_ID]
        more = len(group["hosts"]) - len(named)
        links = ", ".join(_host_link(host) for host in named)
        if more:
            links += f" and {more} more (report.json lists every host)"
        parts.append(
            f"<tr data-id='{e(group['id'])}'><td>{_badge(group['severity'])}</td>"
            f"<td><code>{e(group['id'])}</code> {e(group['title'])}<div><b>Fix:</b> {e(group['fix'])}</div></td>"
            f"<td><details class='hosts'><summary>{len(group['hosts'])}</summary>{links}</details></td>"
            f"<td>{group['count']}</td></tr>"
        )
    parts.append("</table></section>")
    return parts


def _html_host(host: dict) -> list:
    e = html.escape
    opened = " open" if host["worst_severity"] in ("critical", "high") or not host["audited"] else ""
    parts = [
        f"<details class='host' id='host-{e(host['host'])}'{opened}><summary>{e(host['host'])} "
        f"{_badge(host['status'])} {_badge(host['worst_severity'])}</summary>"
    ]
    if not host["audited"]:
        parts.append(f"<p class='not-audited'>Not audited ({e(host['not_audited'])}): {e(host['reason'])}</p>")
    elif host["reason"]:
        parts.append(f"<p>Not known: {e(host['reason'])}</p>")
    for group in group_findings(host["findings"]):
        waiver = group.get("waiver") or {}
        waived = (
            f" <em>waived until {e(str(waiver.get('expires', '')))}: {e(str(waiver.get('reason', '')))}</em>"
            if group["waived"]
            else ""
        )
        sentences = "".join(f"<li>{e(evidence_sentence(finding))}</li>" for finding in group["findings"])
        parts.append(
            f"<div class='finding{' waived' if group['waived'] else ''}' data-id='{e(group['id'])}'>"
            f"{_badge(group['severity'])} <code>{e(group['id'])}</code> <b class='count'>x{group['count']}</b> "
            f"{e(group['title'])}{waived}<ul class='evidence'>{sentences}</ul>"
            f"<div><b>Fix:</b> {e(group['fix'])}</div>"
            f"<details class='raw'><summary>Raw evidence</summary><pre>{e(_raw_evidence(group, indent=1))}</pre>"
            "</details></div>"
        )
    if not host["findings"] and not host["reason"]:
        parts.append("<p>No findings.</p>")
    parts.append("</details>")
    return parts


def _html_page(hosts: list, first: int, total: int, opened: bool) -> list:
    """One page of hosts: its table (worst severity first, as the report orders them), then each host."""
    e = html.escape
    worst = [host["worst_severity"] for host in hosts]
    counts = " ".join(f"{_badge(severity)} {worst.count(severity)}" for severity in SEVERITIES if severity in worst)
    number = first // HTML_PAGE_SIZE + 1
    parts = [
        f"<details class='page' id='page-{number}'{' open' if opened else ''}>"
        f"<summary>Hosts {first + 1} to {first + len(hosts)} of {total} {counts}</summary>",
        "<table><tr><th>host</th><th>status</th><th>worst</th><th>findings</th></tr>",
    ]
    for host in hosts:
        ids = ", ".join(_counted(g) for g in group_findings(host["findings"]) if not g["waived"]) or "-"
        status = _badge(host["status"]) + ("" if host["audited"] else " " + _badge("not audited", "unreachable"))
        parts.append(
            f"<tr><td>{_host_link(host['host'])}</td><td>{status}</td><td>{_badge(host['worst_severity'])}</td>"
            f"<td>{e(ids)}</td></tr>"
        )
    parts.append("</table>")
    for host in hosts:
        parts += _html_host(host)
    parts.append("</details>")
    return parts


def render_html(report: dict) -> str:
    """report.html: one file, no external assets, readable at a glance at any fleet size.

    The summary and the fleet's findings grouped by ID come first; then the hosts, worst first, in
    pages of HTML_PAGE_SIZE (only the first open); each host's findings grouped by ID with a
    sentence per occurrence, and the raw evidence one click away.
    """
    e = html.escape
    summary = report["summary"]
    gate = summary["gate"]
    cards = [
        ("hosts", summary["hosts"]),
        ("not audited", summary["not_audited"]),
        ("ok", summary["ok"]),
        ("with findings", summary["with_findings"]),
        ("unknown", summary["unknown"]),
        ("unreachable", summary["unreachable"]),
    ]
    cards += [(severity, summary["findings_by_severity"].get(severity, 0)) for severity in SEVERITIES]
    audited_class = "failed" if summary["not_audited"] else "passed"
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>maildns.audit fleet report</title><style>{_CSS}</style><script>{_REVEAL_JS}</script></head><body>",
        f"<header><h1>maildns.audit fleet report</h1><div>generated {e(report['generated'])}</div></header><main>",
        "<section id='fleet-summary'><h2>Fleet summary</h2>",
        f"<div class='gate {audited_class}' id='audited'>{e(not_audited_line(summary).capitalize())}</div>",
        "<div class='cards'>",
        *(f"<div class='card'><b>{count}</b>{e(label)}</div>" for label, count in cards),
        "</div>",
        f"<div class='gate {'failed' if gate['failed'] else 'passed'}' id='gate'>{e(gate_line(gate))}</div>",
    ]
    if summary["not_audited_hosts"]:
        parts.append("<h3>Not audited</h3><ul id='not-audited'>")
        for entry in summary["not_audited_hosts"]:
            parts.append(f"<li>{_host_link(entry['host'])} ({e(entry['why'])}): {e(entry['reason'])}</li>")
        parts.append("</ul>")
    parts.append("</section>")
    hosts = report["hosts"]
    parts += _html_fleet_findings(hosts)
    pages = (len(hosts) + HTML_PAGE_SIZE - 1) // HTML_PAGE_SIZE
    parts.append(
        f"<section id='hosts'><h2>Hosts by worst severity</h2><p>{len(hosts)} hosts"
        + (f" in {pages} pages of {HTML_PAGE_SIZE}" if pages > 1 else "")
        + ".</p>"
    )
    for first in range(0, len(hosts), HTML_PAGE_SIZE):
        parts += _html_page(hosts[first : first + HTML_PAGE_SIZE], first, len(hosts), opened=first == 0)
    parts.append("</section></main></body></html>")
    return "\n".join(parts) + "\n"


def render_json(report: dict) -> str:
    return json.dumps(report, indent=1, sort_keys=True) + "\n"


# The report's files and what writes each (write_report; bench/report_bench.py times each one).
RENDERERS = {
    "report.json": render_json,
    "junit.xml": render_junit,
    "summary.md": render_markdown,
    "report.html": render_html,
}


def write_report(report: dict, directory: str) -> dict:
    """Write the report files; {path: changed}."""
    os.makedirs(directory, exist_ok=True)
    outputs = {name: render(report) for name, render in RENDERERS.items()}
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
            old = render_json(old_report)
        elif name == "report.html" and old is not None:
            old = re.sub(
                r"<div>generated [^<]*</div>", f"<div>generated {html.escape(report['generated'])}</div>", old, count=1
            )
        changed[path] = old != text
        with open(path, "w") as handle:
            handle.write(text)
    return changed
