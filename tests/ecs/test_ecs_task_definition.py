"""django_ecs.aws.ecs_task_definition against the ECS emulator."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from typing import Any

import pytest

Run = Callable[..., dict[str, Any]]
ACCOUNT = "123456789012"
EXECUTION_ROLE = f"arn:aws:iam::{ACCOUNT}:role/dev-djg-ecs-execution-ander"
TASK_ROLE = f"arn:aws:iam::{ACCOUNT}:role/dev-djg-ecs-task-ander"
IMAGE = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/django-app@sha256:" + "a" * 64


@pytest.fixture
def family() -> str:
    return f"test-djg-web-{uuid.uuid4().hex[:10]}"


def web_task(family: str) -> dict[str, Any]:
    return {
        "family": family,
        "cpu": "256",
        "memory": "1024",
        "network_mode": "awsvpc",
        "requires_compatibilities": ["FARGATE"],
        "execution_role_arn": EXECUTION_ROLE,
        "task_role_arn": TASK_ROLE,
        "runtime_platform": {"cpu_architecture": "X86_64", "operating_system_family": "LINUX"},
        "container_definitions": [
            {
                "name": "web",
                "image": IMAGE,
                "portMappings": [{"containerPort": 8000}],
                "environment": [
                    {"name": "DJANGO_DEBUG", "value": "0"},
                    {"name": "DB_NAME", "value": "appdb"},
                    {"name": "DB_PORT", "value": 5432},
                ],
                "secrets": [
                    {"name": "DJANGO_SECRET_KEY", "valueFrom": "arn:aws:secretsmanager:k"},
                    {"name": "SENTRY_DSN", "valueFrom": "arn:aws:secretsmanager:s"},
                ],
                "healthCheck": {"command": ["CMD-SHELL", "curl -fs localhost:8000/healthz"]},
            }
        ],
        "tags": {"Project": "django-ecs", "Environment": "dev"},
    }


def active_revisions(ecs: Any, family: str) -> list[str]:
    response = ecs.list_task_definitions(familyPrefix=family, status="ACTIVE")
    return response["taskDefinitionArns"]


def set_env(args: dict[str, Any], name: str, value: str) -> None:
    for variable in args["container_definitions"][0]["environment"]:
        if variable["name"] == name:
            variable["value"] = value


def test_same_input_twice_registers_one_revision(run_module: Run, ecs: Any, family: str) -> None:
    first = run_module("ecs_task_definition", web_task(family))
    second = run_module("ecs_task_definition", web_task(family))

    assert first["changed"] is True and first["registered"] is True, first
    assert first["revision"] == 1
    assert second["changed"] is False, second["changes"]
    assert second["revision"] == 1
    assert second["changes"] == []
    assert len(active_revisions(ecs, family)) == 1


MUTATIONS: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "cpu": (lambda a: a.update(cpu="512"), "cpu"),
    "memory": (lambda a: a.update(memory="2048"), "memory"),
    "execution role": (
        lambda a: a.update(execution_role_arn=EXECUTION_ROLE + "-v2"),
        "executionRoleArn",
    ),
    "env var value": (
        lambda a: set_env(a, "DB_NAME", "otherdb"),
        "containerDefinitions.web.environment.DB_NAME",
    ),
    "image": (
        lambda a: a["container_definitions"][0].update(image=IMAGE.replace("a" * 64, "b" * 64)),
        "containerDefinitions.web.image",
    ),
    "runtime platform": (
        lambda a: a["runtime_platform"].update(cpu_architecture="ARM64"),
        "runtimePlatform.cpuArchitecture",
    ),
    "task role removed": (lambda a: a.pop("task_role_arn"), "taskRoleArn"),
}


@pytest.mark.parametrize("mutation", list(MUTATIONS), ids=list(MUTATIONS))
def test_each_change_registers_exactly_one_new_revision(
    run_module: Run, ecs: Any, family: str, mutation: str
) -> None:
    mutate, field = MUTATIONS[mutation]
    run_module("ecs_task_definition", web_task(family))
    changed_args = web_task(family)
    mutate(changed_args)

    changed = run_module("ecs_task_definition", changed_args)
    repeated = run_module("ecs_task_definition", changed_args)

    assert changed["changed"] is True and changed["registered"] is True, changed
    assert changed["revision"] == 2
    assert [c["field"] for c in changed["changes"]] == [field]
    assert repeated["changed"] is False, repeated["changes"]
    assert repeated["revision"] == 2
    assert len(active_revisions(ecs, family)) == 2


def test_reordering_and_equivalent_spellings_register_nothing(
    run_module: Run, ecs: Any, family: str
) -> None:
    run_module("ecs_task_definition", web_task(family))
    shuffled = web_task(family)
    container = shuffled["container_definitions"][0]
    container["environment"].reverse()
    container["secrets"].reverse()
    container["environment"][0]["value"] = "5432"  # was the YAML integer 5432
    shuffled["cpu"] = "0.25 vCPU"
    shuffled["memory"] = "1 GB"
    container.update(essential=True, cpu=0, mountPoints=[])

    result = run_module("ecs_task_definition", shuffled)

    assert result["changed"] is False, result["changes"]
    assert result["revision"] == 1
    assert len(active_revisions(ecs, family)) == 1


def test_check_mode_reports_the_change_without_registering(
    run_module: Run, ecs: Any, family: str
) -> None:
    run_module("ecs_task_definition", web_task(family))
    bigger = web_task(family)
    bigger["cpu"] = "512"

    planned = run_module("ecs_task_definition", bigger, check_mode=True, diff=True)

    assert planned["changed"] is True and planned["registered"] is True
    assert planned["changes"] == [{"field": "cpu", "before": "256", "after": "512"}]
    assert planned["revision"] == 1
    assert planned["diff"]["before"]["cpu"] == "256"
    assert planned["diff"]["after"]["cpu"] == "512"
    assert len(active_revisions(ecs, family)) == 1


def test_check_mode_on_a_new_family_registers_nothing(
    run_module: Run, ecs: Any, family: str
) -> None:
    planned = run_module("ecs_task_definition", web_task(family), check_mode=True)

    assert planned["changed"] is True
    assert planned["task_definition_arn"] is None
    assert active_revisions(ecs, family) == []


def test_tag_change_retags_the_latest_revision_without_a_new_one(
    run_module: Run, ecs: Any, family: str
) -> None:
    first = run_module("ecs_task_definition", web_task(family))
    retagged = web_task(family)
    retagged["tags"] = {"Project": "django-ecs", "Owner": "platform-team"}

    result = run_module("ecs_task_definition", retagged)

    assert result["changed"] is True and result["registered"] is False, result
    assert result["task_definition_arn"] == first["task_definition_arn"]
    assert {c["field"] for c in result["changes"]} == {"tags.Owner", "tags.Environment"}
    tags = ecs.list_tags_for_resource(resourceArn=first["task_definition_arn"])["tags"]
    assert {t["key"]: t["value"] for t in tags} == retagged["tags"]


def test_new_revision_keeps_the_tags_when_tags_are_not_managed(
    run_module: Run, ecs: Any, family: str
) -> None:
    run_module("ecs_task_definition", web_task(family))
    untagged = web_task(family)
    untagged.pop("tags")
    untagged["memory"] = "2048"

    result = run_module("ecs_task_definition", untagged)

    tags = ecs.list_tags_for_resource(resourceArn=result["task_definition_arn"])["tags"]
    assert result["revision"] == 2
    assert {t["key"]: t["value"] for t in tags} == web_task(family)["tags"]


def test_deregistered_revision_is_not_the_comparison_base(
    run_module: Run, ecs: Any, family: str
) -> None:
    run_module("ecs_task_definition", web_task(family))
    second = copy.deepcopy(web_task(family))
    second["memory"] = "2048"
    rev2 = run_module("ecs_task_definition", second)
    ecs.deregister_task_definition(taskDefinition=rev2["task_definition_arn"])

    result = run_module("ecs_task_definition", second)

    assert result["registered"] is True, result
    assert result["changes"] == [{"field": "memory", "before": "1024", "after": "2048"}]
    assert result["revision"] == 3


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        (lambda c: c.append(dict(c[0])), "unique"),
        (lambda c: c[0]["environment"].append({"name": "FLAG", "value": True}), "quote it"),
        (lambda c: c[0].pop("image"), "has no image"),
    ],
    ids=["duplicate container", "boolean env value", "missing image"],
)
def test_invalid_definitions_fail_before_calling_aws(
    run_module: Run, ecs: Any, family: str, breakage: Callable[[list], None], message: str
) -> None:
    args = web_task(family)
    breakage(args["container_definitions"])

    result = run_module("ecs_task_definition", args)

    assert result.get("failed") is True
    assert message in result["msg"]
    assert active_revisions(ecs, family) == []
