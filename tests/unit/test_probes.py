"""The DNSBL probe classifies each (list, resolver) pair from real answers on the wire (loopback fixtures)."""

from __future__ import annotations

from contextlib import ExitStack

import pytest

from ansible_collections.maildns.audit.plugins.module_utils import dns_engine
from ansible_collections.maildns.audit.plugins.module_utils.dnsbl_probe import (
    ResolverTarget,
    check_outbound_ips,
    judge_probes,
    main,
    probe_test_points,
)
from tests.lab.dns_fixture import FixtureResolver, FixtureServer, ThreadedFixture
from tests.lab.zone_data import build_zone_data

DATA = build_zone_data(
    [
        {"zone": "zen.spamhaus.org", "kind": "ip", "ipv6": True, "listed": {"192.0.2.7": ["127.0.0.3"]}},
        {"zone": "bl.spamcop.net", "kind": "ip", "listed": {"192.0.2.7": ["127.0.0.2"]}},
        {"zone": "dnsbl.ahbl.org", "answer_all": ["127.0.0.2"]},
        {"zone": "zen.spamhaus.net", "answer_all": ["127.255.255.252"]},
    ],
    [
        ". NS ns.lab.test.",
        "ns.lab.test. A 127.0.0.1",
        "dead.example. SOA ns.lab.test. hostmaster.lab.test. 1 3600 600 86400 60",
        "dead.example. NS ns.lab.test.",
        "big.lab.test. TXT " + " ".join(['"' + "x" * 200 + '"'] * 5),
    ],
)


@pytest.fixture(scope="module")
def fixtures():
    """personality -> (address, port) of a running fixture on loopback."""
    with ExitStack() as stack:
        running = {}
        for personality in (
            "authority",
            "resolver",
            "public",
            "ratelimited",
            "nxrewrite",
            "servfail",
            "refused",
            "blackhole",
            "garbage",
            "truncated",
            "listsworld",
        ):
            server = FixtureServer(FixtureResolver(personality, DATA), "127.0.0.1", 0)
            running[personality] = stack.enter_context(ThreadedFixture(server)).address
        yield running


def target(fixtures, personality: str) -> ResolverTarget:
    address, port = fixtures[personality]
    return ResolverTarget(address, f"test {personality}", port)


def probe(fixtures, zones: list[str], personality: str, timeout: float = 0.5):
    authority_port = fixtures["authority"][1]
    return probe_test_points(zones, [target(fixtures, personality)], timeout, authority_port)


@pytest.mark.parametrize(
    ("zone", "personality", "classification"),
    [
        ("zen.spamhaus.org", "resolver", "working"),
        ("zen.spamhaus.org", "public", "blocked_open_resolver"),
        ("zen.spamhaus.org", "ratelimited", "rate_limited"),
        ("zen.spamhaus.net", "resolver", "wrong_list"),
        ("dead.example", "resolver", "dead"),
        ("dnsbl.ahbl.org", "resolver", "lists_the_world"),
        ("zen.spamhaus.org", "listsworld", "lists_the_world"),
        ("zen.spamhaus.org", "nxrewrite", "hijacked"),
        ("zen.spamhaus.org", "servfail", "unreachable"),
        ("zen.spamhaus.org", "refused", "unreachable"),
        ("zen.spamhaus.org", "blackhole", "unreachable"),
        ("zen.spamhaus.org", "garbage", "malformed"),
        ("zen.spamhaus.org", "truncated", "malformed"),
    ],
)
def test_each_answer_is_classified(fixtures, zone: str, personality: str, classification: str) -> None:
    [result] = probe(fixtures, [zone], personality)
    assert result.classification == classification, result.detail
    assert result.queries and result.detail


def test_a_refused_resolver_gets_the_true_answer_from_the_authority_beside_it(fixtures) -> None:
    [result] = probe(fixtures, ["zen.spamhaus.org"], "public")
    assert result.authoritative["server"] == "127.0.0.1"
    assert result.authoritative["answers"] == ["127.0.0.2"]
    [finding] = judge_probes([result], [])
    assert finding.id == "DNSBL_RESOLVER_REFUSED"
    assert finding.evidence["authoritative"]["answers"] == ["127.0.0.2"]


def test_only_the_public_resolver_of_two_is_flagged(fixtures) -> None:
    resolvers = [target(fixtures, "resolver"), target(fixtures, "public")]
    results = probe_test_points(["zen.spamhaus.org", "bl.spamcop.net"], resolvers, 0.5, fixtures["authority"][1])
    flagged = {(f.evidence["zone"], f.evidence["resolver_source"]) for f in judge_probes(results, [])}
    assert flagged == {("zen.spamhaus.org", "test public")}  # SpamCop answers the public resolver honestly


def test_an_unroutable_resolver_is_unreachable_at_once() -> None:
    # 192.0.2.0/24 (TEST-NET-1) through a socket bound to loopback has no route: the send fails.
    reply = dns_engine.resolve_many([dns_engine.Question("x.example", "A", "::ffff:192.0.2.1")], 0.2)[0]
    assert reply.error.startswith("unreachable") or reply.error == "timeout"


def test_outbound_ips_listed_with_meaning_and_errors_are_never_listings(fixtures) -> None:
    resolvers = [target(fixtures, "resolver")]
    zones = ["zen.spamhaus.org", "bl.spamcop.net"]
    results = probe_test_points(zones, resolvers, 0.5, fixtures["authority"][1])
    outbound = check_outbound_ips(zones, ["192.0.2.7", "192.0.2.8"], results, 0.5, fixtures["authority"][1])
    listed = {(r["zone"], r["ip"]): r for r in outbound if r["listed"]}
    assert set(listed) == {("zen.spamhaus.org", "192.0.2.7"), ("bl.spamcop.net", "192.0.2.7")}
    assert listed[("zen.spamhaus.org", "192.0.2.7")]["codes"] == [
        {"answer": "127.0.0.3", "meaning": "SBL CSS: snowshoe spam"}
    ]
    assert "192.0.2.7" in listed[("zen.spamhaus.org", "192.0.2.7")]["lookup_url"]
    # Through a refused resolver, the outbound check goes to the authority and sees no error code.
    refused = probe_test_points(["zen.spamhaus.org"], [target(fixtures, "public")], 0.5, fixtures["authority"][1])
    [via_authority] = check_outbound_ips(["zen.spamhaus.org"], ["192.0.2.8"], refused, 0.5, fixtures["authority"][1])
    assert via_authority["listed"] is False and via_authority["errors"] == []
    assert via_authority["resolver"] == "127.0.0.1"


def test_truncated_udp_answers_are_asked_again_over_tcp(fixtures) -> None:
    address, port = fixtures["resolver"]
    [reply] = dns_engine.resolve_many([dns_engine.Question("big.lab.test", "TXT", address, port)], 1.0)
    assert reply.error == "" and len(reply.answers) == 1 and len(reply.answers[0]) == 1000


def test_dqs_keys_stay_out_of_probe_results(fixtures) -> None:
    zone = "secretkey0123456789.zen.dq.spamhaus.net"
    [result] = probe(fixtures, [zone], "resolver")
    assert "secretkey0123456789" not in repr(result.as_dict())


def test_command_line_prints_json_and_exits_1_on_findings(fixtures, capsys) -> None:
    address, port = fixtures["public"]
    code = main(["--zone", "zen.spamhaus.org", "--resolver", address, "--timeout", "0.5"])
    output = capsys.readouterr().out
    # The CLI asks port 53 of the resolver: on loopback nothing listens there, so it is unreachable.
    assert code == 1 and '"classification": "unreachable"' in output and '"engine": "dnspython"' in output
    assert port != 53


def test_without_dnspython_the_probe_falls_back_to_libc_and_says_so(tmp_path, monkeypatch) -> None:
    import socket

    from ansible_collections.maildns.audit.plugins.module_utils import probe_host

    (tmp_path / "etc/postfix").mkdir(parents=True)
    (tmp_path / "etc/postfix/main.cf").write_text("smtpd_client_restrictions = reject_rbl_client zen.spamhaus.org\n")
    (tmp_path / "etc/resolv.conf").write_text("nameserver 1.1.1.1\n")
    answers = {"2.0.0.127.zen.spamhaus.org": "127.255.255.254", "1.0.0.127.zen.spamhaus.org": "127.255.255.254"}

    def fake_getaddrinfo(name, *args, **kwargs):  # the system resolver, without asking any network
        if name in answers:
            return [(socket.AF_INET, socket.SOCK_DGRAM, 0, "", (answers[name], 0))]
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(dns_engine, "HAS_DNSPYTHON", False)
    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    result = probe_host.probe_host(str(tmp_path), outbound_ips=["192.0.2.7"], timeout=0.5)
    assert result["engine"] == "libc" and result["status"] == "unknown"
    assert "dnspython is not installed" in result["checks"][0]["reason"]
    [pair] = result["probes"]
    assert pair["classification"] == "blocked_open_resolver"
    assert pair["authoritative"]["server"] is None  # NS lookups need dnspython: said, not guessed
