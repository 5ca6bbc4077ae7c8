"""The collection's AWS modules converge on the emulator: a second run changes nothing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

PLAYBOOK = Path(__file__).with_name("converge_stack.yml")


def _run(playbook: Path, env: dict[str, str], variables: dict[str, str]) -> dict[str, bool]:
    """Run the playbook; return each task's `changed`."""
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            str(playbook),
            "-i",
            "localhost,",
            "-e",
            json.dumps(variables),
        ],
        cwd=playbook.parent,  # away from the repository's ansible.cfg
        env={**os.environ, **env, "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    report = json.loads(result.stdout)
    tasks = report["plays"][0]["tasks"]
    return {task["task"]["name"]: task["hosts"]["localhost"]["changed"] for task in tasks}


def test_second_run_reports_no_change(
    emulator_env: dict[str, str], tmp_path: Path, unique: str
) -> None:
    playbook = tmp_path / PLAYBOOK.name
    shutil.copy(PLAYBOOK, playbook)
    variables = {"suffix": unique}
    first = _run(playbook, emulator_env, variables)
    second = _run(playbook, emulator_env, variables)
    assert all(first.values()), [name for name, changed in first.items() if not changed]
    assert second == dict.fromkeys(first, False)
