#!/usr/bin/python
# Copyright: maildns.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: resolver_facts
short_description: Find where a mail host's DNS queries go, and whether DNSBLs will refuse them
version_added: 0.1.0
description:
  - Parses C(/etc/resolv.conf) (nameserver, search, options rotate/timeout/attempts; a missing or empty file
    means glibc's 127.0.0.1 default) and classifies each nameserver as loopback, private, a known public
    resolver (with its provider) or an unknown public address.
  - For a loopback nameserver, finds what serves it (systemd-resolved stub, Unbound, BIND, dnsmasq,
    pdns-recursor) by listening socket and by configuration, and follows its forwarders; a local resolver that
    forwards C(.) to a public resolver is still a public path.
  - Compares Postfix's chroot copy C(<queue_directory>/etc/resolv.conf) with C(/etc/resolv.conf) when a Postfix
    service that resolves (smtpd, postscreen, smtp) runs chrooted.
  - Reports findings from the collection's catalog (for example C(RESOLV_CONF_PUBLIC_NAMESERVER),
    C(LOCAL_RESOLVER_FORWARDS_PUBLIC), C(POSTFIX_CHROOT_RESOLV_CONF_DRIFT)).
author:
  - maildns.audit contributors (!UNKNOWN)
options:
  postfix_config_directory:
    description:
      - Postfix configuration directory, read to find C(queue_directory) and which services run chrooted.
    type: path
    default: /etc/postfix
extends_documentation_fragment:
  - maildns.audit.inspection
"""

EXAMPLES = r"""
- name: Where do this host's DNS queries go?
  maildns.audit.resolver_facts:
  register: resolver

- name: Show the nameservers glibc really uses
  ansible.builtin.debug:
    msg: "{{ resolver.resolver_path.resolv_conf.effective_nameservers | map(attribute='address') | list }}"

- name: Fail when a public resolver is in the path
  ansible.builtin.assert:
    that: resolver.findings | selectattr('id', 'equalto', 'RESOLV_CONF_PUBLIC_NAMESERVER') | list | length == 0
    fail_msg: "{{ resolver.findings | map(attribute='title') | list }}"
"""

RETURN = r"""
resolver_path:
  description: The model of the host's resolver path.
  returned: always
  type: dict
  contains:
    resolv_conf:
      description: The parsed resolv.conf (C(nameservers) with line, class and provider; C(search); C(options);
        C(effective_nameservers), the ones glibc uses; C(problem) when it could not be read).
      type: dict
    local_resolvers:
      description: Resolvers configured on the host (software, config files, forwarders with class and provider,
        loopback addresses it listens on, whether it runs).
      type: list
      elements: dict
    listeners:
      description: Addresses listening on UDP port 53 in the host's network namespace, with the process name
        where it could be found; null when the socket tables could not be read.
      type: dict
    chroot:
      description: Postfix's chroot copy of resolv.conf (path, chrooted services, its nameservers, whether it
        differs from /etc/resolv.conf).
      type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.maildns.audit.plugins.module_utils.inspect_host import inspect_resolver_path


def main() -> None:
    module = AnsibleModule(
        argument_spec={"postfix_config_directory": {"type": "path", "default": "/etc/postfix"}},
        supports_check_mode=True,
    )
    result = inspect_resolver_path(postfix_config_directory=module.params["postfix_config_directory"])
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
