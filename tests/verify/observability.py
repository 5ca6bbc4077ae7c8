"""Verify a deployed observability role against the inventory's values, with boto3.

Used by tests/playbooks/test_observability_role.py and callable on its own:

    python -m tests.verify.observability '<expected json>'

Expected keys: region, naming {env, service, client}, tags, log_groups (full names),
log_retention_days, alert_emails, topic_kms_key_id (and topic_key_managed, default true: the
key is the role's own and checked too), nat_mode, thresholds (see ALARM_TABLE)
and optionally expect_alb (default true: the ALB alarms must exist). The alarm table below is
written from the specification (REFERENCE section 1, issue 4), independently of the role, and
the resources' dimensions are looked up the way an operator would (by name).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any

import boto3

from tests.verify.common import REQUIRED_TAGS, Checker, report

GIB = 1024**3


@dataclass(frozen=True)
class AlarmSpec:
    """What one alarm must be: metric, statistic, comparison, threshold and periods."""

    part: str
    namespace: str
    metric: str
    statistic: str
    comparison: str
    threshold: float
    period: int
    evaluation_periods: int
    dimensions: dict[str, str]


def name(expected: dict[str, Any], resource: str) -> str:
    naming = expected["naming"]
    return f"{naming['env']}-{naming['service']}-{resource}-{naming['client']}"


def check_tags(checker: Checker, what: str, actual: dict[str, str], tags: dict[str, str]) -> None:
    for key in REQUIRED_TAGS:
        checker.check(
            actual.get(key) == tags[key],
            f"{what}: tag {key}={actual.get(key)!r}, want {tags[key]!r}",
        )


def alb_dimensions(session: Any, expected: dict[str, Any]) -> dict[str, str]:
    """ARN suffixes of the target group and its load balancer; empty when absent."""
    elbv2 = session.client("elbv2")
    try:
        groups = elbv2.describe_target_groups(Names=[name(expected, "tg")])["TargetGroups"]
    except elbv2.exceptions.TargetGroupNotFoundException:
        return {}
    if not groups or not groups[0]["LoadBalancerArns"]:
        return {}
    return {
        "TargetGroup": groups[0]["TargetGroupArn"].split(":")[-1],
        "LoadBalancer": groups[0]["LoadBalancerArns"][0].split(":loadbalancer/")[-1],
    }


def nat_instance_id(session: Any, expected: dict[str, Any]) -> str:
    reservations = session.client("ec2").describe_instances(
        Filters=[
            {"Name": "tag:Name", "Values": [name(expected, "nat")]},
            {"Name": "instance-state-name", "Values": ["pending", "running"]},
        ]
    )["Reservations"]
    instances = [i for r in reservations for i in r["Instances"]]
    return instances[0]["InstanceId"] if instances else ""


def alarm_table(expected: dict[str, Any], alb: dict[str, str], nat_id: str) -> list[AlarmSpec]:
    limits = expected["thresholds"]
    ecs = {"ClusterName": name(expected, "cluster"), "ServiceName": name(expected, "service")}
    db = {"DBInstanceIdentifier": name(expected, "db")}
    gt, lt, ge = "GreaterThanThreshold", "LessThanThreshold", "GreaterThanOrEqualToThreshold"
    ecs_periods = limits.get("ecs_evaluation_periods", 2)
    rds_periods = limits.get("rds_evaluation_periods", 2)
    table = [
        AlarmSpec("ecs-cpu", "AWS/ECS", "CPUUtilization", "Average", gt,
                  limits.get("ecs_cpu", 80), 300, ecs_periods, ecs),
        AlarmSpec("ecs-memory", "AWS/ECS", "MemoryUtilization", "Average", gt,
                  limits.get("ecs_memory", 80), 300, ecs_periods, ecs),
        AlarmSpec("rds-cpu", "AWS/RDS", "CPUUtilization", "Average", gt,
                  limits.get("rds_cpu", 80), 300, rds_periods, db),
        AlarmSpec("rds-storage", "AWS/RDS", "FreeStorageSpace", "Minimum", lt,
                  limits["rds_free_storage_gib"] * GIB, 300, 1, db),
        AlarmSpec("rds-connections", "AWS/RDS", "DatabaseConnections", "Maximum", gt,
                  limits["rds_connections"], 300, rds_periods, db),
    ]  # fmt: skip
    if alb:
        table += [
            AlarmSpec("alb-5xx", "AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "Sum", gt,
                      limits.get("alb_5xx", 5), 300, limits.get("alb_5xx_evaluation_periods", 1),
                      {"LoadBalancer": alb["LoadBalancer"]}),
            AlarmSpec("alb-unhealthy", "AWS/ApplicationELB", "UnHealthyHostCount", "Maximum", gt,
                      limits.get("unhealthy_hosts", 0), 60, 2, alb),
        ]  # fmt: skip
    if expected["nat_mode"] == "instance":
        table.append(
            AlarmSpec("nat-status", "AWS/EC2", "StatusCheckFailed", "Maximum", ge, 1, 60, 2,
                      {"InstanceId": nat_id}),
        )  # fmt: skip
    return table


def verify_log_groups(checker: Checker, session: Any, expected: dict[str, Any]) -> None:
    logs = session.client("logs")
    for group_name in expected["log_groups"]:
        found = [
            g
            for g in logs.describe_log_groups(logGroupNamePrefix=group_name)["logGroups"]
            if g["logGroupName"] == group_name
        ]
        checker.check(len(found) == 1, f"log group {group_name} missing")
        if not found:
            continue
        retention = found[0].get("retentionInDays")
        want = int(expected["log_retention_days"])
        checker.check(
            retention == want, f"log group {group_name}: retention {retention}, want {want}"
        )
        tags = logs.list_tags_log_group(logGroupName=group_name)["tags"]
        check_tags(checker, f"log group {group_name}", tags, expected["tags"])


def verify_topic(checker: Checker, session: Any, expected: dict[str, Any]) -> str:
    sns = session.client("sns")
    topic_name = name(expected, "alerts")
    arns = [
        t["TopicArn"]
        for page in sns.get_paginator("list_topics").paginate()
        for t in page["Topics"]
        if t["TopicArn"].split(":")[-1] == topic_name
    ]
    checker.check(len(arns) == 1, f"SNS topic {topic_name} missing")
    if not arns:
        return ""
    attributes = sns.get_topic_attributes(TopicArn=arns[0])["Attributes"]
    key = attributes.get("KmsMasterKeyId", "")
    checker.check(key == expected["topic_kms_key_id"], f"topic KMS key {key!r}")
    if expected.get("topic_key_managed", True):
        verify_topic_key(checker, session, key, expected)
    subscriptions = sns.list_subscriptions_by_topic(TopicArn=arns[0])["Subscriptions"]
    emails = sorted(s["Endpoint"] for s in subscriptions if s["Protocol"] == "email")
    checker.check(emails == sorted(expected["alert_emails"]), f"topic subscriptions {emails}")
    checker.check(len(subscriptions) == len(emails), f"non-email subscriptions: {subscriptions}")
    tags = {t["Key"]: t["Value"] for t in sns.list_tags_for_resource(ResourceArn=arns[0])["Tags"]}
    check_tags(checker, "SNS topic", tags, expected["tags"])
    return arns[0]


def verify_topic_key(checker: Checker, session: Any, alias: str, expected: dict[str, Any]) -> None:
    """The role's own key: enabled, rotated, usable by CloudWatch alarms, tagged."""
    kms = session.client("kms")
    metadata = kms.describe_key(KeyId=alias)["KeyMetadata"]
    key_id = metadata["KeyId"]
    checker.check(metadata["KeyState"] == "Enabled", f"topic key state {metadata['KeyState']}")
    checker.check(metadata["KeyManager"] == "CUSTOMER", "topic key is not customer managed")
    rotation = kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"]
    checker.check(rotation is True, "topic key rotation is off")
    policy = json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])
    cloudwatch = [
        st
        for st in policy["Statement"]
        if st.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
        and st["Effect"] == "Allow"
    ]
    actions = {action for st in cloudwatch for action in st["Action"]}
    checker.check(
        {"kms:Decrypt", "kms:GenerateDataKey*"} <= actions,
        f"CloudWatch may not use the key: {actions}",
    )
    # Confused-deputy protection: CloudWatch uses the key for this account's alarms only.
    account = session.client("sts").get_caller_identity()["Account"]
    own_alarms = {
        "StringEquals": {"aws:SourceAccount": account},
        "ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:{expected['region']}:{account}:alarm:*"},
    }
    unconditioned = [st.get("Sid", "?") for st in cloudwatch if st.get("Condition") != own_alarms]
    checker.check(
        not unconditioned,
        f"CloudWatch may use the key for any account's alarms (statements {unconditioned}): "
        f"want the conditions {own_alarms}",
    )
    tags = {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=key_id)["Tags"]}
    check_tags(checker, "topic KMS key", tags, expected["tags"])


def verify_alarm(
    checker: Checker,
    cloudwatch: Any,
    spec: AlarmSpec,
    alarm: dict[str, Any],
    topic_arn: str,
    expected: dict[str, Any],
) -> None:
    label = alarm["AlarmName"]
    actual = {
        "namespace": alarm.get("Namespace"),
        "metric": alarm.get("MetricName"),
        "statistic": alarm.get("Statistic"),
        "comparison": alarm.get("ComparisonOperator"),
        "threshold": float(alarm.get("Threshold", -1)),
        "period": alarm.get("Period"),
        "evaluation_periods": alarm.get("EvaluationPeriods"),
        "datapoints": alarm.get("DatapointsToAlarm", alarm.get("EvaluationPeriods")),
        "dimensions": {d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])},
    }
    want = {
        "namespace": spec.namespace,
        "metric": spec.metric,
        "statistic": spec.statistic,
        "comparison": spec.comparison,
        "threshold": float(spec.threshold),
        "period": spec.period,
        "evaluation_periods": spec.evaluation_periods,
        "datapoints": spec.evaluation_periods,
        "dimensions": spec.dimensions,
    }
    for key, value in want.items():
        checker.check(actual[key] == value, f"{label}: {key} {actual[key]!r}, want {value!r}")
    checker.check(
        alarm.get("AlarmActions") == [topic_arn], f"{label}: actions {alarm.get('AlarmActions')}"
    )
    checker.check(alarm.get("ActionsEnabled") is True, f"{label}: actions disabled")
    listed = cloudwatch.list_tags_for_resource(ResourceARN=alarm["AlarmArn"])["Tags"]
    check_tags(checker, label, {t["Key"]: t["Value"] for t in listed}, expected["tags"])


def verify_alarms(
    checker: Checker, session: Any, expected: dict[str, Any], topic_arn: str
) -> list[str]:
    cloudwatch = session.client("cloudwatch")
    alb = alb_dimensions(session, expected)
    checker.check(bool(alb) == expected.get("expect_alb", True), f"ALB dimensions found: {alb}")
    nat_id = nat_instance_id(session, expected) if expected["nat_mode"] == "instance" else ""
    table = alarm_table(expected, alb, nat_id)
    prefix = f"{expected['naming']['env']}-{expected['naming']['service']}-alarm-"
    found = {
        a["AlarmName"]: a
        for page in cloudwatch.get_paginator("describe_alarms").paginate(AlarmNamePrefix=prefix)
        for a in page["MetricAlarms"]
    }
    wanted = {name(expected, f"alarm-{spec.part}"): spec for spec in table}
    checker.check(sorted(found) == sorted(wanted), f"alarms {sorted(found)}, want {sorted(wanted)}")
    for alarm_name, spec in wanted.items():
        if alarm_name in found:
            verify_alarm(checker, cloudwatch, spec, found[alarm_name], topic_arn, expected)
    return [found[n]["AlarmArn"] for n in sorted(wanted) if n in found]


def verify_dashboard(
    checker: Checker, session: Any, expected: dict[str, Any], alarm_arns: list[str]
) -> None:
    cloudwatch = session.client("cloudwatch")
    dashboard_name = name(expected, "dashboard")
    names = [d["DashboardName"] for d in cloudwatch.list_dashboards()["DashboardEntries"]]
    checker.check(dashboard_name in names, f"dashboard {dashboard_name} missing")
    if dashboard_name not in names:
        return
    body = json.loads(cloudwatch.get_dashboard(DashboardName=dashboard_name)["DashboardBody"])
    metrics = {
        metric[1]
        for widget in body["widgets"]
        if widget["type"] == "metric"
        for metric in widget["properties"]["metrics"]
    }
    key_metrics = {"CPUUtilization", "MemoryUtilization", "DatabaseConnections", "FreeStorageSpace"}
    if expected.get("expect_alb", True):
        key_metrics |= {"RequestCount", "HTTPCode_Target_5XX_Count", "UnHealthyHostCount"}
    checker.check(key_metrics <= metrics, f"dashboard lacks {sorted(key_metrics - metrics)}")
    shown = [a for w in body["widgets"] if w["type"] == "alarm" for a in w["properties"]["alarms"]]
    checker.check(sorted(shown) == sorted(alarm_arns), "dashboard alarm widget != the alarms")


def verify(expected: dict[str, Any]) -> list[str]:
    session = boto3.session.Session(region_name=expected["region"])
    checker = Checker()
    verify_log_groups(checker, session, expected)
    topic_arn = verify_topic(checker, session, expected)
    alarm_arns = verify_alarms(checker, session, expected, topic_arn)
    verify_dashboard(checker, session, expected, alarm_arns)
    return checker.failures


def main() -> int:
    return report(verify(json.loads(sys.argv[1])))


if __name__ == "__main__":
    sys.exit(main())
