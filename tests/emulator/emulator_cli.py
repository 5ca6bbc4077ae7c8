"""Drive scripts/emulator for one copy (one state dir) and read what it prints."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "scripts" / "emulator"
if str(REPO_ROOT) not in sys.path:  # `tools` is imported by the unit tests
    sys.path.insert(0, str(REPO_ROOT))

_EXPORT = re.compile(r"^export (?P<name>\w+)=(?P<value>.*)$")


def run_emulator(command: str, state_dir: Path) -> subprocess.CompletedProcess[str]:
    """scripts/emulator <command> for the copy living in `state_dir`."""
    environment = {**os.environ, "DJANGO_ECS_EMULATOR_DIR": str(state_dir)}
    return subprocess.run(
        [str(SCRIPT), command],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def parse_exports(output: str) -> dict[str, str]:
    """The variables of `export NAME=value` lines (values are shell-quoted when needed)."""
    variables = {}
    for line in output.splitlines():
        match = _EXPORT.match(line)
        if match:
            value = match["value"].strip("'")
            if value.startswith('"${'):  # export X="${X:-default}"
                value = value.split(":-", 1)[1].rstrip('}"')
            variables[match["name"]] = value
    return variables


def start_copy(state_dir: Path) -> dict[str, str]:
    result = run_emulator("start", state_dir)
    assert result.returncode == 0, result.stderr
    return parse_exports(result.stdout)
