"""IAM documents the tests create roles with (one place, so every test trusts the same way)."""

from __future__ import annotations

import json


def service_trust(service: str) -> str:
    """The trust policy (JSON) letting one AWS service principal assume a role."""
    statement = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})
