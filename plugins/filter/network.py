"""Summaries of ``*_info`` results: the small, stable shapes the roles and outputs files use.

The logic lives in ``module_utils/network_lookup.py`` (over boto3 shapes, shared with the
``network_lookup`` and ``network_state`` modules); these filters only turn the ``*_info`` modules'
snake_case results back into those shapes."""

from __future__ import annotations

from typing import Any

from ansible.module_utils.common.dict_transformations import snake_dict_to_camel_dict
from ansible_collections.django_ecs.aws.plugins.module_utils import network_lookup

DOCUMENTATION = r"""
name: subnet_summary
version_added: 0.1.0
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


def _boto3_tags(resource: dict[str, Any]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in (resource.get("tags") or {}).items()]


def subnet_summary(subnets: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Return ``{id, az, cidr, tier}`` per subnet, sorted by AZ then tier."""
    described = [
        {
            "SubnetId": subnet["id"],
            "AvailabilityZone": subnet.get("availability_zone", ""),
            "CidrBlock": subnet.get("cidr_block", ""),
            "Tags": _boto3_tags(subnet),
        }
        for subnet in subnets or []
    ]
    return network_lookup.subnet_summary(described)


def route_table_summary(route_tables: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Return ``{id, az, default_target}`` per route table (AZ from its tag), sorted by AZ."""
    described = [
        {
            "RouteTableId": table["id"] if "id" in table else table["route_table_id"],
            "Tags": _boto3_tags(table),
            "Routes": [
                snake_dict_to_camel_dict(route, capitalize_first=True)
                for route in table.get("routes") or []
            ],
        }
        for table in route_tables or []
    ]
    return network_lookup.route_table_summary(described)


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"subnet_summary": subnet_summary, "route_table_summary": route_table_summary}
