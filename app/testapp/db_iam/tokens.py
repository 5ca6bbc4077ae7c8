"""RDS IAM authentication tokens.

A token is a SigV4-presigned URL signed locally with the task role's credentials: no
AWS API call is made, so generating one costs only the signing. It is valid for 15
minutes *to open* a connection; an open session outlives it.
"""

from __future__ import annotations

import threading
from typing import Any

import boto3

_clients: dict[str, Any] = {}
_clients_lock = threading.Lock()


def rds_client(region: str) -> Any:
    """One RDS client per region and process (creating one costs tens of milliseconds).

    boto3 clients are thread-safe; sessions are not, hence the lock around creation.
    Credentials come from the default chain (the ECS task role's container endpoint),
    which refreshes them before they expire.
    """
    with _clients_lock:
        client = _clients.get(region)
        if client is None:
            client = boto3.session.Session().client("rds", region_name=region)
            _clients[region] = client
        return client


def generate_auth_token(host: str, port: int, user: str, region: str) -> str:
    return rds_client(region).generate_db_auth_token(
        DBHostname=host, Port=port, DBUsername=user, Region=region
    )
