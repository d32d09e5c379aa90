#!/usr/bin/python
# Copyright: maildns.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: postfix_facts
short_description: Read Postfix's effective DNSBL configuration and the harm DNSBL errors already did
version_added: 0.1.0
description:
  - Reads Postfix's effective configuration through Postfix's own C(postconf) (main.cf, defaults, C($name)
    expansion, and master.cf C(-o) overrides per smtpd and postscreen service). Without Postfix's tools it parses
    main.cf and master.cf itself (continuation lines, C($name), C(${name?text}), C(-o { name = value }), and the
    defaults of the parameters it reads) and says so in C(postfix.source).
  - Extracts every DNSBL use - C(reject_rbl_client), C(reject_rhsbl_*), C(permit_dnswl_client),
    C(warn_if_reject), restriction classes, C(postscreen_dnsbl_sites) with filters and weights,
    C(postscreen_dnsbl_threshold), C(postscreen_dnsbl_reply_map), C(rbl_reply_maps) - and the host's identity
    parameters (C(myhostname), C(smtp_helo_name), C(mydomain), C(smtp_bind_address(6)), C(inet_protocols)) and
    C(reject_unknown_*) restrictions.
  - Scans the last I(log_max_bytes) of the mail log (Postfix's C(maillog_file), C(/var/log/mail.log) or
    C(/var/log/maillog)) for rejections caused by DNSBL error answers, counted per list and day. A host with
    no log file (no syslog daemon, as on Debian 12 without rsyslog) is read from the journal with
    C(journalctl), for the C(smtpd) and C(postscreen) entries of C(postfix) and of Postfix's C(syslog_name).
  - Judges them against the collection's DNSBL catalog (for example C(DNSBL_NO_REPLY_FILTER),
    C(DBL_WITHOUT_FILTER), C(DNSBL_RETIRED), C(DQS_KEY_EXPOSED_IN_SMTP_REPLY), C(MAIL_REJECTED_BY_DNSBL_ERROR)).
author:
  - maildns.audit contributors (!UNKNOWN)
options:
  config_directory:
    description: Postfix configuration directory (what C(postconf -c) takes).
    type: path
    default: /etc/postfix
  use_postconf:
    description:
      - Ask C(postconf) for the effective configuration. When false, or when C(postconf) is not installed, parse
        the files instead, with reduced fidelity (only the defaults this module knows).
    type: bool
    default: true
  postconf_path:
    description: Path of C(postconf); found on C(PATH) or in C(/usr/sbin) when not given.
    type: path
  scan_log:
    description: Scan the mail log for rejections caused by DNSBL error answers.
    type: bool
    default: true
  log_file:
    description:
      - The mail log to scan; by default Postfix's C(maillog_file), then C(/var/log/mail.log), C(/var/log/maillog),
        then the journal.
    type: path
  log_max_bytes:
    description:
      - Read at most this many bytes from the end of the log, so that a huge log costs a bounded read.
      - From the journal, the last I(log_max_bytes) / 256 entries (at least 1000) are read.
    type: int
    default: 20971520
extends_documentation_fragment:
  - maildns.audit.inspection
"""

EXAMPLES = r"""
- name: Read Postfix's DNSBL configuration
  maildns.audit.postfix_facts:
  register: postfix

- name: List every DNSBL zone Postfix queries, and how
  ansible.builtin.debug:
    msg: "{{ postfix.postfix.dnsbl_uses | map(attribute='zone') | list }}"

- name: Read an alternative instance, without postconf, and without the log
  maildns.audit.postfix_facts:
    config_directory: /etc/postfix-out
    use_postconf: false
    scan_log: false
"""

RETURN = r"""
installed:
  description: Whether a Postfix configuration was found.
  returned: always
  type: bool
postfix:
  description: Postfix's effective configuration as far as DNS and DNSBLs go; null when Postfix is not installed.
  returned: always
  type: dict
  contains:
    source:
      description: C(postconf) or C(files) (the file parser, when postconf is absent or failed).
      type: str
    parameters:
      description: Effective, expanded values of the identity and DNSBL parameters (DQS keys masked).
      type: dict
    services:
      description: master.cf services with command, chroot flag and C(-o) overrides.
      type: list
    dnsbl_uses:
      description:
        - Every DNSBL use. C(zone), C(filter), C(restriction), C(action) (reject, warn, permit, score, allow),
          C(weight) (postscreen), C(parameter), C(scope) (main.cf or the master.cf service), C(origin) (file and
          line), C(active) (postscreen sites count only when postscreen runs), C(dqs), C(via_class).
      type: list
    master_overrides:
      description: master.cf overrides of DNSBL parameters that differ from main.cf.
      type: list
    reject_unknown:
      description: C(reject_unknown_*) restrictions in use.
      type: list
    chrooted_services:
      description: Services that resolve names (smtpd, postscreen, smtp, dnsblog) and run chrooted.
      type: list
    rejections_by_dnsbl_error:
      description: From the mail log, rejections caused by DNSBL error answers (log, bytes read, total, counts per
        zone and day, an example line and the error text per zone).
      type: dict
      returned: when I(scan_log=true)
    problems:
      description: What could not be read, and why.
      type: list
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.maildns.audit.plugins.module_utils.inspect_host import inspect_postfix


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "config_directory": {"type": "path", "default": "/etc/postfix"},
            "use_postconf": {"type": "bool", "default": True},
            "postconf_path": {"type": "path"},
            "scan_log": {"type": "bool", "default": True},
            "log_file": {"type": "path"},
            "log_max_bytes": {"type": "int", "default": 20 * 1024 * 1024},
        },
        supports_check_mode=True,
    )
    if module.params["log_max_bytes"] <= 0:
        module.fail_json(msg="log_max_bytes must be a positive number of bytes, for example 20971520 (20 MiB)")
    result = inspect_postfix(
        config_directory=module.params["config_directory"],
        use_postconf=module.params["use_postconf"],
        postconf_path=module.params["postconf_path"],
        scan_log=module.params["scan_log"],
        log_file=module.params["log_file"],
        log_max_bytes=module.params["log_max_bytes"],
    )
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
