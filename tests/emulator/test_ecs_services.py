"""ECS services are scheduled (emulator item 31, ecs_services.py): desired count, replacement,
rolling updates, target registration, the deployment circuit breaker.

Plain moto 5.2.5 starts no task for a service (ListTasks is empty, runningCount is what an
environment variable says) and never rolls a deployment: none of these could pass there.
"""

from __future__ import annotations

import json
import os
import signal
import uuid
from pathlib import Path
from typing import Any

import pytest
from ecs_support import Aws, awsvpc, cluster, ecs_emulator, image, needs_netns, wait_for

__all__ = ["awsvpc", "cluster", "ecs_emulator", "image"]
# Several tasks of one service listen on the same container port: namespaces needed.
pytestmark = needs_netns


@pytest.fixture(scope="module")
def aws(ecs_emulator: tuple[Path, Aws]) -> Aws:
    return ecs_emulator[1]


@pytest.fixture(scope="module")
def state_dir(ecs_emulator: tuple[Path, Aws]) -> Path:
    return ecs_emulator[0]


def _definition(aws: Aws, image: str, family: str, command: list[str]) -> str:
    container = {
        "name": "web",
        "image": image,
        "essential": True,
        "command": command,
        "portMappings": [{"containerPort": 8080}],
        "stopTimeout": 2,
    }
    return str(
        aws("ecs").register_task_definition(
            family=family,
            networkMode="awsvpc",
            requiresCompatibilities=["FARGATE"],
            cpu="256",
            memory="512",
            containerDefinitions=[container],
        )["taskDefinition"]["taskDefinitionArn"]
    )


def _service(aws: Aws, cluster: str, name: str) -> dict[str, Any]:
    return aws("ecs").describe_services(cluster=cluster, services=[name])["services"][0]


def _steady(aws: Aws, cluster: str, name: str, definition: str, timeout: float = 25) -> dict:
    """The service once its one deployment, of `definition`, is COMPLETED."""

    def done() -> dict[str, Any] | None:
        service = _service(aws, cluster, name)
        deployments = service["deployments"]
        completed = len(deployments) == 1 and deployments[0]["rolloutState"] == "COMPLETED"
        ok = completed and deployments[0]["taskDefinition"] == definition
        return service if ok and service["runningCount"] == service["desiredCount"] else None

    return wait_for(done, timeout)


def _tasks(aws: Aws, cluster: str, name: str, status: str = "RUNNING") -> list[dict[str, Any]]:
    arns = aws("ecs").list_tasks(cluster=cluster, serviceName=name, desiredStatus=status)
    if not arns["taskArns"]:
        return []
    return aws("ecs").describe_tasks(cluster=cluster, tasks=arns["taskArns"])["tasks"]


def _messages(service: dict[str, Any]) -> list[str]:
    return [event["message"] for event in service["events"]]


def _create(aws: Aws, cluster: str, awsvpc: dict, definition: str, **options: Any) -> str:
    name = f"s-{uuid.uuid4().hex[:8]}"
    aws("ecs").create_service(
        cluster=cluster,
        serviceName=name,
        taskDefinition=definition,
        launchType="FARGATE",
        networkConfiguration=awsvpc,
        **options,
    )
    return name


def test_service_keeps_desired_count_and_replaces_a_dead_task(
    aws: Aws, state_dir: Path, image: str, cluster: str, awsvpc: dict
) -> None:
    definition = _definition(aws, image, f"keep-{uuid.uuid4().hex[:6]}", ["serve", "8080"])
    name = _create(aws, cluster, awsvpc, definition, desiredCount=2)
    service = _steady(aws, cluster, name, definition)
    tasks = _tasks(aws, cluster, name)
    assert len(tasks) == 2 and {t["group"] for t in tasks} == {f"service:{name}"}
    assert {t["startedBy"] for t in tasks} == {service["deployments"][0]["id"]}
    victim = tasks[0]
    record = state_dir / "ecs" / "tasks" / victim["taskArn"].rsplit("/", 1)[-1] / "record.json"
    os.killpg(json.loads(record.read_text())["containers"][0]["pid"], signal.SIGKILL)

    def replaced() -> bool:
        running = {t["taskArn"] for t in _tasks(aws, cluster, name)}
        return len(running) == 2 and victim["taskArn"] not in running

    wait_for(replaced)
    dead = aws("ecs").describe_tasks(cluster=cluster, tasks=[victim["taskArn"]])["tasks"][0]
    assert dead["lastStatus"] == "STOPPED" and dead["containers"][0]["exitCode"] == 137
    assert any("has started 1 tasks" in m for m in _messages(_service(aws, cluster, name)))
    aws("ecs").update_service(cluster=cluster, service=name, desiredCount=0)
    wait_for(lambda: not _tasks(aws, cluster, name))


def _target_group(aws: Aws, awsvpc: dict) -> str:
    """A target group behind a listener, as ECS requires (CreateService refuses a group with no
    load balancer; the emulator's ALB reports such a group's targets `unused`)."""
    subnet = awsvpc["awsvpcConfiguration"]["subnets"][0]
    vpc = aws("ec2").describe_subnets(SubnetIds=[subnet])["Subnets"][0]["VpcId"]
    elb = aws("elbv2")
    group = elb.create_target_group(
        Name=f"tg-{uuid.uuid4().hex[:8]}",
        Protocol="HTTP",
        Port=8080,
        VpcId=vpc,
        TargetType="ip",
    )["TargetGroups"][0]["TargetGroupArn"]
    balancer = elb.create_load_balancer(
        Name=f"lb-{uuid.uuid4().hex[:8]}",
        Subnets=awsvpc["awsvpcConfiguration"]["subnets"],
        SecurityGroups=awsvpc["awsvpcConfiguration"]["securityGroups"],
        Type="application",
    )["LoadBalancers"][0]["LoadBalancerArn"]
    elb.create_listener(
        LoadBalancerArn=balancer,
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": group}],
    )
    return str(group)


def _target_ips(aws: Aws, group: str) -> set[str]:
    """The registered targets; deregistered ones still draining are listed too, as on AWS."""
    health = aws("elbv2").describe_target_health(TargetGroupArn=group)["TargetHealthDescriptions"]
    return {d["Target"]["Id"] for d in health if d["TargetHealth"]["State"] != "draining"}


def _task_ips(tasks: list[dict[str, Any]]) -> set[str]:
    return {t["containers"][0]["networkInterfaces"][0]["privateIpv4Address"] for t in tasks}


def test_rolling_update_replaces_tasks_and_targets(
    aws: Aws, image: str, cluster: str, awsvpc: dict
) -> None:
    family = f"roll-{uuid.uuid4().hex[:6]}"
    first = _definition(aws, image, family, ["serve", "8080"])
    group = _target_group(aws, awsvpc)
    balancers = [{"targetGroupArn": group, "containerName": "web", "containerPort": 8080}]
    name = _create(aws, cluster, awsvpc, first, desiredCount=2, loadBalancers=balancers)
    _steady(aws, cluster, name, first)
    old = _tasks(aws, cluster, name)
    assert _target_ips(aws, group) == _task_ips(old)
    second = _definition(aws, image, family, ["serve", "8080"])
    updated = aws("ecs").update_service(cluster=cluster, service=name, taskDefinition=second)
    deployments = updated["service"]["deployments"]
    assert [d["status"] for d in deployments] == ["PRIMARY", "ACTIVE"]
    assert deployments[0]["rolloutState"] == "IN_PROGRESS"
    _steady(aws, cluster, name, second)
    new = _tasks(aws, cluster, name)
    assert {t["taskDefinitionArn"] for t in new} == {second}
    assert _target_ips(aws, group) == _task_ips(new)
    stopped = aws("ecs").describe_tasks(cluster=cluster, tasks=[t["taskArn"] for t in old])
    assert {t["stopCode"] for t in stopped["tasks"]} == {"ServiceSchedulerInitiated"}
    # forceNewDeployment: the same revision, new tasks all the same.
    before = _service(aws, cluster, name)["deployments"][0]["id"]
    aws("ecs").update_service(cluster=cluster, service=name, forceNewDeployment=True)
    forced = _steady(aws, cluster, name, second)
    assert forced["deployments"][0]["id"] != before
    assert not {t["taskArn"] for t in new} & {t["taskArn"] for t in _tasks(aws, cluster, name)}
    aws("ecs").delete_service(cluster=cluster, service=name, force=True)
    wait_for(lambda: not _tasks(aws, cluster, name))


def test_never_healthy_revision_trips_the_circuit_breaker_and_rolls_back(
    aws: Aws, image: str, cluster: str, awsvpc: dict
) -> None:
    family = f"breaker-{uuid.uuid4().hex[:6]}"
    good = _definition(aws, image, family, ["serve", "8080"])
    name = _create(
        aws,
        cluster,
        awsvpc,
        good,
        desiredCount=1,
        deploymentConfiguration={"deploymentCircuitBreaker": {"enable": True, "rollback": True}},
    )
    _steady(aws, cluster, name, good)
    bad = _definition(aws, image, family, ["exit", "1"])
    aws("ecs").update_service(cluster=cluster, service=name, taskDefinition=bad)
    service = _steady(aws, cluster, name, good, timeout=40)  # rolled back to the good one
    messages = _messages(service)
    failed = [m for m in messages if "deployment failed: tasks failed to start." in m]
    assert len(failed) == 1 and any("rolling back to deployment" in m for m in messages)
    stopped = _tasks(aws, cluster, name, status="STOPPED")
    bad_tasks = [t for t in stopped if t["taskDefinitionArn"] == bad]
    assert len(bad_tasks) >= 3  # the threshold: half the desired count, at least 3
    assert {t["containers"][0]["exitCode"] for t in bad_tasks} == {1}
    aws("ecs").delete_service(cluster=cluster, service=name, force=True)
