# Copyright: contributors to django_ecs.aws
# Apache License 2.0 (see galaxy.yml)
"""Open a pg8000 connection for the role bootstrap; parse the RDS admin secret.

Shared by the ``rds_iam_bootstrap`` module and the ``db_init`` Lambda (shipped there as the
top-level module ``db_connect``): standard library plus pg8000 only. pg8000 is pure Python, so the
Lambda zip needs no compiled wheels.
"""

from __future__ import annotations

import json
import ssl
from dataclasses import dataclass, field
from typing import Any

try:
    import pg8000.dbapi
except ImportError:  # reported by connect(): planning and the Lambda contract need no driver
    pg8000 = None

SSL_MODES = ("disable", "require", "verify-full")
SECRET_KEYS = ("username", "password", "host")


class ConnectError(Exception):
    """Bad connection settings or an unusable secret; never carries the password."""


@dataclass(frozen=True)
class Credentials:
    host: str
    port: int
    username: str
    password: str = field(repr=False)  # repr() must never print it


def credentials_from_secret(secret_string: str) -> Credentials:
    """Parse the JSON shape RDS uses: {username, password, engine, host, port, dbname}."""
    try:
        data = json.loads(secret_string)
    except ValueError as error:
        raise ConnectError(f"the secret is not JSON ({error.__class__.__name__})") from None
    if not isinstance(data, dict):
        raise ConnectError("the secret must be a JSON object")
    missing = [key for key in SECRET_KEYS if not data.get(key)]
    if missing:
        raise ConnectError(f"the secret lacks {', '.join(missing)}")
    try:
        port = int(data.get("port") or 5432)
    except (TypeError, ValueError):
        raise ConnectError("the secret's port is not a number") from None
    return Credentials(str(data["host"]), port, str(data["username"]), str(data["password"]))


def ssl_context(mode: str, ca_bundle: str | None = None) -> ssl.SSLContext | None:
    """TLS settings for ``mode``; ``disable`` exists only for the local emulator's PostgreSQL."""
    if mode not in SSL_MODES:
        raise ConnectError(f"ssl_mode must be one of {', '.join(SSL_MODES)}, got {mode!r}")
    if mode == "disable":
        return None
    if mode == "require":
        # libpq's sslmode=require: encrypted, server not authenticated.
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    try:
        return ssl.create_default_context(cafile=ca_bundle)
    except (OSError, ssl.SSLError) as error:
        raise ConnectError(f"cannot load CA bundle {ca_bundle!r}: {error}") from None


def connect(
    credentials: Credentials,
    database: str,
    ssl_mode: str,
    ca_bundle: str | None = None,
    timeout: float = 10.0,
) -> Any:
    """A pg8000 DB-API connection (autocommit off: the bootstrap runs in one transaction)."""
    if pg8000 is None:
        raise ConnectError("the pg8000 Python package is required for connection=direct")
    try:
        return pg8000.dbapi.connect(
            user=credentials.username,
            password=credentials.password,
            host=credentials.host,
            port=credentials.port,
            database=database,
            ssl_context=ssl_context(ssl_mode, ca_bundle),
            timeout=timeout,
            application_name="django_ecs.aws db bootstrap",
        )
    except pg8000.dbapi.Error as error:
        raise ConnectError(
            f"cannot connect to {describe(credentials, database)}: {error}"
        ) from None
    except OSError as error:
        raise ConnectError(f"cannot reach {describe(credentials, database)}: {error}") from None


def describe(credentials: Credentials, database: str) -> str:
    return f"{credentials.username}@{credentials.host}:{credentials.port}/{database}"
