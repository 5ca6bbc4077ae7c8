"""`scripts/emulator status` lists the running ECS tasks; `stop` leaves no task process behind.

A task's containers are process groups of their own (StopTask signals the group), so stopping
the moto server alone would orphan them: the launcher stops them from their on-disk records.
"""

from __future__ import annotations

import json
import os
import signal
import uuid
from pathlib import Path

import pytest
from ecs_support import (
    Aws,
    client_factory,
    network,
    push_app_image,
    start_emulator,
    wait_for,
    wait_status,
)
from emulator_cli import run_emulator


def _group_members(pgid: int) -> list[int]:
    """Live processes whose process group is `pgid`."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


@pytest.fixture
def emulator(tmp_path: Path):  # type: ignore[no-untyped-def]
    state_dir = tmp_path / "emulator"
    aws = client_factory(start_emulator(state_dir))
    yield state_dir, aws
    run_emulator("stop", state_dir)


def _run_long_task(state_dir: Path, aws: Aws) -> tuple[str, int]:
    """A running task whose container is a shell with a child; (task id, group leader pid)."""
    repository = f"cli-{uuid.uuid4().hex[:8]}"
    aws("ecr").create_repository(repositoryName=repository)
    image = push_app_image(aws("ecr"), repository)
    aws("logs").create_log_group(logGroupName="/ecs/cli")
    container = {
        "name": "app",
        "image": image,
        # A shell with a child of its own: the child must die with it.
        "entryPoint": ["/bin/sh", "-c", "sleep 300 & python app.py serve 8080"],
        "portMappings": [{"containerPort": 8080}],
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {"awslogs-group": "/ecs/cli", "awslogs-stream-prefix": "cli"},
        },
    }
    definition = aws("ecs").register_task_definition(
        family="cli",
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
        containerDefinitions=[container],
    )["taskDefinition"]["taskDefinitionArn"]
    aws("ecs").create_cluster(clusterName="cli")
    arn = aws("ecs").run_task(
        cluster="cli",
        taskDefinition=definition,
        launchType="FARGATE",
        networkConfiguration=network(aws),
    )["tasks"][0]["taskArn"]
    wait_status(aws, "cli", arn, "RUNNING")
    task_id = arn.rsplit("/", 1)[-1]
    record = json.loads((state_dir / "ecs" / "tasks" / task_id / "record.json").read_text())
    leader = int(record["containers"][0]["pid"])
    wait_for(lambda: len(_group_members(leader)) >= 2)  # the shell and its sleep
    return task_id, leader


def test_status_lists_tasks_and_stop_kills_every_task_process(emulator) -> None:  # type: ignore[no-untyped-def]
    state_dir, aws = emulator
    task_id, leader = _run_long_task(state_dir, aws)

    status = run_emulator("status", state_dir)
    assert status.returncode == 0, status.stderr
    line = next(line for line in status.stdout.splitlines() if task_id in line)
    assert line.split()[:4] == ["cli", task_id, "cli:1", "RUNNING"]
    assert "8080->127.0.0.1:" in line
    assert f"stream=/ecs/cli:cli/app/{task_id}" in status.stdout

    assert run_emulator("stop", state_dir).returncode == 0
    assert _group_members(leader) == []
    assert not (state_dir / "ecs").exists()  # the task roots went with the server's memory


def test_a_terminated_server_takes_its_task_processes_along(emulator) -> None:  # type: ignore[no-untyped-def]
    state_dir, aws = emulator
    _, leader = _run_long_task(state_dir, aws)
    server = json.loads((state_dir / "state.json").read_text())["moto_pid"]
    os.kill(server, signal.SIGTERM)
    wait_for(lambda: not Path(f"/proc/{server}").exists() or _zombie(server), timeout=10)
    assert _group_members(leader) == []


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True
