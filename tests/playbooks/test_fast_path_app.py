"""On the emulator: the app layer's alb, observability (both entry points) and ecs_autoscaling
roles are skipped on a converged stack (their records match), publish the same facts as a full run,
and run again, naming the resource and field, when something of theirs changed outside Ansible.

One environment: site.yml converges it, then playbooks/app.yml runs three times (no-op, repair,
no-op). Concurrent edits of roles/, plugins/ or playbooks/ change the code fingerprint and make a
part run in full: run this test on a quiet tree.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.playbooks.fast_path import Stack, assert_all_skipped, client
from tests.playbooks.runner import run_playbook

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not os.environ.get("AWS_ENDPOINT_URL", "").startswith("http://127.0.0.1"),
        reason="needs the emulator (scripts/test starts it and exports AWS_ENDPOINT_URL)",
    ),
]
PARTS = ["alb", "observability", "observability_alb_alarms", "ecs_autoscaling"]


def app_layer(stack: Stack) -> tuple[dict[str, dict[str, Any]], int]:
    return stack.compare("playbooks/app.yml", PARTS)


def test_converged_parts_are_skipped_and_drift_is_named_and_repaired(tmp_path: Path) -> None:
    stack = Stack(tmp_path, "fp")
    stack.run("site.yml")
    first_outputs = stack.outputs_of("app")

    compared, changed = app_layer(stack)
    assert_all_skipped(compared, changed)
    # The facts republished from the records make the same outputs as the full run.
    assert stack.outputs_of("app") == first_outputs

    elbv2, logs, cloudwatch = client("elbv2"), client("logs"), client("cloudwatch")
    scaling = client("application-autoscaling")
    target_group = stack.name("tg")
    log_group = f"/aws/django-ecs/{stack.env}/app"
    alarm = stack.name("alarm-alb-5xx")
    scalable = f"service/{stack.name('cluster')}/{stack.name('service')}"
    group_arn = elbv2.describe_target_groups(Names=[target_group])["TargetGroups"][0][
        "TargetGroupArn"
    ]
    elbv2.modify_target_group(TargetGroupArn=group_arn, HealthCheckPath="/drifted")
    logs.put_retention_policy(logGroupName=log_group, retentionInDays=14)
    described = cloudwatch.describe_alarms(AlarmNames=[alarm])["MetricAlarms"][0]
    settable = (
        *("AlarmName", "AlarmDescription", "ActionsEnabled", "AlarmActions", "MetricName"),
        *("Namespace", "Statistic", "Dimensions", "Period", "EvaluationPeriods"),
        *("ComparisonOperator", "TreatMissingData"),
    )
    cloudwatch.put_metric_alarm(
        **{key: described[key] for key in settable if key in described}, Threshold=99.0
    )
    target = scaling.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=[scalable])[
        "ScalableTargets"
    ][0]
    scaling.register_scalable_target(
        ServiceNamespace="ecs",
        ResourceId=scalable,
        ScalableDimension="ecs:service:DesiredCount",
        MinCapacity=target["MinCapacity"],
        MaxCapacity=target["MaxCapacity"] + 3,
    )

    compared, _ = app_layer(stack)
    drifted = {
        "alb": f"target_group:{target_group} changed outside this role: HealthCheckPath",
        "observability": f"log_group:{log_group} changed outside this role: retentionInDays",
        "observability_alb_alarms": f"alarm:{alarm} changed outside this role:",
        "ecs_autoscaling": f"scalable_target:{scalable} changed outside this role: MaxCapacity",
    }
    for part, reason in drifted.items():
        assert not compared[part]["in_sync"], part
        assert any(line.startswith(reason) for line in compared[part]["reasons"]), (
            part,
            compared[part]["reasons"],
        )
    assert any(
        line.startswith(f"alarm:{alarm} changed outside this role:") and "Threshold" in line
        for line in compared["observability"]["reasons"]
    ), compared["observability"]["reasons"]

    # Repaired: the roles ran in full and put their values back.
    group = elbv2.describe_target_groups(Names=[target_group])["TargetGroups"][0]
    assert group["HealthCheckPath"] == "/healthz"
    retention = logs.describe_log_groups(logGroupNamePrefix=log_group)["logGroups"][0]
    assert retention["retentionInDays"] == 7
    assert cloudwatch.describe_alarms(AlarmNames=[alarm])["MetricAlarms"][0]["Threshold"] == 5.0
    repaired = scaling.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=[scalable])[
        "ScalableTargets"
    ][0]
    assert repaired["MaxCapacity"] == target["MaxCapacity"]

    compared, changed = app_layer(stack)
    assert_all_skipped(compared, changed)
    assert stack.outputs_of("app") == first_outputs

    # The plan: one value per layer changes, and site.yml's summary names each part and input
    # (and that nothing else would converge); --check changes nothing.
    plan = run_playbook(
        "site.yml",
        "local",
        "--check",
        "--diff",
        "-e",
        json.dumps(
            {
                "aws_endpoint_required": True,
                "env_name": stack.env,
                "vpc_flow_logs": True,
                "rds_backup_retention_days": 9,
                "app_task_memory": 1024,
            }
        ),
        endpoint=os.environ["AWS_ENDPOINT_URL"],
        json_output=True,
        env={"DJANGO_ECS_OUTPUTS_DIR": str(stack.outputs)},
    )
    assert plan.returncode == 0, plan.output[-4000:]
    summary = next(
        task["hosts"]["localhost"]["msg"]
        for play in plan.json_result()["plays"]
        for task in play["tasks"]
        if task["task"]["name"].startswith("Summarise, per layer")
    )
    expected = [
        "network: 1 to converge, 2 in sync",
        f"  vpc: log group /aws/django-ecs/{stack.env}/vpc-flow-logs: missing",
        "data: 2 to converge, 1 in sync",
        "  rds: input rds_backup_retention_days changed",
        "  rds_available: input rds_backup_retention_days changed",
        "app: 1 to converge, 6 in sync",
    ]
    for line in expected:
        assert any(item.startswith(line) for item in summary), (line, summary)
    # The role's own setting and the inventory value it defaults to, both named.
    service = next(item for item in summary if item.startswith("  ecs_service: "))
    assert "input ecs_service_memory changed" in service, service
    assert "input app_task_memory changed" in service, service
    compared, changed = app_layer(stack)
    assert_all_skipped(compared, changed)
