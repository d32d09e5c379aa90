"""roles/dnsbl_policy on lab hosts over SSH, with real Postfix and SpamAssassin (issue 11).

Its own lab (MAILDNS_POLICY_LAB=prefix,net; else beside the test lab: its prefix with a "p", its
net + 6): a host behind a resolver that answers 127.255.255.254 and given the lab's DQS key, a
host whose master.cf overrides the client restrictions, SpamAssassin that stopped querying
Spamhaus, and hosts made to fail validation.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO_ROOT
from tests.integration.helpers import (
    ansible_adhoc,
    host_files,
    host_tree_digest,
    own_lab,
    postfix_running,
    scenario,
    side_lab,
    smtp_rcpt,
)

pytestmark = pytest.mark.lab

LAB_PREFIX, LAB_NET = side_lab("MAILDNS_POLICY_LAB", "p", 6)
KEY = yaml.safe_load((REPO_ROOT / "tests/lab/base.yml").read_text())["dqs_key"]  # labtestkey0123456789
LISTED_CLIENT = f"{LAB_NET}.0.66"  # an address on the lab bridge that the lab lists in zen
CLEAN_CLIENT = f"{LAB_NET}.0.1"  # the controller's own address on the bridge: listed nowhere
SA_RELAY = "203.0.113.7"  # a relay in a Received header (SpamAssassin skips private addresses)
PLAYBOOK = REPO_ROOT / "tests" / "integration" / "playbooks" / "dnsbl_policy.yml"
ANSIBLE = ["ansible-playbook", "-i"]
ROLE_VARS = json.dumps({"dnsbl_policy_dqs_key": KEY, "dnsbl_policy_fallback_lists": ["bl.spamcop.net"]})


# A long max_idle: smtpd caches DNSBL verdicts for its life, and a fresh smtpd after 100 s idle
# could make a fix that forgot `postfix reload` look right (DESIGN section 5). The listings go in
# the public zone and in its DQS twin for the lab key, each named: a host's `listed` entries reach
# the twin only through the dict base.yml's own `listed` entry shares with it (tests/lab/zone_data.py).
LISTED = [LISTED_CLIENT, SA_RELAY]
SMTP = {
    "postconf": {"max_idle": "3600s"},
    "dns": {"listed": {"zen.spamhaus.org": LISTED, f"{KEY}.zen.dq.spamhaus.net": LISTED}},
}
# SpamAssassin's rule name grows past 40 characters once the key replaces the placeholder: lint fails.
LONG_RULE = "SH_your_DQS_key_ZEN_RELAY_LISTED_X"
BROKEN_SA = {
    "/etc/spamassassin/sh_long.cf": (
        f"header {LONG_RULE} eval:check_rbl('zen-lastexternal', 'your_DQS_key.zen.dq.spamhaus.net.')\n"
        f"tflags {LONG_RULE} net\n"
    )
}
PREVIEWED = {"dqs": "public_resolver", "override": "master_override"}
FLEET = [
    ("dqs", scenario("public_resolver", **SMTP)),
    ("override", scenario("master_override", **SMTP)),
    ("sa", scenario("spamassassin_blocked", **SMTP)),
    ("fail-check", scenario("healthy", **SMTP)),
    ("fail-lint", scenario("healthy", files=BROKEN_SA, **SMTP)),
]


@pytest.fixture(scope="module")
def plab() -> Iterator[object]:
    with own_lab(LAB_PREFIX, LAB_NET, FLEET, (LISTED_CLIENT,)) as lab:
        yield lab


def playbook(lab, limit: str, *extra: str) -> tuple[int, dict[str, dict], dict[str, int], str]:  # type: ignore[no-untyped-def]
    """Run the role's playbook: (exit code, each host's module result, each host's changed count, output)."""
    with tempfile.TemporaryDirectory() as results:
        run = subprocess.run(
            [
                *ANSIBLE,
                str(lab.inventory),
                str(PLAYBOOK),
                "-l",
                limit,
                "-e",
                f"result_dir={results}",
                "-e",
                ROLE_VARS,
                *extra,
            ],
            capture_output=True,
            text=True,
            cwd=REPO_ROOT,
            check=False,
        )
        found = {path.stem: json.loads(path.read_text()) for path in Path(results).glob("*.json")}
    recap = run.stdout[run.stdout.rfind("PLAY RECAP") :]
    changed = {
        line.split()[0]: int(line.split("changed=")[1].split()[0]) for line in recap.splitlines() if "changed=" in line
    }
    assert found, run.stdout[-3000:] + run.stderr[-3000:]
    return run.returncode, found, changed, run.stdout + run.stderr


# SpamAssassin's own state folder (its write tests): not the role's to keep.
SKIP = (".spamassassin/",)


def audit(lab, pattern: str) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    return ansible_adhoc(lab.inventory, "maildns.audit.audit_host", "timeout=3", pattern=pattern)


def test_check_mode_then_dqs_behind_a_public_resolver_with_the_key_kept_secret(plab) -> None:
    names = ",".join(PREVIEWED)
    before = host_tree_digest(plab.state_dir)
    code, previews, _changed, check_output = playbook(plab, names, "--check", "--diff", "-vvv")
    assert code == 0, check_output[-3000:]
    assert host_tree_digest(plab.state_dir) == before, "check mode wrote something"
    for name in PREVIEWED:
        assert previews[name]["status"] == "preview" and previews[name]["changed"] is True, name
        assert previews[name]["diff"], name
        assert not previews[name].get("log"), "check mode runs nothing"
    assert "<DQS key>.zen.dq.spamhaus.net" in check_output, "the role prints the masked diff"

    with postfix_running(plab, list(PREVIEWED)):
        before_code, before_reply = smtp_rcpt(plab, "dqs", CLEAN_CLIENT)
        code, results, _changed, output = playbook(plab, names, "--diff", "-vvv")
        assert code == 0, output[-3000:]
        clean_code, clean_reply = smtp_rcpt(plab, "dqs", CLEAN_CLIENT)
        listed_code, listed_reply = smtp_rcpt(plab, "dqs", LISTED_CLIENT)
        override_clean = smtp_rcpt(plab, "override", CLEAN_CLIENT)
        override_listed = smtp_rcpt(plab, "override", LISTED_CLIENT)

    # The seed bounce before; after the role, the clean client passes and the listed one does not.
    assert before_code == 554 and "blocked using zen.spamhaus.org; Error: open resolver" in before_reply
    assert "postfix reload" in results["dqs"]["actions"]
    assert clean_code == 250, clean_reply
    assert listed_code == 554 and f"Client host [{LISTED_CLIENT}] blocked using zen.spamhaus.org" in listed_reply
    assert override_clean[0] == 250, override_clean
    assert override_listed[0] == 554 and "blocked using zen.spamhaus.org" in override_listed[1], override_listed
    # The key: in no SMTP reply, no line of -vvv --diff output, no module result.
    for text in (before_reply, listed_reply, override_listed[1], check_output, output):
        assert KEY not in text
    assert KEY not in json.dumps(previews) + json.dumps(results)
    assert "dq.spamhaus.net" in plab.exec("dqs", "postconf -h smtpd_client_restrictions").stdout

    # The diff shown in check mode is the change the real run made, file by file.
    for name in PREVIEWED:
        assert results[name]["status"] == "applied", results[name].get("msg")
        assert results[name]["diff"] == previews[name]["diff"], name
        assert results[name]["files"] == previews[name]["files"], name

    # The map that holds the key: root and postfix only.
    listing = plab.exec("dqs", "stat -c '%a %U %G' /etc/postfix/maildns_rbl_reply").stdout.split()
    assert listing == ["640", "root", "postfix"]
    assert KEY in plab.exec("dqs", "cat /etc/postfix/maildns_rbl_reply").stdout

    # The audit's report: the findings the plan fixed are gone, and the key is in no report.
    reports = audit(plab, names)
    assert KEY not in json.dumps(reports)
    for name in PREVIEWED:
        found = {finding["id"] for finding in reports[name]["findings"]}
        assert not found & set(results[name]["plan"]["findings_fixed"]), (name, found)

    # A second run changes nothing.
    code, again, changed, _output = playbook(plab, names, "--diff")
    assert code == 0
    assert changed == dict.fromkeys(PREVIEWED, 0)
    assert {again[name]["status"] for name in PREVIEWED} == {"unchanged"}


def test_the_master_cf_override_is_fixed_in_master_cf(plab) -> None:
    # After the previous test's run: the smtp service's own -o, not only main.cf.
    override = plab.exec("override", "postconf -P smtp/inet/smtpd_client_restrictions").stdout.strip()
    assert f"reject_rbl_client,{KEY}.zen.dq.spamhaus.net=127.0.0.[2..11]" in override, override
    assert "bl.spamcop.net=127.0.0.2" in override
    master = Path(plab.state_dir, "hosts", "override").rglob("master.cf")
    assert any(f"{KEY}.zen.dq.spamhaus.net=127.0.0.[2..11]" in path.read_text() for path in master)
    assert plab.exec("override", "postconf -h rbl_reply_maps").stdout.strip() == (
        "texthash:/etc/postfix/maildns_rbl_reply"
    )


MESSAGE = f"""Received: from relay.example.net (relay.example.net [{SA_RELAY}])
\tby sa.lab.test (Postfix) with ESMTP id 4QXyZ12abc
\tfor <root@sa.lab.test>; Mon, 1 Dec 2025 10:00:00 +0000
From: someone@example.org
To: root@sa.lab.test
Subject: hello
Date: Mon, 1 Dec 2025 10:00:00 +0000
Message-ID: <test-1@example.org>

hello
"""


def spamassassin_test(lab) -> str:  # type: ignore[no-untyped-def]
    lab.exec("sa", f"cat > /tmp/listed.eml <<'EOF'\n{MESSAGE}EOF")
    return lab.exec("sa", "spamassassin -t -D dns,async < /tmp/listed.eml 2>&1").stdout


def test_spamassassin_queries_spamhaus_again_and_scores_a_listed_relay(plab) -> None:
    # Before: the dnsblock file (fresh: dns_block_time counts from its mtime) stops the zen queries.
    plab.exec("sa", "touch /root/.spamassassin/dnsblock_zen.spamhaus.org")
    before = spamassassin_test(plab)
    assert "blocked by dns_block_rule" in before and "zen.spamhaus.org" in before
    assert "RCVD_IN_SBL" not in before.split("Content analysis details")[-1]

    code, results, _changed, output = playbook(plab, "sa", "--diff", "-vvv")
    assert code == 0, output[-3000:]
    assert KEY not in output
    actions = results["sa"]["actions"]
    assert "spamassassin --lint" in actions and "verify: " in " ".join(actions)
    removed = [f["path"] for f in results["sa"]["files"] if f["action"] == "remove"]
    assert removed == ["/root/.spamassassin/dnsblock_zen.spamhaus.org"]

    after = spamassassin_test(plab)
    report = after.split("Content analysis details")[-1]
    assert "RCVD_IN_SBL" in report, after[-3000:]
    assert f"{KEY}.zen.dq.spamhaus.net" in after  # SpamAssassin's own debug log, on the host
    assert "blocked by dns_block_rule" not in after
    mode = plab.exec("sa", "stat -c '%a %U %G' /etc/spamassassin/maildns_dqs.cf").stdout.split()
    assert mode == ["640", "root", "debian-spamd"]


def _failing_run(plab, name: str, *extra: str) -> dict:  # type: ignore[no-untyped-def]
    before = host_files(plab, name, SKIP)
    with postfix_running(plab, [name]):
        accepted_before = smtp_rcpt(plab, name, CLEAN_CLIENT)[0]
        code, results, _changed, output = playbook(plab, name, "-vvv", *extra)
        accepted_after = smtp_rcpt(plab, name, CLEAN_CLIENT)[0]
        listed_after = smtp_rcpt(plab, name, LISTED_CLIENT)
    assert code != 0
    assert (accepted_before, accepted_after) == (250, 250), "mail must flow before and after"
    assert listed_after[0] == 554 and KEY not in listed_after[1]
    assert KEY not in output
    assert host_files(plab, name, SKIP) == before, "every file back byte for byte, mode and owner too"
    result = results[name]
    assert result["status"] == "failed" and "Rolled back" in result["msg"]
    assert KEY not in json.dumps(result)
    return result


def test_a_map_postfix_check_refuses_leaves_every_file_as_it_was(plab) -> None:
    # A group-writable map: `postfix check` warns about it, a warning it did not give before.
    result = _failing_run(plab, "fail-check", "-e", "dnsbl_policy_map_mode=0660")
    assert "postfix check failed" in result["msg"]
    assert "group or other writable" in result["msg"] and "maildns_rbl_reply" in result["msg"]
    assert "/etc/postfix/main.cf" in result["rolled_back"]
    assert "postfix reload" not in result["actions"], "nothing is reloaded before the checkers pass"


def test_a_rule_file_spamassassin_lint_refuses_leaves_every_file_as_it_was(plab) -> None:
    result = _failing_run(plab, "fail-lint")
    assert "spamassassin --lint failed" in result["msg"]
    assert "SH_<DQS key>_ZEN_RELAY_LISTED_X' is over 40 chars" in result["msg"]
    assert {"/etc/spamassassin/sh_long.cf", "/etc/postfix/main.cf"} <= set(result["rolled_back"])
