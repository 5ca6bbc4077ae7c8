# Copyright: contributors to django_ecs.aws
# Apache License 2.0 (see galaxy.yml)
"""The naming convention, shared by the ``resource_name`` filter and our modules.

``{env}-{service}-{resource}-{client}``, lower case (e.g. ``dev-djg-alb-ander``).
"""

from __future__ import annotations

import re
from typing import Any

# Lower-case letters, digits and inner hyphens: what ALB, target group, RDS, ECR and IAM
# all accept in a name.
_NAME_PART = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
NAMING_KEYS = ("env", "service", "client")


class NamingError(ValueError):
    """A naming part is missing or has characters AWS names cannot hold."""


def _validated_part(label: str, value: Any) -> str:
    text = str(value if value is not None else "").strip().lower()
    if not _NAME_PART.match(text):
        raise NamingError(
            f"resource_name: {label} must be lower-case letters, digits and inner hyphens "
            f"(e.g. 'dev'), got {value!r}"
        )
    return text


def resource_name(resource: str, naming: dict[str, Any]) -> str:
    """Return ``{env}-{service}-{resource}-{client}`` for ``resource``."""
    if not isinstance(naming, dict):
        raise NamingError("resource_name: naming must be a dict with env, service, client")
    missing = [key for key in NAMING_KEYS if not naming.get(key)]
    if missing:
        raise NamingError(
            f"resource_name: naming is missing {', '.join(missing)} "
            "(set env_name, service_name and client_name in the inventory)"
        )
    return "-".join(
        (
            _validated_part("naming.env", naming["env"]),
            _validated_part("naming.service", naming["service"]),
            _validated_part("resource", resource),
            _validated_part("naming.client", naming["client"]),
        )
    )
