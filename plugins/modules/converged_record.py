#!/usr/bin/python
# Copyright: contributors to django_ecs.aws
# Apache License 2.0 (see galaxy.yml)
# Ansible wants DOCUMENTATION/EXAMPLES/RETURN before any import (ansible-test validate-modules).

from __future__ import annotations

DOCUMENTATION = r"""
module: converged_record
short_description: Record what a role just converged, so the next run can skip it when nothing changed
version_added: 0.1.0
description:
  - Run as the last task of a role part that ran in full. Reads the resources the role manages
    as AWS describes them now and stores a stamp in SSM Parameter Store (a standard parameter,
    C(<path>/<part>)) with the role's code and input fingerprints (from the
    C(django_ecs.aws.converged) lookup), a fingerprint per field of each resource, and the facts the
    role publishes.
  - Nothing in the stamp restates what the role converges to; see
    C(plugins/module_utils/converged.py) for why a missing or different stamp only costs a full run.
  - Secret values are never read; inputs are stored as digests only.
  - Why a custom module? amazon.aws's C(ssm_parameter) would need the resources read by one
    C(*_info) task each first, the start-ups this fast path exists to save.
  - C(changed) is always false. The stamp is the collection's bookkeeping, as Terraform's state
    is, not a resource of the stack, so a run that changed nothing in the stack still reports
    C(changed=0) (after an upgrade of the collection, for instance). C(written) says whether the
    stamp was (or, in check mode, would be) written.
  - In check mode nothing is written.
author:
  - django_ecs.aws maintainers (!UNKNOWN)
options:
  path:
    description: The SSM path of the stamps (C(converged_path) in group_vars).
    type: str
    required: true
  part:
    description: The role part, e.g. C(ecs_service) or C(rds_available).
    type: str
    required: true
  code:
    description: The fingerprint of the role's code (C(code) of the C(django_ecs.aws.converged) lookup).
    type: str
    required: true
  inputs:
    description: The fingerprint of each role variable (C(inputs) of the lookup).
    type: dict
    required: true
  resources:
    description:
      - What the role manages, each a C(kind) (a reader of C(plugins/module_utils/live_resources.py))
        and its identifiers (C(name), C(id), C(cluster), ...).
    type: list
    elements: dict
    required: true
  outputs:
    description: The facts the role publishes to later roles, re-published when it is skipped.
    type: dict
    default: {}
  tags:
    description: Tags of the parameter.
    type: dict
    default: {}
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Record what the cluster role converged
  django_ecs.aws.converged_record:
    path: /dev-djg-converged-ander
    part: ecs_cluster
    code: "{{ _ecs_cluster_converged.code }}"
    inputs: "{{ _ecs_cluster_converged.inputs }}"
    resources:
      - {kind: ecs_cluster, name: dev-djg-cluster-ander}
    outputs: {}
"""

RETURN = r"""
written:
  description: Whether the stamp differed from the stored one and was written (in check mode, would be).
  returned: always
  type: bool
parameter:
  description: The SSM parameter written (or that would be).
  returned: always
  type: str
  sample: /dev-djg-converged-ander/ecs_cluster
live:
  description: The fingerprints recorded per resource (null for one that does not exist).
  returned: always
  type: dict
api_calls:
  description: AWS requests this module made.
  returned: always
  type: int
"""

import contextlib
from typing import Any

with contextlib.suppress(ImportError):  # AnsibleAWSModule reports a missing botocore
    import botocore.exceptions

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.django_ecs.aws.plugins.module_utils.aws_clients import counting_clients
from ansible_collections.django_ecs.aws.plugins.module_utils.converged import (
    STAMP_VERSION,
    decode_stamp,
    encode_stamp,
    parameter_name,
)
from ansible_collections.django_ecs.aws.plugins.module_utils.live_resources import (
    READERS,
    live_fingerprints,
)

ARGUMENT_SPEC: dict[str, Any] = {
    "path": {"type": "str", "required": True},
    "part": {"type": "str", "required": True},
    "code": {"type": "str", "required": True},
    "inputs": {"type": "dict", "required": True},
    "resources": {"type": "list", "elements": "dict", "required": True},
    "outputs": {"type": "dict", "default": {}},
    "tags": {"type": "dict", "default": {}},
}


def unknown_kinds(resources: list[dict[str, Any]]) -> list[str]:
    return sorted({str(resource.get("kind")) for resource in resources} - set(READERS))


def current_stamp(ssm: Any, name: str) -> dict[str, Any] | None:
    try:
        return decode_stamp(ssm.get_parameter(Name=name)["Parameter"]["Value"])
    except botocore.exceptions.ClientError as error:
        if error.response["Error"]["Code"] == "ParameterNotFound":
            return None
        raise


def write_stamp(ssm: Any, name: str, stamp: dict[str, Any], tags: dict[str, str]) -> None:
    ssm.put_parameter(
        Name=name,
        Value=encode_stamp(stamp),
        Type="String",
        Overwrite=True,
        Description="What a django_ecs.aws role last converged (its fast path's record)",
    )
    if tags:
        ssm.add_tags_to_resource(
            ResourceType="Parameter",
            ResourceId=name,
            Tags=[{"Key": key, "Value": str(value)} for key, value in sorted(tags.items())],
        )


def main() -> None:
    module = AnsibleAWSModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    unknown = unknown_kinds(params["resources"])
    if unknown:
        module.fail_json(
            msg=f"resources: no reader for kind {', '.join(unknown)} (known: {', '.join(sorted(READERS))})"
        )
    calls = [0]
    client = counting_clients(module, calls)
    name = parameter_name(params["path"], params["part"])
    try:
        live = live_fingerprints(client, params["resources"])
        # Through JSON once, so the comparison with the stored stamp sees the same types.
        stamp = decode_stamp(
            encode_stamp(
                {
                    "version": STAMP_VERSION,
                    "code": params["code"],
                    "inputs": params["inputs"],
                    "resources": params["resources"],
                    "live": live,
                    "outputs": params["outputs"],
                }
            )
        )
        before = current_stamp(client("ssm"), name)
        written = before != stamp
        if written and not module.check_mode:
            write_stamp(client("ssm"), name, stamp, params["tags"])
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as error:
        module.fail_json_aws(error, msg=f"Could not record {name}")
    module.exit_json(changed=False, written=written, parameter=name, live=live, api_calls=calls[0])


if __name__ == "__main__":
    main()
