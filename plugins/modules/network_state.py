#!/usr/bin/python
# Copyright: contributors to django_ecs.aws
# Apache License 2.0 (see galaxy.yml)
# Ansible wants DOCUMENTATION/EXAMPLES/RETURN before any import (ansible-test validate-modules).

from __future__ import annotations

DOCUMENTATION = r"""
module: network_state
short_description: Read the network layer in one pass and say which roles have drifted
version_added: 0.1.0
description:
  - Reads the VPC, subnets, internet gateway, route tables, security groups, NAT instance, its IAM
    role and the NAT gateways of an environment with one boto3 session (about ten API calls), and
    compares them with what the C(vpc), C(nat_instance) and C(nat_gateway) roles converge to.
  - Returns C(in_sync) per role and the list of differences (C(drift)). C(playbooks/network.yml)
    skips a role whose state is already converged and runs it in full otherwise, so a no-op re-run
    costs one read instead of some thirty module start-ups (about 0.5 to 1 s each). Any difference
    it does not recognise counts as drift; the worst case is a full, correct role run.
  - Also returns the layer's outputs (VPC, subnets per tier and AZ, NAT) for C(outputs/<env>/network.json).
  - Why a custom module? The amazon.aws C(*_info) modules need one task (one Python start-up) per
    resource type, which is the cost this module exists to avoid; it only reads.
  - Read-only; supports check mode (it behaves the same).
author:
  - django_ecs.aws maintainers (!UNKNOWN)
options:
  naming:
    description: Naming parts C({env, service, client}) (C(naming) in group_vars).
    type: dict
    required: true
  tags:
    description: The tags every resource carries (C(resource_tags)).
    type: dict
    required: true
  vpc_cidr:
    description: The VPC CIDR.
    type: str
    required: true
  subnets:
    description: Desired subnets, each C({az, tier, cidr}) (the C(vpc) role's carving).
    type: list
    elements: dict
    required: true
  nat_mode:
    description: The environment's NAT mode, reported in the outputs.
    type: str
    choices: [instance, gateway, none]
    default: instance
  nat_instance_state:
    description: State the C(nat_instance) role is run with.
    type: str
    choices: [present, absent, ignore]
    default: ignore
  nat_instance_type:
    description: Desired NAT instance type.
    type: str
    default: ""
  nat_instance_policy_arns:
    description: Managed policies of the NAT instance role.
    type: list
    elements: str
    default: []
  nat_gateway_state:
    description: State the C(nat_gateway) role is run with.
    type: str
    choices: [present, absent, ignore]
    default: ignore
  nat_gateway_count:
    description: Desired number of NAT gateways.
    type: int
    default: 0
  flow_logs:
    description:
      - Whether the VPC's flow logs go to O(flow_logs_log_group) (the C(vpc) role's C(vpc_flow_logs)).
      - On, a missing or different flow log, log group retention or delivery role is C(vpc) drift;
        off, any flow log of the VPC to that log group is.
    type: bool
    default: false
  flow_logs_log_group:
    description: The flow logs' log group (C(vpc_flow_logs_log_group)).
    type: str
    default: ""
  flow_logs_retention_days:
    description: Its retention in days (C(vpc_flow_logs_retention_days)).
    type: int
    default: 0
  flow_logs_traffic_type:
    description: The traffic recorded (C(vpc_flow_logs_traffic_type)).
    type: str
    choices: [ACCEPT, REJECT, ALL]
    default: ALL
  flow_logs_max_aggregation_interval:
    description: Seconds (C(vpc_flow_logs_max_aggregation_interval)).
    type: int
    choices: [60, 600]
    default: 600
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Read the network and decide which roles must run
  django_ecs.aws.network_state:
    naming: "{{ naming }}"
    tags: "{{ resource_tags }}"
    vpc_cidr: 10.10.0.0/16
    subnets: "{{ '10.10.0.0/16' | django_ecs.aws.carve_subnets(['us-east-1a', 'us-east-1b']) }}"
    nat_mode: instance
    nat_instance_state: present
    nat_instance_type: t3.micro
    nat_instance_policy_arns: [arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore]
  register: network
"""

RETURN = r"""
in_sync:
  description: Per role, whether a run would change nothing.
  returned: always
  type: dict
  sample: {vpc: true, nat_instance: true, nat_gateway: true}
drift:
  description: Per role, the differences found.
  returned: always
  type: dict
  sample: {vpc: ["subnet private us-east-1a 10.10.0.0/22: tags differ (Owner)"], nat_instance: [], nat_gateway: []}
outputs:
  description: The network layer's outputs (ids per tier and AZ, NAT instance or gateways).
  returned: always
  type: dict
api_calls:
  description: Number of AWS API calls made.
  returned: always
  type: int
"""

import contextlib
from typing import Any

with contextlib.suppress(ImportError):  # AnsibleAWSModule reports a missing botocore itself
    import botocore

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.django_ecs.aws.plugins.module_utils.aws_clients import counting_clients
from ansible_collections.django_ecs.aws.plugins.module_utils.flow_logs import DELIVERY_POLICY_NAME
from ansible_collections.django_ecs.aws.plugins.module_utils.network_state import (
    LIVE_INSTANCE_STATES,
    LIVE_NAT_GATEWAY_STATES,
    DesiredNetwork,
    ObservedNetwork,
    nat_gateway_drift,
    nat_instance_drift,
    network_outputs,
    vpc_drift,
)

ARGUMENT_SPEC: dict[str, Any] = {
    "naming": {"type": "dict", "required": True},
    "tags": {"type": "dict", "required": True},
    "vpc_cidr": {"type": "str", "required": True},
    "subnets": {"type": "list", "elements": "dict", "required": True},
    "nat_mode": {"type": "str", "choices": ["instance", "gateway", "none"], "default": "instance"},
    "nat_instance_state": {
        "type": "str",
        "choices": ["present", "absent", "ignore"],
        "default": "ignore",
    },
    "nat_instance_type": {"type": "str", "default": ""},
    "nat_instance_policy_arns": {"type": "list", "elements": "str", "default": []},
    "nat_gateway_state": {
        "type": "str",
        "choices": ["present", "absent", "ignore"],
        "default": "ignore",
    },
    "nat_gateway_count": {"type": "int", "default": 0},
    "flow_logs": {"type": "bool", "default": False},
    "flow_logs_log_group": {"type": "str", "default": ""},
    "flow_logs_retention_days": {"type": "int", "default": 0},
    "flow_logs_traffic_type": {
        "type": "str",
        "choices": ["ACCEPT", "REJECT", "ALL"],
        "default": "ALL",
    },
    "flow_logs_max_aggregation_interval": {"type": "int", "choices": [60, 600], "default": 600},
}


def read_vpc(ec2: Any, desired: DesiredNetwork, observed: ObservedNetwork) -> None:
    name_filter = [{"Name": "tag:Name", "Values": [desired.name("vpc")]}]
    observed.vpcs = ec2.describe_vpcs(Filters=name_filter)["Vpcs"]
    vpc = observed.vpc
    if vpc is None:
        return
    vpc_filter = [{"Name": "vpc-id", "Values": [vpc["VpcId"]]}]
    for attribute in ("enableDnsSupport", "enableDnsHostnames"):
        answer = ec2.describe_vpc_attribute(VpcId=vpc["VpcId"], Attribute=attribute)
        observed.vpc_attributes[attribute] = answer[attribute[0].upper() + attribute[1:]]["Value"]
    observed.subnets = ec2.describe_subnets(Filters=vpc_filter)["Subnets"]
    observed.internet_gateways = ec2.describe_internet_gateways(
        Filters=[{"Name": "attachment.vpc-id", "Values": [vpc["VpcId"]]}]
    )["InternetGateways"]
    observed.route_tables = ec2.describe_route_tables(Filters=vpc_filter)["RouteTables"]
    observed.security_groups = ec2.describe_security_groups(Filters=vpc_filter)["SecurityGroups"]
    observed.nat_gateways = ec2.describe_nat_gateways(
        Filter=[*vpc_filter, {"Name": "state", "Values": list(LIVE_NAT_GATEWAY_STATES)}]
    )["NatGateways"]
    reservations = ec2.describe_instances(
        Filters=[
            *vpc_filter,
            {"Name": "tag:Name", "Values": [desired.name("nat")]},
            {"Name": "instance-state-name", "Values": list(LIVE_INSTANCE_STATES)},
        ]
    )["Reservations"]
    observed.nat_instances = [i for r in reservations for i in r["Instances"]]


def read_nat_role(iam: Any, desired: DesiredNetwork, observed: ObservedNetwork) -> None:
    role_name = desired.name("nat-role")
    try:
        observed.nat_role = iam.get_role(RoleName=role_name)["Role"]
    except botocore.exceptions.ClientError as error:
        if error.response["Error"]["Code"] != "NoSuchEntity":
            raise
        return
    attached = iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]
    observed.nat_role_policy_arns = [p["PolicyArn"] for p in attached]
    with contextlib.suppress(iam.exceptions.NoSuchEntityException):
        observed.nat_instance_profile = iam.get_instance_profile(InstanceProfileName=role_name)[
            "InstanceProfile"
        ]


def read_flow_logs(
    clients: dict[str, Any], desired: DesiredNetwork, observed: ObservedNetwork
) -> None:
    vpc = observed.vpc
    if vpc is None:
        return
    observed.flow_logs = clients["ec2"].describe_flow_logs(
        Filters=[
            {"Name": "resource-id", "Values": [vpc["VpcId"]]},
            {"Name": "log-group-name", "Values": [desired.flow_logs_log_group]},
        ]
    )["FlowLogs"]
    if not desired.flow_logs:
        return
    groups = clients["logs"].describe_log_groups(logGroupNamePrefix=desired.flow_logs_log_group)
    named = [g for g in groups["logGroups"] if g["logGroupName"] == desired.flow_logs_log_group]
    observed.flow_logs_log_group = named[0] if named else None
    iam = clients["iam"]
    role_name = desired.name("flow-logs")
    try:
        observed.flow_logs_role = iam.get_role(RoleName=role_name)["Role"]
    except iam.exceptions.NoSuchEntityException:
        return
    with contextlib.suppress(iam.exceptions.NoSuchEntityException):
        observed.flow_logs_role_policy = iam.get_role_policy(
            RoleName=role_name, PolicyName=DELIVERY_POLICY_NAME
        )["PolicyDocument"]


def desired_from(params: dict[str, Any], region: str) -> DesiredNetwork:
    return DesiredNetwork(
        naming=params["naming"],
        tags={str(k): str(v) for k, v in params["tags"].items()},
        vpc_cidr=params["vpc_cidr"],
        subnets=params["subnets"],
        nat_instance_state=params["nat_instance_state"],
        nat_instance_type=params["nat_instance_type"],
        nat_instance_policy_arns=tuple(params["nat_instance_policy_arns"]),
        nat_gateway_state=params["nat_gateway_state"],
        nat_gateway_count=params["nat_gateway_count"],
        region=region,
        flow_logs=params["flow_logs"],
        flow_logs_log_group=params["flow_logs_log_group"],
        flow_logs_retention_days=params["flow_logs_retention_days"],
        flow_logs_traffic_type=params["flow_logs_traffic_type"],
        flow_logs_max_aggregation_interval=params["flow_logs_max_aggregation_interval"],
    )


def run(module: Any) -> None:
    """The read, on ``AnsibleAWSModule`` here or ``ControllerModule`` in the action plugin
    (plugins/action/network_state.py runs it in the controller's worker); ends in exit_json."""
    desired = desired_from(module.params, module.region)
    calls = [0]
    client = counting_clients(module, calls)
    ec2, iam, logs = client("ec2"), client("iam"), client("logs")
    observed = ObservedNetwork()
    try:
        read_vpc(ec2, desired, observed)
        if desired.nat_instance_state != "ignore":
            read_nat_role(iam, desired, observed)
        if desired.flow_logs_log_group:
            read_flow_logs({"ec2": ec2, "logs": logs, "iam": iam}, desired, observed)
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as error:
        module.fail_json_aws(error, msg="Could not read the network layer")
    drift = {
        "vpc": vpc_drift(desired, observed),
        "nat_instance": nat_instance_drift(desired, observed),
        "nat_gateway": nat_gateway_drift(desired, observed),
    }
    module.exit_json(
        changed=False,
        in_sync={role: not found for role, found in drift.items()},
        drift=drift,
        outputs=network_outputs(desired, observed, module.params["nat_mode"]),
        api_calls=calls[0],
    )


def main() -> None:
    run(AnsibleAWSModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True))


if __name__ == "__main__":
    main()
