"""Version facts a release states: each plugin's version_added is the collection's version, and
meta/runtime.yml's requires_ansible admits the ansible-core the project pins and tests."""

from __future__ import annotations

import ast
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from tests.release.conftest import REPO_ROOT

PLUGINS = REPO_ROOT / "plugins"
# Code shared by plugins, and action plugins (their documentation is the module of their name).
UNDOCUMENTED_TYPES = {"module_utils", "plugin_utils", "action"}
COLLECTION_VERSION = yaml.safe_load((REPO_ROOT / "galaxy.yml").read_text())["version"]


def documentation(path: Path) -> dict[str, Any] | None:
    """The DOCUMENTATION of a plugin file: a string constant in Python, a key in a sidecar."""
    if path.suffix in (".yml", ".yaml"):
        return yaml.safe_load(path.read_text()).get("DOCUMENTATION")
    for node in ast.parse(path.read_text()).body:
        if (
            isinstance(node, ast.Assign)
            and [getattr(target, "id", None) for target in node.targets] == ["DOCUMENTATION"]
            and isinstance(node.value, ast.Constant)
        ):
            return yaml.safe_load(node.value.value)
    return None


DOCUMENTED = sorted(
    path
    for path in PLUGINS.glob("*/*")
    if path.parent.name not in UNDOCUMENTED_TYPES
    and path.suffix in (".py", ".yml", ".yaml")
    and path.name != "__init__.py"
)


def test_there_are_plugins_of_each_kind() -> None:
    assert {path.parent.name for path in DOCUMENTED} >= {"modules", "filter", "lookup", "test"}


@pytest.mark.parametrize("path", DOCUMENTED, ids=lambda p: str(p.relative_to(PLUGINS)))
def test_version_added_is_the_collection_version(path: Path) -> None:
    doc = documentation(path)
    if doc is None:
        # A filter or test file may hold several plugins, each documented by its own sidecar.
        assert path.parent.name in ("filter", "test") and path.suffix == ".py", f"{path}: no docs"
        return
    assert str(doc.get("version_added")) == COLLECTION_VERSION, path


def test_every_action_plugin_is_documented_by_its_module() -> None:
    for action in (PLUGINS / "action").glob("*.py"):
        doc = documentation(PLUGINS / "modules" / action.name)
        assert doc is not None and doc["module"] == action.stem, action


def test_requires_ansible_admits_the_pinned_and_installed_ansible_core() -> None:
    runtime = yaml.safe_load((REPO_ROOT / "meta" / "runtime.yml").read_text())
    supported = SpecifierSet(runtime["requires_ansible"])
    pins = dict(
        line.split("==", 1)
        for line in (REPO_ROOT / "requirements.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    )
    pinned = Version(pins["ansible-core"])
    assert pinned in supported
    assert Version(version("ansible-core")) in supported
    # It claims nothing older than the minor release everything is tested with.
    floors = [Version(s.version) for s in supported if s.operator in (">=", ">")]
    assert floors and min(floors).release[:2] == pinned.release[:2], supported
