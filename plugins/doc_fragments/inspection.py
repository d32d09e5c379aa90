# Copyright: maildns.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # What every inspection module returns beside its own facts.
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    support: full
    description: Read-only; runs the same in check mode.
  diff_mode:
    support: none
    description: Changes nothing, so there is no diff to show.
notes:
  - Read-only. Nothing on the host is changed; run it with C(become) so that every file can be read.
  - A check that cannot run (file missing, unreadable, binary, too large, tool absent) is reported with
    status C(unknown) and the reason, never as passed.
  - Spamhaus DQS keys are masked as C(<DQS key>) in every returned value.
seealso:
  - name: Finding catalog
    description: Every finding ID with its severity and fix (docs/FINDINGS.md in the collection).
    link: https://example.invalid/maildns/audit/docs/FINDINGS.md
"""

    RETURN = r"""
findings:
  description:
    - The findings on this host, from the collection's finding catalog.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Stable finding ID (see docs/FINDINGS.md).
      type: str
      sample: RESOLV_CONF_PUBLIC_NAMESERVER
    severity:
      description: One of critical, high, medium, low, info.
      type: str
      sample: critical
    title:
      description: One line saying what is wrong.
      type: str
    fix:
      description: What to do, and which role and variable does it.
      type: str
    evidence:
      description: File and line, effective value and service, or query and answer, that triggered it.
      type: dict
checks:
  description: Each check this module ran, with C(ok) or C(unknown) and the reason.
  returned: always
  type: list
  elements: dict
  sample: [{"name": "resolv_conf", "status": "ok", "reason": ""}]
status:
  description: C(unknown) when any check could not run, else C(ok).
  returned: always
  type: str
  sample: ok
"""
