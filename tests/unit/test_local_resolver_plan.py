"""The local-resolver fix as planned from the host model, and the file transaction that applies it.

Host trees are written under a temporary root and read with `read_host(root)`, as the audit reads
its corpus: the plan must come from that model alone (issue 10; DESIGN section 5).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ansible_collections.maildns.audit.plugins.module_utils._remediate.local_resolver_plan import (
    RESOLVED_DROP_IN,
    ROOT_HINTS_FILE,
    UNBOUND_CONF,
    UNBOUND_DROP_IN,
    ResolverOptions,
    all_entries,
    plan_local_resolver,
)
from ansible_collections.maildns.audit.plugins.module_utils._remediate.transaction import (
    FileTransaction,
    TransactionError,
)
from ansible_collections.maildns.audit.plugins.module_utils.files import HostFiles
from ansible_collections.maildns.audit.plugins.module_utils.host_model import read_host
from ansible_collections.maildns.audit.plugins.module_utils.resolver_path import judge_resolver_path

MAIN_CF = "myhostname = mail.example.org\nsmtpd_client_restrictions = reject_rbl_client zen.spamhaus.org\n"
MASTER_CF = "smtp      inet  n       -       y       -       -       smtpd\n"
FORWARDING_UNBOUND = """server:
    interface: 127.0.0.1
    do-ip6: no
forward-zone:
    name: "."
    forward-addr: 1.1.1.1@53
    forward-addr: 1.0.0.1@53
remote-control:
    control-enable: no
"""


NETPLAN = "network:\n  ethernets:\n    eth0:\n      nameservers: {addresses: [8.8.8.8]}\n"


def write(root: Path, host_path: str, content: str) -> None:
    target = root / host_path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(content)


def host_tree(root: Path, resolv_conf: str = "nameserver 8.8.8.8\n") -> None:
    write(root, "/etc/resolv.conf", resolv_conf)
    write(root, "/etc/postfix/main.cf", MAIN_CF)
    write(root, "/etc/postfix/master.cf", MASTER_CF)
    write(root, "/var/spool/postfix/etc/resolv.conf", resolv_conf)


def plan_of(root: Path, **options: object):  # type: ignore[no-untyped-def]
    host = read_host(str(root), spamassassin=True, spamassassin_path="/nonexistent/spamassassin")
    return host, plan_local_resolver(host, ResolverOptions(**options))


def planned(plan) -> dict:  # type: ignore[no-untyped-def]
    return {path: data for path, data, _reason, _backup in all_entries(plan)}


def test_a_public_resolv_conf_is_pointed_at_unbound_and_the_chroot_copy_follows(tmp_path) -> None:
    host_tree(tmp_path, "search example.org\nnameserver 8.8.8.8\noptions rotate\n")
    _host, plan = plan_of(tmp_path)
    files = planned(plan)
    new = files["/etc/resolv.conf"].decode()
    assert new.splitlines() == [
        "search example.org",
        "# nameserver lines set by maildns.audit.local_resolver: the host's own recursive resolver (Unbound).",
        "nameserver 127.0.0.1",
        "nameserver ::1",
        "# nameserver 8.8.8.8  # before maildns.audit.local_resolver",
        "options rotate",
    ]
    # Debian's chrooted smtpd reads the copy: it must be the same bytes.
    assert files["/var/spool/postfix/etc/resolv.conf"] == files["/etc/resolv.conf"]
    assert plan.path_addresses == ["127.0.0.1", "::1"]
    drop_in = files[UNBOUND_DROP_IN].decode()
    assert "forward" not in drop_in.replace("forwards nothing", "")
    assert "    interface: 127.0.0.1\n    interface: ::1\n" in drop_in
    assert 'module-config: "validator iterator"' in drop_in
    # No root hints asked for, none written.
    assert ROOT_HINTS_FILE not in files


def test_the_new_resolv_conf_read_back_gives_no_resolver_finding_and_no_second_change(tmp_path) -> None:
    host_tree(tmp_path, "nameserver 8.8.8.8\nnameserver 1.1.1.1\n")
    _host, plan = plan_of(tmp_path)
    transaction = FileTransaction(HostFiles(str(tmp_path)))
    for path, data, reason, backup in all_entries(plan):
        transaction.set(path, data, reason, backup=backup)
    transaction.apply()
    host, again = plan_of(tmp_path)
    ids = [f.id for f in judge_resolver_path(host.resolver_path)]
    assert "RESOLV_CONF_PUBLIC_NAMESERVER" not in ids and "POSTFIX_CHROOT_RESOLV_CONF_DRIFT" not in ids
    replay = FileTransaction(HostFiles(str(tmp_path)))
    for path, data, reason, backup in all_entries(again):
        replay.set(path, data, reason, backup=backup)
    assert replay.pending() == []
    assert (tmp_path / "etc/resolv.conf.maildns-backup").read_text() == "nameserver 8.8.8.8\nnameserver 1.1.1.1\n"


def test_a_forward_zone_to_a_public_resolver_is_taken_out_and_the_drop_in_included(tmp_path) -> None:
    host_tree(tmp_path, "nameserver 127.0.0.1\n")
    write(tmp_path, UNBOUND_CONF, FORWARDING_UNBOUND)
    _host, plan = plan_of(tmp_path, ipv6_loopback=False)
    files = planned(plan)
    lines = files[UNBOUND_CONF].decode().splitlines()
    assert "# forward-zone:" in lines and "#     forward-addr: 1.1.1.1@53" in lines
    assert not [line for line in lines if line.strip().startswith("forward-addr")]
    assert lines[-1] == f'include: "{UNBOUND_DROP_IN}"'
    assert "    control-enable: no" in lines, "the clause after the forward zone is kept"
    # Its interface line is there already; ::1 is not on this host.
    drop_in = files[UNBOUND_DROP_IN].decode()
    assert "interface:" not in drop_in and "::1" not in drop_in
    assert [backup for path, _d, _r, backup in plan.unbound if path == UNBOUND_CONF] == [True]
    assert any("forwarded '.' to 1.1.1.1 (Cloudflare)" in note for note in plan.notes)
    # resolv.conf already names 127.0.0.1 (and there is no ::1): unchanged.
    assert "/etc/resolv.conf" not in files


def test_a_forward_zone_to_a_private_resolver_is_left_and_said(tmp_path) -> None:
    private = FORWARDING_UNBOUND.replace("1.1.1.1", "10.0.0.53").replace("1.0.0.1", "10.0.0.54")
    host_tree(tmp_path, "nameserver 127.0.0.1\n")
    write(tmp_path, UNBOUND_CONF, private)
    _host, plan = plan_of(tmp_path, ipv6_loopback=False)
    assert any("not a public resolver: left as it is" in note for note in plan.notes)
    assert "forward-addr: 10.0.0.53@53" in planned(plan)[UNBOUND_CONF].decode()


def test_systemd_resolved_configured_but_not_running_points_resolv_conf_at_unbound(tmp_path) -> None:
    stub = (
        "# This is /run/systemd/resolve/stub-resolv.conf managed by man:systemd-resolved(8).\nnameserver 127.0.0.53\n"
    )
    host_tree(tmp_path, stub)
    write(tmp_path, "/etc/systemd/resolved.conf.d/50-dns.conf", "[Resolve]\nDNS=8.8.8.8\n")
    _host, plan = plan_of(tmp_path, resolved_running=False)
    files = planned(plan)
    assert "DNS=\nDNS=127.0.0.1 ::1\nFallbackDNS=\nDomains=~.\n" in files[RESOLVED_DROP_IN].decode()
    assert "nameserver 127.0.0.1\nnameserver ::1\n" in files["/etc/resolv.conf"].decode()
    assert any("does not answer" in note for note in plan.notes)


def test_a_running_systemd_resolved_keeps_its_stub(tmp_path) -> None:
    host_tree(tmp_path, "nameserver 127.0.0.53\n")
    write(tmp_path, "/etc/systemd/resolved.conf", "[Resolve]\nDNS=1.1.1.1\n")
    _host, plan = plan_of(tmp_path, resolved_running=True)
    files = planned(plan)
    assert "/etc/resolv.conf" not in files
    assert plan.resolved_stub is True and plan.path_addresses == ["127.0.0.53"]
    assert RESOLVED_DROP_IN in files


def test_resolved_reads_drop_ins_in_systemd_order_and_an_empty_dns_clears_the_list(tmp_path) -> None:
    write(tmp_path, "/etc/resolv.conf", "nameserver 127.0.0.53\n")
    write(tmp_path, "/etc/systemd/resolved.conf", "[Resolve]\nDNS=9.9.9.9\n")
    write(tmp_path, "/usr/lib/systemd/resolved.conf.d/10-vendor.conf", "[Resolve]\nDNS=8.8.8.8\n")
    # Same name in /etc hides the vendor's file; zz- comes last and clears what came before.
    write(tmp_path, "/etc/systemd/resolved.conf.d/10-vendor.conf", "[Resolve]\nDNS=1.1.1.1\n")
    host = read_host(str(tmp_path), spamassassin=False)
    [resolved] = [r for r in host.resolver_path.local_resolvers if r.software == "systemd-resolved"]
    assert [f["address"] for f in resolved.forwarders] == ["9.9.9.9", "1.1.1.1"]
    write(tmp_path, RESOLVED_DROP_IN, "[Resolve]\nDNS=\nDNS=127.0.0.1\nFallbackDNS=\n")
    host = read_host(str(tmp_path), spamassassin=False)
    [resolved] = [r for r in host.resolver_path.local_resolvers if r.software == "systemd-resolved"]
    assert [f["address"] for f in resolved.forwarders] == ["127.0.0.1"]


@pytest.mark.parametrize(
    ("resolv_conf", "extra", "manager"),
    [
        ("# Generated by NetworkManager\nnameserver 8.8.8.8\n", {}, "NetworkManager"),
        (
            "# Dynamic resolv.conf(5) file for glibc resolver(3) generated by resolvconf(8)\nnameserver 1.1.1.1\n",
            {},
            "resolvconf",
        ),
        (
            "nameserver 8.8.8.8\n",
            {"/etc/netplan/01-netcfg.yaml": NETPLAN},
            "netplan",
        ),
    ],
)
def test_a_managed_resolv_conf_stops_the_host_with_the_setting_to_change(tmp_path, resolv_conf, extra, manager) -> None:
    host_tree(tmp_path, resolv_conf)
    for path, content in extra.items():
        write(tmp_path, path, content)
    _host, plan = plan_of(tmp_path)
    assert plan.status == "blocked"
    assert plan.reason.startswith(manager + " writes /etc/resolv.conf")
    assert "local_resolver_managed_resolv_conf_ok=true" in plan.reason
    _host, proceed = plan_of(tmp_path, managed_resolv_conf_ok=True)
    assert proceed.status == "change" and "/etc/resolv.conf" in planned(proceed)


def test_spamassassin_public_dns_server_points_at_unbound_and_its_block_files_go(tmp_path) -> None:
    host_tree(tmp_path, "nameserver 127.0.0.1\n")
    write(tmp_path, "/etc/spamassassin/local.cf", "required_score 5.0\ndns_server 1.1.1.1\ndns_server 10.0.0.53:53\n")
    write(tmp_path, "/root/.spamassassin/dnsblock_zen.spamhaus.org", "blocked\n")
    _host, plan = plan_of(tmp_path, ipv6_loopback=False)
    files = planned(plan)
    assert files["/etc/spamassassin/local.cf"].decode().splitlines() == [
        "required_score 5.0",
        "# dns_server 1.1.1.1  # replaced by the local resolver (maildns.audit.local_resolver)",
        "dns_server 127.0.0.1",
        "# dns_server 10.0.0.53:53  # replaced by the local resolver (maildns.audit.local_resolver)",
    ]
    assert files["/root/.spamassassin/dnsblock_zen.spamhaus.org"] is None


def test_a_bind_that_recurses_is_left_alone_and_one_that_forwards_publicly_stops_the_host(tmp_path) -> None:
    from ansible_collections.maildns.audit.plugins.module_utils.resolver_path import LocalResolver

    host_tree(tmp_path, "nameserver 127.0.0.1\n")
    host = read_host(str(tmp_path), spamassassin=False)
    bind = LocalResolver("bind", ["/etc/bind/named.conf.options"], listening=["127.0.0.1"])
    host.resolver_path.local_resolvers.append(bind)
    plan = plan_local_resolver(host, ResolverOptions())
    assert plan.status == "leave_alone" and "bind already recurses" in plan.reason
    bind.forwarders.append(
        {
            "address": "8.8.8.8",
            "source": "/etc/bind/named.conf.options",
            "line": 3,
            "class": "public_known",
            "provider": "Google",
            "role": "forward",
        }
    )
    plan = plan_local_resolver(host, ResolverOptions())
    assert plan.status == "blocked"
    assert "forwards to 8.8.8.8 (/etc/bind/named.conf.options line 3)" in plan.reason


def test_lab_options_name_the_root_and_ask_special_zones_upstream(tmp_path) -> None:
    host_tree(tmp_path)
    _host, plan = plan_of(
        tmp_path,
        dnssec=False,
        unblock_lan_zones=True,
        special_zones=["test"],
        root_hints=[{"name": "ns.lab.test", "address": "10.231.53.1"}],
    )
    files = planned(plan)
    drop_in = files[UNBOUND_DROP_IN].decode()
    assert 'module-config: "iterator"' in drop_in and "unblock-lan-zones: yes" in drop_in
    assert 'local-zone: "test." nodefault' in drop_in
    assert f'root-hints: "{ROOT_HINTS_FILE}"' in drop_in
    assert files[ROOT_HINTS_FILE].decode().splitlines()[1:] == [
        ".                        3600000  NS    ns.lab.test.",
        "ns.lab.test.             3600000  A     10.231.53.1",
    ]


def test_verification_uses_the_hosts_own_active_lists(tmp_path) -> None:
    host_tree(tmp_path)
    write(
        tmp_path,
        "/etc/postfix/main.cf",
        "smtpd_client_restrictions = reject_rbl_client bl.spamcop.net, reject_rbl_client dnsbl.sorbs.net,"
        " reject_rbl_client my.own.list\n",
    )
    _host, plan = plan_of(tmp_path)
    # SORBS is retired and my.own.list unknown: neither proves anything about the resolver.
    assert plan.verify_zones == ["bl.spamcop.net"]


# -- the transaction --------------------------------------------------------------------------------


def test_rollback_puts_back_every_byte_and_removes_what_it_created(tmp_path) -> None:
    write(tmp_path, "/etc/a.conf", "old a\n")
    write(tmp_path, "/etc/b.conf", "old b\n")
    (tmp_path / "etc/b.conf").chmod(0o600)
    write(tmp_path, "/etc/b.conf.maildns-backup", "an older backup\n")
    files = HostFiles(str(tmp_path))
    transaction = FileTransaction(files)
    transaction.set("/etc/a.conf", b"new a\n", "test")
    transaction.set("/etc/b.conf", None, "test", backup=True)
    transaction.set("/etc/new/c.conf", b"c\n", "test")
    transaction.set("/etc/same.conf", None, "test")  # absent and to stay absent: no change
    assert [c["path"] for c in transaction.summary()] == ["/etc/a.conf", "/etc/b.conf", "/etc/new/c.conf"]
    inode = (tmp_path / "etc/a.conf").stat().st_ino
    transaction.apply()
    assert (tmp_path / "etc/a.conf").stat().st_ino == inode, "written in place, not replaced"
    assert not (tmp_path / "etc/b.conf").exists()
    assert (tmp_path / "etc/b.conf.maildns-backup").read_text() == "old b\n"
    assert oct((tmp_path / "etc/b.conf.maildns-backup").stat().st_mode & 0o777) == "0o600"
    assert transaction.rollback() == []
    assert (tmp_path / "etc/a.conf").read_text() == "old a\n"
    assert (tmp_path / "etc/b.conf").read_text() == "old b\n"
    assert (tmp_path / "etc/b.conf.maildns-backup").read_text() == "an older backup\n"
    assert not (tmp_path / "etc/new/c.conf").exists()


def test_diffs_mask_dqs_keys_and_an_unreadable_file_is_named(tmp_path) -> None:
    from ansible_collections.maildns.audit.plugins.module_utils.dnsbl_catalog import mask_secrets

    write(tmp_path, "/etc/x.cf", "zone = abcdefghijklmnopqrstuvwxyz.zen.dq.spamhaus.net\n")
    transaction = FileTransaction(HostFiles(str(tmp_path)), mask=mask_secrets)
    transaction.set("/etc/x.cf", b"zone = abcdefghijklmnopqrstuvwxyz.dbl.dq.spamhaus.net\n", "test")
    text = repr(transaction.diffs()) + transaction.unified_diff()
    assert "abcdefghijklmnopqrstuvwxyz" not in text and "<DQS key>.dbl.dq.spamhaus.net" in text
    os.mkdir(tmp_path / "etc/dir.conf")
    with pytest.raises(TransactionError, match=r"/etc/dir\.conf cannot be read"):
        transaction.set("/etc/dir.conf", b"x", "test")
