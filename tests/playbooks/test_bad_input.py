"""Bad input fails before any AWS call, naming the variable and the expected form.

The endpoint is a dead loopback port: had any task reached AWS, the output would say
"Could not connect to the endpoint URL".
"""

from __future__ import annotations

import pytest

from tests.playbooks.runner import run_playbook


def assert_fails_before_aws(
    extra_vars: list[str], *expected: str, inventory: str = "local"
) -> None:
    args = [arg for pair in (("-e", value) for value in extra_vars) for arg in pair]
    run = run_playbook("site.yml", inventory, "--tags", "network", *args)
    run.assert_failed_before_aws(*expected)


@pytest.mark.parametrize(
    "cidr", ["10.10.0.0/33", "10.10.0.300/16", "banana", "10.10.0.1/16", "10.0.0.0/8"]
)
def test_invalid_vpc_cidr_is_rejected(cidr: str) -> None:
    assert_fails_before_aws([f"vpc_cidr={cidr}"], "vpc_cidr")


def test_prefix_too_small_for_the_subnets() -> None:
    assert_fails_before_aws(["vpc_cidr=10.10.0.0/23"], "vpc_cidr 10.10.0.0/23 cannot hold")


def test_az_outside_the_region() -> None:
    assert_fails_before_aws(
        ['{"vpc_azs": ["us-east-1a", "eu-west-1b"]}'],
        "vpc_azs must be a non-empty list of distinct AZs of region us-east-1",
    )


def test_duplicate_azs() -> None:
    assert_fails_before_aws(['{"vpc_azs": ["us-east-1a", "us-east-1a"]}'], "distinct AZs")


def test_unknown_nat_mode() -> None:
    assert_fails_before_aws(
        ["network_nat_mode=carrier-pigeon"],
        "network_nat_mode must be one of instance, gateway, none",
    )


def test_more_nat_gateways_than_azs() -> None:
    assert_fails_before_aws(
        ["network_nat_mode=gateway", "nat_gateway_count=3"],
        "nat_gateway_count must be between 1 and the number of AZs",
    )


def test_missing_environment_name() -> None:
    assert_fails_before_aws(["env_name="], "env_name must be 2-12 lower-case letters")


def test_arm64_needs_a_graviton_instance_type() -> None:
    assert_fails_before_aws(
        ["nat_instance_architecture=arm64", "nat_instance_type=t3.micro"], "Graviton type"
    )


def test_local_inventory_refuses_a_non_loopback_endpoint() -> None:
    run = run_playbook(
        "site.yml", "local", "--tags", "network", endpoint="https://ec2.us-east-1.amazonaws.com"
    )
    assert run.returncode != 0
    assert "AWS_ENDPOINT_URL must be a loopback URL" in run.output


def test_flow_logs_retention_is_checked_where_flow_logs_are_on() -> None:
    # prod has flow logs on: its network layer's own check names the setting it derives from.
    assert_fails_before_aws(
        ["log_retention_days=8"],
        "log_retention_days (vpc_flow_logs_retention_days) must be one of CloudWatch Logs'",
        "got '8'",
        inventory="prod",
    )


def test_bad_flow_logs_settings_are_named() -> None:
    assert_fails_before_aws(
        ["vpc_flow_logs=true", "vpc_flow_logs_traffic_type=SOME"],
        "vpc_flow_logs_traffic_type must be one of: ACCEPT, REJECT, ALL, got: SOME",
    )
