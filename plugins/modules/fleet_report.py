#!/usr/bin/python
# Copyright: maildns.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: fleet_report
short_description: Write the fleet report of maildns.audit (JSON, JUnit, Markdown, HTML) and judge the gate
version_added: 0.1.0
description:
  - Takes every host's M(maildns.audit.audit_host) result (or nothing, for a host that was not reached), applies
    the waivers, and writes C(report.json) (schema C(maildns.audit/report), version 1), C(junit.xml) (one test
    suite per host, one test case per check area; findings are failures, checks that could not run are errors),
    C(summary.md) and a self-contained C(report.html) (no external assets) into I(report_dir).
  - Says whether the gate failed - any unwaived finding at I(fail_on) or worse, or (with I(fail_on_not_audited))
    any host that was not audited - without failing itself, so that the playbook can write the report first and
    fail at the end.
  - A host is not audited when it was not reached (or its connection broke), when its audit task ran past its
    C(timeout), when the audit module failed, or when every check it ran is unknown and it found nothing. A host
    with some unknown checks beside ok ones, or with findings, is audited. The first line of C(summary.md) says how
    many hosts were not audited and why.
  - Run it on the controller, delegated to localhost or in a localhost play, as C(playbooks/audit.yml) does.
author:
  - maildns.audit contributors (!UNKNOWN)
options:
  results:
    description: Audit result per host name; a host without one counts as unreachable.
    type: dict
    required: true
  waivers:
    description:
      - Waivers per host name, each a dict with C(id), C(reason) and C(expires) (YYYY-MM-DD). A waived finding stays in
        the report, marked as waived; an expired waiver is itself a finding (C(WAIVER_EXPIRED)).
    type: dict
  report_dir:
    description: Folder the report files are written to (created when missing).
    type: path
    required: true
  fail_on:
    description: The severity at which the gate fails; C(none) never fails.
    type: str
    choices: [critical, high, medium, low, info, none]
    default: high
  fail_on_not_audited:
    description:
      - Whether a host that was not audited fails the gate (unreachable, timed out, audit failed, every check
        unknown). Independent of I(fail_on); C(fail_on=none) with the default still fails on such hosts.
      - Set it to false to let a fleet with hosts that could not be audited pass; they stay in the report.
    type: bool
    default: true
attributes:
  check_mode:
    support: none
    description: The report is the output of an audit, written in check mode too (run the task with check_mode false).
  diff_mode:
    support: none
    description: Shows no diff of the report files it writes; they are new output, not configuration.
"""

EXAMPLES = r"""
- name: Write the report of the hosts in the mailservers group
  maildns.audit.fleet_report:
    results: "{{ maildns_results }}"
    report_dir: reports/latest
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
summary:
  description:
    - Hosts by status, how many were audited and which were not (C(not_audited_hosts), each with C(host), C(why)
      and C(reason)), findings by severity, and the gate.
    - The gate has C(fail_on), C(fail_on_not_audited), C(failed), C(hosts) (every host that fails it),
      C(findings) (hosts that fail it for findings) and C(not_audited) (hosts that fail it for not being audited).
  returned: always
  type: dict
files:
  description: The files written.
  returned: always
  type: list
  elements: str
gate_message:
  description: Why the gate failed, in one sentence for the playbook's failing task; empty when it passed.
  returned: always
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.maildns.audit.plugins.module_utils.fleet_report import (
    build_report,
    gate_message,
    write_report,
)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "results": {"type": "dict", "required": True},
            "waivers": {"type": "dict"},
            "report_dir": {"type": "path", "required": True},
            "fail_on": {
                "type": "str",
                "choices": ["critical", "high", "medium", "low", "info", "none"],
                "default": "high",
            },
            "fail_on_not_audited": {"type": "bool", "default": True},
        },
        supports_check_mode=False,
    )
    report = build_report(
        module.params["results"],
        module.params["waivers"] or {},
        module.params["fail_on"],
        fail_on_not_audited=module.params["fail_on_not_audited"],
    )
    try:
        changed = write_report(report, module.params["report_dir"])
    except OSError as error:
        module.fail_json(
            msg=f"cannot write the report into {module.params['report_dir']}: {error}; "
            "set maildns_report_dir to a writable folder"
        )
    module.exit_json(
        changed=any(changed.values()),
        summary=report["summary"],
        files=sorted(changed),
        gate_message=gate_message(report["summary"]),
    )


if __name__ == "__main__":
    main()
