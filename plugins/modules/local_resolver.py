#!/usr/bin/python
# Copyright: maildns.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: local_resolver
short_description: Make a mail host's own Unbound its recursive resolver, on every path its mail software uses
version_added: 0.1.0
description:
  - DNSBLs such as Spamhaus refuse queries that reach them through public resolvers (Cloudflare, Google,
    Quad9, ...). They answer C(127.255.255.254), which Postfix without a reply filter reads as a listing, or
    nothing at all. The fix every mail guide gives is a resolver of the host's own that recurses itself.
  - Plans from the same host model the audit reads (M(maildns.audit.resolver_facts)), then applies in this
    order, so that the host always has working DNS. First Unbound, with a drop-in the module owns
    (C(/etc/unbound/unbound.conf.d/zz-maildns-local-resolver.conf), loopback only, no forwarding, hardening and
    prefetch), a forward zone for C(.) to a public resolver taken out (the old file kept as
    C(<file>.maildns-backup)), C(unbound-checkconf), Unbound started or restarted, and the RFC 5782 test points
    of the host's own DNSBLs asked through it (C(127.0.0.2) listed, C(127.0.0.1) not, no C(127.255.255.x)).
  - Then the resolver path. C(/etc/resolv.conf) is rewritten in place (a container's is a bind mount that
    refuses a rename), or, where glibc asks a running systemd-resolved's stub, a resolved drop-in with C(DNS=)
    sends the stub to Unbound. Postfix's chroot copy C(<queue_directory>/etc/resolv.conf) follows, and the test
    points are asked again through every address glibc now uses. SpamAssassin's public C(dns_server) lines
    point at Unbound (checked with C(spamassassin --lint)), and its C(dnsblock_*) files go, so that it queries
    the lists again.
  - Running daemons pick the change up. C(postfix reload) runs after the chroot copy is refreshed (Debian's
    chrooted smtpd reads only the copy, and caches DNSBL verdicts for its life), and spamd is reloaded. Only
    what changed is reloaded.
  - Any failure (a configuration C(unbound-checkconf) refuses, an Unbound that does not start, wrong answers
    through the new path) restores every file it changed byte for byte, puts the daemons back on them, and
    fails with the reason.
  - A host whose loopback resolver is BIND or pdns-recursor that does not forward is left alone, and the module
    says so. Where NetworkManager, resolvconf or netplan writes C(/etc/resolv.conf), it stops with the setting
    to change there, unless O(managed_resolv_conf_ok=true).
  - Works with systemd and without it (the distribution's init scripts, as in containers). Unbound must be
    installed; the C(maildns.audit.local_resolver) role installs it.
author:
  - maildns.audit contributors (!UNKNOWN)
options:
  listen:
    description:
      - Loopback addresses Unbound answers on, in the order C(/etc/resolv.conf) names them. C(::1) is left out
        where the host has no IPv6 loopback.
    type: list
    elements: str
    default: [127.0.0.1, "::1"]
  dnssec:
    description:
      - Validate DNSSEC (C(module-config "validator iterator")) with the distribution's root trust anchor
        (Debian - dns-root-data). Set V(false) only where the root is not the real one (a lab with its own
        unsigned root, see O(root_hints)).
    type: bool
    default: true
  root_hints:
    description:
      - Root servers other than Unbound's built-in ones, as C(name) and C(address); written to
        C(/etc/unbound/maildns-root.hints) and named by C(root-hints). Empty - the real root.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The root server's name (C(ns.lab.test.)).
        type: str
        required: true
      address:
        description: Its IPv4 or IPv6 address.
        type: str
        required: true
  unblock_lan_zones:
    description:
      - Ask private reverse zones (C(10.in-addr.arpa), ...) upstream instead of answering them NXDOMAIN locally
        (C(unblock-lan-zones), C(insecure-lan-zones)). Needed where the host's own PTR lives in such a zone
        served by an internal authority.
    type: bool
    default: false
  special_zones:
    description:
      - Special-use zones that Unbound answers itself by default (RFC 6761 and its successors - C(test),
        C(invalid), C(onion), C(home.arpa), ...) to be asked upstream instead (C(local-zone "NAME." nodefault)),
        for a lab or an internal namespace served by its own authority.
    type: list
    elements: str
    default: []
  resolv_conf:
    description:
      - Point the host's resolver path at Unbound (C(/etc/resolv.conf) or systemd-resolved). V(false) sets up
        and verifies Unbound only.
    type: bool
    default: true
  postfix_chroot:
    description: Refresh Postfix's chroot copy of resolv.conf where a Postfix service that resolves runs chrooted.
    type: bool
    default: true
  spamassassin:
    description: Point SpamAssassin's public C(dns_server) lines at Unbound and remove its C(dnsblock_*) files.
    type: bool
    default: true
  managed_resolv_conf_ok:
    description:
      - Write C(/etc/resolv.conf) even where NetworkManager, resolvconf or netplan manages it (they may write it
        again later). By default the module stops there and names the setting to change in that tool.
    type: bool
    default: false
  postfix_config_directory:
    description: Postfix configuration directory, read for C(queue_directory) and the chrooted services.
    type: path
    default: /etc/postfix
  timeout:
    description: Seconds to wait for each verification answer.
    type: float
    default: 2.5
attributes:
  check_mode:
    support: full
    description: Plans and shows the diff of every file; changes nothing and starts nothing.
  diff_mode:
    support: full
    description: Shows each file's before and after (created, changed or removed).
notes:
  - Run it with C(become). Files are written in place, so a bind-mounted C(/etc/resolv.conf) works.
  - Spamhaus DQS keys are masked as C(<DQS key>) in every returned value and diff.
seealso:
  - module: maildns.audit.resolver_facts
  - name: Spamhaus - using a public resolver
    description: Why queries through public resolvers are refused.
    link: https://www.spamhaus.org/resource-hub/email-security/if-you-query-the-legacy-dnsbls-via-public-dns-resolvers-you-will-be-blocked/
"""

EXAMPLES = r"""
- name: Make Unbound this mail host's resolver (preview with --check --diff first)
  maildns.audit.local_resolver:
  become: true

- name: Set up and verify Unbound, leave resolv.conf to the network manager
  maildns.audit.local_resolver:
    resolv_conf: false
  become: true

- name: A lab whose root server is its own (unsigned)
  maildns.audit.local_resolver:
    dnssec: false
    unblock_lan_zones: true
    special_zones: [test]
    root_hints:
      - name: ns.lab.test.
        address: 10.231.53.1
"""

RETURN = r"""
plan:
  description: What the module decided for this host.
  returned: always
  type: dict
  contains:
    status:
      description: V(change), V(leave_alone) (another recursor already serves the host) or V(blocked).
      type: str
    reason:
      description: Why the host is left alone or blocked, and what to change.
      type: str
    listen:
      description: The addresses Unbound answers on.
      type: list
      elements: str
    path_addresses:
      description: The addresses glibc asks after the change.
      type: list
      elements: str
    verify_zones:
      description: The DNSBLs whose test points verify the change (the host's own active ones).
      type: list
      elements: str
    notes:
      description: What was taken out or left, in words.
      type: list
      elements: str
  sample: {"status": "change", "listen": ["127.0.0.1", "::1"], "verify_zones": ["zen.spamhaus.org"]}
files:
  description: Each file that changes (or would), with V(create), V(update) or V(remove) and the reason.
  returned: always
  type: list
  elements: dict
  sample: [{"path": "/etc/resolv.conf", "action": "update", "reason": "glibc asks the local Unbound"}]
actions:
  description: Services started or reloaded and checkers run (or that would be).
  returned: always
  type: list
  elements: str
  sample: ["start unbound", "postfix reload"]
verification:
  description: The test-point answers through Unbound and through the new path, per resolver and list.
  returned: when the change was applied
  type: dict
rolled_back:
  description: The files restored after a failure.
  returned: on failure after a change
  type: list
  elements: str
log:
  description: Each command run and its exit status.
  returned: when the change was applied
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.maildns.audit.plugins.module_utils._remediate.local_resolver_apply import (
    ipv6_loopback,
    run_local_resolver,
)
from ansible_collections.maildns.audit.plugins.module_utils._remediate.local_resolver_plan import ResolverOptions
from ansible_collections.maildns.audit.plugins.module_utils.host_model import read_host


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "listen": {"type": "list", "elements": "str", "default": ["127.0.0.1", "::1"]},
            "dnssec": {"type": "bool", "default": True},
            "root_hints": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": {"name": {"type": "str", "required": True}, "address": {"type": "str", "required": True}},
            },
            "unblock_lan_zones": {"type": "bool", "default": False},
            "special_zones": {"type": "list", "elements": "str", "default": []},
            "resolv_conf": {"type": "bool", "default": True},
            "postfix_chroot": {"type": "bool", "default": True},
            "spamassassin": {"type": "bool", "default": True},
            "managed_resolv_conf_ok": {"type": "bool", "default": False},
            "postfix_config_directory": {"type": "path", "default": "/etc/postfix"},
            "timeout": {"type": "float", "default": 2.5},
        },
        supports_check_mode=True,
    )
    params = module.params
    problem = _listen_problem(params["listen"])
    if problem:
        module.fail_json(msg=problem)
    host = read_host(postfix_config_directory=params["postfix_config_directory"])
    options = ResolverOptions(
        listen=params["listen"],
        ipv6_loopback=ipv6_loopback(host.files),
        dnssec=params["dnssec"],
        root_hints=params["root_hints"],
        unblock_lan_zones=params["unblock_lan_zones"],
        special_zones=params["special_zones"],
        resolv_conf=params["resolv_conf"],
        postfix_chroot=params["postfix_chroot"],
        spamassassin=params["spamassassin"],
        managed_resolv_conf_ok=params["managed_resolv_conf_ok"],
    )
    result = run_local_resolver(host, options, module.check_mode, timeout=params["timeout"])
    if not module._diff:
        result.pop("diff", None)
    if result.pop("failed", False):
        module.fail_json(**result)
    module.exit_json(**result)


def _listen_problem(listen: list) -> str:
    import ipaddress

    for address in listen:
        try:
            if not ipaddress.ip_address(address).is_loopback:
                return "listen: %s is not a loopback address; Unbound must serve this host only" % address
        except ValueError:
            return "listen: %r is not an IP address; give loopback addresses such as 127.0.0.1 and ::1" % address
    if not listen:
        return "listen: give at least one loopback address, such as 127.0.0.1"
    return ""


if __name__ == "__main__":
    main()
