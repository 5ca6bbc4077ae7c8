#!/usr/bin/python
# Copyright: contributors to django_ecs.aws
# Apache License 2.0 (see galaxy.yml)
# Ansible wants DOCUMENTATION/EXAMPLES/RETURN before any import (ansible-test validate-modules).

from __future__ import annotations

DOCUMENTATION = r"""
module: ecr_repository
short_description: ECR repository with scan on push, lifecycle policy, tag mutability and tags
version_added: 0.1.0
description:
  - Creates or updates an ECR repository so that its scan-on-push flag, lifecycle policy, tag
    mutability (exclusion filters included) and tags match; or deletes it.
  - Why not C(community.aws.ecs_ecr)? With an existing repository it calls
    PutImageTagMutability with its own O(image_tag_mutability) default on every run without
    reporting a change (community.aws 11.2), so it silently undoes C(IMMUTABLE_WITH_EXCLUSION)
    (latest movable, every SHA tag immutable), which it cannot set itself; it also has no tags
    option.
author:
  - django_ecs.aws maintainers (!UNKNOWN)
options:
  name:
    description: Repository name.
    type: str
    required: true
  state:
    description:
      - Whether the repository exists. V(read) changes nothing and only reports the repository
        (RV(exists)), for environments that reuse a repository another one manages.
    type: str
    choices: [present, absent, read]
    default: present
  scan_on_push:
    description: Basic scanning of every pushed image.
    type: bool
    default: true
  image_tag_mutability:
    description: Tag mutability mode.
    type: str
    choices: [MUTABLE, IMMUTABLE, IMMUTABLE_WITH_EXCLUSION, MUTABLE_WITH_EXCLUSION]
    default: IMMUTABLE_WITH_EXCLUSION
  mutability_exclusion_filters:
    description: Wildcard tag patterns taking the opposite mutability (C(*_WITH_EXCLUSION) only).
    type: list
    elements: str
    default: [latest]
  lifecycle_policy:
    description: Lifecycle policy document (dict); V(null) leaves the current one alone.
    type: dict
  kms_key_id:
    description: KMS key for encryption at rest (creation only); empty is AES256.
    type: str
    default: ""
  tags:
    description: Tags of the repository (others are removed, except C(aws:) ones).
    type: dict
    default: {}
  force_absent:
    description: With O(state=absent), delete the repository even if it holds images.
    type: bool
    default: false
notes:
  - Supports check mode.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Shared app repository, SHA tags immutable, latest movable
  django_ecs.aws.ecr_repository:
    name: django-app
    image_tag_mutability: IMMUTABLE_WITH_EXCLUSION
    mutability_exclusion_filters: [latest]
    lifecycle_policy: "{{ lookup('ansible.builtin.template', 'lifecycle.json.j2') | from_json }}"
    tags: "{{ resource_tags }}"
"""

RETURN = r"""
repository:
  description: The repository as DescribeRepositories returns it (camelCase).
  returned: unless state=absent
  type: dict
exists:
  description: Whether the repository exists after the run.
  returned: success
  type: bool
changes:
  description: What was (or would be) done, among C(create), C(scan), C(mutability), C(lifecycle), C(tags), C(delete).
  returned: success
  type: list
  elements: str
"""

import contextlib
import json
from typing import Any

with contextlib.suppress(ImportError):  # AnsibleAWSModule reports a missing botocore itself
    from botocore.exceptions import BotoCoreError, ClientError

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.django_ecs.aws.plugins.module_utils import ecr_registry as registry

ARGUMENT_SPEC: dict[str, Any] = {
    "name": {"type": "str", "required": True},
    "state": {"type": "str", "choices": ["present", "absent", "read"], "default": "present"},
    "scan_on_push": {"type": "bool", "default": True},
    "image_tag_mutability": {
        "type": "str",
        "choices": ["MUTABLE", "IMMUTABLE", "IMMUTABLE_WITH_EXCLUSION", "MUTABLE_WITH_EXCLUSION"],
        "default": "IMMUTABLE_WITH_EXCLUSION",
    },
    "mutability_exclusion_filters": {"type": "list", "elements": "str", "default": ["latest"]},
    "lifecycle_policy": {"type": "dict"},
    "kms_key_id": {"type": "str", "default": "", "no_log": False},
    "tags": {"type": "dict", "default": {}},
    "force_absent": {"type": "bool", "default": False},
}


def wanted_patterns(params: dict[str, Any]) -> list[str]:
    with_exclusion = params["image_tag_mutability"].endswith("_WITH_EXCLUSION")
    return sorted(set(params["mutability_exclusion_filters"])) if with_exclusion else []


def plan_update(
    repo: dict[str, Any],
    lifecycle: dict[str, Any] | None,
    tags: dict[str, str],
    params: dict[str, Any],
) -> dict[str, Any]:
    """The changes an existing repository needs, keyed by kind (empty: nothing to do)."""
    changes: dict[str, Any] = {}
    scanning = repo.get("imageScanningConfiguration") or {}
    if bool(scanning.get("scanOnPush")) != params["scan_on_push"]:
        changes["scan"] = params["scan_on_push"]
    mutability = registry.plan_tag_mutability(
        repo, params["image_tag_mutability"], wanted_patterns(params)
    )
    if mutability:
        changes["mutability"] = mutability
    wanted_policy = params["lifecycle_policy"]
    if wanted_policy is not None and lifecycle != wanted_policy:
        changes["lifecycle"] = wanted_policy
    current_tags = {k: v for k, v in tags.items() if not k.startswith("aws:")}
    if current_tags != params["tags"]:
        changes["tags"] = current_tags
    return changes


def read_state(client: Any, name: str) -> tuple[dict[str, Any] | None, Any, dict[str, str]]:
    try:
        repo = client.describe_repositories(repositoryNames=[name], aws_retry=True)
    except is_boto3_error_code("RepositoryNotFoundException"):
        return None, None, {}
    repo = repo["repositories"][0]
    try:
        text = client.get_lifecycle_policy(repositoryName=name, aws_retry=True)
        lifecycle = json.loads(text["lifecyclePolicyText"])
    except is_boto3_error_code("LifecyclePolicyNotFoundException"):
        lifecycle = None
    listed = client.list_tags_for_resource(resourceArn=repo["repositoryArn"], aws_retry=True)
    return repo, lifecycle, {t["Key"]: t["Value"] for t in listed.get("tags", [])}


def create(client: Any, params: dict[str, Any]) -> None:
    encryption = {"encryptionType": "AES256"}
    if params["kms_key_id"]:
        encryption = {"encryptionType": "KMS", "kmsKey": params["kms_key_id"]}
    extra: dict[str, Any] = {}
    patterns = wanted_patterns(params)
    if patterns:
        extra["imageTagMutabilityExclusionFilters"] = registry.exclusion_filters(patterns)
    client.create_repository(
        repositoryName=params["name"],
        imageTagMutability=params["image_tag_mutability"],
        imageScanningConfiguration={"scanOnPush": params["scan_on_push"]},
        encryptionConfiguration=encryption,
        tags=[{"Key": k, "Value": v} for k, v in params["tags"].items()],
        **extra,
        aws_retry=True,
    )
    if params["lifecycle_policy"] is not None:
        put_lifecycle(client, params["name"], params["lifecycle_policy"])


def put_lifecycle(client: Any, name: str, policy: dict[str, Any]) -> None:
    client.put_lifecycle_policy(
        repositoryName=name, lifecyclePolicyText=json.dumps(policy, sort_keys=True), aws_retry=True
    )


def update(
    client: Any, repo: dict[str, Any], changes: dict[str, Any], params: dict[str, Any]
) -> None:
    name, arn = params["name"], repo["repositoryArn"]
    if "scan" in changes:
        client.put_image_scanning_configuration(
            repositoryName=name,
            imageScanningConfiguration={"scanOnPush": changes["scan"]},
            aws_retry=True,
        )
    if "mutability" in changes:
        client.put_image_tag_mutability(
            repositoryName=name, **changes["mutability"], aws_retry=True
        )
    if "lifecycle" in changes:
        put_lifecycle(client, name, changes["lifecycle"])
    if "tags" in changes:
        stale = [k for k in changes["tags"] if k not in params["tags"]]
        if stale:
            client.untag_resource(resourceArn=arn, tagKeys=stale, aws_retry=True)
        client.tag_resource(
            resourceArn=arn,
            tags=[{"Key": k, "Value": v} for k, v in params["tags"].items()],
            aws_retry=True,
        )


def converge(module: AnsibleAWSModule, client: Any, params: dict[str, Any]) -> list[str]:
    repo, lifecycle, tags = read_state(client, params["name"])
    if params["state"] == "read":
        return []
    if params["state"] == "absent":
        if repo and not module.check_mode:
            client.delete_repository(
                repositoryName=params["name"], force=params["force_absent"], aws_retry=True
            )
        return ["delete"] if repo else []
    if repo is None:
        if not module.check_mode:
            create(client, params)
        return ["create"]
    changes = plan_update(repo, lifecycle, tags, params)
    if changes and not module.check_mode:
        update(client, repo, changes, params)
    return sorted(changes)


def main() -> None:
    module = AnsibleAWSModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = dict(module.params)
    params["tags"] = {str(k): str(v) for k, v in params["tags"].items()}
    if (
        params["image_tag_mutability"].endswith("_WITH_EXCLUSION")
        and not 1 <= len(set(params["mutability_exclusion_filters"])) <= 5
    ):
        module.fail_json(msg="the *_WITH_EXCLUSION modes need 1 to 5 mutability_exclusion_filters")
    client = module.client("ecr", retry_decorator=AWSRetry.jittered_backoff())
    try:
        changes = converge(module, client, params)
        result: dict[str, Any] = {"changed": bool(changes), "changes": changes}
        repo = read_state(client, params["name"])[0]
        result["exists"] = repo is not None
        if params["state"] != "absent":
            result["repository"] = repo or {"repositoryName": params["name"]}
    except (BotoCoreError, ClientError) as exc:
        module.fail_json_aws(exc, msg=f"cannot manage ECR repository {params['name']}")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
