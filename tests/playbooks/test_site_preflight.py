"""site.yml checks every layer's input before its first AWS call, whatever --tags selects.

The endpoint is a dead loopback port (see runner.py): a run that reached AWS would print
"Could not connect to the endpoint URL". site.yml's first play checks the input of all three
layers, so a bad value fails before any layer play starts: a bad app value no longer leaves a
converged network behind it, even under --tags network.
"""

from __future__ import annotations

import json
import os
import re
import uuid

import pytest

from tests.playbooks.runner import run_playbook

LAYER_PLAYS = ("PLAY [Network layer]", "PLAY [Data layer]", "PLAY [App layer]")
# The network layer's first AWS call, where a run with valid input stops on the dead endpoint.
FIRST_AWS_TASK = "TASK [Read the deployed network in one pass and find what drifted]"
NO_TAGS: tuple[str, ...] = ()


def assert_site_fails_before_any_layer(
    extra_vars: dict[str, object], tags: tuple[str, ...], *expected: str
) -> None:
    run = run_playbook("site.yml", "local", *tags, "-e", json.dumps(extra_vars))
    run.assert_failed_before_aws(*expected)
    for play in LAYER_PLAYS:
        assert play not in run.output, run.output


@pytest.mark.parametrize("tags", [NO_TAGS, ("--tags", "data"), ("--tags", "app")])
def test_bad_network_value_fails_before_any_layer(tags: tuple[str, ...]) -> None:
    assert_site_fails_before_any_layer(
        {"vpc_cidr": "10.10.0.0/23"}, tags, "vpc_cidr 10.10.0.0/23 cannot hold"
    )


@pytest.mark.parametrize("tags", [NO_TAGS, ("--tags", "network"), ("--tags", "app")])
def test_bad_data_value_fails_before_any_layer(tags: tuple[str, ...]) -> None:
    assert_site_fails_before_any_layer(
        {"rds_allocated_storage": 10}, tags, "rds_allocated_storage must be 20 to 65536"
    )


@pytest.mark.parametrize("tags", [NO_TAGS, ("--tags", "network"), ("--tags", "data")])
def test_bad_app_value_fails_before_any_layer(tags: tuple[str, ...]) -> None:
    assert_site_fails_before_any_layer(
        {"app_task_cpu": 300}, tags, "app_task_cpu=300 / app_task_memory=512 is not a valid"
    )


@pytest.mark.parametrize(
    ("extra_vars", "message"),
    [
        ({"log_retention_days": 8}, "log_retention_days (observability_log_retention_days)"),
        ({"alert_emails": ["alerts-dev"]}, "alert_emails (observability_alert_emails) must be"),
        ({"image_tag": "not valid"}, "image_tag must be a valid image tag"),
    ],
)
def test_other_bad_app_values_fail_under_tags_network(
    extra_vars: dict[str, object], message: str
) -> None:
    assert_site_fails_before_any_layer(extra_vars, ("--tags", "network"), message)


def test_valid_input_is_checked_once_then_reaches_the_network_layer() -> None:
    """Control: the checks pass, run once (the layer plays skip theirs), and the network
    layer's first AWS call is the first thing to fail on the dead endpoint."""
    run = run_playbook("site.yml", "local")
    assert run.returncode != 0
    assert f"{FIRST_AWS_TASK} ***" in run.output, run.output
    assert "Could not connect to the endpoint URL" in run.output, run.output
    for check in (
        "TASK [Check network_nat_mode]",
        "TASK [django_ecs.aws.rds : Check the RDS input]",
        "TASK [django_ecs.aws.ecs_service : Check the service input]",
    ):
        # Skipped tasks print their header too: count the ones that ran.
        assert len(re.findall(rf"{re.escape(check)} \*+\nok: ", run.output)) == 1, run.output


def test_network_playbook_alone_still_checks_its_input() -> None:
    run = run_playbook("playbooks/network.yml", "local", "-e", "vpc_cidr=10.10.0.0/23")
    run.assert_failed_before_aws("vpc_cidr 10.10.0.0/23 cannot hold")
    assert FIRST_AWS_TASK not in run.output, run.output


@pytest.mark.skipif(
    not os.environ.get("AWS_ENDPOINT_URL", "").startswith("http://127.0.0.1"),
    reason="needs the emulator (scripts/test starts it and exports AWS_ENDPOINT_URL)",
)
def test_the_network_playbook_alone_checks_each_role_once() -> None:
    """Run alone, the layer playbook's preflight checks the vpc role's input; the role itself,
    run next (nothing exists yet, so the fast path does not skip it), does not check it again."""
    env_name = f"once{uuid.uuid4().hex[:6]}"
    run = run_playbook(
        "playbooks/network.yml",
        "local",
        "--check",
        "-e",
        json.dumps({"aws_endpoint_required": True, "env_name": env_name}),
        endpoint=os.environ["AWS_ENDPOINT_URL"],
    )
    assert run.returncode == 0, run.output[-3000:]
    assert "TASK [django_ecs.aws.vpc : Create the VPC with DNS support and hostnames]" in run.output
    check = "TASK [django_ecs.aws.vpc : Check the VPC input (AZs, subnets, flow logs)]"
    assert len(re.findall(rf"{re.escape(check)} \*+\nok: ", run.output)) == 1, run.output
