"""Bad data-layer input fails before any AWS call, naming the variable and the expected form.

The endpoint is a dead loopback port: had any task reached AWS, the output would say
"Could not connect to the endpoint URL".
"""

from __future__ import annotations

import json

import pytest

from tests.playbooks.runner import run_playbook

# The layer's first AWS call: a bad input must stop the play before it.
FIRST_AWS_TASK = "Read what the layer's role parts last converged, and what changed in AWS since"
# What `site.yml --tags data` runs; test_tags_data_reaches_the_data_layer covers the tag path.
DATA_PLAYBOOK = "playbooks/data.yml"


def assert_fails_before_aws(
    extra_vars: dict[str, object], *expected: str, inventory: str = "local"
) -> None:
    run = run_playbook(DATA_PLAYBOOK, inventory, "-e", json.dumps(extra_vars))
    run.assert_failed_before_aws(*expected)
    assert FIRST_AWS_TASK not in run.output, run.output


@pytest.mark.parametrize("version", ["9.6", "13", "banana", "16.x"])
def test_unsupported_engine_version(version: str) -> None:
    assert_fails_before_aws(
        {"rds_engine_version": version}, "rds_engine_version must be a supported PostgreSQL version"
    )


@pytest.mark.parametrize("storage", [10, 19, 70000])
def test_storage_outside_the_limits(storage: int) -> None:
    assert_fails_before_aws(
        {"rds_allocated_storage": storage}, "rds_allocated_storage must be 20 to 65536"
    )


@pytest.mark.parametrize("days", [36, -1])
def test_backup_retention_out_of_range(days: int) -> None:
    assert_fails_before_aws(
        {"rds_backup_retention_days": days}, "rds_backup_retention_days must be 0 to 35"
    )


def test_no_backups_in_production() -> None:
    assert_fails_before_aws(
        {"rds_backup_retention_days": 0}, "at least 1 in production", inventory="prod"
    )


def test_replica_without_backups() -> None:
    assert_fails_before_aws(
        {"rds_read_replica": True, "rds_backup_retention_days": 0},
        "rds_read_replica needs automated backups",
    )


@pytest.mark.parametrize("db_name", ["app-db", 'appdb"; DROP DATABASE x; --', "AppDB", "postgres"])
def test_invalid_database_name(db_name: str) -> None:
    assert_fails_before_aws({"db_name": db_name}, "db_name must be")


@pytest.mark.parametrize("user", ['app"user', "pg_monitor", "rds_iam", "App_User"])
def test_invalid_role_name(user: str) -> None:
    assert_fails_before_aws({"db_app_user": user}, "db_app_user")


@pytest.mark.parametrize("user", ["rds_migrate", "App-Migrate", "app_user"])
def test_invalid_migration_user(user: str) -> None:
    """The data layer checks the migration login it creates (db_users.migration), not a default of
    its own; app_user is the app's login, and the two must differ."""
    assert_fails_before_aws(
        {"db_migration_user": user}, "db_migration_user", f"migration user '{user}'"
    )


@pytest.mark.parametrize("admin", ["postgres", "admin", "rdsadmin"])
def test_default_admin_name_is_refused(admin: str) -> None:
    assert_fails_before_aws({"db_admin_user": admin}, "RDS.25")


@pytest.mark.parametrize("instance_class", ["t3.micro", "db.t3", "db..micro", "large"])
def test_unknown_instance_class_form(instance_class: str) -> None:
    assert_fails_before_aws({"rds_instance_class": instance_class}, "rds_instance_class")


def test_good_input_reaches_aws() -> None:
    """Control: with valid input the play gets past the checks and fails on the dead endpoint."""
    run = run_playbook(DATA_PLAYBOOK, "local")
    assert run.returncode != 0
    assert f"{FIRST_AWS_TASK}] ***" in run.output, run.output
    assert "Could not connect to the endpoint URL" in run.output, run.output


def test_tags_data_reaches_the_data_layer() -> None:
    """`site.yml --tags data` gets through the other layers' plays to the data layer's checks."""
    run = run_playbook("site.yml", "local", "--tags", "data", "-e", "rds_allocated_storage=10")
    assert run.returncode != 0
    assert "rds_allocated_storage must be 20 to 65536" in run.output, run.output
