#!/usr/bin/python
# Copyright: maildns.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: remediation_report
short_description: Write the fleet's remediation plan (plan.json, plan.md) beside the audit report
version_added: 0.1.0
description:
  - Takes, per host, the plan that C(playbooks/remediate.yml) made from the host's audit (the roles its findings
    ask for, the findings they fix, the ones that need a variable, the ones no role fixes with the DNS record to
    create) and what each role did, or in check mode would do (files, actions, failures), and writes
    C(plan.json) (schema C(maildns.audit/remediation-plan), version 1) and C(plan.md) into I(report_dir).
  - With C(--check --diff) that is the preview an admin reads before a change window. Hosts the plan does not
    touch are listed with the reason.
  - Run it on the controller, as C(playbooks/remediate.yml) does. Spamhaus DQS keys are masked in both files.
author:
  - maildns.audit contributors (!UNKNOWN)
options:
  hosts:
    description:
      - Per host name, a dict with C(plan) (the C(maildns.audit.remediation_plan) filter's result), C(results) (the
        module results of the roles, keyed C(local_resolver) and C(dnsbl_policy)) and optionally C(still_there)
        (finding IDs the re-audit still reports).
    type: dict
    required: true
  report_dir:
    description: Folder the plan files are written to (created when missing), usually the audit report's.
    type: path
    required: true
  preview:
    description: Whether the run was a preview (C(--check)); the files then say "would change".
    type: bool
    default: false
attributes:
  check_mode:
    support: none
    description: The plan is the output of a preview, so run the task with C(check_mode false) to have it written.
  diff_mode:
    support: none
    description: Writes report files, not configuration.
"""

EXAMPLES = r"""
- name: Write the remediation plan of the fleet
  maildns.audit.remediation_report:
    hosts: "{{ maildns_remediation }}"
    report_dir: reports/latest
    preview: "{{ ansible_check_mode }}"
  check_mode: false
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
summary:
  description: Hosts, hosts to change (or changed), untouched, failed, and files to change.
  returned: always
  type: dict
  sample: {"hosts": 31, "to_change": 22, "untouched": 9, "failed": 0, "files": 57}
files:
  description: The files written.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.maildns.audit.plugins.module_utils._remediate.fleet_plan import fleet_plan, write_plan


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "hosts": {"type": "dict", "required": True},
            "report_dir": {"type": "path", "required": True},
            "preview": {"type": "bool", "default": False},
        },
        supports_check_mode=False,
    )
    report = fleet_plan(module.params["hosts"], module.params["preview"])
    try:
        changed = write_plan(report, module.params["report_dir"])
    except OSError as error:
        module.fail_json(
            msg=f"cannot write the plan into {module.params['report_dir']}: {error}; "
            "set maildns_report_dir to a writable folder"
        )
    module.exit_json(changed=any(changed.values()), summary=report["summary"], files=sorted(changed))


if __name__ == "__main__":
    main()
