# Copyright: contributors to django_ecs.aws
# Apache License 2.0 (see galaxy.yml)
"""What another layer learns of the data layer: the database, its replica, its security groups
and the ``rds-db:connect`` resources of its IAM logins.

Pure functions over boto3 ``describe_db_instances`` / ``describe_security_groups`` answers, so
unit tests need no AWS. The one place the IAM connect ARN is derived.
"""

from __future__ import annotations

from typing import Any

DEFAULT_PORT = 5432


def iam_connect_arn(instance_arn: str, resource_id: str, user: str) -> str:
    """``arn:<partition>:rds-db:<region>:<account>:dbuser:<DbiResourceId>/<user>``, or ''.

    What a task role needs to log in as ``user`` with an IAM token (``rds-db:connect``; the token
    is signed locally, there is no ``rds:GenerateDbAuthToken`` action). Partition, region and
    account come from the instance's own ARN (``arn:<partition>:rds:<region>:<account>:db:<id>``).
    Empty without an instance, a resource id or a user.
    """
    parts = instance_arn.split(":")
    if len(parts) < 6 or not resource_id or not user:
        return ""
    partition, region, account = parts[1], parts[3], parts[4]
    return f"arn:{partition}:rds-db:{region}:{account}:dbuser:{resource_id}/{user}"


def _instance_named(instances: list[dict[str, Any]], identifier: str) -> dict[str, Any]:
    named = [i for i in instances if i.get("DBInstanceIdentifier") == identifier]
    return named[0] if named else {}


def _group_id_named(groups: list[dict[str, Any]], name: str) -> str:
    # Last match wins, as the role's dict() of name -> id did (names are unique per VPC).
    ids = [g["GroupId"] for g in groups if g.get("GroupName") == name]
    return ids[-1] if ids else ""


def data_lookup_result(
    instances: list[dict[str, Any]],
    security_groups: list[dict[str, Any]],
    *,
    instance_id: str,
    replica_id: str,
    security_group_name: str,
    client_security_group_name: str,
    app_user: str,
    migration_user: str,
) -> dict[str, Any]:
    """What the ``data_lookup`` role publishes (without the values it only passes through)."""
    instance = _instance_named(instances, instance_id)
    replica = _instance_named(instances, replica_id)
    endpoint = instance.get("Endpoint") or {}
    instance_arn = instance.get("DBInstanceArn", "")
    resource_id = instance.get("DbiResourceId", "")
    return {
        "found": bool(instance),
        "instance_id": instance.get("DBInstanceIdentifier", ""),
        "instance_arn": instance_arn,
        "status": instance.get("DBInstanceStatus", ""),
        "endpoint": endpoint.get("Address", ""),
        "port": endpoint.get("Port", DEFAULT_PORT),
        "resource_id": resource_id,
        "db_name": instance.get("DBName", ""),
        "iam_connect_arn": iam_connect_arn(instance_arn, resource_id, app_user),
        "iam_connect_migration_arn": iam_connect_arn(instance_arn, resource_id, migration_user),
        "security_group_id": _group_id_named(security_groups, security_group_name),
        "client_security_group_id": _group_id_named(security_groups, client_security_group_name),
        "replica_id": replica.get("DBInstanceIdentifier", ""),
        "replica_endpoint": (replica.get("Endpoint") or {}).get("Address", ""),
    }
