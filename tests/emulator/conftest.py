"""Fixtures for the emulator's own tests: a private emulator, apart from the shared one.

The tests here start, stop and break emulators, so they never touch the one the project test
runner started: each copy gets its own DJANGO_ECS_EMULATOR_DIR.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

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


@pytest.fixture(scope="session")
def emulator_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """State dir of this session's private emulator; stopped at the end."""
    state_dir = tmp_path_factory.mktemp("emulator-state")
    start_copy(state_dir)
    yield state_dir
    run_emulator("stop", state_dir)


@pytest.fixture(scope="session")
def emulator_env(emulator_dir: Path) -> dict[str, str]:
    """The exported variables of the private emulator (start is idempotent)."""
    return start_copy(emulator_dir)


@pytest.fixture(scope="session")
def aws(emulator_env: dict[str, str]) -> Callable[[str], Any]:
    """boto3 client factory bound to the private emulator's loopback endpoint."""

    def client(service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=emulator_env["AWS_ENDPOINT_URL"],
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    return client


@pytest.fixture
def unique() -> str:
    """A short suffix keeping names apart between tests sharing one emulator."""
    return uuid.uuid4().hex[:8]
