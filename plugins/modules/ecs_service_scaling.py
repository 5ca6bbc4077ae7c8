#!/usr/bin/python
# Copyright: contributors to django_ecs.aws
# Apache License 2.0 (see galaxy.yml)
# Ansible wants DOCUMENTATION/EXAMPLES/RETURN before any import (ansible-test validate-modules).

from __future__ import annotations

DOCUMENTATION = r"""
module: ecs_service_scaling
short_description: Scalable target and target tracking policies of an ECS service
version_added: 0.1.0
description:
  - Registers the ECS service's desired count as a scalable target with O(min_capacity) and
    O(max_capacity) and its tags, and makes its target tracking policies match O(policies)
    (policies of the target not listed are deleted). With O(state=absent), deletes the
    policies and deregisters the target.
  - Why not C(community.aws.application_autoscaling_policy)? It reports a change on every run
    for target tracking policies (it compares its own option dict, with unset sub-options as
    V(null), to what AWS returns), it ignores min/max changes unless
    C(override_task_capacity) is set, and it cannot tag the scalable target (community.aws 11.2).
author:
  - django_ecs.aws maintainers (!UNKNOWN)
options:
  cluster:
    description: ECS cluster name.
    type: str
    required: true
  service:
    description: ECS service name.
    type: str
    required: true
  min_capacity:
    description: Fewest tasks autoscaling keeps.
    type: int
  max_capacity:
    description: Most tasks autoscaling starts.
    type: int
  policies:
    description: Target tracking policies.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Policy name.
        type: str
        required: true
      target_value:
        description: Target value of the metric.
        type: float
        required: true
      predefined_metric:
        description: C(ECSServiceAverageCPUUtilization), C(ECSServiceAverageMemoryUtilization) or C(ALBRequestCountPerTarget).
        type: str
        required: true
      resource_label:
        description: C(<alb arn suffix>/<target group arn suffix>), for C(ALBRequestCountPerTarget).
        type: str
      scale_out_cooldown:
        description: Seconds between scale-out steps.
        type: int
        default: 60
      scale_in_cooldown:
        description: Seconds between scale-in steps.
        type: int
        default: 300
  tags:
    description: Tags of the scalable target (others are removed); V({}) leaves its tags alone.
    type: dict
    default: {}
  state:
    description: Whether the target and its policies exist.
    type: str
    choices: [present, absent]
    default: present
notes:
  - Supports check mode.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Scale the web service on CPU between 2 and 8 tasks
  django_ecs.aws.ecs_service_scaling:
    cluster: prod-django-cluster-and
    service: prod-django-service-and
    min_capacity: 2
    max_capacity: 8
    policies:
      - name: prod-django-cpu-and
        predefined_metric: ECSServiceAverageCPUUtilization
        target_value: 55
    tags: "{{ resource_tags }}"
"""

RETURN = r"""
changes:
  description: What was (or would be) done, e.g. C(target), C(tags), C(policy:<name>), C(delete:<name>).
  returned: success
  type: list
  elements: str
scalable_target_arn:
  description: ARN of the scalable target (empty when there is none).
  returned: success
  type: str
"""

import contextlib
from typing import Any

with contextlib.suppress(ImportError):  # AnsibleAWSModule reports a missing botocore itself
    from botocore.exceptions import BotoCoreError, ClientError

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

POLICY_SPEC: dict[str, Any] = {
    "name": {"type": "str", "required": True},
    "target_value": {"type": "float", "required": True},
    "predefined_metric": {"type": "str", "required": True},
    "resource_label": {"type": "str"},
    "scale_out_cooldown": {"type": "int", "default": 60},
    "scale_in_cooldown": {"type": "int", "default": 300},
}
ARGUMENT_SPEC: dict[str, Any] = {
    "cluster": {"type": "str", "required": True},
    "service": {"type": "str", "required": True},
    "min_capacity": {"type": "int"},
    "max_capacity": {"type": "int"},
    "policies": {"type": "list", "elements": "dict", "default": [], "options": POLICY_SPEC},
    "tags": {"type": "dict", "default": {}},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
}
NAMESPACE = "ecs"
DIMENSION = "ecs:service:DesiredCount"


def policy_configuration(policy: dict[str, Any]) -> dict[str, Any]:
    """The TargetTrackingScalingPolicyConfiguration AWS stores for a policy option."""
    metric: dict[str, Any] = {"PredefinedMetricType": policy["predefined_metric"]}
    if policy.get("resource_label"):
        metric["ResourceLabel"] = policy["resource_label"]
    return {
        "TargetValue": float(policy["target_value"]),
        "PredefinedMetricSpecification": metric,
        "ScaleOutCooldown": policy["scale_out_cooldown"],
        "ScaleInCooldown": policy["scale_in_cooldown"],
        "DisableScaleIn": False,
    }


def comparable(configuration: dict[str, Any]) -> dict[str, Any]:
    """AWS's answer reduced to the fields we set (it may add defaults and alarms)."""
    metric = configuration.get("PredefinedMetricSpecification") or {}
    return {
        "TargetValue": float(configuration.get("TargetValue", 0)),
        "PredefinedMetricSpecification": {k: v for k, v in metric.items() if v},
        "ScaleOutCooldown": configuration.get("ScaleOutCooldown", 0),
        "ScaleInCooldown": configuration.get("ScaleInCooldown", 0),
        "DisableScaleIn": bool(configuration.get("DisableScaleIn", False)),
    }


def plan(
    target: dict[str, Any] | None,
    tags: dict[str, str],
    policies: dict[str, dict[str, Any]],
    params: dict[str, Any],
) -> list[str]:
    """Changes from the current target, its tags and policies (by name) to the wanted ones."""
    if params["state"] == "absent":
        return [f"delete:{name}" for name in sorted(policies)] + (["deregister"] if target else [])
    changes = []
    bounds = (params["min_capacity"], params["max_capacity"])
    if target is None or (target["MinCapacity"], target["MaxCapacity"]) != bounds:
        changes.append("target")
    if (
        target is not None
        and params["tags"]
        and {k: v for k, v in tags.items() if not k.startswith("aws:")} != params["tags"]
    ):
        changes.append("tags")
    wanted = {policy["name"]: policy for policy in params["policies"]}
    for name, policy in wanted.items():
        current = policies.get(name)
        if current is None or comparable(current) != policy_configuration(policy):
            changes.append(f"policy:{name}")
    changes.extend(f"delete:{name}" for name in sorted(set(policies) - set(wanted)))
    return changes


class Scaling:
    def __init__(self, client: Any, params: dict[str, Any]) -> None:
        self.client = client
        self.params = params
        self.key = {
            "ServiceNamespace": NAMESPACE,
            "ResourceId": f"service/{params['cluster']}/{params['service']}",
            "ScalableDimension": DIMENSION,
        }

    def read(self) -> tuple[dict[str, Any] | None, dict[str, str], dict[str, dict[str, Any]]]:
        targets = self.client.describe_scalable_targets(
            ServiceNamespace=NAMESPACE,
            ResourceIds=[self.key["ResourceId"]],
            ScalableDimension=DIMENSION,
            aws_retry=True,
        )["ScalableTargets"]
        target = targets[0] if targets else None
        tags: dict[str, str] = {}
        if target and target.get("ScalableTargetARN") and self.params["tags"]:
            tags = self.client.list_tags_for_resource(
                ResourceARN=target["ScalableTargetARN"], aws_retry=True
            ).get("Tags", {})
        found = self.client.describe_scaling_policies(
            ServiceNamespace=NAMESPACE, ResourceId=self.key["ResourceId"], aws_retry=True
        )["ScalingPolicies"]
        policies = {
            p["PolicyName"]: p.get("TargetTrackingScalingPolicyConfiguration", {})
            for p in found
            if p.get("ScalableDimension") == DIMENSION
        }
        return target, tags, policies

    def apply(
        self, changes: list[str], target: dict[str, Any] | None, tags: dict[str, str]
    ) -> None:
        wanted = {policy["name"]: policy for policy in self.params["policies"]}
        for change in changes:
            kind, _separator, name = change.partition(":")
            if kind == "delete":
                self.client.delete_scaling_policy(PolicyName=name, **self.key, aws_retry=True)
            elif kind == "deregister":
                self.client.deregister_scalable_target(**self.key, aws_retry=True)
            elif kind == "target":
                self.register(target)
            elif kind == "tags" and target:
                self.retag(target["ScalableTargetARN"], tags)
            elif kind == "policy":
                self.client.put_scaling_policy(
                    PolicyName=name,
                    PolicyType="TargetTrackingScaling",
                    TargetTrackingScalingPolicyConfiguration=policy_configuration(wanted[name]),
                    **self.key,
                    aws_retry=True,
                )

    def register(self, target: dict[str, Any] | None) -> None:
        extra = {"Tags": self.params["tags"]} if target is None and self.params["tags"] else {}
        self.client.register_scalable_target(
            MinCapacity=self.params["min_capacity"],
            MaxCapacity=self.params["max_capacity"],
            **self.key,
            **extra,
            aws_retry=True,
        )

    def retag(self, arn: str, current: dict[str, str]) -> None:
        stale = [k for k in current if k not in self.params["tags"] and not k.startswith("aws:")]
        if stale:
            self.client.untag_resource(ResourceARN=arn, TagKeys=stale, aws_retry=True)
        self.client.tag_resource(ResourceARN=arn, Tags=self.params["tags"], aws_retry=True)


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec=ARGUMENT_SPEC,
        required_if=[("state", "present", ("min_capacity", "max_capacity"))],
        supports_check_mode=True,
    )
    params = dict(module.params)
    params["tags"] = {str(k): str(v) for k, v in params["tags"].items()}
    if params["state"] == "present" and not 0 <= params["min_capacity"] <= params["max_capacity"]:
        module.fail_json(msg="min_capacity must be between 0 and max_capacity")
    scaling = Scaling(
        module.client("application-autoscaling", retry_decorator=AWSRetry.jittered_backoff()),
        params,
    )
    try:
        target, tags, policies = scaling.read()
        changes = plan(target, tags, policies, params)
        if changes and not module.check_mode:
            scaling.apply(changes, target, tags)
            target = scaling.read()[0]
    except (BotoCoreError, ClientError) as exc:
        module.fail_json_aws(exc, msg=f"cannot manage autoscaling of {scaling.key['ResourceId']}")
    module.exit_json(
        changed=bool(changes),
        changes=changes,
        scalable_target_arn=(target or {}).get("ScalableTargetARN", ""),
    )


if __name__ == "__main__":
    main()
