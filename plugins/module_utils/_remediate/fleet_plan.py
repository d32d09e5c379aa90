# Copyright: maildns.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The remediation plan: per host, which roles its audit asks for, and the fleet-wide preview.

Private to the collection. Runs on the controller (a filter and a module of remediate.yml), but
keeps Python 3.8 syntax like the rest of module_utils.

`host_plan(audit_result, ...)` reads one host's audit findings and the finding catalog's remedies
(`findings.REMEDIES`, the one place that says who fixes what): which roles run, which findings they
fix, which they cannot fix until a variable is set, and the findings no role fixes, with the DNS
record to create where one is the fix. `fleet_plan(hosts)` joins every host's plan with what the
roles did or would do (their module results) into report data; `render_markdown` writes plan.md.
"""

from __future__ import annotations

from ansible_collections.maildns.audit.plugins.module_utils.dnsbl_catalog import mask_secrets
from ansible_collections.maildns.audit.plugins.module_utils.findings import (
    CATALOG,
    DNSBL_POLICY,
    LOCAL_RESOLVER,
    SEVERITIES,
    remedy_of,
)

ROLES = (LOCAL_RESOLVER, DNSBL_POLICY)  # the order they run in: the path first, then the policy
PLAN_SCHEMA = "maildns.audit/remediation-plan"


def _short(role: str) -> str:
    return role.split(".")[-1]


def record_to_create(finding_id: str, evidence: dict, helo: str = "") -> str:
    """The DNS record whose absence is the finding, in zone-file form, where one is the fix."""
    ip = evidence.get("ip", "")
    name = helo or "<the host's mail name>"
    rtype = "AAAA" if ":" in ip else "A"
    if finding_id == "PTR_MISSING":
        return "%s. PTR %s." % (evidence.get("query", ip), name.rstrip("."))
    if finding_id == "PTR_NOT_FORWARD_CONFIRMED":
        ptr = (evidence.get("ptr") or [name])[0]
        return "%s. %s %s" % (ptr.rstrip("."), rtype, ip)
    if finding_id == "HELO_NAME_DOES_NOT_RESOLVE":
        return "%s. %s %s" % (evidence.get("helo", name).rstrip("."), rtype, ip)
    if finding_id == "MX_MISSING":
        return "%s. MX 10 %s." % (evidence.get("domain", ""), name.rstrip("."))
    if finding_id == "MX_IS_IP_LITERAL":
        return "%s. MX 10 %s. (and %s. A %s)" % (evidence.get("domain", ""), name.rstrip("."), name, evidence.get("mx"))
    if finding_id == "MX_TARGET_DOES_NOT_RESOLVE":
        return "%s. A <its address>" % evidence.get("mx", "").rstrip(".")
    if finding_id == "MX_IS_CNAME":
        return "%s. MX 10 %s." % (evidence.get("domain", ""), str(evidence.get("cname", ["<the canonical name>"])[0]))
    return ""


def host_plan(
    audit_result: dict | None,
    variables: dict | None = None,
    force: list | None = None,
    exclude: list | None = None,
) -> dict:
    """Which roles this host's findings ask for, and why; `variables` says which role variables are set."""
    variables = variables or {}
    force = [_full(role) for role in force or []]
    exclude = [_full(role) for role in exclude or []]
    result = audit_result or {}
    plan: dict = {"roles": [], "fixes": [], "needs": [], "outside": [], "skipped": ""}
    not_audited = result.get("audited") is False  # a report.json entry of a host that was not audited
    if not result or not_audited or result.get("failed") or result.get("unreachable") or "findings" not in result:
        plan["skipped"] = "not audited: %s" % (result.get("msg") or result.get("reason") or "no audit result")
        plan["roles"] = [role for role in ROLES if role in force and role not in exclude]
        return plan
    identity = (result.get("facts") or {}).get("identity") or {}
    helo = (identity.get("helo") or {}).get("name", "")
    wanted = set()
    seen = set()
    for finding in result["findings"]:
        if finding.get("waived"):
            continue
        finding_id = finding["id"]
        evidence = finding.get("evidence") or {}
        remedy = remedy_of(finding_id, evidence)
        entry = {
            "id": finding_id,
            "severity": finding.get("severity") or CATALOG[finding_id].severity,
            "title": CATALOG[finding_id].title,
        }
        if not remedy.role:
            key = (finding_id, mask_secrets(str(sorted(evidence.items()))))
            if key in seen:
                continue
            seen.add(key)
            entry["who"] = remedy.outside
            record = record_to_create(finding_id, evidence, helo)
            if record:
                entry["record"] = record
            plan["outside"].append(entry)
            continue
        missing = [name for name in remedy.needs if not variables.get(name)]
        if remedy.role in exclude:
            entry.update(role=remedy.role, reason="role excluded (maildns_remediate_exclude)")
            plan["needs"].append(entry)
            continue
        if missing:
            entry.update(role=remedy.role, reason="set %s" % ", ".join(missing))
            plan["needs"].append(entry)
            continue
        if any(f["id"] == finding_id for f in plan["fixes"]):
            continue
        entry["role"] = remedy.role
        plan["fixes"].append(entry)
        wanted.add(remedy.role)
    wanted.update(role for role in force)
    plan["roles"] = [role for role in ROLES if role in wanted and role not in exclude]
    return plan


def _full(role: str) -> str:
    return role if "." in role else "maildns.audit." + role


def fixed_ids(plan: dict) -> list:
    """The finding IDs the plan's roles are meant to make go away (the re-audit checks them)."""
    return sorted({fix["id"] for fix in plan.get("fixes", []) if fix["role"] in plan.get("roles", [])})


def still_there(plan: dict, audit_result: dict | None) -> list:
    """Of the findings meant to be fixed, those the re-audit still reports."""
    after = {f["id"] for f in (audit_result or {}).get("findings", []) if not f.get("waived")}
    return [finding_id for finding_id in fixed_ids(plan) if finding_id in after]


# -- the fleet-wide preview ---------------------------------------------------------------------------


def _role_outcome(result: dict | None) -> dict:
    result = result or {}
    if not result or result.get("skipped"):
        return {}
    outcome = {
        "changed": bool(result.get("changed")),
        "files": [dict(f, reason=mask_secrets(f.get("reason", ""))) for f in result.get("files", [])],
        "actions": list(result.get("actions", [])),
    }
    if result.get("failed"):
        outcome["failed"] = mask_secrets(str(result.get("msg", "failed")))
    return outcome


def fleet_plan(hosts: dict, check_mode: bool) -> dict:
    """Report data: every host with its plan and what each role did (or, in check mode, would do)."""
    entries = []
    for name in sorted(hosts):
        host = hosts[name] or {}
        plan = host.get("plan") or host_plan(None)
        roles = {}
        for role in plan.get("roles", []):
            outcome = _role_outcome((host.get("results") or {}).get(_short(role)))
            if outcome:
                roles[role] = outcome
        entry = {
            "host": name,
            "plan": plan,
            "roles": roles,
            "untouched": not plan.get("roles"),
            "why_untouched": plan.get("skipped") or ("" if plan.get("roles") else "no finding a role fixes"),
        }
        if host.get("still_there"):
            entry["still_there"] = host["still_there"]
        entries.append(entry)
    files = sum(len(outcome.get("files", [])) for e in entries for outcome in e["roles"].values())
    return {
        "schema": PLAN_SCHEMA,
        "version": 1,
        "check_mode": check_mode,
        "summary": {
            "hosts": len(entries),
            "to_change": sum(1 for e in entries if any(o.get("changed") for o in e["roles"].values())),
            "untouched": sum(1 for e in entries if e["untouched"]),
            "failed": sum(1 for e in entries if any(o.get("failed") for o in e["roles"].values())),
            "files": files,
        },
        "hosts": entries,
    }


def _md(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(report: dict) -> str:
    summary = report["summary"]
    verb = "would change" if report["check_mode"] else "changed"
    lines = [
        "# Remediation plan" if report["check_mode"] else "# Remediation",
        "",
        "%d hosts: %d %s, %d untouched, %d failed; %d files %s."
        % (
            summary["hosts"],
            summary["to_change"],
            verb,
            summary["untouched"],
            summary["failed"],
            summary["files"],
            verb,
        ),
        "",
    ]
    if report["check_mode"]:
        lines += ["Preview of `remediate.yml --check --diff`: nothing on any host was changed.", ""]
    lines += ["| host | roles | fixes | files | left to others |", "|---|---|---|---|---|"]
    for entry in report["hosts"]:
        plan = entry["plan"]
        roles = ", ".join(_short(role) for role in plan.get("roles", [])) or "-"
        if any(o.get("failed") for o in entry["roles"].values()):
            roles += " (failed)"
        fixes = len({fix["id"] for fix in plan.get("fixes", [])})
        files = sum(len(o.get("files", [])) for o in entry["roles"].values())
        others = len(plan.get("outside", [])) + len(plan.get("needs", []))
        lines.append("| %s | %s | %d | %d | %d |" % (entry["host"], roles, fixes, files, others))
    lines.append("")
    order = {severity: index for index, severity in enumerate(SEVERITIES)}
    for entry in report["hosts"]:
        plan = entry["plan"]
        lines += ["## %s" % entry["host"], ""]
        if entry["untouched"]:
            lines += ["Not touched: %s." % entry["why_untouched"], ""]
        if plan.get("fixes"):
            lines += ["| finding | severity | fixed by |", "|---|---|---|"]
            for fix in sorted(plan["fixes"], key=lambda f: (order.get(f["severity"], 9), f["id"])):
                lines.append("| `%s` | %s | `%s` |" % (fix["id"], fix["severity"], fix["role"]))
            lines.append("")
        for role, outcome in entry["roles"].items():
            if outcome.get("failed"):
                lines += ["`%s` failed: %s" % (role, _md(outcome["failed"])), ""]
            if outcome.get("files"):
                lines += ["`%s` %s:" % (role, verb), ""]
                lines += ["- `%s` (%s): %s" % (f["path"], f["action"], _md(f["reason"])) for f in outcome["files"]]
                lines.append("")
            if outcome.get("actions"):
                lines += ["Then: %s." % ", ".join(outcome["actions"]), ""]
        if plan.get("needs"):
            lines += ["Not fixed by this run:", ""]
            lines += ["- `%s` by `%s`: %s" % (n["id"], n["role"], n["reason"]) for n in plan["needs"]]
            lines.append("")
        if plan.get("outside"):
            lines += ["No role fixes these:", ""]
            for item in plan["outside"]:
                record = " Record: `%s`." % item["record"] if item.get("record") else ""
                lines.append("- `%s` (%s): %s.%s" % (item["id"], item["severity"], _md(item["who"]), record))
            lines.append("")
        if entry.get("still_there"):
            lines += ["Still reported after the change: %s." % ", ".join(entry["still_there"]), ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def write_plan(report: dict, directory: str) -> dict:
    """plan.json and plan.md into `directory` (beside the audit report); {path: changed}."""
    import json
    import os

    os.makedirs(directory, exist_ok=True)
    outputs = {
        "plan.json": mask_secrets(json.dumps(report, indent=1, sort_keys=True)) + "\n",
        "plan.md": mask_secrets(render_markdown(report)),
    }
    changed = {}
    for name, text in outputs.items():
        path = os.path.join(directory, name)
        try:
            with open(path) as handle:
                changed[path] = handle.read() != text
        except OSError:
            changed[path] = True
        with open(path, "w") as handle:
            handle.write(text)
    return changed
