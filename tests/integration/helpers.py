"""Helpers the integration tests share: running Ansible against a lab as a user would."""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

from tests.conftest import REPO_ROOT


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
