"""Verify a deployed data layer against the inventory's values, with boto3 and PostgreSQL.

Used by the molecule verify step (molecule/shared/verify_data.yml):

    python -m tests.verify.data '<expected json>'

The expected values come from the inventory (names, sizes, replica, retention, tags). Besides
every RDS attribute the issue lists, it checks the security group sources, the subnet group
(private subnets only), the db_init function's network and the scope of its role, that the
application user can log in as a member of rds_iam, and that the generated admin password
appears in none of the files named in ``scan_paths`` (the run's logs, the outputs directory).
"""

from __future__ import annotations

import json
import os
import ssl
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import boto3
import pg8000.native

from tests.verify.common import REQUIRED_TAGS, Checker, report

ENI_ACTIONS = {
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
}
EXPECTED_PARAMETERS = {
    "rds.force_ssl": "1",
    "log_connections": "1",
    "log_disconnections": "1",
    "log_statement": "ddl",
}
READY_STATES = ("available", "backing-up", "storage-optimization")


def name(expected: dict[str, Any], resource: str) -> str:
    naming = expected["naming"]
    return f"{naming['env']}-{naming['service']}-{resource}-{naming['client']}"


def tag_map(tags: list[dict[str, str]] | dict[str, str]) -> dict[str, str]:
    if isinstance(tags, dict):
        return tags
    return {tag["Key"]: tag["Value"] for tag in tags}


def check_tags(checker: Checker, what: str, tags: Any, expected: dict[str, Any]) -> None:
    actual = tag_map(tags)
    for key in REQUIRED_TAGS:
        want = expected["tags"][key]
        checker.check(
            actual.get(key) == want, f"{what}: tag {key}={actual.get(key)!r}, want {want!r}"
        )


def find_instance(rds: Any, identifier: str) -> dict[str, Any] | None:
    try:
        return rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0]
    except rds.exceptions.DBInstanceNotFoundFault:
        return None


def verify_instance(checker: Checker, rds: Any, expected: dict[str, Any]) -> dict[str, Any] | None:
    db = find_instance(rds, name(expected, "db"))
    checker.check(db is not None, f"RDS instance {name(expected, 'db')} not found")
    if db is None:
        return None
    wanted = {
        "Engine": "postgres",
        "DBInstanceClass": expected["instance_class"],
        "AllocatedStorage": int(expected["allocated_storage"]),
        "StorageType": expected["storage_type"],
        "StorageEncrypted": True,
        "MultiAZ": bool(expected["multi_az"]),
        "BackupRetentionPeriod": int(expected["backup_retention_days"]),
        "DeletionProtection": True,
        "PubliclyAccessible": False,
        "IAMDatabaseAuthenticationEnabled": True,
        "CopyTagsToSnapshot": True,
        "AutoMinorVersionUpgrade": True,
        "CACertificateIdentifier": expected["ca_certificate"],
        "MasterUsername": expected["admin_user"],
        "DBName": expected["db_name"],
    }
    for key, value in wanted.items():
        checker.check(db.get(key) == value, f"instance {key}={db.get(key)!r}, want {value!r}")
    if int(expected["max_allocated_storage"]):
        checker.check(
            db.get("MaxAllocatedStorage") == int(expected["max_allocated_storage"]),
            f"instance MaxAllocatedStorage={db.get('MaxAllocatedStorage')!r}",
        )
    checker.check(
        str(db["EngineVersion"]).split(".")[0] == str(expected["engine_major"]),
        f"engine version {db['EngineVersion']}, want PostgreSQL {expected['engine_major']}",
    )
    checker.check(
        set(db.get("EnabledCloudwatchLogsExports", [])) == {"postgresql", "upgrade"},
        f"log exports {db.get('EnabledCloudwatchLogsExports')}",
    )
    checker.check(db["DBInstanceStatus"] in READY_STATES, f"status {db['DBInstanceStatus']}")
    groups = [group["DBParameterGroupName"] for group in db["DBParameterGroups"]]
    checker.check(
        groups == [name(expected, f"postgres{expected['engine_major']}")],
        f"parameter groups {groups}",
    )
    checker.check(db["DBSubnetGroup"]["DBSubnetGroupName"] == name(expected, "db"), "subnet group")
    check_tags(checker, "instance", db.get("TagList", []), expected)
    return db


def verify_replica(checker: Checker, rds: Any, expected: dict[str, Any], db: dict) -> None:
    replica = find_instance(rds, name(expected, "db-replica"))
    if not expected["read_replica"]:
        checker.check(replica is None, "a read replica exists where the inventory asks for none")
        checker.check(not db.get("ReadReplicaDBInstanceIdentifiers"), "primary lists replicas")
        return
    checker.check(replica is not None, f"read replica {name(expected, 'db-replica')} not found")
    if replica is None:
        return
    checker.check(
        replica.get("ReadReplicaSourceDBInstanceIdentifier") == db["DBInstanceIdentifier"],
        f"replica source {replica.get('ReadReplicaSourceDBInstanceIdentifier')!r}",
    )
    for key, value in (
        ("IAMDatabaseAuthenticationEnabled", True),
        ("DeletionProtection", True),
        ("PubliclyAccessible", False),
        ("StorageEncrypted", True),
    ):
        checker.check(replica.get(key) == value, f"replica {key}={replica.get(key)!r}")
    replica_groups = [g["VpcSecurityGroupId"] for g in replica["VpcSecurityGroups"]]
    primary_groups = [g["VpcSecurityGroupId"] for g in db["VpcSecurityGroups"]]
    checker.check(replica_groups == primary_groups, f"replica security groups {replica_groups}")
    check_tags(checker, "replica", replica.get("TagList", []), expected)


def verify_parameter_group(checker: Checker, rds: Any, expected: dict[str, Any]) -> None:
    group_name = name(expected, f"postgres{expected['engine_major']}")
    group = rds.describe_db_parameter_groups(DBParameterGroupName=group_name)["DBParameterGroups"][
        0
    ]
    family = f"postgres{expected['engine_major']}"
    checker.check(
        group["DBParameterGroupFamily"] == family, f"family {group['DBParameterGroupFamily']}"
    )
    # Effective values, whatever their Source: rds.force_ssl is already 1 by engine default from
    # PostgreSQL 15 on, so setting it leaves it `engine-default` (on AWS as on the emulator).
    pages = rds.get_paginator("describe_db_parameters").paginate(DBParameterGroupName=group_name)
    values = {
        p["ParameterName"]: p.get("ParameterValue") for page in pages for p in page["Parameters"]
    }
    for parameter, value in EXPECTED_PARAMETERS.items():
        checker.check(
            values.get(parameter) == value, f"parameter {parameter}={values.get(parameter)!r}"
        )
    checker.check("log_min_duration_statement" in values, "slow statement logging not set")
    tags = rds.list_tags_for_resource(ResourceName=group["DBParameterGroupArn"])["TagList"]
    check_tags(checker, "parameter group", tags, expected)


def verify_subnet_group(checker: Checker, rds: Any, ec2: Any, expected: dict, vpc_id: str) -> None:
    group = rds.describe_db_subnet_groups(DBSubnetGroupName=name(expected, "db"))["DBSubnetGroups"][
        0
    ]
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]
    private = {
        s["SubnetId"] for s in subnets if tag_map(s.get("Tags", [])).get("Tier") == "private"
    }
    members = {s["SubnetIdentifier"] for s in group["Subnets"]}
    checker.check(group["VpcId"] == vpc_id, f"subnet group in VPC {group['VpcId']}")
    checker.check(
        bool(private) and members == private, f"subnet group {members}, private {private}"
    )
    tags = rds.list_tags_for_resource(ResourceName=group["DBSubnetGroupArn"])["TagList"]
    check_tags(checker, "subnet group", tags, expected)


def security_groups(ec2: Any, vpc_id: str, expected: dict[str, Any]) -> dict[str, dict]:
    wanted = {part: name(expected, part) for part in ("db", "db-clients", "db-init")}
    found = ec2.describe_security_groups(
        Filters=[
            {"Name": "vpc-id", "Values": [vpc_id]},
            {"Name": "group-name", "Values": list(wanted.values())},
        ]
    )["SecurityGroups"]
    by_name = {group["GroupName"]: group for group in found}
    return {
        part: by_name[group_name] for part, group_name in wanted.items() if group_name in by_name
    }


def rule_summary(permissions: list[dict[str, Any]]) -> set[tuple]:
    rules = set()
    for permission in permissions:
        ports = (permission.get("IpProtocol"), permission.get("FromPort"), permission.get("ToPort"))
        for pair in permission.get("UserIdGroupPairs", []):
            rules.add((*ports, pair["GroupId"]))
        for ip_range in permission.get("IpRanges", []):
            rules.add((*ports, ip_range["CidrIp"]))
        for ip_range in permission.get("Ipv6Ranges", []):
            rules.add((*ports, ip_range["CidrIpv6"]))
    return rules


def verify_security_groups(
    checker: Checker, ec2: Any, vpc_id: str, expected: dict, db: dict
) -> dict[str, dict]:
    groups = security_groups(ec2, vpc_id, expected)
    checker.check(len(groups) == 3, f"security groups found: {sorted(groups)}")
    if len(groups) != 3:
        return groups
    db_id, clients_id = groups["db"]["GroupId"], groups["db-clients"]["GroupId"]
    want = {
        "db": ({("tcp", 5432, 5432, clients_id)}, set()),
        "db-clients": (set(), {("tcp", 5432, 5432, db_id)}),
        "db-init": (set(), {("tcp", 443, 443, "0.0.0.0/0")}),
    }
    for part, (ingress, egress) in want.items():
        group = groups[part]
        actual_in = rule_summary(group["IpPermissions"])
        actual_out = rule_summary(group["IpPermissionsEgress"])
        checker.check(actual_in == ingress, f"{part} group ingress {actual_in}, want {ingress}")
        checker.check(actual_out == egress, f"{part} group egress {actual_out}, want {egress}")
        check_tags(checker, f"{part} security group", group.get("Tags", []), expected)
    attached = [g["VpcSecurityGroupId"] for g in db["VpcSecurityGroups"]]
    checker.check(attached == [db_id], f"instance security groups {attached}, want [{db_id}]")
    return groups


def verify_secret(checker: Checker, secrets: Any, expected: dict, db: dict) -> dict[str, Any]:
    secret_name = name(expected, "db-admin")
    described = secrets.describe_secret(SecretId=secret_name)
    check_tags(checker, "admin secret", described.get("Tags", []), expected)
    value = json.loads(secrets.get_secret_value(SecretId=secret_name)["SecretString"])
    wanted = {
        "engine": "postgres",
        "username": expected["admin_user"],
        "dbname": expected["db_name"],
        "host": db["Endpoint"]["Address"],
        "port": db["Endpoint"]["Port"],
    }
    for key, want in wanted.items():
        checker.check(value.get(key) == want, f"secret {key}={value.get(key)!r}, want {want!r}")
    checker.check(len(value.get("password", "")) >= 32, "generated password shorter than 32")
    value["arn"] = described["ARN"]
    return value


def policy_statements(iam: Any, role_name: str) -> list[dict[str, Any]]:
    statements = []
    for policy_name in iam.list_role_policies(RoleName=role_name)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=role_name, PolicyName=policy_name)["PolicyDocument"]
        if isinstance(document, str):
            document = json.loads(unquote(document))
        found = document["Statement"]
        statements.extend(found if isinstance(found, list) else [found])
    return statements


def as_list(value: Any) -> list[str]:
    return value if isinstance(value, list) else [value]


def verify_role_scope(
    checker: Checker, iam: Any, role_name: str, secret_arn: str, log_group: str
) -> None:
    role = iam.get_role(RoleName=role_name)["Role"]
    trust = role["AssumeRolePolicyDocument"]
    if isinstance(trust, str):
        trust = json.loads(unquote(trust))
    principals = [s["Principal"].get("Service") for s in trust["Statement"]]
    checker.check(principals == ["lambda.amazonaws.com"], f"role trusted by {principals}")
    attached = iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]
    checker.check(not attached, f"managed policies attached: {[p['PolicyName'] for p in attached]}")
    granted: dict[str, list[str]] = {}
    for statement in policy_statements(iam, role_name):
        checker.check(
            statement.get("Effect") == "Allow", f"statement effect {statement.get('Effect')}"
        )
        for action in as_list(statement["Action"]):
            granted.setdefault(action, []).extend(as_list(statement["Resource"]))
    extra = set(granted) - ENI_ACTIONS - {"secretsmanager:GetSecretValue"}
    extra -= {"logs:CreateLogStream", "logs:PutLogEvents"}
    checker.check(not extra, f"role grants more than it needs: {sorted(extra)}")
    secret_resources = granted.get("secretsmanager:GetSecretValue", [])
    checker.check(len(secret_resources) == 1, f"secret resources {secret_resources}")
    for resource in secret_resources:
        # Name-based ARN pattern: <name>-?????? matches exactly the secret's ARN suffix.
        prefix = resource.removesuffix("-??????")
        checker.check(
            resource.endswith("-??????")
            and secret_arn.startswith(prefix + "-")
            and len(secret_arn) == len(prefix) + 7,
            f"GetSecretValue on {resource}, not only {secret_arn}",
        )
    for action in ("logs:CreateLogStream", "logs:PutLogEvents"):
        for resource in granted.get(action, []):
            checker.check(resource.endswith(f":log-group:{log_group}:*"), f"{action} on {resource}")


def verify_function(
    checker: Checker, session: Any, expected: dict, groups: dict[str, dict], secret: dict
) -> None:
    function_name = name(expected, "db-init")
    config = session.client("lambda").get_function(FunctionName=function_name)
    conf = config["Configuration"]
    runtime = conf["Runtime"]
    checker.check(
        runtime.startswith("python3.") and int(runtime.split(".")[1]) >= 12, f"runtime {runtime}"
    )
    checker.check(conf["Handler"] == "handler.handler", f"handler {conf['Handler']}")
    vpc = conf.get("VpcConfig", {})
    want_groups = {groups[p]["GroupId"] for p in ("db-init", "db-clients") if p in groups}
    checker.check(set(vpc.get("SecurityGroupIds", [])) == want_groups, f"function groups {vpc}")
    checker.check(
        set(vpc.get("SubnetIds", [])) == set(expected["private_subnet_ids"]),
        f"function subnets {vpc.get('SubnetIds')}, want the private subnets",
    )
    env = conf.get("Environment", {}).get("Variables", {})
    checker.check(env.get("DB_SECRET_ARN") == name(expected, "db-admin"), f"function env {env}")
    checker.check(env.get("DB_SSL_MODE") in ("require", "verify-full"), "function TLS mode")
    checker.check(secret["password"] not in json.dumps(conf), "password in the function config")
    check_tags(checker, "function", config.get("Tags", {}), expected)
    log_group = f"/aws/lambda/{function_name}"
    groups_found = session.client("logs").describe_log_groups(logGroupNamePrefix=log_group)
    found = [g for g in groups_found["logGroups"] if g["logGroupName"] == log_group]
    checker.check(
        len(found) == 1 and found[0].get("retentionInDays") == int(expected["log_retention_days"]),
        f"log group {log_group}: {found}",
    )
    role_name = conf["Role"].split("/")[-1]
    verify_role_scope(checker, session.client("iam"), role_name, secret["arn"], log_group)


def admin_connection(secret: dict[str, Any]) -> pg8000.native.Connection:
    """The master user's session at the instance's endpoint, over TLS verified with the CA bundle
    (the emulator's stands in for AWS's global-bundle.pem: sslmode=verify-full)."""
    return pg8000.native.Connection(
        user=secret["username"],
        password=secret["password"],
        host=secret["host"],
        port=int(secret["port"]),
        database=secret["dbname"],
        timeout=10,
        ssl_context=ssl.create_default_context(cafile=os.environ["DJANGO_ECS_EMULATOR_CA_BUNDLE"]),
    )


def verify_database_roles(checker: Checker, secret: dict, expected: dict) -> None:
    """The admin secret works, and app_user is a LOGIN member of rds_iam with writer rights."""
    connection = admin_connection(secret)
    try:
        rows = connection.run(
            "SELECT rolcanlogin, pg_has_role(rolname, 'rds_iam', 'MEMBER'),"
            " pg_has_role(rolname, 'app_writer', 'MEMBER') FROM pg_roles WHERE rolname = :n",
            n=expected["app_user"],
        )
    finally:
        connection.close()
    checker.check(
        rows == [[True, True, True]], f"{expected['app_user']} login/rds_iam/writer: {rows}"
    )


def scanned_files(paths: list[str]) -> Iterator[Path]:
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            yield from (p for p in path.rglob("*") if p.is_file())
        elif path.is_file():
            yield path


def verify_password_nowhere(checker: Checker, password: str, paths: list[str]) -> None:
    scanned = 0
    for path in scanned_files(paths):
        scanned += 1
        checker.check(password.encode() not in path.read_bytes(), f"admin password found in {path}")
    checker.check(scanned > 0, f"no file to scan for the password among {paths}")


def verify(expected: dict[str, Any]) -> list[str]:
    checker = Checker()
    session = boto3.session.Session(region_name=expected["region"])
    rds, ec2 = session.client("rds"), session.client("ec2")
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [name(expected, "vpc")]}])
    checker.check(len(vpcs["Vpcs"]) == 1, "VPC not found")
    db = verify_instance(checker, rds, expected)
    if db is None or len(vpcs["Vpcs"]) != 1:
        return checker.failures
    vpc_id = vpcs["Vpcs"][0]["VpcId"]
    subnets = ec2.describe_subnets(
        Filters=[
            {"Name": "vpc-id", "Values": [vpc_id]},
            {"Name": "tag:Tier", "Values": ["private"]},
        ]
    )["Subnets"]
    expected["private_subnet_ids"] = [s["SubnetId"] for s in subnets]
    verify_replica(checker, rds, expected, db)
    verify_parameter_group(checker, rds, expected)
    verify_subnet_group(checker, rds, ec2, expected, vpc_id)
    groups = verify_security_groups(checker, ec2, vpc_id, expected, db)
    secret = verify_secret(checker, session.client("secretsmanager"), expected, db)
    verify_function(checker, session, expected, groups, secret)
    verify_database_roles(checker, secret, expected)
    verify_password_nowhere(checker, secret["password"], expected["scan_paths"])
    return checker.failures


def revoke_iam_login(expected: dict[str, Any]) -> None:
    """Drift by hand: take rds_iam from the app user, as an operator's mistake would."""
    secrets = boto3.session.Session(region_name=expected["region"]).client("secretsmanager")
    secret = json.loads(
        secrets.get_secret_value(SecretId=name(expected, "db-admin"))["SecretString"]
    )
    connection = admin_connection(secret)
    try:
        connection.run(f"REVOKE rds_iam FROM {pg8000.native.identifier(expected['app_user'])}")
    finally:
        connection.close()


def main() -> int:
    """`python -m tests.verify.data [revoke] '<expected json>'`: verify (default) or drift."""
    if sys.argv[1] == "revoke":
        revoke_iam_login(json.loads(sys.argv[2]))
        return 0
    return report(verify(json.loads(sys.argv[1])))


if __name__ == "__main__":
    sys.exit(main())
