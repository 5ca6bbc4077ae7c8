"""The emulator's PostgreSQL 15 server: the stand-in for RDS.

PostgreSQL refuses to run as root, so when the launcher is root the server runs as the
`postgres` user from a data directory it owns, under a private temporary folder.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import ssl
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pg8000.native

from tools.emulator.processes import LOOPBACK, is_alive, terminate

PG_BIN = Path(os.environ.get("DJANGO_ECS_EMULATOR_PG_BIN", "/usr/lib/postgresql/15/bin"))
BASE_PREFIX = "django-ecs-emulator-pg-"
SUPERUSER = "rdsadmin"  # RDS's own name for the superuser customers never get

# What RDS has that plain PostgreSQL lacks and our code relies on: rds_iam (granted to users
# who authenticate with IAM tokens) and rds_superuser (the master user's role). rds_superuser is
# no member of rds_iam: a member, even through a nested grant, logs in with IAM tokens only (RDS
# User Guide, "Database authentication with Amazon RDS"), and the master user logs in with its
# password. The master user's CREATEROLE is enough to grant rds_iam in PostgreSQL 15.
RDS_ROLES_SQL = (
    "CREATE ROLE rds_superuser NOLOGIN",
    "CREATE ROLE rds_iam NOLOGIN",
    "GRANT pg_monitor, pg_signal_backend TO rds_superuser",
)

# Throwaway data: durability settings off for speed.
SERVER_SETTINGS = (
    "fsync=off",
    "synchronous_commit=off",
    "full_page_writes=off",
    "max_connections=200",
    "log_line_prefix=%m [%p] %q%u@%d ",
)
# A server per emulated DB instance: small, as many may run side by side.
INSTANCE_SETTINGS = (
    "fsync=off",
    "synchronous_commit=off",
    "full_page_writes=off",
    "max_connections=100",
    "shared_buffers=16MB",
    "log_line_prefix=%m [%p] %q%u@%d ",
)
# RDS with rds.force_ssl=1 (the default from PostgreSQL 15 on): TCP clients must use TLS.
TLS_ONLY_HBA = """\
local   all           all                       peer
hostssl all           all          127.0.0.1/32 scram-sha-256
hostssl replication   all          127.0.0.1/32 scram-sha-256
"""
# RDS IAM database authentication: members of rds_iam log in only with an auth token, which the
# emulator's LDAP bind server checks (iam_db_auth.py). PostgreSQL binds as "<user>@<endpoint>"
# (simple-bind mode: ldapsuffix) with the token as the password. First match wins, so this line
# comes before the password lines.
IAM_HBA = (
    "hostssl all           +rds_iam     127.0.0.1/32 ldap ldapserver=127.0.0.1 "
    'ldapport={ldap_port} ldapsuffix="@{host}:{port}"\n'
)


@dataclass(frozen=True)
class PgRuntime:
    """Who runs the server: `postgres` when we are root, else ourselves."""

    user: str | None

    @classmethod
    def detect(cls) -> PgRuntime:
        return cls(user="postgres" if os.geteuid() == 0 else None)

    def hand_over(self, path: Path) -> None:
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def popen_user(self) -> dict[str, object]:
        if self.user is None:
            return {}
        return {"user": self.user, "group": self.user, "extra_groups": []}


def make_base_dir(runtime: PgRuntime) -> Path:
    """A fresh mktemp folder the server user owns (so it can create its data dir there)."""
    base = Path(tempfile.mkdtemp(prefix=BASE_PREFIX))
    base.chmod(0o700)
    runtime.hand_over(base)
    return base


def init_cluster(
    runtime: PgRuntime, base: Path, password: str, log: IO[bytes], name: str = "data"
) -> Path:
    """initdb with a password-protected superuser; returns the data directory."""
    data_dir = base / name
    password_file = base / "superuser-password"
    password_file.write_text(password + "\n")
    password_file.chmod(0o600)
    runtime.hand_over(password_file)
    try:
        subprocess.run(
            [
                str(PG_BIN / "initdb"),
                f"--pgdata={data_dir}",
                f"--username={SUPERUSER}",
                f"--pwfile={password_file}",
                "--auth-host=scram-sha-256",
                "--auth-local=peer",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
                "--no-instructions",
            ],
            cwd=base,
            stdout=log,
            stderr=subprocess.STDOUT,
            check=True,
            **runtime.popen_user(),  # type: ignore[arg-type]
        )
    finally:
        password_file.unlink(missing_ok=True)
    return data_dir


def tls_settings(certificate: Path, key: Path) -> tuple[str, ...]:
    return ("ssl=on", f"ssl_cert_file={certificate}", f"ssl_key_file={key}")


def clone_cluster(runtime: PgRuntime, template: Path, target: Path, log: IO[bytes]) -> None:
    """A new data directory from the initdb template (much faster than another initdb)."""
    subprocess.run(
        ["cp", "-a", str(template), str(target)],
        stdout=log,
        stderr=subprocess.STDOUT,
        check=True,
        **runtime.popen_user(),  # type: ignore[arg-type]
    )


def instance_hba(port: int, ldap_port: int | None) -> str:
    """pg_hba.conf of a DB instance's server at 127.0.0.1:port: TLS only, and IAM logins checked
    by the LDAP bind server when it runs (ldap_port)."""
    if ldap_port is None:
        return TLS_ONLY_HBA
    local, rest = TLS_ONLY_HBA.split("\n", 1)
    return f"{local}\n" + IAM_HBA.format(ldap_port=ldap_port, host=LOOPBACK, port=port) + rest


def require_tls(runtime: PgRuntime, data_dir: Path, text: str = TLS_ONLY_HBA) -> None:
    hba = data_dir / "pg_hba.conf"
    hba.write_text(text)
    hba.chmod(0o600)
    runtime.hand_over(hba)


def start_server(
    runtime: PgRuntime,
    base: Path,
    data_dir: Path,
    port: int,
    log: IO[bytes],
    settings: tuple[str, ...] = SERVER_SETTINGS,
) -> subprocess.Popen[bytes]:
    command = [str(PG_BIN / "postgres"), "-D", str(data_dir), "-h", LOOPBACK, "-p", str(port)]
    command += ["-k", str(base)]  # Unix socket inside our private folder, not /var/run
    for setting in settings:
        command += ["-c", setting]
    return subprocess.Popen(
        command,
        cwd=base,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # own process group: stop() signals the whole server
        **runtime.popen_user(),  # type: ignore[arg-type]
    )


def is_ready(port: int) -> bool:
    """pg_isready against the loopback port."""
    result = subprocess.run(
        [str(PG_BIN / "pg_isready"), "-q", "-h", LOOPBACK, "-p", str(port), "-t", "2"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    return result.returncode == 0


def create_rds_roles(port: int, password: str, ssl_context: ssl.SSLContext | None = None) -> None:
    connection = pg8000.native.Connection(
        user=SUPERUSER,
        password=password,
        host=LOOPBACK,
        port=port,
        database="postgres",
        ssl_context=ssl_context,
    )
    try:
        for statement in RDS_ROLES_SQL:
            connection.run(statement)
    finally:
        connection.close()


def stop_server(pid: int, base: Path) -> None:
    """Fast shutdown (SIGINT), then immediate (SIGQUIT), then SIGKILL; remove the data."""
    stop_instance_servers(base)
    stop_cluster(pid, _marker(base))
    if base.name.startswith(BASE_PREFIX):
        shutil.rmtree(base, ignore_errors=True)


def stop_cluster(pid: int, data_dir: Path | str) -> None:
    signals = (signal.SIGINT, signal.SIGQUIT, signal.SIGKILL)
    terminate(pid, str(data_dir), signals, grace=5)


def instance_dirs(base: Path) -> Path:
    """Where the servers of emulated DB instances keep their data (one folder each)."""
    return base / "instances"


def stop_instance_servers(base: Path) -> None:
    """Stop every DB instance's server the moto process started (it may be gone already)."""
    for pid_file in instance_dirs(base).glob("*/data/postmaster.pid"):
        try:
            pid = int(pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
        stop_cluster(pid, pid_file.parent)


def server_alive(pid: int, base: Path) -> bool:
    return is_alive(pid, _marker(base))


def _marker(base: Path) -> str:
    # The postmaster's command line names its data directory: unique to this emulator.
    return str(base / "data")
