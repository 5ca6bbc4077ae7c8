# Copyright: contributors to django_ecs.aws
# Apache License 2.0 (see galaxy.yml)
"""Compare the deployed network with what the network roles would converge it to.

Pure functions over boto3 ``describe_*`` answers, so unit tests need no AWS. Each ``*_drift``
returns the differences that would make the matching role change something; an empty list
means a run of that role would report ``changed=0``. The comparison is deliberately strict:
anything it does not understand counts as drift, which only costs a full (correct) role run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.django_ecs.aws.plugins.module_utils.flow_logs import (
    WantedFlowLog,
    flow_log_differences,
    flow_logs_delivery_policy,
    flow_logs_trust_policy,
)
from ansible_collections.django_ecs.aws.plugins.module_utils.naming import resource_name
from ansible_collections.django_ecs.aws.plugins.module_utils.network_lookup import (
    DEFAULT_ROUTE,
    default_route_target,
    route_table_summary,
    subnets_of_tier,
    tag_map,
)

LIVE_INSTANCE_STATES = ("pending", "running", "stopping", "stopped")
LIVE_NAT_GATEWAY_STATES = ("pending", "available")
EC2_TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "ec2.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


@dataclass(frozen=True)
class DesiredNetwork:
    naming: dict[str, str]
    tags: dict[str, str]
    vpc_cidr: str
    subnets: list[dict[str, Any]]
    nat_instance_state: str = "ignore"
    nat_instance_type: str = ""
    nat_instance_policy_arns: tuple[str, ...] = ()
    nat_gateway_state: str = "ignore"
    nat_gateway_count: int = 0
    # The vpc role's flow logs (vpc_flow_logs*): off means none may deliver to the log group.
    region: str = ""
    flow_logs: bool = False
    flow_logs_log_group: str = ""
    flow_logs_retention_days: int = 0
    flow_logs_traffic_type: str = "ALL"
    flow_logs_max_aggregation_interval: int = 600

    def name(self, resource: str) -> str:
        return resource_name(resource, self.naming)

    def tags_named(self, resource: str, **extra: str) -> dict[str, str]:
        return {**self.tags, "Name": self.name(resource), **extra}


@dataclass
class ObservedNetwork:
    """What one read-only pass over EC2 and IAM found (raw boto3 shapes)."""

    vpcs: list[dict[str, Any]] = field(default_factory=list)
    vpc_attributes: dict[str, bool] = field(default_factory=dict)
    subnets: list[dict[str, Any]] = field(default_factory=list)
    internet_gateways: list[dict[str, Any]] = field(default_factory=list)
    route_tables: list[dict[str, Any]] = field(default_factory=list)
    security_groups: list[dict[str, Any]] = field(default_factory=list)
    nat_instances: list[dict[str, Any]] = field(default_factory=list)
    nat_gateways: list[dict[str, Any]] = field(default_factory=list)
    nat_role: dict[str, Any] | None = None
    nat_role_policy_arns: list[str] = field(default_factory=list)
    nat_instance_profile: dict[str, Any] | None = None
    flow_logs: list[dict[str, Any]] = field(default_factory=list)
    flow_logs_log_group: dict[str, Any] | None = None
    flow_logs_role: dict[str, Any] | None = None
    flow_logs_role_policy: dict[str, Any] | None = None

    @property
    def vpc(self) -> dict[str, Any] | None:
        return self.vpcs[0] if len(self.vpcs) == 1 else None


def _tag_drift(what: str, resource: dict[str, Any], wanted: dict[str, str]) -> list[str]:
    actual = tag_map(resource)
    if actual == wanted:
        return []
    changed = sorted(k for k in set(actual) | set(wanted) if actual.get(k) != wanted.get(k))
    return [f"{what}: tags differ ({', '.join(changed)})"]


def _by_tag(resources: list[dict[str, Any]], key: str, value: str) -> list[dict[str, Any]]:
    return [r for r in resources if tag_map(r).get(key) == value]


def _subnet_ids_by_tier(desired: DesiredNetwork, observed: ObservedNetwork) -> dict[str, set[str]]:
    tiers: dict[str, set[str]] = {"public": set(), "private": set()}
    for subnet in observed.subnets:
        tier = tag_map(subnet).get("Tier", "")
        if tier in tiers:
            tiers[tier].add(subnet["SubnetId"])
    return tiers


def _associated_subnets(route_table: dict[str, Any]) -> set[str]:
    return {a["SubnetId"] for a in route_table.get("Associations") or [] if a.get("SubnetId")}


def _vpc_core_drift(desired: DesiredNetwork, observed: ObservedNetwork) -> list[str]:
    if len(observed.vpcs) != 1:
        return [f"VPC {desired.name('vpc')}: {len(observed.vpcs)} found, want 1"]
    vpc = observed.vpcs[0]
    drift = _tag_drift("VPC", vpc, desired.tags_named("vpc"))
    if vpc.get("CidrBlock") != desired.vpc_cidr:
        drift.append(f"VPC: CIDR {vpc.get('CidrBlock')} != {desired.vpc_cidr}")
    for attribute in ("enableDnsSupport", "enableDnsHostnames"):
        if observed.vpc_attributes.get(attribute) is not True:
            drift.append(f"VPC: {attribute} is off")
    igws = observed.internet_gateways
    if len(igws) != 1:
        drift.append(f"internet gateway: {len(igws)} attached, want 1")
    else:
        drift += _tag_drift("internet gateway", igws[0], desired.tags_named("igw"))
    return drift


def _subnet_drift(desired: DesiredNetwork, observed: ObservedNetwork) -> list[str]:
    by_cidr = {s["CidrBlock"]: s for s in observed.subnets}
    drift = []
    for wanted in desired.subnets:
        label = f"subnet {wanted['tier']} {wanted['az']} {wanted['cidr']}"
        subnet = by_cidr.get(wanted["cidr"])
        if subnet is None:
            drift.append(f"{label}: missing")
            continue
        if subnet.get("AvailabilityZone") != wanted["az"]:
            drift.append(f"{label}: in {subnet.get('AvailabilityZone')}")
        if subnet.get("MapPublicIpOnLaunch") or subnet.get("AssignIpv6AddressOnCreation"):
            drift.append(f"{label}: assigns public addresses")
        tags = desired.tags_named(f"{wanted['tier']}-{wanted['az']}", Tier=wanted["tier"])
        drift += _tag_drift(label, subnet, tags)
    return drift


def _route_table_drift(desired: DesiredNetwork, observed: ObservedNetwork) -> list[str]:
    drift = []
    by_cidr = {s["CidrBlock"]: s["SubnetId"] for s in observed.subnets}
    igw_id = (observed.internet_gateways or [{}])[0].get("InternetGatewayId", "")
    public_name = desired.name("rt-public")
    public = _by_tag(observed.route_tables, "Name", public_name)
    public_ids = {by_cidr.get(s["cidr"]) for s in desired.subnets if s["tier"] == "public"}
    if len(public) != 1:
        drift.append(f"route table {public_name}: {len(public)} found, want 1")
    else:
        table = public[0]
        drift += _tag_drift(public_name, table, desired.tags_named("rt-public", Tier="public"))
        if _associated_subnets(table) != public_ids:
            drift.append(f"{public_name}: associated subnets differ")
        extra = [
            r
            for r in table.get("Routes") or []
            if r.get("GatewayId") != "local" and r.get("DestinationCidrBlock") != DEFAULT_ROUTE
        ]
        if default_route_target(table) != igw_id or extra:
            drift.append(f"{public_name}: routes differ (want only 0.0.0.0/0 -> {igw_id})")
    for wanted in (s for s in desired.subnets if s["tier"] == "private"):
        resource = f"rt-private-{wanted['az']}"
        tables = _by_tag(observed.route_tables, "Name", desired.name(resource))
        if len(tables) != 1:
            drift.append(f"route table {desired.name(resource)}: {len(tables)} found, want 1")
            continue
        tags = desired.tags_named(resource, Tier="private", AvailabilityZone=wanted["az"])
        drift += _tag_drift(desired.name(resource), tables[0], tags)
        if _associated_subnets(tables[0]) != {by_cidr.get(wanted["cidr"])}:
            drift.append(f"{desired.name(resource)}: associated subnets differ")
    return drift


def _default_security_group_drift(observed: ObservedNetwork) -> list[str]:
    groups = [g for g in observed.security_groups if g.get("GroupName") == "default"]
    if len(groups) != 1:
        return ["default security group: not found"]
    if groups[0].get("IpPermissions") or groups[0].get("IpPermissionsEgress"):
        return ["default security group: has rules (EC2.2)"]
    return []


def _document(policy: Any) -> Any:
    return json.loads(policy) if isinstance(policy, str) else policy


def _flow_logs_role_drift(desired: DesiredNetwork, observed: ObservedNetwork) -> list[str]:
    role_name = desired.name("flow-logs")
    role = observed.flow_logs_role
    if role is None:
        return [f"IAM role {role_name}: missing"]
    account = role["Arn"].split(":")[4]
    drift = _tag_drift(f"IAM role {role_name}", role, desired.tags)
    if _document(role.get("AssumeRolePolicyDocument")) != flow_logs_trust_policy(
        account, desired.region
    ):
        drift.append(f"IAM role {role_name}: trust policy differs")
    if role.get("Description") != f"VPC flow logs delivery to {desired.flow_logs_log_group}":
        drift.append(f"IAM role {role_name}: description differs")
    wanted_policy = flow_logs_delivery_policy(account, desired.region, desired.flow_logs_log_group)
    if _document(observed.flow_logs_role_policy) != wanted_policy:
        drift.append(f"IAM role {role_name}: delivery policy missing or different")
    return drift


def flow_logs_drift(desired: DesiredNetwork, observed: ObservedNetwork) -> list[str]:
    """What the vpc role's flow_logs.yml would change (the flow logs to its log group)."""
    group_name = desired.flow_logs_log_group
    if not desired.flow_logs:
        return [f"flow log {f['FlowLogId']} to {group_name}: to remove" for f in observed.flow_logs]
    group = observed.flow_logs_log_group
    drift = []
    if group is None:
        drift.append(f"log group {group_name}: missing")
    elif group.get("retentionInDays") != desired.flow_logs_retention_days:
        drift.append(
            f"log group {group_name}: retention {group.get('retentionInDays')}"
            f" != {desired.flow_logs_retention_days}"
        )
    drift += _flow_logs_role_drift(desired, observed)
    if observed.flow_logs_role is None:
        return drift
    wanted = WantedFlowLog(
        log_group_name=group_name,
        deliver_logs_permission_arn=observed.flow_logs_role["Arn"],
        traffic_type=desired.flow_logs_traffic_type,
        max_aggregation_interval=desired.flow_logs_max_aggregation_interval,
    )
    if len(observed.flow_logs) != 1:
        return [*drift, f"flow log to {group_name}: {len(observed.flow_logs)} found, want 1"]
    flow_log = observed.flow_logs[0]
    label = f"flow log {flow_log['FlowLogId']}"
    drift += [f"{label}: {name} differs" for name in flow_log_differences(flow_log, wanted)]
    return drift + _tag_drift(label, flow_log, desired.tags_named("flow-logs"))


def vpc_drift(desired: DesiredNetwork, observed: ObservedNetwork) -> list[str]:
    """Differences a run of the ``vpc`` role would fix."""
    drift = _vpc_core_drift(desired, observed)
    if observed.vpc is None:
        return drift
    return (
        drift
        + _subnet_drift(desired, observed)
        + _route_table_drift(desired, observed)
        + _default_security_group_drift(observed)
        + flow_logs_drift(desired, observed)
    )


def _private_route_tables(desired: DesiredNetwork, observed: ObservedNetwork) -> list[dict]:
    return [t for t in observed.route_tables if tag_map(t).get("Tier") == "private"]


def _nat_security_group_drift(
    desired: DesiredNetwork, observed: ObservedNetwork, group: dict[str, Any]
) -> list[str]:
    label = f"security group {desired.name('nat-sg')}"
    drift = _tag_drift(label, group, desired.tags_named("nat-sg"))
    vpc_cidr = (observed.vpc or {}).get("CidrBlock", "")
    ingress = _rule_set(group.get("IpPermissions") or [])
    egress = _rule_set(group.get("IpPermissionsEgress") or [])
    if ingress != {("-1", vpc_cidr, "Traffic to NAT from inside the VPC")}:
        drift.append(f"{label}: ingress rules differ")
    if egress != {("-1", "0.0.0.0/0", "NATed traffic to the internet")}:
        drift.append(f"{label}: egress rules differ")
    return drift


def _rule_set(permissions: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    rules = set()
    for permission in permissions:
        protocol = str(permission.get("IpProtocol"))
        for ip_range in permission.get("IpRanges") or []:
            rules.add((protocol, ip_range.get("CidrIp", ""), ip_range.get("Description", "")))
        for other in ("Ipv6Ranges", "UserIdGroupPairs", "PrefixListIds"):
            if permission.get(other):
                rules.add((protocol, other, ""))
    return rules


def _nat_role_drift(desired: DesiredNetwork, observed: ObservedNetwork) -> list[str]:
    role_name = desired.name("nat-role")
    role = observed.nat_role
    if role is None:
        return [f"IAM role {role_name}: missing"]
    drift = _tag_drift(f"IAM role {role_name}", role, desired.tags)
    trust = role.get("AssumeRolePolicyDocument")
    if isinstance(trust, str):
        trust = json.loads(trust)
    if trust != EC2_TRUST_POLICY:
        drift.append(f"IAM role {role_name}: trust policy differs")
    if role.get("Description") != "NAT instance role (Session Manager only)":
        drift.append(f"IAM role {role_name}: description differs")
    if set(observed.nat_role_policy_arns) != set(desired.nat_instance_policy_arns):
        drift.append(f"IAM role {role_name}: managed policies differ")
    profile = observed.nat_instance_profile
    if profile is None or [r["RoleName"] for r in profile.get("Roles", [])] != [role_name]:
        drift.append(f"instance profile {role_name}: missing or without the role")
    return drift


def _nat_instance_attribute_drift(
    desired: DesiredNetwork, observed: ObservedNetwork, instance: dict[str, Any]
) -> list[str]:
    label = f"NAT instance {instance.get('InstanceId')}"
    drift = _tag_drift(label, instance, desired.tags_named("nat", Role="nat"))
    if instance.get("State", {}).get("Name") != "running":
        drift.append(f"{label}: not running")
    if instance.get("InstanceType") != desired.nat_instance_type:
        drift.append(f"{label}: type {instance.get('InstanceType')}")
    if instance.get("SourceDestCheck") is not False:
        drift.append(f"{label}: source/dest check is on")
    if (instance.get("MetadataOptions") or {}).get("HttpTokens") != "required":
        drift.append(f"{label}: IMDSv2 not required")
    groups = [g for g in observed.security_groups if g.get("GroupName") == desired.name("nat-sg")]
    if len(groups) != 1:
        return [*drift, f"security group {desired.name('nat-sg')}: missing"]
    if [g["GroupId"] for g in instance.get("SecurityGroups") or []] != [groups[0]["GroupId"]]:
        drift.append(f"{label}: security groups differ")
    return drift + _nat_security_group_drift(desired, observed, groups[0])


def nat_instance_drift(desired: DesiredNetwork, observed: ObservedNetwork) -> list[str]:
    """Differences a run of the ``nat_instance`` role would fix (per its state)."""
    state = desired.nat_instance_state
    if state == "ignore":
        return []
    live = observed.nat_instances
    if state == "absent":
        leftovers = [i["InstanceId"] for i in live]
        groups = [
            g for g in observed.security_groups if g.get("GroupName") == desired.name("nat-sg")
        ]
        if groups:
            leftovers.append(groups[0]["GroupId"])
        if observed.nat_role is not None:
            leftovers.append(desired.name("nat-role"))
        return [f"NAT instance resources to remove: {', '.join(leftovers)}"] if leftovers else []
    if len(live) != 1:
        return [f"NAT instance {desired.name('nat')}: {len(live)} found, want 1"]
    instance = live[0]
    drift = _nat_instance_attribute_drift(desired, observed, instance) + _nat_role_drift(
        desired, observed
    )
    for table in _private_route_tables(desired, observed):
        if default_route_target(table) != instance["InstanceId"]:
            drift.append(
                f"route table {table['RouteTableId']}: default route not via the NAT instance"
            )
    return drift


def _gateway_subnets(desired: DesiredNetwork, observed: ObservedNetwork) -> list[dict[str, Any]]:
    public = [s for s in observed.subnets if tag_map(s).get("Tier") == "public"]
    return sorted(public, key=lambda s: s["AvailabilityZone"])[: desired.nat_gateway_count]


def nat_gateway_drift(desired: DesiredNetwork, observed: ObservedNetwork) -> list[str]:
    """Differences a run of the ``nat_gateway`` role would fix (per its state)."""
    state = desired.nat_gateway_state
    if state == "ignore":
        return []
    live = [g for g in observed.nat_gateways if g.get("State") in LIVE_NAT_GATEWAY_STATES]
    if state == "absent":
        return (
            [f"NAT gateways to remove: {', '.join(g['NatGatewayId'] for g in live)}"]
            if live
            else []
        )
    drift: list[str] = []
    gateway_by_az: dict[str, str] = {}
    for subnet in _gateway_subnets(desired, observed):
        az = subnet["AvailabilityZone"]
        here = [g for g in live if g.get("SubnetId") == subnet["SubnetId"]]
        if len(here) != 1 or here[0].get("State") != "available":
            drift.append(f"NAT gateway in {az}: {len(here)} found, want 1 available")
            continue
        gateway_by_az[az] = here[0]["NatGatewayId"]
        drift += _tag_drift(f"NAT gateway {az}", here[0], desired.tags_named(f"natgw-{az}"))
    if drift or not gateway_by_az:
        return drift or ["no NAT gateway"]
    first = next(iter(gateway_by_az.values()))
    for table in _private_route_tables(desired, observed):
        az = tag_map(table).get("AvailabilityZone", "")
        if default_route_target(table) != gateway_by_az.get(az, first):
            drift.append(
                f"route table {table['RouteTableId']}: default route not via the {az} gateway"
            )
    return drift


def network_outputs(desired: DesiredNetwork, observed: ObservedNetwork, nat_mode: str) -> dict:
    """The network layer's outputs file (``outputs/<env>/network.json``)."""
    vpc = observed.vpc or {}
    running = [i for i in observed.nat_instances if i.get("State", {}).get("Name") == "running"]
    instance = running[0] if running else {}
    return {
        "environment": desired.naming["env"],
        "vpc_id": vpc.get("VpcId", ""),
        "vpc_cidr": vpc.get("CidrBlock", ""),
        "public_subnets": subnets_of_tier(observed.subnets, "public"),
        "private_subnets": subnets_of_tier(observed.subnets, "private"),
        "private_route_tables": route_table_summary(_private_route_tables(desired, observed)),
        "nat_mode": nat_mode,
        "nat_instance_id": instance.get("InstanceId", ""),
        "nat_instance_public_ip": instance.get("PublicIpAddress", ""),
        "nat_gateways": sorted(
            f"{g['NatGatewayId']} in {g['SubnetId']}"
            for g in observed.nat_gateways
            if g.get("State") in LIVE_NAT_GATEWAY_STATES
        ),
    }
