"""The app's own test suite, shipped in the image: `python manage.py test testapp`.

The deploy workflow runs it inside the image it built, before that image is published (the
original's guide: build, then `manage.py test` in the container). It checks what the image must
do wherever it runs: the endpoints, the host check, the security headers, and the migrations
applied to a real PostgreSQL (Django's test runner creates `test_<DB_NAME>` through the image's
own `migrate` command, advisory lock included). The harness-heavy cases (IAM tokens over TLS,
gunicorn signals, the read-only root) live in tests/app of the repository.
"""

from __future__ import annotations

from django.db import connection
from django.test import SimpleTestCase, TestCase, override_settings


class LivenessTests(SimpleTestCase):
    def test_healthz_answers_any_host_without_the_database(self) -> None:
        # The ALB health check sends the target's private IP as Host.
        response = self.client.get("/healthz", headers={"host": "10.10.4.17"})
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.content, b"ok\n")
        self.assertEqual(response["Cache-Control"], "no-store")

    def test_hello_answers_an_allowed_host(self) -> None:
        response = self.client.get("/")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.content, b"Hello, world!\n")

    def test_an_unknown_host_is_refused(self) -> None:
        response = self.client.get("/", headers={"host": "attacker.example"})
        self.assertEqual(response.status_code, 400)

    def test_responses_carry_the_security_headers(self) -> None:
        response = self.client.get("/")
        self.assertEqual(response["X-Frame-Options"], "DENY")
        self.assertEqual(response["X-Content-Type-Options"], "nosniff")
        self.assertEqual(response["Referrer-Policy"], "same-origin")

    def test_only_safe_methods_reach_the_views(self) -> None:
        response = self.client.post("/readyz")
        self.assertEqual(response.status_code, 405)


class ReadinessTests(TestCase):
    @override_settings(APP_VERSION="0123456789ab")
    def test_readyz_is_ready_when_the_database_answers(self) -> None:
        response = self.client.get("/readyz")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json(), {"status": "ready", "version": "0123456789ab"})
        self.assertEqual(response["Cache-Control"], "no-store")

    def test_the_migrations_created_the_installed_apps_tables(self) -> None:
        tables = set(connection.introspection.table_names())
        self.assertTrue({"django_content_type", "auth_user", "django_migrations"} <= tables)
