"""maildns.audit.dnsbl_probe over SSH on lab hosts: each classification through a real network path."""

from __future__ import annotations

import pytest

from tests.integration.helpers import ansible_adhoc

pytestmark = pytest.mark.lab

# host -> {(zone, fixture personality or literal address): classification}
EXPECTED = {
    "mx01": {("zen.spamhaus.org", "resolver"): "working", ("dbl.spamhaus.org", "resolver"): "working"},
    "mx02": {("zen.spamhaus.org", "public"): "blocked_open_resolver"},
    "mx03": {("zen.spamhaus.org", "resolver"): "working", ("zen.spamhaus.org", "public"): "blocked_open_resolver"},
    "mx04": {("zen.spamhaus.org", "ratelimited"): "rate_limited"},
    "mx05": {("zen.spamhaus.org", "1.1.1.1"): "unreachable", ("zen.spamhaus.org", "1.0.0.1"): "unreachable"},
    "mx11": {
        (zone, personality): classification
        for zone in ("zen.spamhaus.org", "bl.spamcop.net")
        for personality, classification in (
            ("nxrewrite", "hijacked"),
            ("servfail", "unreachable"),
            ("garbage", "malformed"),
            ("blackhole", "unreachable"),
            ("refused", "unreachable"),
        )
    },
    "mx12": {
        ("zen.spamhaus.org", "resolver"): "working",
        ("bl.spamcop.net", "resolver"): "working",
        ("dnsbl.ahbl.org", "resolver"): "lists_the_world",
        ("zen.spamhaus.net", "resolver"): "wrong_list",
        ("dnsbl.njabl.org", "resolver"): "lists_the_world",  # a squatter's wildcard since 2024 (the catalog)
    },
}


@pytest.fixture(scope="module")
def probed(lab) -> dict[str, dict]:
    return ansible_adhoc(lab.inventory, "maildns.audit.dnsbl_probe", "timeout=1", pattern=":".join(EXPECTED))


def test_each_list_and_resolver_pair_is_classified(lab, probed) -> None:
    for host, expected in EXPECTED.items():
        want = {
            (zone, lab.fixture(who) if who[0].isalpha() else who): classification
            for (zone, who), classification in expected.items()
        }
        got = {(p["zone"], p["resolver"]): p["classification"] for p in probed[host]["probes"]}
        assert got == want, host
        assert probed[host]["engine"] == "dnspython"


def test_the_public_resolver_alone_is_flagged_beside_an_honest_one(lab, probed) -> None:
    findings = probed["mx03"]["findings"]
    assert [(f["id"], f["evidence"]["resolver"]) for f in findings] == [
        ("DNSBL_RESOLVER_REFUSED", lab.fixture("public"))
    ]
    assert findings[0]["evidence"]["resolver_source"] == "/etc/resolv.conf line 4"


def test_a_refused_resolver_comes_with_the_true_answer_from_the_lists_own_server(lab, probed) -> None:
    [finding] = probed["mx02"]["findings"]
    truth = finding["evidence"]["authoritative"]
    assert truth["server"] == lab.fixture("authority")
    assert sorted(truth["answers"]) == ["127.0.0.10", "127.0.0.2", "127.0.0.4"]
    [probe] = probed["mx02"]["probes"]
    assert "127.255.255.254" in probe["detail"]
    assert any("Error: open resolver" in str(q) or q["answers"] == ["127.255.255.254"] for q in probe["queries"])


def test_the_path_includes_the_chroot_copy_and_spamassassin(lab, probed) -> None:
    sources = {r["address"]: r["source"] for r in probed["mx11"]["resolvers"]}
    assert sources[lab.fixture("blackhole")] == "Postfix chroot copy /var/spool/postfix/etc/resolv.conf"
    assert sources[lab.fixture("refused")].startswith("SpamAssassin dns_server /etc/spamassassin/local.cf:1")


def test_outbound_address_listing_has_meaning_and_lookup_page(lab, probed) -> None:
    address = lab.host("mx12").address
    listed = [r for r in probed["mx12"]["outbound"] if r["listed"]]
    assert [(r["zone"], r["ip"]) for r in listed] == [("bl.spamcop.net", address)]
    assert listed[0]["codes"] == [{"answer": "127.0.0.2", "meaning": "reported spam source"}]
    assert address in listed[0]["lookup_url"]
    assert "OUTBOUND_IP_LISTED" in {f["id"] for f in probed["mx12"]["findings"]}


def test_error_answers_are_never_listings(probed) -> None:
    for result in probed["mx02"]["outbound"]:
        assert result["listed"] is False  # the authority answers for a refused path: not 127.255.255.254
    for host in EXPECTED:
        for result in probed[host]["outbound"]:
            assert all(code["answer"] not in ("127.255.255.254", "127.255.255.255") for code in result["codes"])


IDENTITY = {
    "mx01": [],
    "mx13": ["PTR_MISSING"],
    "mx14": ["HELO_NAME_DOES_NOT_RESOLVE", "MX_TARGET_DOES_NOT_RESOLVE", "PTR_NOT_FORWARD_CONFIRMED"],
    "mx15": ["HELO_NAME_DOES_NOT_RESOLVE", "HELO_NOT_PTR_NAME"],
    "mx16": ["MX_IS_IP_LITERAL"],
    "mx17": ["HELO_NOT_PTR_NAME", "PTR_LOOKS_GENERIC"],
}


@pytest.fixture(scope="module")
def identities(lab) -> dict[str, dict]:
    hosts = ":".join([*IDENTITY, "mx05"])
    return ansible_adhoc(lab.inventory, "maildns.audit.rdns_probe", "timeout=1", pattern=hosts)


def test_outbound_identity_findings_per_host(identities) -> None:
    for host, expected in IDENTITY.items():
        assert sorted({f["id"] for f in identities[host]["findings"]}) == expected, host
        assert identities[host]["status"] == "ok", identities[host]["checks"]


def test_identity_covers_ipv4_and_ipv6_outbound_addresses(lab, identities) -> None:
    host = lab.host("mx01")
    checked = {entry["ip"]: entry["ptr"] for entry in identities["mx01"]["addresses"]}
    assert checked == {host.address: [host.fqdn], host.address6: [host.fqdn]}
    missing = {f["evidence"]["ip"] for f in identities["mx13"]["findings"] if f["id"] == "PTR_MISSING"}
    assert missing == {lab.host("mx13").address, lab.host("mx13").address6}


def test_identity_through_unreachable_resolvers_is_unknown_not_passed(identities) -> None:
    result = identities["mx05"]
    assert result["status"] == "unknown" and result["findings"] == []
    assert all("Network is unreachable" in check["reason"] for check in result["checks"])
