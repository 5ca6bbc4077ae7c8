"""Resource naming: ``{env}-{service}-{resource}-{client}``, lower case.

One source of truth for every name the collection gives an AWS resource, so a
resource found by name in one layer is the one another layer created.
"""

from __future__ import annotations

import re
from typing import Any

from ansible.errors import AnsibleFilterError

DOCUMENTATION = r"""
name: resource_name
short_description: Name an AWS resource by the project convention
description:
  - Returns C({env}-{service}-{resource}-{client}) in lower case, e.g. C(dev-djg-alb-ander).
positional: naming
options:
  _input:
    description: The resource part of the name (C(vpc), C(alb), C(public-us-east-1a)).
    type: str
    required: true
  naming:
    description: Mapping with C(env), C(service) and C(client).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Name the load balancer
  ansible.builtin.debug:
    msg: "{{ 'alb' | django_ecs.aws.resource_name(naming) }}"
"""

RETURN = r"""
_value:
  description: The resource name.
  type: str
"""

# Lower-case letters, digits and inner hyphens: the intersection of what ALB, target
# group, RDS, ECR and IAM accept in a name.
_NAME_PART = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
_NAMING_KEYS = ("env", "service", "client")


def _validated_part(label: str, value: Any) -> str:
    text = str(value if value is not None else "").strip().lower()
    if not _NAME_PART.match(text):
        raise AnsibleFilterError(
            f"resource_name: {label} must be lower-case letters, digits and inner hyphens "
            f"(e.g. 'dev'), got {value!r}"
        )
    return text


def resource_name(resource: str, naming: dict[str, Any]) -> str:
    """Return ``{env}-{service}-{resource}-{client}`` for ``resource``."""
    if not isinstance(naming, dict):
        raise AnsibleFilterError("resource_name: naming must be a dict with env, service, client")
    missing = [key for key in _NAMING_KEYS if not naming.get(key)]
    if missing:
        raise AnsibleFilterError(
            f"resource_name: naming is missing {', '.join(missing)} "
            "(set env_name, service_name and client_name in the inventory)"
        )
    parts = [
        _validated_part("naming.env", naming["env"]),
        _validated_part("naming.service", naming["service"]),
        _validated_part("resource", resource),
        _validated_part("naming.client", naming["client"]),
    ]
    return "-".join(parts)


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"resource_name": resource_name}
