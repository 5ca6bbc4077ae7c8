"""A layer playbook validates each role's argument spec once, in its preflight.

The role imports with ``rolespec_validate: false`` rely on the preflight having validated the same
options with the same values: so the entry point they import must take no option the preflight
entry point does not, each with the same spec, the import must pass no vars of its own, and the
playbook must run the role's preflight.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
LAYER_PLAYBOOKS = ("app", "data", "network")


def tasks_of(path: Path) -> list[dict[str, Any]]:
    plays = yaml.safe_load(path.read_text())
    if plays and "hosts" not in plays[0]:  # a tasks file
        return plays
    return [task for play in plays for task in play.get("tasks", [])]


def unvalidated_imports() -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    found = []
    for layer in LAYER_PLAYBOOKS:
        for task in tasks_of(REPO_ROOT / f"playbooks/{layer}.yml"):
            imported = task.get("ansible.builtin.import_role") or task.get(
                "ansible.builtin.include_role"
            )
            if imported and imported.get("rolespec_validate") is False:
                found.append((layer, task, imported))
    return found


def preflight_roles(layer: str) -> set[str]:
    return {
        task["ansible.builtin.import_role"]["name"]
        for task in tasks_of(REPO_ROOT / f"playbooks/preflight/{layer}.yml")
        if task.get("ansible.builtin.import_role", {}).get("tasks_from") == "preflight"
    }


def test_some_imports_skip_the_second_validation() -> None:
    assert len(unvalidated_imports()) >= 10


@pytest.mark.parametrize(
    ("layer", "task", "imported"),
    unvalidated_imports(),
    ids=lambda value: value.get("name", "") if isinstance(value, dict) else value,
)
def test_the_preflight_validated_the_same_options_and_values(
    layer: str, task: dict[str, Any], imported: dict[str, Any]
) -> None:
    role = imported["name"].removeprefix("django_ecs.aws.")
    assert imported["name"] in preflight_roles(layer), f"{layer}.yml's preflight skips {role}"
    assert "vars" not in task, f"{task['name']}: vars of its own are not what preflight validated"
    specs = yaml.safe_load((REPO_ROOT / f"roles/{role}/meta/argument_specs.yml").read_text())
    entry = specs["argument_specs"][imported.get("tasks_from", "main")].get("options", {})
    preflight = specs["argument_specs"]["preflight"].get("options", {})
    for option, spec in entry.items():
        assert preflight.get(option) == spec, f"{role}: {option} is not validated as in preflight"
