"""Lambda Invoke runs the function's handler (emulator patch 2b, tools/emulator/lambda_runtime.py).

Plain moto 5.2.5 without Docker answers every Invoke with the request's own payload: each test
here asserts something only a handler that really ran can produce.
"""

from __future__ import annotations

import base64
import io
import json
import os
import secrets
import ssl
import textwrap
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pg8000.native
import pytest

from tests.aws_policies import service_trust
from tests.module_runner import run_collection_module

Aws = Callable[[str], Any]
Deploy = Callable[..., str]

REPO_ROOT = Path(__file__).resolve().parents[2]
DB_INIT_HANDLER_DIR = REPO_ROOT / "files" / "lambda" / "db_init"
ACCOUNT = "123456789012"  # moto's default account


def _zip(files: dict[str, str | bytes]) -> bytes:
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return package.getvalue()


@pytest.fixture
def deploy(aws: Aws, unique: str) -> Deploy:
    """Create a function from handler.py source (or a whole zip); returns its name."""

    def create(
        source: str = "",
        *,
        package: bytes | None = None,
        handler: str = "handler.handler",
        timeout: int = 30,
        memory: int = 128,
        variables: dict[str, str] | None = None,
    ) -> str:
        name = f"fn-{unique}"
        role = aws("iam").create_role(
            RoleName=name, AssumeRolePolicyDocument=service_trust("lambda.amazonaws.com")
        )["Role"]["Arn"]
        code = package if package is not None else _zip({"handler.py": textwrap.dedent(source)})
        aws("lambda").create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=role,
            Handler=handler,
            Code={"ZipFile": code},
            Timeout=timeout,
            MemorySize=memory,
            Environment={"Variables": variables or {}},
        )
        return name

    return create


def _invoke(aws: Aws, name: str, event: Any = None, **options: Any) -> tuple[dict, Any]:
    """Invoke's response and its payload decoded from JSON (None when empty)."""
    payload = json.dumps(event if event is not None else {}).encode()
    response = aws("lambda").invoke(FunctionName=name, Payload=payload, **options)
    body = response["Payload"].read()
    return response, json.loads(body) if body else None


def _tail(response: dict) -> str:
    return base64.b64decode(response["LogResult"]).decode()


def test_handler_answers_from_the_event_and_its_environment(aws: Aws, deploy: Deploy) -> None:
    name = deploy(
        """
        import os

        def handler(event, context):
            return {"greeting": f"{os.environ['GREETING']}, {event['name']}!"}
        """,
        variables={"GREETING": "Hello"},
    )

    response, answer = _invoke(aws, name, {"name": "Ada"})

    assert response["StatusCode"] == 200
    assert "FunctionError" not in response
    assert answer == {"greeting": "Hello, Ada!"}
    assert response["ExecutedVersion"] == "$LATEST"


def test_handler_reads_a_secret_through_the_emulator_as_its_role(
    aws: Aws, deploy: Deploy, unique: str
) -> None:
    secret_name = f"secret-{unique}"
    aws("secretsmanager").create_secret(Name=secret_name, SecretString="s3cr3t")
    name = deploy(
        """
        import os
        import boto3

        def handler(event, context):
            secret = boto3.client("secretsmanager").get_secret_value(
                SecretId=os.environ["SECRET_ID"]
            )
            caller = boto3.client("sts").get_caller_identity()
            return {"secret": secret["SecretString"], "caller": caller["Arn"]}
        """,
        variables={"SECRET_ID": secret_name},
    )

    response, answer = _invoke(aws, name)

    assert "FunctionError" not in response, answer
    assert answer == {
        "secret": "s3cr3t",
        "caller": f"arn:aws:sts::{ACCOUNT}:assumed-role/{name}/{name}",
    }


def test_exception_in_the_handler_is_an_unhandled_function_error(aws: Aws, deploy: Deploy) -> None:
    name = deploy(
        """
        def handler(event, context):
            raise LookupError(f"no tenant {event['tenant']}")
        """
    )

    response, answer = _invoke(aws, name, {"tenant": 42}, LogType="Tail")

    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    assert answer["errorType"] == "LookupError"
    assert answer["errorMessage"] == "no tenant 42"
    assert answer["requestId"]
    assert "raise LookupError" in answer["stackTrace"][-1]
    assert f"START RequestId: {answer['requestId']}" in _tail(response)
    assert "[ERROR] LookupError: no tenant 42" in _tail(response)


def test_zip_comes_before_the_emulators_site_packages(aws: Aws, deploy: Deploy) -> None:
    # pg8000 is installed beside the emulator too: the function must get the zip's copy.
    handler = """
import os
import pg8000

def handler(event, context):
    return {"pg8000": pg8000.__file__, "task_root": os.environ["LAMBDA_TASK_ROOT"]}
"""
    package = _zip({"handler.py": handler, "pg8000/__init__.py": "SHIPPED = True\n"})
    name = deploy(package=package)

    _, answer = _invoke(aws, name)

    assert Path(answer["pg8000"]).is_relative_to(answer["task_root"]), answer


def test_missing_handler_module_is_an_import_error(aws: Aws, deploy: Deploy) -> None:
    name = deploy("def handler(event, context):\n    return 1\n", handler="missing.handler")

    response, answer = _invoke(aws, name)

    assert response["FunctionError"] == "Unhandled"
    assert answer["errorType"] == "Runtime.ImportModuleError"
    assert answer["errorMessage"].startswith("Unable to import module 'missing'")


def test_handler_running_past_its_timeout_is_killed(
    aws: Aws, deploy: Deploy, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pid"
    name = deploy(
        """
        import os, time

        def handler(event, context):
            with open(os.environ["PID_FILE"], "w") as handle:
                handle.write(str(os.getpid()))
            time.sleep(60)
            return "too late"
        """,
        timeout=1,
        variables={"PID_FILE": str(pid_file)},
    )

    started = time.monotonic()
    response, answer = _invoke(aws, name, LogType="Tail")
    elapsed = time.monotonic() - started

    assert elapsed < 15
    assert response["FunctionError"] == "Unhandled"
    assert answer["errorType"] == "Sandbox.Timedout"
    assert answer["errorMessage"].endswith("Task timed out after 1.00 seconds")
    assert "Status: timeout" in _tail(response)
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid_file.read_text()), 0)


def test_log_tail_and_log_group_carry_what_the_handler_printed(aws: Aws, deploy: Deploy) -> None:
    name = deploy(
        """
        import logging

        def handler(event, context):
            print("printed by the handler")
            logging.getLogger().warning("logged by the handler")
            logging.getLogger().info("below the root logger's default level")
            return None
        """
    )

    response, answer = _invoke(aws, name, LogType="Tail")

    assert answer is None
    log = _tail(response)
    lines = log.splitlines()
    assert lines[0].startswith("START RequestId: ")
    assert "printed by the handler" in lines
    assert any(
        line.startswith("[WARNING]\t") and line.endswith("\tlogged by the handler")
        for line in lines
    )
    assert "below the root logger's default level" not in log
    assert lines[-2].startswith("END RequestId: ")
    assert lines[-1].startswith("REPORT RequestId: ")
    events = aws("logs").filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
    assert "printed by the handler\n" in [event["message"] for event in events]


def test_log_tail_is_the_last_4_kb(aws: Aws, deploy: Deploy) -> None:
    name = deploy(
        """
        def handler(event, context):
            for number in range(1000):
                print(f"line {number:04d}")
        """
    )

    response, _ = _invoke(aws, name, LogType="Tail")

    log = base64.b64decode(response["LogResult"])
    assert len(log) == 4096
    assert b"line 0999\n" in log
    assert b"line 0000" not in log
    assert b"START RequestId" not in log


def test_context_describes_the_invocation(aws: Aws, deploy: Deploy) -> None:
    name = deploy(
        """
        import os

        def handler(event, context):
            return {
                "function_name": context.function_name,
                "function_version": context.function_version,
                "invoked_function_arn": context.invoked_function_arn,
                "memory_limit_in_mb": context.memory_limit_in_mb,
                "aws_request_id": context.aws_request_id,
                "log_group_name": context.log_group_name,
                "log_stream_name": context.log_stream_name,
                "remaining_ms": context.get_remaining_time_in_millis(),
                "stream_variable": os.environ["AWS_LAMBDA_LOG_STREAM_NAME"],
            }
        """,
        timeout=30,
        memory=256,
    )

    response, answer = _invoke(aws, name, LogType="Tail")

    assert answer["function_name"] == name
    assert answer["function_version"] == "$LATEST"
    assert answer["invoked_function_arn"] == f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}"
    assert answer["memory_limit_in_mb"] == "256"  # a string, as on Lambda
    assert answer["log_group_name"] == f"/aws/lambda/{name}"
    assert answer["log_stream_name"] == answer["stream_variable"]
    assert "[$LATEST]" in answer["log_stream_name"]
    assert 20_000 < answer["remaining_ms"] <= 30_000
    assert f"START RequestId: {answer['aws_request_id']} Version: $LATEST" in _tail(response)


def test_function_environment_is_lambdas_not_the_servers(
    aws: Aws, deploy: Deploy, emulator_env: dict[str, str]
) -> None:
    name = deploy(
        """
        import os

        def handler(event, context):
            return {"environ": dict(os.environ), "cwd": os.getcwd()}
        """,
        variables={"APP_SETTING": "on"},
    )

    _, answer = _invoke(aws, name)

    environ = answer["environ"]
    assert environ["APP_SETTING"] == "on"
    assert environ["AWS_REGION"] == environ["AWS_DEFAULT_REGION"] == "us-east-1"
    assert environ["AWS_LAMBDA_FUNCTION_NAME"] == name
    assert environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "128"
    assert environ["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert environ["AWS_LAMBDA_LOG_GROUP_NAME"] == f"/aws/lambda/{name}"
    assert environ["AWS_LAMBDA_LOG_STREAM_NAME"]
    assert environ["LAMBDA_TASK_ROOT"] == answer["cwd"]
    assert environ["AWS_ENDPOINT_URL"] == emulator_env["AWS_ENDPOINT_URL"]
    assert environ["AWS_SESSION_TOKEN"]
    assert environ["AWS_ACCESS_KEY_ID"] != "testing"  # the role's, not the caller's
    leaked = [key for key in environ if key.startswith(("DJANGO_ECS_EMULATOR", "PG", "MOTO_"))]
    assert leaked == []


def test_dry_run_does_not_run_the_handler_and_event_runs_it(
    aws: Aws, deploy: Deploy, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    name = deploy(
        """
        import os

        def handler(event, context):
            with open(os.environ["MARKER"], "a") as handle:
                handle.write(event["by"] + "\\n")
        """,
        variables={"MARKER": str(marker)},
    )

    dry_run, _ = _invoke(aws, name, {"by": "dry run"}, InvocationType="DryRun")
    asynchronous, answer = _invoke(aws, name, {"by": "event"}, InvocationType="Event")

    assert dry_run["StatusCode"] == 204
    assert asynchronous["StatusCode"] == 202
    assert answer is None
    deadline = time.monotonic() + 20
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert marker.read_text() == "event\n"


# The project's own function -----------------------------------------------------------------
@dataclass(frozen=True)
class DbInstance:
    endpoint: dict[str, Any]
    admin: str
    password: str = field(repr=False)
    database: str = ""

    def admin_connection(self, ca_bundle: str | None) -> pg8000.native.Connection:
        return pg8000.native.Connection(
            user=self.admin,
            password=self.password,
            host=self.endpoint["Address"],
            port=int(self.endpoint["Port"]),
            database=self.database,
            ssl_context=ssl.create_default_context(cafile=ca_bundle) if ca_bundle else None,
            timeout=10,
        )


@pytest.fixture
def db_instance(aws: Aws, unique: str) -> Iterator[DbInstance]:
    """An RDS postgres instance (the emulator provisions its master user and database)."""
    identifier = f"db-init-{unique}"
    instance = DbInstance({}, f"admin_{unique}", secrets.token_urlsafe(16), f"db_{unique}")
    endpoint = aws("rds").create_db_instance(
        DBInstanceIdentifier=identifier,
        Engine="postgres",
        DBInstanceClass="db.t4g.micro",
        AllocatedStorage=20,
        MasterUsername=instance.admin,
        MasterUserPassword=instance.password,
        DBName=instance.database,
    )["DBInstance"]["Endpoint"]
    yield replace(instance, endpoint=endpoint)
    aws("rds").delete_db_instance(DBInstanceIdentifier=identifier, SkipFinalSnapshot=True)


def _db_init_tls(emulator_env: dict[str, str]) -> tuple[str | None, str]:
    """(CA bundle to ship in the zip, DB_SSL_MODE): verify-full against the emulator's CA when it
    has one (RDS servers with TLS), else disable (one PostgreSQL without TLS)."""
    ca_bundle = emulator_env.get("DJANGO_ECS_EMULATOR_CA_BUNDLE")
    return (ca_bundle, "verify-full") if ca_bundle else (None, "disable")


def _db_init_package(destination: Path, ca_bundle: str | None) -> bytes:
    """The zip as the db_init role builds it (django_ecs.aws.lambda_package)."""
    arguments = {"src": str(DB_INIT_HANDLER_DIR), "dest": str(destination)}
    if ca_bundle:
        arguments["ca_bundle"] = ca_bundle
    built = run_collection_module("lambda_package", arguments)
    assert not built.get("failed"), built
    return destination.read_bytes()


def _deploy_db_init(
    aws: Aws,
    deploy: Deploy,
    unique: str,
    emulator_env: dict[str, str],
    db_instance: DbInstance,
    tmp_path: Path,
) -> tuple[str, dict[str, str], str | None]:
    """The packaged function, configured as the db_init role configures it; returns its name,
    its desired state and the CA bundle."""
    ca_bundle, ssl_mode = _db_init_tls(emulator_env)
    # The admin secret in the shape RDS writes; the role passes its name as DB_SECRET_ARN.
    secret = {"username": db_instance.admin, "password": db_instance.password}
    secret |= {"host": db_instance.endpoint["Address"], "port": db_instance.endpoint["Port"]}
    aws("secretsmanager").create_secret(Name=f"db-admin-{unique}", SecretString=json.dumps(secret))
    desired = {"database": db_instance.database, "app_user": f"app_{unique}"}
    desired |= {f"{kind}_role": f"{kind}_{unique}" for kind in ("readonly", "writer", "migrator")}
    name = deploy(
        package=_db_init_package(tmp_path / "db_init.zip", ca_bundle),
        timeout=120,
        memory=256,
        variables={
            "DB_DESIRED_STATE": json.dumps(desired),
            "DB_SECRET_ARN": f"db-admin-{unique}",
            "DB_SSL_MODE": ssl_mode,
        },
    )
    return name, desired, ca_bundle


def _roles_named(db_instance: DbInstance, ca_bundle: str | None, *names: str) -> list[str]:
    connection = db_instance.admin_connection(ca_bundle)
    try:
        rows = connection.run(
            "SELECT rolname FROM pg_roles WHERE rolname = ANY(CAST(:names AS text[]))",
            names=list(names),
        )
    finally:
        connection.close()
    return sorted(row[0] for row in rows)


def test_db_init_function_bootstraps_the_database_roles(
    aws: Aws,
    deploy: Deploy,
    unique: str,
    emulator_env: dict[str, str],
    db_instance: DbInstance,
    tmp_path: Path,
) -> None:
    name, desired, ca_bundle = _deploy_db_init(
        aws, deploy, unique, emulator_env, db_instance, tmp_path
    )
    # What roles/db_init/tasks/bootstrap.yml runs: the module invokes the function, no names.
    arguments = {"connection": "lambda", "function_name": name}

    planned = run_collection_module(
        "rds_iam_bootstrap", arguments, check_mode=True, env=emulator_env
    )
    applied = run_collection_module("rds_iam_bootstrap", arguments, env=emulator_env)
    response, again = _invoke(aws, name, {"check_mode": False}, LogType="Tail")

    assert planned.get("changed") is True, planned
    assert applied.get("changed") is True, applied
    assert applied["queries"] == planned["queries"]
    assert f'GRANT "rds_iam" TO "app_{unique}"' in applied["queries"]
    assert applied["desired_state"] == {"schema": "public", "migration_user": None, **desired}
    assert again["changed"] is False and again["queries"] == [], again
    assert "\tchanged=False check_mode=False queries=" in _tail(response)  # the handler's INFO
    connection = db_instance.admin_connection(ca_bundle)
    try:
        member = connection.run(
            "SELECT pg_has_role(:role, 'rds_iam', 'MEMBER')", role=f"app_{unique}"
        )
    finally:
        connection.close()
    assert member == [[True]]


@pytest.mark.parametrize(
    "hostile",
    [
        {"writer_role": "rds_superuser", "app_user": "backdoor"},
        {"desired_state": {"writer_role": "rds_superuser", "app_user": "backdoor"}},
    ],
)
def test_db_init_function_refuses_an_event_naming_roles(
    aws: Aws,
    deploy: Deploy,
    unique: str,
    emulator_env: dict[str, str],
    db_instance: DbInstance,
    tmp_path: Path,
    hostile: dict[str, Any],
) -> None:
    name, desired, ca_bundle = _deploy_db_init(
        aws, deploy, unique, emulator_env, db_instance, tmp_path
    )
    if "desired_state" in hostile:  # the old contract: this very event made a superuser login
        hostile = {"desired_state": {"database": db_instance.database, **hostile["desired_state"]}}

    response, answer = _invoke(aws, name, hostile)

    assert response.get("FunctionError") == "Unhandled", answer
    assert answer["errorType"] == "BootstrapError"
    assert answer["errorMessage"].startswith("the event may carry only check_mode, refused: ")
    # Nothing was created: neither the event's roles nor the configured ones.
    assert _roles_named(db_instance, ca_bundle, "backdoor", *desired.values()) == []
