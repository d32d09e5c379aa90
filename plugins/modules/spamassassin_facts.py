#!/usr/bin/python
# Copyright: maildns.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: spamassassin_facts
short_description: Read SpamAssassin's DNS settings, DNSBL rules and DQS set-up
version_added: 0.1.0
description:
  - Reads SpamAssassin's site configuration directory (Debian's C(/etc/spamassassin) or upstream's
    C(/etc/mail/spamassassin)) as SpamAssassin does, C(*.pre) then C(*.cf) in lexical order, following
    C(include) lines; an include cycle is reported, not followed forever.
  - Returns C(dns_server), C(dns_available), C(skip_rbl_checks), C(rbl_timeout), DNSBL rules and score
    overrides, the Spamhaus DQS plugin and any C(your_DQS_key) placeholder left in place, the installed version,
    whether the installed rules know the C(*_BLOCKED) error answers, and SpamAssassin 4's C(dnsblock_*) files
    (it stopped querying a zone after a blocked answer).
  - Reports findings such as C(SPAMASSASSIN_DNS_SERVER_PUBLIC), C(SPAMASSASSIN_DQS_PLACEHOLDER),
    C(SPAMASSASSIN_DNSBL_BLOCKED).
author:
  - maildns.audit contributors (!UNKNOWN)
options:
  site_directory:
    description: The site configuration directory; the first of C(/etc/spamassassin), C(/etc/mail/spamassassin)
      that exists when not given.
    type: path
  spamassassin_path:
    description: The C(spamassassin) program, asked for its version; found on C(PATH) when not given.
    type: path
extends_documentation_fragment:
  - maildns.audit.inspection
"""

EXAMPLES = r"""
- name: Read SpamAssassin's DNS settings
  maildns.audit.spamassassin_facts:
  register: sa

- name: Show the DNS servers SpamAssassin uses instead of resolv.conf
  ansible.builtin.debug:
    msg: "{{ sa.spamassassin.dns_servers | map(attribute='address') | list }}"
  when: sa.installed
"""

RETURN = r"""
installed:
  description: Whether a SpamAssassin configuration was found.
  returned: always
  type: bool
spamassassin:
  description: SpamAssassin's DNS-related configuration; null when none was found.
  returned: always
  type: dict
  contains:
    site_directory:
      description: The directory read.
      type: str
    files:
      description: Every file read, in order.
      type: list
    dns_servers:
      description: C(dns_server) lines (address, raw value, file, line).
      type: list
    dns_available:
      description: The C(dns_available) setting.
      type: str
    skip_rbl_checks:
      description: Whether C(skip_rbl_checks) is on.
      type: bool
    rbl_timeout:
      description: The C(rbl_timeout) setting, empty when not set.
      type: str
    dnsbl_rules:
      description: DNSBL rules (C(check_rbl*) header rules and C(askdns)) with zone, file and line.
      type: list
    scores:
      description: Score overrides by rule name.
      type: dict
    dqs_plugin:
      description: Whether a Spamhaus DQS plugin is loaded (SpamAssassin 3.x set-up).
      type: bool
    dqs_placeholders:
      description: Where the C(your_DQS_key) placeholder was left in place.
      type: list
    version:
      description: The installed SpamAssassin version, empty when it could not be asked.
      type: str
    knows_blocked_rules:
      description: Whether the installed rules know RCVD_IN_ZEN_BLOCKED; null when no rules were found.
      type: bool
    block_files:
      description: SpamAssassin 4 C(dnsblock_*) files (file, zone).
      type: list
    problems:
      description: What could not be read, and why.
      type: list
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.maildns.audit.plugins.module_utils.inspect_host import inspect_spamassassin


def main() -> None:
    module = AnsibleModule(
        argument_spec={"site_directory": {"type": "path"}, "spamassassin_path": {"type": "path"}},
        supports_check_mode=True,
    )
    result = inspect_spamassassin(
        site_directory=module.params["site_directory"], spamassassin_path=module.params["spamassassin_path"]
    )
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
