#!/usr/bin/python
# Copyright: contributors to django_ecs.aws
# Apache License 2.0 (see galaxy.yml)
# Ansible wants DOCUMENTATION/EXAMPLES/RETURN before any import (ansible-test validate-modules).

from __future__ import annotations

DOCUMENTATION = r"""
module: converged_state
short_description: Read what each role of a layer last converged, and what changed in AWS since
version_added: 0.1.0
description:
  - Reads the stamps that M(django_ecs.aws.converged_record) left under O(path) (SSM Parameter
    Store, one call per ten stamps), then reads every resource each stamp lists, in this one
    process (eight threads, so AWS's round trips overlap), and compares it field by field with
    what the role left behind.
  - Returns per role part its recorded code and input fingerprints, the facts it published, and the
    resources that changed since (C(live_drift)). The C(django_ecs.aws.converged) lookup, inside
    each role, adds the comparison of its code and inputs and decides whether the role may be
    skipped.
  - A layer's no-op re-run costs this one read instead of one module start-up (about 0.5 to 1 s
    on a small machine) per task of every role.
  - Why a custom module? No amazon.aws or community.aws module reads a whole layer's resources in
    one process, which is the cost this module exists to avoid; it only reads.
  - Read-only; supports check mode (it behaves the same).
author:
  - django_ecs.aws maintainers (!UNKNOWN)
options:
  path:
    description: The SSM path of the layer's stamps (C(converged_path) in group_vars).
    type: str
    required: true
  parts:
    description: The role parts of the layer to read (stamps of other layers under the same path are left alone).
    type: list
    elements: str
    required: true
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Read what the app layer's roles last converged
  django_ecs.aws.converged_state:
    path: /dev-djg-converged-ander
    parts: [observability, ecr, ecs_cluster, alb, ecs_service, ecs_autoscaling]
  register: converged_state
"""

RETURN = r"""
parts:
  description: Per role part, its stamp (or null when it never converged) and what changed in AWS since.
  returned: always
  type: dict
  sample:
    ecs_cluster:
      recorded: true
      code: 3f1c0a9e2b7d4c11
      inputs: {ecs_cluster_name: 9a0c3e1f7b2d4a60}
      outputs: {ecs_cluster_name: dev-djg-cluster-ander}
      live_drift: []
api_calls:
  description: AWS requests this read made.
  returned: always
  type: int
  sample: 42
"""

import contextlib
from typing import Any

with contextlib.suppress(ImportError):  # AnsibleAWSModule reports a missing botocore
    import botocore.exceptions

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.django_ecs.aws.plugins.module_utils.aws_clients import counting_clients
from ansible_collections.django_ecs.aws.plugins.module_utils.converged import (
    decode_stamp,
    live_differences,
    parameter_name,
    resource_key,
)
from ansible_collections.django_ecs.aws.plugins.module_utils.live_resources import read_each

ARGUMENT_SPEC: dict[str, Any] = {
    "path": {"type": "str", "required": True},
    "parts": {"type": "list", "elements": "str", "required": True},
}


def read_stamps(ssm: Any, path: str, parts: list[str]) -> dict[str, dict[str, Any] | None]:
    """Each part's stamp, None when it has none (GetParameters takes ten names at a time)."""
    names = {parameter_name(path, part): part for part in parts}
    found: dict[str, dict[str, Any] | None] = dict.fromkeys(parts)
    listed = list(names)
    for start in range(0, len(listed), 10):
        answer = ssm.get_parameters(Names=listed[start : start + 10])
        for parameter in answer.get("Parameters", []):
            found[names[parameter["Name"]]] = decode_stamp(parameter["Value"])
    return found


def part_state(stamp: dict[str, Any] | None, current: dict[str, Any]) -> dict[str, Any]:
    """A part's stamp beside what AWS says now of the resources it lists (``current``)."""
    if stamp is None:
        return {"recorded": False, "code": "", "inputs": {}, "outputs": {}, "live_drift": []}
    return {
        "recorded": True,
        "version": stamp.get("version"),
        "code": stamp.get("code", ""),
        "inputs": stamp.get("inputs", {}),
        "outputs": stamp.get("outputs", {}),
        "live_drift": live_differences(stamp.get("live", {}), current),
    }


def part_states(client: Any, stamps: dict[str, dict[str, Any] | None]) -> dict[str, Any]:
    """Every part's state. The resources of all parts are read in one concurrent pass, each as
    its own part recorded it (two parts may list the same resource with different identifiers)."""
    listed = [(part, resource) for part, stamp in stamps.items() for resource in _resources(stamp)]
    live = read_each(client, [resource for _, resource in listed])
    current: dict[str, dict[str, Any]] = {part: {} for part in stamps}
    for (part, resource), answer in zip(listed, live, strict=True):
        current[part][resource_key(resource)] = answer
    return {part: part_state(stamp, current[part]) for part, stamp in stamps.items()}


def _resources(stamp: dict[str, Any] | None) -> list[dict[str, Any]]:
    return stamp.get("resources", []) if stamp else []


def run(module: Any) -> None:
    """The read, on ``AnsibleAWSModule`` here or ``ControllerModule`` in the action plugin
    (plugins/action/converged_state.py runs it in the controller's worker); ends in exit_json."""
    calls = [0]
    client = counting_clients(module, calls)
    try:
        stamps = read_stamps(client("ssm"), module.params["path"], module.params["parts"])
        parts = part_states(client, stamps)
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as error:
        module.fail_json_aws(error, msg=f"Could not read the stamps under {module.params['path']}")
    module.exit_json(changed=False, parts=parts, api_calls=calls[0])


def main() -> None:
    run(AnsibleAWSModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True))


if __name__ == "__main__":
    main()
