# Copyright: maildns.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters remediate.yml plans with: which roles a host's audit asks for, and what must be gone after."""

from __future__ import annotations

from ansible_collections.maildns.audit.plugins.module_utils._remediate.fleet_plan import (
    fixed_ids,
    host_plan,
    still_there,
)


def remediation_plan(audit_result, variables=None, force=None, exclude=None):  # type: ignore[no-untyped-def]
    """`audit_result | maildns.audit.remediation_plan(variables, force, exclude)` -> the host's plan."""
    return host_plan(audit_result, variables or {}, force or [], exclude or [])


def remediation_still_there(plan, audit_result):  # type: ignore[no-untyped-def]
    """`plan | maildns.audit.remediation_still_there(audit_result)` -> IDs meant to be fixed, still reported."""
    return still_there(plan, audit_result)


def remediation_fixed_ids(plan):  # type: ignore[no-untyped-def]
    return fixed_ids(plan)


ROLE_RESULTS = {"local_resolver": "local_resolver_result", "dnsbl_policy": "dnsbl_policy_result"}


def remediation_hosts(hosts, hostvars):  # type: ignore[no-untyped-def]
    """`groups[...] | maildns.audit.remediation_hosts(hostvars)` -> what remediation_report takes."""
    entries = {}
    for host in hosts:
        facts = hostvars[host]
        entries[host] = {
            "plan": facts.get("maildns_plan") or host_plan(facts.get("audit_result")),
            "results": {role: facts.get(variable) for role, variable in ROLE_RESULTS.items() if facts.get(variable)},
            "still_there": facts.get("maildns_still_there") or [],
        }
    return entries


class FilterModule:
    def filters(self):  # type: ignore[no-untyped-def]
        return {
            "remediation_plan": remediation_plan,
            "remediation_still_there": remediation_still_there,
            "remediation_fixed_ids": remediation_fixed_ids,
            "remediation_hosts": remediation_hosts,
        }
