#!/usr/bin/python
# Copyright: maildns.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: report_merge
short_description: Merge the fleet reports of the slices of one audit (AWX job slicing) into one fleet report
version_added: 0.1.0
description:
  - Reads the C(report.json) of each slice (each written by M(maildns.audit.fleet_report) in one job of an AWX or AAP
    sliced job template), joins their hosts, and writes one fleet report into I(report_dir) - C(report.json),
    C(junit.xml), C(summary.md) and C(report.html) - that says what one unsliced run of the same fleet says, with
    the same hosts, findings, summary and gate. Only C(generated) differs, and the merged C(report.json) has a
    C(slices) list (file, generated, collection_version and hosts of each slice).
  - Refuses, naming the file, anything that is not a C(maildns.audit/report) of schema version 1 (unreadable,
    missing, not JSON, another schema), slices written by different collection versions (see
    I(allow_mixed_versions)), and a host that is in two slices (naming the host and both files; AWX slices never
    share a host, so two runs were mixed). A file given twice is read once, with a warning.
  - Says whether the gate of the merged report failed without failing itself, like M(maildns.audit.fleet_report),
    so that the playbook writes the report first and fails at the end (C(playbooks/merge_reports.yml)).
  - Run it on the controller, in a localhost play.
author:
  - maildns.audit contributors (!UNKNOWN)
options:
  reports:
    description:
      - The slices' C(report.json) files. Exactly one of I(reports) and I(report_glob) is required.
    type: list
    elements: path
  report_glob:
    description:
      - A glob pattern for the slices' C(report.json) files, for example C(reports/latest/job-*/report.json); the
        matches are merged in name order. A pattern that matches nothing is an error. C(~) and environment
        variables are expanded, as in any path option.
    type: path
  report_dir:
    description: Folder the merged report files are written to (created when missing).
    type: path
    required: true
  fail_on:
    description:
      - The severity at which the merged report's gate fails; C(none) never fails.
      - When not set, the slices' own; slices gated differently are then refused.
    type: str
    choices: [critical, high, medium, low, info, none]
  fail_on_not_audited:
    description:
      - Whether a host that was not audited fails the merged report's gate.
      - When not set, the slices' own; slices gated differently are then refused.
    type: bool
  allow_mixed_versions:
    description:
      - Merge slices written by different maildns.audit versions, with a warning, instead of refusing them. The
        finding catalog may differ between versions (new checks, new IDs), so such a report judges some hosts by
        other rules than the rest; meant for a fleet caught in the middle of an upgrade, not for every day.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: Reads and checks the slices and says which report files would change, writing nothing.
  diff_mode:
    support: none
    description: Shows no diff of the report files; they are new output, not configuration.
"""

EXAMPLES = r"""
- name: Merge the reports of the slices of one sliced audit job
  maildns.audit.report_merge:
    report_glob: /srv/maildns/reports/job-*/report.json
    report_dir: /srv/maildns/reports
  register: merged

- name: Merge three named slices, gating the fleet on critical findings only
  maildns.audit.report_merge:
    reports:
      - reports/slice-1/report.json
      - reports/slice-2/report.json
      - reports/slice-3/report.json
    report_dir: reports/fleet
    fail_on: critical
"""

RETURN = r"""
summary:
  description:
    - The merged report's summary, as M(maildns.audit.fleet_report) returns it (hosts by status, not audited hosts,
      findings by severity, the gate recomputed over every host of every slice).
  returned: always
  type: dict
slices:
  description: Each merged slice, as the merged C(report.json) lists it (C(file), C(generated), C(collection_version),
    C(hosts)).
  returned: always
  type: list
  elements: dict
files:
  description: The report files written (in check mode, that would be written).
  returned: always
  type: list
  elements: str
changes:
  description: Per report file, whether it changed (in check mode, would change); a report that differs only in its
    time stamp is unchanged.
  returned: always
  type: dict
gate_message:
  description: Why the merged report's gate failed, in one sentence for the playbook's failing task; empty when it
    passed.
  returned: always
  type: str
"""

import glob
import os
import shutil
import tempfile

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.maildns.audit.plugins.module_utils.fleet_report import gate_message, write_report
from ansible_collections.maildns.audit.plugins.module_utils.report_merge import MergeError, merge_reports

REPORT_FILES = ("report.json", "junit.xml", "summary.md", "report.html")


def would_change(report: dict, directory: str) -> dict:
    """{path: changed} that write_report would return, found by writing into a copy of the current files."""
    scratch = tempfile.mkdtemp(prefix="maildns-merge-check-")
    try:
        for name in REPORT_FILES:
            if os.path.isfile(os.path.join(directory, name)):
                shutil.copyfile(os.path.join(directory, name), os.path.join(scratch, name))
        changed = write_report(report, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return {os.path.join(directory, os.path.basename(path)): value for path, value in changed.items()}


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "reports": {"type": "list", "elements": "path"},
            "report_glob": {"type": "path"},
            "report_dir": {"type": "path", "required": True},
            "fail_on": {"type": "str", "choices": ["critical", "high", "medium", "low", "info", "none"]},
            "fail_on_not_audited": {"type": "bool"},
            "allow_mixed_versions": {"type": "bool", "default": False},
        },
        required_one_of=[("reports", "report_glob")],
        mutually_exclusive=[("reports", "report_glob")],
        supports_check_mode=True,
    )
    params = module.params
    if params["report_glob"] is not None:
        pattern = params["report_glob"]
        sources = sorted(glob.glob(pattern))
        if not sources:
            module.fail_json(
                msg=f"no slice report matches {params['report_glob']}: did the slices write their reports "
                "to a path this job can read (a shared volume)?"
            )
    else:
        sources = params["reports"]
    try:
        report, warnings = merge_reports(
            sources,
            params["fail_on"],
            params["fail_on_not_audited"],
            allow_mixed_versions=params["allow_mixed_versions"],
        )
    except MergeError as error:
        module.fail_json(msg=str(error))
    for warning in warnings:
        module.warn(warning)
    try:
        changes = (
            would_change(report, params["report_dir"])
            if module.check_mode
            else write_report(report, params["report_dir"])
        )
    except OSError as error:
        module.fail_json(
            msg=f"cannot write the merged report into {params['report_dir']}: {error}; "
            "set maildns_report_dir to a writable folder"
        )
    module.exit_json(
        changed=any(changes.values()),
        summary=report["summary"],
        slices=report["slices"],
        files=sorted(changes),
        changes=changes,
        gate_message=gate_message(report["summary"]),
    )


if __name__ == "__main__":
    main()
