"""django_ecs.aws.ecs_run_task and the role's migration step: exact revision, re-run, IAM retry."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from ansible_collections.django_ecs.aws.plugins.modules import ecs_run_task
from botocore.exceptions import ClientError

RunModule = Callable[..., dict[str, Any]]
STARTED_BY = "ansible-migrate"


@dataclass(frozen=True)
class Stack:
    cluster: str
    service: str
    family: str
    subnet: str
    group: str
    revisions: tuple[str, str]  # ARNs of revisions 1 and 2


@pytest.fixture
def stack(ecs: Any, aws_env: dict[str, str]) -> Iterator[Stack]:
    """A cluster, two revisions of a family and a service still on revision 1."""
    import boto3

    ec2 = boto3.client("ec2", endpoint_url=aws_env["AWS_ENDPOINT_URL"])
    unique = uuid.uuid4().hex[:8]
    # Names as the role derives them from naming {env: t<unique>, service: djg, client: ander}.
    env = f"t{unique}"
    cluster, service, family = (f"{env}-djg-{part}-ander" for part in ("cluster", "service", "app"))
    vpc = ec2.create_vpc(CidrBlock="10.90.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})  # as the vpc role's
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.90.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName=f"sg-{unique}", Description="t", VpcId=vpc)[
        "GroupId"
    ]
    ecs.create_cluster(clusterName=cluster)
    revisions = tuple(
        ecs.register_task_definition(
            family=family,
            requiresCompatibilities=["FARGATE"],
            networkMode="awsvpc",
            cpu="256",
            memory="512",
            containerDefinitions=[{"name": "app", "image": f"app:{n}", "essential": True}],
        )["taskDefinition"]["taskDefinitionArn"]
        for n in (1, 2)
    )
    network = {"awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [group]}}
    ecs.create_service(
        cluster=cluster,
        serviceName=service,
        taskDefinition=revisions[0],
        desiredCount=1,
        launchType="FARGATE",
        networkConfiguration=network,
    )
    yield Stack(cluster, service, family, subnet, group, (revisions[0], revisions[1]))
    ecs.delete_service(cluster=cluster, service=service, force=True)
    for task in ecs.list_tasks(cluster=cluster)["taskArns"]:
        ecs.stop_task(cluster=cluster, task=task)
    ecs.delete_cluster(cluster=cluster)
    ec2.delete_security_group(GroupId=group)
    ec2.delete_subnet(SubnetId=subnet)
    ec2.delete_vpc(VpcId=vpc)


def migration_tasks(ecs: Any, stack: Stack) -> list[dict[str, Any]]:
    arns = ecs.list_tasks(cluster=stack.cluster, startedBy=STARTED_BY)["taskArns"]
    return ecs.describe_tasks(cluster=stack.cluster, tasks=arns)["tasks"] if arns else []


def module_args(stack: Stack, **overrides: Any) -> dict[str, Any]:
    return {
        "cluster": stack.cluster,
        "task_definition": stack.revisions[1],
        "unless_service": stack.service,
        "network_configuration": {"subnets": [stack.subnet], "security_groups": [stack.group]},
        "started_by": STARTED_BY,
        "overrides": {"containerOverrides": [{"name": "app", "command": ["migrate"]}]},
        **overrides,
    }


def test_exact_revision_starts_where_a_family_filter_would_be_refused(
    run_module: RunModule, ecs: Any, stack: Stack
) -> None:
    family_revision = f"{stack.family}:1"
    # What community.aws.ecs_task calls first, and AWS (and the emulator, rule 19a) refuses.
    with pytest.raises(ClientError, match="InvalidParameterException"):
        ecs.list_tasks(cluster=stack.cluster, family=family_revision)

    # Revision 1, not the latest: exactly that one starts.
    args = module_args(stack, task_definition=family_revision, unless_service=None)
    result = run_module("ecs_run_task", args)

    assert (result.get("changed"), result.get("ran")) == (True, True), result
    assert [t["taskDefinitionArn"] for t in migration_tasks(ecs, stack)] == [stack.revisions[0]]


def test_service_already_on_the_revision_starts_nothing(
    run_module: RunModule, ecs: Any, stack: Stack
) -> None:
    result = run_module("ecs_run_task", module_args(stack, task_definition=stack.revisions[0]))

    assert (result["changed"], result["ran"], result["attempts"]) == (False, False, 0), result
    assert "already on" in result["reason"]
    assert migration_tasks(ecs, stack) == []


def test_check_mode_plans_the_task_without_starting_it(
    run_module: RunModule, ecs: Any, stack: Stack
) -> None:
    result = run_module("ecs_run_task", module_args(stack), check_mode=True)

    assert (result["changed"], result["ran"]) == (True, True), result
    assert migration_tasks(ecs, stack) == []


# The role's step (roles/ecs_service/tasks/migrate.yml) through ansible-playbook.
MIGRATE_PLAY = """
- name: The role's migration step alone
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  module_defaults:
    group/aws: &aws
      endpoint_url: "{{ lookup('ansible.builtin.env', 'AWS_ENDPOINT_URL') }}"
      region: us-east-1
    group/django_ecs.aws.aws: *aws
  tasks:
    - name: Migrate as the role does
      ansible.builtin.include_role:
        name: django_ecs.aws.ecs_service
        tasks_from: migrate
      vars:
        ecs_service_naming: {env: "%(env)s", service: djg, client: ander}
        ecs_service_tags: {Project: django-ecs}
        ecs_service_wait: false
        ecs_service_db_migration_user: app_migrate
        _ecs_service_network: {subnets: ["%(subnet)s"], security_groups: ["%(group)s", ""]}
        _ecs_service_task_definition:
          task_definition_arn: "%(arn)s"
          registered: %(registered)s
"""


def run_migrate_play(tmp_path: Path, stack: Stack, registered: bool) -> dict[str, Any]:
    playbook = tmp_path / f"migrate-{registered}.yml"
    playbook.write_text(
        MIGRATE_PLAY
        % {
            "env": stack.cluster.split("-", 1)[0],
            "subnet": stack.subnet,
            "group": stack.group,
            "arn": stack.revisions[1],
            "registered": str(registered).lower(),
        }
    )
    collections = Path(__file__).resolve().parents[2] / "collections"
    completed = subprocess.run(
        [Path(sys.executable).parent / "ansible-playbook", "-i", "localhost,", str(playbook)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={
            **os.environ,
            "ANSIBLE_COLLECTIONS_PATH": str(collections),
            "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json",
            "ANSIBLE_LOCALHOST_WARNING": "false",
        },
    )
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-2000:]
    output = completed.stdout
    return json.loads(output[output.index("{") : output.rindex("}") + 1])["stats"]["localhost"]


def test_rerun_after_a_failed_migration_runs_it_again_and_a_converged_service_none(
    tmp_path: Path, ecs: Any, stack: Stack
) -> None:
    # First run: a new revision was registered; its migration starts.
    run_migrate_play(tmp_path, stack, registered=True)
    [first] = migration_tasks(ecs, stack)
    # It runs as the migration user (the app user may not CREATE), not as the service's DB_USER.
    [container] = first["overrides"]["containerOverrides"]
    assert container["command"] == ["migrate"]
    assert container["environment"] == [{"name": "DB_USER", "value": "app_migrate"}]
    # The migration failed, so the role stopped before the service moved: it is still on
    # revision 1. The next run registers nothing new and must migrate again.
    run_migrate_play(tmp_path, stack, registered=False)
    assert len(migration_tasks(ecs, stack)) == 2
    # Once the service is on the revision, a re-run starts nothing and changes nothing.
    ecs.update_service(
        cluster=stack.cluster, service=stack.service, taskDefinition=stack.revisions[1]
    )
    stats = run_migrate_play(tmp_path, stack, registered=False)
    assert len(migration_tasks(ecs, stack)) == 2
    assert stats["changed"] == 0, stats


# IAM propagation (no AWS: ECS's answers are given).
class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def attempts_failing(times: int) -> Callable[[], dict[str, Any]]:
    calls = {"n": 0}

    def attempt() -> dict[str, Any]:
        calls["n"] += 1
        if calls["n"] <= times:
            raise ecs_run_task.RoleNotAssumableError("ECS was unable to assume the role")
        return {"taskArn": "arn:task"}

    return attempt


@pytest.mark.parametrize(
    ("code", "message", "expected"),
    [
        (
            "ClientException",
            "ECS was unable to assume the role 'arn:aws:iam::1:role/r' that was provided for this "
            "task. Please verify that the role being passed has the proper trust relationship",
            True,
        ),
        (
            "InvalidParameterException",
            "Unable to assume the service linked role. Please verify that the ECS service linked "
            "role exists.",
            True,
        ),
        ("InvalidParameterException", "family must match ^[a-zA-Z0-9\\-_]+$", False),
        ("AccessDeniedException", "unable to assume", False),
    ],
)
def test_only_a_role_ecs_cannot_assume_yet_is_a_propagation_error(
    code: str, message: str, expected: bool
) -> None:
    assert ecs_run_task.is_role_propagation_error(code, message) is expected


def test_first_call_that_succeeds_never_sleeps() -> None:
    clock = FakeClock()
    task, calls = ecs_run_task.run_until_role_propagates(
        attempts_failing(0), 120, clock.time, clock.sleep
    )
    assert (task["taskArn"], calls, clock.sleeps) == ("arn:task", 1, [])


def test_new_role_is_retried_until_ecs_can_assume_it() -> None:
    clock = FakeClock()
    _, calls = ecs_run_task.run_until_role_propagates(
        attempts_failing(3), 120, clock.time, clock.sleep
    )
    assert calls == 4 and len(clock.sleeps) == 3


def test_role_that_never_propagates_fails_after_the_timeout() -> None:
    clock = FakeClock()
    with pytest.raises(ecs_run_task.RoleNotAssumableError):
        ecs_run_task.run_until_role_propagates(attempts_failing(1000), 30, clock.time, clock.sleep)
    assert clock.now <= 30


def test_task_stopped_by_an_unassumable_role_never_ran() -> None:
    stopped = {
        "stoppedReason": "ECS was unable to assume the role 'arn:aws:iam::1:role/migrate'",
        "containers": [{"name": "app"}],
    }
    assert ecs_run_task.never_started_for_role(stopped) is True
    ran = {**stopped, "containers": [{"name": "app", "exitCode": 1}]}
    assert ecs_run_task.never_started_for_role(ran) is False
