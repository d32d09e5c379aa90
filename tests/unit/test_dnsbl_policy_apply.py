"""dnsbl_policy_apply: the preview, the staged apply with the real checkers, the rollback (issue 11).

Postfix's side of a full run needs a running Postfix in a host of its own (the lab test,
tests/integration/test_dnsbl_policy.py); here the preview runs the real postconf on a private copy,
and SpamAssassin's side runs for real on a host folder (`spamassassin --lint --siteconfigpath`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from ansible_collections.maildns.audit.plugins.module_utils._remediate.dnsbl_policy_apply import (
    parse_mode,
    problem_lines,
    run_dnsbl_policy,
    still_there,
)
from ansible_collections.maildns.audit.plugins.module_utils._remediate.dnsbl_policy_plan import PolicyOptions
from ansible_collections.maildns.audit.plugins.module_utils.host_model import read_host

CORPUS = Path(__file__).parent / "corpus"
KEY = "k3y0123456789abcdefghijklm"
POSTCONF = shutil.which("postconf") or "/usr/sbin/postconf"
needs_postconf = pytest.mark.skipif(not os.path.exists(POSTCONF), reason="Postfix's postconf is not installed")
needs_spamassassin = pytest.mark.skipif(
    not shutil.which("spamassassin") or os.geteuid() != 0, reason="SpamAssassin (and root, for chown) needed"
)


def tree(root: Path) -> dict:
    return {
        str(path.relative_to(root)): (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mode)
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def host_copy(case: str, tmp_path: Path) -> Path:
    root = tmp_path / case
    shutil.copytree(CORPUS / case, root, symlinks=True)
    return root


def run(root: Path, options: PolicyOptions, check_mode: bool) -> dict:
    def reread():  # type: ignore[no-untyped-def]
        return read_host(str(root), use_postconf=False)

    return run_dnsbl_policy(reread(), options, check_mode, reread, postconf_path=POSTCONF)


@needs_postconf
def test_check_mode_shows_postconfs_own_diff_writes_nothing_and_masks_the_key(tmp_path: Path) -> None:
    root = host_copy("public_cloudflare", tmp_path)
    before = tree(root)
    preview = run(root, PolicyOptions(dqs_key=KEY, fallback_lists=("bl.spamcop.net",)), check_mode=True)
    assert tree(root) == before
    assert preview["status"] == "preview" and preview["changed"] is True
    headers = [entry["after_header"] for entry in preview["diff"]]
    assert "/etc/postfix/main.cf" in headers
    assert "/etc/postfix/maildns_rbl_reply" in headers
    (main_cf,) = [entry for entry in preview["diff"] if entry["after_header"] == "/etc/postfix/main.cf"]
    assert "<DQS key>.zen.dq.spamhaus.net=127.0.0.[2..11]" in main_cf["after"]
    assert "rbl_reply_maps = texthash:/etc/postfix/maildns_rbl_reply" in main_cf["after"]
    assert "postfix check" in preview["actions"]
    assert any(action.startswith("verify: ") and "DNSBL_SINGLE_LIST" in action for action in preview["actions"])
    modes = {entry["path"]: entry.get("mode") for entry in preview["files"]}
    assert modes["/etc/postfix/maildns_rbl_reply"] == "0640 root:postfix"
    assert KEY not in json.dumps(preview)


@needs_postconf
def test_a_host_whose_rules_are_right_is_left_unchanged(tmp_path: Path) -> None:
    root = host_copy("healthy_debian", tmp_path)
    before = tree(root)
    result = run(root, PolicyOptions(), check_mode=False)
    assert result["status"] == "unchanged" and result["changed"] is False
    assert result["diff"] == [] and result["actions"] == []
    assert tree(root) == before


def spamassassin_host(tmp_path: Path, rule_file: str) -> Path:
    root = tmp_path / "host"
    site = root / "etc/spamassassin"
    site.mkdir(parents=True)
    for pre in Path("/etc/spamassassin").glob("*.pre"):
        shutil.copy(pre, site / pre.name)
    (site / "local.cf").write_text("required_score 5.0\n")
    (site / "sh.cf").write_text(rule_file)
    (site / "sh.cf").chmod(0o644)
    block = root / "root/.spamassassin"
    block.mkdir(parents=True)
    (block / "dnsblock_zen.spamhaus.org").write_text("")
    return root


PLACEHOLDER_RULES = (
    "header   SH_ZEN  eval:check_rbl('zen-lastexternal', 'your_DQS_key.zen.dq.spamhaus.net.')\n"
    "describe SH_ZEN  Listed in Spamhaus ZEN (DQS)\n"
    "tflags   SH_ZEN  net\n"
)


@needs_spamassassin
def test_spamassassin_placeholder_filled_linted_verified_and_the_file_kept_from_others(tmp_path: Path) -> None:
    root = spamassassin_host(tmp_path, PLACEHOLDER_RULES)
    result = run(root, PolicyOptions(dqs_key=KEY), check_mode=False)
    assert result["status"] == "applied", result.get("msg")
    assert "spamassassin --lint" in result["actions"]
    assert "verify: SPAMASSASSIN_DNSBL_BLOCKED, SPAMASSASSIN_DQS_PLACEHOLDER gone" in result["actions"]
    rules = root / "etc/spamassassin/sh.cf"
    assert f"'{KEY}.zen.dq.spamhaus.net.'" in rules.read_text()
    assert oct(rules.stat().st_mode & 0o777) == "0o640"  # it holds the key now
    assert not (root / "root/.spamassassin/dnsblock_zen.spamhaus.org").exists()
    assert KEY not in json.dumps(result)
    again = run(root, PolicyOptions(dqs_key=KEY), check_mode=False)
    assert again["status"] == "unchanged", again["files"]


@needs_spamassassin
def test_a_rule_file_lint_refuses_is_rolled_back_byte_for_byte_with_lints_message(tmp_path: Path) -> None:
    # The key makes this rule's name longer than the 40 characters lint accepts.
    long_rule = "SH_your_DQS_key_ZEN_RELAY_LISTED_X"
    root = spamassassin_host(tmp_path, PLACEHOLDER_RULES + f"header {long_rule} eval:check_rbl('zen', 'x.example.')\n")
    before = tree(root)
    result = run(root, PolicyOptions(dqs_key=KEY), check_mode=False)
    assert result["status"] == "failed"
    assert "spamassassin --lint failed" in result["msg"]
    assert "SH_<DQS key>_ZEN_RELAY_LISTED_X' is over 40 chars" in result["msg"]
    assert "Rolled back" in result["msg"]
    assert "/etc/spamassassin/sh.cf" in result["rolled_back"]
    assert tree(root) == before, "every file back, mode too, the removed block file too"
    assert KEY not in json.dumps(result)


def test_map_modes_that_give_others_the_key_are_refused() -> None:
    assert parse_mode("0640") == 0o640
    assert parse_mode("0660") == 0o660  # allowed here: postfix check is what refuses it
    for mode in ("0644", "0604", "0600", "rw-r-----", "1640"):
        with pytest.raises(ValueError):
            parse_mode(mode)


def test_checker_lines_compare_across_runs() -> None:
    output = (
        "postfix/postfix-script[812]: warning: group or other writable: /etc/postfix/./maildns_rbl_reply\n"
        "postfix/postfix-script[813]: warning: group or other writable: /etc/postfix/./maildns_rbl_reply\n"
        "postfix/postfix-script: fatal: no /etc/postfix/master.cf file found\n"
        "an ordinary line\n"
    )
    assert problem_lines(output) == [
        "postfix/postfix-script: warning: group or other writable: /etc/postfix/./maildns_rbl_reply",
        "postfix/postfix-script: fatal: no /etc/postfix/master.cf file found",
    ]
    assert still_there(["DNSBL_NO_REPLY_FILTER", "DNSBL_RETIRED"], {"DNSBL_RETIRED": 1, "X": 2}) == ["DNSBL_RETIRED"]
