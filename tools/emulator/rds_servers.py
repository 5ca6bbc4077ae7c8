"""One PostgreSQL server per emulated RDS instance, started and stopped by the moto process.

RDS gives every DB instance its own engine: two environments, or an instance and its read
replica, never share databases or roles, a replica is read-only, and clients reach it over TLS
(rds.force_ssl=1). moto has no engine at all. Here CreateDBInstance clones the launcher's initdb
template into a data directory of its own and starts a server on a free loopback port with the
emulator CA's certificate; CreateDBInstanceReadReplica takes a pg_basebackup of the source and
starts it as a streaming hot standby; DeleteDBInstance stops the server and removes its data.

The launcher hands over where the template, the certificates and the logs are, and the
superuser's password, in the environment. The servers run in their own sessions (they survive a
moto restart); the launcher's stop finds and stops them through their data directories.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

from tools.emulator import iam_db_auth, postgres, rds_postgres
from tools.emulator.processes import LOOPBACK, free_loopback_ports, tail, wait_until

ENV_BASE = "DJANGO_ECS_EMULATOR_PG_BASE"
ENV_LOGS = "DJANGO_ECS_EMULATOR_LOG_DIR"
TEMPLATE = "template"
TLS_DIR = "tls"
START_TIMEOUT = 30.0


@dataclass(frozen=True)
class InstanceServer:
    """The engine of one DB instance."""

    identifier: str
    port: int
    pid: int
    directory: Path  # holds data/ and the server's Unix socket

    @property
    def data_dir(self) -> Path:
        return self.directory / "data"


@dataclass(frozen=True)
class ServerFarm:
    """Starts instance servers from the launcher's template, as the launcher's superuser."""

    base: Path
    logs: Path
    superuser: str
    password: str

    @classmethod
    def from_env(cls) -> ServerFarm | None:
        """The launcher's settings, or None when moto runs without them (plain moto)."""
        base = os.environ.get(ENV_BASE)
        if not base or not (Path(base) / TEMPLATE).is_dir():
            return None
        return cls(
            base=Path(base),
            logs=Path(os.environ.get(ENV_LOGS) or base),
            superuser=os.environ[rds_postgres.ENV_USER],
            password=os.environ.get(rds_postgres.ENV_PASSWORD, ""),
        )

    @property
    def ca_bundle(self) -> Path:
        return self.base / TLS_DIR / "ca.pem"

    def connection(self, server: InstanceServer) -> rds_postgres.PgServer:
        """The superuser's verified TLS connection to an instance's server."""
        return rds_postgres.PgServer(
            LOOPBACK, server.port, self.superuser, self.password, str(self.ca_bundle)
        )

    def start_primary(self, identifier: str) -> InstanceServer:
        runtime = postgres.PgRuntime.detect()
        directory = self._new_directory(runtime, identifier)
        with open(self._log(identifier), "ab") as log:
            postgres.clone_cluster(runtime, self.base / TEMPLATE, directory / "data", log)
        server = self._start(runtime, identifier, directory)
        postgres.create_rds_roles(server.port, self.password, self.connection(server).ssl())
        return server

    def start_replica(self, identifier: str, source: InstanceServer) -> InstanceServer:
        """A streaming hot standby of `source`: read-only, as an RDS read replica is."""
        runtime = postgres.PgRuntime.detect()
        directory = self._new_directory(runtime, identifier)
        command = [str(postgres.PG_BIN / "pg_basebackup"), "-h", LOOPBACK, "-p", str(source.port)]
        command += ["-U", self.superuser, "-D", str(directory / "data"), "-R", "-X", "stream"]
        command += ["--checkpoint=fast", "--no-sync"]
        environment = {"PGPASSWORD": self.password, "PGSSLMODE": "require", "PATH": "/usr/bin:/bin"}
        with open(self._log(identifier), "ab") as log:
            subprocess.run(
                command,
                cwd=directory,
                env=environment,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                check=True,
                **runtime.popen_user(),  # type: ignore[arg-type]
            )
        return self._start(runtime, identifier, directory)

    def stop(self, server: InstanceServer) -> None:
        postgres.stop_cluster(server.pid, server.data_dir)
        shutil.rmtree(server.directory, ignore_errors=True)

    def _new_directory(self, runtime: postgres.PgRuntime, identifier: str) -> Path:
        parent = postgres.instance_dirs(self.base)
        parent.mkdir(exist_ok=True)
        # A suffix: an instance deleted and created again under its name gets a fresh server.
        directory = parent / f"{identifier}-{uuid.uuid4().hex[:6]}"
        directory.mkdir(mode=0o700)
        runtime.hand_over(directory)
        return directory

    def _log(self, identifier: str) -> Path:
        self.logs.mkdir(parents=True, exist_ok=True)
        return self.logs / f"rds-{identifier}.log"

    def _start(
        self, runtime: postgres.PgRuntime, identifier: str, directory: Path
    ) -> InstanceServer:
        tls = self.base / TLS_DIR
        settings = postgres.INSTANCE_SETTINGS
        settings += postgres.tls_settings(tls / "server.crt", tls / "server.key")
        (port,) = free_loopback_ports(1)
        # Written here, where the endpoint is known (a replica's copy names its source's).
        hba = postgres.instance_hba(port, iam_db_auth.server_port())
        postgres.require_tls(runtime, directory / "data", hba)
        with open(self._log(identifier), "ab") as log:
            process = postgres.start_server(
                runtime, directory, directory / "data", port, log, settings
            )
        ready = wait_until(
            lambda: process.poll() is not None or postgres.is_ready(port), START_TIMEOUT
        )
        if not ready or process.poll() is not None:
            postgres.stop_cluster(process.pid, directory / "data")
            raise RuntimeError(
                f"the server of {identifier} did not start:\n{tail(self._log(identifier))}"
            )
        return InstanceServer(identifier, port, process.pid, directory)
