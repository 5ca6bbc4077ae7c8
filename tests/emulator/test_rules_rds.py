"""RDS rules AWS enforces and plain moto 5.2.5 does not (emulator section 22); each test fails on
plain moto."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

Aws = Callable[[str], Any]


def _source(aws: Aws, name: str, parameter_group: str | None = None) -> None:
    extra = {"DBParameterGroupName": parameter_group} if parameter_group else {}
    aws("rds").create_db_instance(
        DBInstanceIdentifier=name,
        Engine="postgres",
        EngineVersion="16.3",
        DBInstanceClass="db.t3.micro",
        AllocatedStorage=20,
        MasterUsername="src_admin",
        MasterUserPassword="first-Password1",
        BackupRetentionPeriod=7,
        **extra,
    )


def _parameter_group(aws: Aws, name: str) -> str:
    aws("rds").create_db_parameter_group(
        DBParameterGroupName=name, DBParameterGroupFamily="postgres16", Description="test"
    )
    return name


def test_same_region_postgres_replica_refuses_a_parameter_group(aws: Aws, unique: str) -> None:
    group = _parameter_group(aws, f"pg-{unique}")
    _source(aws, f"src-{unique}", group)
    with pytest.raises(ClientError) as refused:
        aws("rds").create_db_instance_read_replica(
            DBInstanceIdentifier=f"src-{unique}-replica",
            SourceDBInstanceIdentifier=f"src-{unique}",
            DBParameterGroupName=group,
        )
    assert refused.value.response["Error"]["Code"] == "InvalidParameterCombination"
    assert "postgres" in refused.value.response["Error"]["Message"]
    # Nothing was created; without the parameter, the replica inherits the source's group.
    replica = aws("rds").create_db_instance_read_replica(
        DBInstanceIdentifier=f"src-{unique}-replica", SourceDBInstanceIdentifier=f"src-{unique}"
    )["DBInstance"]
    assert [g["DBParameterGroupName"] for g in replica["DBParameterGroups"]] == [group]


def test_replica_source_must_be_available(aws: Aws, unique: str) -> None:
    _source(aws, f"src-{unique}")
    aws("rds").stop_db_instance(DBInstanceIdentifier=f"src-{unique}")
    with pytest.raises(ClientError) as refused:
        aws("rds").create_db_instance_read_replica(
            DBInstanceIdentifier=f"src-{unique}-replica", SourceDBInstanceIdentifier=f"src-{unique}"
        )
    assert refused.value.response["Error"]["Code"] == "InvalidDBInstanceState"


def test_new_parameter_group_is_pending_reboot_until_the_reboot(aws: Aws, unique: str) -> None:
    first = _parameter_group(aws, f"pg-{unique}-a")
    second = _parameter_group(aws, f"pg-{unique}-b")
    _source(aws, f"src-{unique}", first)
    _source(aws, f"other-{unique}", first)
    rds = aws("rds")

    def status(name: str) -> list[tuple[str, str]]:
        instance = rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]
        return [
            (g["DBParameterGroupName"], g["ParameterApplyStatus"])
            for g in instance["DBParameterGroups"]
        ]

    rds.modify_db_instance(
        DBInstanceIdentifier=f"src-{unique}", DBParameterGroupName=second, ApplyImmediately=True
    )
    assert status(f"src-{unique}") == [(second, "pending-reboot")]
    # Each instance has its own status: the other one, on the first group, is untouched.
    assert status(f"other-{unique}") == [(first, "in-sync")]
    rds.reboot_db_instance(DBInstanceIdentifier=f"src-{unique}")
    assert status(f"src-{unique}") == [(second, "in-sync")]
