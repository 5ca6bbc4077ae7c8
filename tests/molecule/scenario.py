"""Run one molecule scenario (`molecule test -s <name>`) as a pytest test.

A scenario is a whole stack converged, re-run for idempotence, verified and destroyed: minutes of
one core, mostly waiting on ansible-playbook. As a pytest module it is one unit of the `-n 2`
pool (`--dist loadscope`), scheduled by its `slow` mark beside the other modules, instead of a
stage after pytest in which the second core idles once the shorter scenario ends.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = REPO_ROOT / "molecule"
FAILED_TASK = re.compile(r"^(fatal|failed): ", re.MULTILINE)


def ci_scenarios() -> list[str]:
    """Every scenario under molecule/ except the known-red ones (molecule/<name>/CI_SKIP)."""
    return sorted(
        path.parent.name
        for path in SCENARIOS.glob("*/molecule.yml")
        if not (path.parent / "CI_SKIP").exists()
    )


def failure_excerpt(log: str) -> str:
    """The first failed task with what led to it, then the end of the log."""
    match = FAILED_TASK.search(log)
    first = log[max(0, match.start() - 1500) : match.start() + 6000] if match else ""
    return f"--- the first failed task:\n{first}\n--- the end of the log:\n{log[-6000:]}"


def run_scenario(name: str) -> None:
    """`molecule test -s name` from the checkout; its state starts empty and lives in the
    checkout (molecule's default, ~/.ansible/tmp/molecule.<hash of the directory name>, is shared
    by every clone of the same name, and a run interrupted there made the next one skip create).
    The log stays in .emulator/molecule-logs/<name>.log."""
    state = REPO_ROOT / ".emulator" / "molecule-state" / name
    shutil.rmtree(state, ignore_errors=True)
    logs = REPO_ROOT / ".emulator" / "molecule-logs"
    logs.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "MOLECULE_EPHEMERAL_DIRECTORY": str(state),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "ANSIBLE_NOCOLOR": "1",
        "PY_COLORS": "0",
        "ANSIBLE_FORCE_COLOR": "0",
    }
    completed = subprocess.run(
        ["molecule", "test", "-s", name],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=2400,
        check=False,
    )
    log = completed.stdout + completed.stderr
    (logs / f"{name}.log").write_text(log)
    assert completed.returncode == 0, f"molecule {name} failed\n" + failure_excerpt(log)
