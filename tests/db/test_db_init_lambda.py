"""The db_init handler from the built zip: in-process, and behind a loopback Invoke endpoint."""

from __future__ import annotations

import importlib
import io
import json
import logging
import os
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from db_fixtures import ScratchDatabase
from db_lambda_runtime import lambda_endpoint

RunModule = Callable[..., dict[str, Any]]
PACKAGE_MODULES = ("handler", "db_roles", "db_connect")


@pytest.fixture
def handler_module(lambda_root: Path) -> Iterator[Any]:
    """``handler`` imported from the unpacked zip, as Lambda imports it; sys state restored."""
    saved = {name: sys.modules.pop(name) for name in PACKAGE_MODULES if name in sys.modules}
    sys.path.insert(0, str(lambda_root))
    try:
        module = importlib.import_module("handler")
        assert Path(module.__file__).parent == lambda_root
        yield module
    finally:
        sys.path.remove(str(lambda_root))
        for name in PACKAGE_MODULES:
            sys.modules.pop(name, None)
        sys.modules.update(saved)


def configure(monkeypatch: pytest.MonkeyPatch, test_db: ScratchDatabase, **overrides: Any) -> None:
    """The function's desired state, as the db_init role sets it (DB_DESIRED_STATE)."""
    monkeypatch.setenv("DB_DESIRED_STATE", json.dumps(test_db.desired(**overrides)))


@pytest.fixture
def function_env(
    admin_secret: str,
    monkeypatch: pytest.MonkeyPatch,
    aws_env: dict[str, str],
    test_db: ScratchDatabase,
) -> dict[str, str]:
    """The function's configuration, as the db_init role would set it (no TLS locally)."""
    settings = {
        "DB_SECRET_ARN": admin_secret,
        "DB_SSL_MODE": "disable",
        "DB_DESIRED_STATE": json.dumps(test_db.desired()),
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    return {**os.environ, **aws_env, **settings}


def event(check_mode: bool = False) -> dict[str, Any]:
    return {"check_mode": check_mode}


def answer(test_db: ScratchDatabase, changed: bool, queries: list[str]) -> dict[str, Any]:
    desired = {"schema": "public", **test_db.desired()}
    return {"changed": changed, "queries": queries, "desired_state": desired}


def test_handler_bootstraps_then_reports_no_change(
    handler_module: Any, function_env: dict[str, str], test_db: ScratchDatabase
):
    first = handler_module.handler(event(), None)
    second = handler_module.handler({}, None)

    assert first["changed"] is True
    assert f'GRANT "rds_iam" TO "{test_db.role("app")}"' in first["queries"]
    assert second == answer(test_db, False, [])
    assert test_db.query("SELECT pg_has_role(%s, 'rds_iam', 'MEMBER')", test_db.role("app")) == [
        (True,)
    ]


def test_handler_check_mode_plans_without_writing(
    handler_module: Any, function_env: dict[str, str], test_db: ScratchDatabase
):
    planned = handler_module.handler(event(check_mode=True), None)

    assert planned["changed"] is True
    assert planned["queries"]
    assert test_db.query(
        "SELECT count(*) FROM pg_roles WHERE rolname LIKE %s", test_db.prefix + "\\_%"
    ) == [(0,)]


def test_handler_repairs_drift(
    handler_module: Any, function_env: dict[str, str], test_db: ScratchDatabase
):
    handler_module.handler(event(), None)
    test_db.query(f'REVOKE USAGE ON SCHEMA public FROM "{test_db.role("readonly")}"')

    repaired = handler_module.handler(event(), None)

    assert repaired == answer(
        test_db, True, [f'GRANT USAGE ON SCHEMA "public" TO "{test_db.role("readonly")}"']
    )


def test_handler_rejects_hostile_names_in_its_configuration(
    handler_module: Any,
    function_env: dict[str, str],
    test_db: ScratchDatabase,
    monkeypatch: pytest.MonkeyPatch,
):
    db_roles = sys.modules["db_roles"]
    configure(monkeypatch, test_db, app_user='x"; DROP ROLE rds_iam; --')
    with pytest.raises(db_roles.BootstrapError, match="app_user"):
        handler_module.handler(event(), None)
    configure(monkeypatch, test_db, writer_role="rds_superuser")
    with pytest.raises(db_roles.BootstrapError, match="'rds_superuser' is reserved"):
        handler_module.handler(event(), None)
    assert test_db.query("SELECT count(*) FROM pg_roles WHERE rolname = 'rds_iam'") == [(1,)]


@pytest.mark.parametrize(
    "hostile",
    [
        {"writer_role": "rds_superuser", "app_user": "backdoor"},
        {"desired_state": {"writer_role": "rds_superuser", "app_user": "backdoor"}},
        {"check_mode": False, "app_user": "backdoor"},
    ],
)
def test_handler_refuses_an_event_naming_roles(
    handler_module: Any, function_env: dict[str, str], test_db: ScratchDatabase, hostile: dict
):
    db_roles = sys.modules["db_roles"]
    with pytest.raises(db_roles.BootstrapError, match="the event may carry only check_mode"):
        handler_module.handler(hostile, None)

    assert test_db.query(
        "SELECT count(*) FROM pg_roles WHERE rolname = 'backdoor' OR rolname LIKE %s",
        test_db.prefix + "\\_%",
    ) == [(0,)]


def test_handler_never_logs_the_password(
    handler_module: Any,
    function_env: dict[str, str],
    test_db: ScratchDatabase,
    caplog: pytest.LogCaptureFixture,
):
    caplog.set_level(logging.DEBUG)
    handler_module.handler(event(), None)
    os.environ["DB_HOST"] = "127.0.0.2"  # unreachable: the failure message must not leak either
    try:
        with pytest.raises(Exception) as failure:
            handler_module.handler(event(), None)
    finally:
        del os.environ["DB_HOST"]

    assert "queries=" in caplog.text
    assert test_db.admin_password not in caplog.text
    assert test_db.admin_password not in str(failure.value)


def test_package_imports_its_own_dependencies(lambda_root: Path):
    probe = "import handler, pg8000, scramp, dateutil; print(pg8000.__file__, handler.__file__)"
    completed = subprocess.run(
        [sys.executable, "-c", probe],
        env={**os.environ, "PYTHONPATH": str(lambda_root)},
        cwd=lambda_root,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    paths = completed.stdout.split()
    assert all(Path(path).is_relative_to(lambda_root) for path in paths), paths


def test_module_through_lambda_connection(
    run_module: RunModule, lambda_root: Path, function_env: dict[str, str], test_db: ScratchDatabase
):
    with lambda_endpoint(lambda_root, function_env) as endpoint:
        # What roles/db_init/tasks/bootstrap.yml sends: no names, the function has its own.
        args = {
            "connection": "lambda",
            "function_name": "dev-djg-db-init-ander",
            "endpoint_url": endpoint,
        }
        planned = run_module("rds_iam_bootstrap", args, check_mode=True)
        applied = run_module("rds_iam_bootstrap", args)
        again = run_module("rds_iam_bootstrap", args)

    assert planned.get("changed") is True, planned
    assert applied.get("changed") is True, applied
    assert applied["queries"] == planned["queries"]
    assert again.get("changed") is False, again
    assert again["queries"] == []
    assert again["desired_state"]["app_user"] == test_db.role("app")
    assert again["desired_state"]["migration_user"] == test_db.role("migrate")


def test_module_refuses_names_with_the_lambda_connection(
    run_module: RunModule, aws_env: dict[str, str]
):
    result = run_module(
        "rds_iam_bootstrap",
        {
            "connection": "lambda",
            "function_name": "db-init",
            "app_user": "backdoor",
            "writer_role": "rds_superuser",
        },
    )

    assert result.get("failed") is True
    assert "the function's own configuration" in result["msg"]
    assert "remove app_user, writer_role" in result["msg"]


def test_module_reports_a_failed_invocation(
    run_module: RunModule, lambda_root: Path, function_env: dict[str, str], test_db: ScratchDatabase
):
    broken = {**function_env, "DB_SSL_MODE": "require"}  # the local server has no TLS
    with lambda_endpoint(lambda_root, broken) as endpoint:
        result = run_module(
            "rds_iam_bootstrap",
            {"connection": "lambda", "function_name": "db-init", "endpoint_url": endpoint},
        )

    assert result.get("failed") is True
    assert "the function failed (Unhandled)" in result["msg"]
    assert "ConnectError" in result["msg"] or "cannot" in result["msg"]
    assert test_db.admin_password not in json.dumps(result)


def test_module_rejects_an_answer_without_changed_and_queries(
    run_module: RunModule, aws_env: dict[str, str], test_db: ScratchDatabase
):
    # A function that answers something else than the bootstrap's answer (a misdeployed one).
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return {'ok': True}\n")
    client = boto3.client("lambda")
    name = f"echo-{test_db.prefix}"
    iam = boto3.client("iam")
    role = iam.create_role(
        RoleName=name,
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )["Role"]["Arn"]
    client.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": package.getvalue()},
    )
    try:
        result = run_module(
            "rds_iam_bootstrap",
            {"connection": "lambda", "function_name": name},
        )
    finally:
        client.delete_function(FunctionName=name)
        iam.delete_role(RoleName=name)

    assert result.get("failed") is True
    # The answer lacks "changed" and "queries": refused, not taken for a bootstrap.
    assert result["msg"].startswith("the function answered"), result["msg"]
