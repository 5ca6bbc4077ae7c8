"""The plan summary at the end of site.yml: per layer, what converges and why, what is in sync."""

from __future__ import annotations

from typing import Any

from ansible_collections.django_ecs.aws.plugins.module_utils.converged import plan_lines

DOCUMENTATION = r"""
name: converged_plan
version_added: 0.1.0
short_description: Per layer, which role parts converge (and why) and which are in sync
description:
  - Like C(cdk diff)'s summary. Under C(--check) it is the plan; in a real run, what the run converged.
  - The network layer's parts come from C(django_ecs.aws.network_state) (its C(in_sync) and C(drift));
    the other layers' from each part's C(django_ecs.aws.converged) lookup result, C(_<part>_converged).
options:
  _input:
    description: The network layer's C(network_state) result (empty when the layer did not run).
    type: dict
    required: true
  states:
    description: Per layer, its C(django_ecs.aws.converged_state) result (the parts, in run order).
    type: dict
    required: true
  results:
    description: The C(_<part>_converged) facts, by variable name.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Summarise the run
  ansible.builtin.debug:
    msg: "{{ _network_before | django_ecs.aws.converged_plan({'app': converged_state_app}, results) }}"
"""

RETURN = r"""
_value:
  description: The summary's lines.
  type: list
  elements: str
"""


def _network_parts(network_state: dict[str, Any]) -> list[tuple[str, dict[str, Any] | None]]:
    drift = network_state.get("drift") or {}
    return [
        (role, {"in_sync": in_sync, "reasons": drift.get(role) or []})
        for role, in_sync in (network_state.get("in_sync") or {}).items()
    ]


def converged_plan(
    network_state: dict[str, Any], states: dict[str, Any], results: dict[str, Any]
) -> list[str]:
    layers: dict[str, list[tuple[str, dict[str, Any] | None]]] = {
        "network": _network_parts(network_state or {})
    }
    for layer, state in states.items():
        parts = ((state or {}).get("parts") or {}).keys()
        layers[layer] = [(part, results.get(f"_{part}_converged")) for part in parts]
    return plan_lines(layers)


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"converged_plan": converged_plan}
