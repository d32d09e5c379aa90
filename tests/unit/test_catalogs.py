"""The catalogs hold together, and the docs generated from them are current."""

from __future__ import annotations

from pathlib import Path

import pytest

from ansible_collections.maildns.audit.plugins.module_utils import dnsbl_catalog, findings, public_resolvers
from tests.tools.render_docs import DOCS, GENERATED


@pytest.mark.parametrize("name", GENERATED)
def test_generated_docs_are_current(name: str) -> None:
    assert (DOCS / name).read_text() == GENERATED[name](), f"docs/{name} is stale: run 'make docs'"


def test_every_finding_has_a_known_severity_a_title_and_a_fix() -> None:
    for kind in findings.CATALOG.values():
        assert kind.severity in findings.SEVERITIES
        assert kind.title and kind.fix and kind.area in findings.AREAS


def test_every_listing_code_passes_its_filter_and_no_error_or_advisory_code_does() -> None:
    for entry in dnsbl_catalog.CATALOG.values():
        for code in entry.codes:
            if "[" not in code:
                assert dnsbl_catalog.filter_matches(entry.reply_filter, code), (entry.zone, code)
        for code in [*entry.errors, *entry.advisory_codes]:
            assert dnsbl_catalog.filter_matches(entry.reply_filter, code) is False, (entry.zone, code)


@pytest.mark.parametrize(
    ("reply_filter", "answer", "matches"),
    [
        ("127.0.0.[2..11]", "127.0.0.2", True),
        ("127.0.0.[2..11]", "127.0.0.11", True),
        ("127.0.0.[2..11]", "127.255.255.254", False),
        ("127.0.0.[2;4;10]", "127.0.0.4", True),
        ("127.0.0.[2;4;10]", "127.0.0.3", False),
        ("127.[0..255].[0..255].[0..255]", "127.255.255.254", True),
        ("127.0.0.2", "127.0.0.2", True),
        ("not a filter", "127.0.0.2", None),
    ],
)
def test_postfix_filter_syntax(reply_filter: str, answer: str, matches: bool | None) -> None:
    assert dnsbl_catalog.filter_matches(reply_filter, answer) is matches


def test_dqs_zones_map_to_their_list_and_keys_are_masked() -> None:
    assert dnsbl_catalog.lookup("AbCdEf0123456789xyz.zen.dq.spamhaus.net").zone == "zen.spamhaus.org"
    assert dnsbl_catalog.mask_dqs_key("abcdef0123456789xyz.dbl.dq.spamhaus.net") == "<DQS key>.dbl.dq.spamhaus.net"
    text = "blocked using abcdef0123456789xyz.zen.dq.spamhaus.net; see"
    assert dnsbl_catalog.mask_secrets(text) == "blocked using <DQS key>.zen.dq.spamhaus.net; see"
    assert "your_DQS_key" in dnsbl_catalog.mask_secrets("your_DQS_key.zen.dq.spamhaus.net")


def test_near_miss_catches_typos_and_other_tlds_only() -> None:
    assert dnsbl_catalog.near_miss("zen.spamhuas.org") == "zen.spamhaus.org"
    assert dnsbl_catalog.near_miss("zen.spamhaus.net") == "zen.spamhaus.org"
    assert dnsbl_catalog.near_miss("rbl.example.com") is None
    assert dnsbl_catalog.near_miss("zen.spamhaus.org") is None


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("1.1.1.1", ("public_known", "Cloudflare")),
        ("2606:4700:4700::1111", ("public_known", "Cloudflare")),
        ("185.12.64.1", ("public_known", "Hetzner")),
        ("127.0.0.53", ("loopback", None)),
        ("::1", ("loopback", None)),
        ("10.0.0.2", ("private", None)),
        ("100.100.100.100", ("private", None)),
        ("62.179.104.196", ("public_unknown", None)),
        ("fe80::1%eth0", ("private", None)),
        ("nonsense", ("invalid", None)),
    ],
)
def test_nameserver_classes(address: str, expected: tuple) -> None:
    assert public_resolvers.classify_address(address) == expected


def test_every_retired_list_says_when_it_went_and_where_that_was_checked() -> None:
    import re

    from ansible_collections.maildns.audit.plugins.module_utils.dnsbl_catalog import CATALOG

    retired = [entry for entry in CATALOG.values() if entry.status == "retired"]
    assert len(retired) >= 40
    for entry in retired:
        assert re.search(r"\b(19|20)\d\d\b", entry.history), entry.zone
        assert entry.source.startswith(("http://", "https://")), entry.zone
    # Lists that popular guides still name and that are gone (issue 9 item 8).
    for zone in ("ix.dnsbl.manitu.net", "dul.dnsbl.sorbs.net", "bl.spamcannibal.org", "dsn.rfc-ignorant.org"):
        assert CATALOG[zone].status == "retired"


def test_every_finding_says_who_fixes_it_and_every_role_named_exists() -> None:
    from pathlib import Path

    import yaml

    assert set(findings.REMEDIES) == set(findings.CATALOG), "one REMEDIES entry per finding ID"
    roles = Path(__file__).resolve().parents[2] / "roles"
    for finding_id, remedies in findings.REMEDIES.items():
        assert remedies, finding_id
        assert not remedies[-1].evidence, f"{finding_id}: the last remedy must apply whatever the evidence"
        for remedy in remedies:
            assert bool(remedy.role) != bool(remedy.outside), finding_id
            if not remedy.role:
                continue
            role = roles / remedy.role.rsplit(".", maxsplit=1)[-1]
            assert (role / "tasks" / "main.yml").is_file(), f"{finding_id}: no role {remedy.role}"
            specs = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())
            documented = specs["argument_specs"]["main"]["options"]
            for variable in remedy.needs:
                assert variable in documented, f"{finding_id}: {remedy.role} does not document {variable}"


def test_a_list_at_fault_is_not_the_resolvers_to_fix() -> None:
    assert findings.remedy_of("DNSBL_UNREACHABLE", {"at_fault": "resolver"}).role == findings.LOCAL_RESOLVER
    assert findings.remedy_of("DNSBL_UNREACHABLE", {"at_fault": "list"}).role == ""
    assert findings.remedy_of("DNSBL_LISTS_THE_WORLD", {"at_fault": "list"}).role == findings.DNSBL_POLICY


def test_the_reports_collection_version_is_galaxy_ymls() -> None:
    """report.json names the version that wrote it; report_merge refuses slices of two versions."""
    import yaml

    from ansible_collections.maildns.audit.plugins.module_utils.collection_version import COLLECTION_VERSION

    galaxy = yaml.safe_load((Path(__file__).resolve().parents[2] / "galaxy.yml").read_text())
    assert galaxy["version"] == COLLECTION_VERSION
