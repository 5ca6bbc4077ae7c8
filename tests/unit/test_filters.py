"""Unit tests of the pure filter plugins: naming, tags, CIDR carving, info summaries."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

import botocore.session
import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.django_ecs.aws.plugins.filter.cidr import carve_subnets
from ansible_collections.django_ecs.aws.plugins.filter.ecs import ecs_service_drift
from ansible_collections.django_ecs.aws.plugins.filter.naming import resource_name
from ansible_collections.django_ecs.aws.plugins.filter.network import (
    route_table_summary,
    subnet_summary,
)
from ansible_collections.django_ecs.aws.plugins.filter.tags import merge_tags
from ansible_collections.django_ecs.aws.plugins.module_utils.log_retention import RETENTION_DAYS
from ansible_collections.django_ecs.aws.plugins.test.log_retention import TestModule

DEV_NAMING = {"env": "dev", "service": "djg", "client": "ander"}
GLOBAL_TAGS = {"Project": "django-ecs", "Owner": "platform-team", "ManagedBy": "ansible"}


def test_resource_name_follows_env_service_resource_client() -> None:
    assert resource_name("alb", DEV_NAMING) == "dev-djg-alb-ander"


def test_resource_name_lowercases_parts() -> None:
    assert resource_name("ALB", {"env": "Prod", "service": "Django", "client": "AND"}) == (
        "prod-django-alb-and"
    )


@pytest.mark.parametrize("bad", ["", "with space", "under_score", "-lead", "trail-", "x;y"])
def test_resource_name_rejects_invalid_parts(bad: str) -> None:
    with pytest.raises(AnsibleFilterError, match="lower-case letters"):
        resource_name(bad, DEV_NAMING)


def test_resource_name_names_missing_naming_keys() -> None:
    with pytest.raises(AnsibleFilterError, match="missing service, client"):
        resource_name("alb", {"env": "dev"})


def test_merge_tags_sets_identity_and_overrides_win() -> None:
    tags = merge_tags(GLOBAL_TAGS, "prod", "confidential", {"Confidentiality": "secret"})
    assert tags == {**GLOBAL_TAGS, "Environment": "prod", "Confidentiality": "secret"}


def test_merge_tags_overrides_can_replace_global_values() -> None:
    tags = merge_tags(GLOBAL_TAGS, "dev", "internal", {"Owner": "app-team", "CostCenter": 42})
    assert tags["Owner"] == "app-team"
    assert tags["CostCenter"] == "42"
    assert tags["ManagedBy"] == "ansible"


def test_merge_tags_requires_every_mandatory_tag() -> None:
    with pytest.raises(AnsibleFilterError, match="Owner"):
        merge_tags({"Project": "p", "ManagedBy": "ansible"}, "dev", "internal")


def test_merge_tags_rejects_reserved_aws_prefix() -> None:
    with pytest.raises(AnsibleFilterError, match="aws:"):
        merge_tags(GLOBAL_TAGS, "dev", "internal", {"aws:cloudformation": "x"})


def test_carve_subnets_gives_one_public_26_and_one_private_22_per_az() -> None:
    carved = carve_subnets("10.10.0.0/16", ["us-east-1a", "us-east-1b"])
    assert carved == [
        {"az": "us-east-1a", "tier": "public", "cidr": "10.10.252.0/26", "index": 0},
        {"az": "us-east-1a", "tier": "private", "cidr": "10.10.0.0/22", "index": 0},
        {"az": "us-east-1b", "tier": "public", "cidr": "10.10.252.64/26", "index": 1},
        {"az": "us-east-1b", "tier": "private", "cidr": "10.10.4.0/22", "index": 1},
    ]


def test_carve_subnets_adding_an_az_keeps_existing_subnets() -> None:
    two = carve_subnets("10.30.0.0/16", ["a", "b"])
    three = carve_subnets("10.30.0.0/16", ["a", "b", "c"])
    assert three[: len(two)] == two


def test_carved_subnets_are_disjoint_and_inside_the_vpc() -> None:
    vpc = ipaddress.ip_network("10.30.0.0/16")
    networks = [ipaddress.ip_network(s["cidr"]) for s in carve_subnets(str(vpc), list("abcdef"))]
    assert all(net.subnet_of(vpc) for net in networks)
    for index, net in enumerate(networks):
        assert not any(net.overlaps(other) for other in networks[index + 1 :])


@pytest.mark.parametrize(
    ("cidr", "message"),
    [
        ("10.10.0.0/33", "vpc_cidr must be an IPv4 network address"),
        ("10.10.0.1/16", "vpc_cidr must be an IPv4 network address"),
        ("not-a-cidr", "vpc_cidr must be an IPv4 network address"),
        ("10.0.0.0/8", "between /16 and /28"),
        ("fd00::/56", "IPv4"),
    ],
)
def test_carve_subnets_rejects_invalid_cidr(cidr: str, message: str) -> None:
    with pytest.raises(AnsibleFilterError, match=message):
        carve_subnets(cidr, ["a"])


def test_carve_subnets_rejects_a_prefix_too_small_and_says_what_fits() -> None:
    with pytest.raises(AnsibleFilterError, match=r"cannot hold 3 private /22.*/20 or shorter"):
        carve_subnets("10.10.0.0/21", ["a", "b", "c"])


def test_subnet_summary_reads_tier_tag_and_sorts_by_az() -> None:
    info = [
        {
            "id": "subnet-2",
            "availability_zone": "b",
            "cidr_block": "10.0.4.0/22",
            "tags": {"Tier": "private"},
        },
        {
            "id": "subnet-1",
            "availability_zone": "a",
            "cidr_block": "10.0.0.0/22",
            "tags": {"Tier": "private"},
        },
    ]
    assert [s["id"] for s in subnet_summary(info)] == ["subnet-1", "subnet-2"]
    assert subnet_summary(info)[0]["tier"] == "private"


def test_route_table_summary_finds_the_default_route_target() -> None:
    tables = [
        {
            "id": "rtb-1",
            "tags": {"AvailabilityZone": "a"},
            "routes": [
                {"destination_cidr_block": "10.0.0.0/16", "gateway_id": "local"},
                {"destination_cidr_block": "0.0.0.0/0", "nat_gateway_id": "nat-1"},
            ],
        },
        {"id": "rtb-0", "tags": {"AvailabilityZone": "0"}, "routes": []},
    ]
    assert route_table_summary(tables) == [
        {"id": "rtb-0", "az": "0", "default_target": ""},
        {"id": "rtb-1", "az": "a", "default_target": "nat-1"},
    ]


ECS_WANTED = {
    "subnets": ["subnet-b", "subnet-a"],
    "security_groups": ["sg-app", "sg-dbclients"],
    "assign_public_ip": False,
    "minimum_healthy_percent": "100",
    "maximum_percent": 200,
    "circuit_breaker": True,
    "rollback": True,
    "platform_version": "LATEST",
}


AWSVPC = "networkConfiguration__awsvpcConfiguration"


def live_service(**changes: Any) -> dict[str, Any]:
    service: dict[str, Any] = {
        "status": "ACTIVE",
        "platformVersion": "LATEST",
        "networkConfiguration": {
            "awsvpcConfiguration": {
                "subnets": ["subnet-a", "subnet-b"],
                "securityGroups": ["sg-dbclients", "sg-app"],
                "assignPublicIp": "DISABLED",
            }
        },
        "deploymentConfiguration": {
            "minimumHealthyPercent": 100,
            "maximumPercent": 200,
            "deploymentCircuitBreaker": {"enable": True, "rollback": True},
        },
    }
    for path, value in changes.items():
        *parents, leaf = path.split("__")
        node = service
        for key in parents:
            node = node[key]
        node[leaf] = value
    return service


def test_ecs_service_drift_none_when_only_order_differs() -> None:
    assert ecs_service_drift(live_service(), ECS_WANTED) == []


def test_ecs_service_drift_none_for_a_new_or_inactive_service() -> None:
    assert ecs_service_drift({}, ECS_WANTED) == []
    assert (
        ecs_service_drift(live_service(status="INACTIVE", platformVersion="1.3.0"), ECS_WANTED)
        == []
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (
            {"networkConfiguration__awsvpcConfiguration__assignPublicIp": "ENABLED"},
            "assign_public_ip",
        ),
        (
            {"networkConfiguration__awsvpcConfiguration__securityGroups": ["sg-open"]},
            "security_groups",
        ),
        ({"networkConfiguration__awsvpcConfiguration__subnets": ["subnet-public"]}, "subnets"),
        ({"deploymentConfiguration__minimumHealthyPercent": 50}, "minimum_healthy_percent"),
        ({"deploymentConfiguration__maximumPercent": 100}, "maximum_percent"),
        (
            {"deploymentConfiguration__deploymentCircuitBreaker": {"enable": False}},
            "circuit_breaker",
        ),
        ({"platformVersion": "1.3.0"}, "platform_version"),
    ],
)
def test_ecs_service_drift_finds_each_field_ecs_service_ignores(
    change: dict[str, Any], field: str
) -> None:
    drift = ecs_service_drift(live_service(**change), ECS_WANTED)
    assert drift and drift[0].split(":")[0] == field


def test_log_retention_accepts_exactly_the_periods_botocore_documents() -> None:
    documented = botocore.session.get_session().get_service_model("logs").shape_for("Days")
    listed = re.search(r"Possible values are: ([0-9, and]+)\.", documented.documentation)
    assert listed, documented.documentation
    assert tuple(int(n) for n in re.findall(r"[0-9]+", listed.group(1))) == RETENTION_DAYS
    log_retention = TestModule().tests()["log_retention"]
    assert all(log_retention(days) and log_retention(str(days)) for days in RETENTION_DAYS)
    assert not any(log_retention(bad) for bad in (0, 8, "4000", "", "7d", None, -7))
