"""Scenario files render into a host's files, main.cf and DNS records (tests/lab/scenario.py)."""

from __future__ import annotations

import ipaddress
import re

import dns.name
import pytest

from ansible_collections.maildns.audit.plugins.module_utils.dnsbl_catalog import CATALOG
from tests.lab.dns_fixture import BROKEN_BEHAVIOURS, FixtureResolver
from tests.lab.scenario import (
    HostIdentity,
    ScenarioError,
    available_scenarios,
    fixture_specs,
    identity_records,
    lab_zone_data,
    load_base,
    load_scenario,
    merge_host,
    render_host,
)
from tests.lab.zone_data import ZoneData, reverse_pointer

HOST = HostIdentity("mx07", 7, "10.231.1.7", "fd10:231::1:7")
FIXTURES = {spec.name: f"10.231.53.{spec.octet}" for spec in fixture_specs(load_base())}


def render(scenario: str | dict, name: str = "inline"):
    spec = load_scenario(scenario)
    return render_host(
        HOST, scenario if isinstance(scenario, str) else name, spec, load_base(), FIXTURES, FIXTURES["authority"]
    )


@pytest.mark.parametrize("name", available_scenarios())
def test_every_scenario_file_renders(name: str) -> None:
    host = render(name)
    assert host.description, f"{name} needs a description saying what it reproduces"
    assert "\nnameserver " in "\n" + host.files["/etc/resolv.conf"]
    assert "myhostname = mail.mx07.lab.test" in host.main_cf()


def test_a_scenario_overrides_only_what_it_says() -> None:
    host = render(
        {
            "files": {"/etc/resolv.conf": "nameserver {{ fixtures.public }}\n"},
            "postconf": {"smtpd_client_restrictions": "reject_rbl_client zen.spamhaus.org", "biff": None},
        }
    )
    assert host.files["/etc/resolv.conf"] == "nameserver 10.231.53.54\n"
    main_cf = host.main_cf()
    assert "smtpd_client_restrictions = reject_rbl_client zen.spamhaus.org" in main_cf
    assert "biff" not in main_cf
    assert "mydomain = mx07.lab.test" in main_cf


def test_multiline_values_become_continuation_lines() -> None:
    host = render({"postconf": {"smtpd_client_restrictions": "permit_mynetworks,\nreject_rbl_client x.example"}})
    assert "smtpd_client_restrictions = permit_mynetworks,\n    reject_rbl_client x.example\n" in host.main_cf()


def test_identity_defaults_give_forward_confirmed_ptr_and_mx() -> None:
    records = render({}).dns_records
    assert "mail.mx07.lab.test. A 10.231.1.7" in records
    assert "7.1.231.10.in-addr.arpa. PTR mail.mx07.lab.test." in records
    assert "mx07.lab.test. MX 10 mail.mx07.lab.test." in records


def test_identity_can_drop_ptr_and_point_mx_at_an_ip() -> None:
    records = identity_records(HOST, {"ptr": None, "forward": False, "mx": "10.231.1.7"})
    assert records == ["mx07.lab.test. MX 10 10.231.1.7."]


def test_merge_deletes_with_none_and_merges_mappings() -> None:
    merged = merge_host({"a": {"x": 1, "y": 2}, "b": [1]}, {"a": {"y": None, "z": 3}, "b": [2]})
    assert merged == {"a": {"x": 1, "z": 3}, "b": [2]}


@pytest.mark.parametrize(
    ("scenario", "message"),
    [
        ({"fils": {}}, "unknown keys"),
        ({"files": {"/usr/bin/evil": "x"}}, "cannot place /usr/bin/evil"),
        ({"remove": ["/usr/sbin/postconf"]}, "cannot remove '/usr/sbin/postconf'"),
        ({"remove": ["/var/log/mail.log"]}, "only files under /etc"),
        ({"remove": ["/etc/resolv.conf"]}, "both placed .* and removed"),
        ({"journal": ["postfix/smtpd: connect"]}, "journal entries are {identifier, message}"),
        ({"files": {"/etc/resolv.conf": "nameserver {{ fixtures.nosuch }}"}}, "nosuch"),
    ],
)
def test_bad_scenarios_are_refused_with_the_reason(scenario: dict, message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        render(scenario)


def test_a_removed_file_is_listed_for_the_whiteout_and_not_placed() -> None:
    host = render("no_postfix")
    assert host.remove == ["/etc/postfix/main.cf"]
    assert "/etc/postfix/main.cf" not in host.files


def test_unknown_scenario_name_lists_the_known_ones() -> None:
    with pytest.raises(ScenarioError, match=r"known: .*healthy"):
        load_scenario("no-such-scenario")


def test_host_listings_reach_the_lab_zone_data() -> None:
    host = render({"dns": {"listed": {"bl.spamcop.net": ["{{ host.address }}"]}}})
    data = lab_zone_data(load_base(), [host], FIXTURES["authority"])
    assert '"7.1.231.10.bl.spamcop.net. 300 A 127.0.0.2"' in data.to_json()


def test_listing_in_a_zone_the_lab_does_not_serve_is_refused() -> None:
    host = render({"dns": {"listed": {"nosuch.example": ["10.0.0.1"]}}})
    with pytest.raises(ScenarioError, match="not a lab DNSBL zone"):
        lab_zone_data(load_base(), [host], FIXTURES["authority"])


# -- fixtures of base.yml: names, personalities, options ---------------------------------------------


def test_fixture_entries_name_a_personality_and_its_options() -> None:
    specs = {spec.name: spec for spec in fixture_specs(load_base())}
    assert specs["public"].argv("10.244") == ["--personality", "public"]
    forwarder = specs["forwarder"]
    assert forwarder.personality == "public"
    assert forwarder.egress_address("10.244") == "10.244.53.199"
    assert forwarder.argv("10.244")[-2:] == ["--egress", "10.244.53.199"]
    assert specs["slow"].argv("10.244") == ["--personality", "resolver", "--delay-ms", "1300.0"]
    for name in ("authority", "resolver"):
        assert specs[name].slow_zones == {"dnsbl-1.uceprotect.net": 1500.0}
        assert "dnsbl-1.uceprotect.net=1500.0" in specs[name].argv("10.244")
    assert {"hidelists", "broken"} <= {spec.personality for spec in specs.values()}
    # nobody serves the egress address: it is the upstream Spamhaus saw, beyond the lab's reach
    assert 199 not in {spec.octet for spec in specs.values()}


@pytest.mark.parametrize(
    ("fixtures", "message"),
    [
        ({"a": {"octet": 3, "personality": "friendly"}}, "no personality 'friendly'"),
        ({"resolver": 2, "other": {"octet": 2, "personality": "resolver"}}, "share an octet"),
        ({"resolver": {"octet": 300}}, "octet must be 1..254"),
        ({"resolver": {"octet": 2, "delay": 5}}, "unknown keys"),
        ({"resolver": 2, "public": {"octet": 54, "egress": 2}}, "egress octet is a served fixture's"),
    ],
)
def test_bad_fixture_entries_are_refused(fixtures: dict, message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        fixture_specs({"fixtures": fixtures})


def test_the_broken_middlebox_host_meets_every_broken_behaviour() -> None:
    """Each behaviour on at least one list's test points, and one on the PTR of the host's address."""
    host = render("broken_middlebox")
    assert host.files["/etc/resolv.conf"].count("nameserver ") == 1
    assert f"nameserver {FIXTURES['broken']}" in host.files["/etc/resolv.conf"]
    uses = " ".join(host.postconf.values())
    zones = set(re.findall(r"(?:reject_rbl_client|reject_rhsbl_sender|permit_dnswl_client) ([a-z0-9.-]+)", uses))
    resolver = FixtureResolver("broken", ZoneData())
    seen = {}
    for zone in zones:
        entry = CATALOG[zone]
        for point in entry.test_points["listed"] + entry.test_points["not_listed"]:
            owner = point if entry.kind == "domain" else reverse_pointer(point)
            seen.setdefault(resolver.broken_behaviour(dns.name.from_text(f"{owner}.{zone}"), 1), set()).add(zone)
    assert set(seen) == set(BROKEN_BEHAVIOURS), f"not met: {set(BROKEN_BEHAVIOURS) - set(seen)}"
    ptr = dns.name.from_text(ipaddress.ip_address(HOST.address).reverse_pointer)
    ptr6 = dns.name.from_text(ipaddress.ip_address(HOST.address6).reverse_pointer)
    assert resolver.broken_behaviour(ptr, 12) == resolver.broken_behaviour(ptr6, 12) == "wrong_type"


def test_the_slow_list_host_uses_the_slow_list_beside_fast_ones() -> None:
    host = render("slow_list")
    slow = {spec.name: spec for spec in fixture_specs(load_base())}["resolver"].slow_zones
    assert f"nameserver {FIXTURES['resolver']}" in host.files["/etc/resolv.conf"]
    used = host.postconf["smtpd_client_restrictions"]
    assert [zone for zone in slow if zone in used] == ["dnsbl-1.uceprotect.net"]
    assert "zen.spamhaus.org" in used and "bl.spamcop.net" in used


@pytest.mark.parametrize(
    ("scenario", "nameservers"),
    [
        ("google_resolver", ["hidelists", "resolver"]),
        ("egress_forwarder", ["forwarder"]),
        ("dqs_behind_public", ["public"]),
        ("slow_resolver", ["slow"]),
        ("broken_middlebox", ["broken"]),
    ],
)
def test_new_scenarios_name_their_fixtures_in_order(scenario: str, nameservers: list[str]) -> None:
    resolv = render(scenario).files["/etc/resolv.conf"]
    lines = [line.split()[1] for line in resolv.splitlines() if line.startswith("nameserver")]
    assert lines == [FIXTURES[name] for name in nameservers]


def test_bad_nameserver_lines_sit_beside_one_honest_resolver() -> None:
    resolv = render("bad_nameservers").files["/etc/resolv.conf"]
    assert "nameserver not-an-ip\nnameserver 999.1.1.1\n" in resolv
    assert resolv.rstrip().endswith(f"nameserver {FIXTURES['resolver']}")


def test_dqs_behind_public_hides_every_key_it_uses() -> None:
    host = render("dqs_behind_public")
    reply_map = host.files["/etc/postfix/dnsbl_reply"]
    used = re.findall(r"([^\s,]*dq\.spamhaus\.net=[^\s,]+)", " ".join(host.postconf.values()))
    assert len(used) == 2
    assert {line.split()[0] for line in reply_map.splitlines()} == set(used)
    assert host.postconf["rbl_reply_maps"] == "texthash:/etc/postfix/dnsbl_reply"
    assert "zen.spamhaus.org" not in " ".join(host.postconf.values())


def test_lab_prefixes_may_hold_digits_after_a_letter() -> None:
    from tests.lab.fleet import LabNetwork

    network = LabNetwork("mdh3", "10.244")
    assert (network.bridge, network.host_veth(12), network.fixture_address(65)) == (
        "mdh3br0",
        "mdh3v0012",
        "10.244.53.65",
    )
    for bad in ("3md", "m", "mdlab77", "MD"):
        with pytest.raises(ValueError, match="lab prefix"):
            LabNetwork(bad, "10.244")
