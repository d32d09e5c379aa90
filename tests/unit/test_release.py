"""The release (issue 13): the changelog antsibull-changelog keeps, the tarball `ansible-galaxy collection
build` makes, and the execution environment `ansible-builder create` writes the build context of.

No lab and no network: the tarball is built into a temporary folder, the changelog generated in a copy,
and the execution environment's build context created and its galaxy and introspection steps (what the
image build runs inside the container) replayed here on the context's own files.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO_ROOT

BIN = Path(sys.executable).parent
GALAXY = yaml.safe_load((REPO_ROOT / "galaxy.yml").read_text())
VERSION = GALAXY["version"]
TARBALL_NAME = f"{GALAXY['namespace']}-{GALAXY['name']}-{VERSION}.tar.gz"


def clean_env() -> dict[str, str]:
    """The environment of a user outside the checkout: this virtualenv's tools, no ANSIBLE_CONFIG (conftest points
    it at the checkout's ansible.cfg, whose collections_path already holds the collection) and no PYTHONPATH."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("ANSIBLE_") and key != "PYTHONPATH"}
    env["PATH"] = f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    return env


def run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(argv, cwd=cwd, env=clean_env(), capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"{argv}: {result.stdout[-3000:]}{result.stderr[-3000:]}"
    return result


def offline(argv: list[str]) -> list[str]:
    """`argv` in a network namespace of its own (no interface but a down loopback) when root can make one."""
    if os.geteuid() == 0 and shutil.which("unshare"):
        return ["unshare", "--net", *argv]
    return argv


@pytest.fixture(scope="module")
def tarball(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    run([str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(out), str(REPO_ROOT)], REPO_ROOT)
    return out / TARBALL_NAME


# -- the changelog ------------------------------------------------------------------------------------


def test_changelog_fragments_and_changelog_yaml_pass_antsibull_lint() -> None:
    run([str(BIN / "antsibull-changelog"), "lint"], REPO_ROOT)
    run([str(BIN / "antsibull-changelog"), "lint-changelog-yaml", "changelogs/changelog.yaml"], REPO_ROOT)
    assert (REPO_ROOT / "changelogs" / "fragments" / ".keep").exists()


def test_changelog_md_is_what_antsibull_changelog_generates(tmp_path: Path) -> None:
    copy = tmp_path / "collection"
    for name in ("galaxy.yml", "changelogs", "meta", "plugins", "roles", "playbooks"):
        source = REPO_ROOT / name
        if source.is_dir():
            shutil.copytree(source, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            copy.mkdir(exist_ok=True)
            shutil.copy(source, copy / name)
    run([str(BIN / "antsibull-changelog"), "generate"], copy)
    generated = (copy / "CHANGELOG.md").read_text()
    assert (REPO_ROOT / "CHANGELOG.md").read_text() == generated, (
        "CHANGELOG.md is not what antsibull-changelog generates: never edit it by hand, add a fragment to "
        "changelogs/fragments/ (README, 'Release and execution environment')"
    )


def test_the_changelog_releases_the_version_of_galaxy_yml_with_its_modules_roles_and_playbooks() -> None:
    changes = yaml.safe_load((REPO_ROOT / "changelogs" / "changelog.yaml").read_text())
    release = changes["releases"][VERSION]
    assert release["changes"]["release_summary"] and release["changes"]["major_changes"]
    modules = {entry["name"] for entry in release["modules"]}
    assert modules == {path.stem for path in (REPO_ROOT / "plugins" / "modules").glob("*.py")}, (
        "a module is missing from the changelog: with its version_added the version of galaxy.yml, run "
        "'antsibull-changelog release --reload-plugins' (it adds it to that release and writes CHANGELOG.md)"
    )
    assert {entry["name"] for entry in release["objects"]["role"]} == {
        path.name for path in (REPO_ROOT / "roles").iterdir() if path.is_dir()
    }
    assert {entry["name"] for entry in release["objects"]["playbook"]} == {
        path.stem for path in (REPO_ROOT / "playbooks").glob("*.yml")
    }
    markdown = (REPO_ROOT / "CHANGELOG.md").read_text()
    assert markdown.startswith("# maildns\\.audit Release Notes") and f"## v{VERSION}".replace(".", "\\.") in markdown


# -- the tarball --------------------------------------------------------------------------------------


def test_the_tarball_holds_the_collection_and_nothing_of_the_checkout(tarball: Path) -> None:
    with tarfile.open(tarball) as archive:
        names = set(archive.getnames())
        manifest = json.load(archive.extractfile("MANIFEST.json"))  # type: ignore[arg-type]
    info = manifest["collection_info"]
    assert (info["namespace"], info["name"], info["version"]) == ("maildns", "audit", VERSION)
    expected = {
        "meta/runtime.yml",
        "meta/execution-environment.yml",
        "requirements.txt",
        "bindep.txt",
        "playbooks/audit.yml",
        "playbooks/remediate.yml",
        "README.md",
        "CHANGELOG.md",
        "changelogs/changelog.yaml",
        "docs/FINDINGS.md",
        "docs/REMEDIATION.md",
        "inventory.example",
        "FILES.json",
    }
    expected |= {f"plugins/modules/{path.name}" for path in (REPO_ROOT / "plugins" / "modules").glob("*.py")}
    expected |= {f"roles/{role}/tasks/main.yml" for role in ("audit", "local_resolver", "dnsbl_policy")}
    expected |= {f"roles/{role}/meta/argument_specs.yml" for role in ("audit", "local_resolver", "dnsbl_policy")}
    assert expected <= names, sorted(expected - names)
    assert any(name.startswith("plugins/module_utils/_remediate/") for name in names)
    tops = {name.split("/")[0] for name in names}
    checkout = {".venv", ".collections", ".git", ".gitignore", ".ansible-lint", ".ci", "ansible.cfg", "Makefile"}
    checkout |= {
        "pyproject.toml",
        "tests",
        "bench",
        "scripts",
        "reports",
        "build",
        "context",
        "execution-environment.yml",
    }
    assert not tops & checkout, "something of the checkout is in the release (galaxy.yml build_ignore)"
    assert not [top for top in tops if top.startswith((".lab", "reports", "."))]
    leaked = [
        name
        for name in names
        if "__pycache__" in name
        or name.endswith((".pyc", ".log", ".tar.gz"))
        or name.startswith(("changelogs/fragments", "changelogs/.plugin-cache"))
    ]
    assert not leaked


def test_galaxy_build_ignore_names_the_working_state_of_a_checkout() -> None:
    """The tarball test above sees only what this checkout holds now; these are kept out wherever they appear."""
    ignored = set(GALAXY["build_ignore"])
    assert {".venv", ".collections", ".lab", ".lab-*", "reports", "reports-*", "*.log", ".git", "context"} <= ignored
    assert {".pytest_cache", ".ruff_cache", ".hypothesis", "build", "*.tar.gz", "tests", "bench"} <= ignored


def test_the_versions_agree() -> None:
    from ansible_collections.maildns.audit.plugins.module_utils.collection_version import COLLECTION_VERSION

    ee = yaml.safe_load((REPO_ROOT / "execution-environment.yml").read_text())
    assert COLLECTION_VERSION == VERSION
    assert [entry["src"] for entry in ee["additional_build_files"]] == [f"build/{TARBALL_NAME}"]
    assert ee["dependencies"]["galaxy"]["collections"] == [{"name": f"collections/{TARBALL_NAME}", "type": "file"}]
    assert f"maildns-audit-ee:{VERSION}" in ee["options"]["tags"]


# -- the execution environment -------------------------------------------------------------------------


def test_ansible_builder_create_writes_a_build_context_with_the_collection_and_its_requirements(
    tarball: Path, tmp_path: Path
) -> None:
    # The execution environment's files where it expects them: the tarball in build/ beside it.
    project = tmp_path / "project"
    (project / "build").mkdir(parents=True)
    shutil.copy(REPO_ROOT / "execution-environment.yml", project)
    shutil.copy(tarball, project / "build")
    context = tmp_path / "context"
    run(
        offline(
            [
                str(BIN / "ansible-builder"),
                "create",
                "--file",
                "execution-environment.yml",
                "--context",
                str(context),
                "--output-filename",
                "Containerfile",
            ]
        ),
        project,
    )

    containerfile = (context / "Containerfile").read_text()
    assert 'ARG EE_BASE_IMAGE="quay.io/centos/centos:stream9"' in containerfile
    assert 'ARG PYCMD="/usr/bin/python3.11"' in containerfile
    assert 'ARG ANSIBLE_INSTALL_REFS="ansible-core>=2.19,<2.20 ansible-runner>=2.4,<3"' in containerfile
    assert "ansible-galaxy collection install $ANSIBLE_GALAXY_CLI_COLLECTION_OPTS -r requirements.yml" in containerfile
    assert "introspect.py introspect --write-bindep=/tmp/src/bindep.txt --write-pip=/tmp/src/requirements.txt" in (
        containerfile
    )
    assert "RUN /output/scripts/install-from-bindep" in containerfile
    build = context / "_build"
    assert (build / "collections" / TARBALL_NAME).read_bytes() == tarball.read_bytes()
    requirements = yaml.safe_load((build / "requirements.yml").read_text())
    assert requirements == {"collections": [{"name": f"collections/{TARBALL_NAME}", "type": "file"}]}

    # The image build's galaxy stage (WORKDIR /build: ansible-galaxy collection install -r requirements.yml),
    # then its builder stage's introspection, on the context's own scripts: the collection's Python and
    # system requirements reach the image through meta/execution-environment.yml.
    collections = tmp_path / "ee-collections"
    run(
        offline(
            [str(BIN / "ansible-galaxy"), "collection", "install", "-r", "requirements.yml", "-p", str(collections)]
        ),
        build,
    )
    manifest = json.loads((collections / "ansible_collections/maildns/audit/MANIFEST.json").read_text())
    assert manifest["collection_info"]["version"] == VERSION
    pip, bindep = tmp_path / "pip.txt", tmp_path / "bindep.txt"
    run(
        [
            sys.executable,
            str(build / "scripts" / "introspect.py"),
            "introspect",
            str(collections),
            f"--write-pip={pip}",
            f"--write-bindep={bindep}",
        ],
        tmp_path,
    )
    python_reqs = [line.split("#")[0].strip() for line in pip.read_text().splitlines()]
    system_reqs = [line.split("#")[0].strip() for line in bindep.read_text().splitlines()]
    assert {"dnspython>=2.6,<3", "prometheus-client>=0.20,<1"} <= set(python_reqs)
    assert {"openssh-clients [platform:rpm]", "openssh-client [platform:dpkg]"} <= set(system_reqs)
    assert all(line.endswith("# from collection maildns.audit") for line in pip.read_text().splitlines() if line)


def test_the_collection_requirements_cover_what_the_controller_imports() -> None:
    """requirements.txt is what pyproject.toml gives the controller beyond ansible-core's own dependencies."""
    import tomllib

    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    wanted = {line.split(">")[0].split("<")[0].strip() for line in project} - {"ansible-core", "jinja2", "pyyaml"}
    lines = [line for line in (REPO_ROOT / "requirements.txt").read_text().splitlines() if line and line[0] != "#"]
    assert {line.split(">")[0].strip() for line in lines} == wanted
    meta = yaml.safe_load((REPO_ROOT / "meta" / "execution-environment.yml").read_text())
    assert meta == {"version": 1, "dependencies": {"python": "requirements.txt", "system": "bindep.txt"}}
