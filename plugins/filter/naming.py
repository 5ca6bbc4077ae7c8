"""Resource naming: ``{env}-{service}-{resource}-{client}``, lower case.

One source of truth for every name the collection gives an AWS resource, so a
resource found by name in one layer is the one another layer created.
"""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError
from ansible_collections.django_ecs.aws.plugins.module_utils import naming as naming_rules

DOCUMENTATION = r"""
name: resource_name
version_added: 0.1.0
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


def resource_name(resource: str, naming: dict[str, Any]) -> str:
    """Return ``{env}-{service}-{resource}-{client}`` for ``resource``."""
    try:
        return naming_rules.resource_name(resource, naming)
    except naming_rules.NamingError as error:
        raise AnsibleFilterError(str(error)) from error


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"resource_name": resource_name}
