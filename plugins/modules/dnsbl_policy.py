#!/usr/bin/python
# Copyright: maildns.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: dnsbl_policy
short_description: Make Postfix and SpamAssassin read DNSBL answers right - reply filters, Spamhaus DQS, fallback lists
version_added: 0.1.0
description:
  - Spamhaus and other DNSBLs answer errors as addresses (C(127.255.255.254) for a query through a public resolver).
    A Postfix that rejects on any answer bounces every sender. SpamAssassin 4 stops asking Spamhaus after such an
    answer and says nothing about it.
  - Plans from the same host model the audit reads, and changes each setting where it is written - main.cf, a
    master.cf service's C(-o) override (C(postconf -P)), a restriction class, a C($name) helper parameter,
    C(postscreen_dnsbl_sites). It adds the catalog's reply filter to every DNSBL use that has none or that admits
    error answers, and removes retired lists. Misspelled zones are corrected only with O(correct_misspelled).
  - With O(dqs_key), the Spamhaus zones become their DQS names (C(<key>.zen.dq.spamhaus.net), ...), and
    C(rbl_reply_maps) and C(postscreen_dnsbl_reply_map) name the public zone in SMTP replies, so the key never goes
    out to a sender. The maps are C(texthash) files, mode 0640, owned by root and the postfix group. SpamAssassin's
    Spamhaus rules ask the DQS zones too - the key fills a C(your_DQS_key) placeholder, or a rule file of the
    module's own is written. Its C(dnsblock_*) files are removed, so that it queries Spamhaus again.
  - O(fallback_lists) adds other operators' active, free lists, each filtered. Where postscreen runs, they are
    weighted, with a threshold, so that no single list rejects alone. O(warn_if_reject) logs every list's error
    answers (C(warn_if_reject reject_rbl_client zen.spamhaus.org=127.255.255.[252;254;255])).
  - In check mode it shows the plan and every file's diff (main.cf and master.cf as the real C(postconf) writes
    them, computed on a private copy), and writes nothing.
  - Otherwise one run does it all. It runs C(postfix check) first, for the warnings the host already has. Then
    C(postconf) and the files go in. C(postfix check) must exit 0 with no new warning or fatal line, and
    C(spamassassin --lint) must pass where a SpamAssassin file changed. The audit's own judge then reads the host
    again, and every finding the plan fixes must be gone. Only then are a running Postfix (C(postfix reload)) and
    spamd reloaded. Any failure restores every file byte for byte, mode and owner included, and fails with the
    checker's message.
  - Spamhaus DQS keys are masked as C(<DQS key>) in every returned value, diff, message and log line.
author:
  - maildns.audit contributors (!UNKNOWN)
options:
  dqs_key:
    description:
      - A Spamhaus Data Query Service key (8 to 64 letters and digits). Empty or not given means no DQS. DQS names
        already in the configuration are kept, and their keys are hidden from SMTP replies all the same.
      - Never printed. Ansible removes it from its output (C(no_log)), and the module masks it in everything it
        returns.
    type: str
  fallback_lists:
    description:
      - Other operators' lists to add beside Spamhaus, from the collection's DNSBL catalog (docs/DNSBLS.md). Each
        must be active, free and list IP addresses, for example C(bl.spamcop.net) or C(psbl.surriel.com).
    type: list
    elements: str
    default: []
  correct_misspelled:
    description:
      - Correct a zone the catalog knows under a near spelling (C(zen.spamhaus.rog)). By default it is only
        reported.
    type: bool
    default: false
  warn_if_reject:
    description: Add a C(warn_if_reject) rule for each list's error answers, so that Postfix logs them.
    type: bool
    default: false
  spamassassin:
    description: Change SpamAssassin too (DQS rules, C(dnsblock_*) files). V(false) leaves it alone.
    type: bool
    default: true
  spamassassin_site_directory:
    description:
      - SpamAssassin's site configuration directory. By default C(/etc/spamassassin), else
        C(/etc/mail/spamassassin).
    type: path
  spamassassin_file:
    description:
      - The DQS rule file the module writes where the host has no DQS rules. By default C(maildns_dqs.cf) in the
        site directory.
    type: path
  spamassassin_group:
    description:
      - Group of the SpamAssassin files that hold the key (mode 0640, owner root). By default C(debian-spamd) in
        C(/etc/spamassassin), else C(root). Give the group your spamd or amavis user is in.
    type: str
  rbl_reply_map:
    description: The C(texthash) map named by C(rbl_reply_maps). By default C(<config_directory>/maildns_rbl_reply).
    type: path
  postscreen_reply_map:
    description:
      - The map named by C(postscreen_dnsbl_reply_map). By default
        C(<config_directory>/maildns_postscreen_dnsbl_reply).
    type: path
  map_mode:
    description:
      - Mode of the reply maps, which hold the key. Others never get any access, and the postfix group must read
        them. C(postfix check) warns about a group-writable file in the configuration directory, which fails the
        run and rolls it back.
    type: str
    default: "0640"
  config_directory:
    description: The Postfix configuration directory.
    type: path
    default: /etc/postfix
  postconf_path:
    description: Path of C(postconf). By default it is looked up on C(PATH), then in C(/usr/sbin).
    type: path
  reload:
    description: Reload Postfix and spamd where they run and their configuration changed.
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    description:
      - Plans and shows each file's diff (main.cf and master.cf as postconf writes them on a private copy). Writes
        nothing.
  diff_mode:
    support: full
    description: Shows each changed file's before and after, DQS keys masked.
notes:
  - Run it with C(become).
  - Needs Postfix's C(postconf) and C(postfix). C(spamassassin) is needed where SpamAssassin files change.
  - The role maildns.audit.dnsbl_policy runs this module with C(no_log) when a key is given, and prints the masked diff
    itself.
seealso:
  - module: maildns.audit.postconf
  - module: maildns.audit.postfix_facts
  - name: Spamhaus - DQS for Postfix
    description: The DQS zone names and reply codes.
    link: https://docs.spamhaus.com/datasets/docs/source/40-real-world-usage/PublicMirrors/MTAs/020-Postfix.html
"""

EXAMPLES = r"""
- name: Reply filters on every DNSBL, retired lists gone (preview with --check --diff first)
  maildns.audit.dnsbl_policy:
  become: true

- name: Spamhaus through DQS, two fallback lists, error answers logged
  maildns.audit.dnsbl_policy:
    dqs_key: "{{ vault_spamhaus_dqs_key }}"
    fallback_lists: [bl.spamcop.net, psbl.surriel.com]
    warn_if_reject: true
  become: true
  no_log: true
  register: dnsbl_policy_result

- name: Only Postfix, SpamAssassin's files left alone
  maildns.audit.dnsbl_policy:
    spamassassin: false
  become: true
"""

RETURN = r"""
status:
  description: V(preview) (check mode), V(unchanged), V(applied) or V(failed) (rolled back).
  returned: always
  type: str
plan:
  description:
    - The plan, keys masked - postconf steps with before and after, shell commands, files, notes, findings
      fixed.
  returned: always
  type: dict
  contains:
    commands:
      description: The postconf commands, as shell lines.
      type: list
      elements: str
    findings_fixed:
      description: The finding IDs the change fixes. They are verified gone after the change.
      type: list
      elements: str
    notes:
      description: What the policy reports but does not change.
      type: list
      elements: str
  sample:
    commands: ["postconf -c /etc/postfix -e 'smtpd_client_restrictions=...'"]
    findings_fixed: [DNSBL_NO_REPLY_FILTER]
files:
  description:
    - Each file that changes (or would) - V(create), V(update), V(remove) or V(permissions), the reason, and the
      mode of the files that hold the key.
  returned: always
  type: list
  elements: dict
  sample: [{"path": "/etc/postfix/maildns_rbl_reply", "action": "create", "reason": "...", "mode": "0640 root:postfix"}]
actions:
  description: The checkers run, the verification and the reloads (in check mode, those that would run).
  returned: always
  type: list
  elements: str
  sample: ["postfix check", "verify: DNSBL_NO_REPLY_FILTER gone", "postfix reload"]
notes:
  description: The plan's notes and what the module could not do, masked.
  returned: always
  type: list
  elements: str
unified_diff:
  description: Every change as one unified diff (masked), for a report or for a no_log task's caller to print.
  returned: always
  type: str
rolled_back:
  description: The files restored after a failure.
  returned: on failure after a change
  type: list
  elements: str
log:
  description: Each step and its result (masked).
  returned: when not in check mode
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.maildns.audit.plugins.module_utils._remediate.dnsbl_policy_apply import (
    parse_mode,
    run_dnsbl_policy,
)
from ansible_collections.maildns.audit.plugins.module_utils._remediate.dnsbl_policy_plan import (
    PolicyError,
    PolicyOptions,
)
from ansible_collections.maildns.audit.plugins.module_utils.host_model import read_host


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "dqs_key": {"type": "str", "no_log": True},
            "fallback_lists": {"type": "list", "elements": "str", "default": []},
            "correct_misspelled": {"type": "bool", "default": False},
            "warn_if_reject": {"type": "bool", "default": False},
            "spamassassin": {"type": "bool", "default": True},
            "spamassassin_site_directory": {"type": "path"},
            "spamassassin_file": {"type": "path"},
            "spamassassin_group": {"type": "str"},
            "rbl_reply_map": {"type": "path"},
            "postscreen_reply_map": {"type": "path"},
            "map_mode": {"type": "str", "default": "0640"},
            "config_directory": {"type": "path", "default": "/etc/postfix"},
            "postconf_path": {"type": "path"},
            "reload": {"type": "bool", "default": True},
        },
        supports_check_mode=True,
    )
    params = module.params
    try:
        map_mode = parse_mode(params["map_mode"])
    except ValueError as error:
        module.fail_json(msg=str(error), status="failed")
    options = PolicyOptions(
        dqs_key=(params["dqs_key"] or "").strip() or None,
        fallback_lists=tuple(params["fallback_lists"]),
        correct_misspelled=params["correct_misspelled"],
        warn_if_reject=params["warn_if_reject"],
        rbl_reply_map=params["rbl_reply_map"] or "",
        postscreen_reply_map=params["postscreen_reply_map"] or "",
        spamassassin_file=params["spamassassin_file"] or "",
        spamassassin_group=params["spamassassin_group"] or "",
    )

    def reread():  # type: ignore[no-untyped-def]
        return read_host(
            postfix_config_directory=params["config_directory"],
            postconf_path=params["postconf_path"],
            spamassassin=params["spamassassin"],
            spamassassin_site_directory=params["spamassassin_site_directory"],
        )

    try:
        result = run_dnsbl_policy(
            reread(),
            options,
            module.check_mode,
            reread,
            postconf_path=params["postconf_path"],
            map_mode=map_mode,
            reload=params["reload"],
        )
    except PolicyError as error:
        module.fail_json(msg=str(error), status="failed")
    if not module._diff:
        result.pop("diff", None)
    if result.pop("failed", False):
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
