#!/usr/bin/python
# Copyright: contributors to django_ecs.aws
# Apache License 2.0 (see galaxy.yml)
# Ansible wants DOCUMENTATION/EXAMPLES/RETURN before any import (ansible-test validate-modules).

from __future__ import annotations

DOCUMENTATION = r"""
---
module: rds_iam_bootstrap
short_description: Make the PostgreSQL roles of the Django service match the desired state
version_added: 0.1.0
description:
  - Creates and repairs the roles of the application database on RDS for PostgreSQL, so that the
    application logs in with IAM database authentication and never with a password.
  - Three group roles carry every privilege. The read-only role gets C(CONNECT), schema C(USAGE)
    and C(SELECT); the writer role also C(INSERT), C(UPDATE), C(DELETE) and sequence C(USAGE);
    the migrator role gets C(CREATE) in the schema and C(TEMPORARY). Existing tables and sequences
    of the schema are granted, and default privileges cover those the migrator creates later.
  - I(app_user) is C(LOGIN) without a password and a member of C(rds_iam) and of the writer role.
    The optional I(migration_user) is the same with the migrator role; its sessions switch to the
    migrator role (C(ALTER ROLE .. IN DATABASE .. SET role)), so the tables Django migrations
    create are owned by the migrator and covered by its default privileges.
  - C(PUBLIC) loses C(CONNECT) and C(TEMPORARY) on the database and C(CREATE) on the schema;
    privileges the managed roles hold beyond the desired ones are revoked. Every change runs in
    one transaction, serialised by an advisory lock.
  - "Two ways to reach the database: C(direct) from the control node (login options, or the admin
    secret in Secrets Manager), or C(lambda): invoke the C(db_init) function deployed in the VPC
    (see M(django_ecs.aws.lambda_package)). Both run the same planning code
    (C(plugins/module_utils/db_roles.py)), which is shipped in the Lambda zip."
  - With C(connection=lambda) the desired state is the function's own configuration (its
    environment variable C(DB_DESIRED_STATE), set where the function is deployed, by the
    C(db_init) role); the invocation carries check mode only, and the function refuses any other
    key, so permission to invoke it is never permission to choose roles or grants. The
    desired-state options are then refused too, and I(desired_state) returns what the function
    is configured with.
  - Why no existing module is used. The C(community.postgresql) modules need psycopg2 (compiled,
    unfit for the Lambda zip) and a network path from the control node to the private database;
    a dozen of them would run as separate transactions with no shared plan, so check mode could
    not report the statements and drift would be repaired piecemeal. M(amazon.aws.lambda_execute)
    could invoke the function but always reports C(changed) and cannot do check mode, and the
    C(amazon.aws.secretsmanager_secret) lookup would put the admin password into a play variable.
    So this module calls Secrets Manager and Lambda through boto3 itself (with retries).
options:
  connection:
    description: How to reach the database.
    type: str
    choices: [direct, lambda]
    default: direct
  function_name:
    description: Name or ARN of the deployed C(db_init) function. Required with C(connection=lambda).
    type: str
  invoke_timeout:
    description: Seconds to wait for the function's answer (C(connection=lambda)).
    type: int
    default: 300
  login_secret_id:
    description:
      - Name or ARN of the Secrets Manager secret holding the admin credentials in the RDS JSON
        shape (C(username), C(password), C(host), C(port), C(engine), C(dbname)).
      - I(login_host), I(login_port) and I(login_user) override the secret's values (for a tunnel).
    type: str
  login_host:
    description: Database host (C(connection=direct)).
    type: str
  login_port:
    description: Database port; defaults to the secret's port, else 5432.
    type: int
  login_user:
    description: Admin user (the RDS master user).
    type: str
  login_password:
    description: Admin password. Prefer I(login_secret_id).
    type: str
  ssl_mode:
    description:
      - TLS towards the database, as libpq's C(sslmode). C(verify-full) checks the certificate
        against I(ca_bundle) and the host name; C(require) only encrypts.
      - C(disable) is for a PostgreSQL without TLS (a bare test server). RDS with
        C(rds.force_ssl=1) refuses it, and so do the local emulator's RDS endpoints.
    type: str
    choices: [disable, require, verify-full]
    default: verify-full
  ca_bundle:
    description:
      - PEM file of the certificate authorities for C(verify-full); for RDS the regional or
        global bundle from AWS. Without it the system store is used, which lacks the RDS CAs.
    type: path
  connect_timeout:
    description: Seconds for the TCP/TLS connection and each network read.
    type: int
    default: 10
  statement_timeout:
    description: Seconds any single statement may take before the transaction is rolled back.
    type: int
    default: 60
  database:
    description:
      - Database holding the application tables; it must exist.
      - C(appdb) when not given. C(connection=direct) only (see I(connection)).
    type: str
  schema:
    description:
      - Schema of the application tables; created (owned by the migrator) if missing.
      - C(public) when not given. C(connection=direct) only (see I(connection)).
    type: str
  app_user:
    description:
      - Login role of the application (IAM authentication, writer privileges).
      - C(app_user) when not given. C(connection=direct) only (see I(connection)).
    type: str
  migration_user:
    description:
      - Optional login role for migrations (IAM authentication, migrator privileges).
      - C(connection=direct) only (see I(connection)).
    type: str
  readonly_role:
    description:
      - Group role with read-only privileges.
      - C(app_readonly) when not given. C(connection=direct) only (see I(connection)).
    type: str
  writer_role:
    description:
      - Group role with read-write privileges on the tables.
      - C(app_writer) when not given. C(connection=direct) only (see I(connection)).
    type: str
  migrator_role:
    description:
      - Group role that creates and owns the schema objects.
      - C(app_migrator) when not given. C(connection=direct) only (see I(connection)).
    type: str
notes:
  - Role, database and schema names must match C(^[a-z_][a-z0-9_]{0,62}$); role names starting
    with C(pg_) or C(rds) (PostgreSQL's and RDS's own roles) and reserved names are rejected before
    anything reaches the database. Names are also quoted in SQL.
  - The IAM authentication role is RDS's C(rds_iam), which RDS creates; it is never created here
    and cannot be changed.
  - Roles are never dropped; a role removed from the options keeps its existing objects.
  - The C(direct) connection needs pg8000 on the control node; boto3 only for I(login_secret_id).
  - With C(connection=lambda) the function reads the secret itself; no credential passes through
    Ansible. Check mode is forwarded to the function, which then only plans. Changing the names
    means redeploying the function with another configuration.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author:
  - django_ecs.aws maintainers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Bootstrap the roles through the db_init function inside the VPC
  django_ecs.aws.rds_iam_bootstrap:
    connection: lambda
    function_name: dev-djg-db-init-ander

- name: Bootstrap from the control node, naming the roles
  django_ecs.aws.rds_iam_bootstrap:
    login_secret_id: dev-djg-rds-admin-ander
    database: appdb
    migration_user: app_migrate

- name: Bootstrap from the control node with the admin secret (local emulator, its CA bundle)
  django_ecs.aws.rds_iam_bootstrap:
    login_secret_id: dev-djg-rds-admin-ander
    ssl_mode: verify-full
    ca_bundle: "{{ lookup('ansible.builtin.env', 'DJANGO_ECS_EMULATOR_CA_BUNDLE') }}"
    endpoint_url: http://127.0.0.1:4566

- name: Bootstrap through an SSM port forward, verifying the RDS certificate
  django_ecs.aws.rds_iam_bootstrap:
    login_secret_id: prod-django-rds-admin-and
    login_host: localhost
    login_port: 15432
    ssl_mode: require
"""

RETURN = r"""
queries:
  description: Statements run (in check mode, that would run), in order.
  returned: always
  type: list
  elements: str
  sample:
    - CREATE ROLE "app_user" LOGIN
    - GRANT "rds_iam" TO "app_user"
desired_state:
  description:
    - The validated desired state that was applied; with C(connection=lambda), the function's own
      configuration, as the function reports it.
  returned: always
  type: dict
  sample: {database: appdb, schema: public, app_user: app_user, migration_user: null}
"""

from typing import Any

try:
    import botocore
    from botocore.config import Config
except ImportError:
    pass  # AnsibleAWSModule reports a missing botocore

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.django_ecs.aws.plugins.module_utils.db_connect import (
    SSL_MODES,
    ConnectError,
    Credentials,
    connect,
    credentials_from_secret,
)
from ansible_collections.django_ecs.aws.plugins.module_utils.db_roles import (
    BootstrapError,
    DesiredState,
    Result,
    desired_state_from_dict,
    desired_state_to_dict,
    lambda_event,
    reconcile,
    result_from_lambda,
)

STATE_OPTIONS = (
    "database",
    "schema",
    "app_user",
    "migration_user",
    "readonly_role",
    "writer_role",
    "migrator_role",
)

ARGUMENT_SPEC: dict[str, Any] = {
    "connection": {"type": "str", "choices": ["direct", "lambda"], "default": "direct"},
    "function_name": {"type": "str"},
    "invoke_timeout": {"type": "int", "default": 300},
    "login_secret_id": {"type": "str"},
    "login_host": {"type": "str"},
    "login_port": {"type": "int"},
    "login_user": {"type": "str"},
    "login_password": {"type": "str", "no_log": True},
    "ssl_mode": {"type": "str", "choices": list(SSL_MODES), "default": "verify-full"},
    "ca_bundle": {"type": "path"},
    "connect_timeout": {"type": "int", "default": 10},
    "statement_timeout": {"type": "int", "default": 60},
    # No defaults here: DesiredState's apply to connection=direct, and connection=lambda must be
    # able to tell that none was given (the function's configuration decides).
    **{option: {"type": "str"} for option in STATE_OPTIONS},
}


def direct_credentials(module: AnsibleAWSModule) -> Credentials:
    """Admin credentials from the login options, completed or overridden over the secret."""
    params = module.params
    if params["login_secret_id"]:
        base = credentials_from_secret(read_secret(module, params["login_secret_id"]))
    else:
        base = Credentials(host="", port=5432, username="", password="")
    credentials = Credentials(
        host=params["login_host"] or base.host,
        port=params["login_port"] or base.port,
        username=params["login_user"] or base.username,
        password=params["login_password"] or base.password,
    )
    if not (credentials.host and credentials.username and credentials.password):
        module.fail_json(
            msg="connection=direct needs login_secret_id or login_host, login_user, login_password"
        )
    return credentials


def read_secret(module: AnsibleAWSModule, secret_id: str) -> str:
    client = module.client("secretsmanager", retry_decorator=AWSRetry.jittered_backoff())
    try:
        response = client.get_secret_value(SecretId=secret_id, aws_retry=True)
    except is_boto3_error_code("ResourceNotFoundException") as error:
        module.fail_json_aws(error, msg=f"secret {secret_id} not found")
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
        module.fail_json_aws(error, msg=f"cannot read secret {secret_id}")
    return response["SecretString"]


def run_direct(module: AnsibleAWSModule, state: DesiredState) -> Result:
    params = module.params
    connection = connect(
        direct_credentials(module),
        state.database,
        params["ssl_mode"],
        params["ca_bundle"],
        timeout=params["connect_timeout"],
    )
    try:
        return reconcile(
            connection,
            state,
            module.check_mode,
            statement_timeout_ms=params["statement_timeout"] * 1000,
        )
    finally:
        connection.close()


def run_lambda(module: AnsibleAWSModule) -> tuple[Result, DesiredState]:
    # One attempt per read: a retried invoke would run the bootstrap twice and hide the
    # first answer. Throttling and connection errors are still retried by AWSRetry.
    config = Config(
        read_timeout=module.params["invoke_timeout"],
        connect_timeout=module.params["connect_timeout"],
        retries={"max_attempts": 1},
    )
    client = module.client("lambda", retry_decorator=AWSRetry.jittered_backoff(), config=config)
    try:
        response = client.invoke(
            FunctionName=module.params["function_name"],
            InvocationType="RequestResponse",
            Payload=lambda_event(module.check_mode),
            aws_retry=True,
        )
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
        module.fail_json_aws(error, msg=f"cannot invoke {module.params['function_name']}")
    return result_from_lambda(response.get("FunctionError"), response["Payload"].read())


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec=ARGUMENT_SPEC,
        supports_check_mode=True,
        required_if=[("connection", "lambda", ["function_name"])],
    )
    given = {key: module.params[key] for key in STATE_OPTIONS if module.params[key] is not None}
    try:
        if module.params["connection"] == "lambda":
            if given:
                module.fail_json(
                    msg=f"with connection=lambda the desired state is the function's own "
                    f"configuration, not options: remove {', '.join(sorted(given))} (set them "
                    "where the function is deployed)"
                )
            result, state = run_lambda(module)
        else:
            state = desired_state_from_dict(given)
            result = run_direct(module, state)
    except (BootstrapError, ConnectError) as error:
        module.fail_json(msg=str(error))
    module.exit_json(
        changed=result.changed,
        queries=list(result.queries),
        desired_state=desired_state_to_dict(state),
    )


if __name__ == "__main__":
    main()
