#!/usr/bin/python
# Copyright: maildns.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: report_metrics
short_description: Write the fleet report of maildns.audit as node_exporter textfile metrics (Prometheus)
version_added: 0.1.0
description:
  - Reads the C(report.json) that M(maildns.audit.fleet_report) writes (schema C(maildns.audit/report), version 1)
    and writes it as Prometheus metrics in the text format, to a C(.prom) file that node_exporter's textfile
    collector serves (C(--collector.textfile.directory)).
  - The metrics are findings per host and severity (every severity, 0 included; waived findings apart), findings
    per host and finding ID, each host's status, whether it was audited and whether it fails the gate, the DNSBL
    probe classifications the report holds, the gate, the report's time and its schema. C(docs/PROMETHEUS.md)
    lists every metric and its labels, and has alert rules.
  - The file is written with the Prometheus client library's C(write_to_textfile), which writes a temporary file
    beside it and renames it into place, so node_exporter never reads half a file.
  - The metrics come from the report alone, so the same report gives the same file and a second run changes
    nothing; a new audit run changes at least C(maildns_audit_last_run_timestamp_seconds).
  - Run it where the report is, in the localhost play of C(playbooks/audit.yml) after
    M(maildns.audit.fleet_report); copy the file to a node_exporter host when the controller runs none.
author:
  - maildns.audit contributors (!UNKNOWN)
requirements:
  - prometheus-client (the Python library, 0.20 or newer) on the host that runs the task
options:
  report:
    description:
      - Path of the C(report.json) to read, as M(maildns.audit.fleet_report) writes it into its I(report_dir).
      - The task fails, saying what to do, when the file is missing, is not JSON, or is not a
        C(maildns.audit/report) version 1.
    type: path
    required: true
  path:
    description:
      - The C(.prom) file to write. It must end in C(.prom) (the textfile collector reads nothing else) and its
        folder must exist.
      - The default is in the folder that Debian's C(prometheus-node-exporter) package reads by default.
    type: path
    default: /var/lib/prometheus/node-exporter/maildns_audit.prom
  mode:
    description:
      - The file's mode, in octal. Quote it in YAML (C('0644')) so it is not read as a decimal number.
      - node_exporter must be able to read the file (Debian runs it as the user C(prometheus)).
    type: raw
    default: '0644'
attributes:
  check_mode:
    support: full
    description: Says whether the file would change (its text or its mode) and writes nothing.
  diff_mode:
    support: full
    description: Shows the change of the file's text, and of its mode.
"""

EXAMPLES = r"""
# In the localhost play of playbooks/audit.yml, after maildns.audit.fleet_report and before the gate's
# failing task, so that the metrics are written when the gate fails too.
- name: Write the report as node_exporter textfile metrics
  maildns.audit.report_metrics:
    report: "{{ __maildns_report_dir }}/report.json"
    path: "{{ __maildns_report_dir }}/maildns_audit.prom"
  check_mode: false  # the report is written under --check too; so are its metrics

# The controller runs node_exporter (Debian's prometheus-node-exporter): write into its textfile folder.
- name: Serve the audit's metrics from this host's node_exporter
  maildns.audit.report_metrics:
    report: reports/latest/report.json
    path: /var/lib/prometheus/node-exporter/maildns_audit.prom
  become: true

# The controller runs none: copy the file to a host whose node_exporter serves it. ansible.builtin.copy
# writes a temporary file and renames it too, so node_exporter never reads half a file there either.
- name: Publish the audit's metrics on the monitoring host
  ansible.builtin.copy:
    src: "{{ __maildns_report_dir }}/maildns_audit.prom"
    dest: /var/lib/prometheus/node-exporter/maildns_audit.prom
    mode: "0644"
  delegate_to: monitor01.example.org
  become: true
"""

RETURN = r"""
path:
  description: The file written (or that would be written in check mode).
  returned: always
  type: str
  sample: /var/lib/prometheus/node-exporter/maildns_audit.prom
series:
  description: How many series (samples) the file holds.
  returned: always
  type: int
  sample: 459
hosts:
  description: How many hosts the report has.
  returned: always
  type: int
  sample: 32
gate_failed:
  description: Whether the report's gate failed (the value of C(maildns_audit_gate_failed)).
  returned: always
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.maildns.audit.plugins.module_utils.report_metrics import (
    HAS_PROMETHEUS_CLIENT,
    PROMETHEUS_CLIENT_IMPORT_TRACEBACK,
    ReportError,
    apply,
    current_mode,
    plan,
    series_count,
)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "report": {"type": "path", "required": True},
            "path": {"type": "path", "default": "/var/lib/prometheus/node-exporter/maildns_audit.prom"},
            "mode": {"type": "raw", "default": "0644"},
        },
        supports_check_mode=True,
    )
    if not HAS_PROMETHEUS_CLIENT:
        module.fail_json(msg=missing_required_lib("prometheus-client"), exception=PROMETHEUS_CLIENT_IMPORT_TRACEBACK)
    path = module.params["path"]
    try:
        planned = plan(module.params["report"], path, module.params["mode"])
        mode_before = current_mode(path)
        if planned["changed"] and not module.check_mode:
            apply(planned, path)
    except ReportError as error:
        module.fail_json(msg=str(error), path=path)
    result = {
        "changed": planned["changed"],
        "path": path,
        "series": series_count(planned["text"]),
        "hosts": len(planned["report"]["hosts"]),
        "gate_failed": planned["report"]["summary"]["gate"]["failed"],
    }
    if module._diff and planned["changed"]:
        diffs = []
        if planned["content_changed"]:
            before = planned["before"]
            diffs.append(
                {
                    "before_header": path if before is not None else f"{path} (absent)",
                    "after_header": path,
                    "before": (before or b"").decode("utf-8", errors="replace"),
                    "after": planned["text"].decode("utf-8"),
                }
            )
        if mode_before != planned["mode"]:
            diffs.append(
                {
                    "before": {"path": path, "mode": "absent" if mode_before is None else f"{mode_before:04o}"},
                    "after": {"path": path, "mode": f"{planned['mode']:04o}"},
                }
            )
        result["diff"] = diffs
    module.exit_json(**result)


if __name__ == "__main__":
    main()
