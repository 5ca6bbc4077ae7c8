"""Tag merge: global defaults, then environment identity, then per-environment overrides."""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError

DOCUMENTATION = r"""
name: merge_tags
version_added: 0.1.0
short_description: Merge the project's default tags with an environment's values and overrides
description:
  - Starts from the global tags, sets C(Environment) and C(Confidentiality) from the environment,
    then applies the environment's overrides, which win over everything.
  - Tag values are strings (AWS stores strings); keys and values are checked against AWS limits.
positional: environment, confidentiality, overrides
options:
  _input:
    description: Global default tags (C(Project), C(Owner), C(ManagedBy)).
    type: dict
    required: true
  environment:
    description: Environment name, stored as the C(Environment) tag.
    type: str
    required: true
  confidentiality:
    description: Confidentiality class of the environment.
    type: str
    required: true
  overrides:
    description: Per-environment tags that win over the merged result.
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Tags for every resource of the environment
  ansible.builtin.set_fact:
    resource_tags: "{{ global_tags | django_ecs.aws.merge_tags(env_name, confidentiality, env_tags) }}"
"""

RETURN = r"""
_value:
  description: The merged tags.
  type: dict
"""

REQUIRED_TAG_KEYS = ("Project", "Owner", "ManagedBy", "Confidentiality", "Environment")
_MAX_KEY_LENGTH = 128
_MAX_VALUE_LENGTH = 256


def _checked(tags: dict[str, Any]) -> dict[str, str]:
    checked: dict[str, str] = {}
    for key, value in tags.items():
        key_text, value_text = str(key), "" if value is None else str(value)
        if not key_text or len(key_text) > _MAX_KEY_LENGTH or key_text.lower().startswith("aws:"):
            raise AnsibleFilterError(
                f"merge_tags: tag key {key_text!r} must be 1-128 characters and not start with 'aws:'"
            )
        if len(value_text) > _MAX_VALUE_LENGTH:
            raise AnsibleFilterError(f"merge_tags: tag {key_text!r} value exceeds 256 characters")
        checked[key_text] = value_text
    return checked


def merge_tags(
    global_tags: dict[str, Any],
    environment: str,
    confidentiality: str,
    overrides: dict[str, Any] | None = None,
) -> dict[str, str]:
    """Return global tags + environment identity + overrides (later wins)."""
    if not isinstance(global_tags, dict):
        raise AnsibleFilterError("merge_tags: global_tags must be a dict")
    if overrides is not None and not isinstance(overrides, dict):
        raise AnsibleFilterError("merge_tags: env_tags (overrides) must be a dict")
    merged = {**global_tags, "Environment": environment, "Confidentiality": confidentiality}
    merged.update(overrides or {})
    missing = [key for key in REQUIRED_TAG_KEYS if not merged.get(key)]
    if missing:
        raise AnsibleFilterError(f"merge_tags: required tags without a value: {', '.join(missing)}")
    return _checked(merged)


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"merge_tags": merge_tags}
