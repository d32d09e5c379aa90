"""Rejections read from the journal when the host has no mail log file, through the real journalctl.

Journal files are written by systemd-journal-remote from the journal export format, the way a real
host's entries look to journalctl (`--root` points it at the test's folder).
"""

from __future__ import annotations

from pathlib import Path

from ansible_collections.maildns.audit.plugins.module_utils.files import HostFiles
from ansible_collections.maildns.audit.plugins.module_utils.inspect_host import inspect_postfix
from ansible_collections.maildns.audit.plugins.module_utils.mail_log import journal_identifiers, read_rejections
from tests.lab import journal as lab_journal

MACHINE_ID = "0123456789abcdef0123456789abcdef"
DQS_KEY = "abcdefghij0123456789abcdef"
OPEN_RESOLVER = (
    "NOQUEUE: reject: RCPT from unknown[192.0.2.7]: 554 5.7.1 Service unavailable; Client host [192.0.2.7] "
    "blocked using {zone}; Error: open resolver; https://check.spamhaus.org/returnc/pub/1.1.1.1/; "
    "from=<a@example.org> to=<b@example.net> proto=ESMTP helo=<client.example.org>"
)
REAL_LISTING = (
    "NOQUEUE: reject: RCPT from unknown[192.0.2.8]: 554 5.7.1 Service unavailable; Client host [192.0.2.8] "
    "blocked using bl.spamcop.net; Blocked - see https://www.spamcop.net/bl.shtml?192.0.2.8; "
    "from=<a@example.org> to=<b@example.net> proto=ESMTP helo=<spam.example>"
)


def write_journal(root: Path, entries: list[tuple[str, str]]) -> None:
    lab_journal.write_journal(root / "var/log/journal" / MACHINE_ID / "system.journal", entries)


def test_rejections_by_dnsbl_errors_are_counted_from_the_journal(tmp_path: Path) -> None:
    write_journal(
        tmp_path,
        [
            ("postfix/smtpd", OPEN_RESOLVER.format(zone="zen.spamhaus.org")),
            ("postfix/smtpd", OPEN_RESOLVER.format(zone="zen.spamhaus.org")),
            ("postfix/smtpd", REAL_LISTING),
            ("postfix/qmgr", OPEN_RESOLVER.format(zone="qmgr.example")),  # not a daemon that rejects
            ("postfix-out/smtpd", OPEN_RESOLVER.format(zone=f"{DQS_KEY}.zen.dq.spamhaus.net")),
        ],
    )
    evidence = read_rejections(HostFiles(str(tmp_path)), syslog_name="postfix-out")
    assert evidence.problem == ""
    assert evidence.log.startswith("journal (postfix/smtpd, postfix/postscreen, postfix-out/smtpd")
    assert {zone: sum(days.values()) for zone, days in evidence.counts.items()} == {
        "zen.spamhaus.org": 2,
        "<DQS key>.zen.dq.spamhaus.net": 1,
    }
    assert evidence.reasons["zen.spamhaus.org"] == "Error: open resolver"
    assert DQS_KEY not in str(evidence.as_dict())


def test_a_log_file_is_read_before_the_journal(tmp_path: Path) -> None:
    write_journal(tmp_path, [("postfix/smtpd", OPEN_RESOLVER.format(zone="zen.spamhaus.org"))])
    (tmp_path / "var/log/mail.log").write_text("")
    evidence = read_rejections(HostFiles(str(tmp_path)))
    assert (evidence.log, evidence.total, evidence.problem) == ("/var/log/mail.log", 0, "")


def test_a_journal_without_smtpd_entries_is_unknown_with_the_reason(tmp_path: Path) -> None:
    write_journal(tmp_path, [("postfix/qmgr", "ABC123: removed")])
    evidence = read_rejections(HostFiles(str(tmp_path)))
    assert evidence.problem.startswith("no mail log found (looked at /var/log/mail.log")
    assert evidence.problem.endswith("and the journal has no entries of postfix/smtpd, postfix/postscreen")


def test_a_damaged_journal_file_is_unknown_not_a_traceback(tmp_path: Path) -> None:
    directory = tmp_path / "var/log/journal" / MACHINE_ID
    directory.mkdir(parents=True)
    (directory / "system.journal").write_bytes(b"LPKSHHRH" + bytes(range(256)) * 64)
    evidence = read_rejections(HostFiles(str(tmp_path)))
    assert evidence.total == 0 and "the journal has no entries" in evidence.problem


def test_without_journalctl_the_reason_says_so(tmp_path: Path) -> None:
    evidence = read_rejections(HostFiles(str(tmp_path)), journalctl=str(tmp_path / "no-journalctl"))
    assert "no journal to read (journalctl is not installed)" in evidence.problem


def test_an_unexpanded_syslog_name_falls_back_to_postfix() -> None:
    assert journal_identifiers("${multi_instance_name?{$multi_instance_name}:{postfix}}") == [
        "postfix/smtpd",
        "postfix/postscreen",
    ]


def test_postfix_facts_turn_journal_evidence_into_a_finding(tmp_path: Path) -> None:
    (tmp_path / "etc/postfix").mkdir(parents=True)
    (tmp_path / "etc/postfix/main.cf").write_text(
        "myhostname = mail.example.org\nsmtpd_client_restrictions = reject_rbl_client zen.spamhaus.org\n"
    )
    write_journal(tmp_path, [("postfix/smtpd", OPEN_RESOLVER.format(zone="zen.spamhaus.org"))])
    result = inspect_postfix(root=str(tmp_path), use_postconf=False)
    [mail_log] = [check for check in result["checks"] if check["name"] == "mail_log"]
    assert mail_log["status"] == "ok" and mail_log["reason"].startswith("journal (postfix/smtpd")
    assert "MAIL_REJECTED_BY_DNSBL_ERROR" in {finding["id"] for finding in result["findings"]}
