"""Pure normalisation and diff of task definitions: no AWS involved."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from ansible_collections.django_ecs.aws.plugins.module_utils import ecs_task_definition as td

REQUEST: dict[str, Any] = {
    "family": "dev-djg-web-ander",
    "cpu": "256",
    "memory": "512",
    "networkMode": "awsvpc",
    "requiresCompatibilities": ["FARGATE"],
    "executionRoleArn": "arn:aws:iam::123456789012:role/exec",
    "containerDefinitions": [
        {
            "name": "web",
            "image": "repo@sha256:" + "a" * 64,
            "portMappings": [{"containerPort": 8000}],
            "environment": [{"name": "B", "value": "2"}, {"name": "A", "value": "1"}],
            "healthCheck": {"command": ["CMD", "true"]},
            "mountPoints": [{"sourceVolume": "tmp", "containerPath": "/tmp", "readOnly": False}],
        }
    ],
    "volumes": [{"name": "tmp"}],
}

# What AWS answers for REQUEST: defaults written in, lists reordered, cpu as string.
DESCRIBED: dict[str, Any] = {
    "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/dev-djg-web-ander:3",
    "revision": 3,
    "status": "ACTIVE",
    "compatibilities": ["EC2", "FARGATE"],
    "requiresAttributes": [{"name": "com.amazonaws.ecs.capability.docker-remote-api.1.18"}],
    "registeredAt": "2026-11-26T00:00:00Z",
    "family": "dev-djg-web-ander",
    "cpu": "256",
    "memory": "512",
    "networkMode": "awsvpc",
    "requiresCompatibilities": ["FARGATE"],
    "executionRoleArn": "arn:aws:iam::123456789012:role/exec",
    "placementConstraints": [],
    "volumes": [{"name": "tmp", "host": {}, "configuredAtLaunch": False}],
    "enableFaultInjection": False,
    "containerDefinitions": [
        {
            "name": "web",
            "image": "repo@sha256:" + "a" * 64,
            "cpu": 0,
            "essential": True,
            "portMappings": [{"containerPort": 8000, "hostPort": 8000, "protocol": "tcp"}],
            "environment": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
            "mountPoints": [{"sourceVolume": "tmp", "containerPath": "/tmp"}],
            "volumesFrom": [],
            "systemControls": [],
            "healthCheck": {"command": ["CMD", "true"], "interval": 30, "timeout": 5, "retries": 3},
        }
    ],
}


def test_aws_echo_of_a_request_is_equal_to_the_request() -> None:
    assert (
        td.diff_definitions(
            td.canonical_task_definition(DESCRIBED), td.canonical_task_definition(REQUEST)
        )
        == []
    )


@pytest.mark.parametrize(
    ("raw", "units"),
    [(256, "256"), ("256", "256"), ("0.25 vCPU", "256"), ("1 vcpu", "1024"), ("2 CPU", "2048")],
)
def test_cpu_spellings_become_cpu_units(raw: Any, units: str) -> None:
    assert td.normalise_cpu(raw) == units


@pytest.mark.parametrize(("raw", "mib"), [(512, "512"), ("0.5 GB", "512"), ("2gb", "2048")])
def test_memory_spellings_become_mib(raw: Any, mib: str) -> None:
    assert td.normalise_memory(raw) == mib


def test_unreadable_cpu_is_an_error() -> None:
    with pytest.raises(td.TaskDefinitionError):
        td.normalise_cpu("lots")


def test_env_value_change_is_reported_by_variable_name() -> None:
    changed = copy.deepcopy(REQUEST)
    changed["containerDefinitions"][0]["environment"][0]["value"] = "3"

    diff = td.diff_definitions(
        td.canonical_task_definition(REQUEST), td.canonical_task_definition(changed)
    )

    assert diff == [
        {"field": "containerDefinitions.web.environment.B", "before": "2", "after": "3"}
    ]


def test_removed_field_is_a_change() -> None:
    without_role = {k: v for k, v in REQUEST.items() if k != "executionRoleArn"}

    diff = td.diff_definitions(
        td.canonical_task_definition(REQUEST), td.canonical_task_definition(without_role)
    )

    assert [d["field"] for d in diff] == ["executionRoleArn"]
    assert diff[0]["after"] is None


def test_explicit_host_port_different_from_container_port_is_kept() -> None:
    bridge = td.canonical_container(
        {"name": "w", "image": "i", "portMappings": [{"containerPort": 80, "hostPort": 0}]},
        "bridge",
    )

    assert bridge["portMappings"] == [{"containerPort": 80, "hostPort": 0, "protocol": "tcp"}]


def test_non_essential_container_stays_different_from_essential() -> None:
    sidecar = {"name": "s", "image": "i", "essential": False}

    assert td.canonical_container(sidecar, "awsvpc")["essential"] is False
    assert "essential" not in td.canonical_container({**sidecar, "essential": True}, "awsvpc")


def test_container_order_does_not_matter() -> None:
    two = copy.deepcopy(REQUEST)
    two["containerDefinitions"].append({"name": "sidecar", "image": "i", "essential": False})
    swapped = copy.deepcopy(two)
    swapped["containerDefinitions"].reverse()

    assert td.canonical_task_definition(two) == td.canonical_task_definition(swapped)


def test_yaml_numbers_in_env_become_strings_and_booleans_are_refused() -> None:
    container = {"name": "w", "image": "i", "environment": [{"name": "PORT", "value": 8000}]}

    assert td.request_container(container)["environment"] == [{"name": "PORT", "value": "8000"}]
    with pytest.raises(td.TaskDefinitionError, match="quote it"):
        td.request_container({**container, "environment": [{"name": "DEBUG", "value": False}]})


def test_build_request_maps_snake_case_options() -> None:
    request = td.build_request(
        {
            "family": "f",
            "cpu": 512,
            "memory": "1 GB",
            "container_definitions": [{"name": "w", "image": "i"}],
            "runtime_platform": {"cpu_architecture": "ARM64", "operating_system_family": None},
            "ephemeral_storage": {"size_in_gib": 30},
            "execution_role_arn": None,
        }
    )

    assert request == {
        "family": "f",
        "cpu": "512",
        "memory": "1024",
        "containerDefinitions": [{"name": "w", "image": "i"}],
        "runtimePlatform": {"cpuArchitecture": "ARM64"},
        "ephemeralStorage": {"sizeInGiB": 30},
    }


def test_fargate_without_task_cpu_is_refused() -> None:
    request = {"family": "f", "requiresCompatibilities": ["FARGATE"], "containerDefinitions": []}
    request["containerDefinitions"] = [{"name": "w", "image": "i"}]

    assert td.validate_request(request) == ["FARGATE requires task-level cpu and memory"]
