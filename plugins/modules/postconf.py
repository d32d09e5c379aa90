#!/usr/bin/python
# Copyright: maildns.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: postconf
short_description: Set or remove Postfix main.cf and master.cf parameters with Postfix's own postconf
version_added: 0.1.0
description:
  - Sets and removes Postfix parameters through Postfix's own C(postconf) binary, never by editing the files
    itself - main.cf parameters with C(postconf -e) and C(postconf -X), master.cf service parameters (the C(-o)
    options of one service) with C(postconf -P) and C(postconf -PX).
  - Idempotent. The current values are read first (main.cf and master.cf as written, the C($name) references left
    as they are), and C(postconf) runs only for the parameters whose written value differs. A file that needs no
    change is not rewritten, so its bytes and modification time stay as they were.
  - Compares written values, not effective ones. A parameter left at its default counts as absent, even when the
    requested value equals the default.
  - In check mode the same C(postconf) commands run against a private temporary copy of main.cf and master.cf,
    which is then deleted. The diff shown is the one C(postconf) really writes (its master.cf layout too), and the
    configuration directory is not touched.
  - With C(--diff) it shows the before and after of each changed parameter and of each changed file.
  - Spamhaus DQS keys (any name below C(dq.spamhaus.net) or C(dq.spamhaus.org)) are masked as C(<DQS key>) in every
    value, diff and command it returns, and so is every string given in I(secrets).
  - Several parameters can be changed in one task with I(parameters). They are read once, then applied with at most
    one C(postconf) run per kind of edit, and each file shows one diff. Parameters that belong together change in
    one task, and a secret value never shows up as a loop item.
  - Does not reload Postfix. Run C(postfix check), then C(postfix reload), from a handler once the configuration is
    complete.
author:
  - maildns.audit contributors (!UNKNOWN)
options:
  name:
    description:
      - The parameter to set or remove, for example C(smtpd_client_restrictions).
      - With I(service), a parameter of that master.cf service (its C(-o name=value)).
      - Mutually exclusive with I(parameters); one of the two is required.
    type: str
  value:
    description:
      - The value to write, on one line, as it should appear in the file (C($name) references are kept as they are).
        An empty string sets the parameter to the empty value, which is not the same as removing it.
      - For a master.cf service, postconf does not accept whitespace in the value. Separate list elements with
        commas (C(permit_mynetworks,reject_rbl_client,zen.spamhaus.org=127.0.0.[2..11])).
      - Required with I(state=present).
    type: str
  state:
    description:
      - C(present) writes I(value). C(absent) removes the parameter from main.cf (Postfix then uses the default) or
        the C(-o) option from the service.
    type: str
    choices: [present, absent]
    default: present
  service:
    description:
      - The master.cf service whose parameter to change, as C(name/type) the way master.cf writes it, for example
        C(smtp/inet), C(submission/inet) or C(127.0.0.1:10025/inet). The service must exist.
      - When not given, the parameter is changed in main.cf.
    type: str
  parameters:
    description:
      - Several changes at once, each with the same keys as the single-parameter form.
      - Mutually exclusive with I(name).
    type: list
    elements: dict
    suboptions:
      name:
        description: The parameter name.
        type: str
        required: true
      value:
        description: The value to write; required with I(state=present).
        type: str
      state:
        description: C(present) or C(absent).
        type: str
        choices: [present, absent]
        default: present
      service:
        description: The master.cf service (C(name/type)); main.cf when not given.
        type: str
  config_directory:
    description: The Postfix configuration directory, the directory C(postconf -c) takes.
    type: path
    default: /etc/postfix
  postconf_path:
    description: Path of C(postconf). When not given, it is looked up on C(PATH), then in C(/usr/sbin).
    type: path
  secrets:
    description:
      - Further strings to mask in everything the module returns, in addition to the DQS keys it recognises itself.
        For example, a password that is part of a value.
      - Ansible also removes these strings from its own output, because the option is C(no_log).
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    support: full
    description: Runs the same C(postconf) commands on a temporary copy and reports what would change.
  diff_mode:
    support: full
    description: Shows each changed parameter's old and new line and the unified change of main.cf and master.cf.
notes:
  - Needs Postfix's C(postconf) (Postfix 2.9 or later for C(-X), 3.0 or later for C(-P) and C(-PX)).
  - Run with C(become); main.cf and master.cf are owned by root.
  - C(postconf -e) writes each changed parameter on one line; it keeps comments and the other parameters as they are.
    C(postconf -P) rewrites the changed service's entry in master.cf with its own layout.
seealso:
  - name: postconf(1)
    description: The Postfix configuration utility this module drives.
    link: https://www.postfix.org/postconf.1.html
  - name: postconf(5)
    description: Every Postfix parameter and its default.
    link: https://www.postfix.org/postconf.5.html
"""

EXAMPLES = r"""
- name: Reject clients listed on Spamhaus ZEN, never on its error answers
  maildns.audit.postconf:
    name: smtpd_client_restrictions
    value: >-
      permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination,
      reject_rbl_client zen.spamhaus.org=127.0.0.[2..11]
  notify: Reload Postfix

- name: Let the submission service skip the DNSBL checks
  maildns.audit.postconf:
    service: submission/inet
    name: smtpd_client_restrictions
    value: permit_sasl_authenticated,reject

- name: Drop a master.cf override, so that the service uses main.cf's value again
  maildns.audit.postconf:
    service: smtp/inet
    name: smtpd_client_restrictions
    state: absent

- name: Return a parameter to its default
  maildns.audit.postconf:
    name: smtpd_helo_restrictions
    state: absent

- name: Several parameters in one step, previewed with --check --diff
  maildns.audit.postconf:
    parameters:
      - name: postscreen_dnsbl_threshold
        value: "2"
      - name: postscreen_dnsbl_sites
        value: zen.spamhaus.org=127.0.0.[2..11]*1 bl.spamcop.net=127.0.0.2*1
      - name: postscreen_dnsbl_action
        value: enforce
  register: postfix_change
  notify: Reload Postfix

- name: A value that holds a secret, never printed, not even in the diff
  maildns.audit.postconf:
    name: smtpd_client_restrictions
    value: "permit_mynetworks, reject_rbl_client {{ dqs_key }}.zen.dq.spamhaus.net=127.0.0.[2..11]"
    secrets:
      - "{{ dqs_key }}"

- name: An alternative Postfix instance
  maildns.audit.postconf:
    config_directory: /etc/postfix-out
    name: smtp_helo_name
    value: mail.example.org
"""

RETURN = r"""
changes:
  description: One entry per requested parameter, in the order given (values masked).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The parameter.
      type: str
    service:
      description: The master.cf service (C(name/type)), or null for main.cf.
      type: str
    file:
      description: The file the parameter is written in.
      type: str
    state:
      description: C(present) or C(absent), as requested.
      type: str
    before:
      description: The value as written before, or null when it was not set there.
      type: str
    after:
      description: The value as written after (in check mode, as it would be), or null when it is not set.
      type: str
    changed:
      description: Whether this parameter was (or would be) changed.
      type: bool
  sample:
    - name: smtpd_client_restrictions
      service: null
      file: /etc/postfix/main.cf
      state: present
      before: permit_mynetworks, reject_rbl_client zen.spamhaus.org
      after: permit_mynetworks, reject_rbl_client zen.spamhaus.org=127.0.0.[2..11]
      changed: true
files:
  description: main.cf and master.cf, whether each changed, and the unified diff (masked).
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: The file.
      type: str
    changed:
      description: Whether its bytes changed (or would change).
      type: bool
    diff:
      description: The unified diff, empty when the file is unchanged.
      type: str
commands:
  description:
    - The C(postconf) commands that ran, or in check mode would run, as argument lists (masked). Empty when nothing
      needed to change.
  returned: always
  type: list
  elements: list
  sample: [["/usr/sbin/postconf", "-c", "/etc/postfix", "-e", "smtpd_helo_required=yes"]]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.maildns.audit.plugins.module_utils._remediate.postconf_edit import (
    Change,
    PostconfEditError,
    edit_postfix,
)

_CHANGE_SPEC = {
    "name": {"type": "str", "required": True},
    "value": {"type": "str"},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "service": {"type": "str"},
}


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "name": {"type": "str"},
            "value": {"type": "str"},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
            "service": {"type": "str"},
            "parameters": {"type": "list", "elements": "dict", "options": _CHANGE_SPEC},
            "config_directory": {"type": "path", "default": "/etc/postfix"},
            "postconf_path": {"type": "path"},
            "secrets": {"type": "list", "elements": "str", "default": [], "no_log": True},
        },
        mutually_exclusive=[("name", "parameters"), ("value", "parameters"), ("service", "parameters")],
        required_one_of=[("name", "parameters")],
        supports_check_mode=True,
    )
    params = module.params
    if params["parameters"] is not None:
        requested = params["parameters"]
        if not requested:
            module.fail_json(msg="parameters is empty: give at least one {name, value} or {name, state: absent}")
    else:
        requested = [{k: params[k] for k in ("name", "value", "state", "service")}]
    changes = [Change(item["name"], item["value"], item["state"], item["service"] or None) for item in requested]
    try:
        result = edit_postfix(
            params["config_directory"],
            changes,
            postconf=params["postconf_path"],
            check_mode=module.check_mode,
            secrets=tuple(params["secrets"]),
        )
    except PostconfEditError as error:
        module.fail_json(msg=str(error))
    output = result.as_dict()
    if module._diff:
        output["diff"] = result.ansible_diff()
    module.exit_json(**output)


if __name__ == "__main__":
    main()
