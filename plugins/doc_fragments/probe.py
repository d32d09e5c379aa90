# Copyright: maildns.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Options the live probes share (their argument spec: probe_host.PROBE_ARGUMENT_SPEC).
    DOCUMENTATION = r"""
options:
  outbound_ips:
    description:
      - Outbound addresses to check. By default Postfix's C(smtp_bind_address) and C(smtp_bind_address6), else
        the host's global IPv4 and IPv6 addresses.
    type: list
    elements: str
    default: []
  timeout:
    description:
      - Seconds to wait for each answer (more than 0, at most 60).
      - When every list answers, the whole probe takes about the slowest answer; a list or resolver that does not
        answer costs one timeout, and asking the failing lists' own name servers at most three more.
      - An answer slower than 1 s is reported as a slow list or a slow resolver (alive, but at risk of timing out).
    type: float
    default: 2.5
  postfix_config_directory:
    description: Postfix configuration directory, read for the lists, C(smtp_helo_name), C(mydomain), the chroot and
      C(smtp_bind_address).
    type: path
    default: /etc/postfix
"""
