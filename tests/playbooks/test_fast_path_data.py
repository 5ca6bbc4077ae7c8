"""On the emulator: the data layer's parts (rds, rds_available, db_init) are skipped on a converged
stack (their records match), publish the same facts as a full run (data.json is unchanged), and
run again, naming the resource and field, when something of theirs changed outside Ansible.

One environment: network.yml and data.yml converge it, then data.yml runs three times (no-op,
repair, no-op). Concurrent edits of roles/, plugins/ or playbooks/ change the code fingerprint and
make a part run in full: run this test on a quiet tree.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.playbooks.fast_path import Stack, assert_all_skipped, client

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not os.environ.get("AWS_ENDPOINT_URL", "").startswith("http://127.0.0.1"),
        reason="needs the emulator (scripts/test starts it and exports AWS_ENDPOINT_URL)",
    ),
]
PARTS = ["rds", "rds_available", "db_init"]


def data_layer(stack: Stack) -> tuple[dict[str, dict[str, Any]], int]:
    return stack.compare("playbooks/data.yml", PARTS)


def user_parameter(rds: Any, group: str, name: str) -> str | None:
    parameters = rds.describe_db_parameters(DBParameterGroupName=group, Source="user")
    return {p["ParameterName"]: p.get("ParameterValue") for p in parameters["Parameters"]}.get(name)


def test_converged_data_parts_are_skipped_and_drift_is_named_and_repaired(
    tmp_path: Path,
) -> None:
    stack = Stack(tmp_path, "fd")
    stack.run("playbooks/network.yml")
    stack.run("playbooks/data.yml")
    first_outputs = stack.outputs_of("data")

    compared, changed = data_layer(stack)
    assert_all_skipped(compared, changed)
    # The facts republished from the records (network, db group) make the same outputs.
    assert stack.outputs_of("data") == first_outputs

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
    assert stack.outputs_of("data") == first_outputs
