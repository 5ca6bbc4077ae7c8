# Copyright: contributors to django_ecs.aws
# Apache License 2.0 (see galaxy.yml)
"""Plan and apply the PostgreSQL roles of the Django service.

Shared, byte for byte, by the ``rds_iam_bootstrap`` module (control node) and the ``db_init``
Lambda (which ships this file as the top-level module ``db_roles``). It therefore imports only the
standard library: no Ansible, no driver. It works on any DB-API 2 connection (pg8000 in practice).

The model: three group roles carry every privilege (read-only, writer, migrator); login roles
(``app_user``, the optional migration user) get nothing directly, only LOGIN, membership of
``rds_iam`` (IAM database authentication, no password; RDS's role, never configurable) and of one
group role. No managed role may be named ``pg_*`` or ``rds*``: those are PostgreSQL's and RDS's
own roles (``rds_superuser``, ``rds_iam``...), and granting one is how a bootstrap would hand out
more than the model allows. The migration user's
sessions switch to the migrator role (``ALTER ROLE .. IN DATABASE .. SET role``) so the tables that
Django migrations create are owned by the migrator, and the migrator's default privileges give the
other groups access to them.

Reconciling is: read the catalogs -> compare with the desired facts (pure functions) -> run the
statements in one transaction. Extra privileges held by managed roles are revoked too, so the
database converges on the desired state rather than only accumulating grants.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any, Protocol

# Lower-case unquoted-style identifiers only: what Django and RDS use, and nothing that needs
# quoting to survive. Quoting is still applied on output (defence in depth).
IDENTIFIER_PATTERN = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# Names PostgreSQL gives a special meaning in role positions (GRANT .. TO public, etc.).
RESERVED_ROLE_NAMES = frozenset(
    {"public", "none", "all", "current_user", "current_role", "session_user", "user"}
)
# PostgreSQL's predefined roles (pg_*) and RDS's own (rds_superuser, rds_iam, rdsadmin...).
RESERVED_ROLE_PREFIXES = ("pg_", "rds")
# The role RDS grants IAM database authentication through: pinned, never an input.
IAM_ROLE = "rds_iam"

DATABASE_PRIVILEGES = ("CONNECT", "CREATE", "TEMPORARY")
SCHEMA_PRIVILEGES = ("CREATE", "USAGE")
TABLE_PRIVILEGES = ("DELETE", "INSERT", "REFERENCES", "SELECT", "TRIGGER", "TRUNCATE", "UPDATE")
SEQUENCE_PRIVILEGES = ("SELECT", "UPDATE", "USAGE")
TABLE_KIND = "table"
SEQUENCE_KIND = "sequence"
# pg_default_acl.defaclobjtype codes and the keyword ALTER DEFAULT PRIVILEGES uses for them.
DEFAULT_ACL_KINDS = {"r": TABLE_KIND, "S": SEQUENCE_KIND}
KIND_KEYWORDS = {TABLE_KIND: "TABLE", SEQUENCE_KIND: "SEQUENCE"}
PLURAL_KEYWORDS = {TABLE_KIND: "TABLES", SEQUENCE_KIND: "SEQUENCES"}
# Arbitrary constant: serialises concurrent bootstraps of the same cluster (module + Lambda).
ADVISORY_LOCK_KEY = 0x6462494E4954  # "dbINIT"
# PostgreSQL 16 split role membership into INHERIT / SET options.
PG16 = 160000


class BootstrapError(Exception):
    """The desired state is invalid or the database cannot be brought to it."""


class Cursor(Protocol):
    def execute(self, operation: str, args: Sequence[Any] = ...) -> Any: ...

    def fetchall(self) -> Sequence[Sequence[Any]]: ...


class Connection(Protocol):
    def cursor(self) -> Cursor: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...


@dataclass(frozen=True)
class DesiredState:
    """What the database must look like. Every field is an identifier, validated on creation."""

    database: str = "appdb"
    schema: str = "public"
    app_user: str = "app_user"
    migration_user: str | None = None
    readonly_role: str = "app_readonly"
    writer_role: str = "app_writer"
    migrator_role: str = "app_migrator"

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if value is None and item.name == "migration_user":
                continue
            validate_identifier(value, item.name)
        if self.schema.startswith("pg_") or self.schema == "information_schema":
            raise BootstrapError(f"schema {self.schema!r} is a system schema")
        roles = list(self.managed_roles())
        for name in roles:
            check_role_name(name)
        if len(set(roles)) != len(roles):
            raise BootstrapError(f"role names must be distinct, got {sorted(roles)}")

    def group_roles(self) -> tuple[str, str, str]:
        return (self.readonly_role, self.writer_role, self.migrator_role)

    def login_roles(self) -> tuple[str, ...]:
        if self.migration_user is None:
            return (self.app_user,)
        return (self.app_user, self.migration_user)

    def managed_roles(self) -> tuple[str, ...]:
        return self.group_roles() + self.login_roles()


@dataclass(frozen=True)
class Relation:
    name: str
    kind: str  # TABLE_KIND or SEQUENCE_KIND
    owner: str


@dataclass(frozen=True)
class CurrentState:
    """What the catalogs say, restricted to the roles and objects the bootstrap manages."""

    admin: str
    server_version: int
    roles: Mapping[str, bool]  # role name -> can log in
    memberships: frozenset[tuple[str, str]]  # (group, member), effective (inheriting) only
    schema_exists: bool
    database_privileges: frozenset[tuple[str, str]]  # (grantee, privilege)
    public_database_privileges: frozenset[str]  # what PUBLIC (every role) holds
    schema_privileges: frozenset[tuple[str, str]]  # (grantee, privilege)
    public_schema_privileges: frozenset[str]
    relations: tuple[Relation, ...]
    relation_privileges: frozenset[tuple[str, str, str]]  # (relation, grantee, privilege)
    default_privileges: frozenset[tuple[str, str, str]]  # (kind, grantee, privilege)
    role_settings: Mapping[str, tuple[str, ...]]  # role -> settings in this database


@dataclass(frozen=True)
class Result:
    changed: bool
    queries: tuple[str, ...]


def validate_identifier(value: object, option: str) -> str:
    if not isinstance(value, str) or not IDENTIFIER_PATTERN.fullmatch(value):
        raise BootstrapError(
            f"{option} must match {IDENTIFIER_PATTERN.pattern} (lower-case letters, digits, "
            f"underscore, at most 63 characters), got {value!r}"
        )
    return value


def check_role_name(name: str) -> str:
    """Refuse names PostgreSQL gives a meaning and the pg_* / rds* roles of PostgreSQL and RDS."""
    if name in RESERVED_ROLE_NAMES or name.startswith(RESERVED_ROLE_PREFIXES):
        raise BootstrapError(
            f"role name {name!r} is reserved (PostgreSQL's pg_* and RDS's rds* roles, "
            f"{', '.join(sorted(RESERVED_ROLE_NAMES))}): pick another name"
        )
    return name


def quote_identifier(name: str) -> str:
    """Quote like PostgreSQL's quote_ident; also used for catalog names (tables) we did not pick."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def desired_state_from_dict(data: Mapping[str, Any]) -> DesiredState:
    """Build the desired state from a module's params or the function's configuration; unknown
    keys are errors."""
    known = {item.name for item in fields(DesiredState)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise BootstrapError(f"unknown desired-state keys: {', '.join(unknown)}")
    values = {key: value for key, value in data.items() if value is not None}
    if values.get("migration_user") == "":
        values.pop("migration_user")
    return DesiredState(**values)


def desired_state_to_dict(state: DesiredState) -> dict[str, Any]:
    return asdict(state)


# --------------------------------------------------------------------------- the Lambda contract
# The desired state is the function's own configuration: the JSON object of DesiredState fields
# in its environment variable DB_DESIRED_STATE, set by whoever deploys the function (the db_init
# role, from the inventory). The event carries at most {"check_mode": bool}: anyone allowed
# lambda:InvokeFunction may ask for a plan or a run, never for other roles or grants.
# Answer: {"changed": bool, "queries": [str, ...], "desired_state": {...}}

DESIRED_STATE_VARIABLE = "DB_DESIRED_STATE"
EVENT_KEYS = frozenset({"check_mode"})


def desired_state_from_environment(environ: Mapping[str, str]) -> DesiredState:
    """The function's desired state, from its configuration (never from the event)."""
    raw = environ.get(DESIRED_STATE_VARIABLE)
    if not raw:
        raise BootstrapError(
            f"{DESIRED_STATE_VARIABLE} is not set: the function's configuration names the database "
            "and roles (the db_init role sets it)"
        )
    try:
        data = json.loads(raw)
    except ValueError:
        raise BootstrapError(f"{DESIRED_STATE_VARIABLE} is not JSON") from None
    if not isinstance(data, Mapping):
        raise BootstrapError(
            f"{DESIRED_STATE_VARIABLE} must be a JSON object of desired-state keys"
        )
    return desired_state_from_dict(data)


def lambda_event(check_mode: bool) -> bytes:
    return json.dumps({"check_mode": check_mode}).encode()


def parse_lambda_event(event: object) -> bool:
    """The event's check_mode (default false); any other key is refused, none is read."""
    if event is None:
        return False
    if not isinstance(event, Mapping):
        raise BootstrapError('the event must be a JSON object: {"check_mode": true|false}')
    refused = sorted(str(key) for key in set(event) - EVENT_KEYS)
    if refused:
        raise BootstrapError(
            f"the event may carry only check_mode, refused: {', '.join(refused)}; the desired "
            f"state is the function's configuration ({DESIRED_STATE_VARIABLE}, set by the db_init "
            "role), never the event's"
        )
    check_mode = event.get("check_mode", False)
    if not isinstance(check_mode, bool):
        raise BootstrapError("check_mode must be a boolean")
    return check_mode


def lambda_answer(result: Result, state: DesiredState) -> dict[str, Any]:
    return {
        "changed": result.changed,
        "queries": list(result.queries),
        "desired_state": desired_state_to_dict(state),
    }


def result_from_lambda(function_error: str | None, payload: bytes) -> tuple[Result, DesiredState]:
    """Read the function's answer (its result and the desired state it is configured with); a
    failed invocation becomes a BootstrapError with its message."""
    try:
        answer = json.loads(payload or b"null")
    except ValueError:
        raise BootstrapError(f"the function answered non-JSON: {payload[:200]!r}") from None
    if function_error:
        detail = answer if not isinstance(answer, dict) else answer.get("errorMessage", answer)
        raise BootstrapError(f"the function failed ({function_error}): {detail}")
    valid = (
        isinstance(answer, dict)
        and isinstance(answer.get("changed"), bool)
        and isinstance(answer.get("queries"), list)
        and all(isinstance(query, str) for query in answer["queries"])
        and isinstance(answer.get("desired_state"), Mapping)
    )
    if not valid:
        raise BootstrapError(
            f"the function answered {str(answer)[:200]}, not {{changed, queries, desired_state}}"
        )
    result = Result(changed=answer["changed"], queries=tuple(answer["queries"]))
    return result, desired_state_from_dict(answer["desired_state"])


# --------------------------------------------------------------------------- desired facts


def desired_memberships(state: DesiredState, admin: str) -> set[tuple[str, str]]:
    wanted = {(state.writer_role, state.app_user), (IAM_ROLE, state.app_user)}
    if state.migration_user is not None:
        wanted |= {(state.migrator_role, state.migration_user)}
        wanted |= {(IAM_ROLE, state.migration_user)}
    # The admin must hold the migrator's privileges to set its default privileges and to grant
    # on the tables it owns (RDS's master user is no superuser).
    if admin not in state.managed_roles():
        wanted.add((state.migrator_role, admin))
    return wanted


def desired_database_privileges(state: DesiredState) -> set[tuple[str, str]]:
    return {
        (state.readonly_role, "CONNECT"),
        (state.writer_role, "CONNECT"),
        (state.migrator_role, "CONNECT"),
        (state.migrator_role, "TEMPORARY"),
    }


def desired_schema_privileges(state: DesiredState) -> set[tuple[str, str]]:
    return {
        (state.readonly_role, "USAGE"),
        (state.writer_role, "USAGE"),
        (state.migrator_role, "USAGE"),
        (state.migrator_role, "CREATE"),
    }


def desired_kind_privileges(state: DesiredState, kind: str) -> set[tuple[str, str]]:
    """(grantee, privilege) every relation of ``kind`` in the schema must carry."""
    if kind == SEQUENCE_KIND:
        return {
            (state.readonly_role, "SELECT"),
            (state.writer_role, "SELECT"),
            (state.writer_role, "USAGE"),
        }
    read = {(state.readonly_role, "SELECT")}
    return read | {(state.writer_role, p) for p in ("SELECT", "INSERT", "UPDATE", "DELETE")}


def relation_grantees(state: DesiredState) -> tuple[str, ...]:
    """Grantees whose relation privileges are managed; the migrator owns the tables instead."""
    return (state.readonly_role, state.writer_role, *state.login_roles())


# --------------------------------------------------------------------------- planning


def plan(state: DesiredState, current: CurrentState) -> list[str]:
    """Statements that turn ``current`` into ``state``, in an order that runs in one go."""
    return [
        *plan_roles(state, current),
        *plan_memberships(state, current),
        *plan_schema(state, current),
        *plan_database_privileges(state, current),
        *plan_schema_privileges(state, current),
        *plan_public_privileges(state, current),
        *plan_relation_privileges(state, current),
        *plan_default_privileges(state, current),
        *plan_role_settings(state, current),
    ]


def plan_roles(state: DesiredState, current: CurrentState) -> list[str]:
    wanted = {name: False for name in state.group_roles()}
    wanted.update({name: True for name in state.login_roles()})
    statements = []
    for name, login in wanted.items():
        attribute = "LOGIN" if login else "NOLOGIN"
        if name not in current.roles:
            statements.append(f"CREATE ROLE {quote_identifier(name)} {attribute}")
        elif current.roles[name] != login:
            statements.append(f"ALTER ROLE {quote_identifier(name)} {attribute}")
    return statements


def plan_memberships(state: DesiredState, current: CurrentState) -> list[str]:
    wanted = desired_memberships(state, current.admin)
    # Since PostgreSQL 16 a membership can exist without inheritance (the automatic grant to a
    # CREATEROLE creator does): ask for it explicitly so privileges actually flow.
    option = " WITH INHERIT TRUE" if current.server_version >= PG16 else ""
    statements = [
        f"GRANT {quote_identifier(group)} TO {quote_identifier(member)}{option}"
        for group, member in sorted(wanted - current.memberships)
    ]
    managed_groups = set(state.group_roles()) | {IAM_ROLE}
    managed_members = set(state.managed_roles())
    for group, member in sorted(current.memberships - wanted):
        if group in managed_groups and member in managed_members:
            statements.append(f"REVOKE {quote_identifier(group)} FROM {quote_identifier(member)}")
    return statements


def plan_schema(state: DesiredState, current: CurrentState) -> list[str]:
    if current.schema_exists:
        return []
    schema, owner = quote_identifier(state.schema), quote_identifier(state.migrator_role)
    return [f"CREATE SCHEMA {schema} AUTHORIZATION {owner}"]


def privilege_statements(
    wanted: set[tuple[str, str]],
    current: Iterable[tuple[str, str]],
    managed_grantees: Iterable[str],
    on_clause: str,
) -> list[str]:
    """GRANT what is missing and REVOKE what managed grantees hold beyond ``wanted``."""
    current_set = set(current)
    managed = set(managed_grantees)
    missing = group_by_grantee(wanted - current_set)
    extra = group_by_grantee({item for item in current_set - wanted if item[0] in managed})
    statements = [
        f"GRANT {', '.join(privileges)} ON {on_clause} TO {quote_identifier(grantee)}"
        for grantee, privileges in missing
    ]
    statements += [
        f"REVOKE {', '.join(privileges)} ON {on_clause} FROM {quote_identifier(grantee)}"
        for grantee, privileges in extra
    ]
    return statements


def group_by_grantee(pairs: Iterable[tuple[str, str]]) -> list[tuple[str, list[str]]]:
    grouped: dict[str, list[str]] = {}
    for grantee, privilege in sorted(pairs):
        grouped.setdefault(grantee, []).append(privilege)
    return sorted(grouped.items())


def plan_database_privileges(state: DesiredState, current: CurrentState) -> list[str]:
    return privilege_statements(
        desired_database_privileges(state),
        current.database_privileges,
        state.managed_roles(),
        f"DATABASE {quote_identifier(state.database)}",
    )


def plan_schema_privileges(state: DesiredState, current: CurrentState) -> list[str]:
    return privilege_statements(
        desired_schema_privileges(state),
        current.schema_privileges,
        state.managed_roles(),
        f"SCHEMA {quote_identifier(state.schema)}",
    )


def plan_public_privileges(state: DesiredState, current: CurrentState) -> list[str]:
    """PUBLIC loses CONNECT/TEMPORARY on the database and CREATE on the schema.

    Otherwise every role of the cluster could connect and create objects, and the group roles
    would grant nothing that matters.
    """
    statements = []
    database = sorted(current.public_database_privileges)
    if database:
        on_clause = f"DATABASE {quote_identifier(state.database)}"
        statements.append(f"REVOKE {', '.join(database)} ON {on_clause} FROM PUBLIC")
    if "CREATE" in current.public_schema_privileges:
        statements.append(f"REVOKE CREATE ON SCHEMA {quote_identifier(state.schema)} FROM PUBLIC")
    return statements


def plan_relation_privileges(state: DesiredState, current: CurrentState) -> list[str]:
    statements = []
    for relation in sorted(current.relations, key=lambda item: item.name):
        held = {(g, p) for name, g, p in current.relation_privileges if name == relation.name}
        # Never revoke an owner's own privileges: the owner is whoever ran the migration.
        grantees = [name for name in relation_grantees(state) if name != relation.owner]
        target = f"{quote_identifier(state.schema)}.{quote_identifier(relation.name)}"
        statements += privilege_statements(
            desired_kind_privileges(state, relation.kind),
            held,
            grantees,
            f"{KIND_KEYWORDS[relation.kind]} {target}",
        )
    return statements


def plan_default_privileges(state: DesiredState, current: CurrentState) -> list[str]:
    prefix = (
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {quote_identifier(state.migrator_role)} "
        f"IN SCHEMA {quote_identifier(state.schema)}"
    )
    statements = []
    for kind in (TABLE_KIND, SEQUENCE_KIND):
        held = {(g, p) for k, g, p in current.default_privileges if k == kind}
        for statement in privilege_statements(
            desired_kind_privileges(state, kind),
            held,
            relation_grantees(state),
            PLURAL_KEYWORDS[kind],
        ):
            statements.append(f"{prefix} {statement}")
    return statements


def plan_role_settings(state: DesiredState, current: CurrentState) -> list[str]:
    if state.migration_user is None:
        return []
    wanted = f"role={state.migrator_role}"
    if wanted in current.role_settings.get(state.migration_user, ()):
        return []
    user, database = quote_identifier(state.migration_user), quote_identifier(state.database)
    value = quote_literal(state.migrator_role)
    return [f"ALTER ROLE {user} IN DATABASE {database} SET role = {value}"]


def check_preconditions(state: DesiredState, current: CurrentState, database: str) -> None:
    """Refuse to run where the plan could only fail half-way or hide a misconfiguration."""
    if database != state.database:
        raise BootstrapError(f"connected to database {database!r}, expected {state.database!r}")
    if IAM_ROLE not in current.roles:
        raise BootstrapError(
            f"role {IAM_ROLE!r} does not exist: RDS creates it; elsewhere create it "
            "(NOLOGIN) before bootstrapping"
        )
    if current.admin in state.managed_roles():
        raise BootstrapError(
            f"connected as {current.admin!r}, one of the managed roles: use the admin user"
        )


# --------------------------------------------------------------------------- reading the catalogs

RELATION_KINDS_SQL = "('r', 'p', 'v', 'm', 'f', 'S')"

SQL_ROLES = "SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname = ANY(%s)"
SQL_MEMBERSHIPS_PG15 = """
SELECT g.rolname, m.rolname FROM pg_auth_members a
JOIN pg_roles g ON g.oid = a.roleid JOIN pg_roles m ON m.oid = a.member
WHERE g.rolname = ANY(%s) AND m.rolname = ANY(%s)"""
SQL_MEMBERSHIPS_PG16 = SQL_MEMBERSHIPS_PG15 + " AND a.inherit_option"
SQL_DATABASE_PRIVILEGES = """
SELECT r.rolname, a.privilege_type FROM pg_database d
CROSS JOIN LATERAL aclexplode(COALESCE(d.datacl, acldefault('d', d.datdba))) a
JOIN pg_roles r ON r.oid = a.grantee
WHERE d.datname = current_database() AND r.rolname = ANY(%s)"""
SQL_PUBLIC_DATABASE_PRIVILEGES = """
SELECT a.privilege_type FROM pg_database d
CROSS JOIN LATERAL aclexplode(COALESCE(d.datacl, acldefault('d', d.datdba))) a
WHERE d.datname = current_database() AND a.grantee = 0"""
SQL_PUBLIC_SCHEMA_PRIVILEGES = """
SELECT a.privilege_type FROM pg_namespace n
CROSS JOIN LATERAL aclexplode(COALESCE(n.nspacl, acldefault('n', n.nspowner))) a
WHERE n.nspname = %s AND a.grantee = 0"""
SQL_SCHEMA = "SELECT count(*) FROM pg_namespace WHERE nspname = %s"
SQL_SCHEMA_PRIVILEGES = """
SELECT r.rolname, a.privilege_type FROM pg_namespace n
CROSS JOIN LATERAL aclexplode(COALESCE(n.nspacl, acldefault('n', n.nspowner))) a
JOIN pg_roles r ON r.oid = a.grantee
WHERE n.nspname = %s AND r.rolname = ANY(%s)"""
SQL_RELATIONS = f"""
SELECT c.relname, c.relkind = 'S', o.rolname FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_roles o ON o.oid = c.relowner
WHERE n.nspname = %s AND c.relkind IN {RELATION_KINDS_SQL}"""
SQL_RELATION_PRIVILEGES = f"""
SELECT c.relname, r.rolname, a.privilege_type FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN LATERAL aclexplode(COALESCE(c.relacl, acldefault(
    CASE WHEN c.relkind = 'S' THEN 's'::"char" ELSE 'r'::"char" END, c.relowner))) a
JOIN pg_roles r ON r.oid = a.grantee
WHERE n.nspname = %s AND c.relkind IN {RELATION_KINDS_SQL} AND r.rolname = ANY(%s)"""
SQL_DEFAULT_PRIVILEGES = """
SELECT d.defaclobjtype::text, r.rolname, a.privilege_type FROM pg_default_acl d
JOIN pg_roles o ON o.oid = d.defaclrole JOIN pg_namespace n ON n.oid = d.defaclnamespace
CROSS JOIN LATERAL aclexplode(d.defaclacl) a JOIN pg_roles r ON r.oid = a.grantee
WHERE o.rolname = %s AND n.nspname = %s AND r.rolname = ANY(%s)"""
SQL_ROLE_SETTINGS = """
SELECT r.rolname, s.setconfig FROM pg_db_role_setting s
JOIN pg_roles r ON r.oid = s.setrole JOIN pg_database d ON d.oid = s.setdatabase
WHERE d.datname = current_database() AND r.rolname = ANY(%s)"""


def fetch(cursor: Cursor, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    cursor.execute(sql, args)
    return [tuple(row) for row in cursor.fetchall()]


def read_current_state(cursor: Cursor, state: DesiredState) -> tuple[CurrentState, str]:
    """Read the catalogs; returns the state and the name of the connected database."""
    admin, database, version = fetch(
        cursor, "SELECT current_user, current_database(), current_setting('server_version_num')"
    )[0]
    server_version = int(version)
    managed = list(state.managed_roles())
    groups = [*state.group_roles(), IAM_ROLE]
    members = [*managed, admin]
    membership_sql = SQL_MEMBERSHIPS_PG16 if server_version >= PG16 else SQL_MEMBERSHIPS_PG15
    relation_rows = fetch(cursor, SQL_RELATIONS, state.schema)
    current = CurrentState(
        admin=admin,
        server_version=server_version,
        roles=dict(fetch(cursor, SQL_ROLES, [*managed, IAM_ROLE])),
        memberships=frozenset(fetch(cursor, membership_sql, groups, members)),
        schema_exists=fetch(cursor, SQL_SCHEMA, state.schema)[0][0] > 0,
        database_privileges=frozenset(fetch(cursor, SQL_DATABASE_PRIVILEGES, managed)),
        public_database_privileges=frozenset(
            row[0] for row in fetch(cursor, SQL_PUBLIC_DATABASE_PRIVILEGES)
        ),
        public_schema_privileges=frozenset(
            row[0] for row in fetch(cursor, SQL_PUBLIC_SCHEMA_PRIVILEGES, state.schema)
        ),
        schema_privileges=frozenset(fetch(cursor, SQL_SCHEMA_PRIVILEGES, state.schema, managed)),
        relations=tuple(
            Relation(name, SEQUENCE_KIND if is_sequence else TABLE_KIND, owner)
            for name, is_sequence, owner in relation_rows
        ),
        relation_privileges=frozenset(
            fetch(cursor, SQL_RELATION_PRIVILEGES, state.schema, managed)
        ),
        default_privileges=frozenset(
            (DEFAULT_ACL_KINDS[kind], grantee, privilege)
            for kind, grantee, privilege in fetch(
                cursor, SQL_DEFAULT_PRIVILEGES, state.migrator_role, state.schema, managed
            )
            if kind in DEFAULT_ACL_KINDS
        ),
        role_settings={
            name: tuple(settings or ())
            for name, settings in fetch(cursor, SQL_ROLE_SETTINGS, managed)
        },
    )
    return current, database


# --------------------------------------------------------------------------- applying


def reconcile(
    connection: Connection,
    state: DesiredState,
    check_mode: bool,
    statement_timeout_ms: int = 60000,
) -> Result:
    """Plan and (unless ``check_mode``) apply, in one transaction; rolls back on any error."""
    cursor = connection.cursor()
    try:
        # One bootstrap at a time per cluster; locks and the statement budget end with the
        # transaction, so a stuck run cannot hold the catalog.
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", (ADVISORY_LOCK_KEY,))
        cursor.execute(f"SET LOCAL statement_timeout = {int(statement_timeout_ms)}")
        cursor.execute("SET LOCAL lock_timeout = 10000")
        current, database = read_current_state(cursor, state)
        check_preconditions(state, current, database)
        statements = plan(state, current)
        if check_mode or not statements:
            connection.rollback()
            return Result(changed=bool(statements), queries=tuple(statements))
        for statement in statements:
            run_statement(cursor, statement)
        connection.commit()
        return Result(changed=True, queries=tuple(statements))
    except BootstrapError:
        connection.rollback()
        raise
    except Exception as error:
        connection.rollback()
        raise BootstrapError(f"reading the catalogs failed: {database_error(error)}") from error
    except BaseException:
        connection.rollback()
        raise


def run_statement(cursor: Cursor, statement: str) -> None:
    try:
        cursor.execute(statement)
    except Exception as error:
        message = f"{statement!r} failed, nothing was changed: {database_error(error)}"
        raise BootstrapError(message) from error


def database_error(error: Exception) -> str:
    """The server's message: pg8000 carries the error fields (M: message, C: code) as a dict."""
    fields_ = error.args[0] if error.args and isinstance(error.args[0], dict) else None
    if fields_ and "M" in fields_:
        return f"{fields_['M']} (SQLSTATE {fields_.get('C', '?')})"
    return f"{type(error).__name__}: {error}"
