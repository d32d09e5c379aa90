"""The lab's DNS data answers like an authority for every lab name (tests/lab/zone_data.py)."""

from __future__ import annotations

import dns.name
import dns.rdatatype
import pytest

from ansible_collections.maildns.audit.plugins.module_utils.dnsbl_catalog import CATALOG, filter_matches
from tests.lab.scenario import lab_zone_data, load_base
from tests.lab.zone_data import (
    LAB_ONLY_KEYS,
    ZoneData,
    build_zone_data,
    dnsbl_zone_records,
    lab_dnsbl_zones,
    reverse_pointer,
)


def lookup(data: ZoneData, name: str, rdtype: str = "A"):
    return data.lookup(dns.name.from_text(name), dns.rdatatype.from_text(rdtype))


def addresses(answer) -> list[str]:
    return sorted(rdata.to_text() for rrset in answer.answer for rdata in rrset)


@pytest.fixture
def data() -> ZoneData:
    return build_zone_data(
        [
            {"zone": "zen.spamhaus.org", "kind": "ip", "ipv6": True, "listed": {"192.0.2.7": ["127.0.0.3"]}},
            {"zone": "dbl.spamhaus.org", "kind": "domain", "listed": {"dbltest.com": ["127.0.1.2"]}},
            {"zone": "dead.example", "answer_all": ["127.0.0.2"]},
        ],
        [
            ". NS ns.lab.test.",
            "ns.lab.test. A 10.231.53.1",
            "mail.mx01.lab.test. A 10.231.1.1",
            "alias.mx01.lab.test. CNAME mail.mx01.lab.test.",
            "mx01.lab.test. MX 10 mail.mx01.lab.test.",
        ],
    )


def test_rfc5782_test_points_are_served(data: ZoneData) -> None:
    assert addresses(lookup(data, "2.0.0.127.zen.spamhaus.org")) == ["127.0.0.2"]
    assert lookup(data, "1.0.0.127.zen.spamhaus.org").rcode == "NXDOMAIN"
    v6 = reverse_pointer("::ffff:7f00:2")
    assert addresses(lookup(data, f"{v6}.zen.spamhaus.org")) == ["127.0.0.2"]
    assert addresses(lookup(data, "test.dbl.spamhaus.org")) == ["127.0.1.2"]
    assert lookup(data, "invalid.dbl.spamhaus.org").rcode == "NXDOMAIN"


def test_listed_entries_answer_their_codes_and_txt(data: ZoneData) -> None:
    assert addresses(lookup(data, "7.2.0.192.zen.spamhaus.org")) == ["127.0.0.3"]
    txt = lookup(data, "7.2.0.192.zen.spamhaus.org", "TXT")
    assert "192.0.2.7" in txt.answer[0][0].to_text()
    assert addresses(lookup(data, "dbltest.com.dbl.spamhaus.org")) == ["127.0.1.2"]


def test_a_zone_that_answers_all_lists_every_name_but_not_its_apex(data: ZoneData) -> None:
    assert addresses(lookup(data, "1.0.0.127.dead.example")) == ["127.0.0.2"]
    assert addresses(lookup(data, "anything.at.all.dead.example")) == ["127.0.0.2"]
    assert lookup(data, "dead.example").answer == []


def test_negative_answers_tell_nodata_from_nxdomain(data: ZoneData) -> None:
    nodata = lookup(data, "mail.mx01.lab.test", "MX")
    assert (nodata.rcode, nodata.answer) == ("NOERROR", [])
    assert nodata.authority[0].rdtype == dns.rdatatype.SOA
    empty_non_terminal = lookup(data, "lab.test")
    assert (empty_non_terminal.rcode, empty_non_terminal.answer) == ("NOERROR", [])
    assert lookup(data, "nothing.lab.test").rcode == "NXDOMAIN"


def test_cname_is_followed_and_glue_comes_with_ns_and_mx(data: ZoneData) -> None:
    chased = lookup(data, "alias.mx01.lab.test")
    assert [rrset.rdtype for rrset in chased.answer] == [dns.rdatatype.CNAME, dns.rdatatype.A]
    root_ns = lookup(data, ".", "NS")
    assert root_ns.additional[0][0].to_text() == "10.231.53.1"
    assert lookup(data, "mx01.lab.test", "MX").additional[0][0].to_text() == "10.231.1.1"


def test_json_round_trip_keeps_every_answer(data: ZoneData) -> None:
    again = ZoneData.from_json(data.to_json())
    for name in ("2.0.0.127.zen.spamhaus.org", "x.dead.example", "mail.mx01.lab.test", "nothing.lab.test"):
        assert addresses(lookup(again, name)) == addresses(lookup(data, name))
        assert lookup(again, name).rcode == lookup(data, name).rcode


def test_a_bad_record_line_is_refused_with_the_line() -> None:
    with pytest.raises(ValueError, match="owner"):
        ZoneData().add("lonely")


def test_domain_zone_test_point_is_test_not_an_ip() -> None:
    lines, wildcard = dnsbl_zone_records({"zone": "dbl.example", "kind": "domain"})
    assert wildcard is None
    assert "test.dbl.example. A 127.0.1.2" in lines


# -- one source for the lab's lists: the collection's DNSBL catalog (issue 9 item 13) ---------------

LAB = lab_zone_data(load_base(), [], "10.231.53.1")


def test_base_yml_says_nothing_about_a_catalog_list_that_the_catalog_says() -> None:
    for spec in load_base()["dnsbl_zones"]:
        if spec["zone"] in CATALOG:
            assert set(spec) <= LAB_ONLY_KEYS, f"{spec['zone']}: {sorted(set(spec) - LAB_ONLY_KEYS)} repeat the catalog"


def test_a_lab_entry_that_repeats_the_catalog_is_refused() -> None:
    with pytest.raises(ValueError, match="kind come from the DNSBL catalog"):
        lab_dnsbl_zones([{"zone": "bl.spamcop.net", "kind": "domain"}])


@pytest.mark.parametrize("zone", [zone for zone, entry in CATALOG.items() if entry.status != "retired"])
def test_every_working_catalog_list_answers_its_test_points_with_a_code_its_filter_admits(zone: str) -> None:
    entry = CATALOG[zone]
    points = entry.test_points
    for point in points["listed"]:
        name = f"{point}.{zone}" if entry.kind == "domain" else f"{reverse_pointer(point)}.{zone}"
        answer = lookup(LAB, name)
        assert answer.rcode == "NOERROR" and addresses(answer), f"{name} is not listed in the lab"
        assert all(filter_matches(entry.reply_filter, code) for code in addresses(answer)), (name, addresses(answer))
        assert lookup(LAB, name, "TXT").answer, f"{name} has no TXT"
    for point in points["not_listed"]:
        name = f"{point}.{zone}" if entry.kind == "domain" else f"{reverse_pointer(point)}.{zone}"
        assert lookup(LAB, name).rcode == "NXDOMAIN", f"{name} is listed in the lab"


@pytest.mark.parametrize("zone", [zone for zone, entry in CATALOG.items() if entry.status == "retired"])
def test_retired_catalog_lists_are_dead_or_list_the_world_as_the_catalog_says(zone: str) -> None:
    entry = CATALOG[zone]
    listed = entry.test_points["listed"][0]
    name = f"{listed}.{zone}" if entry.kind == "domain" else f"{reverse_pointer(listed)}.{zone}"
    world = addresses(lookup(LAB, f"1.0.0.127.{zone}"))
    if entry.lists_the_world:
        assert world == ["127.0.0.2"] and addresses(lookup(LAB, name)) == ["127.0.0.2"]
    else:
        assert world == [] and lookup(LAB, name).rcode == "NXDOMAIN"


@pytest.mark.parametrize("zone", [zone for zone, entry in CATALOG.items() if entry.dqs_zone])
def test_every_dqs_zone_of_the_catalog_is_served_for_the_lab_key_like_its_public_twin(zone: str) -> None:
    entry = CATALOG[zone]
    dqs = entry.dqs_zone.replace("<key>", load_base()["dqs_key"])
    point = entry.test_points["listed"][0]
    owner = point if entry.kind == "domain" else reverse_pointer(point)
    assert addresses(lookup(LAB, f"{owner}.{dqs}")) == addresses(lookup(LAB, f"{owner}.{zone}"))
    assert addresses(lookup(LAB, f"{owner}.{dqs}"))


def test_lab_listings_stay_beside_the_catalog_test_points() -> None:
    assert addresses(lookup(LAB, "2.0.0.127.zen.spamhaus.org")) == ["127.0.0.10", "127.0.0.2", "127.0.0.4"]
    assert addresses(lookup(LAB, "2.0.0.127.list.dnswl.org")) == ["127.0.10.0"]
    assert addresses(lookup(LAB, "dbltest.com.dbl.spamhaus.org")) == ["127.0.1.2"]
    assert "spamcop.net/bl.shtml?127.0.0.2" in lookup(LAB, "2.0.0.127.bl.spamcop.net", "TXT").answer[0].to_text()


def test_dqs_name_under_org_answers_wrong_list_for_any_key() -> None:
    for key in ("labtestkey0123456789", "x"):
        assert addresses(lookup(LAB, f"2.0.0.127.{key}.zen.dq.spamhaus.org")) == ["127.255.255.252"]
        txt = lookup(LAB, f"2.0.0.127.{key}.zen.dq.spamhaus.org", "TXT").answer[0][0].to_text()
        assert txt == '"Error: wrong list / typo"'


def test_a_catalog_given_explicitly_is_the_only_source() -> None:
    catalog = {"bl.spamcop.net": CATALOG["bl.spamcop.net"]}
    zones = lab_dnsbl_zones([{"zone": "extra.example", "kind": "ip"}], "key", catalog)
    assert [spec["zone"] for spec in zones] == ["bl.spamcop.net", "extra.example"]
