"""The inspection modules over SSH on lab hosts, with real postconf, against what the file parser says."""

from __future__ import annotations

import json
import smtplib

import pytest

from tests.integration.helpers import ansible_adhoc, host_tree_digest

pytestmark = pytest.mark.lab

MODULES = ("maildns.audit.resolver_facts", "maildns.audit.postfix_facts", "maildns.audit.spamassassin_facts")
# What each scenario must give, and nothing else. The lab's fixture resolvers sit on private lab
# addresses, so a resolv.conf naming one is not a public resolver by address: the live probe
# (maildns.audit.dnsbl_probe) is what catches their answers.
EXPECTED = {
    "mx01": [],
    "mx02": ["DNSBL_NO_REPLY_FILTER", "DNSBL_SINGLE_LIST"],
    "mx03": ["DNSBL_SINGLE_LIST"],
    "mx04": ["DNSBL_NO_REPLY_FILTER", "DNSBL_SINGLE_LIST"],
    "mx05": ["DNSBL_NO_REPLY_FILTER", "DNSBL_SINGLE_LIST", "RESOLV_CONF_PUBLIC_NAMESERVER"],
    "mx06": ["LOCAL_RESOLVER_FORWARDS_PUBLIC", "LOOPBACK_NAMESERVER_NOTHING_LISTENS"],
    "mx07": ["LOOPBACK_NAMESERVER_NOTHING_LISTENS", "SYSTEMD_RESOLVED_PUBLIC_UPSTREAM"],
    "mx08": ["POSTFIX_CHROOT_RESOLV_CONF_DRIFT", "RESOLV_CONF_PUBLIC_NAMESERVER"],
    "mx09": ["SPAMASSASSIN_DNS_SERVER_PUBLIC", "SPAMASSASSIN_DQS_PLACEHOLDER"],
    "mx10": ["DNSBL_NO_REPLY_FILTER", "DQS_KEY_EXPOSED_IN_SMTP_REPLY", "POSTFIX_MASTER_OVERRIDES_DNSBL"],
    "mx11": ["POSTFIX_CHROOT_RESOLV_CONF_DRIFT"],
    "mx12": ["DNSBL_MISSPELLED", "DNSBL_RETIRED"],
    **{host: [] for host in ("mx13", "mx14", "mx15", "mx16", "mx17")},  # identity scenarios: DNS, not files
    "mx18": [],  # no main.cf: unknown, not a finding (test_every_check_ran_on_every_host)
    "mx19": [],  # healthy now; its journal's rejections: test_rejections_are_read_from_the_journal
}


# Tests send mail to mx02 and get it bounced (here and in test_lab.py): its log then holds the
# rejections, whatever order the tests ran in.
LOGGED_REJECTIONS = "MAIL_REJECTED_BY_DNSBL_ERROR"
NO_POSTFIX = "mx18"


def finding_ids(*results: dict) -> list[str]:
    return sorted({finding["id"] for result in results for finding in result["findings"]} - {LOGGED_REJECTIONS})


@pytest.fixture(scope="module")
def inspected(lab) -> dict[str, dict[str, dict]]:
    """module -> host -> result, one ad-hoc run per module over the whole lab."""
    return {module: ansible_adhoc(lab.inventory, module) for module in MODULES}


def test_each_host_gives_exactly_its_scenario_findings(inspected) -> None:
    for host, expected in EXPECTED.items():
        found = finding_ids(*(inspected[module][host] for module in MODULES))
        assert found == expected, host


def test_every_check_ran_on_every_host(inspected) -> None:
    for module, results in inspected.items():
        for host, result in results.items():
            assert result["changed"] is False
            if (module, host) == ("maildns.audit.postfix_facts", NO_POSTFIX):
                assert (result["status"], result["installed"]) == ("unknown", False)
                assert "main.cf does not exist" in result["checks"][0]["reason"]
                continue
            assert result["status"] == "ok", (module, host, result["checks"])


# mx28's main.cf has a macro cycle: the real postconf refuses it, so it is read from the files.
POSTCONF_REFUSES = "mx28"


def test_postfix_is_read_through_postconf(inspected) -> None:
    for host, result in inspected["maildns.audit.postfix_facts"].items():
        if host not in (NO_POSTFIX, POSTCONF_REFUSES):
            assert result["postfix"]["source"] == "postconf", host


def test_a_config_postconf_refuses_is_read_from_the_files_and_says_why(inspected) -> None:
    result = inspected["maildns.audit.postfix_facts"][POSTCONF_REFUSES]
    assert result["postfix"]["source"] == "files"
    assert "macro processing error" in " ".join(result["postfix"]["problems"])
    assert "POSTFIX_PARAMETER_UNEXPANDABLE" in finding_ids(result)


def test_postconf_and_the_file_parser_agree(lab, inspected) -> None:
    by_files = ansible_adhoc(lab.inventory, "maildns.audit.postfix_facts", "use_postconf=false")
    compared = (
        "myhostname",
        "mydomain",
        "smtp_helo_name",
        "queue_directory",
        "inet_protocols",
        "smtpd_client_restrictions",
        "smtpd_recipient_restrictions",
        "smtpd_restriction_classes",
    )
    for host, real in inspected["maildns.audit.postfix_facts"].items():
        parsed = by_files[host]
        if host == NO_POSTFIX:
            assert parsed["postfix"] is None and real["postfix"] is None
            continue
        assert parsed["postfix"]["source"] == "files"
        assert parsed["postfix"]["dnsbl_uses"] == real["postfix"]["dnsbl_uses"], host
        assert parsed["postfix"]["master_overrides"] == real["postfix"]["master_overrides"], host
        assert parsed["postfix"]["chrooted_services"] == real["postfix"]["chrooted_services"], host
        for name in compared:
            assert parsed["postfix"]["parameters"][name] == real["postfix"]["parameters"][name], (host, name)
        assert finding_ids(parsed) == finding_ids(real), host


def test_rejections_are_read_from_the_journal(inspected) -> None:
    # mx19 has no mail log file; its Postfix logs to the journal, read over SSH with the host's journalctl
    result = inspected["maildns.audit.postfix_facts"]["mx19"]
    [mail_log] = [check for check in result["checks"] if check["name"] == "mail_log"]
    assert mail_log["status"] == "ok" and mail_log["reason"].startswith("journal (postfix/smtpd, postfix/postscreen)")
    rejections = result["postfix"]["rejections_by_dnsbl_error"]
    assert (rejections["total"], list(rejections["counts"])) == (2, ["zen.spamhaus.org"])
    [finding] = [f for f in result["findings"] if f["id"] == LOGGED_REJECTIONS]
    assert (finding["evidence"]["rejections"], finding["evidence"]["zone"]) == (2, "zen.spamhaus.org")
    assert finding["evidence"]["file"] == mail_log["reason"].split(":")[0]


def test_dqs_key_never_leaves_the_host(lab) -> None:
    results = ansible_adhoc(lab.inventory, "maildns.audit.postfix_facts", pattern="mx10")
    text = json.dumps(results)
    assert "labtestkey0123456789" not in text
    assert "<DQS key>.zen.dq.spamhaus.net" in text


def test_a_running_unbound_is_found_listening(lab, lab_hosts) -> None:
    host = lab_hosts["mx06"]
    host.run_expect([0], "unbound-checkconf /etc/unbound/unbound.conf && unbound -c /etc/unbound/unbound.conf")
    try:
        result = ansible_adhoc(lab.inventory, "maildns.audit.resolver_facts", pattern="mx06")["mx06"]
    finally:
        host.run("kill $(cat /run/unbound.pid)")
    assert result["resolver_path"]["listeners"] == {"127.0.0.1": "unbound"}
    assert finding_ids(result) == ["LOCAL_RESOLVER_FORWARDS_PUBLIC"]
    forwarders = result["resolver_path"]["local_resolvers"][0]["forwarders"]
    assert [(f["address"], f["provider"]) for f in forwarders] == [("1.1.1.1", "Cloudflare"), ("1.0.0.1", "Cloudflare")]


def test_mail_rejected_by_an_open_resolver_error_is_counted_from_the_real_log(lab, lab_hosts) -> None:
    host = lab_hosts["mx02"]
    host.run_expect([0], "postfix start")
    try:
        with smtplib.SMTP(lab.host("mx02").address, 25, timeout=20) as smtp:
            smtp.ehlo("sender.example")
            smtp.mail("someone@example.org")
            code, _message = smtp.rcpt("root@mx02.lab.test")
    finally:
        host.run_expect([0], "postfix stop")
    assert code == 554
    result = ansible_adhoc(lab.inventory, "maildns.audit.postfix_facts", pattern="mx02")["mx02"]
    [finding] = [f for f in result["findings"] if f["id"] == LOGGED_REJECTIONS]
    assert finding["evidence"]["zone"] == "zen.spamhaus.org"
    assert finding["evidence"]["rejections"] >= 1
    assert finding["evidence"]["reason"] == "Error: open resolver"
    assert finding["evidence"]["file"] == "/var/log/mail.log"


def test_check_mode_gives_the_same_and_changes_nothing(lab, inspected) -> None:
    before = host_tree_digest(lab.state_dir)
    for module in MODULES:
        checked = ansible_adhoc(lab.inventory, module, extra=("--check",))
        for host, result in checked.items():
            assert finding_ids(result) == finding_ids(inspected[module][host]), (module, host)
            assert result["changed"] is False
    assert host_tree_digest(lab.state_dir) == before


def test_a_host_without_postfix_is_unknown_with_the_reason(lab) -> None:
    result = ansible_adhoc(
        lab.inventory,
        "maildns.audit.postfix_facts",
        "config_directory=/etc/no-postfix use_postconf=false",
        pattern="mx01",
    )["mx01"]
    assert (result["installed"], result["status"]) == (False, "unknown")
    assert "no Postfix here" in result["checks"][0]["reason"]
