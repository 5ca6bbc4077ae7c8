"""The modules the deviations used to break now converge: a second run changes nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

Aws = Callable[[str], Any]

PLAYBOOK = """
- name: Modules whose re-runs depended on the emulator's corrections
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  module_defaults:
    group/aws:
      endpoint_url: "{{ lookup('ansible.builtin.env', 'AWS_ENDPOINT_URL') }}"
      region: us-east-1
      access_key: testing
      secret_key: testing
  tasks:
    - name: Parameter group enforcing TLS
      amazon.aws.rds_instance_param_group:
        name: "tls-{{ suffix }}"
        engine: postgres16
        description: TLS only
        params:
          rds.force_ssl: 1
          log_min_duration_statement: 500
        state: present
    - name: NAT gateway with its own EIP
      amazon.aws.ec2_vpc_nat_gateway:
        subnet_id: "{{ subnet_id }}"
        if_exist_do_not_create: true
        wait: false
        tags:
          Name: "nat-{{ suffix }}"
    - name: ECS cluster
      community.aws.ecs_cluster:
        name: "cluster-{{ suffix }}"
        state: present
"""


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
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    report = json.loads(result.stdout)
    tasks = report["plays"][0]["tasks"]
    return {task["task"]["name"]: task["hosts"]["localhost"]["changed"] for task in tasks}


def test_second_run_reports_no_change(
    aws: Aws, emulator_env: dict[str, str], tmp_path: Path, unique: str
) -> None:
    ec2 = aws("ec2")
    vpc_id = ec2.create_vpc(CidrBlock="10.93.0.0/16")["Vpc"]["VpcId"]
    subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.93.0.0/24")["Subnet"]["SubnetId"]
    playbook = tmp_path / "converge.yml"
    playbook.write_text(PLAYBOOK)
    variables = {"suffix": unique, "subnet_id": subnet_id}
    first = _run(playbook, emulator_env, variables)
    second = _run(playbook, emulator_env, variables)
    assert first["NAT gateway with its own EIP"] is True
    assert first["ECS cluster"] is True
    assert second == dict.fromkeys(first, False)
