"""The launcher's contract: idempotent start, clean stop, parallel copies, RDS-like PostgreSQL."""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import pg8000.native
import pytest
from emulator_cli import SCRIPT, parse_exports, run_emulator, start_copy

from tools.emulator import launcher
from tools.emulator.processes import is_alive

REAL_PG_BIN = Path("/usr/lib/postgresql/15/bin")
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
    "DJANGO_ECS_EMULATOR_CA_BUNDLE",
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
    env = start_copy(tmp_path)
    state = _state(tmp_path)
    # A DB instance's own server must stop with the emulator too.
    boto3.client(
        "rds",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ).create_db_instance(
        DBInstanceIdentifier="stopped-with-the-emulator",
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        AllocatedStorage=20,
        MasterUsername="admin_user",
        MasterUserPassword="Password-123",
    )
    instance_data = next(Path(str(state["pg_base_dir"])).glob("instances/*/data"))
    instance_pid = int((instance_data / "postmaster.pid").read_text().split()[0])
    assert is_alive(instance_pid, str(instance_data))
    assert run_emulator("stop", tmp_path).returncode == 0
    assert not is_alive(instance_pid, str(instance_data))
    assert not is_alive(int(str(state["moto_pid"])), "tools.emulator.moto_patched")
    assert not is_alive(int(str(state["pg_pid"])), str(state["pg_base_dir"]))
    assert not Path(str(state["pg_base_dir"])).exists()
    assert not (tmp_path / "state.json").exists()
    assert run_emulator("status", tmp_path).returncode == 1


def test_a_private_session_stops_its_emulator_on_exit(monkeypatch: pytest.MonkeyPatch) -> None:
    # What session() exports is restored afterwards.
    for name in (*EXPECTED_VARIABLES, launcher.STATE_DIR_ENV):
        monkeypatch.delenv(name, raising=False)
    with launcher.session("test-session-") as env:
        directory = Path(env[launcher.STATE_DIR_ENV])
        state = _state(directory)
        assert directory.name.startswith("test-session-")
        assert set(env) >= EXPECTED_VARIABLES and env["ANSIBLE_NOCOLOR"] == "1"
        assert os.environ["AWS_ENDPOINT_URL"] == env["AWS_ENDPOINT_URL"]
        assert _answers_sts(env)
    assert not is_alive(int(str(state["moto_pid"])), "tools.emulator.moto_patched")
    assert not is_alive(int(str(state["pg_pid"])), str(state["pg_base_dir"]))
    assert not (directory / "state.json").exists()
    shutil.rmtree(directory)


def test_a_reusing_session_leaves_the_named_emulator_running(
    monkeypatch: pytest.MonkeyPatch, emulator_dir: Path, emulator_env: dict[str, str]
) -> None:
    for name, value in emulator_env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv(launcher.STATE_DIR_ENV, str(emulator_dir))
    with launcher.session("unused-", reuse_named=True) as env:
        assert env["AWS_ENDPOINT_URL"] == emulator_env["AWS_ENDPOINT_URL"]
        assert env[launcher.STATE_DIR_ENV] == str(emulator_dir)
    assert _answers_sts(emulator_env)
    assert run_emulator("status", emulator_dir).returncode == 0


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


def test_failed_start_reports_the_log_and_leaves_nothing_behind(tmp_path: Path) -> None:
    # A PostgreSQL that dies at once: initdb and pg_isready are real, the server is not.
    fake_bin = Path(tempfile.mkdtemp(prefix="emulator-fake-pg-"))
    try:
        fake_bin.chmod(0o755)  # the postgres user must reach it
        for tool in ("initdb", "pg_isready"):
            (fake_bin / tool).symlink_to(REAL_PG_BIN / tool)
        server = fake_bin / "postgres"
        server.write_text("#!/bin/sh\necho 'FATAL: broken on purpose' >&2\nexit 1\n")
        server.chmod(0o755)
        began = time.monotonic()
        result = subprocess.run(
            [str(SCRIPT), "start"],
            env={
                **os.environ,
                "DJANGO_ECS_EMULATOR_DIR": str(tmp_path),
                "DJANGO_ECS_EMULATOR_PG_BIN": str(fake_bin),
            },
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        elapsed = time.monotonic() - began
    finally:
        shutil.rmtree(fake_bin)
    assert result.returncode == 1
    assert "PostgreSQL did not start" in result.stderr
    assert "broken on purpose" in result.stderr
    assert result.stdout == ""  # nothing for `eval` to export
    assert elapsed < 20  # gave up when the process died, not at the 30 s timeout
    assert not (tmp_path / "state.json").exists()
    assert not _emulator_processes_for(tmp_path)


def _emulator_processes_for(state_dir: Path) -> list[int]:
    """Pids of moto servers started for `state_dir` (found through their environment)."""
    marker = f"DJANGO_ECS_EMULATOR_DIR={state_dir}".encode()
    pids = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if b"tools.emulator.moto_patched" not in (proc / "cmdline").read_bytes():
                continue
            if marker in (proc / "environ").read_bytes().split(b"\0"):
                pids.append(int(proc.name))
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return pids


def test_concurrent_starts_share_one_emulator(tmp_path: Path) -> None:
    environment = {**os.environ, "DJANGO_ECS_EMULATOR_DIR": str(tmp_path)}
    starts = [
        subprocess.Popen(
            [str(SCRIPT), "start"],
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        outputs = [process.communicate(timeout=60)[0] for process in starts]
        assert [process.returncode for process in starts] == [0, 0]
        assert parse_exports(outputs[0]) == parse_exports(outputs[1])
        assert len(_emulator_processes_for(tmp_path)) == 1
    finally:
        run_emulator("stop", tmp_path)


def test_a_slow_server_is_waited_for_not_restarted(tmp_path: Path) -> None:
    before = start_copy(tmp_path)
    moto_pid = int(str(_state(tmp_path)["moto_pid"]))
    try:
        os.kill(moto_pid, signal.SIGSTOP)  # alive but not answering, like a very busy server
        again = subprocess.Popen(
            [str(SCRIPT), "start"],
            env={**os.environ, "DJANGO_ECS_EMULATOR_DIR": str(tmp_path)},
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        time.sleep(3)
        os.kill(moto_pid, signal.SIGCONT)
        output = again.communicate(timeout=60)[0]
        assert again.returncode == 0
        assert parse_exports(output) == before
        assert int(str(_state(tmp_path)["moto_pid"])) == moto_pid
    finally:
        os.kill(moto_pid, signal.SIGCONT)
        run_emulator("stop", tmp_path)


def test_eval_in_bash_exports_and_keeps_a_chosen_region(
    emulator_dir: Path, emulator_env: dict[str, str]
) -> None:
    script = f'eval "$({SCRIPT} start 2>/dev/null)" && echo "$PGPORT $AWS_DEFAULT_REGION"'
    chosen = subprocess.run(
        ["bash", "-c", script],
        env={
            **os.environ,
            "DJANGO_ECS_EMULATOR_DIR": str(emulator_dir),
            "AWS_DEFAULT_REGION": "eu-west-3",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    unset = {k: v for k, v in os.environ.items() if k != "AWS_DEFAULT_REGION"}
    defaulted = subprocess.run(
        ["bash", "-c", script],
        env={**unset, "DJANGO_ECS_EMULATOR_DIR": str(emulator_dir)},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert chosen.stdout.split() == [emulator_env["PGPORT"], "eu-west-3"]
    assert defaulted.stdout.split() == [emulator_env["PGPORT"], "us-east-1"]


def test_request_latency_delays_each_answer_and_concurrent_requests_overlap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DJANGO_ECS_EMULATOR_REQUEST_LATENCY_MS (bench/): AWS-like round trips, side by side."""
    monkeypatch.setenv("DJANGO_ECS_EMULATOR_REQUEST_LATENCY_MS", "400")
    env = start_copy(tmp_path)
    try:
        _answers_sts(env)  # the first request creates the backend
        began = time.monotonic()
        _answers_sts(env)
        one = time.monotonic() - began
        began = time.monotonic()
        with ThreadPoolExecutor(max_workers=4) as pool:
            assert all(pool.map(lambda _: _answers_sts(env), range(4)))
        four = time.monotonic() - began
    finally:
        run_emulator("stop", tmp_path)
    assert one >= 0.4
    assert four < 4 * 0.4
