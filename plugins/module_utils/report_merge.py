# Copyright: maildns.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One fleet report from the reports of N slices of one audit (AWX job slicing): the report_merge module.

Private to the collection. Runs on the controller, in Python 3.8 syntax like the rest of module_utils.

`merge_reports(sources, ...)` reads N report.json files (or report dicts), checks that each is a
maildns.audit report of schema version 1, that they were written by one collection version and
that no host is in two of them, then hands the host entries to fleet_report.assemble_report: the
summary, the gate and the order of hosts are derived from the entries alone, so the merged report
says what one unsliced run of the same fleet says. It adds `slices`, where each entry came from.

Every refusal is a MergeError whose message names the file (and the other file, the host, the
versions) so that the one who reads it in an AWX job log knows which slice to look at.
"""

from __future__ import annotations

import json
import os

from ansible_collections.maildns.audit.plugins.module_utils.collection_version import COLLECTION_VERSION
from ansible_collections.maildns.audit.plugins.module_utils.findings import SEVERITIES
from ansible_collections.maildns.audit.plugins.module_utils.fleet_report import (
    GATE_CHOICES,
    SCHEMA,
    VERSION,
    assemble_report,
)

HOST_KEYS = ("host", "status", "audited", "not_audited", "reason", "worst_severity", "findings", "checks")
STATUSES = ("ok", "findings", "unknown", "unreachable")


class MergeError(Exception):
    """A slice that cannot be merged, with a message that names the file(s)."""


def load_report(source: object, name: str = "") -> tuple:
    """(name, report) from a path to a report.json or from a report dict (named `name`, or 'report N')."""
    if isinstance(source, dict):
        return name or "a report given as data", source
    path = os.fspath(source)  # type: ignore[call-overload]
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as error:
        raise MergeError(f"cannot read the slice report {path}: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise MergeError(f"{path} is not a maildns.audit report: not UTF-8 text") from None
    try:
        report = json.loads(text)
    except ValueError as error:
        raise MergeError(f"{path} is not a maildns.audit report: not JSON ({error})") from None
    return path, report


def check_report(name: str, report: object) -> None:
    """Refuse what is not a maildns.audit report of this schema version, naming the file and the field."""
    if not isinstance(report, dict):
        raise MergeError(f"{name} is not a maildns.audit report: its JSON is a {type(report).__name__}, not an object")
    if report.get("schema") != SCHEMA:
        raise MergeError(f"{name} is not a maildns.audit report: schema is {report.get('schema')!r}, not {SCHEMA!r}")
    if report.get("version") != VERSION:
        raise MergeError(
            f"{name} is a maildns.audit report of schema version {report.get('version')!r}; "
            f"this merge reads version {VERSION} only"
        )
    if not isinstance(report.get("collection_version"), str) or not report["collection_version"]:
        raise MergeError(
            f"{name} has no collection_version: it was written by a maildns.audit older than the merge "
            "(audit the slice again with the collection that merges it)"
        )
    gate = (report.get("summary") or {}).get("gate") if isinstance(report.get("summary"), dict) else None
    if not isinstance(gate, dict) or gate.get("fail_on") not in GATE_CHOICES:
        raise MergeError(f"{name} is not a complete maildns.audit report: summary.gate.fail_on is missing or unknown")
    if not isinstance(gate.get("fail_on_not_audited"), bool):
        raise MergeError(f"{name} is not a complete maildns.audit report: summary.gate.fail_on_not_audited is missing")
    hosts = report.get("hosts")
    if not isinstance(hosts, list):
        raise MergeError(f"{name} is not a complete maildns.audit report: it has no hosts list")
    for index, host in enumerate(hosts):
        label = f"{name} hosts[{index}]"
        if not isinstance(host, dict):
            raise MergeError(f"{label} is not a host entry (a {type(host).__name__})")
        missing = [key for key in HOST_KEYS if key not in host]
        if missing:
            raise MergeError(f"{label} ({host.get('host', '?')}) lacks {', '.join(missing)}")
        if not isinstance(host["host"], str) or not host["host"]:
            raise MergeError(f"{label} has no host name")
        if host["status"] not in STATUSES or not isinstance(host["audited"], bool):
            raise MergeError(f"{label} ({host['host']}) has status {host['status']!r}, audited {host['audited']!r}")
        if not isinstance(host["findings"], list) or not isinstance(host["checks"], list):
            raise MergeError(f"{label} ({host['host']}) has findings or checks that are not lists")
        for finding in host["findings"]:
            if (
                not isinstance(finding, dict)
                or finding.get("severity") not in SEVERITIES
                or not isinstance(finding.get("waived"), bool)
                or not finding.get("id")
            ):
                raise MergeError(f"{label} ({host['host']}) has a finding without id, severity or waived: {finding!r}")


def merge_reports(
    sources: list,
    fail_on: str | None = None,
    fail_on_not_audited: bool | None = None,
    allow_mixed_versions: bool = False,
) -> tuple:
    """(merged report, warnings) from the slices' reports (paths or dicts).

    fail_on / fail_on_not_audited: the gate of the merged report. None takes the slices' own, and
    refuses slices whose gates differ (one of them would be silently overruled). A slice written by
    another collection version is refused unless allow_mixed_versions, which makes it a warning.
    """
    if not sources:
        raise MergeError("no slice report to merge: the list of reports is empty")
    warnings: list = []
    slices: list = []
    seen_paths: dict = {}
    for index, source in enumerate(sources):
        name, report = load_report(source, "" if not isinstance(source, dict) else f"report {index + 1}")
        if not isinstance(source, dict):
            real = os.path.realpath(name)
            if real in seen_paths:
                warnings.append(f"{name} is given twice (as {seen_paths[real]}): read once")
                continue
            seen_paths[real] = name
        check_report(name, report)
        slices.append((name, report))

    versions = sorted({report["collection_version"] for _name, report in slices})
    if len(versions) > 1:
        first = slices[0]
        other = next(s for s in slices if s[1]["collection_version"] != first[1]["collection_version"])
        message = (
            f"the slices were written by different maildns.audit versions: {first[0]} by "
            f"{first[1]['collection_version']}, {other[0]} by {other[1]['collection_version']}"
            f" (all: {', '.join(versions)})"
        )
        if not allow_mixed_versions:
            raise MergeError(
                message + "; a fleet report must judge every host by one catalog: audit the slices again with one "
                "version, or set allow_mixed_versions to merge them anyway"
            )
        warnings.append(message + "; merged anyway (allow_mixed_versions)")
    elif versions[0] != COLLECTION_VERSION:
        warnings.append(
            f"the slices were written by maildns.audit {versions[0]}, the merge runs {COLLECTION_VERSION}: "
            "the merged report keeps the slices' version"
        )

    # The gate: as given, else the slices' own, which must agree (else one slice's would be overruled).
    fail_ons = sorted({r["summary"]["gate"]["fail_on"] for _name, r in slices})
    not_auditeds = sorted({r["summary"]["gate"]["fail_on_not_audited"] for _name, r in slices})
    if (fail_on is None and len(fail_ons) > 1) or (fail_on_not_audited is None and len(not_auditeds) > 1):
        described = "; ".join(
            f"{name}: fail_on {r['summary']['gate']['fail_on']}, "
            f"fail_on_not_audited {str(r['summary']['gate']['fail_on_not_audited']).lower()}"
            for name, r in slices
        )
        raise MergeError(
            f"the slices were gated differently ({described}): give the merge fail_on and fail_on_not_audited"
        )
    fail_on = fail_ons[0] if fail_on is None else fail_on
    fail_on_not_audited = not_auditeds[0] if fail_on_not_audited is None else fail_on_not_audited
    if fail_on not in GATE_CHOICES:
        raise MergeError(f"fail_on {fail_on!r} is not one of {', '.join(GATE_CHOICES)}")

    owner: dict = {}
    hosts: list = []
    for name, report in slices:
        for host in report["hosts"]:
            if host["host"] in owner:
                where = owner[host["host"]]
                raise MergeError(
                    f"host {host['host']} is in two slices: {where} and {name}"
                    + (" (twice in that one)" if where == name else "")
                    + "; AWX slices never share a host, so two runs were mixed: merge the reports of one sliced job"
                )
            owner[host["host"]] = name
            hosts.append(host)

    merged = assemble_report(hosts, fail_on, bool(fail_on_not_audited))
    merged["collection_version"] = slices[0][1]["collection_version"] if len(versions) == 1 else COLLECTION_VERSION
    merged["slices"] = [
        {
            "file": name,
            "generated": report.get("generated"),
            "collection_version": report["collection_version"],
            "hosts": len(report["hosts"]),
        }
        for name, report in slices
    ]
    return merged, warnings
