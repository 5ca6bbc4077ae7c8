#!/usr/bin/python
# Copyright: contributors to django_ecs.aws
# Apache License 2.0 (see galaxy.yml)
# Ansible wants DOCUMENTATION/EXAMPLES/RETURN before any import (ansible-test validate-modules).

from __future__ import annotations

DOCUMENTATION = r"""
module: ecs_task_definition
short_description: Register an ECS task definition revision only when something changed
version_added: 0.1.0
description:
  - Compares the wanted task definition with the latest ACTIVE revision of O(family), field by
    field, and registers a new revision only when any field differs. Returns the fields that
    changed.
  - Both sides are normalised first, so defaults AWS fills in (C(essential), container C(cpu) 0,
    C(protocol) tcp, C(hostPort) under awsvpc, health check timings, empty lists), the order of
    environment variables, secrets, port mappings, mount points and containers, and C(cpu) or
    C(memory) written as an integer, a string or C(0.25 vCPU) / C(1 GB) never cause a revision.
  - Tags are applied to the new revision, or to the latest one with TagResource/UntagResource
    when only tags changed (tags alone never create a revision).
  - Older revisions are left ACTIVE so that a deployment circuit breaker can roll back to them.
  - Why not C(community.aws.ecs_taskdefinition)? Its comparison misses changes of task C(cpu)
    and C(memory), the execution role, the runtime platform and environment variable values
    (measured with community.aws 11.2 -- C(changed=false), the old revision kept, so a new image
    setting or a resize silently never deploys), and it has no C(tags) option.
author:
  - django_ecs.aws maintainers (!UNKNOWN)
options:
  family:
    description: Task definition family.
    type: str
    required: true
  container_definitions:
    description:
      - Container definitions exactly as RegisterTaskDefinition takes them, in the API's
        camelCase (C(name), C(image), C(portMappings), C(environment), C(secrets),
        C(logConfiguration), C(healthCheck), ...). Names must be unique.
      - Environment values that YAML reads as numbers are sent as strings; booleans are
        refused, quote them.
    type: list
    elements: dict
    required: true
  cpu:
    description: Task CPU units (C(256)) or vCPUs (C(0.25 vCPU)). Required for Fargate.
    type: str
  memory:
    description: Task memory in MiB (C(512)) or GB (C(0.5 GB)). Required for Fargate.
    type: str
  network_mode:
    description: Docker network mode. Defaults to C(awsvpc) for Fargate, C(bridge) otherwise.
    type: str
    choices: [bridge, host, awsvpc, none]
  requires_compatibilities:
    description: Launch types the definition is validated against.
    type: list
    elements: str
    choices: [EC2, FARGATE, EXTERNAL, MANAGED_INSTANCES]
  execution_role_arn:
    description: Role the ECS agent uses to pull the image, read secrets and write logs.
    type: str
  task_role_arn:
    description: Role the application's containers assume.
    type: str
  runtime_platform:
    description: Operating system and CPU architecture Fargate runs the task on.
    type: dict
    suboptions:
      cpu_architecture:
        description: CPU architecture.
        type: str
        choices: [X86_64, ARM64]
      operating_system_family:
        description: Operating system family, for example C(LINUX).
        type: str
  volumes:
    description: Volumes, in the API's camelCase (C(name), C(host), C(efsVolumeConfiguration)).
    type: list
    elements: dict
  placement_constraints:
    description: Placement constraints, in the API's camelCase (EC2 launch type only).
    type: list
    elements: dict
  pid_mode:
    description: Process namespace.
    type: str
    choices: [host, task]
  ipc_mode:
    description: IPC namespace.
    type: str
    choices: [host, task, none]
  ephemeral_storage:
    description: Fargate ephemeral storage.
    type: dict
    suboptions:
      size_in_gib:
        description: Size in GiB (21 to 200).
        type: int
        required: true
  tags:
    description:
      - Tags of the task definition. V(null) leaves tags alone (a new revision then carries
        the previous revision's tags).
    type: dict
    aliases: [resource_tags]
  purge_tags:
    description: Remove tags not listed in O(tags).
    type: bool
    default: true
notes:
  - Supports check mode (reports RV(changes) without registering) and diff mode.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Django web task, a new revision only when something in it changed
  django_ecs.aws.ecs_task_definition:
    family: dev-djg-web-ander
    cpu: "256"
    memory: "512"
    network_mode: awsvpc
    requires_compatibilities: [FARGATE]
    execution_role_arn: "{{ execution_role.arn }}"
    task_role_arn: "{{ task_role.arn }}"
    runtime_platform:
      cpu_architecture: X86_64
      operating_system_family: LINUX
    container_definitions:
      - name: web
        image: "{{ app_image.image_uri }}"
        portMappings: [{containerPort: 8000}]
        environment:
          - {name: DJANGO_ALLOWED_HOSTS, value: "{{ alb_dns_name }}"}
          - {name: DB_PORT, value: 5432}
        secrets:
          - {name: DJANGO_SECRET_KEY, valueFrom: "{{ secret_key_arn }}"}
        logConfiguration:
          logDriver: awslogs
          options:
            awslogs-group: /aws/django-ecs/dev/web
            awslogs-region: us-east-1
            awslogs-stream-prefix: web
    tags: "{{ common_tags }}"
  register: web_task
"""

RETURN = r"""
task_definition_arn:
  description:
    - ARN of the revision now current. In check mode, when a revision would be registered, the
      ARN of the latest existing one (null when the family does not exist yet).
  returned: success
  type: str
  sample: arn:aws:ecs:us-east-1:123456789012:task-definition/dev-djg-web-ander:7
revision:
  description: Revision number matching RV(task_definition_arn).
  returned: success
  type: int
family:
  description: Task definition family.
  returned: success
  type: str
registered:
  description: Whether a new revision was (or in check mode would be) registered.
  returned: success
  type: bool
changes:
  description:
    - Fields that differ, on the normalised form, as dotted paths (containers and environment
      variables by name, for example C(containerDefinitions.web.environment.DEBUG)).
    - Tag changes appear as C(tags.<key>).
  returned: success
  type: list
  elements: dict
  sample: [{field: cpu, before: "256", after: "512"}]
task_definition:
  description: The task definition as DescribeTaskDefinition returns it (camelCase).
  returned: when a revision exists (after the run, or before it in check mode)
  type: dict
"""

import contextlib
from typing import Any

with contextlib.suppress(ImportError):  # AnsibleAWSModule reports a missing botocore itself
    from botocore.exceptions import BotoCoreError, ClientError

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.tagging import (
    ansible_dict_to_boto3_tag_list,
    boto3_tag_list_to_ansible_dict,
    compare_aws_tags,
)
from ansible_collections.django_ecs.aws.plugins.module_utils import ecs_task_definition as td

ARGUMENT_SPEC: dict[str, Any] = {
    "family": {"type": "str", "required": True},
    "container_definitions": {"type": "list", "elements": "dict", "required": True},
    "cpu": {"type": "str"},
    "memory": {"type": "str"},
    "network_mode": {"type": "str", "choices": ["bridge", "host", "awsvpc", "none"]},
    "requires_compatibilities": {
        "type": "list",
        "elements": "str",
        "choices": ["EC2", "FARGATE", "EXTERNAL", "MANAGED_INSTANCES"],
    },
    "execution_role_arn": {"type": "str"},
    "task_role_arn": {"type": "str"},
    "runtime_platform": {
        "type": "dict",
        "options": {
            "cpu_architecture": {"type": "str", "choices": ["X86_64", "ARM64"]},
            "operating_system_family": {"type": "str"},
        },
    },
    "volumes": {"type": "list", "elements": "dict"},
    "placement_constraints": {"type": "list", "elements": "dict"},
    "pid_mode": {"type": "str", "choices": ["host", "task"]},
    "ipc_mode": {"type": "str", "choices": ["host", "task", "none"]},
    "ephemeral_storage": {
        "type": "dict",
        "options": {"size_in_gib": {"type": "int", "required": True}},
    },
    "tags": {"type": "dict", "aliases": ["resource_tags"]},
    "purge_tags": {"type": "bool", "default": True},
}


def describe(client: Any, task_definition: str) -> tuple[dict[str, Any], dict[str, str]]:
    response = client.describe_task_definition(
        taskDefinition=task_definition, include=["TAGS"], aws_retry=True
    )
    return response["taskDefinition"], boto3_tag_list_to_ansible_dict(
        response.get("tags") or [], "key", "value"
    )


def latest_active(client: Any, family: str) -> tuple[dict[str, Any] | None, dict[str, str]]:
    """Latest ACTIVE revision and its tags, or (None, {}) when the family has none."""
    try:
        current, tags = describe(client, family)
    except is_boto3_error_code("ClientException"):
        return None, {}
    if current.get("status") == "ACTIVE":
        return current, tags
    # Some implementations answer with the newest revision even when it was deregistered.
    paginator = client.get_paginator("list_task_definitions")
    pages = paginator.paginate(familyPrefix=family, status="ACTIVE", sort="DESC")
    for page in pages:
        for arn in page.get("taskDefinitionArns", []):
            if arn.rsplit("/", 1)[-1].rsplit(":", 1)[0] == family:
                return describe(client, arn)
    return None, {}


def tag_changes(
    current: dict[str, str], wanted: dict[str, str] | None, purge: bool
) -> tuple[dict[str, str], list[str]]:
    if wanted is None:
        return {}, []
    return compare_aws_tags(current, wanted, purge_tags=purge)


def tag_diff(current: dict[str, str], to_set: dict[str, str], to_unset: list[str]) -> list[dict]:
    entries = [
        {"field": f"tags.{k}", "before": current.get(k), "after": v} for k, v in to_set.items()
    ]
    entries += [{"field": f"tags.{k}", "before": current[k], "after": None} for k in to_unset]
    return sorted(entries, key=lambda e: e["field"])


def register(client: Any, request: dict[str, Any], tags: dict[str, str]) -> dict[str, Any]:
    extra = {"tags": ansible_dict_to_boto3_tag_list(tags, "key", "value")} if tags else {}
    response = client.register_task_definition(**request, **extra, aws_retry=True)
    return response["taskDefinition"]


def retag(client: Any, arn: str, to_set: dict[str, str], to_unset: list[str]) -> None:
    if to_unset:
        client.untag_resource(resourceArn=arn, tagKeys=to_unset, aws_retry=True)
    if to_set:
        tags = ansible_dict_to_boto3_tag_list(to_set, "key", "value")
        client.tag_resource(resourceArn=arn, tags=tags, aws_retry=True)


def run(module: AnsibleAWSModule, client: Any, request: dict[str, Any]) -> dict[str, Any]:
    params = module.params
    current, current_tags = latest_active(client, params["family"])
    desired = td.canonical_task_definition(request)
    before = td.canonical_task_definition(current) if current else None
    changes = td.diff_definitions(before, desired)
    to_set, to_unset = tag_changes(current_tags, params["tags"], params["purge_tags"])
    needs_revision = current is None or bool(changes)
    result_definition = current
    if needs_revision and not module.check_mode:
        tags = current_tags if params["tags"] is None else params["tags"]
        result_definition = register(client, request, tags)
    elif current and (to_set or to_unset) and not module.check_mode:
        retag(client, current["taskDefinitionArn"], to_set, to_unset)
    result: dict[str, Any] = {
        "changed": needs_revision or bool(to_set or to_unset),
        "registered": needs_revision,
        "family": params["family"],
        "changes": changes + tag_diff(current_tags, to_set, to_unset),
        "task_definition_arn": (result_definition or {}).get("taskDefinitionArn"),
        "revision": (result_definition or {}).get("revision"),
        "task_definition": result_definition,
    }
    if module._diff:
        result["diff"] = {"before": before or {}, "after": desired}
    return result


def main() -> None:
    module = AnsibleAWSModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    try:
        request = td.build_request(module.params)
        problems = td.validate_request(request)
    except (td.TaskDefinitionError, KeyError, TypeError, ValueError) as exc:
        module.fail_json(msg=f"invalid task definition: {exc}")
    if problems:
        module.fail_json(msg="invalid task definition: " + "; ".join(problems))
    client = module.client("ecs", retry_decorator=AWSRetry.jittered_backoff())
    try:
        result = run(module, client, request)
    except (BotoCoreError, ClientError) as exc:
        module.fail_json_aws(exc, msg=f"cannot register task definition {module.params['family']}")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
