"""The lab fleet works as a fleet of real mail hosts: own files, own DNS view, real daemons.

Runs as root against the session lab (tests/conftest.py); see tests/lab/README.md.
"""

from __future__ import annotations

import signal
import smtplib
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, TEST_FLEET, TEST_LAB_NET, require_lab_privileges
from tests.integration.helpers import ansible_adhoc
from tests.lab.dns_fixture import NXDOMAIN_REWRITE_ADDRESS

pytestmark = pytest.mark.lab


def test_each_host_sees_its_own_resolv_conf_over_ssh(lab) -> None:
    results = ansible_adhoc(lab.inventory, "ansible.builtin.command", "cat /etc/resolv.conf")
    assert sorted(results) == sorted(name for name, _scenario in TEST_FLEET)
    for name, result in results.items():
        expected = (Path(lab.host(name).root) / "etc.upper" / "resolv.conf").read_text()
        assert result["stdout"] + "\n" == expected
    assert len({result["stdout"] for result in results.values()}) == len(results)
    public = lab.fixture("public")
    assert f"nameserver {public}" in results["mx02"]["stdout"]
    assert f"nameserver {public}" not in results["mx01"]["stdout"]


def test_each_host_has_its_own_main_cf_and_hostname(lab, lab_hosts) -> None:
    # One command per host (testinfra's ansible backend costs an ansible run per command): its
    # hostname, its main.cf's myhostname line, and what Postfix's own reader says of it (stdout,
    # then stderr).
    script = (
        "hostname; echo ---; grep '^myhostname = ' /etc/postfix/main.cf 2>&1; echo ---; "
        "postconf -c /etc/postfix -h myhostname 2>/dev/null; echo ---; "
        "postconf -c /etc/postfix -h myhostname 2>&1 >/dev/null; true"
    )
    for name, host in lab_hosts.items():
        fqdn = lab.host(name).fqdn
        hostname, main_cf, postconf, errors = (part.strip() for part in host.check_output(script).split("---"))
        assert hostname == fqdn
        if lab.host(name).scenario == "no_postfix":
            # the scenario's whiteout hides the base main.cf on this host only
            assert "No such file or directory" in main_cf
            continue
        assert f"myhostname = {fqdn}" in main_cf.splitlines()
        if lab.host(name).scenario == "parameter_cycle":
            # a macro cycle in main.cf: the real postconf refuses the whole file, as on a real host
            assert "unreasonable macro call nesting" in errors
            continue
        assert postconf == fqdn  # Postfix's own reader, on the host's own config directory
    restrictions = lab_hosts["mx02"].check_output("postconf -h smtpd_client_restrictions")
    assert restrictions == "permit_mynetworks, reject_rbl_client zen.spamhaus.org"


def test_writes_on_a_host_stay_on_that_host(lab, lab_hosts) -> None:
    lab_hosts["mx01"].run_expect([0], "echo written-by-test > /etc/postfix/lab-marker")
    assert lab_hosts["mx01"].file("/etc/postfix/lab-marker").exists
    assert not lab_hosts["mx03"].file("/etc/postfix/lab-marker").exists
    assert not Path("/etc/postfix/lab-marker").exists()


@pytest.mark.parametrize(
    ("personality", "name", "expected"),
    [
        ("authority", "2.0.0.127.zen.spamhaus.org", "127.0.0.2"),
        ("authority", "1.0.0.127.zen.spamhaus.org", "status: NXDOMAIN"),
        ("resolver", "2.0.0.127.zen.spamhaus.org", "127.0.0.2"),
        ("resolver", "1.0.0.127.zen.spamhaus.org", "status: NXDOMAIN"),
        ("public", "1.0.0.127.zen.spamhaus.org", "127.255.255.254"),
        ("ratelimited", "1.0.0.127.zen.spamhaus.org", "127.255.255.255"),
        ("blackhole", "2.0.0.127.zen.spamhaus.org", "timed out"),
        ("servfail", "2.0.0.127.zen.spamhaus.org", "status: SERVFAIL"),
        ("refused", "2.0.0.127.zen.spamhaus.org", "status: REFUSED"),
        ("nxrewrite", "1.0.0.127.zen.spamhaus.org", NXDOMAIN_REWRITE_ADDRESS),
        ("listsworld", "1.0.0.127.zen.spamhaus.org", "127.0.0.2"),
        ("garbage", "2.0.0.127.zen.spamhaus.org", "malformed message packet"),
        ("truncated", "2.0.0.127.zen.spamhaus.org", "malformed message packet"),
    ],
)
def test_fixture_personalities_answer_inside_a_host(lab, lab_hosts, personality, name, expected) -> None:
    address = lab.fixture(personality)
    result = lab_hosts["mx01"].run(f"dig +tries=1 +time=1 @{address} {name} A")
    assert expected in result.stdout + result.stderr


def test_host_records_resolve_inside_the_lab(lab, lab_hosts) -> None:
    mx01 = lab.host("mx01")
    host = lab_hosts["mx03"]
    resolver = lab.fixture("resolver")
    assert host.check_output(f"dig +short @{resolver} -x {mx01.address}") == f"{mx01.fqdn}."
    assert host.check_output(f"dig +short @{resolver} {mx01.fqdn} A") == mx01.address
    assert host.check_output(f"dig +short @{resolver} mx01.lab.test MX") == f"10 {mx01.fqdn}."


def test_real_public_addresses_are_unreachable_from_a_host(lab_hosts) -> None:
    host = lab_hosts["mx02"]
    assert host.check_output("ip -4 route show").startswith(f"{TEST_LAB_NET}.0.0/16 dev eth0")
    assert len(host.check_output("ip -4 route show").splitlines()) == 1
    result = host.run("dig +tries=1 +time=5 @1.1.1.1 example.org")
    assert "network unreachable" in result.stdout + result.stderr


def test_postfix_in_a_host_reproduces_the_open_resolver_bounce(lab, lab_hosts) -> None:
    """Real Postfix in the public_resolver host rejects every sender; the healthy host does not."""
    replies = {}
    for name in ("mx01", "mx02"):
        lab_hosts[name].run_expect([0], "postfix start")
        with smtplib.SMTP(lab.host(name).address, 25, timeout=20) as smtp:
            smtp.ehlo("client.example")
            smtp.mail("sender@example.org")
            replies[name] = smtp.rcpt(f"root@{name}.lab.test")
        lab_hosts[name].run_expect([0], "postfix stop")
    code, text = replies["mx02"]
    assert code == 554
    assert b"blocked using zen.spamhaus.org; Error: open resolver" in text
    assert replies["mx01"][0] == 250


def test_real_unbound_recurses_through_the_lab_root(lab, lab_hosts) -> None:
    """The honest authority plays the root: Unbound resolves without any forwarder."""
    host = lab_hosts["mx04"]
    authority = lab.fixture("authority")
    hints = f". 3600000 NS ns.lab.test.\nns.lab.test. 3600000 A {authority}\n"
    conf = "\n".join(
        [
            "server:",
            "  interface: 127.0.0.1",
            "  port: 5353",
            "  do-ip6: no",
            '  module-config: "iterator"',
            "  root-hints: /etc/unbound/lab-root.hints",
            '  username: ""',
            '  chroot: ""',
            "  pidfile: /run/unbound-lab.pid",
            "  logfile: /var/log/unbound-lab.log",
            "remote-control:",
            "  control-enable: no",
            "",
        ]
    )
    host.run_expect([0], f"printf '%s' '{hints}' > /etc/unbound/lab-root.hints")
    host.run_expect([0], f"printf '%s' '{conf}' > /etc/unbound/lab-test.conf")
    host.run_expect([0], "unbound-checkconf /etc/unbound/lab-test.conf")
    host.run_expect([0], "unbound -c /etc/unbound/lab-test.conf")
    try:
        listed = host.check_output("dig +short -p 5353 @127.0.0.1 2.0.0.127.zen.spamhaus.org")
        not_listed = host.run("dig -p 5353 @127.0.0.1 1.0.0.127.zen.spamhaus.org").stdout
    finally:
        host.run("kill $(cat /run/unbound-lab.pid)")
    assert sorted(listed.split()) == ["127.0.0.10", "127.0.0.2", "127.0.0.4"]  # zen's real test-point answer
    assert "status: NXDOMAIN" in not_listed


# -- bring-up and teardown of a lab of its own --------------------------------------------------

RECOVERY_LAB = ["--prefix", "mdrec", "--net", "10.233"]


def lab_cli(state_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tests.lab", "--state-dir", str(state_dir), *RECOVERY_LAB, *args],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        check=False,
    )


def machine_leftovers(state_dir: Path) -> dict[str, list[str]]:
    namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False).stdout
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=False).stdout
    mounts = Path("/proc/self/mountinfo").read_text()
    processes = subprocess.run(["pgrep", "-af", str(state_dir)], capture_output=True, text=True, check=False).stdout
    return {
        "namespaces": [line for line in namespaces.splitlines() if line.startswith("mdrec-")],
        "links": [line for line in links.splitlines() if "mdrec" in line],
        "mounts": [line for line in mounts.splitlines() if "mdrec" in line or str(state_dir) in line],
        "processes": [line for line in processes.splitlines() if "pgrep" not in line],
    }


@pytest.fixture
def recovery_state(tmp_path_factory):
    require_lab_privileges()
    state_dir = REPO_ROOT / ".lab-recovery"
    yield state_dir
    lab_cli(state_dir, "down")


def test_lab_cli_up_ansible_and_down_leave_nothing(recovery_state: Path) -> None:
    up = lab_cli(recovery_state, "up", "--hosts", "3")
    assert up.returncode == 0, up.stderr
    results = ansible_adhoc(recovery_state / "inventory.ini", "ansible.builtin.command", "cat /etc/resolv.conf")
    assert len({result["stdout"] for result in results.values()}) == 3
    down = lab_cli(recovery_state, "down")
    assert down.returncode == 0, down.stderr
    assert "nothing left" in down.stdout
    assert machine_leftovers(recovery_state) == {"namespaces": [], "links": [], "mounts": [], "processes": []}


def test_lab_up_recovers_from_a_run_killed_halfway(recovery_state: Path) -> None:
    # A real crash: kill bring-up of a 20-host lab once its namespaces exist but before it is done.
    crashed = subprocess.Popen(
        [sys.executable, "-m", "tests.lab", "--state-dir", str(recovery_state), *RECOVERY_LAB, "up", "--hosts", "20"],
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    while crashed.poll() is None and not machine_leftovers(recovery_state)["processes"]:
        time.sleep(0.01)
    crashed.send_signal(signal.SIGKILL)
    crashed.wait()
    # And debris of another kind: a stray namespace with a process in it, a stray veth.
    subprocess.run(["ip", "netns", "add", "mdrec-ghost"], check=True)
    ghost = subprocess.Popen(["ip", "netns", "exec", "mdrec-ghost", "sleep", "600"], start_new_session=True)
    subprocess.run(["ip", "link", "add", "mdrecv9999", "type", "veth", "peer", "name", "mdrecv9998"], check=True)

    up = lab_cli(recovery_state, "up", "--hosts", "2")
    assert up.returncode == 0, up.stderr
    ghost.wait(timeout=10)  # killed by the clean-up that bring-up starts with
    namespaces = machine_leftovers(recovery_state)["namespaces"]
    assert sorted(line.split()[0] for line in namespaces) == ["mdrec-dns", "mdrec-mx01", "mdrec-mx02"]
    results = ansible_adhoc(recovery_state / "inventory.ini", "ansible.builtin.ping", "")
    assert all(result["ping"] == "pong" for result in results.values())

    down = lab_cli(recovery_state, "down")
    assert down.returncode == 0, down.stderr
    assert machine_leftovers(recovery_state) == {"namespaces": [], "links": [], "mounts": [], "processes": []}
