"""A public resolver's severity follows what it breaks on this host (issue 9 item 4)."""

from __future__ import annotations

from pathlib import Path

from ansible_collections.maildns.audit.plugins.module_utils.host_model import read_host
from ansible_collections.maildns.audit.plugins.module_utils.inspect_host import resolver_part

KEY = "abcdefghij0123456789"


def host_tree(tmp_path: Path, restrictions: str, local_cf: str = "") -> Path:
    (tmp_path / "etc/postfix").mkdir(parents=True)
    (tmp_path / "etc/postfix/main.cf").write_text(f"smtpd_client_restrictions = permit_mynetworks, {restrictions}\n")
    (tmp_path / "etc/resolv.conf").write_text("nameserver 8.8.8.8\n")
    if local_cf:
        (tmp_path / "etc/spamassassin").mkdir(parents=True)
        (tmp_path / "etc/spamassassin/local.cf").write_text(local_cf)
    return tmp_path


def public_finding(result: dict) -> dict:
    [finding] = [f for f in result["findings"] if f["id"] == "RESOLV_CONF_PUBLIC_NAMESERVER"]
    return finding


def test_a_host_whose_spamhaus_use_is_all_dqs_is_not_critical_behind_a_public_resolver(tmp_path) -> None:
    root = host_tree(
        tmp_path, f"reject_rbl_client {KEY}.zen.dq.spamhaus.net=127.0.0.[2..11], reject_rbl_client bl.spamcop.net"
    )
    host = read_host(str(root), use_postconf=False, spamassassin=False)
    probes = [
        {"zone": "<DQS key>.zen.dq.spamhaus.net", "resolver": "8.8.8.8", "classification": "working"},
        {"zone": "bl.spamcop.net", "resolver": "8.8.8.8", "classification": "working"},
    ]
    finding = public_finding(resolver_part(host, probes))
    assert finding["severity"] == "low"
    assert finding["evidence"]["affected_lists"] == []
    assert KEY not in repr(finding)
    # Without probes, from the catalog: DQS works through public resolvers, SpamCop does not refuse them.
    assert public_finding(resolver_part(host))["severity"] == "low"


def test_a_public_resolver_that_breaks_a_rejecting_list_is_critical_and_names_it(tmp_path) -> None:
    host = read_host(str(host_tree(tmp_path, "reject_rbl_client zen.spamhaus.org")), use_postconf=False)
    finding = public_finding(resolver_part(host))
    assert finding["severity"] == "critical" and finding["evidence"]["affected_lists"] == ["zen.spamhaus.org"]
    seen = [{"zone": "zen.spamhaus.org", "resolver": "8.8.8.8", "classification": "dead"}]
    assert public_finding(resolver_part(host, seen))["evidence"]["basis"].startswith("the live probes")


def test_a_public_resolver_that_breaks_only_scoring_lists_is_high(tmp_path) -> None:
    local_cf = "header RCVD_IN_X eval:check_rbl('zen-lastexternal', 'zen.spamhaus.org.')\n"
    host = read_host(str(host_tree(tmp_path, "reject_unauth_destination", local_cf)), use_postconf=False)
    finding = public_finding(resolver_part(host))
    assert finding["severity"] == "high" and finding["evidence"]["affected_lists"] == ["zen.spamhaus.org"]
