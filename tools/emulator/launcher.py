"""Start, stop and describe the local AWS emulator: patched moto + PostgreSQL, on loopback.

State lives in `.emulator/` at the repository root, or in `$DJANGO_ECS_EMULATOR_DIR` so that
a second copy can run next to the first: `state.json` (pids, ports, PostgreSQL credentials,
mode 0600), `logs/moto.log`, `logs/postgres.log`, and a lock file serialising start/stop.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from tools.emulator import (
    alb_dataplane,
    ecr_blobs,
    ecs_registry,
    postgres,
    rds_postgres,
    rds_servers,
    tls,
)
from tools.emulator.processes import (
    LOOPBACK,
    free_loopback_ports,
    is_alive,
    tail,
    terminate,
    wait_until,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
STATE_DIR_ENV = "DJANGO_ECS_EMULATOR_DIR"
MOTO_MARKER = "tools.emulator.moto_patched"
START_TIMEOUT = 30.0
BUSY_GRACE = 15.0
# Lambda's docker-free backend: Invoke answers without starting a container (no Docker here).
MOTO_CONFIG = {"lambda": {"use_docker": False}}


class EmulatorError(RuntimeError):
    """The emulator could not be started or is not running."""


@dataclass(frozen=True)
class EmulatorState:
    moto_pid: int
    moto_port: int
    pg_pid: int
    pg_port: int
    pg_user: str
    pg_password: str
    pg_base_dir: str  # mktemp folder holding the data dir and the Unix socket
    started_at: float
    code_version: str = ""  # fingerprint of tools/emulator when it started

    @property
    def endpoint_url(self) -> str:
        return f"http://{LOOPBACK}:{self.moto_port}"


# The code that shapes what the running servers answer (not the launcher's own).
SERVER_CODE = (
    "moto_patched.py",
    "alb_dataplane.py",
    "alb_health.py",
    "alb_tls.py",
    "lambda_runtime.py",
    "ecr_blobs.py",
    "ecs_images.py",
    "ecs_runtime.py",
    "ecs_services.py",
    "netns.py",
    "addresses.py",
    "ecs_registry.py",
    "rds_engine_defaults.py",
    "rds_postgres.py",
    "rds_servers.py",
    "postgres.py",
    "tls.py",
    "iam_db_auth.py",
    "ldap_bind.py",
)


def code_version() -> str:
    """Fingerprint of the servers' code, to notice a server older than the checkout."""
    digest = hashlib.sha256()
    for name in SERVER_CODE:
        digest.update((Path(__file__).parent / name).read_bytes())
    return digest.hexdigest()[:16]


def is_stale(state: EmulatorState) -> bool:
    return state.code_version != code_version()


def state_dir() -> Path:
    configured = os.environ.get(STATE_DIR_ENV)
    return Path(configured).resolve() if configured else REPO_ROOT / ".emulator"


def _state_file(directory: Path) -> Path:
    return directory / "state.json"


def load_state(directory: Path) -> EmulatorState | None:
    try:
        return EmulatorState(**json.loads(_state_file(directory).read_text()))
    except (FileNotFoundError, json.JSONDecodeError, TypeError):
        return None


def save_state(directory: Path, state: EmulatorState) -> None:
    """Write atomically, readable by the owner only (it holds the superuser password)."""
    target = _state_file(directory)
    temporary = target.with_suffix(".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(asdict(state), handle, indent=2)
    os.chmod(temporary, 0o600)
    temporary.replace(target)


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """One start/stop at a time per state dir (the test runner and molecule may race)."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / "lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ca_bundle(directory: Path | None = None) -> Path:
    """The CA bundle that verifies the emulator's RDS servers (AWS's is global-bundle.pem)."""
    return (directory or state_dir()) / "rds-ca-bundle.pem"


def env_vars(state: EmulatorState, directory: Path | None = None) -> dict[str, str]:
    """What clients need: the AWS endpoint with fake credentials, libpq's variables, the CA."""
    return {
        "AWS_ENDPOINT_URL": state.endpoint_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
        "PGHOST": LOOPBACK,
        "PGPORT": str(state.pg_port),
        "PGUSER": state.pg_user,
        "PGPASSWORD": state.pg_password,
        "PGDATABASE": "postgres",
        "DJANGO_ECS_EMULATOR": "1",
        "DJANGO_ECS_EMULATOR_CA_BUNDLE": str(ca_bundle(directory)),
    }


def export_lines(state: EmulatorState) -> str:
    lines = []
    for name, value in env_vars(state).items():
        if name == "AWS_DEFAULT_REGION":
            # Only a default: a region the caller already chose wins when evaluated.
            lines.append('export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"')
        else:
            lines.append(f"export {name}={shlex.quote(value)}")
    return "\n".join(lines) + "\n"


# Health ---------------------------------------------------------------------------------------
def moto_healthy(state: EmulatorState) -> bool:
    if not is_alive(state.moto_pid, MOTO_MARKER):
        return False
    try:
        with urllib.request.urlopen(f"{state.endpoint_url}/moto-api/", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def postgres_healthy(state: EmulatorState) -> bool:
    base = Path(state.pg_base_dir)
    return postgres.server_alive(state.pg_pid, base) and postgres.is_ready(state.pg_port)


def health(state: EmulatorState) -> dict[str, bool]:
    return {"moto": moto_healthy(state), "postgres": postgres_healthy(state)}


def _usable(state: EmulatorState) -> bool:
    """Healthy, or alive and healthy again within BUSY_GRACE: a server busy with other clients'
    requests may answer late, and restarting it would pull it from under them."""
    if all(health(state).values()):
        return True
    alive = is_alive(state.moto_pid, MOTO_MARKER) and postgres.server_alive(
        state.pg_pid, Path(state.pg_base_dir)
    )
    return alive and wait_until(lambda: all(health(state).values()), BUSY_GRACE, interval=0.5)


# Start ----------------------------------------------------------------------------------------
def start(directory: Path | None = None) -> EmulatorState:
    """Start both servers, or return the running ones untouched if they are healthy."""
    directory = directory or state_dir()
    with _locked(directory):
        state = load_state(directory)
        if state is not None and _usable(state):
            return state
        if state is not None:
            _teardown(directory, state)  # half-dead: start afresh
        try:
            return _launch(directory)
        except EmulatorError:
            # A free port can be taken between choosing and binding it: one more try.
            return _launch(directory)


def _launch(directory: Path) -> EmulatorState:
    logs = directory / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    moto_port, pg_port = free_loopback_ports(2)
    password = secrets.token_urlsafe(24)
    runtime = postgres.PgRuntime.detect()
    base = postgres.make_base_dir(runtime)
    _make_certificates(runtime, base, directory)
    moto = _spawn_moto(moto_port, password, base, logs)
    state = EmulatorState(
        moto_pid=moto.pid,
        moto_port=moto_port,
        pg_pid=0,
        pg_port=pg_port,
        pg_user=postgres.SUPERUSER,
        pg_password=password,
        pg_base_dir=str(base),
        started_at=time.time(),
        code_version=code_version(),
    )
    save_state(directory, state)  # from here on, stop() can clean up whatever happens
    try:
        with open(logs / "postgres.log", "ab") as pg_log:
            # One initdb: the template every DB instance's server is cloned from.
            template = postgres.init_cluster(runtime, base, password, pg_log, rds_servers.TEMPLATE)
            data_dir = base / "data"
            postgres.clone_cluster(runtime, template, data_dir, pg_log)
            # The bare server of tests (PG* variables) has no TLS; RDS endpoints do (rds_servers).
            server = postgres.start_server(runtime, base, data_dir, pg_port, pg_log)
        state = EmulatorState(**{**asdict(state), "pg_pid": server.pid})
        save_state(directory, state)
        _wait_healthy(state, logs)
        postgres.create_rds_roles(pg_port, password)
        _configure_moto(state)
    except BaseException:
        _teardown(directory, state)
        raise
    return state


def _make_certificates(runtime: postgres.PgRuntime, base: Path, directory: Path) -> None:
    """The emulator's CA and the servers' certificate; clients get the CA bundle."""
    files = tls.make_certificates(base / rds_servers.TLS_DIR)
    for path in (
        files.ca_bundle.parent,
        files.ca_bundle,
        files.server_certificate,
        files.server_key,
    ):
        runtime.hand_over(path)  # the server (user postgres) must own its key
    ca_bundle(directory).write_bytes(files.ca_bundle.read_bytes())


def _spawn_moto(port: int, pg_password: str, base: Path, logs: Path) -> subprocess.Popen[bytes]:
    environment = {
        **os.environ,
        "MOTO_IAM_LOAD_MANAGED_POLICIES": "true",
        rds_postgres.ENV_USER: postgres.SUPERUSER,
        rds_postgres.ENV_PASSWORD: pg_password,
        rds_servers.ENV_BASE: str(base),
        rds_servers.ENV_LOGS: str(logs),
        alb_dataplane.ENV_STATE_DIR: str(logs.parent),  # where alb-listeners.json goes
        ecr_blobs.STATE_DIR_ENV: str(logs.parent),  # pushed blobs, ECS task roots and records
        "PYTHONUNBUFFERED": "1",
    }
    with open(logs / "moto.log", "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", MOTO_MARKER, "--port", str(port)],
            cwd=REPO_ROOT,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # survives the launcher; stop() signals its group
        )


def _wait_healthy(state: EmulatorState, logs: Path) -> None:
    base = Path(state.pg_base_dir)
    _await_server(
        "PostgreSQL",
        lambda: postgres_healthy(state),
        lambda: postgres.server_alive(state.pg_pid, base),
        logs / "postgres.log",
    )
    _await_server(
        "moto",
        lambda: moto_healthy(state),
        lambda: is_alive(state.moto_pid, MOTO_MARKER),
        logs / "moto.log",
    )


def _await_server(
    name: str, healthy: Callable[[], bool], alive: Callable[[], bool], log: Path
) -> None:
    # Give up as soon as the process is gone (port taken, bad option...), not at the timeout.
    wait_until(lambda: healthy() or not alive(), START_TIMEOUT)
    if not healthy():
        raise EmulatorError(f"{name} did not start:\n{tail(log)}")


def _configure_moto(state: EmulatorState) -> None:
    request = urllib.request.Request(
        f"{state.endpoint_url}/moto-api/config",
        data=json.dumps(MOTO_CONFIG).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        applied = json.loads(response.read())
    if applied.get("lambda") != MOTO_CONFIG["lambda"]:
        raise EmulatorError(f"moto refused its configuration: {applied}")


@contextlib.contextmanager
def session(prefix: str, *, reuse_named: bool = False) -> Iterator[dict[str, str]]:
    """An environment for playbooks and in-process boto3 on an emulator, exported to os.environ.

    With reuse_named, the emulator AWS_ENDPOINT_URL names is used as it is and left running.
    Otherwise a private one starts in a fresh temporary directory (`prefix` names it) and is
    stopped on exit, with its PostgreSQL and the stacks' task processes: a measurement must not
    leave servers behind that load the next one.
    """
    private = not (reuse_named and os.environ.get("AWS_ENDPOINT_URL"))
    if private:
        os.environ[STATE_DIR_ENV] = tempfile.mkdtemp(prefix=prefix)
        os.environ.update(env_vars(start()))
    try:
        yield {
            **os.environ,
            "ANSIBLE_NOCOLOR": "1",
            # The venv's ansible-playbook and python, whichever shell started the caller.
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        }
    finally:
        if private:
            stop()


# Stop -----------------------------------------------------------------------------------------
def stop(directory: Path | None = None) -> bool:
    """Stop both servers and remove the PostgreSQL data. False if nothing was recorded."""
    directory = directory or state_dir()
    with _locked(directory):
        state = load_state(directory)
        if state is None:
            return False
        _teardown(directory, state)
        return True


def _teardown(directory: Path, state: EmulatorState) -> None:
    # ECS task processes are process groups of their own: the server's signal misses them.
    ecs_registry.stop_all(directory)
    postgres.stop_server(state.pg_pid, Path(state.pg_base_dir))
    terminate(state.moto_pid, MOTO_MARKER, (signal.SIGTERM, signal.SIGKILL), grace=5)
    (directory / alb_dataplane.LISTING_FILE).unlink(missing_ok=True)  # those ports are closed
    ecs_registry.stop_all(directory)  # any the server started while it was being stopped
    # What lived in the server's memory (ECR images, tasks) is gone: so are their files.
    for leftover in (directory / "ecr", directory / "ecs"):
        shutil.rmtree(leftover, ignore_errors=True)
    _state_file(directory).unlink(missing_ok=True)
