"""The VPC flow logs delivery role's policies, from the description network_state compares with."""

from __future__ import annotations

from typing import Any

from ansible_collections.django_ecs.aws.plugins.module_utils.flow_logs import (
    flow_logs_delivery_policy,
    flow_logs_trust_policy,
)

DOCUMENTATION = r"""
name: flow_logs_policies
version_added: 0.1.0
short_description: The trust and permissions policies of the VPC flow logs delivery role
description:
  - C(trust) lets only C(vpc-flow-logs.amazonaws.com) assume the role, for flow logs of this
    account (C(aws:SourceAccount)) in this region (C(aws:SourceArn)
    C(arn:aws:ec2:<region>:<account>:vpc-flow-log/*)), against the confused deputy.
  - C(delivery) allows writing to the one log group only.
  - The same description C(django_ecs.aws.network_state) compares the live role with.
options:
  _input:
    description: The AWS account id.
    type: str
    required: true
  region:
    description: The region of the VPC and the log group.
    type: str
    required: true
  log_group_name:
    description: The CloudWatch Logs log group the flow logs deliver to.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: The delivery role's policies
  ansible.builtin.set_fact:
    policies: "{{ caller.account | django_ecs.aws.flow_logs_policies('us-east-1', '/aws/django-ecs/dev/vpc-flow-logs') }}"
"""

RETURN = r"""
_value:
  description: C(trust) (the assume-role policy) and C(delivery) (the inline policy), as dicts.
  type: dict
"""


def flow_logs_policies(account: str, region: str, log_group_name: str) -> dict[str, Any]:
    return {
        "trust": flow_logs_trust_policy(str(account), region),
        "delivery": flow_logs_delivery_policy(str(account), region, log_group_name),
    }


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"flow_logs_policies": flow_logs_policies}
