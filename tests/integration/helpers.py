"""Helpers the integration tests share: running Ansible against a lab as a user would."""

from __future__ import annotations

import contextlib
import json
import os
import smtplib
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import yaml

from tests.conftest import REPO_ROOT, TEST_LAB_NET, TEST_LAB_PREFIX
from tests.lab.scenario import SCENARIO_DIR


def ansible_adhoc(
    inventory: Path, module: str, args: str = "", pattern: str = "all", extra: tuple[str, ...] = ()
) -> dict[str, dict]:
    """Run `ansible PATTERN -m MODULE -a ARGS`; the result of each host, read from the tree callback."""
    with tempfile.TemporaryDirectory() as tree:
        result = subprocess.run(
            ["ansible", "-i", str(inventory), pattern, "-m", module, "-a", args, "-t", tree, *extra],
            capture_output=True,
            text=True,
            cwd=REPO_ROOT,
            check=False,
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        return {path.name: json.loads(path.read_text()) for path in Path(tree).iterdir()}


def host_tree_digest(state_dir: Path) -> str:
    """A digest of every lab host's own files (logs, overlay work folders and /root left out)."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(Path(state_dir, "hosts").rglob("*")):
        text = str(path)
        if path.is_file() and "/log/" not in text and ".work" not in text and "root.upper" not in text:
            digest.update(text.encode() + path.read_bytes())
    return digest.hexdigest()


def side_lab(variable: str, letter: str, offset: int) -> tuple[str, str]:
    """(prefix, net) of a test file's own lab: `variable`=prefix,net, else beside the test lab.

    Beside it: the test lab's prefix with `letter`, its net + `offset`, so that two test runs with
    different MAILDNS_TEST_LAB do not meet.
    """
    prefix, net = (os.environ.get(variable, "") + ",").split(",")[:2]
    return prefix or TEST_LAB_PREFIX[:5] + letter, net or f"10.{int(TEST_LAB_NET.split('.')[1]) + offset}"


def scenario(name: str, **extra: object) -> dict:
    """A scenario file as a dict, with `extra` keys merged over it (mappings key by key)."""
    spec = yaml.safe_load((SCENARIO_DIR / f"{name}.yml").read_text())
    for key, value in extra.items():
        spec[key] = dict(spec.get(key) or {}, **value) if isinstance(value, dict) else value
    return spec


# What a running Postfix writes by itself (its pid and lock files, sockets, the PRNG seed, queue
# files of an SMTP session): not the role's to keep.
POSTFIX_RUNTIME = ("prng_exch", "master.lock", ".pid")


def host_files(lab, name: str, skip: tuple[str, ...] = ()) -> dict[str, tuple[str, int, int, int]]:  # type: ignore[no-untyped-def]
    """(sha256, mode, uid, gid) of every file of one host's own (/etc, /var/spool, /var/lib, /root), by path.

    `skip`: path parts left out besides logs, /run and what a running Postfix writes by itself.
    """
    import hashlib

    found = {}
    root = Path(lab.state_dir, "hosts", name)
    for path in sorted(root.rglob("*")):
        text = str(path.relative_to(root))
        if not path.is_file() or text.startswith(("log/", "run/")) or ".work/" in text:
            continue
        if path.name.endswith(POSTFIX_RUNTIME) or "/postfix/pid/" in text or any(part in text for part in skip):
            continue
        info = path.stat()
        found[text] = (hashlib.sha256(path.read_bytes()).hexdigest(), info.st_mode, info.st_uid, info.st_gid)
    return found


def smtp_rcpt(lab, name: str, source: str) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    with smtplib.SMTP(lab.host(name).address, 25, timeout=30, source_address=(source, 0)) as smtp:
        smtp.ehlo("sender.example")
        smtp.mail("someone@example.org")
        code, message = smtp.rcpt(f"root@{name}.lab.test")
        return code, message.decode()


@contextlib.contextmanager
def postfix_running(lab, names: str | list[str]) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """Postfix started in each host for the block, stopped after it."""
    names = [names] if isinstance(names, str) else names
    for name in names:
        started = lab.exec(name, "postfix start 2>&1")
        assert started.returncode == 0, started.stdout + started.stderr
    try:
        yield
    finally:
        for name in names:
            lab.exec(name, "postfix stop")


@contextlib.contextmanager
def own_lab(prefix: str, net: str, fleet: list, addresses: tuple[str, ...] = ()) -> Iterator[object]:
    """A lab of a test file's own (its hosts change), with extra bridge addresses (SMTP clients), taken down after."""
    from tests.conftest import require_lab_privileges
    from tests.lab.fleet import Lab, LabNetwork

    require_lab_privileges()
    lab = Lab(REPO_ROOT / f".lab-test-{prefix}", LabNetwork(prefix, net))
    try:
        lab.up(fleet)
        for address in addresses:
            subprocess.run(["ip", "addr", "add", f"{address}/16", "dev", lab.network.bridge], check=True)
        yield lab
    finally:
        lab.down()
