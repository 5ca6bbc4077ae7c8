#!/usr/bin/python
# Copyright: contributors to django_ecs.aws
# Apache License 2.0 (see galaxy.yml)
# Ansible wants DOCUMENTATION/EXAMPLES/RETURN before any import (ansible-test validate-modules).

from __future__ import annotations

DOCUMENTATION = r"""
module: network_lookup
short_description: Find the network layer's VPC, subnets and private route tables in one pass
version_added: 0.1.0
description:
  - Reads the VPC whose C(Name) tag is O(vpc_name), its subnets and its route tables tagged
    C(Tier=private) with one boto3 session (three paginated calls), and returns them in the shapes
    the C(django_ecs.aws.network_lookup) role publishes.
  - Why a custom module? M(amazon.aws.ec2_vpc_net_info), M(amazon.aws.ec2_vpc_subnet_info) and
    M(amazon.aws.ec2_vpc_route_table_info) cost one task each (one Python and boto3 start-up,
    about a second); every layer after the network runs this lookup, some twice.
  - It does not fail when the VPC is missing or not unique; the role decides (O(vpc_name) may not
    exist yet in check mode). Subnets and route tables are read only when exactly one VPC matches.
  - Read-only; supports check mode (it behaves the same).
author:
  - django_ecs.aws maintainers (!UNKNOWN)
options:
  vpc_name:
    description: The VPC's C(Name) tag (C(vpc) through C(django_ecs.aws.resource_name)).
    type: str
    required: true
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Find the network layer of this environment
  django_ecs.aws.network_lookup:
    vpc_name: "{{ 'vpc' | django_ecs.aws.resource_name(naming) }}"
  register: network
"""

RETURN = r"""
found:
  description: Whether exactly one VPC carries the name.
  returned: always
  type: bool
vpc_count:
  description: How many VPCs carry the name (0 before the network layer ran; more than 1 is an error the role reports).
  returned: always
  type: int
vpc_id:
  description: The VPC's id (empty unless RV(found)).
  returned: always
  type: str
  sample: vpc-0123456789abcdef0
vpc_cidr:
  description: The VPC's primary CIDR block (empty unless found).
  returned: always
  type: str
  sample: 10.10.0.0/16
public_subnets:
  description: The subnets tagged C(Tier=public), each C({id, az, cidr, tier}), sorted by AZ.
  returned: always
  type: list
  elements: dict
  sample: [{id: subnet-0a, az: us-east-1a, cidr: 10.10.32.0/24, tier: public}]
private_subnets:
  description: The subnets tagged C(Tier=private), same shape.
  returned: always
  type: list
  elements: dict
private_route_tables:
  description:
    - The route tables tagged C(Tier=private), each C({id, az, default_target}) (C(az) from the
      C(AvailabilityZone) tag, C(default_target) the target of 0.0.0.0/0 or empty), sorted by AZ.
  returned: always
  type: list
  elements: dict
  sample: [{id: rtb-0a, az: us-east-1a, default_target: i-0123456789abcdef0}]
"""

import contextlib
from typing import Any

with contextlib.suppress(ImportError):  # AnsibleAWSModule reports a missing botocore itself
    import botocore

from ansible_collections.amazon.aws.plugins.module_utils.botocore import (
    paginated_query_with_retries,
)
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.django_ecs.aws.plugins.module_utils.network_lookup import (
    network_lookup_result,
)

ARGUMENT_SPEC: dict[str, Any] = {"vpc_name": {"type": "str", "required": True}}


def read_network(
    ec2: Any, vpc_name: str, retry: Any
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """The VPCs named ``vpc_name``; with exactly one, its subnets and private route tables."""

    def describe(operation: str, result_key: str, filters: list[dict[str, Any]]) -> list[Any]:
        return list(
            paginated_query_with_retries(ec2, operation, retry, Filters=filters)[result_key]
        )

    vpcs = describe("describe_vpcs", "Vpcs", [{"Name": "tag:Name", "Values": [vpc_name]}])
    if len(vpcs) != 1:
        return vpcs, [], []
    in_vpc = [{"Name": "vpc-id", "Values": [vpcs[0]["VpcId"]]}]
    subnets = describe("describe_subnets", "Subnets", in_vpc)
    private_tier = [*in_vpc, {"Name": "tag:Tier", "Values": ["private"]}]
    route_tables = describe("describe_route_tables", "RouteTables", private_tier)
    return vpcs, subnets, route_tables


def run(module: Any) -> None:
    """The read, on ``AnsibleAWSModule`` here or ``ControllerModule`` in the action plugin
    (plugins/action/network_lookup.py runs it in the controller's worker); ends in exit_json."""
    retry = AWSRetry.jittered_backoff()
    ec2 = module.client("ec2", retry_decorator=retry)
    try:
        vpcs, subnets, route_tables = read_network(ec2, module.params["vpc_name"], retry)
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as error:
        module.fail_json_aws(error, msg="Could not read the network layer")
    module.exit_json(changed=False, **network_lookup_result(vpcs, subnets, route_tables))


def main() -> None:
    run(AnsibleAWSModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True))


if __name__ == "__main__":
    main()
