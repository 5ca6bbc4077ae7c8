"""The read-only modules run in the controller's worker (plugins/plugin_utils/in_process.py): the
same result as the module process, the same failures, and only where the module would run here."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from ansible_collections.django_ecs.aws.plugins.modules import (
    converged_state,
    data_lookup,
    network_lookup,
)
from ansible_collections.django_ecs.aws.plugins.plugin_utils.in_process import (
    module_runs_here,
    run_in_process,
)

from tests.module_runner import run_collection_module


@pytest.fixture
def named_vpc(aws_env: dict[str, str]) -> Iterator[str]:
    """A VPC with a public and a private subnet, named for this test alone."""
    name = f"inproc-{uuid.uuid4().hex[:8]}"
    ec2 = boto3.client("ec2", endpoint_url=aws_env["AWS_ENDPOINT_URL"])
    vpc = ec2.create_vpc(
        CidrBlock="10.77.0.0/16",
        TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": name}]}],
    )["Vpc"]["VpcId"]
    for cidr, tier in (("10.77.0.0/24", "public"), ("10.77.1.0/24", "private")):
        ec2.create_subnet(
            VpcId=vpc,
            CidrBlock=cidr,
            TagSpecifications=[
                {"ResourceType": "subnet", "Tags": [{"Key": "Tier", "Value": tier}]}
            ],
        )
    yield name
    for subnet in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]:
        ec2.delete_subnet(SubnetId=subnet["SubnetId"])
    ec2.delete_vpc(VpcId=vpc)


def in_both(
    name: str, module: Any, args: dict[str, Any], env: dict[str, str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The module process's result (without its echo of the arguments) and the in-process one."""
    as_process = run_collection_module(name, args, env=env)
    as_process.pop("invocation", None)
    with pytest.MonkeyPatch.context() as patch:
        for variable, value in env.items():
            patch.setenv(variable, value)
        in_process = run_in_process(module.run, args, module.ARGUMENT_SPEC, check_mode=False)
    return as_process, in_process


def test_network_lookup_reads_the_same_in_process(aws_env: dict[str, str], named_vpc: str) -> None:
    as_process, in_process = in_both(
        "network_lookup", network_lookup, {"vpc_name": named_vpc}, aws_env
    )
    assert in_process["found"] is True
    assert [subnet["tier"] for subnet in in_process["public_subnets"]] == ["public"]
    assert in_process == as_process


def test_data_lookup_and_converged_state_read_the_same_in_process(aws_env: dict[str, str]) -> None:
    absent = f"inproc-{uuid.uuid4().hex[:8]}"
    data_args = {
        "instance_id": f"{absent}-db",
        "replica_id": "",
        "security_group_name": f"{absent}-db",
        "client_security_group_name": f"{absent}-db-clients",
        "app_user": "app_user",
        "migration_user": "migration_user",
    }
    as_process, in_process = in_both("data_lookup", data_lookup, data_args, aws_env)
    assert in_process["found"] is False
    assert in_process == as_process
    state_args = {"path": f"/{absent}-converged", "parts": ["rds", "db_init"]}
    as_process, in_process = in_both("converged_state", converged_state, state_args, aws_env)
    assert set(in_process["parts"]) == {"rds", "db_init"}
    assert in_process == as_process


def test_an_unknown_option_fails_as_the_module_does(aws_env: dict[str, str]) -> None:
    args = {"vpc_name": "x", "vpc_nmae": "typo"}
    as_process, in_process = in_both("network_lookup", network_lookup, args, aws_env)
    assert as_process["failed"] and in_process["failed"]
    assert "vpc_nmae" in in_process["msg"]
    assert in_process["msg"] in as_process["msg"]


def test_an_aws_error_fails_with_the_modules_message(aws_env: dict[str, str]) -> None:
    # A loopback port nothing listens on: the read fails, as the module's does, with its message.
    dead = {**aws_env, "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}
    args = {"vpc_name": "x", "endpoint_url": dead["AWS_ENDPOINT_URL"]}
    as_process, in_process = in_both("network_lookup", network_lookup, args, dead)
    assert in_process["failed"] is True
    assert in_process["msg"].startswith("Could not read the network layer: ")
    assert in_process["msg"] == as_process["msg"]


@pytest.mark.parametrize(
    ("transport", "become", "interpreter", "here"),
    [
        ("local", False, None, True),
        ("local", False, sys.executable, True),
        ("local", False, "/usr/bin/python3-elsewhere", False),
        ("local", True, None, False),
        ("ssh", False, None, False),
    ],
)
def test_it_runs_in_process_only_where_the_module_would_run_here(
    transport: str, become: bool, interpreter: str | None, here: bool
) -> None:
    assert module_runs_here(transport, become, interpreter) is here


def test_a_virtualenv_is_not_the_python_it_links_to() -> None:
    # The venv's python links to the system interpreter, which lacks the venv's boto3.
    linked_to = os.path.realpath(sys.executable)
    if linked_to == os.path.abspath(sys.executable):
        pytest.skip("this Python is not a link (not a virtualenv's)")
    assert module_runs_here("local", False, linked_to) is False
