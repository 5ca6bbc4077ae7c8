# Copyright: contributors to django_ecs.aws
# Apache License 2.0 (see galaxy.yml)
"""What another layer learns of the network layer, in the small shapes the roles publish.

One implementation for the ``network_lookup`` module, the ``network_state`` module's outputs and
the ``subnet_summary`` / ``route_table_summary`` filters: pure functions over boto3 ``describe_*``
answers (CamelCase keys, ``Tags`` as a list of ``{Key, Value}``), so unit tests need no AWS and the
filters load no boto3.
"""

from __future__ import annotations

from typing import Any

DEFAULT_ROUTE = "0.0.0.0/0"
# The order in which a default route's target is reported (a route has exactly one of them).
ROUTE_TARGET_KEYS = ("NatGatewayId", "InstanceId", "GatewayId", "NetworkInterfaceId")


def tag_map(resource: dict[str, Any]) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in resource.get("Tags") or []}


def default_route_target(route_table: dict[str, Any]) -> str:
    """The NAT gateway, instance, gateway or interface of the table's 0.0.0.0/0 route, or ''."""
    for route in route_table.get("Routes") or []:
        if route.get("DestinationCidrBlock") == DEFAULT_ROUTE:
            for key in ROUTE_TARGET_KEYS:
                if route.get(key):
                    return str(route[key])
    return ""


def subnet_summary(subnets: list[dict[str, Any]]) -> list[dict[str, str]]:
    """``{id, az, cidr, tier}`` per subnet (tier: its ``Tier`` tag), sorted by AZ then tier."""
    summary = [
        {
            "id": subnet["SubnetId"],
            "az": subnet.get("AvailabilityZone", ""),
            "cidr": subnet.get("CidrBlock", ""),
            "tier": tag_map(subnet).get("Tier", ""),
        }
        for subnet in subnets or []
    ]
    return sorted(summary, key=lambda item: (item["az"], item["tier"]))


def subnets_of_tier(subnets: list[dict[str, Any]], tier: str) -> list[dict[str, str]]:
    return [subnet for subnet in subnet_summary(subnets) if subnet["tier"] == tier]


def route_table_summary(route_tables: list[dict[str, Any]]) -> list[dict[str, str]]:
    """``{id, az, default_target}`` per route table (AZ from its tag), sorted by AZ."""
    summary = [
        {
            "id": table["RouteTableId"],
            "az": tag_map(table).get("AvailabilityZone", ""),
            "default_target": default_route_target(table),
        }
        for table in route_tables or []
    ]
    return sorted(summary, key=lambda item: item["az"])


def network_lookup_result(
    vpcs: list[dict[str, Any]],
    subnets: list[dict[str, Any]],
    private_route_tables: list[dict[str, Any]],
) -> dict[str, Any]:
    """What the ``network_lookup`` role publishes; empty values unless exactly one VPC was found."""
    found = len(vpcs) == 1
    vpc = vpcs[0] if found else {}
    return {
        "found": found,
        "vpc_count": len(vpcs),
        "vpc_id": vpc.get("VpcId", ""),
        "vpc_cidr": vpc.get("CidrBlock", ""),
        "public_subnets": subnets_of_tier(subnets, "public") if found else [],
        "private_subnets": subnets_of_tier(subnets, "private") if found else [],
        "private_route_tables": route_table_summary(private_route_tables) if found else [],
    }
