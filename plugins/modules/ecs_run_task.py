#!/usr/bin/python
# Copyright: contributors to django_ecs.aws
# Apache License 2.0 (see galaxy.yml)
# Ansible wants DOCUMENTATION/EXAMPLES/RETURN before any import (ansible-test validate-modules).

from __future__ import annotations

DOCUMENTATION = r"""
module: ecs_run_task
short_description: Run a one-off ECS task of an exact task definition revision, unless a service runs it
version_added: 0.1.0
description:
  - Starts O(task_definition) (C(family:revision) or its ARN) with RunTask and, with O(wait),
    waits for it to stop and reports each container's exit code.
  - With O(unless_service), nothing runs when that service of the cluster is already on
    O(task_definition); a re-run of a converged deployment makes one DescribeServices call and
    no RunTask. A deployment whose one-off task failed is not moved to the revision, so the
    next run starts the task again.
  - IAM is eventually consistent. When ECS cannot yet assume a role that was just created (RunTask
    answers C(ClientException) or C(InvalidParameterException) with "unable to assume", or the
    task stops before starting with that reason), RunTask is retried until
    O(role_propagation_timeout). Any other error fails at once, and a successful first call never
    waits.
  - Why not C(community.aws.ecs_task)? It first calls ListTasks with the task definition as the
    C(family) filter, and AWS refuses a family containing C(:) (so an exact revision never
    starts, ansible/ansible#32872); it also treats any running task whose ARN ends with that
    value as "already running".
author:
  - django_ecs.aws maintainers (!UNKNOWN)
options:
  cluster:
    description: Cluster name or ARN.
    type: str
    required: true
  task_definition:
    description: The exact revision to run, C(family:revision) or a task definition ARN.
    type: str
    required: true
  launch_type:
    description: Launch type of the task.
    type: str
    choices: [FARGATE, EC2]
    default: FARGATE
  network_configuration:
    description: awsvpc network of the task.
    type: dict
    suboptions:
      subnets:
        description: Subnet ids.
        type: list
        elements: str
        required: true
      security_groups:
        description: Security group ids.
        type: list
        elements: str
        default: []
      assign_public_ip:
        description: Give the task a public IP.
        type: bool
        default: false
  overrides:
    description:
      - Task overrides exactly as RunTask takes them (C(containerOverrides), C(taskRoleArn), ...).
    type: dict
  started_by:
    description: The C(startedBy) value of the task.
    type: str
  tags:
    description: Tags of the task.
    type: dict
    aliases: [resource_tags]
  unless_service:
    description: Skip the task when this service of O(cluster) already uses O(task_definition).
    type: str
  wait:
    description: Wait for the task to stop and return the exit codes.
    type: bool
    default: false
  wait_timeout:
    description: Seconds to wait for the task to stop.
    type: int
    default: 900
  role_propagation_timeout:
    description:
      - Seconds during which a role ECS cannot assume yet (just created) is retried.
    type: int
    default: 120
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Migrate with the new revision unless the service already runs it
  django_ecs.aws.ecs_run_task:
    cluster: dev-djg-cluster-ander
    task_definition: dev-djg-app-ander:7
    unless_service: dev-djg-service-ander
    network_configuration:
      subnets: [subnet-0123456789abcdef0]
      security_groups: [sg-0123456789abcdef0]
    overrides:
      taskRoleArn: arn:aws:iam::123456789012:role/dev-djg-ecs-migrate-role-ander
      containerOverrides:
        - name: app
          command: [migrate]
    started_by: ansible-migrate
    wait: true
  register: migration
"""

RETURN = r"""
ran:
  description: Whether a task was (or in check mode would be) started.
  returned: always
  type: bool
reason:
  description: Why the task was started or skipped.
  returned: always
  type: str
  sample: service dev-djg-service-ander is on dev-djg-app-ander:6
task_arns:
  description: ARNs of the tasks started.
  returned: always
  type: list
  elements: str
tasks:
  description: The tasks as RunTask, or DescribeTasks after the wait, returns them (camelCase).
  returned: always
  type: list
  elements: dict
exit_codes:
  description: Exit code of each container once the task stopped (null when it never ran).
  returned: when O(wait) and a task ran
  type: dict
  sample: {app: 0}
stopped_reason:
  description: Why the task stopped.
  returned: when O(wait) and a task ran
  type: str
attempts:
  description: RunTask calls made (more than one while a new role propagated).
  returned: always
  type: int
"""

import contextlib
import re
import time
from collections.abc import Callable
from typing import Any

with contextlib.suppress(ImportError):  # AnsibleAWSModule reports a missing botocore itself
    from botocore.exceptions import BotoCoreError, ClientError, WaiterError

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.tagging import (
    ansible_dict_to_boto3_tag_list,
)

ARGUMENT_SPEC: dict[str, Any] = {
    "cluster": {"type": "str", "required": True},
    "task_definition": {"type": "str", "required": True},
    "launch_type": {"type": "str", "choices": ["FARGATE", "EC2"], "default": "FARGATE"},
    "network_configuration": {
        "type": "dict",
        "options": {
            "subnets": {"type": "list", "elements": "str", "required": True},
            "security_groups": {"type": "list", "elements": "str", "default": []},
            "assign_public_ip": {"type": "bool", "default": False},
        },
    },
    "overrides": {"type": "dict"},
    "started_by": {"type": "str"},
    "tags": {"type": "dict", "aliases": ["resource_tags"]},
    "unless_service": {"type": "str"},
    "wait": {"type": "bool", "default": False},
    "wait_timeout": {"type": "int", "default": 900},
    "role_propagation_timeout": {"type": "int", "default": 120},
}
# What ECS says while IAM has not propagated a new role (task role, execution role or its own
# service-linked role): "ECS was unable to assume the role ..." / "Unable to assume the service
# linked role ...".
ROLE_NOT_ASSUMABLE = re.compile(r"unable to assume", re.IGNORECASE)
ROLE_ERROR_CODES = frozenset({"ClientException", "InvalidParameterException"})
RETRY_DELAY = 5.0
WAIT_DELAY = 6


class RoleNotAssumableError(Exception):
    """ECS could not assume a role yet; the message is ECS's."""


def revision_of(task_definition: str) -> str:
    """``family:revision`` of a task definition ARN or of ``family:revision`` itself."""
    return task_definition.rsplit("/", 1)[-1]


def is_role_propagation_error(code: str, message: str) -> bool:
    """Whether an ECS error means "the role exists but cannot be assumed yet"."""
    return code in ROLE_ERROR_CODES and bool(ROLE_NOT_ASSUMABLE.search(message or ""))


def skip_reason(service: dict[str, Any] | None, task_definition: str) -> str | None:
    """Why no task is needed (the service already runs that revision), or None to run it."""
    if not service or service.get("status") != "ACTIVE":
        return None
    live = revision_of(service.get("taskDefinition") or "")
    if live == revision_of(task_definition):
        return f"service {service['serviceName']} is already on {live}"
    return None


def run_reason(service: dict[str, Any] | None, unless_service: str | None) -> str:
    if not unless_service:
        return "requested"
    if not service or service.get("status") != "ACTIVE":
        return f"service {unless_service} does not exist yet"
    return f"service {unless_service} is on {revision_of(service.get('taskDefinition') or '')}"


def run_task_request(params: dict[str, Any]) -> dict[str, Any]:
    request: dict[str, Any] = {
        "cluster": params["cluster"],
        "taskDefinition": params["task_definition"],
        "launchType": params["launch_type"],
        "count": 1,
    }
    network = params["network_configuration"]
    if network:
        awsvpc: dict[str, Any] = {
            "subnets": network["subnets"],
            "assignPublicIp": "ENABLED" if network["assign_public_ip"] else "DISABLED",
        }
        groups = [group for group in network["security_groups"] if group]
        if groups:
            awsvpc["securityGroups"] = groups
        request["networkConfiguration"] = {"awsvpcConfiguration": awsvpc}
    if params["overrides"]:
        request["overrides"] = params["overrides"]
    if params["started_by"]:
        request["startedBy"] = params["started_by"]
    if params["tags"]:
        request["tags"] = ansible_dict_to_boto3_tag_list(params["tags"], "key", "value")
    return request


def exit_codes(task: dict[str, Any]) -> dict[str, int | None]:
    return {c["name"]: c.get("exitCode") for c in task.get("containers", [])}


def never_started_for_role(task: dict[str, Any]) -> bool:
    """A task that stopped before its containers ran because ECS could not assume a role."""
    reason = task.get("stoppedReason") or ""
    return bool(ROLE_NOT_ASSUMABLE.search(reason)) and all(
        code is None for code in exit_codes(task).values()
    )


def find_service(client: Any, cluster: str, name: str) -> dict[str, Any] | None:
    response = client.describe_services(cluster=cluster, services=[name], aws_retry=True)
    services = [s for s in response.get("services", []) if s.get("status") == "ACTIVE"]
    return services[0] if services else None


def start_task(client: Any, request: dict[str, Any]) -> dict[str, Any]:
    try:
        response = client.run_task(**request, aws_retry=True)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        if is_role_propagation_error(error.get("Code", ""), error.get("Message", "")):
            raise RoleNotAssumableError(error.get("Message", "")) from exc
        raise
    failures = response.get("failures") or []
    if failures or not response.get("tasks"):
        reasons = "; ".join(f"{f.get('reason')} {f.get('detail') or ''}".strip() for f in failures)
        raise RuntimeError(f"RunTask started no task: {reasons or 'no reason given'}")
    return response["tasks"][0]


def wait_stopped(client: Any, cluster: str, task_arn: str, timeout: int) -> dict[str, Any]:
    waiter = client.get_waiter("tasks_stopped")
    # The waiter reads at once, then every delay: a short timeout still gets several reads.
    delay = min(WAIT_DELAY, max(1, timeout // 3))
    waiter.wait(
        cluster=cluster,
        tasks=[task_arn],
        WaiterConfig={"Delay": delay, "MaxAttempts": 1 + -(-timeout // delay)},
    )
    return client.describe_tasks(cluster=cluster, tasks=[task_arn], aws_retry=True)["tasks"][0]


def run_until_role_propagates(
    attempt: Callable[[], dict[str, Any]],
    timeout: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[dict[str, Any], int]:
    """Call ``attempt`` until it returns, retrying RoleNotAssumableError only, within ``timeout``."""
    deadline = clock() + timeout
    calls = 0
    while True:
        calls += 1
        try:
            return attempt(), calls
        except RoleNotAssumableError:
            if clock() + RETRY_DELAY > deadline:
                raise
            sleep(RETRY_DELAY)


def run(module: AnsibleAWSModule, client: Any) -> dict[str, Any]:
    params = module.params
    service = None
    if params["unless_service"]:
        service = find_service(client, params["cluster"], params["unless_service"])
    skipped = skip_reason(service, params["task_definition"])
    result: dict[str, Any] = {"task_arns": [], "tasks": [], "attempts": 0}
    if skipped:
        return {**result, "changed": False, "ran": False, "reason": skipped}
    result.update(changed=True, ran=True, reason=run_reason(service, params["unless_service"]))
    if module.check_mode:
        return result
    request = run_task_request(params)

    def attempt() -> dict[str, Any]:
        task = start_task(client, request)
        if not params["wait"]:
            return task
        stopped = wait_stopped(client, params["cluster"], task["taskArn"], params["wait_timeout"])
        if never_started_for_role(stopped):
            raise RoleNotAssumableError(stopped.get("stoppedReason", ""))
        return stopped

    task, calls = run_until_role_propagates(attempt, params["role_propagation_timeout"])
    result.update(task_arns=[task["taskArn"]], tasks=[task], attempts=calls)
    if params["wait"]:
        result.update(exit_codes=exit_codes(task), stopped_reason=task.get("stoppedReason", ""))
    return result


def main() -> None:
    module = AnsibleAWSModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    client = module.client("ecs", retry_decorator=AWSRetry.jittered_backoff())
    name = module.params["task_definition"]
    try:
        result = run(module, client)
    except RoleNotAssumableError as exc:
        module.fail_json(
            msg=f"ECS still cannot assume a role of {name} after "
            f"{module.params['role_propagation_timeout']} s: {exc}"
        )
    except WaiterError as exc:
        module.fail_json(msg=f"task of {name} did not stop within the wait: {exc}")
    except RuntimeError as exc:
        module.fail_json(msg=f"cannot run {name}: {exc}")
    except (BotoCoreError, ClientError) as exc:
        module.fail_json_aws(exc, msg=f"cannot run {name}")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
