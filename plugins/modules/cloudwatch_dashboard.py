#!/usr/bin/python
# Copyright: contributors to django_ecs.aws
# Apache License 2.0 (see galaxy.yml)
# Ansible wants DOCUMENTATION/EXAMPLES/RETURN before any import (ansible-test validate-modules).

from __future__ import annotations

DOCUMENTATION = r"""
module: cloudwatch_dashboard
short_description: Create, update or delete a CloudWatch dashboard
version_added: 0.1.0
description:
  - Writes the dashboard with PutDashboard only when its body, compared as JSON, differs from
    what GetDashboard returns; deletes it with DeleteDashboards.
  - Why a module of our own? Neither C(amazon.aws) nor C(community.aws) manages dashboards.
  - CloudWatch dashboards cannot carry tags (TagResource accepts alarms, Contributor Insights
    rules and metric streams only), so this module has no C(tags) option.
author:
  - django_ecs.aws maintainers (!UNKNOWN)
options:
  name:
    description: Dashboard name (letters, digits, C(-) and C(_), up to 255 characters).
    type: str
    required: true
  body:
    description:
      - The dashboard body (C(widgets) and optional C(start), C(periodOverride), ...), as a
        mapping. Required when O(state=present).
    type: dict
  state:
    description: Whether the dashboard should exist.
    type: str
    choices: [present, absent]
    default: present
notes:
  - Supports check mode and diff mode.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Dashboard of the service
  django_ecs.aws.cloudwatch_dashboard:
    name: dev-djg-dashboard-ander
    body:
      widgets:
        - type: metric
          x: 0
          y: 0
          width: 12
          height: 6
          properties:
            title: ECS CPU
            region: us-east-1
            metrics:
              - [AWS/ECS, CPUUtilization, ClusterName, dev-djg-cluster-ander]
"""

RETURN = r"""
dashboard_arn:
  description: ARN of the dashboard (empty when absent, or new in check mode).
  returned: success
  type: str
validation_messages:
  description: Warnings CloudWatch returned about the body (PutDashboard).
  returned: success
  type: list
  elements: dict
"""

import contextlib
import json
import re
from typing import Any

with contextlib.suppress(ImportError):  # AnsibleAWSModule reports a missing botocore itself
    from botocore.exceptions import BotoCoreError, ClientError

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

ARGUMENT_SPEC: dict[str, Any] = {
    "name": {"type": "str", "required": True},
    "body": {"type": "dict"},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
}
DASHBOARD_NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")


def validate(params: dict[str, Any]) -> str | None:
    if not DASHBOARD_NAME.match(params["name"]):
        return f"name must be 1-255 letters, digits, '-' or '_', got {params['name']!r}"
    if params["state"] == "present" and not isinstance((params["body"] or {}).get("widgets"), list):
        return "body must be a mapping with a widgets list when state=present"
    return None


def needs_write(wanted: dict[str, Any], current_body: str | None) -> bool:
    """True when the stored body (a JSON string, None when absent) differs from ``wanted``."""
    if current_body is None:
        return True
    try:
        return json.loads(current_body) != wanted
    except ValueError:
        return True


def current_dashboard(client: Any, name: str) -> dict[str, Any] | None:
    try:
        return client.get_dashboard(DashboardName=name, aws_retry=True)
    except is_boto3_error_code("ResourceNotFound"):
        return None


def main() -> None:
    module = AnsibleAWSModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    problem = validate(module.params)
    if problem:
        module.fail_json(msg=problem)
    name, body, state = module.params["name"], module.params["body"], module.params["state"]
    client = module.client("cloudwatch", retry_decorator=AWSRetry.jittered_backoff())
    messages: list[dict[str, Any]] = []
    try:
        current = current_dashboard(client, name)
        before = json.loads(current["DashboardBody"]) if current else {}
        if state == "absent":
            changed = current is not None
            if changed and not module.check_mode:
                client.delete_dashboards(DashboardNames=[name], aws_retry=True)
            module.exit_json(
                changed=changed,
                dashboard_arn="",
                validation_messages=[],
                diff={"before": before, "after": {}},
            )
        changed = needs_write(body, current["DashboardBody"] if current else None)
        if changed and not module.check_mode:
            answer = client.put_dashboard(
                DashboardName=name, DashboardBody=json.dumps(body, sort_keys=True), aws_retry=True
            )
            messages = answer.get("DashboardValidationMessages", [])
            current = current_dashboard(client, name)
    except (BotoCoreError, ClientError) as exc:
        module.fail_json_aws(exc, msg=f"cannot manage CloudWatch dashboard {name}")
    module.exit_json(
        changed=changed,
        dashboard_arn=current["DashboardArn"] if current else "",
        validation_messages=messages,
        diff={"before": before, "after": body},
    )


if __name__ == "__main__":
    main()
