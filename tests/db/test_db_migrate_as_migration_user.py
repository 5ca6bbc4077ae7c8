"""Django migrate as the migration user, on the real bootstrap's grants; the app as app_user.

The roles come from django_ecs.aws.rds_iam_bootstrap (plugins/module_utils/db_roles.py), exactly
as the data layer creates them; only passwords are added, as IAM tokens cannot be checked locally.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pg8000.dbapi
import pytest
from db_fixtures import ScratchDatabase

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "app"))
from app_harness import production_env, run_entrypoint

RunModule = Callable[..., dict[str, Any]]


def bootstrap_and_passwords(run_module: RunModule, test_db: ScratchDatabase) -> dict[str, str]:
    args = {
        "login_host": test_db.server.host,
        "login_port": test_db.server.port,
        "login_user": test_db.admin,
        "login_password": test_db.admin_password,
        "ssl_mode": "disable",
        **test_db.desired(),
    }
    result = run_module("rds_iam_bootstrap", args)
    assert not result.get("failed"), result
    passwords = {}
    for user in (test_db.role("app"), test_db.role("migrate")):
        passwords[user] = "pw-" + user
        test_db.query(f"ALTER ROLE \"{user}\" PASSWORD '{passwords[user]}'")
    return passwords


def app_env(test_db: ScratchDatabase, user: str, password: str) -> dict[str, str]:
    return production_env(
        DB_AUTH_MODE="password",
        DB_HOST=test_db.server.host,
        DB_PORT=str(test_db.server.port),
        DB_NAME=test_db.name,
        DB_USER=user,
        DB_PASSWORD=password,
    )


def test_migrate_as_the_migration_user_then_the_app_user_reads_and_writes(
    run_module: RunModule, test_db: ScratchDatabase
) -> None:
    passwords = bootstrap_and_passwords(run_module, test_db)
    migrate, app = test_db.role("migrate"), test_db.role("app")

    migrated = run_entrypoint(["migrate"], app_env(test_db, migrate, passwords[migrate]))

    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    assert "Applying contenttypes.0001_initial" in migrated.stdout
    owners = {
        owner
        for (owner,) in test_db.query(
            "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'"
        )
    }
    assert owners == {test_db.role("migrator")}
    connection = test_db.server.connect(test_db.name, app, passwords[app])
    try:
        cursor = connection.cursor()
        cursor.execute("INSERT INTO auth_group (name) VALUES ('editors') RETURNING id")
        assert cursor.fetchone()[0] >= 1
        cursor.execute("SELECT count(*) FROM django_migrations")
        assert cursor.fetchone()[0] > 0
        with pytest.raises(pg8000.dbapi.DatabaseError, match="permission denied"):
            cursor.execute("CREATE TABLE intruder (id int)")
    finally:
        connection.close()
    again = run_entrypoint(["migrate"], app_env(test_db, migrate, passwords[migrate]))
    assert again.returncode == 0 and "No migrations to apply" in again.stdout, again.stderr


def test_migrate_as_the_app_user_is_refused(
    run_module: RunModule, test_db: ScratchDatabase
) -> None:
    """What the migration task did before it ran as the migration user."""
    passwords = bootstrap_and_passwords(run_module, test_db)
    app = test_db.role("app")

    refused = run_entrypoint(["migrate"], app_env(test_db, app, passwords[app]))

    assert refused.returncode != 0
    assert "permission denied for schema public" in refused.stdout + refused.stderr
