"""On the emulator, with prod's data values (Multi-AZ, a read replica, storage autoscaling): the
replica is created the way AWS accepts (no parameter group at creation), its parameter group is
converged afterwards with an honest reboot, and storage RDS grew is never shrunk."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from tests.playbooks.runner import PlaybookRun, run_playbook

pytestmark = [
    pytest.mark.slow(seconds=90),
    pytest.mark.skipif(
        not os.environ.get("AWS_ENDPOINT_URL", "").startswith("http://127.0.0.1"),
        reason="needs the emulator (scripts/test starts it and exports AWS_ENDPOINT_URL)",
    ),
]
ENV = "rdsrole"
PRIMARY = f"{ENV}-django-db-and"
REPLICA = f"{ENV}-django-db-replica-and"
PARAMETER_GROUP = f"{ENV}-django-postgres16-and"
OTHER_GROUP = f"{ENV}-other"
REBOOT_TASK = "django_ecs.aws.rds : Reboot the replica to apply its parameter group"


def client(service: str) -> Any:
    return boto3.client(
        service, endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="us-east-1"
    )


def data(*extra: str) -> PlaybookRun:
    run = run_playbook(
        "playbooks/data.yml",
        "prod",
        "--tags",
        "rds",
        "-e",
        f"env_name={ENV}",
        *extra,
        endpoint=os.environ["AWS_ENDPOINT_URL"],
    )
    assert run.returncode == 0, run.output[-4000:]
    return run


def changed(run: PlaybookRun) -> int:
    return int(re.search(r"localhost\s+:\s+ok=\d+\s+changed=(\d+)", run.output).group(1))


def changed_tasks(run: PlaybookRun) -> list[str]:
    """The names of the tasks that reported a change (the default callback's TASK headers)."""
    blocks = run.output.split("\nTASK [")[1:]
    return [block.split("] *", 1)[0] for block in blocks if "\nchanged: [localhost]" in block]


def instance(name: str) -> dict[str, Any]:
    return client("rds").describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]


def parameter_groups(name: str) -> list[tuple[str, str]]:
    return [
        (g["DBParameterGroupName"], g["ParameterApplyStatus"])
        for g in instance(name)["DBParameterGroups"]
    ]


@pytest.fixture(scope="module")
def network() -> Iterator[None]:
    """What the data layer looks up: the VPC by its Name tag and its private subnets (kept from
    an earlier run on the same emulator: the lookup wants exactly one)."""
    ec2 = client("ec2")
    name = {"Name": "tag:Name", "Values": [f"{ENV}-django-vpc-and"]}
    if not ec2.describe_vpcs(Filters=[name])["Vpcs"]:
        vpc = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
        ec2.create_tags(Resources=[vpc], Tags=[{"Key": "Name", "Value": f"{ENV}-django-vpc-and"}])
        for index, zone in enumerate(("us-east-1a", "us-east-1b", "us-east-1c")):
            subnet = ec2.create_subnet(
                VpcId=vpc, CidrBlock=f"10.30.{16 + index}.0/24", AvailabilityZone=zone
            )["Subnet"]["SubnetId"]
            ec2.create_tags(Resources=[subnet], Tags=[{"Key": "Tier", "Value": "private"}])
    yield
    rds = client("rds")
    for name in (REPLICA, PRIMARY):  # each one is a PostgreSQL server on this machine
        try:
            rds.modify_db_instance(DBInstanceIdentifier=name, DeletionProtection=False)
            rds.delete_db_instance(DBInstanceIdentifier=name, SkipFinalSnapshot=True)
        except rds.exceptions.DBInstanceNotFoundFault:
            pass
    with contextlib.suppress(rds.exceptions.DBParameterGroupNotFoundFault):
        rds.delete_db_parameter_group(DBParameterGroupName=OTHER_GROUP)


def test_replica_converges_and_grown_storage_is_kept(network: None) -> None:
    first = data()
    replica = instance(REPLICA)
    assert replica["ReadReplicaSourceDBInstanceIdentifier"] == PRIMARY
    # Inherited from the source at creation (AWS refuses the parameter there for PostgreSQL).
    assert parameter_groups(REPLICA) == [(PARAMETER_GROUP, "in-sync")]
    assert changed(first) > 0

    # Behind the role's back: RDS autoscaling grows the storage; someone moves the replica to
    # another parameter group.
    rds = client("rds")
    rds.modify_db_instance(
        DBInstanceIdentifier=PRIMARY, AllocatedStorage=150, ApplyImmediately=True
    )
    rds.create_db_parameter_group(
        DBParameterGroupName=OTHER_GROUP, DBParameterGroupFamily="postgres16", Description="x"
    )
    rds.modify_db_instance(DBInstanceIdentifier=REPLICA, DBParameterGroupName=OTHER_GROUP)
    rds.reboot_db_instance(DBInstanceIdentifier=REPLICA)

    repaired = data()
    assert instance(PRIMARY)["AllocatedStorage"] == 150  # no decrease was sent
    assert "cannot shrink" not in repaired.output  # autoscaling on (prod): growth is normal
    # prod waits for the maintenance window: the group is back, its reboot is announced.
    assert parameter_groups(REPLICA) == [(PARAMETER_GROUP, "pending-reboot")]
    assert "pending-reboot" in repaired.output
    assert changed(repaired) == 1

    # One run for two cases (a data run is ~25 s): the reboot applied now, and autoscaling off.
    # The reboot is the run's one changed task. Without autoscaling the bigger live volume is
    # drift that cannot be repaired: said, not failed, and no task changes for it (nor is a
    # decrease sent, which apply_immediately would have applied at once).
    rebooted = data("-e", "rds_apply_immediately=true", "-e", "rds_max_allocated_storage=0")
    assert parameter_groups(REPLICA) == [(PARAMETER_GROUP, "in-sync")]
    assert changed_tasks(rebooted) == [REBOOT_TASK], rebooted.output[-4000:]
    assert changed(rebooted) == 1
    assert "cannot shrink" in rebooted.output
    assert instance(PRIMARY)["AllocatedStorage"] == 150
