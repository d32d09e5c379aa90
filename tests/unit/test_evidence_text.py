"""Evidence as sentences: every catalog ID has its own words, and no evidence can break the report."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.maildns.audit.plugins.module_utils.evidence_text import (
    SENTENCES,
    evidence_sentence,
    generic_sentence,
)
from ansible_collections.maildns.audit.plugins.module_utils.findings import CATALOG, Finding

MAIN_CF = {"file": "/etc/postfix/main.cf", "line": 18, "parameter": "smtpd_client_restrictions", "scope": "main.cf"}
ZEN_USE = dict(MAIN_CF, zone="zen.spamhaus.org", restriction="reject_rbl_client")
PROBE = {
    "zone": "zen.spamhaus.org",
    "resolver": "1.1.1.1",
    "resolver_source": "/etc/resolv.conf line 2",
    "classification": "blocked_open_resolver",
    "detail": "2.0.0.127.zen.spamhaus.org answered 127.255.255.254",
}
PTR = {"ip": "192.0.2.25", "query": "25.2.0.192.in-addr.arpa", "ptr": ["mail.example.org"], "rcode": "NOERROR"}

# Evidence as the judges write it (judge.py, resolver_path.py, dnsbl_probe.py, rdns_probe.py,
# fleet_report.py); for IDs not emitted yet, the keys the catalog's newer judges are to use.
REALISTIC = {
    "RESOLV_CONF_PUBLIC_NAMESERVER": {
        "file": "/etc/resolv.conf",
        "line": 2,
        "nameserver": "1.1.1.1",
        "rotate": True,
        "layer": "resolv.conf",
        "provider": "Cloudflare",
    },
    "RESOLV_CONF_UNKNOWN_PUBLIC_NAMESERVER": {"file": "/etc/resolv.conf", "line": 3, "nameserver": "198.51.100.7"},
    "RESOLV_CONF_INVALID_NAMESERVER": {"file": "/etc/resolv.conf", "line": 4, "nameserver": "dns.example.net"},
    "RESOLV_CONF_MISSING": {
        "file": "/etc/resolv.conf",
        "effective": "127.0.0.1 (glibc default)",
        "detail": "does not exist",
    },
    "LOOPBACK_NAMESERVER_NOTHING_LISTENS": {"file": "/etc/resolv.conf", "line": 1, "nameserver": "127.0.0.1"},
    "SYSTEMD_RESOLVED_PUBLIC_UPSTREAM": {
        "file": "/etc/systemd/resolved.conf",
        "line": 5,
        "resolver": "systemd-resolved",
        "forwarder": "8.8.8.8",
        "provider": "Google Public DNS",
        "role": "DNS",
    },
    "LOCAL_RESOLVER_FORWARDS_PUBLIC": {
        "file": "/etc/unbound/unbound.conf.d/forward.conf",
        "line": 3,
        "resolver": "unbound",
        "forwarder": "9.9.9.9",
        "provider": "Quad9",
        "role": "forward-addr",
    },
    "POSTFIX_CHROOT_RESOLV_CONF_DRIFT": {
        "file": "/var/spool/postfix/etc/resolv.conf",
        "chroot_nameservers": ["1.1.1.1"],
        "resolv_conf_nameservers": ["127.0.0.1"],
        "chrooted_services": ["smtp/inet"],
        "problem": "differs",
    },
    "DNSBL_NO_REPLY_FILTER": dict(
        ZEN_USE,
        suggested="zen.spamhaus.org=127.0.0.[2..11]",
        error_answers=["127.255.255.252", "127.255.255.254", "127.255.255.255"],
    ),
    "DNSBL_FILTER_ADMITS_ERROR_CODES": dict(
        ZEN_USE,
        filter="127.0.0.[2..255]",
        admitted_error_answers=["127.255.255.254"],
        suggested="zen.spamhaus.org=127.0.0.[2..11]",
    ),
    "DBL_WITHOUT_FILTER": dict(
        MAIN_CF,
        zone="dbl.spamhaus.org",
        restriction="reject_rhsbl_sender",
        suggested="dbl.spamhaus.org=127.0.1.[2..99]",
        error_answers=["127.255.255.254"],
    ),
    "DNSBL_RETIRED": dict(
        MAIN_CF,
        zone="dnsbl.ahbl.org",
        restriction="reject_rbl_client",
        history="closed in 2015, then lists the world (127.0.0.2 for every address)",
        lists_the_world=True,
    ),
    "DNSBL_MISSPELLED": dict(
        MAIN_CF, zone="zen.spamhaus.orh", restriction="reject_rbl_client", did_you_mean="zen.spamhaus.org"
    ),
    "DNSBL_NEEDS_REGISTRATION": dict(
        MAIN_CF, zone="b.barracudacentral.org", restriction="reject_rbl_client", operator="Barracuda"
    ),
    "DQS_KEY_EXPOSED_IN_SMTP_REPLY": dict(
        MAIN_CF, zone="<DQS key>.zen.dq.spamhaus.net", restriction="reject_rbl_client", missing="rbl_reply_maps"
    ),
    "DNSBL_SINGLE_LIST": {"zone": "zen.spamhaus.org"},
    "POSTFIX_MASTER_OVERRIDES_DNSBL": {
        "service": "submission/inet",
        "parameter": "smtpd_client_restrictions",
        "master_cf": "permit_sasl_authenticated,reject",
        "main_cf": "reject_rbl_client zen.spamhaus.org=127.0.0.[2..11]",
        "file": "/etc/postfix/master.cf",
        "line": 17,
    },
    "POSTFIX_PARAMETER_UNEXPANDABLE": dict(MAIN_CF, parameter="rbl_sites", detail="undefined"),
    "POSTSCREEN_DNSBL_SITES_UNUSED": {
        "file": "/etc/postfix/main.cf",
        "line": 40,
        "parameter": "postscreen_dnsbl_sites",
        "zone": "zen.spamhaus.org*3",
    },
    "DNSBL_NONE_ACTIVE": {"file": "/etc/postfix/main.cf", "detail": "every list is warn_if_reject"},
    "POSTFIX_CONFIG_UNREADABLE": {"problems": ["/etc/postfix/main.cf: permission denied"]},
    "MAIL_REJECTED_BY_DNSBL_ERROR": {
        "file": "/var/log/mail.log",
        "zone": "zen.spamhaus.org",
        "rejections": 42,
        "per_day": {"2026-11-22": 42},
        "reason": "open resolver",
        "example": "NOQUEUE: reject: RCPT from x[209.85.161.48]: 554 5.7.1 Service unavailable",
    },
    "DNSBL_RESOLVER_REFUSED": PROBE,
    "DNSBL_HIDDEN_BY_RESOLVER": dict(
        PROBE,
        resolver="8.8.8.8",
        classification="dead",
        detail="2.0.0.127.zen.spamhaus.org (always listed) answered NXDOMAIN",
        authoritative={"server": "10.231.53.1", "answers": ["127.0.0.2"]},
    ),
    "RESOLVER_ANSWER_MALFORMED": {
        "resolver": "10.231.53.9",
        "resolver_source": "/etc/resolv.conf line 1",
        "zone": "zen.spamhaus.org",
        "detail": "malformed: answer for another question",
    },
    "DNSBL_RESOLVER_SLOW": {"resolver": "10.231.53.7", "zone": "zen.spamhaus.org", "elapsed_ms": 1840},
    "DNSBL_LIST_SLOW": {"zone": "bl.spamcop.net", "resolver": "127.0.0.1", "elapsed_ms": 2100},
    "DNSBL_WRONG_LIST": dict(PROBE, zone="zen.spamhaus.org.example", classification="wrong_list"),
    "DNSBL_DEAD": dict(PROBE, zone="dnsbl.njabl.org", classification="dead"),
    "DNSBL_LISTS_THE_WORLD": dict(PROBE, zone="dnsbl.ahbl.org", classification="lists_the_world"),
    "DNSBL_ANSWER_HIJACKED": dict(PROBE, classification="hijacked", detail="answered 198.51.100.80"),
    "DNSBL_UNREACHABLE": dict(PROBE, classification="unreachable", detail="2.0.0.127.zen.spamhaus.org: timeout"),
    "OUTBOUND_IP_LISTED": {
        "zone": "zen.spamhaus.org",
        "ip": "192.0.2.25",
        "codes": [{"answer": "127.0.0.4", "meaning": "XBL"}],
        "lookup_url": "https://check.spamhaus.org/results/?query=192.0.2.25",
        "resolver": "127.0.0.1",
    },
    "PTR_MISSING": dict(PTR, ptr=[], rcode="NXDOMAIN"),
    "PTR_MULTIPLE": dict(PTR, ptr=["mail.example.org", "www.example.org"]),
    "PTR_NOT_FORWARD_CONFIRMED": dict(PTR, forward={"mail.example.org": ["192.0.2.99"]}),
    "PTR_LOOKS_GENERIC": dict(
        PTR, ptr=["dsl.static851056487.ttnet.net.tr"], why={"dsl.static851056487.ttnet.net.tr": "dsl word"}
    ),
    "HELO_NOT_PTR_NAME": dict(PTR, helo="mx.example.org"),
    "HELO_NAME_DOES_NOT_RESOLVE": {"ip": "192.0.2.25", "helo": "mx.example.org", "helo_addresses": []},
    "MX_MISSING": {"domain": "example.org", "rcode": "NOERROR"},
    "MX_IS_IP_LITERAL": {"domain": "example.org", "mx": "192.0.2.25"},
    "MX_IS_CNAME": {"domain": "example.org", "mx": "mail.example.org", "cname": ["host.example.net"]},
    "MX_TARGET_DOES_NOT_RESOLVE": {"domain": "example.org", "mx": "mail.example.org"},
    "WAIVER_EXPIRED": {"waived_id": "PTR_MISSING", "reason": "old", "expired": "2020-01-01"},
    "SPAMASSASSIN_DNS_SERVER_PUBLIC": {
        "address": "1.1.1.1",
        "raw": "1.1.1.1",
        "file": "/etc/mail/spamassassin/local.cf",
        "line": 12,
        "provider": "Cloudflare",
    },
    "SPAMASSASSIN_DQS_PLACEHOLDER": {"file": "/etc/mail/spamassassin/sh.cf", "line": 3},
    "SPAMASSASSIN_DNSBL_BLOCKED": {
        "file": "/var/lib/spamassassin/.spamassassin/dnsblock_zen.spamhaus.org",
        "zone": "zen.spamhaus.org",
    },
    "SPAMASSASSIN_RULES_IGNORE_BLOCKED_ANSWERS": {"version": "3.4.6"},
    "SPAMASSASSIN_DNS_DISABLED": {"dns_available": "no", "skip_rbl_checks": False},
    "SPAMASSASSIN_CONFIG_UNREADABLE": {"problems": ["/etc/mail/spamassassin/local.cf: include cycle"]},
}


def finding(finding_id: str, evidence: object) -> dict:
    return dict(Finding(finding_id, {}).as_dict(), evidence=evidence)


def test_every_catalog_id_has_realistic_evidence_here_and_words_there() -> None:
    assert set(REALISTIC) == set(CATALOG)
    assert set(SENTENCES) == set(CATALOG)


@pytest.mark.parametrize("finding_id", sorted(CATALOG))
def test_each_id_gets_its_own_sentence_not_the_generic_one(finding_id: str) -> None:
    case = finding(finding_id, REALISTIC[finding_id])
    sentence = evidence_sentence(case)
    assert sentence != generic_sentence(case).rstrip(".") + "."
    assert CATALOG[finding_id].title not in sentence  # the sentence says what happened, not the title again
    assert sentence.endswith((".", "?")) and "\n" not in sentence
    assert "None" not in sentence and "[]" not in sentence and "{" not in sentence


def test_the_sentence_names_the_place_and_the_fact_an_admin_acts_on() -> None:
    retired = evidence_sentence(finding("DNSBL_RETIRED", REALISTIC["DNSBL_RETIRED"]))
    assert retired.startswith("/etc/postfix/main.cf line 18: smtpd_client_restrictions rejects on dnsbl.ahbl.org")
    assert "closed in 2015" in retired
    public = evidence_sentence(finding("RESOLV_CONF_PUBLIC_NAMESERVER", REALISTIC["RESOLV_CONF_PUBLIC_NAMESERVER"]))
    assert public.startswith("/etc/resolv.conf line 2: nameserver 1.1.1.1 is Cloudflare's public resolver")
    assert "rotate" in public
    assert evidence_sentence(finding("PTR_MISSING", REALISTIC["PTR_MISSING"])).startswith("192.0.2.25 has no PTR")
    refused = evidence_sentence(finding("DNSBL_RESOLVER_REFUSED", PROBE))
    assert "zen.spamhaus.org through 1.1.1.1 (/etc/resolv.conf line 2)" in refused and "127.255.255.254" in refused


def test_an_id_whose_evidence_lacks_its_keys_falls_back_to_the_common_keys() -> None:
    sentence = evidence_sentence(finding("OUTBOUND_IP_LISTED", {"zone": "zen.spamhaus.org", "detail": "odd"}))
    assert "zen.spamhaus.org" in sentence and "odd" in sentence
    unknown = evidence_sentence({"id": "SOMETHING_NEW", "title": "A new finding", "evidence": {"file": "/etc/x"}})
    assert unknown == "/etc/x: A new finding."


def test_a_dqs_key_never_reaches_the_sentence_even_when_a_judge_forgot_to_mask_it() -> None:
    leaked = dict(ZEN_USE, zone="abcdef0123456789xyz.zen.dq.spamhaus.net", missing="rbl_reply_maps")
    for finding_id in ("DQS_KEY_EXPOSED_IN_SMTP_REPLY", "DNSBL_NO_REPLY_FILTER", "NOT_IN_THE_CATALOG"):
        sentence = evidence_sentence(finding(finding_id, leaked) if finding_id in CATALOG else {"evidence": leaked})
        assert "abcdef0123456789xyz" not in sentence and "<DQS key>.zen.dq.spamhaus.net" in sentence


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
KEYS = st.sampled_from([*sorted({key for evidence in REALISTIC.values() for key in evidence}), "x", ""])


@settings(max_examples=300, deadline=None)
@given(
    finding_id=st.sampled_from([*sorted(CATALOG), "UNKNOWN_ID", ""]) | st.text(max_size=10),
    evidence=st.dictionaries(KEYS | st.text(max_size=8), JSON, max_size=8) | JSON,
    title=JSON,
)
def test_odd_evidence_never_raises(finding_id: str, evidence: object, title: object) -> None:
    sentence = evidence_sentence({"id": finding_id, "title": title, "evidence": evidence})
    assert isinstance(sentence, str) and sentence


@settings(max_examples=100, deadline=None)
@given(st.one_of(JSON, st.dictionaries(st.text(max_size=8), JSON)))
def test_not_even_a_finding_that_is_not_a_dict_breaks_it(thing: object) -> None:
    assert isinstance(evidence_sentence(thing), str)  # type: ignore[arg-type]


def test_probe_sentences_say_who_is_at_fault_and_where_the_list_works() -> None:
    finding = {
        "id": "DNSBL_RESOLVER_REFUSED",
        "evidence": {
            "zone": "zen.spamhaus.org",
            "resolver": "10.0.53.65",
            "works_through": ["10.0.53.2"],
            "egress_resolver": "10.0.53.199",
            "at_fault": "resolver",
        },
    }
    text = evidence_sentence(finding)
    assert "reached it from 10.0.53.199" in text and "works through 10.0.53.2" in text
    assert text.endswith("(at fault: the resolver).")
    dqs = {"id": "RESOLV_CONF_PUBLIC_NAMESERVER", "evidence": {"nameserver": "8.8.8.8", "affected_lists": []}}
    assert "breaks none of this host's lists" in evidence_sentence(dqs)
