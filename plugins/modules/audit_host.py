#!/usr/bin/python
# Copyright: maildns.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: audit_host
short_description: Audit a mail host's DNS hygiene in one round trip
version_added: 0.1.0
description:
  - Runs, in one module call, what M(maildns.audit.resolver_facts), M(maildns.audit.postfix_facts),
    M(maildns.audit.spamassassin_facts), M(maildns.audit.dnsbl_probe) and M(maildns.audit.rdns_probe) do, and
    returns their facts, findings and checks together. The role C(maildns.audit.audit) uses it.
requirements:
  - dnspython on the managed host for the live probes (see M(maildns.audit.dnsbl_probe)).
author:
  - maildns.audit contributors (!UNKNOWN)
options:
  checks:
    description: Which parts to run.
    type: list
    elements: str
    choices: [resolver, postfix, spamassassin, dnsbl, identity]
    default: [resolver, postfix, spamassassin, dnsbl, identity]
  lists:
    description: DNSBL zones to probe besides the ones the host uses.
    type: list
    elements: str
    default: []
  domains:
    description: Mail domains whose MX to check besides Postfix's C(mydomain).
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - maildns.audit.inspection
  - maildns.audit.probe
"""

EXAMPLES = r"""
- name: Audit this host
  maildns.audit.audit_host:
  register: audit

- name: Only read the configuration, no live probes
  maildns.audit.audit_host:
    checks: [resolver, postfix, spamassassin]
"""

RETURN = r"""
facts:
  description: What each part returned besides findings and checks, by part (resolver, postfix, ...).
  returned: always
  type: dict
audited:
  description: The parts that ran.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.maildns.audit.plugins.module_utils.audit_host import CHECKS, audit_host
from ansible_collections.maildns.audit.plugins.module_utils.probe_host import PROBE_ARGUMENT_SPEC, timeout_problem


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            **PROBE_ARGUMENT_SPEC,
            "checks": {"type": "list", "elements": "str", "choices": list(CHECKS), "default": list(CHECKS)},
            "lists": {"type": "list", "elements": "str", "default": []},
            "domains": {"type": "list", "elements": "str", "default": []},
        },
        supports_check_mode=True,
    )
    problem = timeout_problem(module.params["timeout"])
    if problem:
        module.fail_json(msg=problem)
    result = audit_host(
        checks=module.params["checks"],
        lists=module.params["lists"],
        outbound_ips=module.params["outbound_ips"],
        domains=module.params["domains"],
        timeout=module.params["timeout"],
        postfix_config_directory=module.params["postfix_config_directory"],
    )
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
