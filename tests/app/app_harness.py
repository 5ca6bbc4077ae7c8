"""Helpers shared by the app tests and bench/app_http.py (no pytest here).

Module names in tests/app start with ``app_``: pytest's default import mode needs test
module basenames unique across the whole tests/ tree.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from wsgiref.util import setup_testing_defaults

import psycopg
from django.core.wsgi import get_wsgi_application
from psycopg import sql

TESTS_DIR = Path(__file__).resolve().parent
REPO = TESTS_DIR.parent.parent
APP_DIR = REPO / "app"
ENTRYPOINT = APP_DIR / "docker-entrypoint.sh"
if str(APP_DIR) not in sys.path:
    sys.path.insert(0, str(APP_DIR))

import app_pgcluster  # noqa: E402

APP_HOST = "app.example.test"
IAM_USER = "app_iam"
IAM_DB = "appdb"

# Signing only, never sent anywhere; the instance metadata service must never be tried.
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def production_env(**overrides: str) -> dict[str, str]:
    """The environment the ECS task definition sets, with the secrets filled in."""
    env = {
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": APP_HOST,
        "DJANGO_SECURE_SSL": "1",
        "LOG_LEVEL": "INFO",
        **FAKE_AWS,
    }
    return {**env, **overrides}


def iam_env(cluster: app_pgcluster.Cluster, **overrides: str) -> dict[str, str]:
    return production_env(
        DB_AUTH_MODE="iam",
        DB_HOST="localhost",  # a name, so verify-full checks it against the certificate
        DB_PORT=str(cluster.port),
        DB_NAME=IAM_DB,
        DB_USER=IAM_USER,
        DB_SSLROOTCERT=str(cluster.certs.ca_cert),
        DB_CONN_MAX_AGE="300",
        **overrides,
    )


def create_role_and_database(
    admin_conninfo: str, user: str, database: str, password: str | None
) -> None:
    with psycopg.connect(admin_conninfo, autocommit=True) as admin:
        login = sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(user))
        if password is not None:
            login = sql.SQL("{} PASSWORD {}").format(login, sql.Literal(password))
        admin.execute(login)
        admin.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(database), sql.Identifier(user)
            )
        )


def drop_role_and_database(admin_conninfo: str, user: str, database: str) -> None:
    with psycopg.connect(admin_conninfo, autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
        )
        admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(user)))


@dataclass(frozen=True)
class AppDatabase:
    """A database with a login role of its own, and the app's environment to reach it."""

    env: dict[str, str]
    name: str
    user: str


@dataclass
class TokenSpy:
    """Wraps the real token function: records each token and makes it the role's password.

    PostgreSQL cannot check an IAM token, so the spy sets the role's password to the
    token just generated. The login then succeeds only if the backend sends exactly that
    token as the password: a cached, stale or missing token is refused by the server.
    """

    admin_dsn: str
    real: Any
    tokens: list[str] = field(default_factory=list)

    def __call__(self, host: str, port: int, user: str, region: str) -> str:
        token: str = self.real(host=host, port=port, user=user, region=region)
        with psycopg.connect(self.admin_dsn, autocommit=True) as admin:
            admin.execute(
                sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                    sql.Identifier(user), sql.Literal(token)
                )
            )
        self.tokens.append(token)
        return token


@dataclass
class Server:
    """A gunicorn started by the container entry point, on a free loopback port."""

    process: subprocess.Popen[str]
    base_url: str
    log_path: Path

    def get(self, path: str, host: str = APP_HOST, proto: str = "https") -> tuple[int, str]:
        request = urllib.request.Request(
            self.base_url + path, headers={"Host": host, "X-Forwarded-Proto": proto}
        )
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def log(self) -> str:
        return self.log_path.read_text()

    def stop(self, timeout: float = 40.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            return self.process.wait(timeout=timeout)
        return self.process.returncode


def subprocess_env(app_env: Mapping[str, str]) -> dict[str, str]:
    """PATH with this venv first (so its gunicorn is found) plus only the app's variables."""
    keep = {name: os.environ[name] for name in ("PATH", "HOME", "LANG") if name in os.environ}
    keep["PATH"] = str(Path(sys.executable).parent) + os.pathsep + keep.get("PATH", "")
    return {**keep, "PYTHONDONTWRITEBYTECODE": "1", **app_env}


def start_server(app_env: Mapping[str, str], log_path: Path, timeout: float = 30.0) -> Server:
    port = app_pgcluster.free_port()
    env = subprocess_env(
        {
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            "GUNICORN_WORKERS": "1",
            "GUNICORN_THREADS": "2",
            **app_env,
        }
    )
    log = log_path.open("w")
    process = subprocess.Popen(
        [str(ENTRYPOINT), "serve"], env=env, stdout=log, stderr=subprocess.STDOUT, text=True
    )
    server = Server(process=process, base_url=f"http://127.0.0.1:{port}", log_path=log_path)
    wait_live(server, timeout)
    return server


def wait_live(server: Server, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited early:\n{server.log()}")
        try:
            if server.get("/healthz", host="127.0.0.1", proto="http")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"gunicorn did not answer /healthz:\n{server.log()}")


def run_entrypoint(
    command: list[str], app_env: Mapping[str, str], timeout: float = 120.0
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ENTRYPOINT), *command],
        check=False,
        env=subprocess_env(app_env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@dataclass(frozen=True)
class WsgiResponse:
    status: int
    headers: dict[str, str]
    body: bytes


def wsgi_get(
    path: str, host: str = APP_HOST, proto: str = "https", method: str = "GET"
) -> WsgiResponse:
    """One request through Django's real WSGI handler, as gunicorn calls it.

    Django's test Client disconnects the request_started/finished signals that close
    obsolete or broken connections; the IAM tests need that lifecycle, so this does not
    use the test Client.
    """
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "HTTP_HOST": host,
        "HTTP_X_FORWARDED_PROTO": proto,
        "REMOTE_ADDR": "10.0.1.10",
    }
    setup_testing_defaults(environ)
    captured: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        captured["status"] = int(status.split(" ", 1)[0])
        captured["headers"] = dict(headers)

    result = get_wsgi_application()(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        result.close()  # sends request_finished, as gunicorn does
    return WsgiResponse(status=captured["status"], headers=captured["headers"], body=body)
