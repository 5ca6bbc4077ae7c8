"""The suite deploy.yml's image-test job runs inside the built image (`python manage.py test
testapp`) passes on this checkout, against a real PostgreSQL (the emulator's harness server), the
same way: password mode, a database Django creates as test_<DB_NAME> through the app's own
migrate command. A red suite here is a deploy that would stop before publishing."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys

import pytest

from tests.workflow.workflows import REPO_ROOT

HARNESS_VARS = ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD")


def test_the_apps_suite_passes_against_postgresql() -> None:
    missing = [name for name in HARNESS_VARS if not os.environ.get(name)]
    if missing:
        pytest.skip(f"harness PostgreSQL not configured: {', '.join(missing)} unset")
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONDONTWRITEBYTECODE": "1",
        "DJANGO_SETTINGS_MODULE": "testapp.settings",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "testserver,localhost",
        "DB_AUTH_MODE": "password",
        "DB_HOST": os.environ["PGHOST"],
        "DB_PORT": os.environ["PGPORT"],
        "DB_USER": os.environ["PGUSER"],
        "DB_PASSWORD": os.environ["PGPASSWORD"],
        # Unique: parallel runs share the server; Django creates and drops test_<name>.
        "DB_NAME": f"image_suite_{secrets.token_hex(4)}",
    }
    completed = subprocess.run(
        [sys.executable, "manage.py", "test", "--noinput", "--verbosity=2", "testapp"],
        cwd=REPO_ROOT / "app",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    report = completed.stdout + completed.stderr
    assert completed.returncode == 0, report
    ran = re.search(r"^Ran (\d+) tests? in ", report, re.MULTILINE)
    assert ran and int(ran.group(1)) >= 7, report
    assert re.search(r"^OK$", report, re.MULTILINE), report
    assert "test_readyz_is_ready_when_the_database_answers" in report, "the database tests ran"
