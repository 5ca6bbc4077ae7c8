#!/usr/bin/python
# Copyright: contributors to django_ecs.aws
# Apache License 2.0 (see galaxy.yml)
# Ansible wants DOCUMENTATION/EXAMPLES/RETURN before any import (ansible-test validate-modules).

from __future__ import annotations

DOCUMENTATION = r"""
module: vpc_flow_log
short_description: Publish a VPC's flow logs to a CloudWatch Logs log group
version_added: 0.1.0
description:
  - Keeps exactly one flow log of a VPC delivering to one CloudWatch Logs log group (Security Hub
    control EC2.6), or removes it.
  - The flow log of the VPC that delivers to O(log_group_name) is compared on traffic type,
    destination, delivery role, log format and maximum aggregation interval. Flow logs cannot be
    modified (EC2 has no C(ModifyFlowLogs)), so when one of these differs the module deletes the
    flow log and creates a new one (C(replaced)). Only tags are changed in place.
  - It deletes before it creates, because EC2 refuses a second flow log with the same
    configuration to the same destination (C(FlowLogAlreadyExists)); delivery pauses for the
    seconds in between.
  - Why a custom module? Neither amazon.aws nor community.aws (the versions this collection
    requires) has a module for C(CreateFlowLogs); they manage only the destination
    (C(amazon.aws.cloudwatchlogs_log_group)) and the role (C(amazon.aws.iam_role)).
author:
  - django_ecs.aws maintainers (!UNKNOWN)
options:
  vpc_id:
    description: The VPC whose traffic is logged.
    type: str
    required: true
  log_group_name:
    description: The CloudWatch Logs log group the records go to (create it first, with its retention).
    type: str
    required: true
  deliver_logs_permission_arn:
    description:
      - ARN of the IAM role the flow logs service assumes to write to the log group.
      - Required when O(state=present).
    type: str
  traffic_type:
    description: Which traffic is logged.
    type: str
    choices: [ACCEPT, REJECT, ALL]
    default: ALL
  max_aggregation_interval:
    description: Longest time (seconds) over which packets are aggregated into one record.
    type: int
    choices: [60, 600]
    default: 600
  log_format:
    description:
      - The record fields, in order (C(${field} ${field} ...)).
      - Omitted means the AWS default (version 2) format, which is also what is compared.
    type: str
  tags:
    description: Tags of the flow log.
    type: dict
    aliases: [resource_tags]
  purge_tags:
    description: Remove tags not listed in O(tags).
    type: bool
    default: true
  state:
    description: Whether the flow log should exist.
    type: str
    choices: [present, absent]
    default: present
notes:
  - Supports check mode and diff mode.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Log all the VPC's traffic to its log group
  django_ecs.aws.vpc_flow_log:
    vpc_id: "{{ vpc.vpc.id }}"
    log_group_name: /aws/django-ecs/dev/vpc-flow-logs
    deliver_logs_permission_arn: "{{ flow_logs_role.iam_role.arn }}"
    traffic_type: ALL
    tags: "{{ resource_tags }}"

- name: Stop the flow log (the log group keeps what it received)
  django_ecs.aws.vpc_flow_log:
    vpc_id: "{{ vpc.vpc.id }}"
    log_group_name: /aws/django-ecs/dev/vpc-flow-logs
    state: absent
"""

RETURN = r"""
flow_log_id:
  description: Id of the flow log after the run (empty when absent, or not yet created in check mode).
  returned: always
  type: str
  sample: fl-0123456789abcdef0
replaced:
  description: The fields that differed and made the module replace the flow log.
  returned: always
  type: list
  elements: str
  sample: [traffic_type]
deleted:
  description: Ids of the flow logs deleted (replaced ones, duplicates, or all with O(state=absent)).
  returned: always
  type: list
  elements: str
tags_added:
  description: Tags set on an existing flow log.
  returned: always
  type: dict
tags_removed:
  description: Tag keys removed from an existing flow log.
  returned: always
  type: list
  elements: str
"""

import contextlib
import re
from dataclasses import dataclass, field
from typing import Any

with contextlib.suppress(ImportError):  # AnsibleAWSModule reports a missing botocore itself
    from botocore.exceptions import BotoCoreError, ClientError

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.tagging import (
    ansible_dict_to_boto3_tag_list,
    boto3_tag_list_to_ansible_dict,
    compare_aws_tags,
)
from ansible_collections.django_ecs.aws.plugins.module_utils.flow_logs import (
    AGGREGATION_INTERVALS,
    DEFAULT_LOG_FORMAT,
    TRAFFIC_TYPES,
    WantedFlowLog,
    flow_log_differences,
)

ARGUMENT_SPEC: dict[str, Any] = {
    "vpc_id": {"type": "str", "required": True},
    "log_group_name": {"type": "str", "required": True},
    "deliver_logs_permission_arn": {"type": "str"},
    "traffic_type": {"type": "str", "choices": list(TRAFFIC_TYPES), "default": "ALL"},
    "max_aggregation_interval": {
        "type": "int",
        "choices": list(AGGREGATION_INTERVALS),
        "default": 600,
    },
    "log_format": {"type": "str"},
    "tags": {"type": "dict", "aliases": ["resource_tags"]},
    "purge_tags": {"type": "bool", "default": True},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
}
VPC_ID = re.compile(r"^vpc-[0-9a-f]{8,17}$")
ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
# CloudWatch Logs log group names (CreateLogGroup: 1-512 of [.\-_/#A-Za-z0-9]).
LOG_GROUP = re.compile(r"^[.\-_/#A-Za-z0-9]{1,512}$")


@dataclass
class Plan:
    keep: str = ""
    delete: list[str] = field(default_factory=list)
    create: bool = False
    replaced: list[str] = field(default_factory=list)
    tags_added: dict[str, str] = field(default_factory=dict)
    tags_removed: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.delete or self.create or self.tags_added or self.tags_removed)


def plan(
    current: list[dict[str, Any]],
    wanted: WantedFlowLog | None,
    tags: dict[str, str] | None,
    purge_tags: bool,
) -> Plan:
    """Actions that turn the VPC's flow logs to the log group into ``wanted`` (None: none)."""
    if wanted is None:
        return Plan(delete=[f["FlowLogId"] for f in current])
    matching = [f for f in current if not flow_log_differences(f, wanted)]
    if not matching:
        replaced = flow_log_differences(current[0], wanted) if current else []
        return Plan(delete=[f["FlowLogId"] for f in current], create=True, replaced=replaced)
    kept = matching[0]
    result = Plan(keep=kept["FlowLogId"], delete=[f["FlowLogId"] for f in current if f is not kept])
    if tags is not None:
        live_tags = boto3_tag_list_to_ansible_dict(kept.get("Tags") or [])
        result.tags_added, result.tags_removed = compare_aws_tags(live_tags, tags, purge_tags)
    return result


def validate(params: dict[str, Any]) -> str | None:
    if not VPC_ID.match(params["vpc_id"]):
        return f"vpc_id must be a VPC id (vpc-...), got {params['vpc_id']!r}"
    if not LOG_GROUP.match(params["log_group_name"]):
        return (
            f"log_group_name is not a CloudWatch Logs log group name: {params['log_group_name']!r}"
        )
    role = params["deliver_logs_permission_arn"]
    if params["state"] == "present" and not (role and ROLE_ARN.match(role)):
        return (
            f"deliver_logs_permission_arn must be an IAM role ARN with state=present, got {role!r}"
        )
    if params["log_format"] is not None and not params["log_format"].strip():
        return "log_format must name at least one field, or be omitted for the default format"
    return None


def wanted_from(params: dict[str, Any]) -> WantedFlowLog | None:
    if params["state"] == "absent":
        return None
    return WantedFlowLog(
        log_group_name=params["log_group_name"],
        deliver_logs_permission_arn=params["deliver_logs_permission_arn"],
        traffic_type=params["traffic_type"],
        max_aggregation_interval=params["max_aggregation_interval"],
        log_format=params["log_format"] or DEFAULT_LOG_FORMAT,
    )


def describe(ec2: Any, vpc_id: str, log_group_name: str) -> list[dict[str, Any]]:
    filters = [
        {"Name": "resource-id", "Values": [vpc_id]},
        {"Name": "log-group-name", "Values": [log_group_name]},
    ]
    return ec2.describe_flow_logs(Filters=filters, aws_retry=True)["FlowLogs"]


def apply(ec2: Any, params: dict[str, Any], wanted: WantedFlowLog | None, actions: Plan) -> str:
    if actions.delete:
        answer = ec2.delete_flow_logs(FlowLogIds=actions.delete, aws_retry=True)
        if answer.get("Unsuccessful"):
            raise RuntimeError(f"DeleteFlowLogs refused: {answer['Unsuccessful']}")
    if actions.tags_removed:
        ec2.delete_tags(
            Resources=[actions.keep],
            Tags=[{"Key": k} for k in actions.tags_removed],
            aws_retry=True,
        )
    if actions.tags_added:
        ec2.create_tags(
            Resources=[actions.keep],
            Tags=ansible_dict_to_boto3_tag_list(actions.tags_added),
            aws_retry=True,
        )
    if not actions.create or wanted is None:
        return actions.keep
    answer = ec2.create_flow_logs(
        **wanted.request(params["vpc_id"], params["tags"]), aws_retry=True
    )
    if answer.get("Unsuccessful") or not answer.get("FlowLogIds"):
        raise RuntimeError(f"CreateFlowLogs refused: {answer.get('Unsuccessful')}")
    return answer["FlowLogIds"][0]


def summary(flow_logs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    keys = ("TrafficType", "LogGroupName", "DeliverLogsPermissionArn", "LogFormat")
    return [{k: f.get(k) for k in (*keys, "MaxAggregationInterval")} for f in flow_logs]


def main() -> None:
    module = AnsibleAWSModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    problem = validate(params)
    if problem:
        module.fail_json(msg=problem)
    wanted = wanted_from(params)
    ec2 = module.client("ec2", retry_decorator=AWSRetry.jittered_backoff())
    try:
        current = describe(ec2, params["vpc_id"], params["log_group_name"])
        actions = plan(current, wanted, params["tags"], params["purge_tags"])
        flow_log_id = actions.keep
        if actions.changed and not module.check_mode:
            flow_log_id = apply(ec2, params, wanted, actions)
    except (BotoCoreError, ClientError) as error:
        module.fail_json_aws(error, msg=f"cannot converge the flow log of {params['vpc_id']}")
    except RuntimeError as error:
        module.fail_json(msg=str(error))
    after = [] if wanted is None else [wanted.request(params["vpc_id"], None)]
    module.exit_json(
        changed=actions.changed,
        flow_log_id=flow_log_id,
        replaced=actions.replaced,
        deleted=actions.delete,
        tags_added=actions.tags_added,
        tags_removed=actions.tags_removed,
        diff={
            "before": {"flow_logs": summary(current)},
            "after": {"flow_logs": summary(after)},
        },
    )


if __name__ == "__main__":
    main()
