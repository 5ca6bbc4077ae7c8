"""django_ecs.aws.rds_iam_bootstrap (connection=direct) against a real PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pg8000.dbapi
import pytest
from db_fixtures import REPO_ROOT, ScratchDatabase, ansible_env

RunModule = Callable[..., dict[str, Any]]


def direct_args(test_db: ScratchDatabase, **overrides: Any) -> dict[str, Any]:
    return {
        "login_host": test_db.server.host,
        "login_port": test_db.server.port,
        "login_user": test_db.admin,
        "login_password": test_db.admin_password,
        "ssl_mode": "disable",
        **test_db.desired(**overrides),
    }


def bootstrap(run_module: RunModule, test_db: ScratchDatabase, check_mode: bool = False, **kw: Any):
    result = run_module("rds_iam_bootstrap", direct_args(test_db, **kw), check_mode=check_mode)
    assert not result.get("failed"), result
    return result


def roles_of(test_db: ScratchDatabase, member: str) -> set[str]:
    rows = test_db.query(
        "SELECT g.rolname FROM pg_auth_members a JOIN pg_roles g ON g.oid = a.roleid "
        "JOIN pg_roles m ON m.oid = a.member WHERE m.rolname = %s",
        member,
    )
    return {row[0] for row in rows}


def set_password(test_db: ScratchDatabase, role: str) -> str:
    """Test only: give a login role a password, as IAM tokens cannot be checked locally."""
    password = "pw-" + role
    test_db.query(f"ALTER ROLE \"{role}\" PASSWORD '{password}'")
    return password


def test_first_run_creates_roles_memberships_and_grants(
    run_module: RunModule, test_db: ScratchDatabase
):
    result = bootstrap(run_module, test_db)

    assert result["changed"] is True
    app, writer = test_db.role("app"), test_db.role("writer")
    assert f'CREATE ROLE "{app}" LOGIN' in result["queries"]
    assert f'CREATE ROLE "{writer}" NOLOGIN' in result["queries"]
    logins = dict(
        test_db.query(
            "SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname LIKE %s",
            test_db.prefix + "\\_%",
        )
    )
    assert logins == {
        app: True,
        test_db.role("migrate"): True,
        test_db.role("readonly"): False,
        writer: False,
        test_db.role("migrator"): False,
    }
    assert roles_of(test_db, app) == {"rds_iam", writer}
    assert roles_of(test_db, test_db.role("migrate")) == {"rds_iam", test_db.role("migrator")}
    # PUBLIC can no longer connect: only the group roles (and the owner) can.
    assert test_db.query(
        "SELECT has_database_privilege(%s, %s, 'CONNECT'), "
        "has_database_privilege('rds_superuser', %s, 'CONNECT')",
        writer,
        test_db.name,
        test_db.name,
    ) == [(True, False)]


def test_second_run_reports_no_change(run_module: RunModule, test_db: ScratchDatabase):
    bootstrap(run_module, test_db)

    again = bootstrap(run_module, test_db)

    assert again["changed"] is False
    assert again["queries"] == []


def test_revoked_grants_are_restored_and_named(run_module: RunModule, test_db: ScratchDatabase):
    bootstrap(run_module, test_db)
    writer, readonly, app = test_db.role("writer"), test_db.role("readonly"), test_db.role("app")
    admin = test_db.connect_as_admin()  # a table the master user made before the bootstrap
    admin.cursor().execute("CREATE TABLE public.orders (id int)")
    admin.close()
    test_db.query(f'REVOKE CONNECT ON DATABASE {test_db.name} FROM "{writer}"')
    test_db.query(f'REVOKE "{writer}" FROM "{app}"')

    repaired = bootstrap(run_module, test_db)

    assert repaired["changed"] is True
    assert f'GRANT CONNECT ON DATABASE "{test_db.name}" TO "{writer}"' in repaired["queries"]
    assert f'GRANT "{writer}" TO "{app}"' in repaired["queries"]
    # The table predates the run: it gets explicit grants, named in the queries.
    assert f'GRANT SELECT ON TABLE "public"."orders" TO "{readonly}"' in repaired["queries"]
    assert roles_of(test_db, app) == {"rds_iam", writer}
    assert test_db.query("SELECT has_table_privilege(%s, 'public.orders', 'INSERT')", app) == [
        (True,)
    ]
    assert bootstrap(run_module, test_db)["changed"] is False


def test_privileges_beyond_the_desired_ones_are_revoked(
    run_module: RunModule, test_db: ScratchDatabase
):
    bootstrap(run_module, test_db)
    app, migrator, readonly = (
        test_db.role("app"),
        test_db.role("migrator"),
        test_db.role("readonly"),
    )
    test_db.query(f'GRANT "{migrator}" TO "{app}"')
    test_db.query(f'GRANT CREATE ON SCHEMA public TO "{readonly}"')

    repaired = bootstrap(run_module, test_db)

    assert f'REVOKE "{migrator}" FROM "{app}"' in repaired["queries"]
    assert f'REVOKE CREATE ON SCHEMA "public" FROM "{readonly}"' in repaired["queries"]
    assert migrator not in roles_of(test_db, app)


def test_check_mode_reports_statements_and_writes_nothing(
    run_module: RunModule, test_db: ScratchDatabase
):
    planned = bootstrap(run_module, test_db, check_mode=True)

    assert planned["changed"] is True
    assert f'CREATE ROLE "{test_db.role("app")}" LOGIN' in planned["queries"]
    assert test_db.query(
        "SELECT count(*) FROM pg_roles WHERE rolname LIKE %s", test_db.prefix + "\\_%"
    ) == [(0,)]
    applied = bootstrap(run_module, test_db)
    assert applied["queries"] == planned["queries"]


@pytest.mark.parametrize(
    "option",
    ["app_user", "database", "writer_role", "schema", "migration_user"],
)
def test_hostile_names_are_rejected_before_reaching_sql(
    run_module: RunModule, test_db: ScratchDatabase, option: str
):
    victim = test_db.role("victim")
    test_db.query(f'CREATE ROLE "{victim}" NOLOGIN')
    hostile = f'app"; DROP ROLE {victim}; --'

    result = run_module("rds_iam_bootstrap", direct_args(test_db, **{option: hostile}))

    assert result.get("failed") is True
    assert option in result["msg"]
    assert test_db.query("SELECT count(*) FROM pg_roles WHERE rolname = %s", victim) == [(1,)]
    assert test_db.query(
        "SELECT count(*) FROM pg_roles WHERE rolname = %s", test_db.role("app")
    ) == [(0,)]


@pytest.mark.parametrize(
    ("option", "name"),
    [
        ("app_user", "pg_monitor"),
        ("writer_role", "rds_superuser"),
        ("migration_user", "rdsadmin"),
        ("readonly_role", "rds_iam"),
    ],
)
def test_reserved_role_names_are_rejected(
    run_module: RunModule, test_db: ScratchDatabase, option: str, name: str
):
    result = run_module("rds_iam_bootstrap", direct_args(test_db, **{option: name}))

    assert result.get("failed") is True
    assert f"role name '{name}' is reserved" in result["msg"]
    assert test_db.query(
        "SELECT count(*) FROM pg_roles WHERE rolname LIKE %s", test_db.prefix + "\\_%"
    ) == [(0,)]


def test_app_user_logs_in_as_member_of_rds_iam(run_module: RunModule, test_db: ScratchDatabase):
    bootstrap(run_module, test_db)
    app = test_db.role("app")

    connection = test_db.server.connect(test_db.name, app, set_password(test_db, app))
    try:
        cursor = connection.cursor()
        cursor.execute("SELECT current_user, pg_has_role('rds_iam', 'MEMBER')")
        assert tuple(cursor.fetchone()) == (app, True)
    finally:
        connection.close()


def test_migration_tables_are_owned_by_migrator_and_usable_by_app(
    run_module: RunModule, test_db: ScratchDatabase
):
    bootstrap(run_module, test_db)
    migrate, app, readonly = test_db.role("migrate"), test_db.role("app"), test_db.role("readonly")

    migration = test_db.server.connect(test_db.name, migrate, set_password(test_db, migrate))
    try:
        migration.cursor().execute("CREATE TABLE items (id serial PRIMARY KEY, name text)")
    finally:
        migration.close()
    owner = test_db.query("SELECT tableowner FROM pg_tables WHERE tablename = 'items'")
    assert owner == [(test_db.role("migrator"),)]

    application = test_db.server.connect(test_db.name, app, set_password(test_db, app))
    try:
        cursor = application.cursor()
        cursor.execute("INSERT INTO items (name) VALUES ('a') RETURNING id")
        assert cursor.fetchone()[0] == 1
        with pytest.raises(pg8000.dbapi.DatabaseError, match="permission denied"):
            cursor.execute("CREATE TABLE intruder (id int)")
    finally:
        application.close()
    assert test_db.query(
        "SELECT has_table_privilege(%s, 'items', 'SELECT'), "
        "has_table_privilege(%s, 'items', 'INSERT')",
        readonly,
        readonly,
    ) == [(True, False)]
    # Default privileges covered the new table: nothing left to grant.
    assert bootstrap(run_module, test_db)["changed"] is False


def test_iam_role_is_not_an_option(run_module: RunModule, test_db: ScratchDatabase):
    # Pinned to RDS's rds_iam: naming another role would grant that role to the login users.
    result = run_module("rds_iam_bootstrap", direct_args(test_db, iam_role="rds_superuser"))

    assert result.get("failed") is True
    assert "iam_role" in result["msg"]
    assert roles_of(test_db, test_db.role("app")) == set()


def test_admin_secret_in_secrets_manager_is_used(
    run_module: RunModule, test_db: ScratchDatabase, admin_secret: str
):
    args = {"login_secret_id": admin_secret, "ssl_mode": "disable", **test_db.desired()}

    first = run_module("rds_iam_bootstrap", args)
    second = run_module("rds_iam_bootstrap", args)

    assert first.get("changed") is True, first
    assert second.get("changed") is False, second
    assert test_db.admin_password not in json.dumps(first)


def test_tls_required_against_a_server_without_tls_fails(
    run_module: RunModule, test_db: ScratchDatabase
):
    result = run_module("rds_iam_bootstrap", direct_args(test_db) | {"ssl_mode": "require"})

    assert result.get("failed") is True
    assert "cannot connect" in result["msg"] or "cannot reach" in result["msg"]
    assert test_db.admin_password not in result["msg"]


def test_playbook_run_is_idempotent_and_check_mode_safe(
    test_db: ScratchDatabase, admin_secret: str, tmp_path: Path
):
    desired = test_db.desired()
    playbook = tmp_path / "bootstrap.yml"
    playbook.write_text(
        textwrap.dedent(f"""\
        - hosts: localhost
          gather_facts: false
          vars:
            bootstrap_args: {
            json.dumps({"login_secret_id": admin_secret, "ssl_mode": "disable", **desired})
        }
          tasks:
            - name: Plan only
              django_ecs.aws.rds_iam_bootstrap: "{{{{ bootstrap_args }}}}"
              check_mode: true
              register: planned
            - name: Apply
              django_ecs.aws.rds_iam_bootstrap: "{{{{ bootstrap_args }}}}"
              register: applied
            - name: Apply again
              django_ecs.aws.rds_iam_bootstrap: "{{{{ bootstrap_args }}}}"
              register: again
            - ansible.builtin.assert:
                that:
                  - planned is changed
                  - applied is changed
                  - applied.queries == planned.queries
                  - again is not changed
                  - again.queries == []
        """)
    )

    completed = subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            "-i",
            "localhost,",
            "-c",
            "local",
            "-e",
            f"ansible_python_interpreter={sys.executable}",
            str(playbook),
        ],
        cwd=REPO_ROOT,
        env=ansible_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "failed=0" in completed.stdout
    assert test_db.admin_password not in completed.stdout
