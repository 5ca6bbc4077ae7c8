"""The settings functions (testapp.env), called with plain dicts: no Django setup needed."""

from __future__ import annotations

from pathlib import Path

import app_harness  # noqa: F401  (puts app/ on sys.path)
import pytest
from django.core.exceptions import ImproperlyConfigured
from testapp import env

BASE = Path("/opt/app")
DB = {
    "DB_HOST": "db.internal",
    "DB_NAME": "appdb",
    "DB_USER": "app_user",
    "AWS_REGION": "us-east-1",
}


def test_iam_is_the_default_mode_with_verify_full_and_the_bundled_ca() -> None:
    settings = env.database_settings(DB, BASE)
    assert settings["ENGINE"] == "testapp.db_iam"
    assert settings["PASSWORD"] == ""
    assert settings["AWS_REGION"] == "us-east-1"
    assert settings["OPTIONS"]["sslmode"] == "verify-full"
    assert settings["OPTIONS"]["sslrootcert"] == "/opt/app/certs/rds-global-bundle.pem"
    assert (settings["PORT"], settings["CONN_MAX_AGE"], settings["CONN_HEALTH_CHECKS"]) == (
        "5432",
        300,
        True,
    )


def test_connection_settings_come_from_the_environment() -> None:
    settings = env.database_settings(
        {
            **DB,
            "DB_PORT": "6432",
            "DB_CONN_MAX_AGE": "60",
            "DB_SSLMODE": "verify-ca",
            "DB_SSLROOTCERT": "/etc/ca.pem",
            "DB_CONNECT_TIMEOUT": "3",
        },
        BASE,
    )
    assert (settings["PORT"], settings["CONN_MAX_AGE"]) == ("6432", 60)
    assert settings["OPTIONS"] == {
        "connect_timeout": 3,
        "application_name": "django-app",
        "sslmode": "verify-ca",
        "sslrootcert": "/etc/ca.pem",
    }


def test_region_falls_back_to_aws_default_region() -> None:
    environ = {**DB, "AWS_DEFAULT_REGION": "sa-east-1"}
    del environ["AWS_REGION"]
    assert env.database_settings(environ, BASE)["AWS_REGION"] == "sa-east-1"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"DB_PASSWORD": "master"}, "DB_PASSWORD must not be set"),
        ({"DB_SSLMODE": "disable"}, "not allowed with IAM auth"),
        ({"DB_SSLMODE": "prefer"}, "not allowed with IAM auth"),
        ({"AWS_REGION": ""}, "AWS_REGION is required"),
        ({"DB_AUTH_MODE": "kerberos"}, "DB_AUTH_MODE must be one of"),
        ({"DB_HOST": ""}, "DB_HOST is required"),
        ({"DB_PORT": "five"}, "DB_PORT must be an integer"),
        ({"DB_CONN_MAX_AGE": "-1"}, "DB_CONN_MAX_AGE must be >= 0"),
    ],
)
def test_iam_misconfiguration_is_refused(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=message):
        env.database_settings({**DB, **overrides}, BASE)


def test_password_mode_uses_the_stock_backend_and_needs_a_password() -> None:
    environ = {**DB, "DB_AUTH_MODE": "password"}
    with pytest.raises(ImproperlyConfigured, match="DB_PASSWORD is required"):
        env.database_settings(environ, BASE)
    settings = env.database_settings({**environ, "DB_PASSWORD": "dev"}, BASE)
    assert settings["ENGINE"] == "django.db.backends.postgresql"
    assert settings["PASSWORD"] == "dev"
    assert settings["OPTIONS"]["sslmode"] == "prefer"
    assert "sslrootcert" not in settings["OPTIONS"]


def test_secret_key_is_required_unless_debugging() -> None:
    with pytest.raises(ImproperlyConfigured, match="DJANGO_SECRET_KEY is required"):
        env.secret_key({}, debug=False)
    assert env.secret_key({}, debug=True).startswith("django-insecure-")
    assert env.secret_key({"DJANGO_SECRET_KEY": "k" * 60}, debug=False) == "k" * 60


def test_allowed_hosts_are_required_unless_debugging() -> None:
    with pytest.raises(ImproperlyConfigured, match="DJANGO_ALLOWED_HOSTS is required"):
        env.allowed_hosts({}, debug=False)
    assert env.allowed_hosts({"DJANGO_ALLOWED_HOSTS": " a.example , b.example ,"}, debug=False) == [
        "a.example",
        "b.example",
    ]
    assert "localhost" in env.allowed_hosts({}, debug=True)


@pytest.mark.parametrize(
    ("raw", "expected"), [("1", True), ("TRUE", True), ("off", False), ("", False)]
)
def test_booleans_parse_common_spellings(raw: str, expected: bool) -> None:
    assert env.env_bool({"X": raw}, "X") is expected


def test_a_misspelt_boolean_is_an_error_not_false() -> None:
    with pytest.raises(ImproperlyConfigured, match="DJANGO_DEBUG must be a boolean"):
        env.env_bool({"DJANGO_DEBUG": "ture"}, "DJANGO_DEBUG")
