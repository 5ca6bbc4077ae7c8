#!/usr/bin/python
# Copyright: contributors to django_ecs.aws
# Apache License 2.0 (see galaxy.yml)
# Ansible wants DOCUMENTATION/EXAMPLES/RETURN before any import (ansible-test validate-modules).

from __future__ import annotations

DOCUMENTATION = r"""
module: data_lookup
short_description: Find the data layer's database, replica and security groups in one pass
version_added: 0.1.0
description:
  - Reads the RDS instance O(instance_id) and its replica O(replica_id) (one paginated
    C(DescribeDBInstances)) and the security groups O(security_group_name) and
    O(client_security_group_name) (one paginated C(DescribeSecurityGroups)) with one boto3 session,
    and returns what the C(django_ecs.aws.data_lookup) role publishes, including the
    C(rds-db:connect) resources of the app and migration logins.
  - Why a custom module? M(amazon.aws.rds_instance_info) and M(amazon.aws.ec2_security_group_info)
    cost one task each (one Python and boto3 start-up, about a second), and the former also reads
    every instance's tags, which nothing here needs.
  - It does not fail when the database is missing; the role decides.
  - Read-only; supports check mode (it behaves the same).
author:
  - django_ecs.aws maintainers (!UNKNOWN)
options:
  instance_id:
    description: The database's DB instance identifier.
    type: str
    required: true
  replica_id:
    description: Its read replica's identifier (there may be none).
    type: str
    required: true
  security_group_name:
    description: The name of the database's security group.
    type: str
    required: true
  client_security_group_name:
    description: The name of the group whose members may reach the database (C(db-clients)).
    type: str
    required: true
  app_user:
    description: The application's IAM login, for RV(iam_connect_arn).
    type: str
    required: true
  migration_user:
    description: The migrations' IAM login, for RV(iam_connect_migration_arn) (empty for none).
    type: str
    default: ""
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Find the data layer of this environment
  django_ecs.aws.data_lookup:
    instance_id: dev-djg-db-ander
    replica_id: dev-djg-db-replica-ander
    security_group_name: dev-djg-db-ander
    client_security_group_name: dev-djg-db-clients-ander
    app_user: app_user
    migration_user: app_migrate
  register: data
"""

RETURN = r"""
found:
  description: Whether the instance exists.
  returned: always
  type: bool
instance_id:
  description: Its identifier (empty when not found; so are the other instance values).
  returned: always
  type: str
instance_arn:
  description: Its ARN.
  returned: always
  type: str
status:
  description: Its C(DBInstanceStatus).
  returned: always
  type: str
  sample: available
endpoint:
  description: Its endpoint address (empty while it is being created).
  returned: always
  type: str
port:
  description: Its endpoint port (5432 when it has no endpoint yet).
  returned: always
  type: int
resource_id:
  description: Its C(DbiResourceId), the part of the C(rds-db:connect) resource that names it.
  returned: always
  type: str
db_name:
  description: The database it was created with.
  returned: always
  type: str
iam_connect_arn:
  description: The C(rds-db:connect) resource of O(app_user), C(arn:<partition>:rds-db:<region>:<account>:dbuser:<DbiResourceId>/<user>).
  returned: always
  type: str
iam_connect_migration_arn:
  description: The same for O(migration_user) (empty without one).
  returned: always
  type: str
security_group_id:
  description: The id of the database's security group (empty when missing).
  returned: always
  type: str
client_security_group_id:
  description: The id of the client group (empty when missing).
  returned: always
  type: str
replica_id:
  description: The replica's identifier (empty without a replica).
  returned: always
  type: str
replica_endpoint:
  description: The replica's endpoint address.
  returned: always
  type: str
"""

import contextlib
from typing import Any

with contextlib.suppress(ImportError):  # AnsibleAWSModule reports a missing botocore itself
    import botocore

from ansible_collections.amazon.aws.plugins.module_utils.botocore import (
    paginated_query_with_retries,
)
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.django_ecs.aws.plugins.module_utils.aws_clients import session_clients
from ansible_collections.django_ecs.aws.plugins.module_utils.data_lookup import data_lookup_result

ARGUMENT_SPEC: dict[str, Any] = {
    "instance_id": {"type": "str", "required": True},
    "replica_id": {"type": "str", "required": True},
    "security_group_name": {"type": "str", "required": True},
    "client_security_group_name": {"type": "str", "required": True},
    "app_user": {"type": "str", "required": True},
    "migration_user": {"type": "str", "default": ""},
}


def read_data_layer(
    rds: Any, ec2: Any, params: dict[str, Any], retry: Any
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The instance and replica, then the two security groups (found by name in any VPC)."""
    identifiers = [params["instance_id"], params["replica_id"]]
    instances = paginated_query_with_retries(
        rds,
        "describe_db_instances",
        retry,
        Filters=[{"Name": "db-instance-id", "Values": identifiers}],
    )["DBInstances"]
    group_names = [params["security_group_name"], params["client_security_group_name"]]
    groups = paginated_query_with_retries(
        ec2,
        "describe_security_groups",
        retry,
        Filters=[{"Name": "group-name", "Values": group_names}],
    )["SecurityGroups"]
    return list(instances), list(groups)


def run(module: Any) -> None:
    """The read, on ``AnsibleAWSModule`` here or ``ControllerModule`` in the action plugin
    (plugins/action/data_lookup.py runs it in the controller's worker); ends in exit_json."""
    retry = AWSRetry.jittered_backoff()
    params = module.params
    client = session_clients(module, retry)  # one boto3 session for both (aws_clients says why)
    rds, ec2 = client("rds"), client("ec2")
    try:
        instances, groups = read_data_layer(rds, ec2, params, retry)
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as error:
        module.fail_json_aws(error, msg="Could not read the data layer")
    result = data_lookup_result(
        instances,
        groups,
        instance_id=params["instance_id"],
        replica_id=params["replica_id"],
        security_group_name=params["security_group_name"],
        client_security_group_name=params["client_security_group_name"],
        app_user=params["app_user"],
        migration_user=params["migration_user"],
    )
    module.exit_json(changed=False, **result)


def main() -> None:
    run(AnsibleAWSModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True))


if __name__ == "__main__":
    main()
