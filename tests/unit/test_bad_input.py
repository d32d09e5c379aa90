"""Bad input gets a clear answer: status unknown with the reason, never a traceback or a silent pass."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.maildns.audit.plugins.module_utils import dnsbl_catalog, files, mail_log, postfix_config
from ansible_collections.maildns.audit.plugins.module_utils.inspect_host import (
    inspect_postfix,
    inspect_resolver_path,
    inspect_spamassassin,
)
from ansible_collections.maildns.audit.plugins.module_utils.resolver_path import parse_resolv_conf
from ansible_collections.maildns.audit.plugins.module_utils.spamassassin_config import (
    SpamAssassinConfig,
    parse_site_config,
)

MAIN_CF = "myhostname = mail.example.org\nsmtpd_client_restrictions = reject_rbl_client zen.spamhaus.org\n"


def write(root: Path, host_path: str, content: str | bytes) -> Path:
    target = root / host_path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        target.write_bytes(content)
    else:
        target.write_text(content)
    return target


def huge(root: Path, host_path: str) -> None:
    target = write(root, host_path, "")
    with target.open("r+b") as handle:
        handle.truncate(50 * 1024 * 1024)  # 50 MiB, sparse: costs no disk


BAD_FILES = {
    "binary": lambda root, path: write(root, path, b"\x00\x01\x02ELF" * 64),
    "huge": huge,
    "directory": lambda root, path: (root / path.lstrip("/")).mkdir(parents=True),
    "dangling_link": lambda root, path: (
        (root / path.lstrip("/")).parent.mkdir(parents=True, exist_ok=True),
        os.symlink("/nonexistent/target", root / path.lstrip("/")),
    ),
}
EXPECTED_REASON = {
    "binary": "binary file",
    "huge": "52428800 bytes, over the",
    "directory": "is a directory",
    "dangling_link": "dangling symbolic link",
}


@pytest.mark.parametrize("kind", BAD_FILES)
def test_bad_resolv_conf_is_unknown_with_reason(tmp_path: Path, kind: str) -> None:
    BAD_FILES[kind](tmp_path, "/etc/resolv.conf")
    result = inspect_resolver_path(str(tmp_path))
    if kind == "dangling_link":
        # What glibc sees too (a stopped systemd-resolved leaves its stub link dangling): no file,
        # so the 127.0.0.1 default. Known, not unknown.
        [finding] = result["findings"]
        assert finding["id"] == "RESOLV_CONF_MISSING"
        assert "dangling symbolic link" in finding["evidence"]["detail"]
        return
    assert result["status"] == "unknown"
    check = next(check for check in result["checks"] if check["name"] == "resolv_conf")
    assert "/etc/resolv.conf" in check["reason"] and EXPECTED_REASON[kind] in check["reason"]
    assert result["findings"] == []  # nothing guessed from a file that could not be read


@pytest.mark.parametrize("kind", BAD_FILES)
def test_bad_main_cf_is_unknown_with_reason(tmp_path: Path, kind: str) -> None:
    BAD_FILES[kind](tmp_path, "/etc/postfix/main.cf")
    result = inspect_postfix(str(tmp_path), use_postconf=False)
    assert result["status"] == "unknown"
    assert EXPECTED_REASON[kind] in result["checks"][0]["reason"]
    assert [finding["id"] for finding in result["findings"]] == ["POSTFIX_CONFIG_UNREADABLE"]


@pytest.mark.parametrize("kind", BAD_FILES)
def test_bad_spamassassin_file_is_unknown_with_reason(tmp_path: Path, kind: str) -> None:
    write(tmp_path, "/etc/spamassassin/init.pre", "loadplugin Mail::SpamAssassin::Plugin::DNSEval\n")
    BAD_FILES[kind](tmp_path, "/etc/spamassassin/local.cf")
    result = inspect_spamassassin(str(tmp_path))
    if kind == "directory":
        # SpamAssassin reads files named *.cf; a directory of that name is not read, and not an error.
        assert result["status"] == "ok"
        return
    assert result["status"] == "unknown"
    assert EXPECTED_REASON[kind] in result["checks"][0]["reason"]


def test_unreadable_file_names_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = write(tmp_path, "/etc/resolv.conf", "nameserver 10.0.0.2\n")
    real_open = open

    def denying_open(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        if str(path) == str(target):
            raise PermissionError(13, "Permission denied")
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", denying_open)
    result = inspect_resolver_path(str(tmp_path))
    assert result["status"] == "unknown"
    assert "cannot be read (Permission denied); run the check with become" in result["checks"][0]["reason"]


def test_cyclic_include_is_reported_not_followed(tmp_path: Path) -> None:
    write(tmp_path, "/etc/spamassassin/local.cf", "include a.cf\n")
    write(tmp_path, "/etc/spamassassin/a.cf", "include b.cf\n")
    write(tmp_path, "/etc/spamassassin/b.cf", "include a.cf\ndns_server 1.1.1.1\n")
    result = inspect_spamassassin(str(tmp_path))
    assert result["status"] == "unknown"
    assert "include cycle: /etc/spamassassin/local.cf -> /etc/spamassassin/a.cf" in result["checks"][0]["reason"]
    # What could be read is still judged.
    assert "SPAMASSASSIN_DNS_SERVER_PUBLIC" in {finding["id"] for finding in result["findings"]}


def test_cyclic_postfix_variables_do_not_hang(tmp_path: Path) -> None:
    write(tmp_path, "/etc/postfix/main.cf", MAIN_CF + "a = $b\nb = $a\nsmtpd_helo_restrictions = $a\n")
    result = inspect_postfix(str(tmp_path), use_postconf=False, scan_log=False)
    assert result["status"] == "ok"


def test_no_postfix_and_no_spamassassin_are_unknown_not_passed(tmp_path: Path) -> None:
    postfix = inspect_postfix(str(tmp_path), use_postconf=False)
    spamassassin = inspect_spamassassin(str(tmp_path))
    assert (postfix["installed"], postfix["status"]) == (False, "unknown")
    assert "no Postfix here" in postfix["checks"][0]["reason"]
    assert (spamassassin["installed"], spamassassin["status"]) == (False, "unknown")


def test_huge_log_is_read_from_its_end_only(tmp_path: Path) -> None:
    write(tmp_path, "/etc/postfix/main.cf", MAIN_CF)
    line = (
        "Nov 22 10:00:02 mail postfix/smtpd[1]: NOQUEUE: reject: RCPT from x[192.0.2.1]: 554 5.7.1 Service "
        "unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org; Error: open resolver; x\n"
    )
    log = write(tmp_path, "/var/log/mail.log", line * 10)
    with log.open("r+b") as handle:  # 10 rejections, then 50 MiB of nothing after them
        handle.seek(0, os.SEEK_END)
        handle.write(b"\n" * 1024)
    result = inspect_postfix(str(tmp_path), use_postconf=False, log_max_bytes=len(line) * 3 + 1024)
    evidence = result["postfix"]["rejections_by_dnsbl_error"]
    assert evidence["bytes_read"] <= len(line) * 3 + 1024
    assert evidence["total"] == 2  # the partial first line is dropped, two whole lines remain


# -- property-based: the parsers never raise on any text --------------------------------------------

TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=2000)
CONFIG_LIKE = st.lists(
    st.sampled_from(
        [
            "nameserver ",
            "options rotate timeout:",
            "search ",
            "1.1.1.1",
            "::1",
            "=",
            " ",
            "\n",
            "\t",
            "#",
            "$",
            "${a?b}",
            "$(c)",
            "{",
            "}",
            "reject_rbl_client",
            "zen.spamhaus.org=127.0.0.[2..11]",
            "*3",
            ",",
            "-o",
            "warn_if_reject",
            "include ",
            "dns_server ",
            "[",
            "]",
            "..",
            ";",
            "127.255.255.254",
            "blocked using ",
        ]
    )
    | TEXT,
    max_size=60,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(CONFIG_LIKE)
def test_parsers_never_raise(text: str) -> None:
    parse_resolv_conf(text)
    values, _lines = postfix_config.parse_main_cf(text)
    for value in values.values():
        postfix_config.expand(value, values)
    postfix_config.parse_master_cf(text)
    postfix_config._restriction_uses(text, "p", "main.cf", {}, {"c": text})
    for token in text.split():
        postfix_config.parse_postscreen_site(token)
        dnsbl_catalog.filter_matches(token, "127.255.255.254")
        dnsbl_catalog.near_miss(token)
        dnsbl_catalog.mask_secrets(token + ".zen.dq.spamhaus.net")
    mail_log.scan_rejections(text, mail_log.RejectionEvidence())


@settings(max_examples=100, deadline=None)
@given(CONFIG_LIKE)
def test_spamassassin_reader_never_raises(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    root = tmp_path_factory.mktemp("sa")
    write(root, "/etc/spamassassin/local.cf", text)
    config = SpamAssassinConfig()
    parse_site_config(files.HostFiles(str(root)), "/etc/spamassassin", config)
