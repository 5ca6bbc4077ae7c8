"""A throwaway PostgreSQL cluster with TLS, for the IAM/verify-full tests and the benchmark.

The shared harness PostgreSQL (PGHOST...) has no TLS we control, and proving
``sslmode=verify-full`` needs a server certificate signed by a CA the test generated.
The server refuses to run as root, so when we are root it runs as ``postgres``.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
SERVER_USER = "postgres"


@dataclass(frozen=True)
class Certificates:
    ca_cert: Path
    server_cert: Path
    server_key: Path
    other_ca_cert: Path  # a CA that did not sign the server: verify-full must refuse it


@dataclass
class Cluster:
    workdir: Path
    port: int
    certs: Certificates
    process: subprocess.Popen[bytes]

    @property
    def admin_dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres sslmode=disable"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_cluster(hba_lines: Sequence[str]) -> Cluster:
    """Start PostgreSQL on 127.0.0.1 with ssl=on; ``hba_lines`` come before the admin line."""
    workdir = Path(tempfile.mkdtemp(prefix="app-pg-"))
    certs = make_certificates(workdir / "tls")
    datadir = workdir / "data"
    _chown_tree(workdir)
    _as_server_user(
        [
            str(PG_BIN / "initdb"),
            "-D",
            str(datadir),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        ]
    )
    hba = [*hba_lines, "host all postgres 127.0.0.1/32 trust", "local all all trust"]
    (datadir / "pg_hba.conf").write_text("\n".join(hba) + "\n")
    port = free_port()
    process = _spawn_server(datadir, workdir, port, certs)
    cluster = Cluster(workdir=workdir, port=port, certs=certs, process=process)
    _wait_ready(cluster)
    return cluster


def make_certificates(tls_dir: Path) -> Certificates:
    tls_dir.mkdir(parents=True)
    for name in ("ca", "other-ca"):
        _openssl(
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            f"/CN=test {name}",
            "-keyout",
            str(tls_dir / f"{name}.key"),
            "-out",
            str(tls_dir / f"{name}.pem"),
        )
    _openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        str(tls_dir / "server.key"),
        "-out",
        str(tls_dir / "server.csr"),
    )
    (tls_dir / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    _openssl(
        "x509",
        "-req",
        "-in",
        str(tls_dir / "server.csr"),
        "-days",
        "2",
        "-CA",
        str(tls_dir / "ca.pem"),
        "-CAkey",
        str(tls_dir / "ca.key"),
        "-CAcreateserial",
        "-extfile",
        str(tls_dir / "san.ext"),
        "-out",
        str(tls_dir / "server.pem"),
    )
    (tls_dir / "server.key").chmod(0o600)
    return Certificates(
        ca_cert=tls_dir / "ca.pem",
        server_cert=tls_dir / "server.pem",
        server_key=tls_dir / "server.key",
        other_ca_cert=tls_dir / "other-ca.pem",
    )


def _spawn_server(
    datadir: Path, workdir: Path, port: int, certs: Certificates
) -> subprocess.Popen[bytes]:
    settings = {
        "listen_addresses": "127.0.0.1",
        "port": str(port),
        "unix_socket_directories": str(workdir),
        "ssl": "on",
        "ssl_cert_file": str(certs.server_cert),
        "ssl_key_file": str(certs.server_key),
        "ssl_ca_file": str(certs.ca_cert),
        "password_encryption": "scram-sha-256",
        "fsync": "off",
        "max_connections": "200",
    }
    args = [str(PG_BIN / "postgres"), "-D", str(datadir)]
    for name, value in settings.items():
        args += ["-c", f"{name}={value}"]
    log = (workdir / "server.log").open("wb")
    return subprocess.Popen(_server_user_prefix() + args, stdout=log, stderr=subprocess.STDOUT)


def _wait_ready(cluster: Cluster, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cluster.process.poll() is not None:
            raise RuntimeError((cluster.workdir / "server.log").read_text())
        probe = subprocess.run(
            [str(PG_BIN / "pg_isready"), "-h", "127.0.0.1", "-p", str(cluster.port)],
            check=False,
            capture_output=True,
        )
        if probe.returncode == 0:
            return
        time.sleep(0.2)
    raise RuntimeError(f"PostgreSQL did not start on port {cluster.port}")


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def _server_user_prefix() -> list[str]:
    return ["runuser", "-u", SERVER_USER, "--"] if os.geteuid() == 0 else []


def _as_server_user(args: list[str]) -> None:
    subprocess.run(_server_user_prefix() + args, check=True, capture_output=True)


def _chown_tree(root: Path) -> None:
    if os.geteuid() != 0:
        return
    user = pwd.getpwnam(SERVER_USER)
    for path in [root, *root.rglob("*")]:
        os.chown(path, user.pw_uid, user.pw_gid)
