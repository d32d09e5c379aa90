"""What `make sanity` (ansible-test sanity) cannot check on this machine: older target Pythons.

Modules and module_utils run on managed hosts with any Python that ansible-core 2.19 supports there
(3.8 and newer), but ansible-test's compile and import tests can only use the Pythons installed here
(3.11). Documentation against argument_spec and check-mode honesty are validate-modules' job.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PLUGINS = Path(__file__).resolve().parents[2] / "plugins"
TARGET_CODE = sorted(PLUGINS.glob("modules/*.py")) + sorted(PLUGINS.glob("module_utils/*.py"))
# Newer than Python 3.8, and easy to reach for by habit.
TOO_NEW = re.compile(r"\.removeprefix\(|\.removesuffix\(|functools\.cache\b|\bzip\([^)]*strict=|\bmatch \w+:$")


@pytest.mark.parametrize("path", TARGET_CODE, ids=lambda path: path.name)
def test_target_code_is_python38_syntax(path: Path) -> None:
    source = path.read_text()
    ast.parse(source, feature_version=(3, 8))
    assert "from __future__ import annotations" in source, "annotations must stay unevaluated on 3.8"
    for number, line in enumerate(source.splitlines(), 1):
        assert not TOO_NEW.search(line), f"{path.name}:{number} uses something newer than Python 3.8: {line.strip()}"


def test_module_utils_import_no_ansible_except_through_modules() -> None:
    for path in PLUGINS.glob("module_utils/*.py"):
        assert "from ansible.module_utils" not in path.read_text(), f"{path.name}: logic stays Ansible-free"
