"""The lab's DNS data answers like an authority for every lab name (tests/lab/zone_data.py)."""

from __future__ import annotations

import dns.name
import dns.rdatatype
import pytest

from tests.lab.zone_data import ZoneData, build_zone_data, dnsbl_zone_records, reverse_pointer


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
