"""The IAM database backend against a real PostgreSQL with TLS (verify-full).

What is proven here, and how:
- tokens are real boto3 ``generate_db_auth_token`` output, signed locally with fake
  credentials (no network);
- the token is the password: the spy (app_harness.TokenSpy) makes each new token the
  role's password, so a login succeeds only with exactly that token;
- counting: every call of the token function is recorded by the spy.
Not proven here: that RDS accepts the token. The emulator checks tokens as RDS does (its README,
item 26): tests/db/test_db_migrate_as_migration_user.py runs the app's IAM backend against an
emulated instance, where only a role allowed rds-db:connect on the user gets in.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest
from app_harness import IAM_DB, IAM_USER, TokenSpy, wsgi_get
from app_pgcluster import Cluster
from django.db import OperationalError, connection
from testapp.db_iam.base import DatabaseWrapper


@pytest.fixture()
def spy(django_iam: TokenSpy) -> Iterator[TokenSpy]:
    """Start each test without a connection and with an empty token record."""

    connection.close()
    django_iam.tokens.clear()
    yield django_iam
    connection.close()


def terminate_app_sessions(admin_dsn: str) -> int:
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
            [IAM_USER],
        ).fetchall()
    return len(rows)


def test_one_token_per_connection_and_none_per_request(spy: TokenSpy) -> None:
    statuses = [wsgi_get("/readyz").status for _ in range(25)]
    assert statuses == [200] * 25
    assert len(spy.tokens) == 1


def test_requests_without_database_make_no_token(spy: TokenSpy) -> None:
    for path in ("/", "/healthz"):
        assert wsgi_get(path).status == 200
    assert spy.tokens == []


def test_a_killed_connection_reconnects_with_a_new_token(spy: TokenSpy, tls_pg: Cluster) -> None:
    assert wsgi_get("/readyz").status == 200
    time.sleep(1.1)  # tokens carry a one-second timestamp: make the next one differ
    assert terminate_app_sessions(tls_pg.admin_dsn) == 1
    # The health check at the start of the next request finds the connection dead,
    # drops it, and the reconnect signs a new token.
    assert wsgi_get("/readyz").status == 200
    assert len(spy.tokens) == 2
    assert spy.tokens[0] != spy.tokens[1]


def test_the_old_token_no_longer_logs_in_after_a_reconnect(spy: TokenSpy, tls_pg: Cluster) -> None:
    assert wsgi_get("/readyz").status == 200
    time.sleep(1.1)
    terminate_app_sessions(tls_pg.admin_dsn)
    assert wsgi_get("/readyz").status == 200
    # The reconnect could only have used the second token: the first one is refused now.
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        _connect(tls_pg, spy.tokens[0], tls_pg.certs.ca_cert)


def test_a_connection_past_conn_max_age_is_replaced_with_a_new_token(spy: TokenSpy) -> None:

    saved = connection.settings_dict["CONN_MAX_AGE"]
    connection.settings_dict["CONN_MAX_AGE"] = 1
    try:
        assert wsgi_get("/readyz").status == 200
        first_pid = _backend_pid()
        time.sleep(1.2)
        assert wsgi_get("/readyz").status == 200  # closed at the end of the previous request
        assert wsgi_get("/readyz").status == 200
    finally:
        connection.settings_dict["CONN_MAX_AGE"] = saved
    assert len(spy.tokens) == 2
    assert _backend_pid() != first_pid


def test_the_token_is_the_password_over_verified_tls(spy: TokenSpy, tls_pg: Cluster) -> None:

    assert wsgi_get("/readyz").status == 200
    info = connection.connection.info
    params = info.get_parameters()
    assert info.password == spy.tokens[-1]
    assert params["sslmode"] == "verify-full"
    assert params["sslrootcert"] == str(tls_pg.certs.ca_cert)
    assert (params["host"], params["user"], params["dbname"]) == ("localhost", IAM_USER, IAM_DB)
    with connection.cursor() as cursor:
        cursor.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        assert cursor.fetchone() == (True,)


def test_the_token_is_a_presigned_rds_db_connect_url(spy: TokenSpy, tls_pg: Cluster) -> None:
    assert wsgi_get("/readyz").status == 200
    url = urlsplit("//" + spy.tokens[-1])
    query = {key: values[0] for key, values in parse_qs(url.query).items()}
    assert (url.hostname, url.port) == ("localhost", tls_pg.port)
    assert query["Action"] == "connect"
    assert query["DBUser"] == IAM_USER
    assert query["X-Amz-Expires"] == "900"
    assert query["X-Amz-Credential"].startswith("testing/")
    assert query["X-Amz-Credential"].endswith("/us-east-1/rds-db/aws4_request")
    assert len(query["X-Amz-Signature"]) == 64


def test_verify_full_refuses_a_server_signed_by_another_ca(spy: TokenSpy, tls_pg: Cluster) -> None:

    settings = dict(connection.settings_dict)
    settings["OPTIONS"] = {**settings["OPTIONS"], "sslrootcert": str(tls_pg.certs.other_ca_cert)}
    wrapper = DatabaseWrapper(settings, alias="other_ca")
    with pytest.raises(OperationalError, match="certificate verify failed"):
        wrapper.ensure_connection()


def test_the_role_cannot_log_in_without_tls(spy: TokenSpy, tls_pg: Cluster) -> None:
    assert wsgi_get("/readyz").status == 200
    with pytest.raises(psycopg.OperationalError, match="no encryption"):
        psycopg.connect(
            host="127.0.0.1",
            port=tls_pg.port,
            user=IAM_USER,
            dbname=IAM_DB,
            password=spy.tokens[-1],
            sslmode="disable",
        )


def test_missing_credentials_surface_as_a_database_error(
    spy: TokenSpy, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:

    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    # A region not used elsewhere: its client is created now, without credentials.
    wrapper = DatabaseWrapper(
        {**connection.settings_dict, "AWS_REGION": "eu-south-2"}, alias="nocreds"
    )
    with pytest.raises(OperationalError, match="IAM auth token not generated"):
        wrapper.ensure_connection()


def _backend_pid() -> int:

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return int(cursor.fetchone()[0])


def _connect(cluster: Cluster, password: str, ca_cert: Path) -> psycopg.Connection:
    return psycopg.connect(
        host="localhost",
        port=cluster.port,
        user=IAM_USER,
        dbname=IAM_DB,
        password=password,
        sslmode="verify-full",
        sslrootcert=str(ca_cert),
    )
