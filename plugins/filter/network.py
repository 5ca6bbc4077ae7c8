"""Summaries of ``*_info`` results: the small, stable shapes the roles and outputs files use."""

from __future__ import annotations

from typing import Any

DOCUMENTATION = r"""
name: subnet_summary
short_description: Reduce ec2_vpc_subnet_info results to {id, az, cidr, tier}, sorted by AZ
description:
  - The small, stable shape the network roles and the outputs file use (C(tier) from the C(Tier)
    tag). C(route_table_summary), in the same file, is documented in C(route_table_summary.yml).
options:
  _input:
    description: The C(subnets) list of M(amazon.aws.ec2_vpc_subnet_info).
    type: list
    elements: dict
    required: true
"""

EXAMPLES = r"""
- name: Private subnets
  ansible.builtin.debug:
    msg: "{{ found.subnets | django_ecs.aws.subnet_summary | selectattr('tier', 'equalto', 'private') }}"
"""

RETURN = r"""
_value:
  description: One dict per subnet with C(id), C(az), C(cidr), C(tier) (from the C(Tier) tag).
  type: list
  elements: dict
"""

_DEFAULT_ROUTE = "0.0.0.0/0"
_TARGET_KEYS = ("nat_gateway_id", "instance_id", "gateway_id", "network_interface_id")


def subnet_summary(subnets: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Return ``{id, az, cidr, tier}`` per subnet, sorted by AZ then tier."""
    summary = [
        {
            "id": subnet["id"],
            "az": subnet.get("availability_zone", ""),
            "cidr": subnet.get("cidr_block", ""),
            "tier": (subnet.get("tags") or {}).get("Tier", ""),
        }
        for subnet in subnets or []
    ]
    return sorted(summary, key=lambda item: (item["az"], item["tier"]))


def _default_route_target(route_table: dict[str, Any]) -> str:
    for route in route_table.get("routes") or []:
        if route.get("destination_cidr_block") == _DEFAULT_ROUTE:
            for key in _TARGET_KEYS:
                if route.get(key):
                    return str(route[key])
    return ""


def route_table_summary(route_tables: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Return ``{id, az, default_target}`` per route table (AZ from its tag), sorted by AZ."""
    summary = [
        {
            "id": table["id"] if "id" in table else table["route_table_id"],
            "az": (table.get("tags") or {}).get("AvailabilityZone", ""),
            "default_target": _default_route_target(table),
        }
        for table in route_tables or []
    ]
    return sorted(summary, key=lambda item: item["az"])


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"subnet_summary": subnet_summary, "route_table_summary": route_table_summary}
