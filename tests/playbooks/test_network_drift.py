"""On the emulator: drift is found and repaired, check mode plans without touching anything,
and switching NAT mode re-points routes, removing the old NAT only when asked."""

from __future__ import annotations

import os
import re

import boto3
import pytest

from tests.playbooks.runner import PlaybookRun, run_playbook
from tests.verify.network import verify

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not os.environ.get("AWS_ENDPOINT_URL", "").startswith("http://127.0.0.1"),
        reason="needs the emulator (scripts/test starts it and exports AWS_ENDPOINT_URL)",
    ),
]
ENV = "drift"
NAMING = {"env": ENV, "service": "djg", "client": "ander"}
TAGS = {
    "Project": "django-ecs",
    "Owner": "platform-team",
    "ManagedBy": "ansible",
    "Confidentiality": "internal",
    "Environment": ENV,
}


def network(*extra: str) -> PlaybookRun:
    run = run_playbook(
        "playbooks/network.yml",
        "local",
        "-e",
        f"env_name={ENV}",
        *extra,
        endpoint=os.environ["AWS_ENDPOINT_URL"],
    )
    assert run.returncode == 0, run.output[-3000:]
    return run


def changed(run: PlaybookRun) -> int:
    return int(re.search(r"localhost\s+:\s+ok=\d+\s+changed=(\d+)", run.output).group(1))


def expected(mode: str, **extra: object) -> dict:
    return {
        "region": "us-east-1",
        "naming": NAMING,
        "tags": TAGS,
        "vpc_cidr": "10.10.0.0/16",
        "vpc_azs": ["us-east-1a", "us-east-1b"],
        "network_nat_mode": mode,
        "nat_instance_type": "t3.micro",
        "nat_gateway_count": 1,
        **extra,
    }


def private_default_targets(ec2) -> list[str]:
    tables = ec2.describe_route_tables(
        Filters=[
            {"Name": "tag:Environment", "Values": [ENV]},
            {"Name": "tag:Tier", "Values": ["private"]},
        ]
    )["RouteTables"]
    return sorted(
        r.get("NatGatewayId") or r.get("InstanceId") or ""
        for t in tables
        for r in t["Routes"]
        if r.get("DestinationCidrBlock") == "0.0.0.0/0"
    )


def nat_instances(ec2) -> list[str]:
    reservations = ec2.describe_instances(
        Filters=[
            {"Name": "tag:Name", "Values": [f"{ENV}-djg-nat-ander"]},
            {"Name": "instance-state-name", "Values": ["pending", "running"]},
        ]
    )["Reservations"]
    return [i["InstanceId"] for r in reservations for i in r["Instances"]]


def test_drift_is_planned_in_check_mode_repaired_and_modes_switch() -> None:
    ec2 = boto3.client("ec2", region_name="us-east-1")
    network()
    assert changed(network()) == 0, "second run must report no change"

    # Drift, as a hurried console session would leave it.
    vpc_id = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [f"{ENV}-djg-vpc-ander"]}])[
        "Vpcs"
    ][0]["VpcId"]
    private = ec2.describe_route_tables(
        Filters=[
            {"Name": "vpc-id", "Values": [vpc_id]},
            {"Name": "tag:Tier", "Values": ["private"]},
        ]
    )["RouteTables"]
    ec2.delete_route(RouteTableId=private[0]["RouteTableId"], DestinationCidrBlock="0.0.0.0/0")
    default_sg = ec2.describe_security_groups(
        Filters=[
            {"Name": "vpc-id", "Values": [vpc_id]},
            {"Name": "group-name", "Values": ["default"]},
        ]
    )["SecurityGroups"][0]["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=default_sg,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 22,
                "ToPort": 22,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
            }
        ],
    )
    subnet_id = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"][
        0
    ]["SubnetId"]
    ec2.create_tags(Resources=[subnet_id], Tags=[{"Key": "Owner", "Value": "someone-else"}])

    plan = network("--check", "--diff")
    assert changed(plan) > 0
    assert "default route not via the NAT instance" in plan.output
    assert "default security group: has rules" in plan.output
    assert len(verify(expected("instance"))) >= 3, "check mode must not repair anything"

    assert changed(network()) > 0
    assert verify(expected("instance")) == []
    assert changed(network()) == 0

    # instance -> gateway without pruning: routes move, the instance stays.
    instance_ids = nat_instances(ec2)
    network("-e", "network_nat_mode=gateway", "-e", "nat_gateway_count=1")
    targets = private_default_targets(ec2)
    assert all(t.startswith("nat-") for t in targets) and len(set(targets)) == 1
    assert nat_instances(ec2) == instance_ids
    assert verify(expected("gateway")) == []

    # ... and with the explicit switch (a deletion, so confirmed), the unused NAT instance goes.
    network(
        "-e",
        "network_nat_mode=gateway",
        "-e",
        "nat_gateway_count=1",
        "-e",
        "network_prune_unused_nat=true",
        "-e",
        f"confirm_destroy={ENV}",
    )
    assert nat_instances(ec2) == []

    destroy = run_playbook(
        "playbooks/destroy.yml",
        "local",
        "-e",
        f"env_name={ENV}",
        "-e",
        f"confirm_destroy={ENV}",
        endpoint=os.environ["AWS_ENDPOINT_URL"],
    )
    assert destroy.returncode == 0, destroy.output[-3000:]
