"""Fixtures for the ECS task definition tests: module runner and moto-backed client.

Kept separate from tests/ecr/conftest.py on purpose: each area runs alone (``pytest tests/ecs``).
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import boto3
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
AWS_VARS = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def _collection_root() -> Path:
    """Where ``ansible_collections.django_ecs.aws`` resolves to this checkout."""
    own = REPO_ROOT / "collections"
    if (own / "ansible_collections" / "django_ecs" / "aws").resolve() == REPO_ROOT:
        return own
    root = Path(tempfile.mkdtemp(prefix="django_ecs_collection_"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    (root / "ansible_collections" / "django_ecs").mkdir(parents=True)
    (root / "ansible_collections" / "django_ecs" / "aws").symlink_to(REPO_ROOT)
    return root


# At import time, so test modules can import the collection's module_utils at their top.
COLLECTION_ROOT = _collection_root()
if str(COLLECTION_ROOT) not in sys.path:
    sys.path.insert(0, str(COLLECTION_ROOT))


@pytest.fixture(scope="session")
def aws_env() -> dict[str, str]:
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


@pytest.fixture(scope="session")
def ecs(aws_env: dict[str, str]) -> Any:
    return boto3.client(
        "ecs", endpoint_url=aws_env["AWS_ENDPOINT_URL"], region_name=aws_env["AWS_DEFAULT_REGION"]
    )
