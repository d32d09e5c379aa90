"""remediate.yml's plan: which roles a host's audit asks for, and the fleet-wide preview (issue 12)."""

from __future__ import annotations

import json

from ansible_collections.maildns.audit.plugins.module_utils._remediate.fleet_plan import (
    fixed_ids,
    fleet_plan,
    host_plan,
    render_markdown,
    still_there,
    write_plan,
)

LOCAL = "maildns.audit.local_resolver"
POLICY = "maildns.audit.dnsbl_policy"


def finding(finding_id: str, severity: str = "high", **evidence: object) -> dict:
    return {"id": finding_id, "severity": severity, "evidence": evidence}


SEED_HOST = {
    "findings": [
        finding("DNSBL_RESOLVER_REFUSED", "critical", zone="zen.spamhaus.org", at_fault="resolver"),
        finding("DNSBL_NO_REPLY_FILTER", zone="zen.spamhaus.org"),
        finding("DNSBL_SINGLE_LIST", "low", zone="zen.spamhaus.org"),
        finding("PTR_MISSING", ip="192.0.2.25", query="25.2.0.192.in-addr.arpa", ptr=[]),
        finding("MAIL_REJECTED_BY_DNSBL_ERROR", "critical", rejections=3),
    ],
    "facts": {"identity": {"helo": {"name": "mail.example.org"}}},
}


def test_the_seed_host_gets_both_roles_path_first_and_the_rest_is_said() -> None:
    plan = host_plan(SEED_HOST)
    assert plan["roles"] == [LOCAL, POLICY]
    assert [(f["id"], f["role"]) for f in plan["fixes"]] == [
        ("DNSBL_RESOLVER_REFUSED", LOCAL),
        ("DNSBL_NO_REPLY_FILTER", POLICY),
    ]
    assert plan["needs"] == [
        {
            "id": "DNSBL_SINGLE_LIST",
            "severity": "low",
            "title": plan["needs"][0]["title"],
            "role": POLICY,
            "reason": "set dnsbl_policy_fallback_lists",
        }
    ]
    records = {o["id"]: o.get("record") for o in plan["outside"]}
    assert records == {
        "PTR_MISSING": "25.2.0.192.in-addr.arpa. PTR mail.example.org.",
        "MAIL_REJECTED_BY_DNSBL_ERROR": None,
    }


def test_a_variable_set_lets_its_role_fix_and_only_whether_it_is_set_counts() -> None:
    plan = host_plan(SEED_HOST, {"dnsbl_policy_fallback_lists": True})
    assert "DNSBL_SINGLE_LIST" in fixed_ids(plan) and plan["needs"] == []


def test_force_and_exclude() -> None:
    healthy = {"findings": [finding("PTR_MISSING", ip="192.0.2.1", query="1.2.0.192.in-addr.arpa")]}
    assert host_plan(healthy)["roles"] == []
    assert host_plan(healthy, force=["dnsbl_policy"])["roles"] == [POLICY]
    plan = host_plan(SEED_HOST, exclude=["local_resolver"])
    assert plan["roles"] == [POLICY]
    assert [n["reason"] for n in plan["needs"] if n["id"] == "DNSBL_RESOLVER_REFUSED"] == [
        "role excluded (maildns_remediate_exclude)"
    ]


def test_a_list_at_fault_is_not_given_to_the_local_resolver() -> None:
    result = {"findings": [finding("DNSBL_UNREACHABLE", "medium", zone="dead.example", at_fault="list")]}
    plan = host_plan(result)
    assert plan["roles"] == [] and plan["outside"][0]["id"] == "DNSBL_UNREACHABLE"


def test_hosts_not_audited_are_left_alone_with_the_reason() -> None:
    assert host_plan(None)["skipped"] == "not audited: no audit result"
    assert host_plan({"unreachable": True, "msg": "ssh: no route"})["skipped"] == "not audited: ssh: no route"
    # A report.json entry (maildns_audit_report) of a host that timed out.
    entry = {"host": "mx9", "audited": False, "reason": "the audit did not finish within 310 s", "findings": []}
    plan = host_plan(entry)
    assert plan["roles"] == [] and "did not finish" in plan["skipped"]


def test_waived_findings_ask_for_nothing() -> None:
    waived = dict(finding("DNSBL_NO_REPLY_FILTER"), waived=True)
    assert host_plan({"findings": [waived]})["roles"] == []


def test_the_re_audit_names_what_is_still_there() -> None:
    plan = host_plan(SEED_HOST)
    after = {"findings": [finding("DNSBL_NO_REPLY_FILTER"), finding("DNSBL_SINGLE_LIST", "low")]}
    assert still_there(plan, after) == ["DNSBL_NO_REPLY_FILTER"]
    assert still_there(plan, {"findings": []}) == []


def test_the_preview_lists_files_actions_and_untouched_hosts_and_masks_keys(tmp_path) -> None:
    key_reason = "postconf: smtpd_client_restrictions (abcdefghijklmnop1234.zen.dq.spamhaus.net)"
    hosts = {
        "mx02": {
            "plan": host_plan(SEED_HOST),
            "results": {
                "local_resolver": {
                    "changed": True,
                    "files": [{"path": "/etc/resolv.conf", "action": "update", "reason": "glibc asks Unbound"}],
                    "actions": ["start unbound", "postfix reload"],
                },
                "dnsbl_policy": {
                    "changed": True,
                    "files": [{"path": "/etc/postfix/main.cf", "action": "update", "reason": key_reason}],
                    "actions": ["postfix check"],
                },
            },
        },
        "mx01": {"plan": host_plan({"findings": []})},
        "mx99": {"plan": host_plan(None)},
    }
    report = fleet_plan(hosts, check_mode=True)
    assert report["summary"] == {"hosts": 3, "to_change": 1, "untouched": 2, "failed": 0, "files": 2}
    written = write_plan(report, str(tmp_path))
    assert sorted(written) == [str(tmp_path / "plan.json"), str(tmp_path / "plan.md")]
    text = (tmp_path / "plan.md").read_text()
    assert text.startswith(
        "# Remediation plan\n\n3 hosts: 1 would change, 2 untouched, 0 failed; 2 files would change."
    )
    assert "| mx02 | local_resolver, dnsbl_policy | 2 | 2 | 3 |" in text
    assert "Not touched: no finding a role fixes." in text and "Not touched: not audited: no audit result." in text
    assert (
        "- `/etc/resolv.conf` (update): glibc asks Unbound" in text and "Then: start unbound, postfix reload." in text
    )
    both = text + (tmp_path / "plan.json").read_text()
    assert "abcdefghijklmnop1234" not in both and "<DQS key>.zen.dq.spamhaus.net" in both
    assert json.loads((tmp_path / "plan.json").read_text())["schema"] == "maildns.audit/remediation-plan"
    assert render_markdown(fleet_plan(hosts, check_mode=False)).startswith("# Remediation\n\n3 hosts: 1 changed")
