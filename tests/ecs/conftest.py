"""Fixtures for the ECS task definition tests (module runner and aws_env: tests/conftest.py)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest


@pytest.fixture(scope="session")
def ecs(aws_env: dict[str, str]) -> Any:
    return boto3.client(
        "ecs", endpoint_url=aws_env["AWS_ENDPOINT_URL"], region_name=aws_env["AWS_DEFAULT_REGION"]
    )
