"""The container entry point on the host: gunicorn serving, migrate, deployment checks.

Password mode against the harness PostgreSQL, with a login role of the app's own.
"""

from __future__ import annotations

import json
import select
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import app_harness
import psycopg
import pytest
from app_harness import AppDatabase, Server, production_env, run_entrypoint, start_server
from app_pgcluster import free_port
from testapp.management.commands.migrate import MIGRATION_LOCK_KEY

ALB_TARGET_IP = "10.0.12.34"


@pytest.fixture(scope="module")
def server(app_database: AppDatabase, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    log = tmp_path_factory.mktemp("gunicorn") / "serve.log"
    # The tag the ecs_service role puts in the task definition's environment.
    running = start_server({**app_database.env, "APP_IMAGE_TAG": "0123456789ab"}, log)
    yield running
    running.stop()


def test_entrypoint_serve_execs_gunicorn(server: Server) -> None:
    # exec: the entry point's own process *is* the gunicorn master (PID 1 in the container).
    cmdline = Path(f"/proc/{server.process.pid}/cmdline").read_bytes().split(b"\0")
    assert any(b"gunicorn" in part for part in cmdline)


def test_every_endpoint_through_gunicorn(server: Server) -> None:
    assert server.get("/") == (200, "Hello, world!\n")
    assert server.get("/healthz", host=ALB_TARGET_IP, proto="http") == (200, "ok\n")
    status, body = server.get("/readyz")
    assert (status, json.loads(body)) == (200, {"status": "ready", "version": "0123456789ab"})


def test_unknown_host_is_rejected_except_on_healthz(server: Server) -> None:
    assert server.get("/", host=ALB_TARGET_IP)[0] == 400
    assert server.get("/readyz", host=ALB_TARGET_IP)[0] == 400
    assert server.get("/healthz", host=ALB_TARGET_IP)[0] == 200


def test_readyz_uses_the_apps_own_database_user(server: Server, app_database: AppDatabase) -> None:
    assert server.get("/readyz")[0] == 200
    with psycopg.connect("", autocommit=True) as admin:
        users = admin.execute(
            "SELECT DISTINCT usename FROM pg_stat_activity WHERE datname = %s", [app_database.name]
        ).fetchall()
    assert users == [(app_database.user,)]


def test_logs_are_json_lines_with_structured_access_entries(server: Server) -> None:
    server.get("/readyz")
    time.sleep(0.3)  # the access line is written after the response
    entries = [json.loads(line) for line in server.log().splitlines() if line.strip()]
    access = [e for e in entries if e["logger"] == "gunicorn.access" and e.get("path") == "/readyz"]
    assert access, entries
    assert access[-1]["status"] == 200
    assert access[-1]["method"] == "GET"
    assert isinstance(access[-1]["duration_ms"], int)


def test_readyz_is_503_with_a_short_reason_when_the_database_is_down(
    app_database: AppDatabase, tmp_path: Path
) -> None:
    down = {**app_database.env, "DB_PORT": str(free_port()), "DB_CONNECT_TIMEOUT": "2"}
    server = start_server(down, tmp_path / "down.log")
    try:
        status, body = server.get("/readyz")
        assert (status, json.loads(body)) == (
            503,
            {"status": "unavailable", "reason": "database unreachable"},
        )
        # Liveness does not depend on the database: ECS must not kill tasks for an outage.
        assert server.get("/healthz", host=ALB_TARGET_IP, proto="http")[0] == 200
        assert server.get("/")[0] == 200
    finally:
        server.stop()


def test_sigterm_stops_gunicorn_gracefully_within_the_stop_timeout(
    app_database: AppDatabase, tmp_path: Path
) -> None:
    server = start_server(
        {**app_database.env, "GUNICORN_GRACEFUL_TIMEOUT": "10"}, tmp_path / "stop.log"
    )
    started = time.monotonic()
    assert server.stop(timeout=30) == 0
    assert time.monotonic() - started < 10
    assert "Handling signal: term" in server.log()


def test_migrate_applies_migrations_then_finds_nothing_to_do(fresh_database: AppDatabase) -> None:
    first = run_entrypoint(["migrate"], fresh_database.env)
    assert first.returncode == 0, first.stderr
    assert "Applying contenttypes.0001_initial" in first.stdout
    second = run_entrypoint(["migrate"], fresh_database.env)
    assert second.returncode == 0, second.stderr
    assert "No migrations to apply" in second.stdout
    with psycopg.connect(dbname=fresh_database.name, autocommit=True) as admin:
        owner = admin.execute(
            "SELECT tableowner FROM pg_tables WHERE tablename = 'django_migrations'"
        ).fetchone()
    assert owner == (fresh_database.user,)


def test_a_second_migrate_waits_for_the_advisory_lock(fresh_database: AppDatabase) -> None:

    with psycopg.connect(dbname=fresh_database.name, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK_KEY])
        waiting = subprocess.Popen(
            [str(app_harness.ENTRYPOINT), "migrate"],
            env=app_harness.subprocess_env(fresh_database.env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert waiting.stdout is not None
        assert "Waiting for another migrate" in _read_line(waiting.stdout, timeout=30)
        assert waiting.poll() is None
        holder.execute("SELECT pg_advisory_unlock(%s)", [MIGRATION_LOCK_KEY])
        rest = waiting.stdout.read()
        assert waiting.wait(timeout=60) == 0, rest


def test_migrate_gives_up_when_the_lock_is_held_too_long(fresh_database: AppDatabase) -> None:

    with psycopg.connect(dbname=fresh_database.name, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK_KEY])
        result = run_entrypoint(["migrate", "--lock-timeout", "2"], fresh_database.env)
    assert result.returncode == 1
    assert "still holds the lock" in result.stderr


def _read_line(stream: IO[str], timeout: float) -> str:
    ready, _, _ = select.select([stream], [], [], timeout)
    assert ready, f"no output within {timeout}s"
    return stream.readline()


CHECK_DB = {
    "DB_AUTH_MODE": "iam",
    "DB_HOST": "db.example.test",
    "DB_NAME": "appdb",
    "DB_USER": "app_user",
}


def test_check_deploy_is_clean_with_production_settings() -> None:
    result = run_entrypoint(["check"], production_env(**CHECK_DB))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_check_deploy_fails_without_https_settings() -> None:
    result = run_entrypoint(["check"], production_env(DJANGO_SECURE_SSL="0", **CHECK_DB))
    assert result.returncode != 0
    assert "security.W004" in result.stderr  # no HSTS


def test_startup_refuses_a_missing_secret_key() -> None:
    env = production_env(**CHECK_DB)
    del env["DJANGO_SECRET_KEY"]
    result = run_entrypoint(["check"], env)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is required" in result.stderr


def test_iam_mode_refuses_a_database_password() -> None:
    result = run_entrypoint(["check"], production_env(DB_PASSWORD="master-password", **CHECK_DB))
    assert result.returncode != 0
    assert "DB_PASSWORD must not be set when DB_AUTH_MODE=iam" in result.stderr


def test_entrypoint_runs_any_other_command_as_given() -> None:
    result = run_entrypoint(["python", "-c", "print('hi from the image')"], {})
    assert (result.returncode, result.stdout) == (0, "hi from the image\n")


def gunicorn_settings(app_env: dict[str, str]) -> dict[str, str]:
    result = subprocess.run(
        ["gunicorn", "--config", "gunicorn.conf.py", "--print-config"],
        cwd=app_harness.APP_DIR,
        # --print-config also loads the app (check-config): give it a full environment.
        env=app_harness.subprocess_env({**production_env(**CHECK_DB), **app_env}),
        check=True,
        capture_output=True,
        text=True,
        timeout=30,
    )
    pairs = (line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    return {name.strip(): value.strip() for name, value in pairs}


def test_gunicorn_takes_its_sizing_and_timeouts_from_the_environment() -> None:
    settings = gunicorn_settings(
        {
            "GUNICORN_WORKERS": "3",
            "GUNICORN_THREADS": "5",
            "GUNICORN_TIMEOUT": "40",
            "GUNICORN_GRACEFUL_TIMEOUT": "20",
        }
    )
    assert (settings["workers"], settings["threads"], settings["worker_class"]) == (
        "3",
        "5",
        "gthread",
    )
    assert (settings["timeout"], settings["graceful_timeout"]) == ("40", "20")


def test_gunicorn_defaults_fit_ecs_and_the_alb() -> None:
    settings = gunicorn_settings({})
    assert settings["bind"] == "['0.0.0.0:8000']"
    assert int(settings["graceful_timeout"]) < 30  # ECS stopTimeout default: SIGKILL after 30 s
    assert int(settings["keepalive"]) > 60  # ALB idle timeout: the ALB closes first
    assert settings["accesslog"] == "-"
    # Read-only root: nothing written outside /tmp (no control socket under $HOME).
    assert (settings["worker_tmp_dir"], settings["control_socket_disable"]) == ("/tmp", "True")


def test_a_single_thread_uses_the_sync_worker() -> None:
    assert gunicorn_settings({"GUNICORN_THREADS": "1"})["worker_class"] == "sync"
