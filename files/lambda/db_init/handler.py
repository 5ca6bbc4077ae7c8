# Copyright: contributors to django_ecs.aws
# Apache License 2.0 (see galaxy.yml)
"""db_init Lambda (Python 3.12): bring the database roles to the desired state.

Runs inside the VPC, next to the database the control node cannot reach. The zip built by
``django_ecs.aws.lambda_package`` puts this file beside ``db_roles.py`` and ``db_connect.py``
(the collection's module_utils, unchanged) and pg8000 with its pure-Python dependencies.

Environment (the function's configuration, set by the db_init role):
  DB_DESIRED_STATE  the database and role names, a JSON object of desired-state keys (database,
                  schema, app_user, migration_user...); the only source of the desired state
  DB_SECRET_ARN   admin secret (RDS JSON shape); the only credential, read at each invocation
  DB_SSL_MODE     disable | require | verify-full (default verify-full)
  DB_CA_BUNDLE    CA file for verify-full, relative to the package (default rds-ca-bundle.pem
                  when shipped, else the system store)
  DB_HOST         optional override of the secret's host (e.g. a proxy endpoint)
Event:  {"check_mode": false} at most: any other key is refused before anything is read, so
        being allowed to invoke the function never means choosing which roles it creates or grants.
Answer: {"changed": bool, "queries": [...], "desired_state": {...}}; a failure raises (the
        invoker sees FunctionError).
"""

from __future__ import annotations

import logging
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
import db_connect
import db_roles
from botocore.config import Config

LOGGER = logging.getLogger()
LOGGER.setLevel(logging.INFO)
# botocore's DEBUG output includes response bodies, hence GetSecretValue's SecretString: keep
# it quiet even when the function's log level is raised to DEBUG.
for _noisy in ("botocore", "boto3", "urllib3"):
    logging.getLogger(_noisy).setLevel(logging.WARNING)
PACKAGE_DIR = Path(__file__).resolve().parent
DEFAULT_CA_BUNDLE = "rds-ca-bundle.pem"
# Seconds kept back from the function's deadline to roll back and answer cleanly.
DEADLINE_MARGIN = 5.0
MAX_STATEMENT_SECONDS = 60.0
AWS_CONFIG = Config(connect_timeout=5, read_timeout=10, retries={"mode": "standard"})


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    check_mode = db_roles.parse_lambda_event(event)
    state = db_roles.desired_state_from_environment(os.environ)
    credentials = read_credentials(os.environ["DB_SECRET_ARN"])
    budget = seconds_left(context)
    connection = db_connect.connect(
        credentials,
        state.database,
        os.environ.get("DB_SSL_MODE", "verify-full"),
        ca_bundle(),
        timeout=min(10.0, budget),
    )
    try:
        result = db_roles.reconcile(
            connection,
            state,
            check_mode,
            statement_timeout_ms=int(min(MAX_STATEMENT_SECONDS, budget) * 1000),
        )
    finally:
        connection.close()
    # Statements carry role names only: no password is ever part of them.
    LOGGER.info("changed=%s check_mode=%s queries=%s", result.changed, check_mode, result.queries)
    return db_roles.lambda_answer(result, state)


def read_credentials(secret_arn: str) -> db_connect.Credentials:
    client = boto3.client("secretsmanager", config=AWS_CONFIG)
    secret = client.get_secret_value(SecretId=secret_arn)["SecretString"]
    credentials = db_connect.credentials_from_secret(secret)
    host = os.environ.get("DB_HOST")
    return replace(credentials, host=host) if host else credentials


def ca_bundle() -> str | None:
    configured = os.environ.get("DB_CA_BUNDLE")
    if configured:
        return str(PACKAGE_DIR / configured)
    shipped = PACKAGE_DIR / DEFAULT_CA_BUNDLE
    return str(shipped) if shipped.is_file() else None


def seconds_left(context: Any) -> float:
    """Time this invocation may still use; without a Lambda context (tests), a fixed budget."""
    remaining_ms = getattr(context, "get_remaining_time_in_millis", None)
    if remaining_ms is None:
        return MAX_STATEMENT_SECONDS
    return max(1.0, remaining_ms() / 1000 - DEADLINE_MARGIN)
