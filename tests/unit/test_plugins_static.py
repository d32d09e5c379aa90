"""What ansible-test sanity would check, for the parts that matter here and without its downloads.

Modules and module_utils run on managed hosts with any Python that ansible-core 2.19 supports there
(3.8 and newer); each module documents exactly the options its argument_spec takes.
"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest
import yaml

PLUGINS = Path(__file__).resolve().parents[2] / "plugins"
TARGET_CODE = sorted(PLUGINS.glob("modules/*.py")) + sorted(PLUGINS.glob("module_utils/*.py"))
MODULES = sorted(path.stem for path in PLUGINS.glob("modules/*.py"))
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


class _Captured(Exception):
    pass


@pytest.mark.parametrize("name", MODULES)
def test_documented_options_match_argument_spec(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    module = importlib.import_module(f"ansible_collections.maildns.audit.plugins.modules.{name}")
    captured = {}

    def fake_module(**kwargs):  # type: ignore[no-untyped-def]
        captured.update(kwargs)
        raise _Captured

    monkeypatch.setattr(module, "AnsibleModule", fake_module)
    with pytest.raises(_Captured):
        module.main()
    documentation = yaml.safe_load(module.DOCUMENTATION)
    options = dict(documentation.get("options") or {})
    for fragment in documentation.get("extends_documentation_fragment", []):
        namespace, collection, name = fragment.split(".")
        fragment_module = importlib.import_module(
            f"ansible_collections.{namespace}.{collection}.plugins.doc_fragments.{name}"
        )
        options.update(yaml.safe_load(fragment_module.ModuleDocFragment.DOCUMENTATION).get("options") or {})
    spec = captured["argument_spec"]
    assert sorted(options) == sorted(spec)
    for option, doc in options.items():
        assert doc.get("description"), f"{name}: option {option} has no description"
        assert doc.get("type", "str") == spec[option].get("type", "str"), f"{name}: type of {option}"
        assert doc.get("default") == spec[option].get("default"), f"{name}: default of {option}"
    # Check mode declared honestly: the module supports it exactly when its documentation says so.
    support = (documentation.get("attributes") or {}).get("check_mode", {}).get("support", "full")
    assert captured.get("supports_check_mode") is (support != "none")
    assert yaml.safe_load(module.EXAMPLES) and yaml.safe_load(module.RETURN)
