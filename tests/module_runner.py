"""Run one of the collection's modules as Ansible does: JSON arguments on stdin, JSON result out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

# collections/ansible_collections/django_ecs/aws is a symlink to the repo root.
COLLECTION_ROOT = Path(__file__).resolve().parent.parent / "collections"


def run_collection_module(
    name: str,
    args: dict[str, Any],
    *,
    check_mode: bool = False,
    diff: bool = False,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The module's JSON result; fails the test when it prints anything else."""
    module_args = dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff)
    completed = subprocess.run(
        [sys.executable, "-m", f"ansible_collections.django_ecs.aws.plugins.modules.{name}"],
        input=json.dumps({"ANSIBLE_MODULE_ARGS": module_args}),
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(COLLECTION_ROOT), **(env or {})},
        timeout=120,
        check=False,
    )
    try:
        return json.loads(completed.stdout)
    except ValueError:
        pytest.fail(f"module {name} printed no JSON:\n{completed.stdout}\n{completed.stderr}")
