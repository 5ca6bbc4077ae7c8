"""Django migrate as the migration user, on the real bootstrap's grants; the app as app_user.

The roles come from django_ecs.aws.rds_iam_bootstrap (plugins/module_utils/db_roles.py), exactly
as the data layer creates them. On the bare server only passwords are added; on an emulated RDS
instance (the last tests) the users log in with IAM tokens, which the emulator checks (its
README, item 26): the task role needs rds-db:connect on the user's dbuser ARN.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
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


# IAM tokens on an emulated RDS instance --------------------------------------------------------
ACCOUNT = "123456789012"
REGION = "us-east-1"


@pytest.fixture
def rds_db(
    aws_env: dict[str, str], test_db: ScratchDatabase, run_module: RunModule
) -> Iterator[dict[str, Any]]:
    """An emulated instance with IAM authentication, bootstrapped with test_db's role names."""
    rds = boto3.client("rds", region_name=REGION)
    identifier = f"mig-{uuid.uuid4().hex[:8]}"
    endpoint = rds.create_db_instance(
        DBInstanceIdentifier=identifier,
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        AllocatedStorage=20,
        MasterUsername="master_user",
        MasterUserPassword="master-Password1",
        DBName=test_db.name,
        EnableIAMDatabaseAuthentication=True,
    )["DBInstance"]["Endpoint"]
    described = rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0]
    ca_bundle = os.environ["DJANGO_ECS_EMULATOR_CA_BUNDLE"]
    args = {
        "login_host": endpoint["Address"],
        "login_port": endpoint["Port"],
        "login_user": "master_user",
        "login_password": "master-Password1",
        "ssl_mode": "verify-full",
        "ca_bundle": ca_bundle,
        **test_db.desired(),
    }
    result = run_module("rds_iam_bootstrap", args)
    assert not result.get("failed"), result
    yield {**endpoint, "resource_id": described["DbiResourceId"], "ca_bundle": ca_bundle}
    rds.delete_db_instance(DBInstanceIdentifier=identifier, SkipFinalSnapshot=True)


def role_credentials(resources: list[str]) -> dict[str, str]:
    """A task role allowed rds-db:connect on `resources`, assumed (as ECS hands it over)."""
    iam = boto3.client("iam", region_name=REGION)
    name = f"task-{uuid.uuid4().hex[:8]}"
    trust = {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"},
             "Action": "sts:AssumeRole"}  # fmt: skip
    arn = iam.create_role(
        RoleName=name,
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [trust]}),
    )["Role"]["Arn"]
    if resources:
        connect = {"Effect": "Allow", "Action": "rds-db:connect", "Resource": resources}
        document = json.dumps({"Version": "2012-10-17", "Statement": [connect]})
        iam.put_role_policy(RoleName=name, PolicyName="db", PolicyDocument=document)
    keys = boto3.client("sts", region_name=REGION).assume_role(RoleArn=arn, RoleSessionName="task")[
        "Credentials"
    ]
    return {
        "AWS_ACCESS_KEY_ID": keys["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": keys["SecretAccessKey"],
        "AWS_SESSION_TOKEN": keys["SessionToken"],
    }


def iam_app_env(rds_db: dict[str, Any], database: str, user: str, **aws: str) -> dict[str, str]:
    return production_env(
        DB_AUTH_MODE="iam",
        DB_HOST=rds_db["Address"],
        DB_PORT=str(rds_db["Port"]),
        DB_NAME=database,
        DB_USER=user,
        DB_SSLROOTCERT=rds_db["ca_bundle"],
        AWS_REGION=REGION,
        **aws,
    )


def dbuser(rds_db: dict[str, Any], user: str) -> str:
    return f"arn:aws:rds-db:{REGION}:{ACCOUNT}:dbuser:{rds_db['resource_id']}/{user}"


def test_migrate_with_an_iam_token_of_a_role_allowed_rds_db_connect(
    rds_db: dict[str, Any], test_db: ScratchDatabase
) -> None:
    migrate = test_db.role("migrate")
    credentials = role_credentials([dbuser(rds_db, migrate)])

    migrated = run_entrypoint(
        ["migrate"], iam_app_env(rds_db, test_db.name, migrate, **credentials)
    )

    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    assert "Applying contenttypes.0001_initial" in migrated.stdout


def test_migrate_with_a_role_allowed_only_the_app_user_is_refused(
    rds_db: dict[str, Any], test_db: ScratchDatabase
) -> None:
    # The app's task role may connect as app_user, never as the migration user.
    migrate = test_db.role("migrate")
    credentials = role_credentials([dbuser(rds_db, test_db.role("app"))])

    refused = run_entrypoint(["migrate"], iam_app_env(rds_db, test_db.name, migrate, **credentials))

    assert refused.returncode != 0
    assert f'authentication failed for user "{migrate}"' in refused.stdout + refused.stderr
