"""Scenario files render into a host's files, main.cf and DNS records (tests/lab/scenario.py)."""

from __future__ import annotations

import pytest

from tests.lab.scenario import (
    HostIdentity,
    ScenarioError,
    available_scenarios,
    identity_records,
    lab_zone_data,
    load_base,
    load_scenario,
    merge_host,
    render_host,
)

HOST = HostIdentity("mx07", 7, "10.231.1.7", "fd10:231::1:7")
FIXTURES = {personality: f"10.231.53.{octet}" for personality, octet in load_base()["fixtures"].items()}


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
