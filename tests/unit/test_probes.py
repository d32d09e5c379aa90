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
        # A lapsed list domain parked on a wildcard: its parking address for every name.
        {"zone": "parked.example", "answer_all": ["91.195.240.117"]},
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
    code = main(["--json", "--zone", "zen.spamhaus.org", "--resolver", address, "--timeout", "0.5"])
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


# -- who is at fault: the resolver or the list (issue 9 items 1, 2, 3, 8, 9) ---------------------------

# What a resolver that hides Spamhaus sees (Google Public DNS answers NXDOMAIN for every name below
# a Spamhaus zone): the same Internet, with zen there but without its test points.
HIDDEN_DATA = build_zone_data(
    [{"zone": "bl.spamcop.net", "kind": "ip"}, {"zone": "zen.spamhaus.org", "test_points": False}],
    [". NS ns.lab.test.", "ns.lab.test. A 127.0.0.1"],
)


@pytest.fixture(scope="module")
def special():
    """Fixtures beyond the personalities: a resolver that hides zen, a public one whose TXT names an egress."""
    with ExitStack() as stack:
        servers = {
            "hiding": FixtureServer(FixtureResolver("resolver", HIDDEN_DATA), "127.0.0.1", 0),
            "egress": FixtureServer(FixtureResolver("public", DATA, own_address="192.0.2.53"), "127.0.0.1", 0),
            "slow": FixtureServer(FixtureResolver("resolver", DATA), "127.0.0.1", 0, delay=1.2),
            "quiet_zen": FixtureServer(
                FixtureResolver("resolver", DATA, silent_zones=["zen.spamhaus.org"]), "127.0.0.1", 0
            ),
        }
        yield {name: stack.enter_context(ThreadedFixture(server)).address for name, server in servers.items()}


def _targets(addresses: dict, *names: str) -> list:
    return [ResolverTarget(addresses[name][0], f"test {name}", addresses[name][1]) for name in names]


def test_an_active_list_hidden_by_one_resolver_is_blamed_on_it_never_called_dead(fixtures, special) -> None:
    resolvers = [*_targets(special, "hiding"), target(fixtures, "resolver")]
    results = probe_test_points(["zen.spamhaus.org"], resolvers, 0.5, fixtures["authority"][1])
    findings = judge_probes(results, [])
    assert [f.id for f in findings] == ["DNSBL_HIDDEN_BY_RESOLVER"]
    [hidden] = findings
    assert hidden.evidence["resolver_source"] == "test hiding" and hidden.evidence["at_fault"] == "resolver"
    assert hidden.evidence["authoritative"]["verdict"] == "alive"
    assert hidden.evidence["works_through"] == [fixtures["resolver"][0]]
    assert "Do not remove the list" in hidden.as_dict()["fix"]


def test_a_catalog_list_hidden_by_the_only_resolver_is_still_the_resolver_s_fault(fixtures, special) -> None:
    [result] = probe_test_points(["zen.spamhaus.org"], _targets(special, "hiding"), 0.5, fixtures["authority"][1])
    assert result.classification == "dead"  # what the resolver answered
    [finding] = judge_probes([result], [])
    assert finding.id == "DNSBL_HIDDEN_BY_RESOLVER" and finding.evidence["catalog_status"] == "active"


def test_a_list_dead_at_its_own_name_servers_is_dead(fixtures) -> None:
    [result] = probe(fixtures, ["dead.example"], "resolver")
    [finding] = judge_probes([result], [])
    assert finding.id == "DNSBL_DEAD"
    assert finding.evidence["authoritative"]["verdict"] == "dead" and finding.evidence["at_fault"] == "list"


def test_one_list_that_times_out_where_others_answer_is_the_resolver_when_its_servers_answer(fixtures, special) -> None:
    resolvers = _targets(special, "quiet_zen")
    results = probe_test_points(["zen.spamhaus.org", "bl.spamcop.net"], resolvers, 0.5, fixtures["authority"][1])
    classified = {r.zone: r.classification for r in results}
    assert classified == {"zen.spamhaus.org": "unreachable", "bl.spamcop.net": "working"}
    [finding] = judge_probes(results, [])
    assert finding.id == "DNSBL_HIDDEN_BY_RESOLVER" and finding.evidence["zone"] == "zen.spamhaus.org"


def test_a_retired_list_that_does_not_answer_says_it_is_closed(fixtures) -> None:
    [result] = probe(fixtures, ["dnsbl.njabl.org"], "blackhole")
    [finding] = judge_probes([result], [])
    assert finding.id == "DNSBL_RETIRED" and "2013" in finding.evidence["history"]
    assert "fix the resolver" not in repr(finding.as_dict()).lower()


def test_error_answers_keep_their_explanation_and_name_the_egress_resolver(fixtures, special) -> None:
    [result] = probe_test_points(["zen.spamhaus.org"], _targets(special, "egress"), 0.5, fixtures["authority"][1])
    [finding] = judge_probes([result], [])
    assert finding.id == "DNSBL_RESOLVER_REFUSED"
    assert finding.evidence["explanation"].startswith("Error: open resolver")
    assert finding.evidence["egress_resolver"] == "192.0.2.53"
    assert "192.0.2.53" in finding.evidence["egress_note"] and "127.0.0.1" in finding.evidence["egress_note"]


def test_a_dqs_key_under_the_wrong_tld_is_masked_and_the_finding_names_the_right_suffix(fixtures) -> None:
    zone = "secretkey0123456789.zen.dq.spamhaus.org"
    data = build_zone_data([{"zone": "dq.spamhaus.org", "answer_all": ["127.255.255.252"]}], [])
    with ThreadedFixture(FixtureServer(FixtureResolver("resolver", data), "127.0.0.1", 0)) as typo:
        address, port = typo.address
        results = probe_test_points([zone], [ResolverTarget(address, "test", port)], 0.5, fixtures["authority"][1])
    [finding] = judge_probes(results, [])
    assert finding.id == "DNSBL_WRONG_LIST"
    assert finding.evidence["did_you_mean"] == "<DQS key>.zen.dq.spamhaus.net"
    shown = repr([r.as_dict() for r in results]) + repr(finding.as_dict())
    assert "secretkey0123456789" not in shown and "<DQS key>.zen.dq.spamhaus.org" in shown


def test_a_slow_resolver_is_slow_not_dead(special) -> None:
    results = probe_test_points(["zen.spamhaus.org", "bl.spamcop.net"], _targets(special, "slow"), 2.5)
    assert {r.classification for r in results} == {"working"}
    [finding] = judge_probes(results, [])
    assert finding.id == "DNSBL_RESOLVER_SLOW" and finding.evidence["slowest_ms"] > 1000
    assert sorted(finding.evidence["lists"]) == ["bl.spamcop.net", "zen.spamhaus.org"]


def test_one_slow_list_among_fast_ones_is_the_list() -> None:
    from ansible_collections.maildns.audit.plugins.module_utils.dnsbl_probe import ListProbe, slow_findings

    resolver = ResolverTarget("10.0.0.53", "resolv.conf line 1")
    probes = [
        ListProbe("zen.spamhaus.org", resolver, "working", slowest_ms=12.0),
        ListProbe("bl.spamcop.net", resolver, "working", slowest_ms=1500.0),
    ]
    [finding] = slow_findings(probes)
    assert finding.id == "DNSBL_LIST_SLOW" and finding.evidence["zone"] == "bl.spamcop.net"


def test_an_outbound_check_never_claims_name_servers_were_asked_when_they_were_not(fixtures) -> None:
    results = probe(fixtures, ["zen.spamhaus.org"], "blackhole")
    [outbound] = check_outbound_ips(["zen.spamhaus.org"], ["192.0.2.8"], results, 0.5, fixtures["authority"][1])
    assert outbound["status"] == "unknown"
    # Through a resolver that never answers, the zone's name servers could not even be found.
    assert "could not be found" in outbound["reason"] and "name server 1" not in outbound["reason"]


def test_a_parked_list_domain_lists_the_world_even_outside_127(fixtures) -> None:
    [result] = probe(fixtures, ["parked.example"], "resolver")
    assert result.classification == "hijacked"  # what the resolver passed on
    [finding] = judge_probes([result], [])
    # The list's own name servers answer the parking address too: the list is at fault, not the resolver.
    assert finding.id == "DNSBL_LISTS_THE_WORLD" and finding.evidence["at_fault"] == "list"


def test_a_malformed_answer_on_the_unlisted_test_point_is_the_resolver_s(fixtures) -> None:
    from ansible_collections.maildns.audit.plugins.module_utils.dns_engine import Question, Reply
    from ansible_collections.maildns.audit.plugins.module_utils.dnsbl_probe import classify

    listed = Reply(Question("2.0.0.127.zen.spamhaus.org", "A", "10.0.0.1"), "NOERROR", ["127.0.0.2"])
    unlisted = Reply(Question("1.0.0.127.zen.spamhaus.org", "A", "10.0.0.1"), error="malformed: CNAME loop")
    assert classify([listed], [unlisted])[0] == "malformed"


def test_a_list_whose_own_name_server_is_silent_too_is_the_list_s_fault() -> None:
    from ansible_collections.maildns.audit.plugins.module_utils.dnsbl_probe import ListProbe, _at_fault

    resolver = ResolverTarget("10.0.0.53", "resolv.conf line 1")
    silent = ListProbe("dnsbl-1.uceprotect.net", resolver, "unreachable")
    silent.authoritative = {"server": "10.0.53.1", "verdict": "silent", "error": "timeout"}
    probes = [silent, ListProbe("zen.spamhaus.org", resolver, "working")]
    silent.at_fault = _at_fault(silent, probes)
    [finding] = judge_probes(probes, [])
    assert (finding.id, finding.evidence["at_fault"]) == ("DNSBL_UNREACHABLE", "list")
    assert "does not answer either" in finding.evidence["note"]
