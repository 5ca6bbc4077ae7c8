"""Fixtures and helpers for the database bootstrap tests: real PostgreSQL, moto as AWS, the zip.

Every test gets its own database, its own RDS-like admin (CREATEROLE, no superuser, like the RDS
master user) and its own role names, so tests can run in parallel on one server.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import sys
import tempfile
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pg8000.dbapi
import pytest

from tests.module_runner import run_collection_module

REPO_ROOT = Path(__file__).resolve().parents[2]
HANDLER_DIR = REPO_ROOT / "files" / "lambda" / "db_init"
PG_VARS = ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE")
# What RDS has and plain PostgreSQL lacks (same statements as the emulator's bootstrap).
RDS_ROLES_SQL = """
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'rds_iam') THEN
    CREATE ROLE rds_iam NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'rds_superuser') THEN
    CREATE ROLE rds_superuser NOLOGIN;
  END IF;
END $$"""
SETUP_LOCK_KEY = 0x64625445  # serialises the cluster-wide part of the fixture across workers


def _collection_root() -> Path:
    """A directory where ``ansible_collections.django_ecs.aws`` resolves to this checkout."""
    own = REPO_ROOT / "collections"
    if (own / "ansible_collections" / "django_ecs" / "aws").resolve() == REPO_ROOT:
        return own
    root = Path(tempfile.mkdtemp(prefix="django_ecs_collection_"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    (root / "ansible_collections" / "django_ecs").mkdir(parents=True)
    (root / "ansible_collections" / "django_ecs" / "aws").symlink_to(REPO_ROOT)
    return root


COLLECTION_ROOT = _collection_root()
if str(COLLECTION_ROOT) not in sys.path:
    sys.path.insert(0, str(COLLECTION_ROOT))


@dataclass(frozen=True)
class PgServer:
    host: str
    port: int
    user: str
    password: str

    def connect(self, database: str, user: str = "", password: str = "") -> Any:
        connection = pg8000.dbapi.connect(
            user=user or self.user,
            password=password or self.password,
            host=self.host,
            port=self.port,
            database=database,
            timeout=10,
        )
        connection.autocommit = True
        return connection


@dataclass(frozen=True)
class ScratchDatabase:
    """A fresh database, its RDS-like admin and the role names a test may use."""

    server: PgServer
    name: str
    admin: str
    admin_password: str
    prefix: str

    def role(self, suffix: str) -> str:
        return f"{self.prefix}_{suffix}"

    def desired(self, **overrides: Any) -> dict[str, Any]:
        """Desired-state options with this test's unique names."""
        values = {
            "database": self.name,
            "app_user": self.role("app"),
            "migration_user": self.role("migrate"),
            "readonly_role": self.role("readonly"),
            "writer_role": self.role("writer"),
            "migrator_role": self.role("migrator"),
        }
        values.update(overrides)
        return values

    def connect_as_admin(self) -> Any:
        return self.server.connect(self.name, self.admin, self.admin_password)

    def connect_as_superuser(self) -> Any:
        return self.server.connect(self.name)

    def query(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        connection = self.connect_as_superuser()
        try:
            cursor = connection.cursor()
            cursor.execute(sql, args)
            return [tuple(row) for row in cursor.fetchall()] if cursor.description else []
        finally:
            connection.close()


@pytest.fixture(scope="session")
def pg_server() -> PgServer:
    missing = [name for name in PG_VARS if not os.environ.get(name)]
    if missing:
        pytest.skip(f"PostgreSQL not configured: {', '.join(missing)} unset (run scripts/test)")
    return PgServer(
        os.environ["PGHOST"],
        int(os.environ["PGPORT"]),
        os.environ["PGUSER"],
        os.environ["PGPASSWORD"],
    )


def _run_all(connection: Any, statements: list[str]) -> None:
    cursor = connection.cursor()
    for statement in statements:
        cursor.execute(statement)


@pytest.fixture
def test_db(pg_server: PgServer) -> Iterator[ScratchDatabase]:
    token = uuid.uuid4().hex[:10]
    database = ScratchDatabase(
        pg_server, f"db_{token}", f"admin_{token}", uuid.uuid4().hex, f"t{token}"
    )
    root = pg_server.connect(os.environ["PGDATABASE"])
    try:
        _run_all(
            root,
            [
                # Parallel workers share the cluster-wide roles: one setup at a time.
                f"SELECT pg_advisory_lock({SETUP_LOCK_KEY})",
                RDS_ROLES_SQL,
                f"SELECT pg_advisory_unlock({SETUP_LOCK_KEY})",
                f"CREATE ROLE {database.admin} LOGIN CREATEROLE CREATEDB PASSWORD "
                + f"'{database.admin_password}'",
                f"GRANT rds_superuser TO {database.admin}",
                f"CREATE DATABASE {database.name} OWNER {database.admin}",
            ],
        )
        yield database
    finally:
        _drop_everything(root, database)
        root.close()


def _drop_everything(root: Any, database: ScratchDatabase) -> None:
    cursor = root.cursor()
    cursor.execute(f"DROP DATABASE IF EXISTS {database.name} WITH (FORCE)")
    cursor.execute(
        "SELECT rolname FROM pg_roles WHERE rolname LIKE %s", (database.prefix + "\\_%",)
    )
    for (role,) in cursor.fetchall():
        cursor.execute(f'DROP ROLE "{role}"')
    cursor.execute(f"DROP ROLE IF EXISTS {database.admin}")


@pytest.fixture
def admin_secret(test_db: ScratchDatabase, aws_env: dict[str, str]) -> Iterator[str]:
    """The test admin's credentials in moto's Secrets Manager, in the shape RDS writes."""
    client = boto3.client("secretsmanager")
    secret = {
        "username": test_db.admin,
        "password": test_db.admin_password,
        "engine": "postgres",
        "host": test_db.server.host,
        "port": test_db.server.port,
        "dbname": test_db.name,
    }
    arn = client.create_secret(Name=f"{test_db.name}-admin", SecretString=json.dumps(secret))["ARN"]
    yield arn
    client.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)


@pytest.fixture(scope="session")
def run_module() -> Callable[..., dict[str, Any]]:
    """Run one of our modules (no AWS needed: the direct connection), return its JSON result."""

    def run(name: str, args: dict[str, Any], check_mode: bool = False) -> dict[str, Any]:
        return run_collection_module(name, args, check_mode=check_mode)

    return run


def ansible_env() -> dict[str, str]:
    return dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(COLLECTION_ROOT), ANSIBLE_NOCOLOR="1")


def build_package(run_module: Callable[..., dict[str, Any]], dest: Path) -> dict[str, Any]:
    result = run_module("lambda_package", {"src": str(HANDLER_DIR), "dest": str(dest)})
    assert not result.get("failed"), result
    return result


@pytest.fixture(scope="session")
def lambda_zip(run_module: Callable[..., dict[str, Any]], tmp_path_factory: Any) -> Path:
    dest = tmp_path_factory.mktemp("lambda") / "db_init.zip"
    build_package(run_module, dest)
    return dest


@pytest.fixture(scope="session")
def lambda_root(lambda_zip: Path, tmp_path_factory: Any) -> Path:
    """The zip unpacked: the directory Lambda would import the handler from."""
    root = tmp_path_factory.mktemp("lambda_root")
    with zipfile.ZipFile(lambda_zip) as archive:
        archive.extractall(root)
    return root
