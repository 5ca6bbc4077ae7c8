#!/usr/bin/python
# Copyright: contributors to django_ecs.aws
# Apache License 2.0 (see galaxy.yml)
# Ansible wants DOCUMENTATION/EXAMPLES/RETURN before any import (ansible-test validate-modules).

from __future__ import annotations

DOCUMENTATION = r"""
module: ecr_repository_settings
short_description: Set ECR tag mutability, including the *_WITH_EXCLUSION modes
version_added: 1.0.0
description:
  - Sets the image tag mutability of an existing ECR repository, idempotently.
  - Supports C(IMMUTABLE_WITH_EXCLUSION), which keeps commit-SHA tags immutable while tags
    matching an exclusion filter (for example C(latest)) stay movable, and
    C(MUTABLE_WITH_EXCLUSION), the reverse.
  - Why not C(community.aws.ecs_ecr)? Its O(community.aws.ecs_ecr#module:image_tag_mutability)
    only offers C(mutable) and C(immutable) and it has no exclusion filters; those exist only
    in the ECR API (PutImageTagMutability), hence this module. Create the repository, its
    scanning and lifecycle policy with C(community.aws.ecs_ecr), then run this module.
author:
  - django_ecs.aws contributors
options:
  repository:
    description: Name of the ECR repository.
    type: str
    required: true
    aliases: [repository_name]
  registry_id:
    description: Account ID of the registry, when it is not the caller's.
    type: str
  image_tag_mutability:
    description: Tag mutability mode.
    type: str
    required: true
    choices: [MUTABLE, IMMUTABLE, IMMUTABLE_WITH_EXCLUSION, MUTABLE_WITH_EXCLUSION]
  mutability_exclusion_filters:
    description:
      - Wildcard patterns (C(*) matches any characters) of tags that take the opposite
        mutability. Required by, and only allowed with, the C(*_WITH_EXCLUSION) modes (1 to 5).
    type: list
    elements: str
    default: []
notes:
  - Supports check mode.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Commit-SHA tags immutable, latest movable
  django_ecs.aws.ecr_repository_settings:
    repository: django-app
    image_tag_mutability: IMMUTABLE_WITH_EXCLUSION
    mutability_exclusion_filters: [latest]
"""

RETURN = r"""
image_tag_mutability:
  description: Mutability mode after the run.
  returned: success
  type: str
  sample: IMMUTABLE_WITH_EXCLUSION
mutability_exclusion_filters:
  description: Exclusion patterns after the run, sorted.
  returned: success
  type: list
  elements: str
  sample: [latest]
before:
  description: Mode and patterns found before the run.
  returned: success
  type: dict
"""

import contextlib
from typing import Any

with contextlib.suppress(ImportError):  # AnsibleAWSModule reports a missing botocore itself
    from botocore.exceptions import BotoCoreError, ClientError

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.django_ecs.aws.plugins.module_utils import ecr_registry as registry

ARGUMENT_SPEC: dict[str, Any] = {
    "repository": {"type": "str", "required": True, "aliases": ["repository_name"]},
    "registry_id": {"type": "str"},
    "image_tag_mutability": {
        "type": "str",
        "required": True,
        "choices": ["MUTABLE", "IMMUTABLE", "IMMUTABLE_WITH_EXCLUSION", "MUTABLE_WITH_EXCLUSION"],
    },
    "mutability_exclusion_filters": {"type": "list", "elements": "str", "default": []},
}


def validate(params: dict[str, Any]) -> str | None:
    """ECR's own rule, checked before any call so the error names our option."""
    with_exclusion = params["image_tag_mutability"].endswith("_WITH_EXCLUSION")
    patterns = params["mutability_exclusion_filters"]
    if with_exclusion and not 1 <= len(patterns) <= 5:
        return "the *_WITH_EXCLUSION modes need 1 to 5 mutability_exclusion_filters"
    if not with_exclusion and patterns:
        return "mutability_exclusion_filters are only allowed with the *_WITH_EXCLUSION modes"
    return None


def summary(repository: dict[str, Any]) -> dict[str, Any]:
    filters = repository.get("imageTagMutabilityExclusionFilters") or []
    return {
        "image_tag_mutability": repository.get("imageTagMutability"),
        "mutability_exclusion_filters": sorted(f["filter"] for f in filters),
    }


def main() -> None:
    module = AnsibleAWSModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    problem = validate(module.params)
    if problem:
        module.fail_json(msg=problem)
    name, registry_id = module.params["repository"], module.params["registry_id"]
    client = module.client("ecr", retry_decorator=AWSRetry.jittered_backoff())
    try:
        current = registry.describe_repository(client, name, registry_id)
        change = registry.plan_tag_mutability(
            current,
            module.params["image_tag_mutability"],
            module.params["mutability_exclusion_filters"],
        )
        if change and not module.check_mode:
            extra = {"registryId": registry_id} if registry_id else {}
            client.put_image_tag_mutability(repositoryName=name, **change, **extra, aws_retry=True)
    except is_boto3_error_code("RepositoryNotFoundException") as exc:
        module.fail_json_aws(exc, msg=f"ECR repository {name} not found")
    except (BotoCoreError, ClientError) as exc:  # pylint: disable=duplicate-except
        module.fail_json_aws(exc, msg=f"cannot set tag mutability of {name}")
    after = summary({**current, **change}) if change else summary(current)
    module.exit_json(changed=bool(change), before=summary(current), **after)


if __name__ == "__main__":
    main()
