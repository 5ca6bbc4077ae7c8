"""Pure planning of the database bootstrap: no database, no AWS."""

from __future__ import annotations

import importlib.util
import json
import ssl
import sys
from dataclasses import replace
from pathlib import Path
from types import ModuleType

import pytest

MODULE_UTILS = Path(__file__).resolve().parents[2] / "plugins" / "module_utils"


def load(name: str) -> ModuleType:
    """Load a module_utils file under a private name (the Lambda imports it as top-level)."""
    spec = importlib.util.spec_from_file_location(f"_unit_{name}", MODULE_UTILS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


db_roles = load("db_roles")
db_connect = load("db_connect")
STATE = db_roles.DesiredState(migration_user="app_migrate")


def empty_database(**overrides: object) -> object:
    """A fresh RDS database: only rds_iam exists; PUBLIC holds PostgreSQL's defaults."""
    values = {
        "admin": "postgres_admin",
        "server_version": 150000,
        "roles": {"rds_iam": False},
        "memberships": frozenset(),
        "schema_exists": True,
        "database_privileges": frozenset(),
        "public_database_privileges": frozenset({"CONNECT", "TEMPORARY"}),
        "schema_privileges": frozenset(),
        "public_schema_privileges": frozenset({"USAGE"}),
        "relations": (),
        "relation_privileges": frozenset(),
        "default_privileges": frozenset(),
        "role_settings": {},
    }
    values.update(overrides)
    return db_roles.CurrentState(**values)


def converged(state: object = STATE, **overrides: object) -> object:
    """The catalogs as they are after a successful bootstrap of ``state``."""
    admin = "postgres_admin"
    relation_privileges = frozenset(
        ("orders", grantee, privilege)
        for grantee, privilege in db_roles.desired_kind_privileges(state, db_roles.TABLE_KIND)
    )
    defaults = frozenset(
        (kind, grantee, privilege)
        for kind in (db_roles.TABLE_KIND, db_roles.SEQUENCE_KIND)
        for grantee, privilege in db_roles.desired_kind_privileges(state, kind)
    )
    values = {
        "roles": {"rds_iam": False, **{name: False for name in state.group_roles()}}
        | {name: True for name in state.login_roles()},
        "memberships": frozenset(db_roles.desired_memberships(state, admin)),
        "database_privileges": frozenset(db_roles.desired_database_privileges(state)),
        "public_database_privileges": frozenset(),
        "schema_privileges": frozenset(db_roles.desired_schema_privileges(state)),
        "relations": (db_roles.Relation("orders", db_roles.TABLE_KIND, state.migrator_role),),
        "relation_privileges": relation_privileges,
        "default_privileges": defaults,
        "role_settings": {state.migration_user: (f"role={state.migrator_role}",)},
    }
    values.update(overrides)
    return empty_database(**values)


def test_empty_database_plan_creates_roles_before_granting():
    statements = db_roles.plan(STATE, empty_database())

    creates = [i for i, s in enumerate(statements) if s.startswith("CREATE ROLE")]
    grants = [i for i, s in enumerate(statements) if s.startswith("GRANT")]
    assert len(creates) == 5 and max(creates) < min(grants)
    assert 'CREATE ROLE "app_user" LOGIN' in statements
    assert 'CREATE ROLE "app_writer" NOLOGIN' in statements
    assert 'GRANT "rds_iam" TO "app_user"' in statements
    assert 'GRANT "app_writer" TO "app_user"' in statements
    assert 'GRANT "app_migrator" TO "postgres_admin"' in statements
    assert 'REVOKE CONNECT, TEMPORARY ON DATABASE "appdb" FROM PUBLIC' in statements
    assert 'ALTER ROLE "app_migrate" IN DATABASE "appdb" SET role = \'app_migrator\'' in statements


def test_converged_database_plans_nothing():
    assert db_roles.plan(STATE, converged()) == []


def test_without_migration_user_no_migration_login_is_planned():
    state = db_roles.DesiredState()
    statements = db_roles.plan(state, empty_database())

    assert not [s for s in statements if "app_migrate" in s]
    assert db_roles.plan(state, converged(state)) == []


def test_revoked_membership_is_granted_again():
    current = converged()
    damaged = replace(current, memberships=current.memberships - {("app_writer", "app_user")})

    assert db_roles.plan(STATE, damaged) == ['GRANT "app_writer" TO "app_user"']


def test_pg16_membership_asks_for_inheritance():
    current = converged(server_version=160004)
    damaged = replace(
        current, memberships=current.memberships - {("app_migrator", "postgres_admin")}
    )

    assert db_roles.plan(STATE, damaged) == [
        'GRANT "app_migrator" TO "postgres_admin" WITH INHERIT TRUE'
    ]


def test_extra_membership_of_a_managed_group_is_revoked_but_foreign_roles_are_left():
    current = converged()
    current = replace(
        current,
        memberships=current.memberships | {("app_migrator", "app_user"), ("reporting", "app_user")},
    )

    assert db_roles.plan(STATE, current) == ['REVOKE "app_migrator" FROM "app_user"']


def test_table_grant_drift_names_the_table():
    current = converged()
    damaged = replace(
        current,
        relation_privileges=current.relation_privileges - {("orders", "app_writer", "INSERT")}
        | {("orders", "app_readonly", "DELETE")},
    )

    assert db_roles.plan(STATE, damaged) == [
        'GRANT INSERT ON TABLE "public"."orders" TO "app_writer"',
        'REVOKE DELETE ON TABLE "public"."orders" FROM "app_readonly"',
    ]


def test_owner_privileges_are_never_revoked():
    current = converged(
        relations=(db_roles.Relation("legacy", db_roles.TABLE_KIND, "app_user"),),
        relation_privileges=frozenset(
            {("legacy", "app_user", "TRUNCATE"), ("legacy", "app_readonly", "SELECT")}
            | {("legacy", "app_writer", p) for p in ("SELECT", "INSERT", "UPDATE", "DELETE")}
        ),
    )

    assert db_roles.plan(STATE, current) == []


def test_sequences_get_usage_for_the_writer():
    current = converged(
        relations=(db_roles.Relation("orders_id_seq", db_roles.SEQUENCE_KIND, "app_migrator"),),
        relation_privileges=frozenset(),
    )

    assert db_roles.plan(STATE, current) == [
        'GRANT SELECT ON SEQUENCE "public"."orders_id_seq" TO "app_readonly"',
        'GRANT SELECT, USAGE ON SEQUENCE "public"."orders_id_seq" TO "app_writer"',
    ]


def test_table_names_from_the_catalog_are_quoted():
    current = converged(
        relations=(db_roles.Relation('we"ird', db_roles.TABLE_KIND, "app_migrator"),),
        relation_privileges=frozenset(),
    )

    assert 'GRANT SELECT ON TABLE "public"."we""ird" TO "app_readonly"' in db_roles.plan(
        STATE, current
    )


def test_default_privileges_drift_is_repaired():
    current = converged()
    damaged = replace(
        current,
        default_privileges=current.default_privileges
        - {(db_roles.TABLE_KIND, "app_readonly", "SELECT")},
    )

    assert db_roles.plan(STATE, damaged) == [
        'ALTER DEFAULT PRIVILEGES FOR ROLE "app_migrator" IN SCHEMA "public" '
        'GRANT SELECT ON TABLES TO "app_readonly"'
    ]


def test_login_attribute_drift_is_repaired():
    current = converged()
    damaged = replace(current, roles={**current.roles, "app_user": False, "app_writer": True})

    assert db_roles.plan(STATE, damaged) == [
        'ALTER ROLE "app_writer" NOLOGIN',
        'ALTER ROLE "app_user" LOGIN',
    ]


def test_missing_schema_is_created_owned_by_the_migrator():
    state = db_roles.DesiredState(schema="django")
    statements = db_roles.plan(state, empty_database(schema_exists=False))

    assert 'CREATE SCHEMA "django" AUTHORIZATION "app_migrator"' in statements
    assert statements.index(
        'CREATE SCHEMA "django" AUTHORIZATION "app_migrator"'
    ) < statements.index('GRANT CREATE, USAGE ON SCHEMA "django" TO "app_migrator"')


@pytest.mark.parametrize(
    "value",
    ['app"; DROP ROLE x; --', "App_User", "1app", "", "a" * 64, "app user", "app-user", None, 7],
)
def test_invalid_identifiers_are_rejected(value: object):
    with pytest.raises(db_roles.BootstrapError, match="app_user must match"):
        db_roles.DesiredState(app_user=value)


@pytest.mark.parametrize("name", ["public", "pg_monitor", "current_user", "none"])
def test_reserved_role_names_are_rejected(name: str):
    with pytest.raises(db_roles.BootstrapError, match="reserved"):
        db_roles.DesiredState(writer_role=name)


@pytest.mark.parametrize(
    "name", ["rds_superuser", "rds_iam", "rdsadmin", "rds", "pg_read_all_data"]
)
@pytest.mark.parametrize(
    "option", ["app_user", "migration_user", "readonly_role", "writer_role", "migrator_role"]
)
def test_pg_and_rds_role_names_are_refused_for_every_managed_role(option: str, name: str):
    with pytest.raises(db_roles.BootstrapError, match=f"role name '{name}' is reserved"):
        db_roles.DesiredState(**{option: name})


def test_names_merely_containing_rds_are_accepted():
    state = db_roles.DesiredState(app_user="app_rds", writer_role="words_writer")

    assert state.app_user == "app_rds"


def test_the_iam_role_is_pinned_not_an_input():
    with pytest.raises(TypeError):
        db_roles.DesiredState(iam_role="app_iam")
    with pytest.raises(db_roles.BootstrapError, match="unknown desired-state keys: iam_role"):
        db_roles.desired_state_from_dict({"iam_role": "rds_superuser"})
    assert ("rds_iam", "app_user") in db_roles.desired_memberships(STATE, "postgres_admin")


@pytest.mark.parametrize("schema", ["pg_catalog", "information_schema"])
def test_system_schemas_are_rejected(schema: str):
    with pytest.raises(db_roles.BootstrapError, match="system schema"):
        db_roles.DesiredState(schema=schema)


def test_role_names_must_be_distinct():
    with pytest.raises(db_roles.BootstrapError, match="distinct"):
        db_roles.DesiredState(app_user="app_writer")


def test_connecting_as_a_managed_role_is_refused():
    with pytest.raises(db_roles.BootstrapError, match="one of the managed roles"):
        db_roles.check_preconditions(STATE, empty_database(admin="app_user"), "appdb")


def test_missing_iam_role_is_refused():
    with pytest.raises(db_roles.BootstrapError, match="'rds_iam' does not exist"):
        db_roles.check_preconditions(STATE, empty_database(roles={}), "appdb")


def test_desired_state_from_dict_rejects_unknown_keys_and_drops_empty_migration_user():
    assert db_roles.desired_state_from_dict({"migration_user": ""}).migration_user is None
    with pytest.raises(db_roles.BootstrapError, match="unknown desired-state keys: password"):
        db_roles.desired_state_from_dict({"password": "x"})


def test_lambda_event_carries_check_mode_only():
    event = json.loads(db_roles.lambda_event(True))

    assert event == {"check_mode": True}
    assert db_roles.parse_lambda_event(event) is True
    assert db_roles.parse_lambda_event({}) is False
    assert db_roles.parse_lambda_event(None) is False


@pytest.mark.parametrize(
    "event",
    [
        {"writer_role": "rds_superuser", "app_user": "backdoor"},
        {"desired_state": {"app_user": "backdoor"}, "check_mode": False},
        {"check_mode": True, "migration_user": "backdoor"},
    ],
)
def test_lambda_event_with_any_other_key_is_refused(event: dict[str, object]):
    with pytest.raises(db_roles.BootstrapError, match="the event may carry only check_mode"):
        db_roles.parse_lambda_event(event)


@pytest.mark.parametrize("event", [[], "check_mode", 1])
def test_lambda_event_that_is_no_object_is_refused(event: object):
    with pytest.raises(db_roles.BootstrapError, match="must be a JSON object"):
        db_roles.parse_lambda_event(event)


def test_lambda_event_with_string_check_mode_is_refused():
    with pytest.raises(db_roles.BootstrapError, match="check_mode must be a boolean"):
        db_roles.parse_lambda_event({"check_mode": "false"})


def test_function_state_comes_from_its_configuration():
    configured = json.dumps({"database": "appdb", "app_user": "app_user", "migration_user": "mig"})

    state = db_roles.desired_state_from_environment({"DB_DESIRED_STATE": configured})

    assert state == db_roles.DesiredState(migration_user="mig")


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({}, "DB_DESIRED_STATE is not set"),
        ({"DB_DESIRED_STATE": "{"}, "is not JSON"),
        ({"DB_DESIRED_STATE": "[]"}, "must be a JSON object"),
        ({"DB_DESIRED_STATE": '{"app_user": "rds_superuser"}'}, "reserved"),
        ({"DB_DESIRED_STATE": '{"iam_role": "app_iam"}'}, "unknown desired-state keys"),
    ],
)
def test_function_configuration_is_validated(environ: dict[str, str], message: str):
    with pytest.raises(db_roles.BootstrapError, match=message):
        db_roles.desired_state_from_environment(environ)


def test_lambda_answer_is_parsed():
    result = db_roles.Result(True, ('CREATE ROLE "a" LOGIN',))
    payload = json.dumps(db_roles.lambda_answer(result, STATE)).encode()

    assert db_roles.result_from_lambda(None, payload) == (result, STATE)


def test_lambda_function_error_carries_its_message():
    payload = json.dumps({"errorMessage": "cannot reach db", "errorType": "ConnectError"})

    with pytest.raises(db_roles.BootstrapError, match=r"failed \(Unhandled\): cannot reach db"):
        db_roles.result_from_lambda("Unhandled", payload.encode())


@pytest.mark.parametrize(
    "answer", [{"desired_state": {}}, {"changed": False, "queries": []}, {"ok": True}]
)
def test_lambda_answer_of_another_shape_is_refused(answer: dict[str, object]):
    with pytest.raises(db_roles.BootstrapError, match=r"not \{changed, queries, desired_state\}"):
        db_roles.result_from_lambda(None, json.dumps(answer).encode())


def test_rds_secret_is_parsed_and_password_hidden_from_repr():
    secret = {"username": "admin", "password": "s3cr3t", "engine": "postgres", "host": "db.local"}

    credentials = db_connect.credentials_from_secret(json.dumps(secret))

    assert (credentials.host, credentials.port, credentials.username) == ("db.local", 5432, "admin")
    assert "s3cr3t" not in repr(credentials)


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        ("not json", "not JSON"),
        ("[]", "JSON object"),
        ('{"username": "a"}', "lacks password, host"),
    ],
)
def test_unusable_secret_is_refused_without_echoing_it(secret: str, message: str):
    with pytest.raises(db_connect.ConnectError, match=message) as failure:
        db_connect.credentials_from_secret(secret)
    assert secret not in str(failure.value)


def test_ssl_modes_map_to_contexts(tmp_path: Path):
    assert db_connect.ssl_context("disable") is None
    assert db_connect.ssl_context("require").verify_mode == ssl.CERT_NONE
    verified = db_connect.ssl_context("verify-full")
    assert verified.verify_mode == ssl.CERT_REQUIRED and verified.check_hostname
    with pytest.raises(db_connect.ConnectError, match="cannot load CA bundle"):
        db_connect.ssl_context("verify-full", str(tmp_path / "missing.pem"))
    with pytest.raises(db_connect.ConnectError, match="ssl_mode must be one of"):
        db_connect.ssl_context("prefer")
