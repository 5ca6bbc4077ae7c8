"""Emulator rules 20 and 20b: a role created seconds ago is not assumable yet (opt-in).

IAM is eventually consistent; on AWS, CreateFunction right after CreateRole can fail with
InvalidParameterValueException "The role defined for the function cannot be assumed by Lambda.",
and a task whose role is that new stops before its containers run ("ECS was unable to assume the
role ..."). Plain moto 5.2.5 accepts the role at once, so nothing here could fail there. These
tests start an emulator of their own with DJANGO_ECS_EMULATOR_IAM_PROPAGATION_SECONDS set (the
shared one runs without the window, as it is opt-in).
"""

from __future__ import annotations

import io
import os
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from ecs_support import push_app_image
from emulator_cli import parse_exports, run_emulator

from tests.aws_policies import service_trust
from tests.module_runner import run_collection_module
from tests.playbooks.runner import REPO_ROOT, run_playbook
from tools.emulator import moto_patched

pytestmark = pytest.mark.slow(seconds=70)

Aws = Callable[[str], Any]
# Longer than the role's own tasks between CreateRole and CreateFunction (its inline policy,
# the log group): the first CreateFunction must meet a role still propagating.
WINDOW_SECONDS = 12
DEPLOY_TASK = "Deploy the function in the private subnets (redeployed only when the zip changes)"


@pytest.fixture(scope="module")
def propagating_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """An emulator of its own where new roles propagate for WINDOW_SECONDS."""
    state_dir = tmp_path_factory.mktemp("emulator-iam-propagation")
    saved = os.environ.get(moto_patched.IAM_PROPAGATION_ENV)
    os.environ[moto_patched.IAM_PROPAGATION_ENV] = str(WINDOW_SECONDS)
    try:
        started = run_emulator("start", state_dir)
    finally:
        if saved is None:
            del os.environ[moto_patched.IAM_PROPAGATION_ENV]
        else:
            os.environ[moto_patched.IAM_PROPAGATION_ENV] = saved
    assert started.returncode == 0, started.stderr
    yield parse_exports(started.stdout)
    run_emulator("stop", state_dir)


@pytest.fixture(scope="module")
def aws_propagating(propagating_env: dict[str, str]) -> Aws:
    def client(service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=propagating_env["AWS_ENDPOINT_URL"],
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    return client


def _package() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return 1\n")
    return buffer.getvalue()


def _role(aws: Aws, name: str) -> str:
    return aws("iam").create_role(
        RoleName=name, AssumeRolePolicyDocument=service_trust("lambda.amazonaws.com")
    )["Role"]["Arn"]


def _create_function(aws: Aws, name: str, role: str) -> dict[str, Any]:
    return aws("lambda").create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": _package()},
    )


def test_window_is_read_from_the_environment() -> None:
    assert moto_patched.iam_propagation_seconds({}) == 0
    assert moto_patched.iam_propagation_seconds({moto_patched.IAM_PROPAGATION_ENV: "x"}) == 0
    assert moto_patched.iam_propagation_seconds({moto_patched.IAM_PROPAGATION_ENV: "7"}) == 7


def test_a_fresh_role_is_refused_until_it_propagated(aws_propagating: Aws) -> None:
    name = f"fresh-{uuid.uuid4().hex[:8]}"
    role = _role(aws_propagating, name)

    with pytest.raises(ClientError) as refused:
        _create_function(aws_propagating, name, role)
    time.sleep(WINDOW_SECONDS + 0.5)
    created = _create_function(aws_propagating, name, role)
    newer_role = _role(aws_propagating, f"{name}-new")
    with pytest.raises(ClientError) as update_refused:
        aws_propagating("lambda").update_function_configuration(FunctionName=name, Role=newer_role)

    error = refused.value.response["Error"]
    assert error["Code"] == "InvalidParameterValueException"
    assert error["Message"] == "The role defined for the function cannot be assumed by Lambda."
    assert created["Role"] == role
    assert update_refused.value.response["Error"] == error
    configuration = aws_propagating("lambda").get_function_configuration(FunctionName=name)
    assert configuration["Role"] == role


def _deploy_task(run_output: dict[str, Any]) -> dict[str, Any]:
    for play in run_output["plays"]:
        for task in play["tasks"]:
            if task["task"]["name"].endswith(DEPLOY_TASK):
                return task["hosts"]["localhost"]
    raise AssertionError(f"task {DEPLOY_TASK!r} did not run")


def test_db_init_role_retries_create_function_while_its_new_role_propagates(
    propagating_env: dict[str, str], aws_propagating: Aws, tmp_path: Path
) -> None:
    env_name = f"rp{uuid.uuid4().hex[:6]}"
    # The role's tasks as data.yml runs them (minus the network lookup), with the globals.
    (tmp_path / "group_vars").symlink_to(REPO_ROOT / "group_vars")
    playbook = tmp_path / "db_init_function.yml"
    playbook.write_text(
        """\
- hosts: localhost
  gather_facts: false
  module_defaults:
    group/aws:
      region: "{{ region }}"
      endpoint_url: "{{ aws_endpoint_url }}"
  tasks:
    - ansible.builtin.import_role: {name: django_ecs.aws.db_init, tasks_from: package}
    - ansible.builtin.import_role: {name: django_ecs.aws.db_init, tasks_from: iam}
    - ansible.builtin.import_role: {name: django_ecs.aws.db_init, tasks_from: function}
      vars:
        network_lookup_found: true
        network_lookup_private_subnets: [{id: subnet-0123456789abcdef0}]
"""
    )

    def deploy(env: str, *extra: str, succeeds: bool = True) -> dict[str, Any]:
        run = run_playbook(
            str(playbook),
            "local",
            *("-e", f"env_name={env}", "-e", f"db_init_build_dir={tmp_path}", *extra),
            endpoint=propagating_env["AWS_ENDPOINT_URL"],
            json_output=True,
        )
        assert (run.returncode == 0) is succeeds, run.output[-4000:]
        return _deploy_task(run.json_result())

    first, second = deploy(env_name), deploy(env_name)
    # Any other error fails at once: here botocore refuses MemorySize below 128 (service model).
    other_error = deploy(f"{env_name}x", "-e", "db_init_memory_mb=64", succeeds=False)

    # The first CreateFunction met the fresh role; a retry after the window created the function.
    assert first["changed"] is True
    assert first["attempts"] >= 2, first
    # Nothing to create: one attempt, no wait.
    assert second["changed"] is False
    assert second["attempts"] == 1, second
    assert other_error["failed"] is True
    assert other_error["attempts"] == 1, other_error
    function = aws_propagating("lambda").get_function_configuration(
        FunctionName=f"{env_name}-djg-db-init-ander"
    )
    assert function["Role"].endswith(f":role/{env_name}-djg-db-init-ander")


def _fargate_task(
    aws: Aws, name: str, image: str = "app:1", command: list[str] | None = None
) -> tuple[str, str, dict[str, Any]]:
    """A cluster and a revision whose task role is brand new; the RunTask network to use."""
    ec2 = aws("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.91.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.91.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName=name, Description="t", VpcId=vpc)["GroupId"]
    aws("ecs").create_cluster(clusterName=name)
    role = aws("iam").create_role(
        RoleName=name, AssumeRolePolicyDocument=service_trust("ecs-tasks.amazonaws.com")
    )["Role"]["Arn"]
    revision = aws("ecs").register_task_definition(
        family=name,
        taskRoleArn=role,
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="256",
        memory="512",
        containerDefinitions=[
            {"name": "app", "image": image, "essential": True, "command": command or []}
        ],
    )["taskDefinition"]["taskDefinitionArn"]
    return name, revision, {"subnets": [subnet], "security_groups": [group]}


def test_a_task_whose_role_is_fresh_stops_before_its_containers_run(aws_propagating: Aws) -> None:
    cluster, revision, network = _fargate_task(aws_propagating, f"ecs-{uuid.uuid4().hex[:8]}")
    ecs = aws_propagating("ecs")
    awsvpc = {"subnets": network["subnets"], "securityGroups": network["security_groups"]}

    task = ecs.run_task(
        cluster=cluster,
        taskDefinition=revision,
        launchType="FARGATE",
        networkConfiguration={"awsvpcConfiguration": awsvpc},
    )["tasks"][0]

    assert task["lastStatus"] == "STOPPED", task
    assert task["stoppedReason"].startswith("ECS was unable to assume the role 'arn:aws:iam::")
    assert [c.get("exitCode") for c in task["containers"]] == [None]


def test_the_migration_step_retries_until_the_tasks_role_propagated(
    propagating_env: dict[str, str], aws_propagating: Aws
) -> None:
    name = f"mig-{uuid.uuid4().hex[:8]}"
    aws_propagating("ecr").create_repository(repositoryName=name)
    image = push_app_image(aws_propagating("ecr"), name)  # the emulator runs it (item 26)
    cluster, revision, network = _fargate_task(aws_propagating, name, image, ["exit", "0"])
    result = run_collection_module(
        "ecs_run_task",
        {
            "cluster": cluster,
            "task_definition": revision,
            "network_configuration": network,
            "wait": True,
            "wait_timeout": 60,
        },
        env={**propagating_env, "AWS_DEFAULT_REGION": "us-east-1"},
    )

    # The first task stopped for the role; a later one ran once the window had passed.
    assert result.get("failed") is not True, result
    assert result["attempts"] >= 2, result
    assert result["exit_codes"] == {"app": 0}, result
