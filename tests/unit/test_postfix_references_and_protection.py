"""Postfix restrictions that name `$parameters` Postfix cannot expand, and protection that is not there.

Read twice where it matters: by the file reader, and by the real `postconf` (installed on this
machine) on a copy of /etc/postfix, so that what postconf itself prints stays the reference.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from ansible_collections.maildns.audit.plugins.module_utils.files import HostFiles
from ansible_collections.maildns.audit.plugins.module_utils.inspect_host import inspect_postfix
from ansible_collections.maildns.audit.plugins.module_utils.judge import judge_postfix
from ansible_collections.maildns.audit.plugins.module_utils.postfix_config import expand, read_postfix

POSTCONF = "/usr/sbin/postconf"
needs_postconf = pytest.mark.skipif(not Path(POSTCONF).exists(), reason="needs Postfix's postconf")
CORPUS = Path(__file__).parent / "corpus"
HEAD = "myhostname = mail.example.org\nmydomain = example.org\ninet_interfaces = all\n"
FILTERED = "reject_rbl_client zen.spamhaus.org=127.0.0.[2..11]"
SMTPD = "smtp      inet  n       -       y       -       -       smtpd\n"
POSTSCREEN = (
    "smtp      inet  n       -       y       -       1       postscreen\n"
    "smtpd     pass  -       -       y       -       -       smtpd\n"
    "dnsblog   unix  -       -       y       -       0       dnsblog\n"
)


def config_dir(tmp_path: Path, main_cf: str, master_cf: str = SMTPD) -> Path:
    """A Postfix configuration directory: the package's files, then this main.cf and master.cf."""
    target = tmp_path / "postfix"
    if Path("/etc/postfix").is_dir():
        shutil.copytree("/etc/postfix", target)
    target.mkdir(exist_ok=True)
    (target / "main.cf").write_text(main_cf)
    (target / "master.cf").write_text(master_cf)
    # Postfix re-reads a "hot" file (changed within the last second) every 0.3 s until it cools down
    # (util/dict.c, dict_load_file_xt): a main.cf written just now costs each postconf run 1 to 2 s.
    for name in ("main.cf", "master.cf"):
        os.utime(target / name, (time.time() - 60, time.time() - 60))
    return target


def findings(directory: Path, postconf: str | None = None, kind: str | None = None) -> list:
    config = read_postfix(HostFiles("/"), postconf, str(directory))
    found = [f.as_dict() for f in judge_postfix(config)]
    return [f["evidence"] for f in found if f["id"] == kind] if kind else sorted({f["id"] for f in found})


def unexpandable(directory: Path, postconf: str | None = None) -> list:
    return [
        (e["scope"], e["parameter"], e["reference"], e["reason"])
        for e in findings(directory, postconf, "POSTFIX_PARAMETER_UNEXPANDABLE")
    ]


READERS = [pytest.param(None, id="files"), pytest.param(POSTCONF, id="postconf", marks=needs_postconf)]


@pytest.mark.parametrize("postconf", READERS)
def test_undefined_reference_in_a_restriction_is_reported(tmp_path: Path, postconf: str | None) -> None:
    main = HEAD + f"rbl_check = {FILTERED}\nsmtpd_client_restrictions = permit_mynetworks, $rbl_checks\n"
    directory = config_dir(tmp_path, main)
    [evidence] = findings(directory, postconf, "POSTFIX_PARAMETER_UNEXPANDABLE")
    assert evidence == {
        "file": f"{directory}/main.cf",
        "line": 5,
        "parameter": "smtpd_client_restrictions",
        "scope": "main.cf",
        "reference": "$rbl_checks",
        "reason": "undefined",
        "via": [],
        "did_you_mean": "$rbl_check",
    }
    # Postfix expands it to nothing: the lists in rbl_check protect nobody.
    assert "DNSBL_NONE_ACTIVE" in findings(directory, postconf)


@needs_postconf
def test_undefined_names_are_the_ones_postconf_warns_about(tmp_path: Path) -> None:
    main = HEAD + (
        "smtpd_restriction_classes = dnsbl\n"
        "dnsbl = ${dnsbl_zen}, reject_rbl_client bl.spamcop.net=127.0.0.2\n"
        "smtpd_client_restrictions = permit_mynetworks, $(mua_checks), dnsbl\n"
        "smtpd_helo_restrictions = $helo_checks, ${maybe_defined?$also_missing}, ${unset:permit}\n"
        "smtpd_sender_restrictions = check_sender_access hash:$config_directory/sender_access, $mydomain_checks\n"
    )
    directory = config_dir(tmp_path, main)
    result = subprocess.run([POSTCONF, "-c", str(directory), "-x"], capture_output=True, text=True, check=True)
    warned = set(re.findall(r"undefined parameter: (\S+)", result.stderr))
    # postconf warns about every name it sees, also in ${name?text} and ${name:text}: the forms
    # meant for names that may be unset, whose text Postfix uses only when name is set (?) or empty (:).
    conditional = {"maybe_defined", "also_missing", "unset"}
    assert warned == {"dnsbl_zen", "mua_checks", "helo_checks", "mydomain_checks"} | conditional
    for postconf in (POSTCONF, None):
        found = findings(directory, postconf, "POSTFIX_PARAMETER_UNEXPANDABLE")
        assert {e["reference"].strip("${}()") for e in found} == warned - conditional
        [in_class] = [e for e in found if e["reference"] == "${dnsbl_zen}"]
        assert (in_class["parameter"], in_class["restriction_class"], in_class["line"]) == ("dnsbl", "dnsbl", 5)


@pytest.mark.parametrize("postconf", READERS)
def test_cycle_is_reported_with_its_path(tmp_path: Path, postconf: str | None) -> None:
    main = HEAD + f"smtpd_client_restrictions = $checks\nchecks = {FILTERED}, $more\nmore = $checks\n"
    directory = config_dir(tmp_path, main)
    if postconf:
        # Every postconf run refuses a configuration with a cycle anywhere in it; the reader falls
        # back to the files and says why.
        result = subprocess.run([postconf, "-c", str(directory), "-n"], capture_output=True, text=True, check=False)
        assert result.returncode == 1 and "unreasonable macro call nesting" in result.stderr
        config = read_postfix(HostFiles("/"), postconf, str(directory))
        assert config.source == "files"
        assert config.problems == [
            f"postconf -c {directory} -x failed: {postconf}: fatal: macro processing error; "
            "read the files directly instead"
        ]
    assert unexpandable(directory, postconf) == [
        ("main.cf", "smtpd_client_restrictions", "$checks", "cycle: checks -> more -> checks")
    ]


@pytest.mark.parametrize("postconf", READERS)
def test_master_cf_override_that_names_an_undefined_parameter(tmp_path: Path, postconf: str | None) -> None:
    # Debian's master.cf comments suggest exactly this, and main.cf never defines mua_client_restrictions.
    master = SMTPD + (
        "submission inet n       -       y       -       -       smtpd\n"
        "  -o smtpd_client_restrictions=$mua_client_restrictions\n"
        "  -o smtpd_recipient_restrictions=permit_sasl_authenticated,reject\n"
    )
    directory = config_dir(tmp_path, HEAD + f"smtpd_client_restrictions = {FILTERED}\n", master)
    [evidence] = findings(directory, postconf, "POSTFIX_PARAMETER_UNEXPANDABLE")
    assert (evidence["file"], evidence["line"], evidence["service"], evidence["scope"]) == (
        f"{directory}/master.cf",
        2,
        "submission/inet",
        "master.cf submission/inet",
    )
    assert (evidence["parameter"], evidence["reference"], evidence["reason"]) == (
        "smtpd_client_restrictions",
        "$mua_client_restrictions",
        "undefined",
    )


@pytest.mark.parametrize("postconf", READERS)
def test_a_service_override_that_names_itself_is_a_cycle(tmp_path: Path, postconf: str | None) -> None:
    master = SMTPD + (
        "submission inet n       -       y       -       -       smtpd\n"
        "  -o smtpd_client_restrictions=$smtpd_client_restrictions,reject_unknown_client_hostname\n"
    )
    directory = config_dir(tmp_path, HEAD + f"smtpd_client_restrictions = {FILTERED}\n", master)
    assert unexpandable(directory, postconf) == [
        (
            "master.cf submission/inet",
            "smtpd_client_restrictions",
            "$smtpd_client_restrictions",
            "cycle: smtpd_client_restrictions -> smtpd_client_restrictions",
        )
    ]


def test_built_in_and_service_parameters_are_not_undefined(tmp_path: Path) -> None:
    main = HEAD + (
        "smtpd_client_restrictions = check_client_access cidr:$config_directory/clients.cidr, "
        f"check_client_access ${{default_database_type}}:$meta_directory/x, {FILTERED}\n"
        "smtpd_recipient_restrictions = check_policy_service { unix:private/policy, "
        "timeout=$relay_destination_concurrency_limit }\n"
    )
    master = SMTPD + "relay     unix  -       -       y       -       -       smtp\n"
    assert unexpandable(config_dir(tmp_path, main, master)) == []


def test_expansion_of_a_wide_cycle_ends_at_once() -> None:
    values = {"a": "$b $b $b $b", "b": "$a $a $a $a x"}
    assert expand("$a", values, 0, ("top",)).split() == ["x"] * 4


@pytest.mark.parametrize("postconf", READERS)
def test_postscreen_sites_without_postscreen(tmp_path: Path, postconf: str | None) -> None:
    main = HEAD + f"smtpd_client_restrictions = {FILTERED}\npostscreen_dnsbl_sites = zen.spamhaus.org*2 x.example\n"
    directory = config_dir(tmp_path, main)
    [evidence] = findings(directory, postconf, "POSTSCREEN_DNSBL_SITES_UNUSED")
    assert evidence["file"] == f"{directory}/main.cf" and evidence["line"] == 5
    assert evidence["sites"] == ["zen.spamhaus.org*2", "x.example"]
    assert "smtp/inet runs smtpd" in evidence["reason"]
    # The same sites with postscreen running are used: no finding.
    assert findings(config_dir(tmp_path / "on", main, POSTSCREEN), postconf, "POSTSCREEN_DNSBL_SITES_UNUSED") == []


@pytest.mark.parametrize(
    ("main_cf", "master_cf", "expected"),
    [
        pytest.param(HEAD, SMTPD, ["DNSBL_NONE_ACTIVE"], id="none"),
        pytest.param(HEAD + f"smtpd_client_restrictions = {FILTERED}\n", SMTPD, [], id="smtpd-rejects"),
        pytest.param(HEAD.replace("= all", "= loopback-only"), SMTPD, [], id="null-client"),
        pytest.param(HEAD, "127.0.0.1:smtp inet n - y - - smtpd\n", [], id="loopback-listener"),
        pytest.param(HEAD, "", [], id="master-cf-empty-unknown"),
        pytest.param(
            HEAD + "postscreen_dnsbl_sites = zen.spamhaus.org*2\npostscreen_dnsbl_action = enforce\n",
            POSTSCREEN,
            [],
            id="postscreen-enforces",
        ),
        pytest.param(
            HEAD + "postscreen_dnsbl_sites = zen.spamhaus.org*2\npostscreen_dnsbl_threshold = 3\n"
            "postscreen_dnsbl_action = enforce\n",
            POSTSCREEN,
            ["DNSBL_NONE_ACTIVE"],
            id="threshold-unreachable",
        ),
        pytest.param(
            HEAD + "postscreen_dnsbl_sites = zen.spamhaus.org*2\npostscreen_dnsbl_action = enforce\n",
            POSTSCREEN.replace("dnsblog", "dnsblog").replace(
                "postscreen\n", "postscreen\n  -o postscreen_dnsbl_action=ignore\n"
            ),
            ["DNSBL_NONE_ACTIVE"],
            id="service-overrides-action-to-ignore",
        ),
        pytest.param(
            HEAD + "smtpd_client_restrictions = reject_rbl_client dnsbl.sorbs.net\n",
            SMTPD,
            ["DNSBL_NONE_ACTIVE", "DNSBL_RETIRED"],
            id="retired-only",
        ),
    ],
)
def test_no_active_dnsbl(tmp_path: Path, main_cf: str, master_cf: str, expected: list) -> None:
    directory = config_dir(tmp_path, main_cf, master_cf)
    found = [i for i in findings(directory) if i in ("DNSBL_NONE_ACTIVE", "DNSBL_RETIRED")]
    assert found == expected
    if Path(POSTCONF).exists() and master_cf:
        assert [i for i in findings(directory, POSTCONF) if i in ("DNSBL_NONE_ACTIVE", "DNSBL_RETIRED")] == expected


def test_inactive_uses_say_why_and_hide_dqs_keys(tmp_path: Path) -> None:
    key = "abcdefghijklmnopqrstuvwxyz"
    main = HEAD + (
        f"smtpd_client_restrictions = warn_if_reject reject_rbl_client {key}.zen.dq.spamhaus.net=127.0.0.[2..11]\n"
        f"postscreen_dnsbl_sites = {key}.zen.dq.spamhaus.net=127.0.0.[2..11]*2\n"
    )
    result = inspect_postfix("/", str(config_dir(tmp_path, main)), use_postconf=False, scan_log=False)
    assert key not in repr(result)
    [evidence] = [f["evidence"] for f in result["findings"] if f["id"] == "DNSBL_NONE_ACTIVE"]
    assert [(use["zone"], use["why"]) for use in evidence["inactive"]] == [
        ("<DQS key>.zen.dq.spamhaus.net", "warn_if_reject: a listing is only logged"),
        ("<DQS key>.zen.dq.spamhaus.net", "master.cf runs no postscreen"),
    ]


CASES = sorted(
    path.name
    for path in CORPUS.iterdir()
    if (path / "etc/postfix/master.cf").is_file() and path.name != "main_cf_binary"
)


@needs_postconf
@pytest.mark.parametrize("case", CASES)
def test_postconf_and_the_file_reader_give_the_same_findings(tmp_path: Path, case: str) -> None:
    """Every corpus case read by the real postconf gives what the corpus test gets from the files."""
    source = CORPUS / case / "etc/postfix"
    directory = config_dir(tmp_path, (source / "main.cf").read_text(), (source / "master.cf").read_text())
    real = read_postfix(HostFiles("/"), POSTCONF, str(directory))
    files = read_postfix(HostFiles("/"), None, str(directory))
    assert sorted(repr(f.as_dict()) for f in judge_postfix(real)) == sorted(
        repr(f.as_dict()) for f in judge_postfix(files)
    )
    expected = yaml.safe_load((CORPUS / case / "expected.yml").read_text())["findings"]
    postfix_ids = {f.id for f in judge_postfix(real)}
    assert postfix_ids <= set(expected)
