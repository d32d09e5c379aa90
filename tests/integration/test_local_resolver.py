"""roles/local_resolver on lab hosts over SSH, with real Unbound, Postfix and SpamAssassin (issue 10).

Its own lab (the shared test fleet's hosts must keep their findings): one host per resolver setup
the demo fleet has, a Postfix host whose clean clients bounce today, and hosts made to fail.
The lab's group_vars give the role the lab's own root (tests/lab/fleet.py writes them).
"""

from __future__ import annotations

import contextlib
import json
import os
import smtplib
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO_ROOT, TEST_LAB_NET, TEST_LAB_PREFIX, require_lab_privileges
from tests.integration.helpers import ansible_adhoc, host_tree_digest
from tests.lab.scenario import SCENARIO_DIR

pytestmark = pytest.mark.lab

# MAILDNS_RESOLVER_LAB=prefix,net, else beside the test lab (its prefix with an "r", its net + 2).
_PREFIX, _NET = (os.environ.get("MAILDNS_RESOLVER_LAB", "") + ",").split(",")[:2]
LAB_PREFIX = _PREFIX or TEST_LAB_PREFIX[:5] + "r"
LAB_NET = _NET or f"10.{int(TEST_LAB_NET.split('.')[1]) + 2}"
LISTED_CLIENT = f"{LAB_NET}.0.66"  # an address on the lab bridge that the lab lists in zen
CLEAN_CLIENT = f"{LAB_NET}.0.1"  # the controller's own address on the bridge: listed nowhere
PLAYBOOK = REPO_ROOT / "tests" / "integration" / "playbooks" / "local_resolver.yml"


def scenario(name: str, **extra: object) -> dict:
    spec = yaml.safe_load((SCENARIO_DIR / f"{name}.yml").read_text())
    for key, value in extra.items():
        spec[key] = dict(spec.get(key) or {}, **value) if isinstance(value, dict) else value
    return spec


# A long max_idle: smtpd caches DNSBL verdicts for its life, and a fresh smtpd after 100 s idle
# could make a fix that forgot `postfix reload` look right (DESIGN section 5).
SMTP = {"postconf": {"max_idle": "3600s"}, "dns": {"listed": {"zen.spamhaus.org": [LISTED_CLIENT]}}}
RESOLVER_SETUPS = {
    "mx02": "public_resolver",
    "mx05": "cloudflare_resolv_conf",
    "mx06": "unbound_forwards_public",
    "mx07": "systemd_resolved_public",
    "mx08": "chroot_drift",
    "mx09": "spamassassin_public_dns",
}
FAILING = {"fail-start": "chroot_drift", "fail-check": "chroot_drift", "fail-verify": "chroot_drift"}
FLEET = [(name, scenario(spec, **SMTP)) for name, spec in {**RESOLVER_SETUPS, **FAILING}.items()]
# What the audit still reports after the role: DNSBL policy (issue 11's role), nothing of the path;
# mx02's mail log keeps the rejection of the SMTP session before the role.
AFTER = {
    "mx02": ["DNSBL_NO_REPLY_FILTER", "DNSBL_SINGLE_LIST", "MAIL_REJECTED_BY_DNSBL_ERROR"],
    "mx05": ["DNSBL_NO_REPLY_FILTER", "DNSBL_SINGLE_LIST"],
    "mx06": [],
    "mx07": [],
    "mx08": [],
    "mx09": ["SPAMASSASSIN_DQS_PLACEHOLDER"],
}


@pytest.fixture(scope="module")
def rlab() -> Iterator[object]:
    require_lab_privileges()
    from tests.lab.fleet import Lab, LabNetwork

    lab = Lab(REPO_ROOT / f".lab-test-{LAB_PREFIX}", LabNetwork(LAB_PREFIX, LAB_NET))
    try:
        lab.up(FLEET)
        subprocess.run(["ip", "addr", "add", f"{LISTED_CLIENT}/16", "dev", lab.network.bridge], check=True)
        yield lab
    finally:
        lab.down()


def playbook(lab, limit: str, *extra: str) -> tuple[int, dict[str, dict], dict[str, int]]:  # type: ignore[no-untyped-def]
    """Run the role's playbook: (exit code, each host's module result, each host's changed count)."""
    with tempfile.TemporaryDirectory() as results:
        run = subprocess.run(
            [
                "ansible-playbook",
                "-i",
                str(lab.inventory),
                str(PLAYBOOK),
                "-l",
                limit,
                "-e",
                f"result_dir={results}",
                *list(extra),
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
    return run.returncode, found, changed


def audit_ids(lab, pattern: str) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    results = ansible_adhoc(lab.inventory, "maildns.audit.audit_host", "timeout=3", pattern=pattern)
    return {host: sorted({f["id"] for f in result["findings"]}) for host, result in results.items()}


# What a running Postfix writes by itself (its pid and lock files, sockets, the PRNG seed, queue
# files of an SMTP session): not the role's to keep.
POSTFIX_RUNTIME = ("prng_exch", "master.lock", ".pid")


def host_files(lab, name: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """sha256 of every file of one host's own (its /etc, /var/spool, /var/lib, /root), by path."""
    import hashlib

    found = {}
    root = Path(lab.state_dir, "hosts", name)
    for path in sorted(root.rglob("*")):
        text = str(path.relative_to(root))
        if not path.is_file() or text.startswith(("log/", "run/")) or ".work/" in text:
            continue
        if path.name.endswith(POSTFIX_RUNTIME) or "/postfix/pid/" in text:
            continue
        found[text] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def smtp_rcpt(lab, name: str, source: str) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    with smtplib.SMTP(lab.host(name).address, 25, timeout=30, source_address=(source, 0)) as smtp:
        smtp.ehlo("sender.example")
        smtp.mail("someone@example.org")
        code, message = smtp.rcpt(f"root@{name}.lab.test")
        return code, message.decode()


@contextlib.contextmanager
def postfix_running(lab, name: str) -> Iterator[None]:  # type: ignore[no-untyped-def]
    started = lab.exec(name, "postfix start 2>&1")
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        yield
    finally:
        lab.exec(name, "postfix stop")


def test_check_mode_changes_nothing_and_shows_what_the_run_then_changes(rlab) -> None:
    names = ",".join(RESOLVER_SETUPS)
    before = host_tree_digest(rlab.state_dir)
    code, previews, _changed = playbook(rlab, names, "--check", "--diff")
    assert code == 0, previews
    assert host_tree_digest(rlab.state_dir) == before
    for name in RESOLVER_SETUPS:
        assert previews[name]["changed"] is True, name
        assert "start unbound" in previews[name]["actions"], name
        assert not previews[name].get("verification"), "check mode must not start or ask anything"
    with postfix_running(rlab, "mx02"):
        before_code, before_reply = smtp_rcpt(rlab, "mx02", CLEAN_CLIENT)
        code, results, _changed = playbook(rlab, names, "--diff")
        assert code == 0, results
        after_code, after_reply = smtp_rcpt(rlab, "mx02", CLEAN_CLIENT)
        listed_code, listed_reply = smtp_rcpt(rlab, "mx02", LISTED_CLIENT)
    for name in RESOLVER_SETUPS:
        # The diff shown in check mode is the change the real run made, file by file.
        assert results[name]["diff"] == previews[name]["diff"], name
        assert results[name]["files"] == previews[name]["files"], name
    # The seed bounce, gone: only the role ran between the two SMTP sessions.
    assert before_code == 554 and "blocked using zen.spamhaus.org; Error: open resolver" in before_reply
    assert "postfix reload" in results["mx02"]["actions"]
    assert after_code == 250, after_reply
    assert listed_code == 554 and f"Client host [{LISTED_CLIENT}] blocked using zen.spamhaus.org" in listed_reply
    assert "open resolver" not in listed_reply

    # After the role, the audit reports nothing of the resolver path on any of these hosts.
    assert audit_ids(rlab, names) == AFTER

    # A second run changes nothing.
    code, _again, changed = playbook(rlab, names, "--diff")
    assert code == 0
    assert changed == dict.fromkeys(RESOLVER_SETUPS, 0)


def test_unbound_inside_the_host_recurses_to_the_test_points(rlab) -> None:
    # After the previous test's run: the host's own Unbound, no forwarding, asks the lab's root.
    for name in RESOLVER_SETUPS:
        listed = rlab.exec(name, "dig +short +tries=1 +time=3 @127.0.0.1 2.0.0.127.zen.spamhaus.org A")
        unlisted = rlab.exec(name, "dig +tries=1 +time=3 @127.0.0.1 1.0.0.127.zen.spamhaus.org A")
        assert "127.0.0.2" in listed.stdout.split(), (name, listed.stdout)
        assert "status: NXDOMAIN" in unlisted.stdout and "flags: qr rd ra" in unlisted.stdout, name
        config = rlab.exec(name, "unbound-checkconf -o root-hints; grep -rh 'forward-addr' /etc/unbound || true")
        assert "/etc/unbound/maildns-root.hints" in config.stdout
        assert not [line for line in config.stdout.splitlines() if line.startswith("forward-addr")], name
    mx06 = Path(rlab.state_dir, "hosts", "mx06")
    backups = list(mx06.rglob("unbound.conf.maildns-backup"))
    assert backups and "forward-addr: 1.1.1.1@53" in backups[0].read_text()


def test_the_systemd_resolved_host_points_resolved_at_unbound(rlab) -> None:
    drop_in = rlab.exec("mx07", "cat /etc/systemd/resolved.conf.d/zz-maildns-local-resolver.conf").stdout
    assert "DNS=\nDNS=127.0.0.1 ::1\n" in drop_in
    # No resolved runs in the lab (no systemd): its stub does not answer, so resolv.conf names Unbound.
    assert rlab.exec("mx07", "grep ^nameserver /etc/resolv.conf").stdout.split() == [
        "nameserver",
        "127.0.0.1",
        "nameserver",
        "::1",
    ]


def _failing_run(rlab, name: str, *extra: str) -> tuple[dict, str, str]:  # type: ignore[no-untyped-def]
    before = host_files(rlab, name)
    with postfix_running(rlab, name):
        accepted_before = smtp_rcpt(rlab, name, CLEAN_CLIENT)[0]
        code, results, _changed = playbook(rlab, name, *extra)
        accepted_after = smtp_rcpt(rlab, name, CLEAN_CLIENT)[0]
    assert code != 0
    assert (accepted_before, accepted_after) == (250, 250), "mail must flow before and after"
    return results[name], before, host_files(rlab, name)


def test_unbound_that_cannot_bind_its_port_leaves_the_host_as_it_was(rlab) -> None:
    # Something holds TCP port 53 on 127.0.0.1 (the audit sees UDP listeners only): Unbound fails.
    holder = subprocess.Popen(
        [
            "ip",
            "netns",
            "exec",
            rlab.network.host_netns("fail-start"),
            "python3",
            "-c",
            "import socket,time; s=socket.socket(); s.bind(('127.0.0.1', 53)); s.listen(); time.sleep(600)",
        ]
    )
    try:
        result, before, after = _failing_run(rlab, "fail-start")
    finally:
        holder.kill()
    assert result["failed"] is True
    # Unbound 1.17 exits, or runs without the interface it could not bind: either way the role sees it.
    assert "Unbound did not start" in result["msg"] or "Unbound does not answer the test points" in result["msg"]
    assert "Rolled back" in result["msg"]
    assert "/etc/unbound/unbound.conf.d/zz-maildns-local-resolver.conf" in result["rolled_back"]
    assert "/etc/resolv.conf" not in result["rolled_back"], "the path is never touched before Unbound is proven"
    assert after == before, "every file back byte for byte"
    assert rlab.exec("fail-start", "test -e /run/unbound.pid && kill -0 $(cat /run/unbound.pid)").returncode != 0


def test_a_config_unbound_checkconf_refuses_is_never_loaded(rlab) -> None:
    rlab.exec("fail-check", "printf 'server:\\n    no-such-option: yes\\n' > /etc/unbound/unbound.conf.d/admin.conf")
    result, before, after = _failing_run(rlab, "fail-check")
    assert "unbound-checkconf failed" in result["msg"]
    assert "no-such-option" in result["msg"]
    assert after == before


def test_a_broken_variable_wrong_answers_roll_back(rlab) -> None:
    # Root hints naming an address nothing answers on: Unbound starts, but cannot answer the test points.
    hints = json.dumps({"local_resolver_root_hints": [{"name": "ns.nowhere.test.", "address": "192.0.2.1"}]})
    result, before, after = _failing_run(rlab, "fail-verify", "-e", hints)
    assert "Unbound does not answer the test points right" in result["msg"]
    assert after == before
    assert rlab.exec("fail-verify", "test -e /run/unbound.pid && kill -0 $(cat /run/unbound.pid)").returncode != 0


def test_the_lab_inventory_gives_the_role_its_root(rlab) -> None:
    group_vars = yaml.safe_load(Path(rlab.inventory.parent, "group_vars", "all.yml").read_text())
    assert group_vars["local_resolver_root_hints"] == [{"name": "ns.lab.test.", "address": rlab.fixture("authority")}]
