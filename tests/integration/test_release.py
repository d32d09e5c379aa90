"""The release tarball audits the lab from an empty collections path, and ansible-runner runs the audit as
AWX's execution nodes do (issue 13).

Nothing here reads the checkout's collection: the tarball that `ansible-galaxy collection build` makes is
installed into a temporary collections path, the playbooks run by their names (`maildns.audit.audit`)
from a folder outside the checkout, with an ansible.cfg that knows only that path. Three playbook runs
on the shared test fleet, none of which changes a host: the audit, the remediation preview planned
from its report, and the audit under ansible-runner.
"""

from __future__ import annotations

import configparser
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO_ROOT, TEST_FLEET
from tests.integration.helpers import host_tree_digest

pytestmark = pytest.mark.lab

BIN = Path(sys.executable).parent
FLEET = {name for name, _scenario in TEST_FLEET}
# The runner job's limit, as a job template's "Limit" field reaches ansible-runner (env/cmdline): a
# few hosts of different kinds keep the test short; the tarball's own audit covers the whole fleet.
RUNNER_LIMIT = {"mx01", "mx02", "mx11", "mx18", "mx22"}
VERSION = yaml.safe_load((REPO_ROOT / "galaxy.yml").read_text())["version"]
TARBALL = f"maildns-audit-{VERSION}.tar.gz"


def user_env(**extra: str) -> dict[str, str]:
    """A user's environment outside the checkout: this virtualenv's tools, no ANSIBLE_* (conftest points
    ANSIBLE_CONFIG at the checkout's ansible.cfg) and no PYTHONPATH, then `extra`."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("ANSIBLE_") and key != "PYTHONPATH"}
    env["PATH"] = f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    env.update(extra)
    return env


def run(argv: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)


def config_without_checkout(collections: Path) -> str:
    """The checkout's ansible.cfg (SSH pipelining, keepalives, forks) with collections_path the given one."""
    config = configparser.ConfigParser(interpolation=None)
    config.read(REPO_ROOT / "ansible.cfg")
    config.remove_option("defaults", "roles_path")
    config.set("defaults", "collections_path", str(collections))
    lines = []
    for section in config.sections():
        lines += [f"[{section}]", *(f"{key} = {value}" for key, value in config.items(section)), ""]
    return "\n".join(lines)


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The tarball, built from the checkout, installed into an empty collections path."""
    root = tmp_path_factory.mktemp("release")
    env = user_env()
    built = run(
        [str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(root), str(REPO_ROOT)], root, env
    )
    assert built.returncode == 0, built.stdout + built.stderr
    collections = root / "collections"
    installed = run(
        [str(BIN / "ansible-galaxy"), "collection", "install", str(root / TARBALL), "-p", str(collections)], root, env
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    work = root / "work"  # the working directory: outside the checkout, no collections/ beside a playbook
    work.mkdir()
    (work / "ansible.cfg").write_text(config_without_checkout(collections))
    return {"root": root, "tarball": root / TARBALL, "collections": collections, "work": work}


def installed_env(release: dict[str, Path], **extra: str) -> dict[str, str]:
    return user_env(
        ANSIBLE_CONFIG=str(release["work"] / "ansible.cfg"),
        ANSIBLE_COLLECTIONS_PATH=str(release["collections"]),
        **extra,
    )


@pytest.fixture(scope="module")
def audited(lab, release):  # type: ignore[no-untyped-def]
    """`ansible-playbook maildns.audit.audit` from the installed copy; the junit callback records each task's file."""
    reports, junit = release["root"] / "reports", release["root"] / "junit"
    env = installed_env(release, ANSIBLE_CALLBACKS_ENABLED="ansible.builtin.junit", JUNIT_OUTPUT_DIR=str(junit))
    result = run(
        [
            str(BIN / "ansible-playbook"),
            "-i",
            str(lab.inventory),
            "maildns.audit.audit",
            "-e",
            f"maildns_report_dir={reports}",
            "-e",
            "audit_timeout=3",
        ],
        release["work"],
        env,
    )
    return {"result": result, "reports": reports, "junit": junit}


def test_the_installed_tarball_audits_every_host_of_the_lab(audited) -> None:  # type: ignore[no-untyped-def]
    result = audited["result"]
    output = result.stdout + result.stderr
    # The gate fails on this fleet of broken hosts by design (rc 2): the report is what the audit gives.
    assert result.returncode in (0, 2), output[-3000:]
    report = json.loads((audited["reports"] / "report.json").read_text())
    assert {entry["host"] for entry in report["hosts"]} == FLEET
    assert report["collection_version"] == VERSION
    assert report["summary"]["not_audited"] == 0, output[-3000:]
    assert "could not be resolved" not in output and "couldn't resolve module" not in output.lower()


def test_ansible_resolved_the_collection_from_the_installed_copy_only(release, audited) -> None:  # type: ignore[no-untyped-def]
    listed = run(
        [str(BIN / "ansible-galaxy"), "collection", "list", "maildns.audit", "--format", "json"],
        release["work"],
        installed_env(release),
    )
    assert listed.returncode == 0, listed.stdout + listed.stderr
    found = {path: names for path, names in json.loads(listed.stdout).items() if "maildns.audit" in names}
    assert list(found) == [str(release["collections"] / "ansible_collections")]
    assert found[str(release["collections"] / "ansible_collections")]["maildns.audit"]["version"] == VERSION
    # Every task the audit ran came from a file of the installed copy (the junit callback's classname is the
    # task's path), none from the checkout.
    installed = str(release["collections"] / "ansible_collections" / "maildns" / "audit")
    paths = {
        case.get("classname", "") for xml in audited["junit"].glob("*.xml") for case in ET.parse(xml).iter("testcase")
    }
    assert paths, "the junit callback recorded no task"
    role_tasks = {path for path in paths if "/roles/audit/" in path}
    assert role_tasks and all(path.startswith(installed + "/roles/audit/tasks/") for path in role_tasks), role_tasks
    assert not [path for path in paths if path.startswith(str(REPO_ROOT) + "/")]
    assert any(path.startswith(installed + "/playbooks/audit.yml:") for path in paths)


# The preview on the hosts that exercise both roles and neither, to keep the run short: mx01 healthy, mx02
# both roles, mx06 an Unbound forwarding to a public resolver, mx09 SpamAssassin's public dns_server, mx12
# a retired list (localhost writes the plan).
PREVIEW_HOSTS = ("mx01", "mx02", "mx06", "mx09", "mx12")


def test_the_installed_remediation_preview_changes_nothing_on_the_lab(lab, release, audited) -> None:  # type: ignore[no-untyped-def]
    reports = audited["reports"]
    before = host_tree_digest(lab.state_dir)
    result = run(
        [
            str(BIN / "ansible-playbook"),
            "-i",
            str(lab.inventory),
            "maildns.audit.remediate",
            "--check",
            "--diff",
            "--limit",
            ",".join((*PREVIEW_HOSTS, "localhost")),
            "-e",
            json.dumps({"maildns_report_dir": str(reports), "maildns_audit_report": str(reports / "report.json")}),
        ],
        release["work"],
        installed_env(release),
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert host_tree_digest(lab.state_dir) == before, "the preview from the installed copy changed a host's file"
    plan = json.loads((reports / "plan.json").read_text())
    assert plan["check_mode"] is True
    hosts = {entry["host"]: entry for entry in plan["hosts"]}
    assert set(hosts) == FLEET
    assert hosts["mx02"]["plan"]["roles"] == ["maildns.audit.local_resolver", "maildns.audit.dnsbl_policy"]
    assert "maildns.audit.local_resolver" in hosts["mx06"]["plan"]["roles"]
    assert "maildns.audit.dnsbl_policy" in hosts["mx12"]["plan"]["roles"]
    changed = {f["path"] for name in PREVIEW_HOSTS for role in hosts[name]["roles"].values() for f in role["files"]}
    assert {"/etc/resolv.conf", "/etc/postfix/main.cf"} <= changed, "the preview planned no change to preview"
    assert hosts["mx01"]["untouched"]


# -- ansible-runner, as AWX runs a job ------------------------------------------------------------------


def private_data_dir(lab, release: dict[str, Path], reports: Path) -> Path:  # type: ignore[no-untyped-def]
    """The folder AWX hands ansible-runner for a job (/runner in the execution environment):

    project/            the project checkout: its ansible.cfg and the job template's playbook, which imports
                        the collection's; collections/requirements.yml names the collection
    requirements_collections/  what AWX's project update installs from that file (here: the tarball)
    inventory/hosts     the job's inventory (with its group_vars), env/extravars and env/envvars the job's
                        variables and the environment AWX sets (ANSIBLE_COLLECTIONS_PATH first of all)
    """
    pdd = release["root"] / "runner"
    project = pdd / "project"
    (project / "collections").mkdir(parents=True)
    (project / "ansible.cfg").write_text(config_without_checkout(pdd / "requirements_collections"))
    (project / "audit.yml").write_text(
        "---\n# The job template's playbook: AWX offers a project's playbook files; this one is the collection's.\n"
        "- name: Audit the mail servers\n  ansible.builtin.import_playbook: maildns.audit.audit\n"
    )
    requirements = {"collections": [{"name": str(release["tarball"]), "type": "file"}]}
    (project / "collections" / "requirements.yml").write_text(yaml.safe_dump(requirements))
    installed = run(
        [
            str(BIN / "ansible-galaxy"),
            "collection",
            "install",
            "-r",
            str(project / "collections" / "requirements.yml"),
            "-p",
            str(pdd / "requirements_collections"),
        ],
        project,
        user_env(),
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    inventory = pdd / "inventory"
    inventory.mkdir()
    (inventory / "hosts").write_text(lab.inventory.read_text())
    (inventory / "group_vars").mkdir()
    for path in (lab.inventory.parent / "group_vars").glob("*.yml"):
        (inventory / "group_vars" / path.name).write_text(path.read_text())
    env = pdd / "env"
    env.mkdir()
    (env / "extravars").write_text(yaml.safe_dump({"maildns_report_dir": str(reports), "audit_timeout": 3}))
    collections_path = f"{pdd}/requirements_collections:~/.ansible/collections:/usr/share/ansible/collections"
    (env / "envvars").write_text(yaml.safe_dump({"ANSIBLE_COLLECTIONS_PATH": collections_path}))
    (env / "cmdline").write_text(f"--limit {','.join(sorted(RUNNER_LIMIT))},localhost")
    return pdd


def test_ansible_runner_runs_the_audit_with_its_artifacts_where_awx_reads_them(lab, release) -> None:  # type: ignore[no-untyped-def]
    reports = release["root"] / "runner-reports"  # a path the job's container mounts, on AWX
    pdd = private_data_dir(lab, release, reports)
    ident = "maildns-audit-1"
    result = run(
        [str(BIN / "ansible-runner"), "run", str(pdd), "-p", "audit.yml", "--ident", ident],
        release["root"],
        user_env(),
    )
    artifacts = pdd / "artifacts" / ident
    stdout = (artifacts / "stdout").read_text() if (artifacts / "stdout").exists() else result.stdout
    # ansible-playbook's exit code, as AWX shows it: 2 when the gate fails (it does on this fleet).
    assert (artifacts / "rc").read_text().strip() in ("0", "2"), stdout[-3000:] + result.stderr[-2000:]
    assert (artifacts / "status").read_text().strip() in ("successful", "failed")
    assert "PLAY RECAP" in stdout
    # The job events AWX stores, one JSON file each.
    events = [json.loads(path.read_text()) for path in sorted((artifacts / "job_events").glob("*.json"))]
    kinds = [event["event"] for event in events]
    assert kinds[0] == "playbook_on_start" and "playbook_on_stats" in kinds
    stats = next(event for event in events if event["event"] == "playbook_on_stats")["event_data"]
    assert set(stats["ok"]) >= RUNNER_LIMIT and not stats.get("dark")
    installed = f"{pdd}/requirements_collections/ansible_collections/maildns/audit/roles/audit/"
    audit_ok: dict[str, set[str]] = {}
    for event in events:
        data = event.get("event_data", {})
        if event["event"] == "runner_on_ok" and data.get("task_path", "").startswith(installed):
            audit_ok.setdefault(data["host"], set()).add(data["task"])
    assert set(audit_ok) == RUNNER_LIMIT, sorted(RUNNER_LIMIT ^ set(audit_ok))
    # The fleet report where the job's extra variables said: the hosts the limit left out are in it,
    # not audited (the report is of the group, as AWX's own run of a limited job would show).
    report = json.loads((reports / "report.json").read_text())
    audited = {entry["host"] for entry in report["hosts"] if entry["audited"]}
    assert audited == RUNNER_LIMIT and {entry["host"] for entry in report["hosts"]} == FLEET
