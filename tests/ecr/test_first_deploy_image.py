"""A first deploy of an environment that does not build on deploy works or stops early.

hml (app_build_on_deploy=false) deploys an image published beforehand by playbooks/image.yml.
Without it, the app layer stops at its first AWS step, before it creates anything (log groups,
repository, cluster, load balancer), with the commands to run; under --check it is a plan note.
Each test gets an environment and repository names of its own on the emulator.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.playbooks.runner import PlaybookRun, run_playbook

pytestmark = pytest.mark.slow(seconds=115)

NOT_PUBLISHED = "The image to deploy is not published"
STOPPED = "Stopping before the app layer creates anything."
PLAN_NOTE = "Plan note: a run would stop here, before the app layer creates anything."
FIRST_LOOKUP = (
    "TASK [django_ecs.aws.network_lookup : "
    "Find the VPC by its Name tag, with its subnets and private route tables]"
)


@pytest.fixture
def env_name() -> str:
    return "h" + uuid.uuid4().hex[:8]


def run_app_layer(
    aws_env: dict[str, str],
    tmp_path: Path,
    inventory: str,
    extra_vars: dict[str, Any],
    *args: str,
) -> PlaybookRun:
    return run_playbook(
        "site.yml",
        inventory,
        "--tags",
        "app",
        *args,
        "-e",
        json.dumps({"aws_endpoint_required": True, **extra_vars}),
        endpoint=aws_env["AWS_ENDPOINT_URL"],
        env={"DJANGO_ECS_OUTPUTS_DIR": str(tmp_path / "outputs")},
    )


def assert_nothing_of_the_app_layer_exists(aws_env: dict[str, str], env_name: str) -> None:
    def client(service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=aws_env["AWS_ENDPOINT_URL"],
            region_name=aws_env["AWS_DEFAULT_REGION"],
        )

    clusters = client("ecs").describe_clusters(clusters=[f"{env_name}-django-cluster-and"])
    assert [c for c in clusters["clusters"] if c["status"] == "ACTIVE"] == []
    balancers = client("elbv2").describe_load_balancers()["LoadBalancers"]
    assert [b for b in balancers if b["LoadBalancerName"].startswith(f"{env_name}-")] == []
    groups = client("logs").describe_log_groups(logGroupNamePrefix=f"/aws/django-ecs/{env_name}/")
    assert groups["logGroups"] == []
    topics = client("sns").list_topics()["Topics"]
    assert [t for t in topics if f":{env_name}-" in t["TopicArn"]] == []


def test_missing_repository_stops_before_anything_is_created(
    aws_env: dict[str, str], ecr: Any, env_name: str, tmp_path: Path
) -> None:
    repository = f"first-{env_name}"
    run = run_app_layer(
        aws_env, tmp_path, "hml", {"env_name": env_name, "app_repository_name": repository}
    )

    assert run.returncode != 0, run.output
    for text in (
        STOPPED,
        f"{NOT_PUBLISHED}: repository {repository} does not exist",
        "app_build_on_deploy=false",
        f"ansible-playbook playbooks/image.yml -i inventories/{env_name} -e image_tag=<commit sha>",
        f"ansible-playbook site.yml -i inventories/{env_name} -e image_tag=<commit sha>",
    ):
        assert text in run.output, run.output
    assert FIRST_LOOKUP not in run.output, run.output
    repositories = ecr.describe_repositories()["repositories"]
    assert repository not in [r["repositoryName"] for r in repositories]
    assert_nothing_of_the_app_layer_exists(aws_env, env_name)


def test_missing_tag_names_the_tag_to_publish(
    aws_env: dict[str, str], repository: str, env_name: str, tmp_path: Path
) -> None:
    run = run_app_layer(
        aws_env,
        tmp_path,
        "hml",
        {"env_name": env_name, "app_repository_name": repository, "image_tag": "sha-0123abcd"},
    )

    assert run.returncode != 0, run.output
    assert f"tag sha-0123abcd is not in repository {repository}" in run.output, run.output
    publish = f"playbooks/image.yml -i inventories/{env_name} -e image_tag=sha-0123abcd"
    assert publish in run.output, run.output
    assert_nothing_of_the_app_layer_exists(aws_env, env_name)


def test_a_shared_repository_is_first_published_by_its_owner(
    aws_env: dict[str, str], env_name: str, tmp_path: Path
) -> None:
    """prod reuses hml's repository: while it does not exist, hml's image.yml creates it."""
    repository = f"shared-{env_name}"
    run = run_app_layer(
        aws_env,
        tmp_path,
        "prod",
        {
            "env_name": env_name,
            "app_repository_name": repository,
            "app_repository_owners": {repository: "hml"},
            "image_tag": "sha-0123abcd",
        },
    )

    assert run.returncode != 0, run.output
    assert "playbooks/image.yml -i inventories/hml -e image_tag=sha-0123abcd" in run.output
    assert f"site.yml -i inventories/{env_name} -e image_tag=sha-0123abcd" in run.output
    assert_nothing_of_the_app_layer_exists(aws_env, env_name)


def test_check_mode_on_an_empty_account_is_a_plan_with_a_note(
    aws_env: dict[str, str], env_name: str, tmp_path: Path
) -> None:
    repository = f"first-{env_name}"
    run = run_app_layer(
        aws_env,
        tmp_path,
        "hml",
        {"env_name": env_name, "app_repository_name": repository},
        "--check",
    )

    assert run.returncode == 0, run.output
    assert PLAN_NOTE in run.output, run.output
    assert f"repository {repository} does not exist" in run.output
    assert "Would create service" in run.output, run.output
    assert_nothing_of_the_app_layer_exists(aws_env, env_name)


def test_a_published_image_passes_the_check(
    aws_env: dict[str, str],
    run_module: Callable[..., dict[str, Any]],
    repository: str,
    make_oci_layout: Callable[..., Any],
    env_name: str,
    tmp_path: Path,
) -> None:
    """Control: with the tag published the layer goes on, here to the network it needs."""
    image = make_oci_layout("app", [{"app/manage.py": b"print('published')\n"}])
    run_module("ecr_image", {"repository": repository, "path": str(image.path), "tag": "sha-1"})
    run = run_app_layer(
        aws_env,
        tmp_path,
        "hml",
        {"env_name": env_name, "app_repository_name": repository, "image_tag": "sha-1"},
    )

    assert run.returncode != 0, run.output
    assert NOT_PUBLISHED not in run.output, run.output
    assert f"{FIRST_LOOKUP} ***" in run.output, run.output
    assert "deploy the network layer first" in run.output, run.output
