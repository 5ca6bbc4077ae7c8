"""Fixtures for the emulator's own tests: a private emulator, apart from the shared one.

The tests here start, stop and break emulators, so they never touch the one the project test
runner started: each copy gets its own DJANGO_ECS_EMULATOR_DIR.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from emulator_cli import run_emulator, start_copy


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
