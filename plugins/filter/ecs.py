"""What community.aws.ecs_service does not compare on an existing service."""

from __future__ import annotations

from typing import Any

DOCUMENTATION = r"""
name: ecs_service_drift
version_added: 0.1.0
short_description: Fields of a live ECS service that differ from the wanted ones and ecs_service ignores
description:
  - M(community.aws.ecs_service) decides whether to update an existing service by comparing the task
    definition, load balancers, grace period, tags, ECS Exec and desired count only. A changed
    network configuration (subnets, security groups, public IP), deployment configuration (healthy
    percentages, circuit breaker) or platform version is never applied, so such drift would stay.
  - This filter lists those differences; the role then passes C(force_new_deployment) so the module
    sends its full UpdateService.
options:
  _input:
    description: The live service, as M(community.aws.ecs_service_info) returns it (camelCase), or
      an empty dict when it does not exist.
    type: dict
    required: true
  wanted:
    description: >-
      C(subnets), C(security_groups), C(assign_public_ip) (bool), C(minimum_healthy_percent),
      C(maximum_percent), C(circuit_breaker) (bool), C(rollback) (bool), C(platform_version).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Fields ecs_service would miss
  ansible.builtin.set_fact:
    drift: "{{ live_service | django_ecs.aws.ecs_service_drift(wanted) }}"
"""

RETURN = r"""
_value:
  description: "One C(field: live -> wanted) line per difference; empty for a new service."
  type: list
  elements: str
"""


def _live_fields(service: dict[str, Any]) -> dict[str, Any]:
    network = (service.get("networkConfiguration") or {}).get("awsvpcConfiguration") or {}
    deployment = service.get("deploymentConfiguration") or {}
    breaker = deployment.get("deploymentCircuitBreaker") or {}
    return {
        "subnets": sorted(network.get("subnets") or []),
        "security_groups": sorted(network.get("securityGroups") or []),
        "assign_public_ip": network.get("assignPublicIp", "DISABLED") == "ENABLED",
        "minimum_healthy_percent": deployment.get("minimumHealthyPercent"),
        "maximum_percent": deployment.get("maximumPercent"),
        "circuit_breaker": bool(breaker.get("enable", False)),
        "rollback": bool(breaker.get("rollback", False)),
        "platform_version": service.get("platformVersion"),
    }


def _wanted_fields(wanted: dict[str, Any]) -> dict[str, Any]:
    return {
        "subnets": sorted(wanted["subnets"]),
        "security_groups": sorted(wanted["security_groups"]),
        "assign_public_ip": bool(wanted["assign_public_ip"]),
        "minimum_healthy_percent": int(wanted["minimum_healthy_percent"]),
        "maximum_percent": int(wanted["maximum_percent"]),
        "circuit_breaker": bool(wanted["circuit_breaker"]),
        "rollback": bool(wanted["rollback"]),
        "platform_version": wanted["platform_version"],
    }


def ecs_service_drift(service: dict[str, Any] | None, wanted: dict[str, Any]) -> list[str]:
    """``field: live -> wanted`` for each field that differs; nothing for a missing service."""
    if not service or service.get("status") != "ACTIVE":
        return []
    live, desired = _live_fields(service), _wanted_fields(wanted)
    return [
        f"{field}: {live[field]} -> {desired[field]}"
        for field in desired
        if live[field] != desired[field]
    ]


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"ecs_service_drift": ecs_service_drift}
