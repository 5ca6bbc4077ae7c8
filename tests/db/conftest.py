"""Fixtures of tests/db; they live in db_fixtures (a unique module name the tests import).
aws_env comes from tests/conftest.py."""

from db_fixtures import (  # noqa: F401 - re-exported for pytest
    admin_secret,
    lambda_root,
    lambda_zip,
    pg_server,
    run_module,
    test_db,
)
