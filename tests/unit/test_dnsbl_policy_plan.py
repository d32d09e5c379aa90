"""The DNSBL policy plan for every Postfix corpus case, as the postconf commands it would run.

Exact commands for a representative set; for every case, the plan applied with the real postconf
to a copy of the case's main.cf and master.cf leaves no filter, retired-list or exposed-key finding,
and planning again gives nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ansible_collections.maildns.audit.plugins.module_utils._remediate.dnsbl_policy_plan import (
    PolicyError,
    PolicyOptions,
    join_list,
    plan_dnsbl_policy,
    plan_for_host,
    spamassassin_dqs_rules,
    split_list,
)
from ansible_collections.maildns.audit.plugins.module_utils._remediate.postconf_edit import Change, edit_postfix
from ansible_collections.maildns.audit.plugins.module_utils.files import HostFiles
from ansible_collections.maildns.audit.plugins.module_utils.host_model import read_host
from ansible_collections.maildns.audit.plugins.module_utils.judge import judge_postfix
from ansible_collections.maildns.audit.plugins.module_utils.postfix_config import read_postfix

CORPUS = Path(__file__).parent / "corpus"
CASES = sorted(
    p.name for p in CORPUS.iterdir() if (p / "expected.yml").is_file() and (p / "etc/postfix/main.cf").is_file()
)
POSTCONF = shutil.which("postconf") or "/usr/sbin/postconf"
KEY = "k3y0123456789abcdefghijklm"
OLD_KEY = "abcdefghijklmnopqrstuvwxyz"  # the corpus' DQS key
FULL = PolicyOptions(
    dqs_key=KEY, fallback_lists=("bl.spamcop.net", "psbl.surriel.com"), correct_misspelled=True, warn_if_reject=True
)
FIXED = {"DNSBL_NO_REPLY_FILTER", "DBL_WITHOUT_FILTER", "DNSBL_FILTER_ADMITS_ERROR_CODES", "DNSBL_RETIRED"}
E = "postconf -c /etc/postfix -e"


def plan(case: str, options: PolicyOptions | None = None):  # type: ignore[no-untyped-def]
    return plan_for_host(read_host(str(CORPUS / case), use_postconf=False), options)


# -- exact commands -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "case",
    [
        "healthy_debian",
        "dqs_hidden_postscreen",
        "postscreen_weights",
        "warn_if_reject",
        "dnsbl_warn_only",
        "null_client",
    ],
)
def test_right_rules_give_an_empty_plan(case: str) -> None:
    result = plan(case)
    assert result.empty, result.commands()
    assert result.commands() == []


def test_filter_added_where_missing() -> None:
    assert plan("dbl_unfiltered").commands() == [
        f"{E} 'smtpd_sender_restrictions=reject_rhsbl_sender dbl.spamhaus.org=127.0.1.[2..99]'"
    ]
    assert plan("log_rejections").commands() == [
        f"{E} 'smtpd_client_restrictions=permit_mynetworks, permit_sasl_authenticated, "
        "reject_rbl_client zen.spamhaus.org=127.0.0.[2..11], reject_rbl_client bl.spamcop.net=127.0.0.2'"
    ]
    step = plan("log_rejections").postconf[0]
    assert step.findings == ["DNSBL_NO_REPLY_FILTER"]


def test_wrong_filters_replaced() -> None:
    assert plan("dbl_wrong_filter").commands() == [
        f"{E} 'smtpd_sender_restrictions=reject_rhsbl_sender dbl.spamhaus.org=127.0.1.[2..99]'"
    ]
    assert plan("filter_admits_errors").commands() == [
        f"{E} 'postscreen_dnsbl_sites=zen.spamhaus.org=127.0.0.[2..11]*3 bl.spamcop.net=127.0.0.2*1'"
    ]
    assert plan("filter_admits_errors").postconf[0].findings == ["DNSBL_FILTER_ADMITS_ERROR_CODES"]


def test_retired_lists_removed() -> None:
    result = plan("retired_lists")
    assert result.commands() == [
        f"{E} 'smtpd_client_restrictions=permit_mynetworks, permit_sasl_authenticated, "
        "reject_rbl_client zen.spamhaus.org=127.0.0.[2..11], reject_rbl_client bl.spamcop.net=127.0.0.2'"
    ]
    assert result.postconf[0].findings == ["DNSBL_RETIRED"]


def test_master_cf_override_fixed_in_master_cf_only() -> None:
    result = plan("master_cf_override")
    assert result.commands() == [
        "postconf -c /etc/postfix -P "
        "'smtp/inet/smtpd_client_restrictions=permit_mynetworks,reject_rbl_client,zen.spamhaus.org=127.0.0.[2..11]'"
    ]
    assert [step.file for step in result.postconf] == ["master.cf"]


def test_restriction_class_fixed_in_the_class() -> None:
    result = plan("restriction_class")
    # rbl_checks names its second zone as $extra_list: that zone gets its filter where it is written.
    assert result.commands() == [
        f"{E} extra_list=bl.spamcop.net=127.0.0.2",
        f"{E} 'rbl_checks=reject_rbl_client zen.spamhaus.org=127.0.0.[2..11], reject_rbl_client $extra_list'",
    ]
    assert result.notes == []


def test_parameter_helper_fixed_where_written() -> None:
    # smtpd_client_restrictions = ..., $dnsbl_checks: the zone is written in dnsbl_checks.
    result = plan("parameter_cycle", PolicyOptions(dqs_key=KEY))
    names = [step.name for step in result.postconf]
    assert "dnsbl_checks" in names and "smtpd_client_restrictions" not in names


def test_misspelled_zone_only_corrected_when_asked() -> None:
    assert plan("misspelled_zen").empty
    assert any("zen.spamhaus.net looks misspelled" in note for note in plan("misspelled_zen").notes)
    corrected = plan("misspelled_zen", PolicyOptions(correct_misspelled=True))
    assert corrected.commands() == [
        f"{E} 'smtpd_client_restrictions=permit_mynetworks, permit_sasl_authenticated, "
        "reject_rbl_client zen.spamhaus.org=127.0.0.[2..11], reject_rbl_client bl.spamcop.net=127.0.0.2'"
    ]
    assert corrected.postconf[0].findings == ["DNSBL_MISSPELLED"]


def test_dqs_names_and_reply_maps() -> None:
    result = plan("healthy_debian", PolicyOptions(dqs_key=KEY))
    assert result.commands() == [
        f"{E} 'smtpd_client_restrictions=permit_mynetworks, permit_sasl_authenticated, "
        "reject_rbl_client <DQS key>.zen.dq.spamhaus.net=127.0.0.[2..11], reject_rbl_client bl.spamcop.net=127.0.0.2'",
        f"{E} 'smtpd_sender_restrictions=reject_rhsbl_sender <DQS key>.dbl.dq.spamhaus.net=127.0.1.[2..99]'",
        f"{E} rbl_reply_maps=texthash:/etc/postfix/maildns_rbl_reply",
    ]
    assert result.parameters()[0]["value"].count(f"{KEY}.zen.dq.spamhaus.net=127.0.0.[2..11]") == 1
    (reply_map,) = result.files
    assert reply_map.path == "/etc/postfix/maildns_rbl_reply"
    assert (reply_map.mode, reply_map.owner, reply_map.group, reply_map.secret) == ("0640", "root", "postfix", True)
    lines = [line for line in reply_map.content.splitlines() if not line.startswith("#")]
    assert lines == [
        f"{KEY}.zen.dq.spamhaus.net=127.0.0.[2..11] $rbl_code Service unavailable; $rbl_class [$rbl_what] blocked "
        "using zen.spamhaus.org${rbl_reason?; $rbl_reason}",
        f"{KEY}.dbl.dq.spamhaus.net=127.0.1.[2..99] $rbl_code Service unavailable; $rbl_class [$rbl_what] blocked "
        "using dbl.spamhaus.org${rbl_reason?; $rbl_reason}",
    ]
    shown = json.dumps(result.as_dict())
    assert KEY not in shown and "<DQS key>" in shown


def test_dqs_key_exposed_gets_reply_map_without_a_new_key() -> None:
    result = plan("dqs_key_exposed")
    assert result.commands() == [f"{E} rbl_reply_maps=texthash:/etc/postfix/maildns_rbl_reply"]
    assert result.postconf[0].findings == ["DQS_KEY_EXPOSED_IN_SMTP_REPLY"]
    assert f"{OLD_KEY}.zen.dq.spamhaus.net=127.0.0.[2..11] " in result.files[0].content
    assert OLD_KEY not in json.dumps(result.as_dict())


def test_dqs_on_postscreen_sites_and_a_kept_admin_map() -> None:
    result = plan("dqs_hidden_postscreen", PolicyOptions(dqs_key=KEY))
    commands = result.commands()
    assert (
        f"{E} 'rbl_reply_maps=texthash:/etc/postfix/maildns_rbl_reply, "
        "${stress?{hash:/etc/postfix/dnsbl_reply}:{hash:/etc/postfix/dnsbl_reply}}'" in commands
    )
    assert f"{E} postscreen_dnsbl_reply_map=texthash:/etc/postfix/maildns_postscreen_dnsbl_reply" in commands
    assert (
        f"{E} 'postscreen_dnsbl_sites=<DQS key>.zen.dq.spamhaus.net=127.0.0.[2..11]*3 bl.spamcop.net=127.0.0.2*1'"
        in (commands)
    )
    postscreen_map = next(f for f in result.files if f.path.endswith("maildns_postscreen_dnsbl_reply"))
    assert f"{KEY}.zen.dq.spamhaus.net zen.spamhaus.org\n" in postscreen_map.content
    assert OLD_KEY not in json.dumps(result.as_dict()) and KEY not in json.dumps(result.as_dict())


def test_fallback_lists_with_postscreen_weights() -> None:
    result = plan("postscreen_weights", PolicyOptions(fallback_lists=("bl.spamcop.net", "dnsbl-1.uceprotect.net")))
    assert result.commands() == [
        f"{E} 'postscreen_dnsbl_sites=zen.spamhaus.org=127.0.0.[2..11]*2 bl.spamcop.net=127.0.0.2*1 "
        "psbl.surriel.com=127.0.0.2*1 list.dnswl.org=127.0.[0..255].[1..3]*-2 dnsbl-1.uceprotect.net=127.0.0.2*1'"
    ]
    # threshold 3 stays; zen's 3 would reject alone, so it is lowered to 2
    single = plan("public_cloudflare", PolicyOptions(fallback_lists=("bl.spamcop.net",)))
    assert single.commands() == [
        f"{E} 'smtpd_client_restrictions=permit_mynetworks, reject_rbl_client zen.spamhaus.org=127.0.0.[2..11], "
        "reject_rbl_client bl.spamcop.net=127.0.0.2'"
    ]
    assert single.postconf[0].findings == ["DNSBL_NO_REPLY_FILTER", "DNSBL_SINGLE_LIST"]


def test_fallback_threshold_raised_where_one_list_would_decide() -> None:
    result = plan("filter_admits_errors", PolicyOptions(fallback_lists=("psbl.surriel.com",)))
    assert result.commands() == [
        f"{E} 'postscreen_dnsbl_sites=zen.spamhaus.org=127.0.0.[2..11]*2 bl.spamcop.net=127.0.0.2*1 "
        "psbl.surriel.com=127.0.0.2*1'"
    ]


def test_warn_if_reject_rules_for_error_answers() -> None:
    result = plan("healthy_debian", PolicyOptions(warn_if_reject=True))
    assert result.commands() == [
        f"{E} 'smtpd_client_restrictions=permit_mynetworks, permit_sasl_authenticated, "
        "warn_if_reject reject_rbl_client zen.spamhaus.org=127.255.255.[252;254;255], "
        "reject_rbl_client zen.spamhaus.org=127.0.0.[2..11], reject_rbl_client bl.spamcop.net=127.0.0.2'",
        f"{E} 'smtpd_sender_restrictions=warn_if_reject reject_rhsbl_sender "
        "dbl.spamhaus.org=127.255.255.[252;254;255], reject_rhsbl_sender dbl.spamhaus.org=127.0.1.[2..99]'",
    ]


def test_spamassassin_placeholder_filled_and_block_files_removed() -> None:
    result = plan("sa_upstream_dqs_placeholder", PolicyOptions(dqs_key=KEY))
    (replace,) = result.replacements
    assert (replace.path, replace.old, replace.new) == ("/etc/mail/spamassassin/sh.cf", "your_DQS_key", KEY)
    assert replace.findings == ["SPAMASSASSIN_DQS_PLACEHOLDER"]
    assert KEY not in json.dumps(result.as_dict())
    blocked = plan("sa_dnsblock_file")
    assert [r.path for r in blocked.removals] == ["/var/lib/spamassassin/.spamassassin/dnsblock_zen.spamhaus.org"]


def test_spamassassin_dqs_rule_file_where_none_exists() -> None:
    host = read_host(str(CORPUS / "sa_dnsblock_file"), use_postconf=False)
    result = plan_for_host(host, PolicyOptions(dqs_key=KEY))
    (rules,) = [f for f in result.files if f.path.endswith("maildns_dqs.cf")]
    assert rules.path == f"{host.spamassassin.site_directory}/maildns_dqs.cf"
    assert f"header   __RCVD_IN_ZEN   eval:check_rbl('zen', '{KEY}.zen.dq.spamhaus.net.')" in rules.content
    assert f"urirhssub URIBL_DBL_SPAM     {KEY}.dbl.dq.spamhaus.net. A 127.0.1.2" in rules.content
    assert rules.secret and rules.mode == "0640"


def test_invalid_options_refused_without_echoing_the_key() -> None:
    with pytest.raises(PolicyError) as error:
        plan_dnsbl_policy(None, PolicyOptions(dqs_key="short!key"))
    assert "short!key" not in str(error.value)
    for zone, message in [
        ("dnsbl.sorbs.net", "retired"),
        ("b.barracudacentral.org", "needs registration"),
        ("dbl.spamhaus.org", "lists domains"),
        ("example.invalid", "not in the DNSBL catalog"),
    ]:
        with pytest.raises(PolicyError, match=message):
            plan_dnsbl_policy(None, PolicyOptions(fallback_lists=(zone,)))


def test_list_values_round_trip() -> None:
    for value in ["a, b c", "check_client_access { hash:/x, y }, reject", "a,b,,c", "${x?{a b}:{c}}, d"]:
        assert join_list(split_list(value)) == value  # separators kept as written
    assert [t for _s, t in split_list("check_client_access { hash:/x, y }, reject")] == [
        "check_client_access",
        "{ hash:/x, y }",
        "reject",
    ]


# -- every corpus case, applied with the real postconf ------------------------------------------------------


def apply(case: str, options: PolicyOptions, tmp_path: Path):  # type: ignore[no-untyped-def]
    directory = tmp_path / "postfix"
    directory.mkdir()
    for name in ("main.cf", "master.cf"):
        source = CORPUS / case / "etc/postfix" / name
        if source.exists():
            shutil.copyfile(source, directory / name)
            os.utime(directory / name, (1_600_000_000, 1_600_000_000))
    config = read_postfix(HostFiles(str(CORPUS / case)), None, "/etc/postfix")
    config.config_directory = str(directory)
    first = plan_dnsbl_policy(config, options)
    if first.postconf:
        changes = [Change(p["name"], p["value"], p["state"], p["service"]) for p in first.parameters()]
        edit_postfix(str(directory), changes, postconf=POSTCONF)
    after = read_postfix(HostFiles(), None, str(directory))
    return first, after


@pytest.mark.skipif(not os.path.exists(POSTCONF), reason="Postfix's postconf is not installed")
@pytest.mark.parametrize("options", [PolicyOptions(), FULL], ids=["defaults", "dqs_fallbacks_warn"])
@pytest.mark.parametrize("case", CASES)
def test_plan_applied_fixes_the_findings_and_is_idempotent(case: str, options: PolicyOptions, tmp_path: Path) -> None:
    first, after = apply(case, options, tmp_path)
    if any("could not be read" in note for note in first.notes):
        assert first.empty  # main_cf_binary: nothing planned on a configuration nobody can read
        return
    found = {finding.id for finding in judge_postfix(after)}
    assert not found & FIXED, (case, sorted(found & FIXED))
    if first.files or options.dqs_key:
        assert "DQS_KEY_EXPOSED_IN_SMTP_REPLY" not in found
    second = plan_dnsbl_policy(after, options)
    assert second.postconf == [], (case, second.commands())
    assert second.files == []
    if options.dqs_key:
        uses = after.dnsbl_uses(mask=False)
        spamhaus = [u for u in uses if "spamhaus" in u["zone"] and u["action"] != "warn"]
        assert all(u["zone"].startswith(KEY + ".") for u in spamhaus), case
        assert KEY not in json.dumps(first.as_dict())


def test_spamassassin_rule_file_read_back_plans_nothing_more(tmp_path: Path) -> None:
    site = tmp_path / "etc/spamassassin"
    site.mkdir(parents=True)
    (site / "local.cf").write_text("required_score 5.0\n")
    host = read_host(str(tmp_path), use_postconf=False)
    first = plan_for_host(host, PolicyOptions(dqs_key=KEY))
    (rules,) = first.files
    (tmp_path / rules.path.lstrip("/")).write_text(rules.content)
    again = plan_for_host(read_host(str(tmp_path), use_postconf=False), PolicyOptions(dqs_key=KEY))
    assert again.empty, again.as_dict()


@pytest.mark.skipif(not shutil.which("spamassassin"), reason="SpamAssassin is not installed")
def test_spamassassin_accepts_the_dqs_rule_file(tmp_path: Path) -> None:
    (tmp_path / "maildns_dqs.cf").write_text(spamassassin_dqs_rules(KEY, "4.0.1"))
    for pre in Path("/etc/spamassassin").glob("*.pre"):
        shutil.copy(pre, tmp_path / pre.name)
    lint = subprocess.run(
        ["spamassassin", "--lint", f"--siteconfigpath={tmp_path}"], capture_output=True, text=True, check=False
    )
    assert lint.returncode == 0, lint.stderr
