"""Each corpus case (a host's files under tests/unit/corpus/<case>/) gives exactly its expected findings.

The corpus is read with the file parsers (use_postconf=False): the integration tests compare the
same readers with Postfix's own postconf on lab hosts.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ansible_collections.maildns.audit.plugins.module_utils.findings import CATALOG
from ansible_collections.maildns.audit.plugins.module_utils.inspect_host import (
    inspect_postfix,
    inspect_resolver_path,
    inspect_spamassassin,
)

# Findings the file readers can give; the live probes' findings are triggered by DNS fixtures
# (tests/unit/test_probes.py and the lab).
READ_FINDINGS = {kind.id for kind in CATALOG.values() if kind.area in ("resolver", "postfix", "spamassassin")}
CORPUS = Path(__file__).parent / "corpus"
CASES = sorted(path.name for path in CORPUS.iterdir() if (path / "expected.yml").is_file())


def inspect_all(root: Path) -> list[dict]:
    results = [
        inspect_resolver_path(str(root)),
        inspect_postfix(str(root), use_postconf=False),
        inspect_spamassassin(str(root)),
    ]
    return [finding for result in results for finding in result["findings"]]


@pytest.mark.parametrize("case", CASES)
def test_corpus_case_gives_exactly_its_expected_findings(case: str) -> None:
    expected = yaml.safe_load((CORPUS / case / "expected.yml").read_text())
    found = sorted({finding["id"] for finding in inspect_all(CORPUS / case)})
    assert found == expected["findings"], expected["description"]


def test_corpus_is_large_enough_and_covers_every_finding() -> None:
    assert len(CASES) >= 30
    expected = set()
    clean = []
    for case in CASES:
        ids = yaml.safe_load((CORPUS / case / "expected.yml").read_text())["findings"]
        expected.update(ids)
        if not ids:
            clean.append(case)
    # Every finding is triggered by some case; every finding stays silent on the clean cases.
    assert expected == READ_FINDINGS, f"no corpus case triggers {sorted(READ_FINDINGS - expected)}"
    assert len(clean) >= 8


def test_dqs_key_never_leaves_the_host() -> None:
    for case in ("dqs_key_exposed", "dqs_hidden_postscreen"):
        root = CORPUS / case
        results = [inspect_postfix(str(root), use_postconf=False), inspect_resolver_path(str(root))]
        assert "abcdefghijklmnopqrstuvwxyz" not in repr(results)
        assert "<DQS key>.zen.dq.spamhaus.net" in repr(results[0])


def test_log_evidence_counts_rejections_per_list_and_day() -> None:
    result = inspect_postfix(str(CORPUS / "log_rejections"), use_postconf=False)
    evidence = result["postfix"]["rejections_by_dnsbl_error"]
    assert evidence["counts"] == {"zen.spamhaus.org": {"Nov 22": 2}}  # the real SpamCop listing is not counted
    assert evidence["reasons"]["zen.spamhaus.org"] == "Error: open resolver"
    finding = next(f for f in result["findings"] if f["id"] == "MAIL_REJECTED_BY_DNSBL_ERROR")
    assert finding["evidence"]["rejections"] == 2
