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
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.playbooks.runner import PlaybookRun, run_playbook

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not os.environ.get("AWS_ENDPOINT_URL", "").startswith("http://127.0.0.1"),
        reason="needs the emulator (scripts/test starts it and exports AWS_ENDPOINT_URL)",
    ),
]
# The compare task of each part, by the fact it sets.
PARTS = {
    "alb": "_alb_converged",
    "observability": "_observability_converged",
    "observability_alb_alarms": "_observability_alb_alarms_converged",
    "ecs_autoscaling": "_ecs_autoscaling_converged",
}


def client(service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=os.environ["AWS_ENDPOINT_URL"],
        region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
    )


class Stack:
    def __init__(self, tmp_path: Path) -> None:
        self.env = "fp" + uuid.uuid4().hex[:6]
        self.outputs = tmp_path / "outputs"

    def name(self, part: str) -> str:
        return f"{self.env}-djg-{part}-ander"

    def run(self, playbook: str, json_output: bool = False) -> PlaybookRun:
        run = run_playbook(
            playbook,
            "local",
            "-e",
            json.dumps({"aws_endpoint_required": True, "env_name": self.env}),
            endpoint=os.environ["AWS_ENDPOINT_URL"],
            json_output=json_output,
            env={"DJANGO_ECS_OUTPUTS_DIR": str(self.outputs)},
        )
        assert run.returncode == 0, run.output[-4000:]
        return run

    def app_json(self) -> dict[str, Any]:
        return json.loads((self.outputs / "app.json").read_text())


def app_layer(stack: Stack) -> tuple[dict[str, dict[str, Any]], int]:
    """The compare result of each part and the run's changed count."""
    result = stack.run("playbooks/app.yml", json_output=True).json_result()
    compared: dict[str, dict[str, Any]] = {}
    for play in result["plays"]:
        for task in play["tasks"]:
            facts = task["hosts"].get("localhost", {}).get("ansible_facts", {})
            for part, fact in PARTS.items():
                if fact in facts:
                    compared[part] = facts[fact]
    assert set(compared) == set(PARTS), sorted(compared)
    return compared, result["stats"]["localhost"]["changed"]


def assert_all_skipped(compared: dict[str, dict[str, Any]], changed: int) -> None:
    for part, result in compared.items():
        assert result["in_sync"], (part, result["reasons"])
        assert result["reasons"] == [], (part, result["reasons"])
    assert changed == 0


def test_converged_parts_are_skipped_and_drift_is_named_and_repaired(tmp_path: Path) -> None:
    stack = Stack(tmp_path)
    stack.run("site.yml")
    first_outputs = stack.app_json()

    compared, changed = app_layer(stack)
    assert_all_skipped(compared, changed)
    # The facts republished from the records make the same outputs as the full run.
    assert stack.app_json() == first_outputs

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
    assert stack.app_json() == first_outputs

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
