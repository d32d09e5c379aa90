# Copyright: maildns.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet report (report.json) as node_exporter textfile-collector metrics (a .prom file).

Private to the collection. Runs where the report_metrics module runs (the controller, normally), in
Python 3.8 syntax like the rest of module_utils. The metrics are built with the Prometheus client
library (prometheus-client) and written with its write_to_textfile: a temporary file beside the
target (<path>.<pid>.<thread>, which the textfile collector ignores: it reads only *.prom), then a
rename, so node_exporter never reads half a file.

METRICS is the one list of what is written: the writer checks every family against it, and the
table in docs/PROMETHEUS.md is generated from it (metrics_table; a unit test holds them equal).
Everything comes from the report alone (no clock, no host state): the same report gives the same
bytes, so a second run with an unchanged report changes nothing.
"""

from __future__ import annotations

import collections
import json
import os
import stat
import traceback

from ansible_collections.maildns.audit.plugins.module_utils.findings import CATALOG, SEVERITIES
from ansible_collections.maildns.audit.plugins.module_utils.fleet_report import SCHEMA, VERSION, parse_generated

try:
    from prometheus_client import CollectorRegistry, generate_latest, write_to_textfile
    from prometheus_client.core import GaugeMetricFamily

    HAS_PROMETHEUS_CLIENT = True
    PROMETHEUS_CLIENT_IMPORT_ERROR = None
    PROMETHEUS_CLIENT_IMPORT_TRACEBACK = None
except ImportError as _error:  # exercised where prometheus-client is not installed (a test runs the module so)
    HAS_PROMETHEUS_CLIENT = False
    PROMETHEUS_CLIENT_IMPORT_ERROR = _error
    PROMETHEUS_CLIENT_IMPORT_TRACEBACK = traceback.format_exc()

HOST_STATUSES = ("ok", "findings", "unknown", "unreachable")
# A finding ID the catalog does not know (a report from a newer collection) is counted under this
# one, so that the series per host stay bounded by the catalog.
OTHER_ID = "OTHER"
DEFAULT_MODE = 0o644

MetricDef = collections.namedtuple("MetricDef", "name type help labels")

# (name, type, help, labels): every family the file holds. All are gauges (a value that is set, not
# a count that only grows: no _total); time is in seconds since the epoch (_timestamp_seconds).
METRICS = (
    MetricDef(
        "maildns_audit_report_info",
        "gauge",
        "Always 1: the report the metrics come from (schema, its version, the maildns.audit that wrote it).",
        ("collection_version", "schema", "schema_version"),
    ),
    MetricDef(
        "maildns_audit_last_run_timestamp_seconds",
        "gauge",
        "When the fleet report was written (report.json generated), in seconds since the epoch.",
        (),
    ),
    MetricDef(
        "maildns_audit_gate_failed",
        "gauge",
        "1 when the audit gate failed (an unwaived finding at fail_on or worse, or a host not audited "
        "when fail_on_not_audited is true), else 0.",
        ("fail_on", "fail_on_not_audited"),
    ),
    MetricDef(
        "maildns_audit_hosts",
        "gauge",
        "Hosts of the report by status (ok, findings, unknown, unreachable); every status is present.",
        ("status",),
    ),
    MetricDef(
        "maildns_audit_host_status",
        "gauge",
        "State set: 1 for the host's status in the report, 0 for the other three (ok, findings, unknown, unreachable).",
        ("host", "status"),
    ),
    MetricDef(
        "maildns_audit_host_audited",
        "gauge",
        "1 when the host was audited, 0 when it was not (unreachable, timed out, audit failed, every check unknown).",
        ("host",),
    ),
    MetricDef(
        "maildns_audit_host_not_audited",
        "gauge",
        "1, present only for a host that was not audited, with why (unreachable, timed out, audit failed, "
        "every check unknown).",
        ("host", "why"),
    ),
    MetricDef(
        "maildns_audit_host_gate_failed",
        "gauge",
        "1 when the host fails the audit gate (for findings, or for not being audited), else 0.",
        ("host",),
    ),
    MetricDef(
        "maildns_audit_findings",
        "gauge",
        "Unwaived findings on the host at this severity; every host has all five severities, 0 included.",
        ("host", "severity"),
    ),
    MetricDef(
        "maildns_audit_findings_waived",
        "gauge",
        "Waived findings on the host at this severity; present only where there is at least one.",
        ("host", "severity"),
    ),
    MetricDef(
        "maildns_audit_finding",
        "gauge",
        "Unwaived findings of this ID on the host (docs/FINDINGS.md); present only for IDs the host has. "
        "An ID the catalog does not know is counted as OTHER.",
        ("host", "id", "severity"),
    ),
    MetricDef(
        "maildns_audit_dnsbl_probe",
        "gauge",
        "1 for each DNSBL zone probed through a resolver, with what the probe classified it as. From the "
        "report's findings, this covers the pairs a finding reports (failing ones), not working pairs.",
        ("host", "zone", "resolver", "classification"),
    ),
)
METRIC_NAMES = tuple(metric.name for metric in METRICS)
TABLE_BEGIN = "<!-- metrics table: generated from METRICS in plugins/module_utils/report_metrics.py -->"
TABLE_END = "<!-- end of metrics table -->"


class ReportError(Exception):
    """The report or the target cannot be used; the message says what to do."""


# -- reading the report ---------------------------------------------------------------------------


def load_report(path: str) -> dict:
    """report.json as a dict, checked (check_report); ReportError with the fix otherwise."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as error:
        raise ReportError(
            f"cannot read the report {path}: {error.strerror or error}; run playbooks/audit.yml first "
            "(maildns.audit.fleet_report writes report.json into maildns_report_dir) or set report to its path"
        ) from error
    except UnicodeDecodeError as error:
        raise ReportError(f"{path} is not a maildns.audit report (not UTF-8 text: {error}); {_REWRITE}") from error
    try:
        report = json.loads(text)
    except ValueError as error:
        raise ReportError(f"{path} is not a maildns.audit report (not JSON: {error}); {_REWRITE}") from error
    check_report(report, path)
    return report


_REWRITE = "point report at the report.json that maildns.audit.fleet_report writes, or run the audit again"


def check_report(report: object, where: str = "the report") -> None:
    """Refuse anything but schema maildns.audit/report version 1 with the fields the metrics read."""
    if not isinstance(report, dict):
        raise ReportError(f"{where} is not a maildns.audit report (a JSON {type(report).__name__}); {_REWRITE}")
    if report.get("schema") != SCHEMA:
        raise ReportError(
            f"{where} has schema {report.get('schema')!r}, not {SCHEMA!r}: it is not a maildns.audit fleet "
            f"report; {_REWRITE}"
        )
    if report.get("version") != VERSION:
        raise ReportError(
            f"{where} is {SCHEMA} version {report.get('version')!r}; this collection reads version {VERSION}: "
            "use the maildns.audit that wrote it"
        )
    _generated_seconds(report.get("generated"), where)
    gate = (report.get("summary") or {}).get("gate")
    if not isinstance(gate, dict) or not isinstance(gate.get("failed"), bool):
        raise ReportError(f"{where} has no summary.gate.failed; {_REWRITE}")
    hosts = report.get("hosts")
    if not isinstance(hosts, list):
        raise ReportError(f"{where} has no hosts list; {_REWRITE}")
    seen = set()
    for number, host in enumerate(hosts):
        _check_host(host, f"{where}, hosts[{number}]")
        if host["host"] in seen:
            # two entries would be two series with the same labels: node_exporter refuses the file
            raise ReportError(f"{where} has the host {host['host']} twice; {_REWRITE}")
        seen.add(host["host"])


def _check_host(host: object, where: str) -> None:
    if not isinstance(host, dict) or not isinstance(host.get("host"), str) or not host["host"]:
        raise ReportError(f"{where} has no host name; {_REWRITE}")
    if host.get("status") not in HOST_STATUSES:
        raise ReportError(
            f"{where} ({host['host']}) has status {host.get('status')!r}, not one of {', '.join(HOST_STATUSES)}; "
            f"{_REWRITE}"
        )
    findings = host.get("findings")
    if not isinstance(findings, list):
        raise ReportError(f"{where} ({host['host']}) has no findings list; {_REWRITE}")
    for finding in findings:
        if (
            not isinstance(finding, dict)
            or not isinstance(finding.get("id"), str)
            or finding.get("severity") not in SEVERITIES
        ):
            raise ReportError(
                f"{where} ({host['host']}) has a finding without an ID or a severity of {', '.join(SEVERITIES)}: "
                f"{json.dumps(finding, default=str)[:200]}; {_REWRITE}"
            )


def _generated_seconds(value: object, where: str = "the report") -> float:
    """report.generated in seconds since the epoch; ReportError when it cannot be read."""
    moment = parse_generated(value)
    if moment is None:
        raise ReportError(f"{where} has no readable generated time ({value!r}); {_REWRITE}")
    return moment.timestamp()


def _audited(host: dict) -> bool:
    # `audited` was added within version 1; a report from before it knew only unreachable hosts.
    audited = host.get("audited")
    return audited if isinstance(audited, bool) else host["status"] != "unreachable"


def probe_pairs(host: dict) -> list:
    """(zone, resolver, classification) of each DNSBL probe the report tells of for this host, sorted.

    A host entry with a `probes` list (each with zone, resolver, classification: every pair probed,
    working ones included; fleet_report writes it) gives every pair. Without one, or with an empty
    one (a report from before 0.1.0's `probes`, or results that carry no probe facts), the pairs
    come from the findings' evidence: a DNSBL probe finding carries zone, resolver and
    classification; waived findings count too (what the probe saw, not a judgement). Working pairs
    make no finding and a list-wide fact (retired, dead, lists the world, wrong list) is reported
    once per zone, through one resolver: those pairs are missing.
    """
    entries = host.get("probes")
    if not isinstance(entries, list) or not entries:
        entries = [f.get("evidence") for f in host["findings"]]
    pairs = set()
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        fields = (entry.get("zone"), entry.get("resolver"), entry.get("classification"))
        if all(isinstance(value, str) and value for value in fields):
            pairs.add(fields)
    return sorted(pairs)


# -- the metrics ----------------------------------------------------------------------------------


def metric_samples(report: dict) -> dict:
    """{metric name: [(label values, value), ...]} in METRICS order; the registry is built from this."""
    summary = report["summary"]
    gate = summary["gate"]
    gate_hosts = set(gate.get("hosts") or [])
    hosts = sorted(report["hosts"], key=lambda h: h["host"])
    samples: dict = {name: [] for name in METRIC_NAMES}
    samples["maildns_audit_report_info"].append(
        ((str(report.get("collection_version") or "unknown"), SCHEMA, str(VERSION)), 1)
    )
    samples["maildns_audit_last_run_timestamp_seconds"].append(((), _generated_seconds(report["generated"])))
    samples["maildns_audit_gate_failed"].append(
        (
            (str(gate.get("fail_on", "")), str(gate.get("fail_on_not_audited", True)).lower()),
            1 if gate["failed"] else 0,
        )
    )
    by_status = collections.Counter(host["status"] for host in hosts)
    samples["maildns_audit_hosts"] += [((status,), by_status[status]) for status in HOST_STATUSES]
    for host in hosts:
        name = host["host"]
        audited = _audited(host)
        samples["maildns_audit_host_status"] += [
            ((name, status), 1 if host["status"] == status else 0) for status in HOST_STATUSES
        ]
        samples["maildns_audit_host_audited"].append(((name,), 1 if audited else 0))
        if not audited:
            samples["maildns_audit_host_not_audited"].append(((name, str(host.get("not_audited") or "unknown")), 1))
        samples["maildns_audit_host_gate_failed"].append(((name,), 1 if name in gate_hosts else 0))
        live = collections.Counter(f["severity"] for f in host["findings"] if not f.get("waived"))
        waived = collections.Counter(f["severity"] for f in host["findings"] if f.get("waived"))
        samples["maildns_audit_findings"] += [((name, severity), live[severity]) for severity in SEVERITIES]
        samples["maildns_audit_findings_waived"] += [
            ((name, severity), waived[severity]) for severity in SEVERITIES if waived[severity]
        ]
        by_id = collections.Counter(
            (f["id"] if f["id"] in CATALOG else OTHER_ID, f["severity"])
            for f in host["findings"]
            if not f.get("waived")
        )
        samples["maildns_audit_finding"] += [
            ((name, finding_id, severity), count)
            for (finding_id, severity), count in sorted(by_id.items(), key=lambda item: item[0])
        ]
        samples["maildns_audit_dnsbl_probe"] += [((name, *pair), 1) for pair in probe_pairs(host)]
    return samples


class _ReportCollector:
    """A prometheus_client collector of one report's metrics (gauge families, in METRICS order)."""

    def __init__(self, report: dict) -> None:
        self._samples = metric_samples(report)

    def collect(self):  # type: ignore[no-untyped-def]
        for metric in METRICS:
            family = GaugeMetricFamily(metric.name, metric.help, labels=list(metric.labels))
            for labels, value in self._samples[metric.name]:
                family.add_metric(list(labels), value)
            yield family


def build_registry(report: dict):  # type: ignore[no-untyped-def]
    """A prometheus_client CollectorRegistry that holds the report's metrics (the report is checked first)."""
    _require_client()
    check_report(report)
    registry = CollectorRegistry(auto_describe=True)
    registry.register(_ReportCollector(report))
    return registry


def render_metrics(report: dict) -> bytes:
    """The .prom file's bytes, in the Prometheus text format, as write_to_textfile writes them."""
    return generate_latest(build_registry(report))


def _require_client() -> None:
    if not HAS_PROMETHEUS_CLIENT:
        raise ReportError(
            f"the Python library prometheus-client is missing ({PROMETHEUS_CLIENT_IMPORT_ERROR}): "
            "pip install prometheus-client on the host that runs the task"
        )


# -- the file -------------------------------------------------------------------------------------


def check_path(path: str) -> None:
    """The textfile collector reads *.prom only, from a folder that exists."""
    if not path.endswith(".prom"):
        raise ReportError(
            f"{path} does not end in .prom: node_exporter's textfile collector reads only *.prom files; "
            "name the file so, e.g. maildns_audit.prom"
        )
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ReportError(
            f"the folder {folder} does not exist: set path to a file in node_exporter's textfile folder "
            "(--collector.textfile.directory; Debian's prometheus-node-exporter reads "
            "/var/lib/prometheus/node-exporter), or create it"
        )


def parse_mode(mode: object) -> int:
    """A file mode from octal text ('0644', '644') or a number (0o644 as YAML reads 0644)."""
    if isinstance(mode, int) and not isinstance(mode, bool):
        value = mode
    else:
        try:
            value = int(str(mode), 8)
        except ValueError:
            value = -1
    if not 0 <= value <= 0o7777:
        raise ReportError(f"mode {mode!r} is not an octal file mode; quote it in YAML: mode: '0644'")
    return value


def read_existing(path: str) -> bytes | None:
    """The bytes the file holds now, or None when it does not exist."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise ReportError(f"cannot read {path}: {error.strerror or error}; check its permissions") from error


def current_mode(path: str) -> int | None:
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return None


def write_metrics(report: dict, path: str, mode: int = DEFAULT_MODE) -> None:
    """Write the report's metrics to path with write_to_textfile (temporary file, then rename), in mode.

    The temporary file is created with the umask that gives `mode`, so the file is never more open
    than asked for, even for the instant before the chmod that sets the bits a umask cannot.
    """
    registry = build_registry(report)
    old_umask = os.umask(0o777 & ~mode)
    try:
        write_to_textfile(path, registry)
    except OSError as error:
        raise ReportError(
            f"cannot write {path}: {error.strerror or error}; set path to a file the task's user may write "
            "(become: true for node_exporter's folder)"
        ) from error
    finally:
        os.umask(old_umask)
    os.chmod(path, mode)


def plan(report_path: str, path: str, mode: object = DEFAULT_MODE) -> dict:
    """What the module does, without doing it: {report, text, before, mode, changed, content_changed}."""
    check_path(path)
    wanted_mode = parse_mode(mode)
    report = load_report(report_path)
    text = render_metrics(report)
    before = read_existing(path)
    content_changed = before != text
    return {
        "report": report,
        "text": text,
        "before": before,
        "mode": wanted_mode,
        "content_changed": content_changed,
        "changed": content_changed or current_mode(path) != wanted_mode,
    }


def apply(planned: dict, path: str) -> None:
    """Carry out a plan: the file when its text differs, the mode when only the mode does."""
    if planned["content_changed"]:
        write_metrics(planned["report"], path, planned["mode"])
    elif planned["changed"]:
        os.chmod(path, planned["mode"])


def series_count(text: bytes) -> int:
    """Samples in a rendered file (lines that are not comments)."""
    return sum(1 for line in text.decode("utf-8").splitlines() if line and not line.startswith("#"))


# -- docs -----------------------------------------------------------------------------------------


def metrics_table() -> str:
    """The Markdown table of METRICS that docs/PROMETHEUS.md carries between TABLE_BEGIN and TABLE_END."""
    lines = ["| metric | type | labels | meaning |", "|---|---|---|---|"]
    for metric in METRICS:
        labels = ", ".join(f"`{label}`" for label in metric.labels) or "-"
        lines.append(f"| `{metric.name}` | {metric.type} | {labels} | {metric.help.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


def splice_metrics_table(document: str) -> str:
    """The document with the generated table between its markers (for the docs generator)."""
    head, rest = document.split(TABLE_BEGIN, 1)
    tail = rest.split(TABLE_END, 1)[1]
    return f"{head}{TABLE_BEGIN}\n{metrics_table()}{TABLE_END}{tail}"
