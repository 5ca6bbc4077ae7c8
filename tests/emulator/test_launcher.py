"""The launcher's contract: idempotent start, clean stop, parallel copies, RDS-like PostgreSQL."""

from __future__ import annotations

import json
import stat
import time
from pathlib import Path

import boto3
import pg8000.native
from emulator_cli import parse_exports, run_emulator, start_copy

from tools.emulator.processes import is_alive

EXPECTED_VARIABLES = {
    "AWS_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_DEFAULT_REGION",
    "PGHOST",
    "PGPORT",
    "PGUSER",
    "PGPASSWORD",
    "PGDATABASE",
    "DJANGO_ECS_EMULATOR",
}


def _state(state_dir: Path) -> dict[str, object]:
    return json.loads((state_dir / "state.json").read_text())


def _superuser(env: dict[str, str]) -> pg8000.native.Connection:
    return pg8000.native.Connection(
        user=env["PGUSER"],
        password=env["PGPASSWORD"],
        host=env["PGHOST"],
        port=int(env["PGPORT"]),
        database=env["PGDATABASE"],
    )


def _answers_sts(env: dict[str, str]) -> bool:
    sts = boto3.client(
        "sts",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    return bool(sts.get_caller_identity()["Account"])


def test_start_prints_every_variable_on_loopback(emulator_env: dict[str, str]) -> None:
    assert set(emulator_env) == EXPECTED_VARIABLES
    assert emulator_env["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
    assert emulator_env["PGHOST"] == "127.0.0.1"
    assert (emulator_env["AWS_ACCESS_KEY_ID"], emulator_env["DJANGO_ECS_EMULATOR"]) == (
        "testing",
        "1",
    )
    assert _answers_sts(emulator_env)


def test_second_start_is_a_no_op_with_the_same_ports(
    emulator_dir: Path, emulator_env: dict[str, str]
) -> None:
    pids_before = _state(emulator_dir)
    again = run_emulator("start", emulator_dir)
    assert again.returncode == 0
    assert parse_exports(again.stdout) == emulator_env
    assert _state(emulator_dir) == pids_before


def test_env_repeats_what_start_printed(emulator_dir: Path, emulator_env: dict[str, str]) -> None:
    printed = run_emulator("env", emulator_dir)
    assert printed.returncode == 0
    assert parse_exports(printed.stdout) == emulator_env


def test_status_succeeds_only_while_running(emulator_dir: Path, tmp_path: Path) -> None:
    assert run_emulator("status", emulator_dir).returncode == 0
    assert run_emulator("status", tmp_path / "never-started").returncode == 1
    assert run_emulator("env", tmp_path / "never-started").returncode == 1


def test_state_file_is_private_and_logs_exist(emulator_dir: Path) -> None:
    assert stat.S_IMODE((emulator_dir / "state.json").stat().st_mode) == 0o600
    assert (emulator_dir / "logs" / "moto.log").is_file()
    assert (emulator_dir / "logs" / "postgres.log").is_file()


def test_postgres_has_the_rds_roles(emulator_env: dict[str, str]) -> None:
    session = _superuser(emulator_env)
    roles = session.run(
        "SELECT rolname, rolcanlogin FROM pg_roles"
        " WHERE rolname IN ('rds_iam', 'rds_superuser') ORDER BY rolname"
    )
    is_superuser = session.run("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
    session.close()
    assert roles == [["rds_iam", False], ["rds_superuser", False]]
    assert is_superuser == [[True]]


def test_data_dir_belongs_to_postgres_under_a_temp_folder(emulator_dir: Path) -> None:
    base = Path(str(_state(emulator_dir)["pg_base_dir"]))
    assert base.name.startswith("django-ecs-emulator-pg-")
    assert (base / "data").owner() == "postgres"


def test_stop_leaves_no_processes_and_no_data(tmp_path: Path) -> None:
    start_copy(tmp_path)
    state = _state(tmp_path)
    assert run_emulator("stop", tmp_path).returncode == 0
    assert not is_alive(int(str(state["moto_pid"])), "tools.emulator.moto_patched")
    assert not is_alive(int(str(state["pg_pid"])), str(state["pg_base_dir"]))
    assert not Path(str(state["pg_base_dir"])).exists()
    assert not (tmp_path / "state.json").exists()
    assert run_emulator("status", tmp_path).returncode == 1


def test_two_copies_run_side_by_side(emulator_dir: Path, tmp_path: Path) -> None:
    first = start_copy(emulator_dir)
    began = time.monotonic()
    second = start_copy(tmp_path)
    startup_seconds = time.monotonic() - began
    try:
        assert second["AWS_ENDPOINT_URL"] != first["AWS_ENDPOINT_URL"]
        assert second["PGPORT"] != first["PGPORT"]
        assert run_emulator("status", tmp_path).returncode == 0
        assert _answers_sts(second)
        assert startup_seconds < 10
    finally:
        run_emulator("stop", tmp_path)
    assert run_emulator("status", emulator_dir).returncode == 0
    assert _answers_sts(first)


def test_start_replaces_a_half_dead_emulator(tmp_path: Path) -> None:
    start_copy(tmp_path)
    old = _state(tmp_path)
    try:
        run_emulator("stop", tmp_path)  # processes gone, then pretend the state survived
        (tmp_path / "state.json").write_text(json.dumps(old))
        assert run_emulator("status", tmp_path).returncode == 1
        fresh = start_copy(tmp_path)
        assert run_emulator("status", tmp_path).returncode == 0
        assert _answers_sts(fresh)
    finally:
        run_emulator("stop", tmp_path)
