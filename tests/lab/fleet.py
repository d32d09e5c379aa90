"""The lab fleet: mail hosts as network + mount namespaces on one machine, reached over real SSH.

Layout (prefix `mdlab`, net `10.231`):

    root namespace   bridge mdlabbr0 10.231.0.1/16        the controller: Ansible, pytest
    mdlab-dns        10.231.53.<octet> per personality     DNS fixtures (the lab's Internet)
    mdlab-<host>     10.231.<block>.<n>, fd10:231::<b>:<n>  sshd in its own mount and UTS namespace

A lab host has no default route: the real Internet (and every real public resolver address that
appears in its configs as data) is unreachable from it, and a probe of one fails at once.

Inside a host, overlays give it its own writable /etc, /var/lib, /var/spool and /root over the
machine's (so the packages' files are there, and scenario files and whatever Ansible writes land
in the host's own upper directory); /run and /var/log are its own empty directories.

Teardown finds what to remove by name (prefix), not by the state file, so it also cleans up after
a run that crashed halfway: it kills every process in each lab namespace (`ip netns pids`), the SSH
ControlPersist masters that point into the lab, then deletes the namespaces and the veths.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tests.lab.journal import write_journal
from tests.lab.scenario import (
    AUTHORITY_NAME,
    FILE_ROOTS,
    HOST_BINDS,
    HOST_OVERLAYS,
    HostIdentity,
    RenderedHost,
    ScenarioError,
    available_scenarios,
    fixture_specs,
    lab_zone_data,
    load_base,
    load_scenario,
    render_host,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_STATE_DIR = REPO_ROOT / ".lab"
READY_TIMEOUT = 30.0
NO_MACHINE_ID = "0" * 32  # a machine without /etc/machine-id (some containers): a fixed folder name


class LabError(RuntimeError):
    """The lab could not be brought up or torn down; the message says which step and host."""


@dataclass(frozen=True)
class LabNetwork:
    """Names and addresses of one lab; two labs with different prefixes and nets coexist."""

    prefix: str = "mdlab"
    net: str = "10.231"  # the lab is <net>.0.0/16

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z][a-z0-9]{1,5}", self.prefix):
            raise ValueError(
                "lab prefix: 2 to 6 lower-case letters or digits, a letter first (it becomes part of interface names)"
            )
        if not re.fullmatch(r"10\.\d{1,3}", self.net):
            raise ValueError("lab net: '10.N', the lab uses 10.N.0.0/16")

    @property
    def bridge(self) -> str:
        return f"{self.prefix}br0"

    @property
    def gateway(self) -> str:
        return f"{self.net}.0.1"

    @property
    def v6_prefix(self) -> str:
        return f"fd10:{self.net.split('.')[1]}:"

    @property
    def fixture_netns(self) -> str:
        return f"{self.prefix}-dns"

    @property
    def fixture_veth(self) -> str:
        return f"{self.prefix}vdns"

    def fixture_address(self, octet: int) -> str:
        return f"{self.net}.53.{octet}"

    def host_netns(self, name: str) -> str:
        return f"{self.prefix}-{name}"

    def host_veth(self, index: int) -> str:
        return f"{self.prefix}v{index:04d}"

    def host_addresses(self, index: int) -> tuple[str, str]:
        block, number = 1 + (index - 1) // 250, (index - 1) % 250 + 1
        if block >= 53:
            raise ValueError("a lab holds at most 13000 hosts")
        return f"{self.net}.{block}.{number}", f"{self.v6_prefix}:{block:x}:{number:x}"


@dataclass
class HostState:
    name: str
    scenario: str
    address: str
    address6: str
    fqdn: str
    netns: str
    veth: str
    root: str
    pid: int = 0


@dataclass
class FixtureState:
    personality: str
    address: str
    pid: int = 0
    name: str = ""  # what scenarios and lab.fixture() call it (base.yml); "" in old state: the personality
    argv: list[str] = field(default_factory=list)  # dns_fixture options: personality, delay, slow zones, egress
    egress: str = ""  # the address its Spamhaus error TXT names, when not its own


def run(argv: list[str], *, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise LabError(f"{shlex.join(argv)} failed ({result.returncode}): {result.stderr.strip()}")
    return result


def machine_id() -> str:
    """This machine's id, which lab hosts share (their /etc is an overlay of the machine's)."""
    try:
        return Path("/etc/machine-id").read_text().strip() or NO_MACHINE_ID
    except OSError:
        return NO_MACHINE_ID


def require_root() -> None:
    if os.geteuid() != 0:
        raise LabError("the lab needs root (network namespaces, bind mounts, sshd on port 22)")


class Lab:
    """Bring a fleet up from scenarios, describe it, run commands in it, take it down."""

    def __init__(self, state_dir: Path = DEFAULT_STATE_DIR, network: LabNetwork | None = None):
        self.state_dir = Path(state_dir).resolve()
        self.network = network or LabNetwork()
        self.hosts: list[HostState] = []
        self.fixtures: list[FixtureState] = []

    # -- paths -----------------------------------------------------------------------------------
    @property
    def inventory(self) -> Path:
        return self.state_dir / "inventory.ini"

    @property
    def state_file(self) -> Path:
        return self.state_dir / "state.json"

    @property
    def ssh_dir(self) -> Path:
        return self.state_dir / "ssh"

    @property
    def control_dir(self) -> Path:
        return self.state_dir / "cp"

    @property
    def zone_file(self) -> Path:
        return self.state_dir / "dns.json"

    def fixture(self, name: str) -> str:
        """The address of a DNS fixture, by its base.yml name (the personality for most)."""
        return self.fixture_state(name).address

    def fixture_state(self, name: str) -> FixtureState:
        for fixture in self.fixtures:
            if (fixture.name or fixture.personality) == name:
                return fixture
        raise KeyError(f"no {name} fixture in this lab")

    def host(self, name: str) -> HostState:
        for host in self.hosts:
            if host.name == name:
                return host
        raise KeyError(f"no lab host {name!r}")

    # -- state -----------------------------------------------------------------------------------
    def save(self) -> None:
        state = {
            "prefix": self.network.prefix,
            "net": self.network.net,
            "hosts": [asdict(host) for host in self.hosts],
            "fixtures": [asdict(fixture) for fixture in self.fixtures],
        }
        self.state_file.write_text(json.dumps(state, indent=1))

    @classmethod
    def load(cls, state_dir: Path = DEFAULT_STATE_DIR) -> Lab:
        state_file = Path(state_dir) / "state.json"
        try:
            state = json.loads(state_file.read_text())
        except (OSError, ValueError) as error:
            raise LabError(f"no running lab described in {state_file} ({error}); run 'make lab-up'") from error
        lab = cls(state_dir, LabNetwork(state["prefix"], state["net"]))
        lab.hosts = [HostState(**host) for host in state["hosts"]]
        lab.fixtures = [FixtureState(**fixture) for fixture in state["fixtures"]]
        return lab

    # -- bring-up --------------------------------------------------------------------------------
    def up(self, fleet: list[tuple[str, str | dict[str, Any]]]) -> None:
        """Bring up one host per (name, scenario); a scenario is a file name or a dict."""
        require_root()
        if not fleet:
            raise LabError("a lab needs at least one host")
        names = [name for name, _scenario in fleet]
        bad = [name for name in names if not re.fullmatch(r"[a-z][a-z0-9-]{0,39}", name)]
        if bad or len(set(names)) != len(names):
            raise LabError(f"host names must be unique, lower-case, 1-40 chars: {bad or names}")
        self.down()
        if self.state_dir.exists():
            shutil.rmtree(self.state_dir)
        for directory in (self.state_dir, self.ssh_dir, self.control_dir, self.state_dir / "hosts"):
            directory.mkdir(parents=True, exist_ok=True)
        self.state_dir.chmod(0o755)

        base = load_base()
        self.fixtures = [
            FixtureState(
                spec.personality,
                self.network.fixture_address(spec.octet),
                name=spec.name,
                argv=spec.argv(self.network.net),
                egress=spec.egress_address(self.network.net),
            )
            for spec in fixture_specs(base)
        ]
        fixture_addresses = {fixture.name: fixture.address for fixture in self.fixtures}
        authority = fixture_addresses["authority"]
        rendered = []
        self.hosts = []
        for index, (name, scenario) in enumerate(fleet, start=1):
            address, address6 = self.network.host_addresses(index)
            identity = HostIdentity(name, index, address, address6)
            scenario_name = scenario if isinstance(scenario, str) else str(scenario.get("name", "inline"))
            rendered.append(
                render_host(identity, scenario_name, load_scenario(scenario), base, fixture_addresses, authority)
            )
            self.hosts.append(
                HostState(
                    name=name,
                    scenario=scenario_name,
                    address=address,
                    address6=address6,
                    fqdn=identity.fqdn,
                    netns=self.network.host_netns(name),
                    veth=self.network.host_veth(index),
                    root=str(self.state_dir / "hosts" / name),
                )
            )
        self.zone_file.write_text(lab_zone_data(base, rendered, authority).to_json())

        try:
            self._client_key()
            with ThreadPoolExecutor(max_workers=8) as pool:
                list(pool.map(self._prepare_host, self.hosts, rendered))
            self._build_network()
            self._start_fixtures()
            with ThreadPoolExecutor(max_workers=8) as pool:
                list(pool.map(self._start_sshd, self.hosts))
            self._wait_for_sshd()
        except BaseException:
            self.save()  # so that the caller can see what was started; down() works by name anyway
            raise
        self._write_inventory()
        self.save()

    def _client_key(self) -> None:
        key = self.ssh_dir / "id_ed25519"
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "maildns-lab-controller", "-f", str(key)])
        shutil.copy(key.with_suffix(".pub"), self.ssh_dir / "authorized_keys")

    def _prepare_host(self, host: HostState, rendered: RenderedHost) -> None:
        root = Path(host.root)
        for directory in HOST_OVERLAYS.values():
            (root / directory).mkdir(parents=True)
            (root / directory.replace(".upper", ".work")).mkdir()
        for directory in HOST_BINDS.values():
            (root / directory).mkdir()
        (root / "run" / "sshd").mkdir()

        files = dict(rendered.files)
        files["/etc/postfix/main.cf"] = files.get("/etc/postfix/main.cf") or rendered.main_cf()
        # Debian's Postfix start-up copies these into the chroot of its chrooted services (the
        # smtpd in the stock master.cf among them); a scenario that places its own chroot copy
        # of resolv.conf plays the drift case.
        chroot_etc = "/var/spool/postfix/etc"
        files.setdefault(f"{chroot_etc}/resolv.conf", files["/etc/resolv.conf"])
        for name in ("hosts", "nsswitch.conf", "services", "host.conf"):
            if Path("/etc", name).is_file():
                files.setdefault(f"{chroot_etc}/{name}", Path("/etc", name).read_text())
        for path, content in files.items():
            target = self._host_path(root, path)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content)
        for path in rendered.remove:
            # An overlay whiteout (a 0/0 character device in the upper directory) hides the machine's file.
            whiteout = self._host_path(root, path)
            whiteout.parent.mkdir(parents=True, exist_ok=True)
            if whiteout.exists():
                whiteout.unlink()
            os.mknod(whiteout, stat.S_IFCHR | 0o000, os.makedev(0, 0))
        if rendered.journal:
            # journalctl on the host reads the journals of its own machine id (the machine's, via /etc)
            journal = f"/var/log/journal/{machine_id()}/system.journal"
            write_journal(self._host_path(root, journal), rendered.journal, hostname=host.fqdn)
        master_cf = self._host_path(root, "/etc/postfix/master.cf")
        if not master_cf.exists():
            shutil.copy("/etc/postfix/master.cf", master_cf)
        if rendered.postconf_services:
            run(["postconf", "-c", str(master_cf.parent), "-P", *rendered.postconf_services])

        key = root / "ssh_host_ed25519_key"
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", host.fqdn, "-f", str(key)])
        (root / "sshd_config").write_text(
            "\n".join(
                [
                    f"ListenAddress {host.address}",
                    f"HostKey {key}",
                    "PidFile /run/sshd.pid",
                    f"AuthorizedKeysFile {self.ssh_dir / 'authorized_keys'}",
                    "PermitRootLogin prohibit-password",
                    "PubkeyAuthentication yes",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "UsePAM no",
                    "UseDNS no",
                    "StrictModes no",
                    "PrintMotd no",
                    "MaxStartups 200:30:400",
                    "MaxSessions 100",
                    "LogLevel ERROR",
                    "Subsystem sftp internal-sftp",
                    "",
                ]
            )
        )
        (root / "scenario.txt").write_text(f"{rendered.scenario}\n{rendered.description}\n")

    @staticmethod
    def _host_path(root: Path, path: str) -> Path:
        for prefix, directory in FILE_ROOTS.items():
            if path == prefix or path.startswith(prefix + "/"):
                return root / directory / path[len(prefix) + 1 :]
        raise ScenarioError(f"cannot place {path}")

    def _build_network(self) -> None:
        net = self.network
        batch = [
            f"link add {net.bridge} type bridge",
            f"addr add {net.gateway}/16 dev {net.bridge}",
            f"addr add {net.v6_prefix}:1/64 dev {net.bridge} nodad",
            f"link set {net.bridge} up",
            f"netns add {net.fixture_netns}",
            f"link add {net.fixture_veth} type veth peer name eth0 netns {net.fixture_netns}",
            f"link set {net.fixture_veth} master {net.bridge} up",
        ]
        for host in self.hosts:
            batch += [
                f"netns add {host.netns}",
                f"link add {host.veth} type veth peer name eth0 netns {host.netns}",
                f"link set {host.veth} master {net.bridge} up",
            ]
        run(["ip", "-batch", "-"], stdin="\n".join(batch) + "\n")

        def configure(netns: str, addresses: list[str]) -> None:
            lines = [
                "link set lo up",
                *(f"addr add {a} dev eth0 nodad" if ":" in a else f"addr add {a} dev eth0" for a in addresses),
                "link set eth0 up",
            ]
            run(["ip", "-n", netns, "-batch", "-"], stdin="\n".join(lines) + "\n")

        jobs = [(net.fixture_netns, [f"{fixture.address}/16" for fixture in self.fixtures])]
        jobs += [(host.netns, [f"{host.address}/16", f"{host.address6}/64"]) for host in self.hosts]
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda job: configure(*job), jobs))

    def _start_fixtures(self) -> None:
        with (self.state_dir / "fixtures.log").open("a") as log:
            started = [(fixture, self._start_fixture(fixture, log)) for fixture in self.fixtures]
        self._wait_for_fixtures(started)

    def _start_fixture(self, fixture: FixtureState, log: Any) -> subprocess.Popen[str]:
        argv = [
            "ip",
            "netns",
            "exec",
            self.network.fixture_netns,
            sys.executable,
            "-m",
            "tests.lab.dns_fixture",
            *(fixture.argv or ["--personality", fixture.personality]),
            "--listen",
            fixture.address,
            "--data",
            str(self.zone_file),
        ]
        process = subprocess.Popen(
            argv,
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=log,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            text=True,
        )
        fixture.pid = process.pid
        return process

    def _wait_for_fixtures(self, started: list[tuple[FixtureState, subprocess.Popen[str]]]) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        for fixture, process in started:
            assert process.stdout is not None
            ready, _writable, _failed = select.select([process.stdout], [], [], max(0.0, deadline - time.monotonic()))
            line = process.stdout.readline() if ready else ""
            process.stdout.close()
            if not line.startswith("ready"):
                raise LabError(
                    f"DNS fixture {fixture.name or fixture.personality} on {fixture.address} did not start; "
                    f"see {self.state_dir / 'fixtures.log'}"
                )

    def _start_sshd(self, host: HostState) -> None:
        root = Path(host.root)
        script = ["set -e"]
        for target, directory in HOST_OVERLAYS.items():
            work = directory.replace(".upper", ".work")
            options = f"lowerdir={target},upperdir={root}/{directory},workdir={root}/{work}"
            script.append(f"mount -t overlay overlay -o {shlex.quote(options)} {target}")
        for target, directory in HOST_BINDS.items():
            script.append(f"mount --bind {shlex.quote(str(root / directory))} {target}")
        script.append(f"hostname {shlex.quote(host.fqdn)}")
        script.append(f"exec /usr/sbin/sshd -D -e -f {shlex.quote(str(root / 'sshd_config'))}")
        with (root / "sshd.log").open("a") as log:
            process = subprocess.Popen(
                [
                    "ip",
                    "netns",
                    "exec",
                    host.netns,
                    "unshare",
                    "--mount",
                    "--uts",
                    "--propagation",
                    "private",
                    "/bin/sh",
                    "-c",
                    "\n".join(script),
                ],
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        host.pid = process.pid

    def _wait_for_sshd(self) -> None:
        pending = {host.name: host for host in self.hosts}
        deadline = time.monotonic() + READY_TIMEOUT
        while pending and time.monotonic() < deadline:
            for name, host in list(pending.items()):
                try:
                    with socket.create_connection((host.address, 22), timeout=0.5) as connection:
                        if connection.recv(4).startswith(b"SSH-"):
                            del pending[name]
                except OSError:
                    pass
            if pending:
                time.sleep(0.05)
        if pending:
            logs = ", ".join(str(Path(host.root) / "sshd.log") for host in pending.values())
            raise LabError(f"sshd did not come up on {', '.join(sorted(pending))}; see {logs}")

    def _write_inventory(self) -> None:
        key = self.ssh_dir / "id_ed25519"
        known_hosts = self.ssh_dir / "known_hosts"
        known_hosts.write_text(
            "".join(
                f"{host.address} {(Path(host.root) / 'ssh_host_ed25519_key.pub').read_text().strip()}\n"
                for host in self.hosts
            )
        )
        ssh_args = (
            f"-o UserKnownHostsFile={known_hosts} -o StrictHostKeyChecking=yes "
            f"-o ConnectTimeout=10 -o ServerAliveInterval=15"
        )
        lines = [
            "# Written by 'make lab-up' (tests/lab): the lab fleet, reached over SSH like a real one.",
            "# It is rewritten on every lab-up; 'make lab-down' takes the fleet away.",
            "[mailservers]",
            *(f"{host.name} ansible_host={host.address} lab_scenario={host.scenario}" for host in self.hosts),
            "",
            "[all:vars]",
            "ansible_user=root",
            f"ansible_ssh_private_key_file={key}",
            f"ansible_ssh_common_args='{ssh_args}'",
            f"ansible_control_path_dir={self.control_dir}",
            "ansible_python_interpreter=/usr/bin/python3",
            f"lab_authority={self.fixture('authority')}",
            f"lab_authority_name={AUTHORITY_NAME}",
            "",
        ]
        self.inventory.write_text("\n".join(lines))
        # Beside the inventory, Ansible reads group_vars/: the lab's root is its own and unsigned, so the
        # local_resolver role recurses through the lab authority; the hosts' names live under .test (which Unbound
        # answers itself by default) and their PTRs in 10.in-addr.arpa.
        group_vars = self.inventory.parent / "group_vars"
        group_vars.mkdir(exist_ok=True)
        (group_vars / "all.yml").write_text(
            "# Written by tests/lab on every lab-up: what a remediation needs to know of the lab.\n"
            "local_resolver_dnssec: false\n"
            "local_resolver_unblock_lan_zones: true\n"
            "local_resolver_special_zones: [test]  # the lab's names live under .test\n"
            "local_resolver_root_hints:\n"
            f"  - {{name: {AUTHORITY_NAME}, address: {self.fixture('authority')}}}\n"
        )

    # -- use -------------------------------------------------------------------------------------
    def exec(self, name: str, command: str, *, check: bool = False) -> subprocess.CompletedProcess[str]:
        """Run a shell command inside a host's namespaces (net, mount, UTS), without SSH."""
        host = self.host(name)
        argv = ["nsenter", "--target", str(host.pid), "--net", "--mount", "--uts", "--", "/bin/sh", "-c", command]
        return run(argv, check=check)

    def fixture_exec(self, argv: list[str]) -> subprocess.CompletedProcess[str]:
        return run(["ip", "netns", "exec", self.network.fixture_netns, *argv], check=False)

    # -- teardown --------------------------------------------------------------------------------
    def leftovers(self) -> dict[str, list[str]]:
        """What of this lab's prefix exists on the machine: namespaces, links, processes."""
        prefix = self.network.prefix
        namespaces = [ns for ns in _netns_names() if ns.startswith(prefix + "-")]
        links = [link for link in _link_names() if link.startswith(prefix + "v") or link == self.network.bridge]
        processes = [pid for ns in namespaces for pid in _netns_pids(ns)]
        processes += _control_masters(self.control_dir)
        return {"namespaces": namespaces, "links": links, "processes": [str(pid) for pid in processes]}

    def down(self) -> None:
        """Stop everything of this lab's prefix, whatever state a previous run left it in."""
        require_root()
        namespaces = [ns for ns in _netns_names() if ns.startswith(self.network.prefix + "-")]
        victims = {pid for ns in namespaces for pid in _netns_pids(ns)}
        victims.update(_control_masters(self.control_dir))
        _terminate(victims)
        for ns in namespaces:
            run(["ip", "netns", "del", ns], check=False)
        for link in _link_names():
            if link.startswith(self.network.prefix + "v") or link == self.network.bridge:
                run(["ip", "link", "del", link], check=False)
        if self.state_file.exists():
            self.state_file.unlink()
        if self.inventory.exists():
            self.inventory.unlink()
        self.hosts, self.fixtures = [], []


def default_fleet(count: int) -> list[tuple[str, str]]:
    """`count` hosts named mx01.., cycling through the scenarios so that hosts differ."""
    scenarios = available_scenarios()
    return [(f"mx{index:02d}", scenarios[(index - 1) % len(scenarios)]) for index in range(1, count + 1)]


def fleet_from_file(path: Path) -> list[tuple[str, str | dict[str, Any]]]:
    import yaml

    spec = yaml.safe_load(Path(path).read_text()) or {}
    hosts = spec.get("hosts") if isinstance(spec, dict) else None
    if not isinstance(hosts, list):
        raise LabError(f"{path}: expected 'hosts:' with a list of {{name, scenario}}")
    return [(str(entry["name"]), entry["scenario"]) for entry in hosts]


def _netns_names() -> list[str]:
    result = run(["ip", "netns", "list"], check=False)
    return [line.split()[0] for line in result.stdout.splitlines() if line.strip()]


def _link_names() -> list[str]:
    result = run(["ip", "-o", "link", "show"], check=False)
    return [line.split(":")[1].strip().split("@")[0] for line in result.stdout.splitlines() if ":" in line]


def _netns_pids(netns: str) -> list[int]:
    result = run(["ip", "netns", "pids", netns], check=False)
    return [int(pid) for pid in result.stdout.split() if pid.isdigit()]


def _control_masters(control_dir: Path) -> list[int]:
    """SSH ControlPersist masters whose socket lives in this lab: they would wait for dead hosts."""
    result = run(["pgrep", "-f", f"{control_dir}/"], check=False)
    return [int(pid) for pid in result.stdout.split() if pid.isdigit() and int(pid) != os.getpid()]


def _terminate(pids: set[int], grace: float = 3.0) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            _reap(pids)
            if not any(_alive(pid) for pid in pids):
                return
            time.sleep(0.02)


def _reap(pids: set[int]) -> None:
    """Collect our own children among them, so that they do not linger as zombies."""
    for pid in pids:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
