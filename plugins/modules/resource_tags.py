#!/usr/bin/python
# Copyright: contributors to django_ecs.aws
# Apache License 2.0 (see galaxy.yml)
# Ansible wants DOCUMENTATION/EXAMPLES/RETURN before any import (ansible-test validate-modules).

from __future__ import annotations

DOCUMENTATION = r"""
module: resource_tags
short_description: Tag an AWS resource by ARN where its own module has no tags option
version_added: 0.1.0
description:
  - Makes the tags of one resource, named by its ARN, match O(tags), through the owning
    service's own ListTagsForResource, TagResource and UntagResource calls.
  - Why? Several modules this collection relies on cannot tag what they create
    (C(community.aws.ecs_ecr), C(community.aws.application_autoscaling_policy),
    C(amazon.aws.cloudwatch_metric_alarm)), while every resource of the stack must carry the
    project's tags. The Resource Groups Tagging API would be generic, but it is eventually
    consistent and does not reach every resource type.
  - Supported services, read from the ARN, are C(ecr), C(ecs), C(cloudwatch),
    C(application-autoscaling) and C(logs).
author:
  - django_ecs.aws maintainers (!UNKNOWN)
options:
  resource_arn:
    description: ARN of the resource.
    type: str
    required: true
  tags:
    description: Tags the resource must carry.
    type: dict
    required: true
  purge_tags:
    description: Remove tags not in O(tags). C(aws:) tags are never touched.
    type: bool
    default: true
notes:
  - Supports check mode.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Tag the ECR repository (ecs_ecr has no tags option)
  django_ecs.aws.resource_tags:
    resource_arn: "{{ repository.repository.repositoryArn }}"
    tags: "{{ resource_tags }}"
"""

RETURN = r"""
tags:
  description: Tags of the resource after the run.
  returned: success
  type: dict
added:
  description: Tags set (new or with a new value) by this run.
  returned: success
  type: dict
removed:
  description: Keys of the tags removed by this run.
  returned: success
  type: list
  elements: str
"""

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

with contextlib.suppress(ImportError):  # AnsibleAWSModule reports a missing botocore itself
    from botocore.exceptions import BotoCoreError, ClientError

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

ARGUMENT_SPEC: dict[str, Any] = {
    "resource_arn": {"type": "str", "required": True},
    "tags": {"type": "dict", "required": True},
    "purge_tags": {"type": "bool", "default": True},
}

Tags = dict[str, str]


@dataclass(frozen=True)
class TagApi:
    """How one service spells its tagging calls: argument names and tag list shape."""

    arn_arg: str
    list_key: str
    key: str | None  # None: tags are a plain mapping (application-autoscaling, logs)
    value: str | None
    remove_arg: str

    def to_dict(self, raw: Any) -> Tags:
        if self.key is None:
            return dict(raw or {})
        return {item[self.key]: item[self.value] for item in raw or []}

    def to_api(self, tags: Tags) -> Any:
        if self.key is None:
            return tags
        return [{self.key: key, self.value: value} for key, value in sorted(tags.items())]


TAG_APIS: dict[str, TagApi] = {
    "ecr": TagApi("resourceArn", "tags", "Key", "Value", "tagKeys"),
    "ecs": TagApi("resourceArn", "tags", "key", "value", "tagKeys"),
    "cloudwatch": TagApi("ResourceARN", "Tags", "Key", "Value", "TagKeys"),
    "application-autoscaling": TagApi("ResourceARN", "Tags", None, None, "TagKeys"),
    "logs": TagApi("resourceArn", "tags", None, None, "tagKeys"),
}


def service_of(arn: str) -> str | None:
    parts = arn.split(":")
    if len(parts) < 6 or parts[0] != "arn":
        return None
    return parts[2] if parts[2] in TAG_APIS else None


def plan_tags(current: Tags, desired: Tags, purge: bool) -> tuple[Tags, list[str]]:
    """Tags to set and keys to remove; AWS-reserved ``aws:`` keys are left alone."""
    to_set = {key: str(value) for key, value in desired.items() if current.get(key) != str(value)}
    to_remove = sorted(
        key for key in current if purge and key not in desired and not key.startswith("aws:")
    )
    return to_set, to_remove


def apply_plan(
    call: Callable[..., Any], api: TagApi, arn: str, to_set: Tags, to_remove: list[str]
) -> None:
    if to_set:
        call("tag_resource", **{api.arn_arg: arn, api.list_key: api.to_api(to_set)})
    if to_remove:
        call("untag_resource", **{api.arn_arg: arn, api.remove_arg: to_remove})


def main() -> None:
    module = AnsibleAWSModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    arn = module.params["resource_arn"]
    service = service_of(arn)
    if service is None:
        module.fail_json(msg=f"resource_arn {arn!r} is not an ARN of {', '.join(sorted(TAG_APIS))}")
    api = TAG_APIS[service]
    client = module.client(service, retry_decorator=AWSRetry.jittered_backoff())

    def call(operation: str, **kwargs: Any) -> Any:
        return getattr(client, operation)(**kwargs, aws_retry=True)

    desired = {str(key): str(value) for key, value in module.params["tags"].items()}
    try:
        current = api.to_dict(call("list_tags_for_resource", **{api.arn_arg: arn})[api.list_key])
        to_set, to_remove = plan_tags(current, desired, module.params["purge_tags"])
        if not module.check_mode:
            apply_plan(call, api, arn, to_set, to_remove)
    except (BotoCoreError, ClientError) as exc:
        module.fail_json_aws(exc, msg=f"cannot tag {arn}")
    after = {key: value for key, value in current.items() if key not in to_remove}
    module.exit_json(
        changed=bool(to_set or to_remove),
        tags={**after, **to_set},
        added=to_set,
        removed=to_remove,
    )


if __name__ == "__main__":
    main()
