#!/usr/bin/python
# Copyright: contributors to django_ecs.aws
# Apache License 2.0 (see galaxy.yml)
# Ansible wants DOCUMENTATION/EXAMPLES/RETURN before any import (ansible-test validate-modules).

from __future__ import annotations

DOCUMENTATION = r"""
module: cloudwatch_alarms
short_description: Manage a set of CloudWatch metric alarms, with their tags, in one call
version_added: 0.1.0
description:
  - Creates, updates or deletes every alarm of O(alarms) with PutMetricAlarm / DeleteAlarms,
    and keeps each present alarm's tags equal to O(tags) (TagResource / UntagResource).
  - An alarm is written only when a field it sets differs from what DescribeAlarms reports;
    tags alone never rewrite an alarm.
  - Why not C(amazon.aws.cloudwatch_metric_alarm)? It has no C(tags) option, and this
    collection tags every resource; PutMetricAlarm only applies tags when it creates an alarm,
    so existing alarms need TagResource anyway. It also manages one alarm per module run,
    about 0.5 to 1 s of module start-up each, where this module reads all alarms in one
    DescribeAlarms call.
author:
  - django_ecs.aws maintainers (!UNKNOWN)
options:
  alarms:
    description: The alarms to manage.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Alarm name (unique in the account and region).
        type: str
        required: true
      state:
        description: V(absent) deletes the alarm when it exists.
        type: str
        choices: [present, absent]
        default: present
      description:
        description: Alarm description.
        type: str
        default: ""
      namespace:
        description: Metric namespace, e.g. C(AWS/ECS). Required when O(alarms[].state=present).
        type: str
      metric_name:
        description: Metric name, e.g. C(CPUUtilization). Required when present.
        type: str
      dimensions:
        description: Metric dimensions, name to value.
        type: dict
        default: {}
      statistic:
        description: Statistic over each period.
        type: str
        choices: [SampleCount, Average, Sum, Minimum, Maximum]
        default: Average
      period:
        description: Seconds per period (10, 30 or a multiple of 60).
        type: int
        default: 300
      evaluation_periods:
        description: Number of most recent periods evaluated.
        type: int
        default: 1
      datapoints_to_alarm:
        description: Breaching periods among O(alarms[].evaluation_periods) that trigger the
          alarm; defaults to all of them.
        type: int
      threshold:
        description: Value compared with the statistic. Required when present.
        type: float
      comparison_operator:
        description: How the statistic is compared with the threshold.
        type: str
        choices:
          - GreaterThanOrEqualToThreshold
          - GreaterThanThreshold
          - LessThanThreshold
          - LessThanOrEqualToThreshold
        default: GreaterThanThreshold
      treat_missing_data:
        description: How periods without data count.
        type: str
        choices: [breaching, notBreaching, ignore, missing]
        default: missing
      unit:
        description: Unit of the metric, when the alarm must match one unit only.
        type: str
      alarm_actions:
        description: ARNs notified when the alarm enters ALARM.
        type: list
        elements: str
        default: []
      ok_actions:
        description: ARNs notified when the alarm returns to OK.
        type: list
        elements: str
        default: []
      insufficient_data_actions:
        description: ARNs notified when the alarm enters INSUFFICIENT_DATA.
        type: list
        elements: str
        default: []
  tags:
    description: Tags of every present alarm.
    type: dict
    default: {}
  purge_tags:
    description: Remove tags not in O(tags).
    type: bool
    default: true
notes:
  - Supports check mode and diff mode.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: ECS CPU above 80 % for 2 of 2 five-minute periods, tagged
  django_ecs.aws.cloudwatch_alarms:
    alarms:
      - name: dev-djg-alarm-ecs-cpu-ander
        namespace: AWS/ECS
        metric_name: CPUUtilization
        dimensions: {ClusterName: dev-djg-cluster-ander, ServiceName: dev-djg-service-ander}
        statistic: Average
        period: 300
        evaluation_periods: 2
        threshold: 80
        comparison_operator: GreaterThanThreshold
        alarm_actions: ["{{ topic_arn }}"]
      - name: dev-djg-alarm-nat-status-ander
        state: absent
    tags: "{{ resource_tags }}"
"""

RETURN = r"""
created:
  description: Names of the alarms created (or that would be).
  returned: success
  type: list
  elements: str
updated:
  description: Names of the alarms whose settings were rewritten, with the fields that differed.
  returned: success
  type: dict
  sample: {"dev-djg-alarm-ecs-cpu-ander": ["Threshold"]}
deleted:
  description: Names of the alarms deleted.
  returned: success
  type: list
  elements: str
tags_updated:
  description: Names of existing alarms whose tags were changed.
  returned: success
  type: list
  elements: str
alarm_arns:
  description: ARN of every present alarm, by name (absent in check mode for new alarms).
  returned: success
  type: dict
"""

import contextlib
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

ALARM_OPTIONS: dict[str, Any] = {
    "name": {"type": "str", "required": True},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "description": {"type": "str", "default": ""},
    "namespace": {"type": "str"},
    "metric_name": {"type": "str"},
    "dimensions": {"type": "dict", "default": {}},
    "statistic": {
        "type": "str",
        "choices": ["SampleCount", "Average", "Sum", "Minimum", "Maximum"],
        "default": "Average",
    },
    "period": {"type": "int", "default": 300},
    "evaluation_periods": {"type": "int", "default": 1},
    "datapoints_to_alarm": {"type": "int"},
    "threshold": {"type": "float"},
    "comparison_operator": {
        "type": "str",
        "choices": [
            "GreaterThanOrEqualToThreshold",
            "GreaterThanThreshold",
            "LessThanThreshold",
            "LessThanOrEqualToThreshold",
        ],
        "default": "GreaterThanThreshold",
    },
    "treat_missing_data": {
        "type": "str",
        "choices": ["breaching", "notBreaching", "ignore", "missing"],
        "default": "missing",
    },
    "unit": {"type": "str"},
    "alarm_actions": {"type": "list", "elements": "str", "default": []},
    "ok_actions": {"type": "list", "elements": "str", "default": []},
    "insufficient_data_actions": {"type": "list", "elements": "str", "default": []},
}

ARGUMENT_SPEC: dict[str, Any] = {
    "alarms": {"type": "list", "elements": "dict", "required": True, "options": ALARM_OPTIONS},
    "tags": {"type": "dict", "default": {}},
    "purge_tags": {"type": "bool", "default": True},
}

# Fields of a PutMetricAlarm request compared with DescribeAlarms; lists compare unordered.
UNORDERED_FIELDS = ("AlarmActions", "OKActions", "InsufficientDataActions")


def validate(alarms: list[dict[str, Any]]) -> str | None:
    """CloudWatch's own rules, checked before any call so the error names the alarm."""
    names = [alarm["name"] for alarm in alarms]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        return f"alarm names must be unique, repeated: {', '.join(duplicates)}"
    for alarm in alarms:
        if alarm["state"] == "absent":
            continue
        missing = [key for key in ("namespace", "metric_name", "threshold") if alarm[key] is None]
        if missing:
            return f"alarm {alarm['name']}: {', '.join(missing)} required when present"
        if alarm["period"] not in (10, 30) and (alarm["period"] < 60 or alarm["period"] % 60):
            return f"alarm {alarm['name']}: period must be 10, 30 or a multiple of 60"
        if not 1 <= datapoints(alarm) <= alarm["evaluation_periods"]:
            return f"alarm {alarm['name']}: datapoints_to_alarm must be 1..evaluation_periods"
    return None


def datapoints(alarm: dict[str, Any]) -> int:
    return alarm["datapoints_to_alarm"] or alarm["evaluation_periods"]


def put_request(alarm: dict[str, Any]) -> dict[str, Any]:
    """The PutMetricAlarm arguments for one present alarm (tags excluded)."""
    request: dict[str, Any] = {
        "AlarmName": alarm["name"],
        "AlarmDescription": alarm["description"],
        "ActionsEnabled": True,
        "Namespace": alarm["namespace"],
        "MetricName": alarm["metric_name"],
        "Dimensions": [
            {"Name": key, "Value": str(value)} for key, value in sorted(alarm["dimensions"].items())
        ],
        "Statistic": alarm["statistic"],
        "Period": alarm["period"],
        "EvaluationPeriods": alarm["evaluation_periods"],
        "DatapointsToAlarm": datapoints(alarm),
        "Threshold": float(alarm["threshold"]),
        "ComparisonOperator": alarm["comparison_operator"],
        "TreatMissingData": alarm["treat_missing_data"],
        "AlarmActions": [arn for arn in alarm["alarm_actions"] if arn],
        "OKActions": [arn for arn in alarm["ok_actions"] if arn],
        "InsufficientDataActions": [arn for arn in alarm["insufficient_data_actions"] if arn],
    }
    if alarm["unit"]:
        request["Unit"] = alarm["unit"]
    return request


def normalised(field: str, value: Any) -> Any:
    if field == "Dimensions":
        return sorted((d["Name"], str(d["Value"])) for d in value or [])
    if field in UNORDERED_FIELDS:
        return sorted(value or [])
    if field == "Threshold":
        return float(value)
    if field == "AlarmDescription":
        return value or ""
    return value


def changed_fields(request: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """Fields of ``request`` that differ from the described alarm ``current``."""
    return [
        field
        for field, wanted in request.items()
        if field != "AlarmName"
        and normalised(field, wanted) != normalised(field, current.get(field))
    ]


def plan(alarms: list[dict[str, Any]], current: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Split the wanted alarms into create / update (with differing fields) / delete."""
    result: dict[str, Any] = {"create": [], "update": {}, "delete": []}
    for alarm in alarms:
        name = alarm["name"]
        if alarm["state"] == "absent":
            if name in current:
                result["delete"].append(name)
            continue
        if name not in current:
            result["create"].append(name)
            continue
        fields = changed_fields(put_request(alarm), current[name])
        if fields:
            result["update"][name] = fields
    return result


def diff(
    alarms: list[dict[str, Any]], current: dict[str, dict[str, Any]], todo: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    """Before/after of what this run changes: the differing fields, whole new or gone alarms."""
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for alarm in alarms:
        name = alarm["name"]
        if name in todo["create"]:
            after[name] = put_request(alarm)
        elif name in todo["update"]:
            wanted = put_request(alarm)
            before[name] = {f: current[name].get(f) for f in todo["update"][name]}
            after[name] = {f: wanted[f] for f in todo["update"][name]}
        elif name in todo["delete"]:
            before[name] = {"AlarmName": name}
    return {"before": before, "after": after}


def describe(client: Any, names: list[str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(names), 100):  # DescribeAlarms takes at most 100 names
        paginator = client.get_paginator("describe_alarms")
        pages = paginator.paginate(
            AlarmNames=names[start : start + 100], AlarmTypes=["MetricAlarm"]
        )
        for page in pages.build_full_result()["MetricAlarms"]:
            found[page["AlarmName"]] = page
    return found


def sync_tags(
    module: AnsibleAWSModule, client: Any, arn: str, tags: dict[str, str], purge: bool
) -> bool:
    listed = client.list_tags_for_resource(ResourceARN=arn, aws_retry=True)["Tags"]
    to_set, to_remove = compare_aws_tags(boto3_tag_list_to_ansible_dict(listed), tags, purge)
    if module.check_mode or not (to_set or to_remove):
        return bool(to_set or to_remove)
    if to_remove:
        client.untag_resource(ResourceARN=arn, TagKeys=to_remove, aws_retry=True)
    if to_set:
        client.tag_resource(
            ResourceARN=arn, Tags=ansible_dict_to_boto3_tag_list(to_set), aws_retry=True
        )
    return True


def apply(
    module: AnsibleAWSModule, client: Any, alarms: list[dict[str, Any]], todo: dict[str, Any]
) -> None:
    tags = ansible_dict_to_boto3_tag_list(module.params["tags"])
    for alarm in alarms:
        if alarm["name"] in todo["create"]:
            client.put_metric_alarm(**put_request(alarm), Tags=tags, aws_retry=True)
        elif alarm["name"] in todo["update"]:
            client.put_metric_alarm(**put_request(alarm), aws_retry=True)
    if todo["delete"]:
        client.delete_alarms(AlarmNames=todo["delete"], aws_retry=True)


def main() -> None:
    module = AnsibleAWSModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    alarms = module.params["alarms"]
    problem = validate(alarms)
    if problem:
        module.fail_json(msg=problem)
    client = module.client("cloudwatch", retry_decorator=AWSRetry.jittered_backoff())
    try:
        current = describe(client, [alarm["name"] for alarm in alarms])
        todo = plan(alarms, current)
        if not module.check_mode:
            apply(module, client, alarms, todo)
        present = [a["name"] for a in alarms if a["state"] == "present"]
        tags_updated = [
            name
            for name in present
            if name in current
            and sync_tags(
                module,
                client,
                current[name]["AlarmArn"],
                module.params["tags"],
                module.params["purge_tags"],
            )
        ]
        after = current if module.check_mode else describe(client, present)
    except (BotoCoreError, ClientError) as exc:
        module.fail_json_aws(exc, msg="cannot manage the CloudWatch alarms")
    changed = bool(todo["create"] or todo["update"] or todo["delete"] or tags_updated)
    module.exit_json(
        changed=changed,
        created=todo["create"],
        updated=todo["update"],
        deleted=todo["delete"],
        tags_updated=tags_updated,
        alarm_arns={name: after[name]["AlarmArn"] for name in present if name in after},
        diff=diff(alarms, current, todo),
    )


if __name__ == "__main__":
    main()
