# Copyright: contributors to django_ecs.aws
# Apache License 2.0 (see galaxy.yml)
"""The VPC flow log to CloudWatch Logs: one description read by the ``vpc_flow_log`` module, the
``flow_logs_*_policy`` filters the vpc role builds its delivery role with, and ``network_state``.

Sources: AWS VPC User Guide, "IAM role for publishing flow logs to CloudWatch Logs" (the actions,
and the trust policy with ``aws:SourceAccount`` / ``aws:SourceArn`` against the confused deputy)
and "Flow log records" (the default format).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_specifications

# What EC2 records when LogFormat is omitted (version 2 fields, VPC User Guide).
DEFAULT_LOG_FORMAT = (
    "${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} "
    "${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status}"
)
TRAFFIC_TYPES = ("ACCEPT", "REJECT", "ALL")
AGGREGATION_INTERVALS = (60, 600)
# The delivery role's inline policy name (the vpc role and network_state both use it).
DELIVERY_POLICY_NAME = "deliver-flow-logs"
DELIVERY_ACTIONS = [
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "logs:DescribeLogGroups",
    "logs:DescribeLogStreams",
]


def _partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def flow_logs_trust_policy(account: str, region: str) -> dict[str, Any]:
    """Only the flow logs service, for flow logs of this account in this region, may assume it."""
    source_arn = f"arn:{_partition(region)}:ec2:{region}:{account}:vpc-flow-log/*"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": str(account)},
                    "ArnLike": {"aws:SourceArn": source_arn},
                },
            }
        ],
    }


def log_group_arn(account: str, region: str, log_group_name: str) -> str:
    return f"arn:{_partition(region)}:logs:{region}:{account}:log-group:{log_group_name}"


def flow_logs_delivery_policy(account: str, region: str, log_group_name: str) -> dict[str, Any]:
    """Write to that log group (and its streams) only; it exists already, so no CreateLogGroup."""
    group = log_group_arn(account, region, log_group_name)
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": DELIVERY_ACTIONS, "Resource": [group, f"{group}:*"]}
        ],
    }


@dataclass(frozen=True)
class WantedFlowLog:
    log_group_name: str
    deliver_logs_permission_arn: str
    traffic_type: str = "ALL"
    max_aggregation_interval: int = 600
    log_format: str = DEFAULT_LOG_FORMAT

    def request(self, vpc_id: str, tags: dict[str, str] | None) -> dict[str, Any]:
        """The CreateFlowLogs parameters."""
        request: dict[str, Any] = {
            "ResourceType": "VPC",
            "ResourceIds": [vpc_id],
            "TrafficType": self.traffic_type,
            "LogDestinationType": "cloud-watch-logs",
            "LogGroupName": self.log_group_name,
            "DeliverLogsPermissionArn": self.deliver_logs_permission_arn,
            "MaxAggregationInterval": self.max_aggregation_interval,
            "LogFormat": self.log_format,
        }
        if tags:
            request["TagSpecifications"] = boto3_tag_specifications(tags, ["vpc-flow-log"])
        return request


def flow_log_differences(current: dict[str, Any], wanted: WantedFlowLog) -> list[str]:
    """The immutable fields in which a described flow log (boto3 shape) differs from ``wanted``."""
    found = {
        "traffic_type": current.get("TrafficType"),
        "destination": (current.get("LogDestinationType"), current.get("LogGroupName")),
        "deliver_logs_permission_arn": current.get("DeliverLogsPermissionArn"),
        "log_format": current.get("LogFormat"),
        "max_aggregation_interval": current.get("MaxAggregationInterval"),
    }
    expected = {
        "traffic_type": wanted.traffic_type,
        "destination": ("cloud-watch-logs", wanted.log_group_name),
        "deliver_logs_permission_arn": wanted.deliver_logs_permission_arn,
        "log_format": wanted.log_format,
        "max_aggregation_interval": wanted.max_aggregation_interval,
    }
    return [name for name, value in expected.items() if found[name] != value]
