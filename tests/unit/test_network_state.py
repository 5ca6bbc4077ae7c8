"""The drift check behind the network fast path: a converged network has none, and each kind
of change a role would repair is reported (a missed one would leave drift unrepaired)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from ansible_collections.django_ecs.aws.plugins.filter.cidr import carve_subnets
from ansible_collections.django_ecs.aws.plugins.module_utils.flow_logs import (
    DEFAULT_LOG_FORMAT,
    flow_logs_delivery_policy,
    flow_logs_trust_policy,
)
from ansible_collections.django_ecs.aws.plugins.module_utils.network_state import (
    EC2_TRUST_POLICY,
    DesiredNetwork,
    ObservedNetwork,
    nat_gateway_drift,
    nat_instance_drift,
    network_outputs,
    vpc_drift,
)

NAMING = {"env": "dev", "service": "djg", "client": "ander"}
TAGS = {
    "Project": "django-ecs",
    "Owner": "platform-team",
    "ManagedBy": "ansible",
    "Confidentiality": "internal",
    "Environment": "dev",
}
SSM = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"


def tags(values: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in values.items()]


def desired(**overrides: Any) -> DesiredNetwork:
    values: dict[str, Any] = {
        "naming": NAMING,
        "tags": TAGS,
        "vpc_cidr": "10.10.0.0/16",
        "subnets": carve_subnets("10.10.0.0/16", ["us-east-1a", "us-east-1b"]),
        "nat_instance_state": "present",
        "nat_instance_type": "t3.micro",
        "nat_instance_policy_arns": (SSM,),
        "nat_gateway_state": "ignore",
        "nat_gateway_count": 0,
    }
    return DesiredNetwork(**{**values, **overrides})


def converged(want: DesiredNetwork, nat: str = "instance") -> ObservedNetwork:
    """The state the roles leave behind, as boto3 describes it."""
    subnets = [
        {
            "SubnetId": f"subnet-{s['tier']}-{s['az'][-1]}",
            "CidrBlock": s["cidr"],
            "AvailabilityZone": s["az"],
            "MapPublicIpOnLaunch": False,
            "Tags": tags(want.tags_named(f"{s['tier']}-{s['az']}", Tier=s["tier"])),
        }
        for s in want.subnets
    ]
    nat_gateways = [
        {
            "NatGatewayId": f"nat-{s['AvailabilityZone'][-1]}",
            "SubnetId": s["SubnetId"],
            "State": "available",
            "Tags": tags(want.tags_named(f"natgw-{s['AvailabilityZone']}")),
        }
        for s in subnets
        if "public" in s["SubnetId"]
    ][: want.nat_gateway_count]
    nat_sg = {
        "GroupId": "sg-nat",
        "GroupName": want.name("nat-sg"),
        "Tags": tags(want.tags_named("nat-sg")),
        "IpPermissions": [
            {
                "IpProtocol": "-1",
                "IpRanges": [
                    {"CidrIp": "10.10.0.0/16", "Description": "Traffic to NAT from inside the VPC"}
                ],
            }
        ],
        "IpPermissionsEgress": [
            {
                "IpProtocol": "-1",
                "IpRanges": [
                    {"CidrIp": "0.0.0.0/0", "Description": "NATed traffic to the internet"}
                ],
            }
        ],
    }
    instance = {
        "InstanceId": "i-nat",
        "State": {"Name": "running"},
        "InstanceType": "t3.micro",
        "SourceDestCheck": False,
        "MetadataOptions": {"HttpTokens": "required"},
        "SecurityGroups": [{"GroupId": "sg-nat"}],
        "PublicIpAddress": "203.0.113.7",
        "Tags": tags(want.tags_named("nat", Role="nat")),
    }

    def private_target(az: str) -> dict[str, str]:
        if nat == "instance":
            return {"InstanceId": "i-nat"}
        with_gateway = [f"us-east-1{letter}" for letter in "ab"][: want.nat_gateway_count]
        return {"NatGatewayId": f"nat-{az[-1]}" if az in with_gateway else "nat-a"}

    route_tables = [
        {
            "RouteTableId": "rtb-public",
            "Tags": tags(want.tags_named("rt-public", Tier="public")),
            "Associations": [
                {"SubnetId": s["SubnetId"]} for s in subnets if "public" in s["SubnetId"]
            ],
            "Routes": [
                {"DestinationCidrBlock": "10.10.0.0/16", "GatewayId": "local"},
                {"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-1"},
            ],
        },
    ] + [
        {
            "RouteTableId": f"rtb-{az[-1]}",
            "Tags": tags(want.tags_named(f"rt-private-{az}", Tier="private", AvailabilityZone=az)),
            "Associations": [{"SubnetId": f"subnet-private-{az[-1]}"}],
            "Routes": [{"DestinationCidrBlock": "0.0.0.0/0", **private_target(az)}],
        }
        for az in ("us-east-1a", "us-east-1b")
    ]
    return ObservedNetwork(
        vpcs=[
            {"VpcId": "vpc-1", "CidrBlock": "10.10.0.0/16", "Tags": tags(want.tags_named("vpc"))}
        ],
        vpc_attributes={"enableDnsSupport": True, "enableDnsHostnames": True},
        subnets=subnets,
        internet_gateways=[{"InternetGatewayId": "igw-1", "Tags": tags(want.tags_named("igw"))}],
        route_tables=route_tables,
        security_groups=[
            {
                "GroupId": "sg-default",
                "GroupName": "default",
                "IpPermissions": [],
                "IpPermissionsEgress": [],
            }
        ]
        + ([nat_sg] if nat == "instance" else []),
        nat_instances=[instance] if nat == "instance" else [],
        nat_gateways=nat_gateways,
        nat_role={
            "RoleName": want.name("nat-role"),
            "AssumeRolePolicyDocument": EC2_TRUST_POLICY,
            "Description": "NAT instance role (Session Manager only)",
            "Tags": tags(TAGS),
        }
        if nat == "instance"
        else None,
        nat_role_policy_arns=[SSM] if nat == "instance" else [],
        nat_instance_profile={"Roles": [{"RoleName": want.name("nat-role")}]}
        if nat == "instance"
        else None,
    )


def test_converged_instance_network_has_no_drift() -> None:
    want = desired()
    state = converged(want)
    assert vpc_drift(want, state) == []
    assert nat_instance_drift(want, state) == []
    assert nat_gateway_drift(want, state) == []


def test_converged_gateway_network_has_no_drift() -> None:
    want = desired(nat_instance_state="ignore", nat_gateway_state="present", nat_gateway_count=2)
    state = converged(want, nat="gateway")
    assert vpc_drift(want, state) == []
    assert nat_gateway_drift(want, state) == []


def _drop_default_route(state: ObservedNetwork) -> None:
    state.route_tables[1]["Routes"] = []


def _tag_subnet(state: ObservedNetwork) -> None:
    state.subnets[0]["Tags"].append({"Key": "Owner2", "Value": "x"})


def _open_default_sg(state: ObservedNetwork) -> None:
    state.security_groups[0]["IpPermissions"] = [{"IpProtocol": "-1", "IpRanges": []}]


def _public_ips(state: ObservedNetwork) -> None:
    state.subnets[1]["MapPublicIpOnLaunch"] = True


def _extra_public_route(state: ObservedNetwork) -> None:
    state.route_tables[0]["Routes"].append(
        {"DestinationCidrBlock": "192.0.2.0/24", "GatewayId": "igw-1"}
    )


def _dns_off(state: ObservedNetwork) -> None:
    state.vpc_attributes["enableDnsHostnames"] = False


def _second_igw(state: ObservedNetwork) -> None:
    state.internet_gateways.append({"InternetGatewayId": "igw-2", "Tags": []})


def _subnet_missing(state: ObservedNetwork) -> None:
    state.subnets.pop()


@pytest.mark.parametrize(
    "mutate",
    [
        _drop_default_route,
        _tag_subnet,
        _open_default_sg,
        _public_ips,
        _extra_public_route,
        _dns_off,
        _second_igw,
        _subnet_missing,
    ],
)
def test_vpc_or_nat_drift_is_reported(mutate: Any) -> None:
    want = desired()
    state = converged(want)
    mutate(state)
    assert vpc_drift(want, state) + nat_instance_drift(want, state)


def _source_dest_on(state: ObservedNetwork) -> None:
    state.nat_instances[0]["SourceDestCheck"] = True


def _imds_optional(state: ObservedNetwork) -> None:
    state.nat_instances[0]["MetadataOptions"]["HttpTokens"] = "optional"


def _stopped(state: ObservedNetwork) -> None:
    state.nat_instances[0]["State"]["Name"] = "stopped"


def _policy_detached(state: ObservedNetwork) -> None:
    state.nat_role_policy_arns = []


def _sg_opened(state: ObservedNetwork) -> None:
    state.security_groups[1]["IpPermissions"][0]["IpRanges"].append({"CidrIp": "0.0.0.0/0"})


@pytest.mark.parametrize(
    "mutate",
    [_source_dest_on, _imds_optional, _stopped, _policy_detached, _sg_opened, _drop_default_route],
)
def test_nat_instance_drift_is_reported(mutate: Any) -> None:
    want = desired()
    state = converged(want)
    mutate(state)
    assert nat_instance_drift(want, state)


def test_gateway_route_to_the_wrong_az_is_drift() -> None:
    want = desired(nat_instance_state="ignore", nat_gateway_state="present", nat_gateway_count=2)
    state = converged(want, nat="gateway")
    state.route_tables[2]["Routes"][0]["NatGatewayId"] = "nat-a"
    assert any("default route" in line for line in nat_gateway_drift(want, state))


def test_absent_state_reports_leftovers_and_ignore_reports_nothing() -> None:
    want = desired()
    state = converged(want)
    assert nat_instance_drift(desired(nat_instance_state="absent"), state)
    assert nat_instance_drift(desired(nat_instance_state="ignore"), state) == []


def test_outputs_name_subnets_per_tier_and_the_nat_instance() -> None:
    want = desired()
    outputs = network_outputs(want, converged(want), "instance")
    assert [s["az"] for s in outputs["private_subnets"]] == ["us-east-1a", "us-east-1b"]
    assert outputs["nat_instance_public_ip"] == "203.0.113.7"
    assert outputs["private_route_tables"][0]["default_target"] == "i-nat"


def test_desired_state_is_not_mutated() -> None:
    want = desired()
    snapshot = copy.deepcopy(want.subnets)
    vpc_drift(want, converged(want))
    assert want.subnets == snapshot


# --- VPC flow logs (the vpc role's flow_logs.yml) ---------------------------------------------
FLOW_LOG_GROUP = "/aws/django-ecs/dev/vpc-flow-logs"
ACCOUNT = "123456789012"


def flow_logs_on(**overrides: Any) -> DesiredNetwork:
    values: dict[str, Any] = {
        "region": "us-east-1",
        "flow_logs": True,
        "flow_logs_log_group": FLOW_LOG_GROUP,
        "flow_logs_retention_days": 30,
        **overrides,
    }
    return desired(**values)


def with_flow_logs(want: DesiredNetwork) -> ObservedNetwork:
    """What flow_logs.yml leaves behind, as EC2, CloudWatch Logs and IAM describe it."""
    state = converged(want)
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/{want.name('flow-logs')}"
    state.flow_logs_log_group = {"logGroupName": FLOW_LOG_GROUP, "retentionInDays": 30}
    state.flow_logs_role = {
        "Arn": role_arn,
        "AssumeRolePolicyDocument": flow_logs_trust_policy(ACCOUNT, "us-east-1"),
        "Description": f"VPC flow logs delivery to {FLOW_LOG_GROUP}",
        "Tags": tags(TAGS),
    }
    state.flow_logs_role_policy = flow_logs_delivery_policy(ACCOUNT, "us-east-1", FLOW_LOG_GROUP)
    state.flow_logs = [
        {
            "FlowLogId": "fl-1",
            "ResourceId": "vpc-1",
            "TrafficType": "ALL",
            "LogDestinationType": "cloud-watch-logs",
            "LogGroupName": FLOW_LOG_GROUP,
            "DeliverLogsPermissionArn": role_arn,
            "LogFormat": DEFAULT_LOG_FORMAT,
            "MaxAggregationInterval": 600,
            "Tags": tags(want.tags_named("flow-logs")),
        }
    ]
    return state


def test_converged_flow_logs_have_no_drift() -> None:
    want = flow_logs_on()
    assert vpc_drift(want, with_flow_logs(want)) == []


def test_flow_logs_on_and_none_deployed_is_drift() -> None:
    want = flow_logs_on()
    drift = vpc_drift(want, converged(want))
    assert "log group /aws/django-ecs/dev/vpc-flow-logs: missing" in drift
    assert f"IAM role {want.name('flow-logs')}: missing" in drift


def test_flow_logs_off_and_none_deployed_is_in_sync() -> None:
    want = flow_logs_on(flow_logs=False)
    assert vpc_drift(want, converged(want)) == []


def test_flow_logs_off_with_one_deployed_is_drift() -> None:
    want = flow_logs_on(flow_logs=False)
    assert vpc_drift(want, with_flow_logs(flow_logs_on())) == [
        f"flow log fl-1 to {FLOW_LOG_GROUP}: to remove"
    ]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda s: s.flow_logs.clear(), "0 found, want 1"),
        (lambda s: s.flow_logs[0].update(TrafficType="REJECT"), "traffic_type differs"),
        (lambda s: s.flow_logs[0].update(MaxAggregationInterval=60), "max_aggregation_interval"),
        (lambda s: s.flow_logs[0].update(LogFormat="${srcaddr}"), "log_format differs"),
        (lambda s: s.flow_logs[0].update(DeliverLogsPermissionArn="arn:x"), "deliver_logs"),
        (lambda s: s.flow_logs[0].update(Tags=[]), "tags differ"),
        (lambda s: s.flow_logs_log_group.update(retentionInDays=7), "retention 7 != 30"),
        (
            lambda s: s.flow_logs_role["AssumeRolePolicyDocument"]["Statement"][0].pop("Condition"),
            "trust policy differs",
        ),
        (lambda s: setattr(s, "flow_logs_role_policy", None), "delivery policy"),
    ],
)
def test_flow_log_drift_is_reported(mutate: Any, expected: str) -> None:
    want = flow_logs_on()
    state = with_flow_logs(want)
    mutate(state)
    assert any(expected in line for line in vpc_drift(want, state)), vpc_drift(want, state)


def test_flow_logs_trust_names_the_account_and_its_flow_logs_only() -> None:
    statement = flow_logs_trust_policy(ACCOUNT, "us-east-1")["Statement"][0]
    assert statement["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnLike": {"aws:SourceArn": f"arn:aws:ec2:us-east-1:{ACCOUNT}:vpc-flow-log/*"},
    }
    delivery = flow_logs_delivery_policy(ACCOUNT, "us-east-1", FLOW_LOG_GROUP)["Statement"][0]
    group_arn = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{FLOW_LOG_GROUP}"
    assert delivery["Resource"] == [group_arn, f"{group_arn}:*"]
