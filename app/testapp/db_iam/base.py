"""Django's PostgreSQL backend with the password replaced by a fresh IAM token."""

from __future__ import annotations

from typing import Any

import psycopg
from botocore.exceptions import BotoCoreError, ClientError
from django.core.exceptions import ImproperlyConfigured
from django.db.backends.postgresql import base as postgresql

from testapp.db_iam import tokens

DEFAULT_PORT = 5432


class DatabaseWrapper(postgresql.DatabaseWrapper):
    """Makes one token per *new* connection: with ``CONN_MAX_AGE`` the connection (and
    its token) is reused across requests, and any reconnect (age limit, failed health
    check, failover) signs a new token because the old one may have expired.
    """

    def get_connection_params(self) -> dict[str, Any]:
        if self.settings_dict.get("PASSWORD"):
            raise ImproperlyConfigured("the IAM backend takes no PASSWORD: it signs a token")
        if self.settings_dict["OPTIONS"].get("pool"):
            # A pool opens connections with the kwargs it was built with: a fixed token
            # that expires after 15 minutes.
            raise ImproperlyConfigured("the IAM backend does not support OPTIONS['pool']")
        if not self.settings_dict.get("AWS_REGION"):
            raise ImproperlyConfigured("the IAM backend needs AWS_REGION in its settings")
        return super().get_connection_params()

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        token = self._auth_token(conn_params)
        return super().get_new_connection({**conn_params, "password": token})

    def _auth_token(self, conn_params: dict[str, Any]) -> str:
        try:
            return tokens.generate_auth_token(
                host=conn_params["host"],
                port=int(conn_params.get("port") or DEFAULT_PORT),
                user=conn_params["user"],
                region=self.settings_dict["AWS_REGION"],
            )
        except (BotoCoreError, ClientError) as exc:
            # Raised as a driver error so Django wraps it like any failed connect and
            # /readyz reports "database unreachable" instead of a 500.
            raise psycopg.OperationalError(f"IAM auth token not generated: {exc}") from exc
