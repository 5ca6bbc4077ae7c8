"""On the emulator: the network_lookup and data_lookup roles publish what AWS holds, each with
one AWS-reading task (one module process) instead of one per resource type."""

from __future__ import annotations

import uuid
from typing import Any

import boto3
import pytest

from tests.playbooks.runner import run_playbook

# Tasks that run in the controller's process (action plugins): no module start-up, no AWS call.
CONTROLLER_ACTIONS = {
    "ansible.builtin.validate_argument_spec",
    "ansible.builtin.assert",
    "ansible.builtin.set_fact",
    "ansible.builtin.debug",
}
AZS = ("us-east-1a", "us-east-1b")


def tags(**values: str) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in values.items()]


@pytest.fixture
def env_name() -> str:
    return "lk" + uuid.uuid4().hex[:6]


def create_network(ec2: Any, name: str) -> dict[str, Any]:
    """A VPC as the vpc role makes it (Name and Tier tags), private routes via a NAT gateway."""
    vpc = ec2.create_vpc(CidrBlock="10.10.0.0/16")["Vpc"]
    ec2.create_tags(Resources=[vpc["VpcId"]], Tags=tags(Name=name("vpc")))
    subnets: dict[str, list[dict[str, str]]] = {"public": [], "private": []}
    for index, az in reversed(list(enumerate(AZS))):  # created out of AZ order
        for tier, cidr in (
            ("private", f"10.10.{4 * index}.0/22"),
            ("public", f"10.10.{200 + index}.0/24"),
        ):
            subnet = ec2.create_subnet(VpcId=vpc["VpcId"], CidrBlock=cidr, AvailabilityZone=az)[
                "Subnet"
            ]
            ec2.create_tags(Resources=[subnet["SubnetId"]], Tags=tags(Tier=tier))
            subnets[tier].insert(
                0, {"id": subnet["SubnetId"], "az": az, "cidr": cidr, "tier": tier}
            )
    allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
    gateway = ec2.create_nat_gateway(SubnetId=subnets["public"][0]["id"], AllocationId=allocation)[
        "NatGateway"
    ]["NatGatewayId"]
    tables = []
    for az in AZS:
        table = ec2.create_route_table(VpcId=vpc["VpcId"])["RouteTable"]["RouteTableId"]
        ec2.create_tags(Resources=[table], Tags=tags(Tier="private", AvailabilityZone=az))
        ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=gateway)
        tables.append({"id": table, "az": az, "default_target": gateway})
    public_table = ec2.create_route_table(VpcId=vpc["VpcId"])["RouteTable"]["RouteTableId"]
    ec2.create_tags(Resources=[public_table], Tags=tags(Tier="public"))
    return {
        "found": True,
        "vpc_id": vpc["VpcId"],
        "vpc_cidr": "10.10.0.0/16",
        "public_subnets": subnets["public"],
        "private_subnets": subnets["private"],
        "private_route_tables": tables,
    }


def create_database(ec2: Any, rds: Any, vpc_id: str, name: Any) -> dict[str, Any]:
    groups = {
        part: ec2.create_security_group(GroupName=name(part), Description=part, VpcId=vpc_id)[
            "GroupId"
        ]
        for part in ("db", "db-clients")
    }
    instance = rds.create_db_instance(
        DBInstanceIdentifier=name("db"),
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        AllocatedStorage=20,
        DBName="appdb",
        MasterUsername="dbadmin",
        MasterUserPassword="not-a-secret-0",
        BackupRetentionPeriod=7,
    )["DBInstance"]
    rds.create_db_instance_read_replica(
        DBInstanceIdentifier=name("db-replica"), SourceDBInstanceIdentifier=name("db")
    )
    described = rds.describe_db_instances(DBInstanceIdentifier=name("db"))["DBInstances"][0]
    replica = rds.describe_db_instances(DBInstanceIdentifier=name("db-replica"))["DBInstances"][0]
    account = instance["DBInstanceArn"].split(":")[4]
    dbuser = f"arn:aws:rds-db:us-east-1:{account}:dbuser:{described['DbiResourceId']}"
    return {
        "found": True,
        "instance_id": name("db"),
        "instance_arn": described["DBInstanceArn"],
        "status": described["DBInstanceStatus"],
        "endpoint": described["Endpoint"]["Address"],
        "port": described["Endpoint"]["Port"],
        "resource_id": described["DbiResourceId"],
        "db_name": "appdb",
        "app_user": "app_user",
        "iam_connect_arn": f"{dbuser}/app_user",
        "migration_user": "app_migrate",
        "iam_connect_migration_arn": f"{dbuser}/app_migrate",
        "security_group_id": groups["db"],
        "client_security_group_id": groups["db-clients"],
        "secret_name": name("db-admin"),
        "replica_id": name("db-replica"),
        "replica_endpoint": replica["Endpoint"]["Address"],
    }


def run_lookups(aws_env: dict[str, str], env_name: str, *extra: str) -> list[dict[str, Any]]:
    run = run_playbook(
        "tests/playbooks/lookups.yml",
        "local",
        "-e",
        f"env_name={env_name}",
        *extra,
        endpoint=aws_env["AWS_ENDPOINT_URL"],
        json_output=True,
    )
    assert run.returncode == 0, run.output[-3000:]
    return run.json_result()["plays"][0]["tasks"]


def published(tasks: list[dict[str, Any]]) -> dict[str, Any]:
    return tasks[-1]["hosts"]["localhost"]["msg"]


def aws_reading_tasks(tasks: list[dict[str, Any]], role: str) -> list[str]:
    return [
        task["hosts"]["localhost"]["action"]
        for task in tasks
        if task["task"]["name"].startswith(f"django_ecs.aws.{role} : ")
        and task["hosts"]["localhost"]["action"] not in CONTROLLER_ACTIONS
    ]


def test_lookups_publish_the_layers_as_aws_holds_them(
    aws_env: dict[str, str], env_name: str
) -> None:
    session = boto3.Session(region_name="us-east-1")
    ec2, rds = session.client("ec2"), session.client("rds")

    def name(resource: str) -> str:
        return f"{env_name}-djg-{resource}-ander"

    network = create_network(ec2, name)
    database = create_database(ec2, rds, network["vpc_id"], name)

    facts = published(run_lookups(aws_env, env_name))

    assert facts["network"] == network
    assert facts["data"] == database


def test_each_lookup_is_one_aws_reading_task(aws_env: dict[str, str], env_name: str) -> None:
    # An empty account under --check: both lookups run their reads and find nothing.
    tasks = run_lookups(aws_env, env_name, "--check")

    assert aws_reading_tasks(tasks, "network_lookup") == ["django_ecs.aws.network_lookup"]
    assert aws_reading_tasks(tasks, "data_lookup") == ["django_ecs.aws.data_lookup"]
    assert published(tasks)["network"]["found"] is False
    assert published(tasks)["data"]["found"] is False
