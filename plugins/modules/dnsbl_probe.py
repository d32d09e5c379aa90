#!/usr/bin/python
# Copyright: maildns.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: dnsbl_probe
short_description: Probe every DNSBL the mail host uses through every resolver on its path
version_added: 0.1.0
description:
  - Finds the DNSBLs the host uses (Postfix restrictions and postscreen sites, SpamAssassin rules) plus I(lists),
    and the resolvers a lookup can go through (each C(nameserver) glibc uses, Postfix's chroot copy when it
    differs, SpamAssassin's C(dns_server)).
  - Asks each list's RFC 5782 test points (C(2.0.0.127.<zone>) must be listed, C(1.0.0.127.<zone>) must not; the
    IPv6 ones where the list serves IPv6; C(test)/C(invalid) for domain lists) through each resolver separately,
    all at once with a per-query timeout, and classifies each (list, resolver) pair - C(working),
    C(blocked_open_resolver) (127.255.255.254), C(rate_limited) (127.255.255.255), C(wrong_list)
    (127.255.255.252), C(dead), C(lists_the_world), C(hijacked) (answers outside 127/8), C(unreachable) (timeout,
    SERVFAIL, REFUSED, no route) or C(malformed) - with the raw answers and the time taken.
  - Wherever a pair does not work, asks the list's own name servers directly (no recursion) for both test points,
    and says who is at fault - C(at_fault) C(resolver) or C(list). An active list that fails through one resolver
    but is listed at its own name servers (Google Public DNS answers NXDOMAIN for every Spamhaus name) is
    C(DNSBL_HIDDEN_BY_RESOLVER), never a dead list. The NS questions join the same batch as the test points only
    where a test point fails or has no answer after a short stall, so a host whose lists all answer asks nothing
    more.
  - Reads the TXT beside an error answer and reports the resolver it names (C(egress)), the one that really
    reached Spamhaus, often a forwarder behind the configured one.
  - Reports answers slower than 1 s as C(DNSBL_LIST_SLOW) or C(DNSBL_RESOLVER_SLOW); a malformed answer (another
    question, a CNAME loop, the wrong record type, garbage) as C(RESOLVER_ANSWER_MALFORMED).
  - Checks the host's outbound addresses against every IP list through a path that works, with the meaning of
    each listing code and the list's lookup page; an error answer is never reported as a listing.
requirements:
  - dnspython on the managed host (Debian/Ubuntu C(python3-dnspython)) for per-resolver, TXT and authoritative
    answers. Without it the module probes through the system resolver (libc) only, A records only, and says so in
    C(engine) and C(checks).
author:
  - maildns.audit contributors (!UNKNOWN)
options:
  lists:
    description: DNSBL zones to probe besides the ones the host uses.
    type: list
    elements: str
    default: []
  check_outbound:
    description: Check the outbound addresses against every IP list.
    type: bool
    default: true
extends_documentation_fragment:
  - maildns.audit.inspection
  - maildns.audit.probe
"""

EXAMPLES = r"""
- name: Probe the host's DNSBLs through its own resolver path
  maildns.audit.dnsbl_probe:
  register: probe

- name: Show the pairs that do not work
  ansible.builtin.debug:
    msg: "{{ item.zone }} via {{ item.resolver }} ({{ item.resolver_source }}): {{ item.classification }}"
  loop: "{{ probe.probes | rejectattr('classification', 'equalto', 'working') | list }}"

- name: Probe two more lists, with a short timeout, for one given address
  maildns.audit.dnsbl_probe:
    lists: [psbl.surriel.com, bl.mailspike.net]
    outbound_ips: [192.0.2.25]
    timeout: 1.5
"""

RETURN = r"""
engine:
  description: C(dnspython), or C(libc) when dnspython is missing (reduced fidelity, see C(checks)).
  returned: always
  type: str
resolvers:
  description: The resolvers probed, with where the host names each (file and line).
  returned: always
  type: list
  elements: dict
lists:
  description: The DNSBL zones probed (DQS keys masked).
  returned: always
  type: list
  elements: str
probes:
  description:
    - One entry per (list, resolver) pair - C(zone), C(resolver), C(resolver_source), C(classification) (what the
      resolver answered), C(detail), C(queries) (name, type, rcode, answers, error, elapsed_ms), C(slowest_ms),
      C(at_fault) (C(resolver), C(list) or empty) and, for pairs that do not work, C(authoritative) (the list's
      own server, its answer and its C(verdict) - alive, dead, lists_the_world, silent or unknown); for error
      answers also C(explanation) (the TXT) and C(egress) (the resolver address it names).
  returned: always
  type: list
  elements: dict
outbound:
  description:
    - One entry per (list, outbound address) - C(zone), C(ip), C(listed), C(codes) (answer and meaning),
      C(errors) (error answers, never counted as listings), C(lookup_url), C(resolver), C(status), C(reason).
  returned: always
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.maildns.audit.plugins.module_utils.probe_host import (
    PROBE_ARGUMENT_SPEC,
    probe_host,
    timeout_problem,
)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            **PROBE_ARGUMENT_SPEC,
            "lists": {"type": "list", "elements": "str", "default": []},
            "check_outbound": {"type": "bool", "default": True},
        },
        supports_check_mode=True,
    )
    problem = timeout_problem(module.params["timeout"])
    if problem:
        module.fail_json(msg=problem)
    result = probe_host(
        lists=module.params["lists"],
        outbound_ips=module.params["outbound_ips"],
        timeout=module.params["timeout"],
        check_outbound=module.params["check_outbound"],
        postfix_config_directory=module.params["postfix_config_directory"],
    )
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
