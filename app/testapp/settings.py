"""Django settings, every value from the environment (see app/README.md for the list)."""

from __future__ import annotations

import os
from pathlib import Path

from testapp import env

BASE_DIR = Path(__file__).resolve().parent.parent
ENVIRON = os.environ

DEBUG = env.env_bool(ENVIRON, "DJANGO_DEBUG", default=False)
SECRET_KEY = env.secret_key(ENVIRON, DEBUG)
ALLOWED_HOSTS = env.allowed_hosts(ENVIRON, DEBUG)

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "testapp",
]

MIDDLEWARE = [
    # First: answers /healthz before the ALLOWED_HOSTS check and the HTTPS redirect,
    # because the ALB health check sends the target IP as Host over plain HTTP.
    "testapp.middleware.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "testapp.urls"
WSGI_APPLICATION = "testapp.wsgi.application"
TEMPLATES: list[dict[str, object]] = []

DATABASES = {"default": env.database_settings(ENVIRON, BASE_DIR)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

# Behind the ALB: TLS ends there and X-Forwarded-Proto tells Django the scheme.
SECURE_SSL = env.env_bool(ENVIRON, "DJANGO_SECURE_SSL", default=False)
if SECURE_SSL:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.env_int(ENVIRON, "DJANGO_HSTS_SECONDS", 31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.env_bool(ENVIRON, "DJANGO_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env.env_bool(ENVIRON, "DJANGO_HSTS_PRELOAD", True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

LOG_LEVEL = ENVIRON.get("LOG_LEVEL", "INFO").upper()
# The image tag the task definition deployed (the ecs_service role sets it): /readyz reports it,
# so a roll-out can be seen serving through the load balancer.
APP_VERSION = ENVIRON.get("APP_IMAGE_TAG", "").strip()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "testapp.jsonlog.JsonFormatter"}},
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": "json",
        }
    },
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    "loggers": {
        # Django's own handlers would print a second, plain-text copy.
        "django": {"handlers": ["stdout"], "level": LOG_LEVEL, "propagate": False},
    },
}
