"""EC2 flow log rules the emulator enforces as AWS does (moto_patched section 23).

Each test of a refusal fails on plain moto."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

Aws = Callable[[str], Any]


@pytest.fixture
def vpc_id(aws: Aws) -> Iterator[str]:
    ec2 = aws("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.99.0.0/16")["Vpc"]["VpcId"]
    yield vpc
    ec2.delete_vpc(VpcId=vpc)


def test_vpc_flow_log_without_traffic_type_is_refused(aws: Aws, vpc_id: str, unique: str) -> None:
    with pytest.raises(ClientError) as raised:
        aws("ec2").create_flow_logs(
            ResourceType="VPC",
            ResourceIds=[vpc_id],
            LogDestinationType="cloud-watch-logs",
            LogGroupName=f"/rules/{unique}",
            DeliverLogsPermissionArn="arn:aws:iam::123456789012:role/flow-logs",
        )

    assert raised.value.response["Error"]["Code"] == "MissingParameter"
    assert "TrafficType" in raised.value.response["Error"]["Message"]


def test_vpc_flow_log_with_traffic_type_is_created(aws: Aws, vpc_id: str, unique: str) -> None:
    ec2 = aws("ec2")
    answer = ec2.create_flow_logs(
        ResourceType="VPC",
        ResourceIds=[vpc_id],
        TrafficType="ALL",
        LogDestinationType="cloud-watch-logs",
        LogGroupName=f"/rules/{unique}",
        DeliverLogsPermissionArn="arn:aws:iam::123456789012:role/flow-logs",
    )
    assert answer["Unsuccessful"] == []
    ec2.delete_flow_logs(FlowLogIds=answer["FlowLogIds"])
