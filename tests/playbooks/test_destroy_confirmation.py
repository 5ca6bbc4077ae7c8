"""Every door that deletes asks for -e confirm_destroy=<env_name> before any AWS call.

The doors: the four destroy playbooks, network_prune_unused_nat=true, and each role's
<role>_state=absent reached through site.yml or a layer playbook. The endpoint is a dead
loopback port (see runner.py), so a run that got past the check would print "Could not connect
to the endpoint URL". The last test, on the emulator, pins that the ALB role lifts a load
balancer's deletion protection only when the removal is confirmed.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import boto3
import pytest

from tests.playbooks.runner import run_playbook

pytestmark = pytest.mark.slow(seconds=120)

REFUSAL = "Refusing to delete"
DESTROY_PLAYBOOKS = [
    "playbooks/destroy.yml",
    "playbooks/destroy_app.yml",
    "playbooks/destroy_data.yml",
    "playbooks/destroy_network.yml",
]


@pytest.mark.parametrize("playbook", DESTROY_PLAYBOOKS)
def test_destroy_playbook_refuses_without_confirmation(playbook: str) -> None:
    run = run_playbook(playbook, "prod")
    run.assert_failed_before_aws(REFUSAL, "of environment 'prod'", "-e confirm_destroy=prod")


@pytest.mark.parametrize("playbook", DESTROY_PLAYBOOKS)
def test_destroy_playbook_refuses_another_environments_name(playbook: str) -> None:
    run = run_playbook(playbook, "prod", "-e", "confirm_destroy=dev")
    run.assert_failed_before_aws(REFUSAL, "got 'dev'")


@pytest.mark.parametrize("tags", ["data", "network", "app,data"])
def test_tags_do_not_skip_the_confirmation(tags: str) -> None:
    run = run_playbook("playbooks/destroy.yml", "prod", "--tags", tags)
    run.assert_failed_before_aws(REFUSAL)


@pytest.mark.parametrize("playbook", DESTROY_PLAYBOOKS)
def test_confirmed_destroy_gets_past_the_check(playbook: str) -> None:
    """Control: confirmed, the run goes on to its first AWS call (on the dead endpoint)."""
    run = run_playbook(playbook, "prod", "-e", "confirm_destroy=prod")
    assert run.returncode != 0
    assert REFUSAL not in run.output, run.output
    # The first AWS call (amazon.aws's "Failed to describe ...", or our lookups' "Could not read
    # ...") meets the dead endpoint.
    assert any(
        message in run.output
        for message in ("Failed to describe", "Could not connect to the endpoint URL")
    ), run.output


@pytest.mark.parametrize(
    ("playbook", "inventory", "deleted"),
    [
        ("site.yml", "dev", "the NAT gateways"),
        ("playbooks/network.yml", "dev", "the NAT gateways"),
        ("site.yml", "hml", "the NAT instance"),
        ("playbooks/network.yml", "hml", "the NAT instance"),
    ],
)
def test_pruning_the_unused_nat_asks_first(playbook: str, inventory: str, deleted: str) -> None:
    run = run_playbook(playbook, inventory, "-e", "network_prune_unused_nat=true")
    run.assert_failed_before_aws(REFUSAL, deleted, f"-e confirm_destroy={inventory}")


@pytest.mark.parametrize(
    ("variable", "deleted"),
    [
        ("alb_state", "load balancer local-djg-alb-ander"),
        ("ecs_service_state", "service local-djg-service-ander"),
        ("ecs_cluster_state", "cluster local-djg-cluster-ander"),
        ("ecs_autoscaling_state", "scaling policies"),
        ("observability_state", "the log groups"),
        ("nat_instance_state", "the NAT instance"),
    ],
)
def test_a_roles_absent_state_asks_first_whatever_the_tags(variable: str, deleted: str) -> None:
    """-e <role>_state=absent reaches a role's removal through site.yml: its preflight (run by
    site.yml's first play, whatever --tags selects) asks for the confirmation."""
    run = run_playbook("site.yml", "local", "--tags", "data", "-e", f"{variable}=absent")
    run.assert_failed_before_aws(REFUSAL, deleted, f"({variable}=absent")


@pytest.mark.parametrize(
    ("playbook", "variable"),
    [
        ("playbooks/app.yml", "alb_state"),
        ("playbooks/app.yml", "ecs_service_state"),
        ("playbooks/network.yml", "nat_gateway_state"),
    ],
)
def test_a_layer_playbook_alone_asks_first(playbook: str, variable: str) -> None:
    run = run_playbook(playbook, "local", "-e", f"{variable}=absent")
    run.assert_failed_before_aws(REFUSAL, "-e confirm_destroy=local")


def test_alb_lifts_deletion_protection_only_when_the_removal_is_confirmed(
    aws_env: dict[str, str],
) -> None:
    """On the emulator: a protected load balancer is kept when lifting is switched off, and
    deleted (its protection lifted) by a confirmed destroy_app.yml."""
    env_name = "a" + uuid.uuid4().hex[:8]
    name = f"{env_name}-djg-alb-ander"
    elbv2 = protected_load_balancer(aws_env, name)

    def destroy_app(**extra_vars: Any) -> Any:
        return run_playbook(
            "playbooks/destroy_app.yml",
            "local",
            "-e",
            json.dumps({"env_name": env_name, "confirm_destroy": env_name, **extra_vars}),
            endpoint=aws_env["AWS_ENDPOINT_URL"],
        )

    kept = destroy_app(alb_lift_deletion_protection=False)
    assert kept.returncode != 0, kept.output
    assert f"Load balancer {name} has deletion protection" in kept.output, kept.output
    assert "TASK [django_ecs.aws.alb : Lift the deletion protection]" not in kept.output
    assert [
        lb["LoadBalancerName"]
        for lb in elbv2.describe_load_balancers(Names=[name])["LoadBalancers"]
    ] == [name]

    removed = destroy_app()
    assert removed.returncode == 0, removed.output[-4000:]
    left = elbv2.describe_load_balancers()["LoadBalancers"]
    assert name not in [lb["LoadBalancerName"] for lb in left]


def protected_load_balancer(aws_env: dict[str, str], name: str) -> Any:
    """A load balancer with deletion protection in a VPC of its own; returns the elbv2 client."""

    def client(service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=aws_env["AWS_ENDPOINT_URL"],
            region_name=aws_env["AWS_DEFAULT_REGION"],
        )

    ec2, elbv2 = client("ec2"), client("elbv2")
    vpc_id = ec2.create_vpc(CidrBlock="10.99.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.99.{i}.0/24", AvailabilityZone=az)["Subnet"][
            "SubnetId"
        ]
        for i, az in enumerate(["us-east-1a", "us-east-1b"])
    ]
    arn = elbv2.create_load_balancer(Name=name, Subnets=subnets)["LoadBalancers"][0][
        "LoadBalancerArn"
    ]
    elbv2.modify_load_balancer_attributes(
        LoadBalancerArn=arn, Attributes=[{"Key": "deletion_protection.enabled", "Value": "true"}]
    )
    return elbv2
