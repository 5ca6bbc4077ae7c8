"""The service's task definition as the role registers it: who runs it and what it may write.

The root file system is read-only. /tmp is an empty bind volume, which Fargate hands over owned
by root with mode 0755 unless the image declares the path a VOLUME (then the image's /tmp, its
owner and mode, is copied in: ECS "Use bind mounts"; containers-roadmap#938). So the image's
USER, its VOLUME /tmp owned by that user, and the task definition's ``user`` must agree. With ECS
Exec on, the SSM agent needs writable paths of its own (containers-roadmap#1359,
amazon-ecs-exec-checker#71).
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.playbooks.runner import REPO_ROOT, run_playbook

PLAYBOOK = "tests/playbooks/task_definition.yml"
DOCKERFILE = REPO_ROOT / "app" / "Dockerfile"
RECAP = re.compile(r"localhost\s+:\s+ok=\d+\s+changed=(\d+)\s+unreachable=0\s+failed=0")
SSM_AGENT_PATHS = {"/managed-agents", "/var/lib/amazon/ssm", "/var/log/amazon/ssm"}


def final_stage(dockerfile: Path) -> str:
    return re.split(r"^FROM ", dockerfile.read_text(), flags=re.MULTILINE)[-1]


def register(aws_env: dict[str, str], env_name: str, execute_command: bool) -> int:
    """Run the role's task definition step; return the number of changed tasks."""
    run = run_playbook(
        PLAYBOOK,
        "local",
        "-e",
        f"env_name={env_name}",
        "-e",
        f"app_enable_execute_command={str(execute_command).lower()}",
        endpoint=aws_env["AWS_ENDPOINT_URL"],
    )
    recap = RECAP.search(run.output)
    assert run.returncode == 0 and recap, run.output[-4000:]
    return int(recap.group(1))


def container(ecs: Any, env_name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    task = ecs.describe_task_definition(taskDefinition=f"{env_name}-djg-app-ander")
    definition = task["taskDefinition"]
    return definition, definition["containerDefinitions"][0]


def writable_paths(definition: dict[str, Any], app: dict[str, Any]) -> set[str]:
    volumes = {volume["name"] for volume in definition["volumes"]}
    mounts = app["mountPoints"]
    assert {mount["sourceVolume"] for mount in mounts} == volumes
    assert all(mount["readOnly"] is False for mount in mounts)
    return {mount["containerPath"] for mount in mounts}


@pytest.fixture
def env_name() -> str:
    return "t" + uuid.uuid4().hex[:8]


def test_the_task_runs_as_the_images_user_who_owns_its_tmp_volume(
    aws_env: dict[str, str], ecs: Any, env_name: str
) -> None:
    final = final_stage(DOCKERFILE)
    users = re.findall(r"^USER\s+(\S+)\s*$", final, flags=re.MULTILINE)
    volumes = [
        v
        for line in re.findall(r"^VOLUME\s+(.+)$", final, flags=re.MULTILINE)
        for v in line.split()
    ]
    tmp_owner = re.search(r"chown (\S+) /tmp", final)
    assert len(users) == 1 and re.fullmatch(r"[1-9]\d*:[1-9]\d*", users[0]), users
    assert volumes == ["/tmp"]
    assert tmp_owner and tmp_owner.group(1) == users[0]
    # The VOLUME comes after the chown: a change made after VOLUME is discarded by the build.
    assert final.index("chown") < final.index("VOLUME /tmp")

    register(aws_env, env_name, execute_command=False)
    definition, app = container(ecs, env_name)

    assert app["user"] == users[0]
    assert app["readonlyRootFilesystem"] is True
    assert "/tmp" in writable_paths(definition, app)


def test_exec_on_adds_the_ssm_agents_writable_volumes_idempotently(
    aws_env: dict[str, str], ecs: Any, env_name: str
) -> None:
    first = register(aws_env, env_name, execute_command=True)
    second = register(aws_env, env_name, execute_command=True)
    definition, app = container(ecs, env_name)

    assert (first, second) == (1, 0)
    assert definition["revision"] == 1
    assert app["readonlyRootFilesystem"] is True
    assert writable_paths(definition, app) == {"/tmp", *SSM_AGENT_PATHS}


def test_exec_off_has_only_tmp_writable_and_switching_it_is_one_revision(
    aws_env: dict[str, str], ecs: Any, env_name: str
) -> None:
    register(aws_env, env_name, execute_command=False)
    definition, app = container(ecs, env_name)
    assert writable_paths(definition, app) == {"/tmp"}

    assert register(aws_env, env_name, execute_command=True) == 1
    definition, app = container(ecs, env_name)
    assert definition["revision"] == 2
    assert writable_paths(definition, app) == {"/tmp", *SSM_AGENT_PATHS}
