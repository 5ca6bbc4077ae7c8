"""Settings read from the environment (12-factor), as small pure functions.

Every function takes the environment mapping explicitly so that tests can call it
with a plain dict, without touching ``os.environ`` or Django's global settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured

Environ = Mapping[str, str]

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off", ""})

# IAM tokens are only accepted by RDS over TLS; anything weaker than "require" is refused
# instead of silently sending a token in clear text.
IAM_SSLMODES = frozenset({"require", "verify-ca", "verify-full"})
AUTH_MODES = frozenset({"iam", "password"})

IAM_ENGINE = "testapp.db_iam"
PASSWORD_ENGINE = "django.db.backends.postgresql"


def env_bool(environ: Environ, name: str, default: bool = False) -> bool:
    raw = environ.get(name)
    if raw is None:
        return default
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), got {raw!r}")


def env_int(environ: Environ, name: str, default: int, minimum: int = 0) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from exc
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be >= {minimum}, got {value}")
    return value


def env_list(environ: Environ, name: str) -> list[str]:
    return [item.strip() for item in environ.get(name, "").split(",") if item.strip()]


def env_required(environ: Environ, name: str, why: str) -> str:
    value = environ.get(name, "").strip()
    if not value:
        raise ImproperlyConfigured(f"{name} is required ({why})")
    return value


def secret_key(environ: Environ, debug: bool) -> str:
    """The signing key: required unless running in local development (DEBUG on)."""
    key = environ.get("DJANGO_SECRET_KEY", "")
    if key:
        return key
    if debug:
        # Development only; the "django-insecure-" prefix makes check --deploy flag it.
        return "django-insecure-local-development-only-never-used-with-debug-off"
    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY is required when DJANGO_DEBUG is off (deliver it as an ECS secret)"
    )


def allowed_hosts(environ: Environ, debug: bool) -> list[str]:
    hosts = env_list(environ, "DJANGO_ALLOWED_HOSTS")
    if hosts:
        return hosts
    if debug:
        return ["localhost", "127.0.0.1", "[::1]"]
    # An empty list would leave only /healthz answering: the ALB would call the
    # service healthy while every real request gets a 400. Fail at start instead.
    raise ImproperlyConfigured("DJANGO_ALLOWED_HOSTS is required when DJANGO_DEBUG is off")


def database_settings(environ: Environ, base_dir: Path) -> dict[str, Any]:
    """The ``DATABASES['default']`` entry for the auth mode named by DB_AUTH_MODE."""
    mode = environ.get("DB_AUTH_MODE", "iam").strip().lower()
    if mode not in AUTH_MODES:
        raise ImproperlyConfigured(
            f"DB_AUTH_MODE must be one of {sorted(AUTH_MODES)}, got {mode!r}"
        )
    common: dict[str, Any] = {
        "NAME": env_required(environ, "DB_NAME", "database name"),
        "USER": env_required(environ, "DB_USER", "database user"),
        "HOST": env_required(environ, "DB_HOST", "database host"),
        "PORT": str(env_int(environ, "DB_PORT", 5432, minimum=1)),
        # Persistent connections: an IAM token is made per connection, not per request.
        "CONN_MAX_AGE": env_int(environ, "DB_CONN_MAX_AGE", 300),
        # A connection killed under us (failover, idle reaper) is replaced, not reused.
        "CONN_HEALTH_CHECKS": True,
    }
    options: dict[str, Any] = {
        "connect_timeout": env_int(environ, "DB_CONNECT_TIMEOUT", 5, minimum=1),
        "application_name": environ.get("DB_APPLICATION_NAME", "django-app"),
    }
    if mode == "iam":
        return {**common, **_iam_settings(environ, base_dir, options)}
    return {**common, **_password_settings(environ, options)}


def _iam_settings(environ: Environ, base_dir: Path, options: dict[str, Any]) -> dict[str, Any]:
    if environ.get("DB_PASSWORD"):
        # The original shipped the master password to the container; refuse the mix.
        raise ImproperlyConfigured("DB_PASSWORD must not be set when DB_AUTH_MODE=iam")
    sslmode = environ.get("DB_SSLMODE", "").strip() or "verify-full"
    if sslmode not in IAM_SSLMODES:
        raise ImproperlyConfigured(
            f"DB_SSLMODE={sslmode!r} is not allowed with IAM auth; "
            f"use one of {sorted(IAM_SSLMODES)}"
        )
    region = environ.get("AWS_REGION", "").strip() or environ.get("AWS_DEFAULT_REGION", "").strip()
    if not region:
        raise ImproperlyConfigured("AWS_REGION is required when DB_AUTH_MODE=iam")
    rootcert = environ.get("DB_SSLROOTCERT", "").strip() or str(default_ca_bundle(base_dir))
    return {
        "ENGINE": IAM_ENGINE,
        "PASSWORD": "",
        "AWS_REGION": region,
        "OPTIONS": {**options, "sslmode": sslmode, "sslrootcert": rootcert},
    }


def _password_settings(environ: Environ, options: dict[str, Any]) -> dict[str, Any]:
    tls: dict[str, str] = {"sslmode": environ.get("DB_SSLMODE", "").strip() or "prefer"}
    if environ.get("DB_SSLROOTCERT", "").strip():
        tls["sslrootcert"] = environ["DB_SSLROOTCERT"].strip()
    return {
        "ENGINE": PASSWORD_ENGINE,
        "PASSWORD": env_required(environ, "DB_PASSWORD", "DB_AUTH_MODE=password"),
        "OPTIONS": {**options, **tls},
    }


def default_ca_bundle(base_dir: Path) -> Path:
    """Where the image keeps the RDS CA bundle (fetched and sha256-checked at build time)."""
    return base_dir / "certs" / "rds-global-bundle.pem"
