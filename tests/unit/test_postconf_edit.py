"""postconf_edit against the real /usr/sbin/postconf on temporary configuration directories.

A directory with main.cf and master.cf is all `postconf -c DIR` needs. The files are backdated so
that postconf never waits for a main.cf written in the same second.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ansible_collections.maildns.audit.plugins.module_utils._remediate.postconf_edit import (
    Change,
    PostconfEditError,
    edit_postfix,
)

POSTCONF = shutil.which("postconf") or "/usr/sbin/postconf"
pytestmark = pytest.mark.skipif(not os.path.exists(POSTCONF), reason="Postfix's postconf is not installed")
KEY = "abcdefghijklmnopqrstuvwxyz"
MAIN_CF = """\
# the restrictions, as an admin writes them
myhostname = mx.example.org
smtpd_client_restrictions =
    permit_mynetworks,
    reject_rbl_client zen.spamhaus.org
smtpd_helo_required = yes
"""
MASTER_CF = """\
smtp      inet  n       -       y       -       -       smtpd
  -o smtpd_client_restrictions=permit_mynetworks,reject_rbl_client,zen.spamhaus.org
submission inet n       -       y       -       -       smtpd
  -o syslog_name=postfix/submission
pickup    unix  n       -       y       60      1       pickup
"""
OLD = 1_600_000_000


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    (tmp_path / "main.cf").write_text(MAIN_CF)
    (tmp_path / "master.cf").write_text(MASTER_CF)
    backdate(tmp_path)
    return tmp_path


def backdate(directory: Path) -> None:
    for name in ("main.cf", "master.cf"):
        os.utime(directory / name, (OLD, OLD))


def state(directory: Path) -> dict:
    return {
        name: ((directory / name).read_bytes(), (directory / name).stat().st_mtime) for name in ("main.cf", "master.cf")
    }


def postconf(directory: Path, *args: str) -> str:
    backdate(directory)
    return subprocess.run([POSTCONF, "-c", str(directory), *args], capture_output=True, text=True, check=True).stdout


def test_main_cf_parameter_set_then_idempotent(config_dir: Path) -> None:
    change = Change(
        "smtpd_client_restrictions", "permit_mynetworks, reject_rbl_client zen.spamhaus.org=127.0.0.[2..11]"
    )
    first = edit_postfix(str(config_dir), [change])
    assert first.changed
    assert first.changes[0]["before"] == "permit_mynetworks, reject_rbl_client zen.spamhaus.org"
    assert first.changes[0]["after"] == "permit_mynetworks, reject_rbl_client zen.spamhaus.org=127.0.0.[2..11]"
    assert postconf(config_dir, "-h", "smtpd_client_restrictions").strip() == change.value
    main = next(entry for entry in first.files if entry["path"].endswith("main.cf"))
    assert "-    reject_rbl_client zen.spamhaus.org\n" in main["diff"]
    assert (
        "+smtpd_client_restrictions = permit_mynetworks, reject_rbl_client zen.spamhaus.org=127.0.0.[2..11]\n"
        in (main["diff"])
    )
    assert "# the restrictions, as an admin writes them" in (config_dir / "main.cf").read_text()
    assert not next(entry for entry in first.files if entry["path"].endswith("master.cf"))["changed"]
    backdate(config_dir)
    before = state(config_dir)
    second = edit_postfix(str(config_dir), [change])
    assert not second.changed
    assert second.commands == []
    assert not any(entry["changed"] for entry in second.files)
    assert state(config_dir) == before  # bytes and mtime: postconf did not even run


def test_an_unneeded_change_never_rewrites_the_file(config_dir: Path) -> None:
    before = state(config_dir)
    result = edit_postfix(
        str(config_dir),
        [
            Change("smtpd_helo_required", "yes"),
            Change("smtpd_sender_restrictions", state="absent"),
            Change("syslog_name", "postfix/submission", service="submission/inet"),
            Change("smtpd_tls_security_level", state="absent", service="submission/inet"),
        ],
    )
    assert not result.changed
    assert [change["changed"] for change in result.changes] == [False] * 4
    assert state(config_dir) == before


def test_remove_a_main_cf_parameter(config_dir: Path) -> None:
    result = edit_postfix(str(config_dir), [Change("smtpd_helo_required", state="absent")])
    assert result.changed
    assert result.changes[0]["before"] == "yes" and result.changes[0]["after"] is None
    assert "smtpd_helo_required" not in (config_dir / "main.cf").read_text()
    assert result.commands == [[POSTCONF, "-c", str(config_dir), "-X", "smtpd_helo_required"]]


def test_master_cf_service_parameter_set_and_removed(config_dir: Path) -> None:
    value = "permit_mynetworks,reject_rbl_client,zen.spamhaus.org=127.0.0.[2..11]"
    result = edit_postfix(str(config_dir), [Change("smtpd_client_restrictions", value, service="smtp/inet")])
    assert result.changed
    assert result.commands == [[POSTCONF, "-c", str(config_dir), "-P", f"smtp/inet/smtpd_client_restrictions={value}"]]
    assert f"smtp/inet/smtpd_client_restrictions = {value}" in postconf(config_dir, "-P")
    files = {Path(entry["path"]).name: entry for entry in result.files}
    assert not files["main.cf"]["changed"]  # fixed in master.cf, where the override is
    assert f"+    -o smtpd_client_restrictions={value}\n" in files["master.cf"]["diff"]
    backdate(config_dir)
    again = edit_postfix(str(config_dir), [Change("smtpd_client_restrictions", value, service="smtp/inet")])
    assert not again.changed
    removed = edit_postfix(str(config_dir), [Change("smtpd_client_restrictions", state="absent", service="smtp/inet")])
    assert removed.changed
    assert removed.changes[0]["after"] is None
    assert "smtp/inet/smtpd_client_restrictions" not in postconf(config_dir, "-P")
    assert "submission/inet/syslog_name = postfix/submission" in postconf(config_dir, "-P")


def test_check_mode_changes_no_byte_and_predicts_the_real_diff(config_dir: Path, tmp_path_factory) -> None:
    changes = [
        Change("smtpd_client_restrictions", "permit_mynetworks, reject_rbl_client zen.spamhaus.org=127.0.0.[2..11]"),
        Change("smtpd_helo_required", state="absent"),
        Change("smtpd_client_restrictions", "permit_mynetworks,reject", service="smtp/inet"),
        Change("syslog_name", state="absent", service="submission/inet"),
    ]
    twin = tmp_path_factory.mktemp("twin")
    for name in ("main.cf", "master.cf"):
        shutil.copy2(config_dir / name, twin / name)
    before = state(config_dir)
    predicted = edit_postfix(str(config_dir), changes, check_mode=True)
    assert state(config_dir) == before
    assert predicted.changed and all(change["changed"] for change in predicted.changes)
    real = edit_postfix(str(twin), changes)
    assert [e["after"] for e in predicted.files] == [e["after"] for e in real.files]
    assert [c["after"] for c in predicted.changes] == [c["after"] for c in real.changes]
    assert [entry["diff"].replace(str(config_dir), "DIR") for entry in predicted.files] == [
        entry["diff"].replace(str(twin), "DIR") for entry in real.files
    ]
    assert len(predicted.commands) == 4  # -e, -X, -P, -PX: one run each
    assert [argv[3] for argv in predicted.commands] == ["-e", "-X", "-P", "-PX"]


def test_dqs_key_masked_in_every_returned_text(config_dir: Path) -> None:
    value = f"permit_mynetworks, reject_rbl_client {KEY}.zen.dq.spamhaus.net=127.0.0.[2..11]"
    for check_mode in (True, False):
        result = edit_postfix(
            str(config_dir),
            [
                Change("smtpd_client_restrictions", value),
                Change("smtpd_client_restrictions", value.replace(", ", ",").replace(" ", ","), service="smtp/inet"),
            ],
            check_mode=check_mode,
        )
        shown = json.dumps([result.as_dict(), result.ansible_diff()])
        assert KEY not in shown
        assert "<DQS key>.zen.dq.spamhaus.net" in shown
    assert KEY in (config_dir / "main.cf").read_text()  # written for real, only shown masked
    backdate(config_dir)
    removed = edit_postfix(str(config_dir), [Change("smtpd_client_restrictions", state="absent")])
    assert KEY not in json.dumps([removed.as_dict(), removed.ansible_diff()])


def test_other_secrets_masked(config_dir: Path) -> None:
    result = edit_postfix(
        str(config_dir), [Change("smtp_sasl_password_maps", "static:user:hunter2secret")], secrets=("hunter2secret",)
    )
    assert "hunter2secret" not in json.dumps([result.as_dict(), result.ansible_diff()])


def test_ansible_diff_shows_each_parameter_and_file(config_dir: Path) -> None:
    result = edit_postfix(
        str(config_dir), [Change("smtpd_helo_required", "no"), Change("myhostname", "mx.example.org")]
    )
    diff = result.ansible_diff()
    assert diff[0] == {
        "before_header": f"{config_dir}/main.cf: smtpd_helo_required",
        "after_header": f"{config_dir}/main.cf: smtpd_helo_required",
        "before": "smtpd_helo_required = yes\n",
        "after": "smtpd_helo_required = no\n",
    }
    assert [entry["before_header"] for entry in diff] == [
        f"{config_dir}/main.cf: smtpd_helo_required",
        f"{config_dir}/main.cf",
    ]
    assert diff[1]["after"] == (config_dir / "main.cf").read_text()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (Change("smtpd_client_restrictions", "a", service="nosuch/inet"), "has no service nosuch/inet"),
        (
            Change("smtpd_client_restrictions", "permit_mynetworks, reject", service="smtp/inet"),
            "separate list elements with commas",
        ),
        (Change("bad name", "1"), "is not a Postfix parameter name"),
        (Change("myhostname"), "needs a value"),
        (Change("myhostname", "a\nb"), "line break"),
        (Change("smtpd_client_restrictions", "x", service="smtp"), "is not name/type"),
    ],
)
def test_refusals_name_the_fix_and_change_nothing(config_dir: Path, change: Change, message: str) -> None:
    before = state(config_dir)
    with pytest.raises(PostconfEditError, match=message):
        edit_postfix(str(config_dir), [change])
    assert state(config_dir) == before


def test_missing_config_directory_and_postconf(tmp_path: Path) -> None:
    with pytest.raises(PostconfEditError, match="does not exist: is Postfix installed"):
        edit_postfix(str(tmp_path / "nothing"), [Change("myhostname", "x")])
    (tmp_path / "main.cf").write_text("")
    with pytest.raises(PostconfEditError, match="could not run"):
        edit_postfix(str(tmp_path), [Change("myhostname", "x")], postconf=str(tmp_path / "no-postconf"))
