"""On the emulator: the network layer publishes the VPC's flow logs to a log group with the
environment's retention, through a role only the flow logs service of this account may assume;
a second run changes nothing (the fast path compares the flow log too); destroy removes them."""

from __future__ import annotations

import json
import os
import re

import boto3
import pytest

from tests.playbooks.runner import PlaybookRun, run_playbook

pytestmark = [
    pytest.mark.slow(seconds=65),
    pytest.mark.skipif(
        not os.environ.get("AWS_ENDPOINT_URL", "").startswith("http://127.0.0.1"),
        reason="needs the emulator (scripts/test starts it and exports AWS_ENDPOINT_URL)",
    ),
]
ENV = "flowlogs"
LOG_GROUP = f"/aws/django-ecs/{ENV}/vpc-flow-logs"
ROLE = f"{ENV}-djg-flow-logs-ander"
# No NAT and one AZ: the flow logs are the VPC's (one per VPC, whatever its subnets), so a NAT
# instance or a second AZ's subnets and route table would only add module runs to converge and
# destroy.
EXTRA = json.dumps(
    {
        "env_name": ENV,
        "network_nat_mode": "none",
        "vpc_azs": ["us-east-1a"],
        "vpc_flow_logs": True,
        "log_retention_days": 14,
    }
)


def run(playbook: str, *extra: str) -> PlaybookRun:
    result = run_playbook(
        playbook, "local", "-e", EXTRA, *extra, endpoint=os.environ["AWS_ENDPOINT_URL"]
    )
    assert result.returncode == 0, result.output[-3000:]
    return result


def changed(result: PlaybookRun) -> int:
    return int(re.search(r"localhost\s+:\s+ok=\d+\s+changed=(\d+)", result.output).group(1))


def vpc_flow_logs(ec2) -> list[dict]:
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [f"{ENV}-djg-vpc-ander"]}])
    vpc_ids = [v["VpcId"] for v in vpcs["Vpcs"]]
    if not vpc_ids:
        return []
    return ec2.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": vpc_ids}])["FlowLogs"]


def test_flow_logs_are_created_converged_and_destroyed() -> None:
    session = boto3.Session(region_name="us-east-1")
    ec2, logs, iam = (session.client(name) for name in ("ec2", "logs", "iam"))
    account = session.client("sts").get_caller_identity()["Account"]

    assert changed(run("playbooks/network.yml")) > 0
    second = run("playbooks/network.yml")
    assert changed(second) == 0, second.output[-3000:]
    # The fast path found the flow log in sync: the vpc role did not even start.
    assert "Publish the VPC's flow logs" not in second.output

    [flow_log] = vpc_flow_logs(ec2)
    role = iam.get_role(RoleName=ROLE)["Role"]
    assert flow_log["LogGroupName"] == LOG_GROUP
    assert flow_log["TrafficType"] == "ALL"
    assert flow_log["DeliverLogsPermissionArn"] == role["Arn"]
    [group] = logs.describe_log_groups(logGroupNamePrefix=LOG_GROUP)["logGroups"]
    assert group["retentionInDays"] == 14
    [statement] = role["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": account},
        "ArnLike": {"aws:SourceArn": f"arn:aws:ec2:us-east-1:{account}:vpc-flow-log/*"},
    }
    policy = iam.get_role_policy(RoleName=ROLE, PolicyName="deliver-flow-logs")["PolicyDocument"]
    group_arn = f"arn:aws:logs:us-east-1:{account}:log-group:{LOG_GROUP}"
    assert policy["Statement"][0]["Resource"] == [group_arn, f"{group_arn}:*"]

    run("playbooks/destroy_network.yml", "-e", f"confirm_destroy={ENV}")
    assert vpc_flow_logs(ec2) == []
    assert logs.describe_log_groups(logGroupNamePrefix=LOG_GROUP)["logGroups"] == []
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_role(RoleName=ROLE)
