"""Shared pytest setup: make `ansible_collections.django_ecs.aws` importable from the checkout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
# collections/ansible_collections/django_ecs/aws is a symlink to the repo root; the site-packages
# ansible_collections is a namespace package, so both trees merge.
COLLECTION_ROOT = REPO_ROOT / "collections"
sys.path.insert(0, str(COLLECTION_ROOT))
AWS_VARS = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


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
    """Run one of our modules as Ansible would (JSON args on stdin), return its JSON result."""

    def run(
        name: str, args: dict[str, Any], check_mode: bool = False, diff: bool = False
    ) -> dict[str, Any]:
        module_args = dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff)
        env = dict(os.environ, PYTHONPATH=str(COLLECTION_ROOT), **aws_env)
        completed = subprocess.run(
            [sys.executable, "-m", f"ansible_collections.django_ecs.aws.plugins.modules.{name}"],
            input=json.dumps({"ANSIBLE_MODULE_ARGS": module_args}),
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
        try:
            return json.loads(completed.stdout)
        except ValueError:
            pytest.fail(f"module {name} printed no JSON:\n{completed.stdout}\n{completed.stderr}")

    return run
