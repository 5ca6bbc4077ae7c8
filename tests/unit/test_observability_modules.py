"""Pure planning of the observability modules: no AWS involved."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest
import yaml
from ansible_collections.django_ecs.aws.plugins.modules import (
    cloudwatch_alarms,
    cloudwatch_dashboard,
    sns_topic_encryption,
)

TOPIC = "arn:aws:sns:us-east-1:123456789012:dev-djg-alerts-ander"


def alarm(**overrides: Any) -> dict[str, Any]:
    """An alarm as AnsibleModule hands it over: every option present, defaults filled in."""
    spec = {key: option.get("default") for key, option in cloudwatch_alarms.ALARM_OPTIONS.items()}
    spec.update(
        name="dev-djg-alarm-ecs-cpu-ander",
        namespace="AWS/ECS",
        metric_name="CPUUtilization",
        dimensions={"ServiceName": "dev-djg-service-ander", "ClusterName": "dev-djg-cluster-ander"},
        evaluation_periods=2,
        threshold=80,
        alarm_actions=[TOPIC],
    )
    spec.update(overrides)
    return spec


def described(spec: dict[str, Any]) -> dict[str, Any]:
    """What DescribeAlarms reports for an alarm written from ``spec``: dimensions reordered."""
    request = cloudwatch_alarms.put_request(spec)
    return {
        **request,
        "Dimensions": list(reversed(request["Dimensions"])),
        "AlarmArn": f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{spec['name']}",
        "StateValue": "OK",
    }


def test_put_request_defaults_datapoints_to_every_evaluated_period() -> None:
    request = cloudwatch_alarms.put_request(alarm())
    assert request["DatapointsToAlarm"] == 2
    assert request["Threshold"] == 80.0
    assert request["Dimensions"][0] == {"Name": "ClusterName", "Value": "dev-djg-cluster-ander"}


def test_empty_action_arns_are_dropped() -> None:
    assert cloudwatch_alarms.put_request(alarm(alarm_actions=["", TOPIC]))["AlarmActions"] == [
        TOPIC
    ]


def test_unchanged_alarm_is_not_rewritten_whatever_the_dimension_order() -> None:
    spec = alarm()
    plan = cloudwatch_alarms.plan([spec], {spec["name"]: described(spec)})
    assert plan == {"create": [], "update": {}, "delete": []}


def test_new_threshold_rewrites_only_that_field() -> None:
    current = described(alarm())
    plan = cloudwatch_alarms.plan([alarm(threshold=90)], {current["AlarmName"]: current})
    assert plan["update"] == {current["AlarmName"]: ["Threshold"]}


def test_missing_alarm_is_created_and_absent_one_deleted() -> None:
    gone = alarm(name="dev-djg-alarm-nat-status-ander", state="absent")
    plan = cloudwatch_alarms.plan([alarm(), gone], {gone["name"]: described(alarm())})
    assert plan["create"] == ["dev-djg-alarm-ecs-cpu-ander"]
    assert plan["delete"] == ["dev-djg-alarm-nat-status-ander"]


def test_absent_alarm_that_does_not_exist_needs_nothing() -> None:
    plan = cloudwatch_alarms.plan([alarm(state="absent")], {})
    assert plan == {"create": [], "update": {}, "delete": []}


def test_validation_names_the_broken_alarm() -> None:
    assert "period must be" in (cloudwatch_alarms.validate([alarm(period=90)]) or "")
    assert "datapoints_to_alarm" in (
        cloudwatch_alarms.validate([alarm(datapoints_to_alarm=3)]) or ""
    )
    assert "threshold required" in (cloudwatch_alarms.validate([alarm(threshold=None)]) or "")
    assert "repeated" in (cloudwatch_alarms.validate([alarm(), alarm()]) or "")
    assert (
        cloudwatch_alarms.validate([alarm(), alarm(name="x", state="absent", threshold=None)])
        is None
    )


def test_dashboard_body_is_compared_as_json() -> None:
    body = {"widgets": [{"type": "text", "properties": {"markdown": "hi"}}]}
    assert not cloudwatch_dashboard.needs_write(
        body, '{"widgets":[{"properties":{"markdown":"hi"},"type":"text"}]}'
    )
    assert cloudwatch_dashboard.needs_write(body, '{"widgets": []}')
    assert cloudwatch_dashboard.needs_write(body, None)
    assert cloudwatch_dashboard.needs_write(body, "not json")


def test_dashboard_input_is_validated() -> None:
    good = {"name": "dev-djg-dashboard-ander", "body": {"widgets": []}, "state": "present"}
    assert cloudwatch_dashboard.validate(good) is None
    assert "name must be" in (cloudwatch_dashboard.validate({**good, "name": "a b"}) or "")
    assert "widgets" in (cloudwatch_dashboard.validate({**good, "body": {}}) or "")
    assert cloudwatch_dashboard.validate({**good, "body": None, "state": "absent"}) is None


def test_topic_encryption_accepts_keys_and_aliases_only() -> None:
    assert sns_topic_encryption.validate(TOPIC, "alias/aws/sns") is None
    assert sns_topic_encryption.validate(TOPIC, "") is None
    key_arn = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    assert sns_topic_encryption.validate(TOPIC, key_arn) is None
    assert "kms_master_key_id" in (sns_topic_encryption.validate(TOPIC, "my key") or "")
    assert "topic_arn" in (sns_topic_encryption.validate("dev-djg-alerts-ander", "") or "")


def test_diff_shows_the_changed_fields_and_new_alarms() -> None:
    current = described(alarm())
    new = alarm(name="dev-djg-alarm-rds-cpu-ander", namespace="AWS/RDS")
    wanted = [alarm(threshold=90), new]
    todo = cloudwatch_alarms.plan(wanted, {current["AlarmName"]: current})
    shown = cloudwatch_alarms.diff(wanted, {current["AlarmName"]: current}, todo)
    assert shown["before"] == {current["AlarmName"]: {"Threshold": 80.0}}
    assert shown["after"][current["AlarmName"]] == {"Threshold": 90.0}
    assert shown["after"][new["name"]]["Namespace"] == "AWS/RDS"


@pytest.mark.parametrize("module", [cloudwatch_alarms, cloudwatch_dashboard, sns_topic_encryption])
def test_documentation_parses_and_lists_every_option(module: ModuleType) -> None:
    documentation = yaml.safe_load(module.DOCUMENTATION)
    yaml.safe_load(module.EXAMPLES)
    yaml.safe_load(module.RETURN)
    assert set(documentation["options"]) == set(module.ARGUMENT_SPEC)
