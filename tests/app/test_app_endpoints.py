"""Every endpoint, in-process through Django's WSGI handler, with production settings.

Settings here: DEBUG off, DJANGO_SECURE_SSL=1, ALLOWED_HOSTS=app.example.test, IAM
database auth over verify-full TLS to a real PostgreSQL.
"""

from __future__ import annotations

import json

import pytest
from app_harness import APP_HOST, wsgi_get

pytestmark = pytest.mark.usefixtures("django_iam")

ALB_TARGET_IP = "10.0.12.34"


def test_hello_answers_on_the_allowed_host() -> None:
    response = wsgi_get("/")
    assert response.status == 200
    assert response.body == b"Hello, world!\n"


def test_healthz_answers_with_the_target_ip_as_host_over_plain_http() -> None:
    # What the ALB health check sends: the task's IP as Host, no X-Forwarded-Proto https.
    response = wsgi_get("/healthz", host=ALB_TARGET_IP, proto="http")
    assert response.status == 200
    assert response.body == b"ok\n"
    assert response.headers["Cache-Control"] == "no-store"


def test_healthz_head_is_answered_too() -> None:
    assert wsgi_get("/healthz", host=ALB_TARGET_IP, method="HEAD").status == 200


@pytest.mark.parametrize("path", ["/", "/readyz", "/healthz/", "/nope"])
def test_other_paths_reject_an_unknown_host(path: str) -> None:
    assert wsgi_get(path, host=ALB_TARGET_IP).status == 400


def test_readyz_is_ready_when_the_database_answers() -> None:
    response = wsgi_get("/readyz")
    assert response.status == 200
    assert json.loads(response.body) == {"status": "ready", "version": ""}
    assert response.headers["Cache-Control"] == "no-store"


def test_plain_http_is_redirected_to_https() -> None:
    response = wsgi_get("/", proto="http")
    assert response.status == 301
    assert response.headers["Location"] == f"https://{APP_HOST}/"


def test_https_responses_carry_hsts_and_hardening_headers() -> None:
    headers = wsgi_get("/").headers
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin"


@pytest.mark.parametrize("method", ["POST", "DELETE"])
def test_unsafe_methods_without_csrf_token_are_forbidden(method: str) -> None:
    assert wsgi_get("/", method=method).status == 403


def test_methods_other_than_get_and_head_are_not_allowed() -> None:
    assert wsgi_get("/", method="OPTIONS").status == 405


def test_unknown_path_is_404_without_debug_page() -> None:
    response = wsgi_get("/does-not-exist")
    assert response.status == 404
    assert b"Traceback" not in response.body and b"URLconf" not in response.body
