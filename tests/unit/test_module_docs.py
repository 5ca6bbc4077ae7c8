"""Every module of the collection has documentation ansible-doc can read."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
MODULES = sorted(f"django_ecs.aws.{p.stem}" for p in (REPO_ROOT / "plugins/modules").glob("*.py"))


def test_every_module_documentation_parses() -> None:
    completed = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-doc"), "--json", *MODULES],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env={**os.environ, "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg")},
    )
    assert completed.returncode == 0, completed.stderr
    assert "ERROR" not in completed.stderr, completed.stderr
    docs = json.loads(completed.stdout)
    for module in MODULES:
        assert docs[module]["doc"]["short_description"], module
        assert docs[module]["examples"].strip(), module
        assert docs[module]["return"], module
