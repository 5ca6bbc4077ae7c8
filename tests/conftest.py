"""Shared pytest setup: make `ansible_collections.django_ecs.aws` importable from the checkout."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from tests.module_runner import run_collection_module

REPO_ROOT = Path(__file__).resolve().parent.parent
# collections/ansible_collections/django_ecs/aws is a symlink to the repo root; the site-packages
# ansible_collections is a namespace package, so both trees merge.
COLLECTION_ROOT = REPO_ROOT / "collections"
sys.path.insert(0, str(COLLECTION_ROOT))
AWS_VARS = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "slow(seconds=N): runs playbooks end to end for a minute or more; N is the module's"
        " measured cost on the 2-core machine, and the costliest modules are scheduled first",
    )


def scheduled_cost(item: pytest.Item) -> float:
    """The seconds its module's `slow` mark states (60 for a bare `slow`, 0 without the mark)."""
    mark = item.get_closest_marker("slow")
    return float(mark.kwargs.get("seconds", 60)) if mark else 0.0


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Costliest modules first (stable otherwise, so a module's tests keep their order).
    `--dist loadscope` hands modules out one at a time in this order (scripts/test passes
    `--no-loadscope-reorder`: by default xdist reorders modules by their number of tests), so the
    ten-minute module starts at once and the workers finish together instead of one running it
    alone at the end."""
    items.sort(key=lambda item: -scheduled_cost(item))


@pytest.fixture(scope="session")
def collection_path() -> Path:
    """The directory to put on ANSIBLE_COLLECTIONS_PATH / PYTHONPATH for our collection."""
    return COLLECTION_ROOT


@pytest.fixture(scope="session")
def aws_env() -> dict[str, str]:
    """The emulator's variables (scripts/test exports them); never anything but loopback."""
    missing = [name for name in AWS_VARS if not os.environ.get(name)]
    if missing:
        pytest.skip(f"emulator not configured: {', '.join(missing)} unset (run scripts/test)")
    host = urlparse(os.environ["AWS_ENDPOINT_URL"]).hostname
    if host not in LOOPBACK:
        pytest.fail(f"AWS_ENDPOINT_URL must be a loopback emulator, got {host}")
    return {name: os.environ[name] for name in AWS_VARS}


@pytest.fixture(scope="session")
def run_module(aws_env: dict[str, str]) -> Callable[..., dict[str, Any]]:
    """Run one of our modules against the emulator, return its JSON result."""

    def run(
        name: str, args: dict[str, Any], check_mode: bool = False, diff: bool = False
    ) -> dict[str, Any]:
        return run_collection_module(name, args, check_mode=check_mode, diff=diff, env=aws_env)

    return run
