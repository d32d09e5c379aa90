"""resolv.conf read the way glibc's res_init reads it: lines it skips are reported, never counted.

glibc (resolv/res_init.c) takes a `nameserver` line only at the start of a line, in lower case,
with a value that `inet_aton` or `inet_pton(AF_INET6)` accepts (an IPv6 `%scope` is cut first);
anything else is dropped without counting toward its three nameservers, and with no valid line
left it asks 127.0.0.1.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from ansible_collections.maildns.audit.plugins.module_utils.files import HostFiles
from ansible_collections.maildns.audit.plugins.module_utils.inspect_host import inspect_resolver_path
from ansible_collections.maildns.audit.plugins.module_utils.resolver_path import (
    inet_aton_exact,
    judge_resolver_path,
    parse_resolv_conf,
    read_resolver_path,
)

MAIN_CF = "myhostname = mail.example.org\nsmtpd_client_restrictions = reject_rbl_client zen.spamhaus.org=127.0.0.2\n"
MASTER_CF = "smtp      inet  n       -       y       -       -       smtpd\n"


def write(root: Path, host_path: str, content: str) -> None:
    target = root / host_path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(content)


def ids(result: dict) -> list:
    return sorted(finding["id"] for finding in result["findings"])


# Values with no blank in them (glibc cuts the value at the first blank before it parses it).
SAMPLES = [
    "1.2.3.4",
    "127.1",
    "10.65535",
    "0x7f.1",
    "0X7F.0.0.1",
    "010.0.0.1",
    "08.1.1.1",
    "2130706433",
    "4294967295",
    "4294967296",
    "1.2.3.256",
    "1.2.0xffff",
    "1.2.0x10000",
    "999.1.1.1",
    "1.2.3.4.",
    "1..2",
    ".1.2.3",
    "0x",
    "0x1g",
    "not-an-ip",
    "1.2.3.4#cloudflare",
    "1.2.3.4;x",
    "{{",
]


@pytest.mark.parametrize("text", SAMPLES)
def test_ipv4_reading_matches_the_c_library(text: str) -> None:
    try:
        expected = socket.inet_ntoa(socket.inet_aton(text))  # the C library's inet_aton (glibc here)
    except OSError:
        expected = None
    assert inet_aton_exact(text) == expected


def test_lines_glibc_skips_do_not_count_toward_its_three() -> None:
    conf = parse_resolv_conf("nameserver not-an-ip\nnameserver 999.1.1.1\nnameserver 10.0.0.2\nnameserver 8.8.8.8\n")
    assert [ns.address for ns in conf.effective_nameservers] == ["10.0.0.2", "8.8.8.8"]
    invalid = [(bad["line"], bad["nameserver"]) for bad in conf.invalid_nameservers]
    assert invalid == [(1, "not-an-ip"), (2, "999.1.1.1")]


def test_a_public_nameserver_pushed_into_use_by_bad_lines_is_reported(tmp_path: Path) -> None:
    # The old reader counted the two bad lines as glibc's first two and never looked at 8.8.8.8.
    write(tmp_path, "/etc/resolv.conf", "nameserver x\nnameserver y\nnameserver 10.0.0.2\nnameserver 8.8.8.8\n")
    assert ids(inspect_resolver_path(str(tmp_path))) == [
        "RESOLV_CONF_INVALID_NAMESERVER",
        "RESOLV_CONF_INVALID_NAMESERVER",
        "RESOLV_CONF_PUBLIC_NAMESERVER",
    ]


def test_only_bad_lines_is_glibcs_default_and_says_why(tmp_path: Path) -> None:
    write(tmp_path, "/etc/resolv.conf", "# template\nnameserver not-an-ip\nnameserver 999.1.1.1\n")
    result = inspect_resolver_path(str(tmp_path))
    by_id: dict = {}
    for finding in result["findings"]:
        by_id.setdefault(finding["id"], []).append(finding["evidence"])
    assert sorted(by_id) == ["RESOLV_CONF_INVALID_NAMESERVER", "RESOLV_CONF_MISSING"]
    assert [e["nameserver"] for e in by_id["RESOLV_CONF_INVALID_NAMESERVER"]] == ["not-an-ip", "999.1.1.1"]
    assert [e["line"] for e in by_id["RESOLV_CONF_INVALID_NAMESERVER"]] == [2, 3]
    assert by_id["RESOLV_CONF_INVALID_NAMESERVER"][0]["effective"] == ["127.0.0.1 (glibc default)"]
    assert "no valid nameserver" in by_id["RESOLV_CONF_MISSING"][0]["detail"]
    assert result["resolver_path"]["resolv_conf"]["effective_nameservers"][0]["address"] == "127.0.0.1"


def test_what_glibc_accepts_is_not_reported() -> None:
    conf = parse_resolv_conf(
        "nameserver 127.1\n"
        "nameserver\tfe80::1%eth0\n"  # a tab is a separator; the scope names the link
        "nameserver 2606:4700:4700::1111  # Cloudflare: a comment after a blank is fine\n"
    )
    assert conf.invalid_nameservers == []
    assert [(ns.address, ns.text) for ns in conf.nameservers] == [
        ("127.0.0.1", "127.1"),
        ("fe80::1%eth0", ""),
        ("2606:4700:4700::1111", ""),
    ]
    assert [ns.address_class for ns in conf.nameservers] == ["loopback", "private", "public_known"]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("  nameserver 10.0.0.2", "indented"),
        ("Nameserver 10.0.0.2", "lower case"),
        ("nameserver 10.0.0.2#office", "not an IP address"),
        ("nameserver fe80::zz%eth0", "not an IP address"),
        ("nameserver ", "no address"),
    ],
)
def test_lines_glibc_does_not_read_are_reported_with_the_reason(line: str, reason: str) -> None:
    conf = parse_resolv_conf(f"{line}\nnameserver 10.0.0.3\n")
    [invalid] = conf.invalid_nameservers
    assert reason in invalid["reason"]
    assert [ns.address for ns in conf.effective_nameservers] == ["10.0.0.3"]


def chroot_host(root: Path, resolv_conf: str, chroot_copy: str) -> None:
    write(root, "/etc/resolv.conf", resolv_conf)
    write(root, "/var/spool/postfix/etc/resolv.conf", chroot_copy)
    write(root, "/etc/postfix/main.cf", MAIN_CF)
    write(root, "/etc/postfix/master.cf", MASTER_CF)


def test_chroot_copy_lines_are_validated_too(tmp_path: Path) -> None:
    chroot_host(tmp_path, "nameserver 10.0.0.2\n", "nameserver 10.0.0.2\nnameserver dns.example.net\n")
    findings = inspect_resolver_path(str(tmp_path))["findings"]
    [invalid] = [f["evidence"] for f in findings if f["id"] == "RESOLV_CONF_INVALID_NAMESERVER"]
    assert invalid["file"] == "/var/spool/postfix/etc/resolv.conf"
    assert invalid["layer"] == "postfix chroot"
    assert (invalid["line"], invalid["nameserver"], invalid["effective"]) == (2, "dns.example.net", ["10.0.0.2"])


def test_a_bad_line_shared_by_resolv_conf_and_its_chroot_copy_is_reported_once(tmp_path: Path) -> None:
    text = "nameserver 10.0.0.2\nnameserver dns.example.net\n"
    chroot_host(tmp_path, text, text)
    findings = inspect_resolver_path(str(tmp_path))["findings"]
    assert [f["evidence"]["file"] for f in findings if f["id"] == "RESOLV_CONF_INVALID_NAMESERVER"] == [
        "/etc/resolv.conf"
    ]


def test_dnsmasq_does_not_forward_to_a_line_glibc_skips(tmp_path: Path) -> None:
    write(tmp_path, "/etc/resolv.conf", "nameserver 127.0.0.1\nnameserver 8.8.8.8.8\n")
    write(tmp_path, "/etc/dnsmasq.conf", "cache-size=1000\n")
    path = read_resolver_path(HostFiles(str(tmp_path)))
    [dnsmasq] = path.local_resolvers
    assert dnsmasq.forwarders == []
    assert [f.id for f in judge_resolver_path(path)] == ["RESOLV_CONF_INVALID_NAMESERVER"]


def test_the_process_serving_a_loopback_nameserver_is_named() -> None:
    """Real /proc: a socket on 127.0.0.253:53 held by this very process (whose descriptor listing
    changes while it is read) is found with the process's name; other namespaces are not scanned."""
    import os

    from ansible_collections.maildns.audit.plugins.module_utils.resolver_path import dns_listeners

    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        server.bind(("127.0.0.253", 53))
    except OSError as error:
        server.close()
        pytest.skip(f"cannot bind 127.0.0.253:53 here ({error})")
    try:
        listeners = dns_listeners(HostFiles("/"))
    finally:
        server.close()
    assert listeners is not None
    with open(f"/proc/{os.getpid()}/comm") as handle:
        assert listeners["127.0.0.253"] == handle.read().strip()
