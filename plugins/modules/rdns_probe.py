#!/usr/bin/python
# Copyright: maildns.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: rdns_probe
short_description: Check a mail host's outbound identity - PTR, forward-confirmed rDNS, HELO name, MX
version_added: 0.1.0
description:
  - For each outbound address (I(outbound_ips), else Postfix's C(smtp_bind_address)/C(smtp_bind_address6), else the
    host's global IPv4 and IPv6 addresses) checks that a PTR exists, that there is only one, that its name resolves
    back to the address (forward-confirmed reverse DNS), and that it does not look generic or dynamic (address
    digits in the name, dsl/pool/dyn/dhcp words, long digit runs).
  - Checks that the HELO name Postfix sends (C(smtp_helo_name), by default C($myhostname)) is the PTR name and
    resolves to the address.
  - Checks the MX of C($mydomain) and of I(domains) - present, a host name and not an IP literal, not a CNAME,
    and resolving.
  - Asks the host's own nameservers, the next one when one fails; a lookup that fails on all of them makes its
    check C(unknown), never passed.
requirements:
  - dnspython on the managed host (Debian/Ubuntu C(python3-dnspython)).
author:
  - maildns.audit contributors (!UNKNOWN)
options:
  domains:
    description: Mail domains whose MX to check besides Postfix's C(mydomain).
    type: list
    elements: str
    default: []
  helo_name:
    description: The HELO name to check; Postfix's C(smtp_helo_name) when not given.
    type: str
extends_documentation_fragment:
  - maildns.audit.inspection
  - maildns.audit.probe
"""

EXAMPLES = r"""
- name: Check the host's outbound identity
  maildns.audit.rdns_probe:
  register: identity

- name: Check one address and two more domains
  maildns.audit.rdns_probe:
    outbound_ips: [192.0.2.25, 2001:db8::25]
    domains: [example.org, example.net]
"""

RETURN = r"""
helo:
  description: The HELO name checked and the addresses it resolves to.
  returned: always
  type: dict
addresses:
  description: Per outbound address, its PTR names and what each resolves to.
  returned: always
  type: list
  elements: dict
domains:
  description: Per mail domain, its MX records.
  returned: always
  type: list
  elements: dict
outbound_source:
  description: Where the outbound addresses came from.
  returned: always
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.maildns.audit.plugins.module_utils.probe_host import (
    PROBE_ARGUMENT_SPEC,
    identity_host,
    timeout_problem,
)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            **PROBE_ARGUMENT_SPEC,
            "domains": {"type": "list", "elements": "str", "default": []},
            "helo_name": {"type": "str"},
        },
        supports_check_mode=True,
    )
    problem = timeout_problem(module.params["timeout"])
    if problem:
        module.fail_json(msg=problem)
    result = identity_host(
        outbound_ips=module.params["outbound_ips"],
        domains=module.params["domains"],
        helo_name=module.params["helo_name"],
        timeout=module.params["timeout"],
        postfix_config_directory=module.params["postfix_config_directory"],
    )
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
