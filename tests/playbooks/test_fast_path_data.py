"""On the emulator: the data layer's parts (rds, rds_available, db_init) are skipped on a converged
stack (their records match), publish the same facts as a full run (data.json is unchanged), and
run again, naming the resource and field, when something of theirs changed outside Ansible.

One environment: network.yml and data.yml converge it, then data.yml runs three times (no-op,
repair, no-op). Concurrent edits of roles/, plugins/ or playbooks/ change the code fingerprint and
make a part run in full: run this test on a quiet tree.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.playbooks.runner import PlaybookRun, run_playbook

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not os.environ.get("AWS_ENDPOINT_URL", "").startswith("http://127.0.0.1"),
        reason="needs the emulator (scripts/test starts it and exports AWS_ENDPOINT_URL)",
    ),
]
# The compare task of each part, by the fact it sets.
PARTS = {
    "rds": "_rds_converged",
    "rds_available": "_rds_available_converged",
    "db_init": "_db_init_converged",
}


def client(service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=os.environ["AWS_ENDPOINT_URL"],
        region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
    )


class Stack:
    def __init__(self, tmp_path: Path) -> None:
        self.env = "fd" + uuid.uuid4().hex[:6]
        self.outputs = tmp_path / "outputs"

    def name(self, part: str) -> str:
        return f"{self.env}-djg-{part}-ander"

    def run(self, playbook: str, json_output: bool = False) -> PlaybookRun:
        run = run_playbook(
            playbook,
            "local",
            "-e",
            json.dumps({"aws_endpoint_required": True, "env_name": self.env}),
            endpoint=os.environ["AWS_ENDPOINT_URL"],
            json_output=json_output,
            env={"DJANGO_ECS_OUTPUTS_DIR": str(self.outputs)},
        )
        assert run.returncode == 0, run.output[-4000:]
        return run

    def data_json(self) -> dict[str, Any]:
        return json.loads((self.outputs / "data.json").read_text())


def data_layer(stack: Stack) -> tuple[dict[str, dict[str, Any]], int]:
    """The compare result of each part and the run's changed count."""
    result = stack.run("playbooks/data.yml", json_output=True).json_result()
    compared: dict[str, dict[str, Any]] = {}
    for play in result["plays"]:
        for task in play["tasks"]:
            facts = task["hosts"].get("localhost", {}).get("ansible_facts", {})
            for part, fact in PARTS.items():
                if fact in facts:
                    compared[part] = facts[fact]
    assert set(compared) == set(PARTS), sorted(compared)
    return compared, result["stats"]["localhost"]["changed"]


def assert_all_skipped(compared: dict[str, dict[str, Any]], changed: int) -> None:
    for part, result in compared.items():
        assert result["in_sync"], (part, result["reasons"])
        assert result["reasons"] == [], (part, result["reasons"])
    assert changed == 0


def user_parameter(rds: Any, group: str, name: str) -> str | None:
    parameters = rds.describe_db_parameters(DBParameterGroupName=group, Source="user")
    return {p["ParameterName"]: p.get("ParameterValue") for p in parameters["Parameters"]}.get(name)


def test_converged_data_parts_are_skipped_and_drift_is_named_and_repaired(
    tmp_path: Path,
) -> None:
    stack = Stack(tmp_path)
    stack.run("playbooks/network.yml")
    stack.run("playbooks/data.yml")
    first_outputs = stack.data_json()

    compared, changed = data_layer(stack)
    assert_all_skipped(compared, changed)
    # The facts republished from the records (network, db group) make the same outputs.
    assert stack.data_json() == first_outputs

    rds, functions = client("rds"), client("lambda")
    instance, parameter_group = stack.name("db"), stack.name("postgres16")
    function = stack.name("db-init")
    retention = rds.describe_db_instances(DBInstanceIdentifier=instance)["DBInstances"][0][
        "BackupRetentionPeriod"
    ]
    timeout = functions.get_function_configuration(FunctionName=function)["Timeout"]
    rds.modify_db_parameter_group(
        DBParameterGroupName=parameter_group,
        Parameters=[
            {"ParameterName": "log_statement", "ParameterValue": "all", "ApplyMethod": "immediate"}
        ],
    )
    rds.modify_db_instance(
        DBInstanceIdentifier=instance, BackupRetentionPeriod=retention + 2, ApplyImmediately=True
    )
    functions.update_function_configuration(FunctionName=function, Timeout=timeout + 30)

    compared, _ = data_layer(stack)
    drifted = {
        "rds": (f"db_parameter_group:{parameter_group}", "Parameters"),
        "rds_available": (f"rds_instance:{instance}", "BackupRetentionPeriod"),
        "db_init": (f"lambda_function:{function}", "Timeout"),
    }
    for part, (resource, field) in drifted.items():
        assert not compared[part]["in_sync"], part
        reason = f"{resource} changed outside this role: {field}"
        assert reason in compared[part]["reasons"], (part, compared[part]["reasons"])

    # Repaired: the parts ran in full and put their values back.
    assert user_parameter(rds, parameter_group, "log_statement") == "ddl"
    repaired = rds.describe_db_instances(DBInstanceIdentifier=instance)["DBInstances"][0]
    assert repaired["BackupRetentionPeriod"] == retention
    assert functions.get_function_configuration(FunctionName=function)["Timeout"] == timeout

    compared, changed = data_layer(stack)
    assert_all_skipped(compared, changed)
    assert stack.data_json() == first_outputs
