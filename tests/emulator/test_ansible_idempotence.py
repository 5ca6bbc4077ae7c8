"""Modules whose re-runs needed the emulator's corrections converge: the second run is a no-op."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow(seconds=35)

Aws = Callable[[str], Any]
PLAYBOOK = Path(__file__).with_name("converge_stack.yml")


def _run(playbook: Path, env: dict[str, str], variables: dict[str, str]) -> dict[str, bool]:
    """Run the playbook; return each task's `changed`."""
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            str(playbook),
            "-i",
            "localhost,",
            "-e",
            json.dumps(variables),
        ],
        cwd=playbook.parent,  # away from the repository's ansible.cfg
        env={**os.environ, **env, "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    report = json.loads(result.stdout)
    tasks = report["plays"][0]["tasks"]
    return {task["task"]["name"]: task["hosts"]["localhost"]["changed"] for task in tasks}


def _prerequisites(aws: Aws, suffix: str) -> dict[str, str]:
    """What the playbook's tasks need, made with boto3 (faster than more Ansible tasks)."""
    ec2 = aws("ec2")
    vpc_id = ec2.create_vpc(CidrBlock="10.96.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc_id, CidrBlock=cidr, AvailabilityZone=zone)["Subnet"]
        for cidr, zone in (("10.96.0.0/24", "us-east-1a"), ("10.96.1.0/24", "us-east-1b"))
    ]
    group = ec2.create_security_group(GroupName=f"sg-{suffix}", Description="app", VpcId=vpc_id)
    aws("ecs").register_task_definition(
        family=f"web-{suffix}",
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
        containerDefinitions=[
            {"name": "web", "image": "nginx", "portMappings": [{"containerPort": 8000}]}
        ],
    )
    target_group = aws("elbv2").create_target_group(
        Name=f"tg-{suffix}", Protocol="HTTP", Port=8000, VpcId=vpc_id, TargetType="ip"
    )
    return {
        "suffix": suffix,
        "public_subnet": subnets[0]["SubnetId"],
        "private_subnet": subnets[1]["SubnetId"],
        "security_group": group["GroupId"],
        "target_group_arn": target_group["TargetGroups"][0]["TargetGroupArn"],
    }


def test_second_run_reports_no_change(
    aws: Aws, emulator_env: dict[str, str], tmp_path: Path, unique: str
) -> None:
    playbook = tmp_path / PLAYBOOK.name
    shutil.copy(PLAYBOOK, playbook)
    variables = _prerequisites(aws, unique)
    first = _run(playbook, emulator_env, variables)
    second = _run(playbook, emulator_env, variables)
    assert all(first.values()), [name for name, changed in first.items() if not changed]
    assert second == dict.fromkeys(first, False)
