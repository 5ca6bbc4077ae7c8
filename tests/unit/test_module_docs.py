"""Every module and filter of the collection has documentation ansible-doc can read."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
MODULES = sorted(f"django_ecs.aws.{p.stem}" for p in (REPO_ROOT / "plugins/modules").glob("*.py"))


def ansible_doc(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "ansible-doc"), *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env={**os.environ, "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg")},
    )


def test_every_module_documentation_parses() -> None:
    completed = ansible_doc("--json", *MODULES)
    assert completed.returncode == 0, completed.stderr
    assert "ERROR" not in completed.stderr, completed.stderr
    docs = json.loads(completed.stdout)
    for module in MODULES:
        assert docs[module]["doc"]["short_description"], module
        assert docs[module]["examples"].strip(), module
        assert docs[module]["return"], module


def test_every_filter_documentation_parses() -> None:
    listed = ansible_doc("-t", "filter", "--list", "--json", "django_ecs.aws")
    assert listed.returncode == 0 and "ERROR" not in listed.stderr, listed.stderr
    filters = sorted(json.loads(listed.stdout))
    assert "django_ecs.aws.ecs_service_drift" in filters
    completed = ansible_doc("-t", "filter", "--json", *filters)
    assert completed.returncode == 0 and "ERROR" not in completed.stderr, completed.stderr
    docs = json.loads(completed.stdout)
    for name in filters:
        # ansible-doc's text output fails without a description; --json does not: check it here.
        assert docs[name]["doc"]["short_description"], name
        assert docs[name]["doc"].get("description"), f"{name}: no description"
