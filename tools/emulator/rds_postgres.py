"""What RDS does inside the engine of a DB instance: the master user, its database, its password.

Runs inside the moto process. RDS creates the master user and the initial database when
CreateDBInstance is called and changes the password on ModifyDBInstance; moto has no engine at
all, so these functions do the same on the instance's own PostgreSQL server (rds_servers.py),
connecting as its superuser (credentials handed over in the environment by the launcher, never
logged).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass

import pg8000.native
from pg8000.native import identifier, literal

# The launcher passes the superuser's coordinates through these variables.
ENV_USER = "DJANGO_ECS_EMULATOR_PG_USER"
ENV_PASSWORD = "DJANGO_ECS_EMULATOR_PG_PASSWORD"

# Like RDS's own `rdsadmin`, the superuser's name is reserved: a master user of that name
# would let ModifyDBInstance change the launcher's password.
RESERVED_USERNAMES = frozenset({"rdsadmin"})


@dataclass(frozen=True)
class PgServer:
    """A PostgreSQL server (an emulated DB instance's) and its superuser."""

    host: str
    port: int
    user: str
    password: str = ""
    ca_bundle: str = ""  # set: connect over TLS and verify the server with this CA

    def ssl(self) -> ssl.SSLContext | None:
        return ssl.create_default_context(cafile=self.ca_bundle) if self.ca_bundle else None

    def connect(self, database: str = "postgres") -> pg8000.native.Connection:
        return pg8000.native.Connection(
            user=self.user,
            password=self.password,
            host=self.host,
            port=self.port,
            database=database,
            timeout=10,
            ssl_context=self.ssl(),
        )


def master_user_statements(username: str, password: str | None, exists: bool) -> list[str]:
    """SQL giving `username` what RDS gives a master user (pure: unit-testable)."""
    options = "LOGIN CREATEROLE CREATEDB"
    if password is not None:
        options += f" PASSWORD {literal(password)}"
    verb = "ALTER" if exists else "CREATE"
    return [
        f"{verb} ROLE {identifier(username)} WITH {options}",
        f"GRANT rds_superuser TO {identifier(username)}",
    ]


def provision_master(
    server: PgServer, username: str, password: str | None, db_name: str | None
) -> None:
    """Create (or refresh) the master user and its database, as RDS does at instance creation."""
    connection = server.connect()
    try:
        exists = bool(connection.run("SELECT 1 FROM pg_roles WHERE rolname = :n", n=username))
        for statement in master_user_statements(username, password, exists):
            connection.run(statement)
        if db_name:
            _ensure_database(connection, db_name, username)
    finally:
        connection.close()


def _ensure_database(connection: pg8000.native.Connection, db_name: str, owner: str) -> None:
    if not connection.run("SELECT 1 FROM pg_database WHERE datname = :n", n=db_name):
        connection.run(f"CREATE DATABASE {identifier(db_name)} OWNER {identifier(owner)}")


def change_master_password(server: PgServer, username: str, password: str) -> None:
    """What ModifyDBInstance MasterUserPassword does on RDS."""
    connection = server.connect()
    try:
        connection.run(f"ALTER ROLE {identifier(username)} WITH PASSWORD {literal(password)}")
    finally:
        connection.close()
