"""Verify a deployed network layer against the inventory's values, with boto3.

Used by the molecule verify step (molecule/shared/verify_network.yml) and callable from pytest:

    python -m tests.verify.network '<expected json>'

The expected values come from the inventory (vpc_cidr, vpc_azs, NAT mode, names, tags); the
script derives the rest (carved CIDRs) itself and prints one line per failed check.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import sys
from typing import Any

import boto3

from tests.verify.common import REQUIRED_TAGS, Checker, report

AL2023_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-{arch}"
SSM_POLICY_ARN = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"


def tag_map(resource: dict[str, Any]) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in resource.get("Tags", [])}


def name(expected: dict[str, Any], resource: str) -> str:
    naming = expected["naming"]
    return f"{naming['env']}-{naming['service']}-{resource}-{naming['client']}"


def check_tags(checker: Checker, what: str, resource: dict[str, Any], tags: dict[str, str]) -> None:
    actual = tag_map(resource)
    for key in REQUIRED_TAGS:
        checker.check(
            actual.get(key) == tags[key],
            f"{what}: tag {key}={actual.get(key)!r}, want {tags[key]!r}",
        )


def carved(expected: dict[str, Any]) -> dict[tuple[str, str], str]:
    vpc = ipaddress.ip_network(expected["vpc_cidr"])
    private = list(vpc.subnets(new_prefix=22))
    public = list(private[-1].subnets(new_prefix=26))
    layout = {}
    for index, az in enumerate(expected["vpc_azs"]):
        layout[(az, "public")] = str(public[index])
        layout[(az, "private")] = str(private[index])
    return layout


def verify_vpc(checker: Checker, ec2: Any, expected: dict[str, Any]) -> dict[str, Any] | None:
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [name(expected, "vpc")]}])[
        "Vpcs"
    ]
    checker.check(len(vpcs) == 1, f"expected one VPC {name(expected, 'vpc')}, found {len(vpcs)}")
    if len(vpcs) != 1:
        return None
    vpc = vpcs[0]
    checker.check(vpc["CidrBlock"] == expected["vpc_cidr"], f"VPC CIDR {vpc['CidrBlock']}")
    for attribute in ("enableDnsSupport", "enableDnsHostnames"):
        value = ec2.describe_vpc_attribute(VpcId=vpc["VpcId"], Attribute=attribute)
        key = attribute[0].upper() + attribute[1:]
        checker.check(value[key]["Value"] is True, f"VPC {attribute} is off")
    check_tags(checker, "VPC", vpc, expected["tags"])
    return vpc


def verify_subnets(checker: Checker, ec2: Any, vpc_id: str, expected: dict[str, Any]) -> list[dict]:
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]
    layout = carved(expected)
    checker.check(len(subnets) == len(layout), f"{len(subnets)} subnets, want {len(layout)}")
    by_key = {(s["AvailabilityZone"], tag_map(s).get("Tier", "")): s for s in subnets}
    for (az, tier), cidr in layout.items():
        subnet = by_key.get((az, tier))
        checker.check(subnet is not None, f"no {tier} subnet in {az}")
        if subnet is None:
            continue
        checker.check(subnet["CidrBlock"] == cidr, f"{tier} {az}: {subnet['CidrBlock']} != {cidr}")
        checker.check(not subnet["MapPublicIpOnLaunch"], f"{tier} {az} maps public IPs (EC2.15)")
        checker.check(
            tag_map(subnet).get("Name") == name(expected, f"{tier}-{az}"), f"{tier} {az} Name tag"
        )
        check_tags(checker, f"subnet {tier} {az}", subnet, expected["tags"])
    return subnets


def default_target(table: dict[str, Any]) -> str:
    for route in table["Routes"]:
        if route.get("DestinationCidrBlock") == "0.0.0.0/0":
            return (
                route.get("NatGatewayId") or route.get("InstanceId") or route.get("GatewayId", "")
            )
    return ""


def verify_routing(
    checker: Checker,
    ec2: Any,
    vpc_id: str,
    subnets: list[dict],
    nat_by_az: dict[str, str],
    expected: dict[str, Any],
) -> None:
    tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])[
        "RouteTables"
    ]
    igws = ec2.describe_internet_gateways(
        Filters=[{"Name": "attachment.vpc-id", "Values": [vpc_id]}]
    )["InternetGateways"]
    checker.check(len(igws) == 1, f"{len(igws)} internet gateways")
    for igw in igws:
        check_tags(checker, "internet gateway", igw, expected["tags"])
    subnet_tier = {s["SubnetId"]: (s["AvailabilityZone"], tag_map(s).get("Tier")) for s in subnets}
    for table in tables:
        associated = [a["SubnetId"] for a in table["Associations"] if a.get("SubnetId")]
        if not associated:
            continue
        tiers = {subnet_tier[s] for s in associated}
        check_tags(checker, f"route table {table['RouteTableId']}", table, expected["tags"])
        target = default_target(table)
        if all(tier == "public" for _, tier in tiers):
            checker.check(
                bool(igws) and target == igws[0]["InternetGatewayId"],
                "public default route not to IGW",
            )
            continue
        checker.check(len(tiers) == 1, f"private route table shared across AZs: {tiers}")
        az = next(iter(tiers))[0]
        want = nat_by_az.get(az) or next(iter(nat_by_az.values()), "")
        checker.check(target == want, f"private {az} default route -> {target!r}, want {want!r}")


def verify_default_security_group(checker: Checker, ec2: Any, vpc_id: str) -> None:
    group = ec2.describe_security_groups(
        Filters=[
            {"Name": "vpc-id", "Values": [vpc_id]},
            {"Name": "group-name", "Values": ["default"]},
        ]
    )["SecurityGroups"][0]
    checker.check(not group["IpPermissions"], "default security group has ingress rules (EC2.2)")
    checker.check(
        not group["IpPermissionsEgress"], "default security group has egress rules (EC2.2)"
    )


def verify_nat_instance(
    checker: Checker, session: Any, vpc: dict[str, Any], subnets: list[dict], expected: dict
) -> dict[str, str]:
    ec2, iam, ssm = session.client("ec2"), session.client("iam"), session.client("ssm")
    reservations = ec2.describe_instances(
        Filters=[
            {"Name": "tag:Name", "Values": [name(expected, "nat")]},
            {"Name": "instance-state-name", "Values": ["pending", "running"]},
        ]
    )["Reservations"]
    instances = [i for r in reservations for i in r["Instances"]]
    checker.check(len(instances) == 1, f"{len(instances)} NAT instances, want 1")
    if len(instances) != 1:
        return {}
    instance = instances[0]
    arch = expected.get("nat_instance_architecture", "x86_64")
    ami = ssm.get_parameter(Name=AL2023_PARAMETER.format(arch=arch))["Parameter"]["Value"]
    checker.check(instance["ImageId"] == ami, f"NAT AMI {instance['ImageId']} is not AL2023 {ami}")
    checker.check(instance["InstanceType"] == expected["nat_instance_type"], "NAT instance type")
    checker.check("KeyName" not in instance, "NAT instance has a key pair")
    checker.check(instance["MetadataOptions"]["HttpTokens"] == "required", "IMDSv2 not required")
    checker.check(instance.get("SourceDestCheck") is False, "source/dest check is on")
    checker.check(bool(instance.get("PublicIpAddress")), "NAT instance has no public IP")
    first_public = sorted(
        (s for s in subnets if tag_map(s).get("Tier") == "public"),
        key=lambda s: s["AvailabilityZone"],
    )[0]
    checker.check(
        instance["SubnetId"] == first_public["SubnetId"], "NAT not in first public subnet"
    )
    eni = ec2.describe_network_interfaces(
        NetworkInterfaceIds=[instance["NetworkInterfaces"][0]["NetworkInterfaceId"]]
    )["NetworkInterfaces"][0]
    checker.check(eni["SourceDestCheck"] is False, "NAT ENI source/dest check is on")
    check_tags(checker, "NAT instance", instance, expected["tags"])
    verify_nat_user_data(checker, ec2, instance["InstanceId"])
    verify_nat_security_group(checker, ec2, instance, vpc, expected)
    profile = instance.get("IamInstanceProfile", {}).get("Arn", "")
    checker.check(profile.endswith("/" + name(expected, "nat-role")), f"instance profile {profile}")
    attached = iam.list_attached_role_policies(RoleName=name(expected, "nat-role"))
    arns = [p["PolicyArn"] for p in attached["AttachedPolicies"]]
    checker.check(SSM_POLICY_ARN in arns, f"NAT role lacks AmazonSSMManagedInstanceCore: {arns}")
    return {s["AvailabilityZone"]: instance["InstanceId"] for s in subnets}


def verify_nat_user_data(checker: Checker, ec2: Any, instance_id: str) -> None:
    encoded = ec2.describe_instance_attribute(InstanceId=instance_id, Attribute="userData")
    script = base64.b64decode(encoded["UserData"].get("Value", "")).decode()
    for needle in (
        "dnf install -y iptables-services",
        "seq 1 10",
        "net.ipv4.ip_forward = 1",
        "ip route show default",
        'iptables -t nat -C POSTROUTING -o "${iface}" -j MASQUERADE',
        "iptables-save > /etc/sysconfig/iptables",
        "nat-masquerade.timer",
    ):
        checker.check(needle in script, f"NAT user data lacks {needle!r}")
    checker.check("eth0" not in script.replace("hard-coded eth0", ""), "user data hard-codes eth0")


def verify_nat_security_group(
    checker: Checker, ec2: Any, instance: dict, vpc: dict[str, Any], expected: dict
) -> None:
    group_ids = [g["GroupId"] for g in instance["SecurityGroups"]]
    groups = ec2.describe_security_groups(GroupIds=group_ids)["SecurityGroups"]
    names = [g["GroupName"] for g in groups]
    checker.check(names == [name(expected, "nat-sg")], f"NAT security groups {names}")
    ingress = [r["CidrIp"] for g in groups for p in g["IpPermissions"] for r in p["IpRanges"]]
    checker.check(ingress == [vpc["CidrBlock"]], f"NAT ingress {ingress}, want the VPC CIDR only")


def verify_nat_gateways(
    checker: Checker, ec2: Any, vpc_id: str, subnets: list[dict], expected: dict
) -> dict[str, str]:
    gateways = ec2.describe_nat_gateways(
        Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "state", "Values": ["available"]}]
    )["NatGateways"]
    count = int(expected["nat_gateway_count"])
    checker.check(len(gateways) == count, f"{len(gateways)} NAT gateways, want {count}")
    az_of = {s["SubnetId"]: s["AvailabilityZone"] for s in subnets}
    by_az: dict[str, str] = {}
    for gateway in gateways:
        by_az[az_of.get(gateway["SubnetId"], "?")] = gateway["NatGatewayId"]
        checker.check(
            bool(gateway["NatGatewayAddresses"][0].get("AllocationId")), "NAT GW without EIP"
        )
        check_tags(checker, f"NAT gateway {gateway['NatGatewayId']}", gateway, expected["tags"])
    want_azs = sorted(expected["vpc_azs"][:count])
    checker.check(sorted(by_az) == want_azs, f"NAT gateways in {sorted(by_az)}, want {want_azs}")
    addresses = ec2.describe_addresses()["Addresses"]
    checker.check(len(addresses) >= count, "an EIP per NAT gateway")
    return by_az


def verify(expected: dict[str, Any]) -> list[str]:
    session = boto3.session.Session(region_name=expected["region"])
    ec2 = session.client("ec2")
    checker = Checker()
    vpc = verify_vpc(checker, ec2, expected)
    if vpc is None:
        return checker.failures
    subnets = verify_subnets(checker, ec2, vpc["VpcId"], expected)
    verify_default_security_group(checker, ec2, vpc["VpcId"])
    mode = expected["network_nat_mode"]
    nat_by_az: dict[str, str] = {}
    if mode == "instance":
        nat_by_az = verify_nat_instance(checker, session, vpc, subnets, expected)
    elif mode == "gateway":
        nat_by_az = verify_nat_gateways(checker, ec2, vpc["VpcId"], subnets, expected)
    verify_routing(checker, ec2, vpc["VpcId"], subnets, nat_by_az, expected)
    return checker.failures


def main() -> int:
    return report(verify(json.loads(sys.argv[1])))


if __name__ == "__main__":
    sys.exit(main())
