"""Fixtures for the Django application's tests.

Two databases:
- the harness PostgreSQL (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE), for password
  mode through a real gunicorn started by the container entry point;
- a TLS PostgreSQL started here (app_pgcluster.py), for IAM mode with verify-full, driven
  in-process through Django's WSGI handler so that the tokens can be counted.

Django's settings are process-global: in this process they are the production-like IAM
configuration; other configurations run in subprocesses.
"""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import app_harness  # puts app/ on sys.path
import app_pgcluster
import django
from django.conf import settings
from testapp.db_iam import tokens

HARNESS_VARS = ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE")


@pytest.fixture(scope="session")
def tls_pg() -> Iterator[app_pgcluster.Cluster]:
    user = app_harness.IAM_USER
    cluster = app_pgcluster.start_cluster(
        [
            f"hostssl all {user} 127.0.0.1/32 scram-sha-256",
            # IAM auth needs TLS: the role can never log in over plain TCP.
            f"hostnossl all {user} 127.0.0.1/32 reject",
        ]
    )
    try:
        app_harness.create_role_and_database(cluster.admin_dsn, user, app_harness.IAM_DB, None)
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def token_spy(tls_pg: app_pgcluster.Cluster) -> Iterator[app_harness.TokenSpy]:
    spy = app_harness.TokenSpy(admin_dsn=tls_pg.admin_dsn, real=tokens.generate_auth_token)
    tokens.generate_auth_token = spy  # type: ignore[assignment]
    try:
        yield spy
    finally:
        tokens.generate_auth_token = spy.real  # type: ignore[assignment]


@pytest.fixture(scope="session")
def django_iam(
    tls_pg: app_pgcluster.Cluster, token_spy: app_harness.TokenSpy
) -> app_harness.TokenSpy:
    """Django configured in this process: IAM mode, production security settings."""
    if not settings.configured:
        env = {**app_harness.iam_env(tls_pg), "DJANGO_SETTINGS_MODULE": "testapp.settings"}
        with TemporaryEnviron(env):
            django.setup()
            _ = settings.DATABASES  # read every setting while the variables are set
            # boto3 resolves credentials when the client is made: it keeps the fake ones.
            tokens.rds_client(settings.DATABASES["default"]["AWS_REGION"])
    return token_spy


class TemporaryEnviron:
    """Set variables only while Django reads its settings, so no other test sees them."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self.values = dict(values)
        self.saved: dict[str, str | None] = {}

    def __enter__(self) -> None:
        for name, value in self.values.items():
            self.saved[name] = os.environ.get(name)
            os.environ[name] = value

    def __exit__(self, *exc: object) -> None:
        for name, value in self.saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture(scope="session")
def harness_pg() -> str:
    missing = [name for name in HARNESS_VARS if not os.environ.get(name)]
    if missing:
        pytest.skip(f"harness PostgreSQL not configured: {', '.join(missing)} unset")
    return ""  # libpq reads the PG* variables


@pytest.fixture(scope="session")
def app_database(harness_pg: str) -> Iterator[app_harness.AppDatabase]:
    """A database and a non-superuser login role of its own, as the app gets on RDS."""
    yield from _new_app_database(harness_pg)


@pytest.fixture()
def fresh_database(harness_pg: str) -> Iterator[app_harness.AppDatabase]:
    """Like app_database, but new for one test (migrations start from nothing)."""
    yield from _new_app_database(harness_pg)


def _new_app_database(harness_pg: str) -> Iterator[app_harness.AppDatabase]:
    suffix = secrets.token_hex(4)
    name, user, password = f"app_test_{suffix}", f"app_user_{suffix}", secrets.token_urlsafe(24)
    app_harness.create_role_and_database(harness_pg, user, name, password)
    env = app_harness.production_env(
        DB_AUTH_MODE="password",
        DB_HOST=os.environ["PGHOST"],
        DB_PORT=os.environ["PGPORT"],
        DB_NAME=name,
        DB_USER=user,
        DB_PASSWORD=password,
    )
    try:
        yield app_harness.AppDatabase(env=env, name=name, user=user)
    finally:
        app_harness.drop_role_and_database(harness_pg, user, name)
