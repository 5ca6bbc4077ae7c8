"""The cross-layer lookups' pure functions: what network_lookup and data_lookup publish."""

from __future__ import annotations

from typing import Any

from ansible_collections.django_ecs.aws.plugins.module_utils.data_lookup import (
    data_lookup_result,
    iam_connect_arn,
)
from ansible_collections.django_ecs.aws.plugins.module_utils.network_lookup import (
    default_route_target,
    network_lookup_result,
    route_table_summary,
    subnet_summary,
)

VPC = {"VpcId": "vpc-1", "CidrBlock": "10.10.0.0/16"}


def subnet(subnet_id: str, az: str, tier: str, cidr: str = "10.10.0.0/22") -> dict[str, Any]:
    return {
        "SubnetId": subnet_id,
        "AvailabilityZone": az,
        "CidrBlock": cidr,
        "Tags": [{"Key": "Tier", "Value": tier}, {"Key": "Name", "Value": subnet_id}],
    }


def route_table(table_id: str, az: str, *routes: dict[str, str]) -> dict[str, Any]:
    return {
        "RouteTableId": table_id,
        "Tags": [{"Key": "AvailabilityZone", "Value": az}, {"Key": "Tier", "Value": "private"}],
        "Routes": [{"DestinationCidrBlock": "10.10.0.0/16", "GatewayId": "local"}, *routes],
    }


def test_subnets_are_split_by_tier_and_sorted_by_az() -> None:
    subnets = [
        subnet("subnet-pb", "us-east-1b", "public"),
        subnet("subnet-qa", "us-east-1a", "private"),
        subnet("subnet-pa", "us-east-1a", "public"),
        subnet("subnet-untiered", "us-east-1a", ""),
    ]
    result = network_lookup_result([VPC], subnets, [])
    assert [s["id"] for s in result["public_subnets"]] == ["subnet-pa", "subnet-pb"]
    assert result["private_subnets"] == [
        {"id": "subnet-qa", "az": "us-east-1a", "cidr": "10.10.0.0/22", "tier": "private"}
    ]


def test_subnet_summary_sorts_by_az_then_tier() -> None:
    subnets = [subnet("s2", "b", "private"), subnet("s1", "a", "public"), subnet("s0", "a", "")]
    assert [(s["id"], s["tier"]) for s in subnet_summary(subnets)] == [
        ("s0", ""),
        ("s1", "public"),
        ("s2", "private"),
    ]


def test_default_route_target_is_the_target_of_0_0_0_0() -> None:
    via_instance = route_table(
        "rtb-a", "a", {"DestinationCidrBlock": "0.0.0.0/0", "InstanceId": "i-1"}
    )
    via_gateway = route_table(
        "rtb-b", "b", {"DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": "nat-1"}
    )
    assert default_route_target(via_instance) == "i-1"
    assert default_route_target(via_gateway) == "nat-1"
    assert default_route_target(route_table("rtb-c", "c")) == ""


def test_private_route_tables_are_summarised_by_az() -> None:
    tables = [
        route_table(
            "rtb-b", "us-east-1b", {"DestinationCidrBlock": "0.0.0.0/0", "InstanceId": "i-1"}
        ),
        route_table("rtb-a", "us-east-1a"),
    ]
    assert route_table_summary(tables) == [
        {"id": "rtb-a", "az": "us-east-1a", "default_target": ""},
        {"id": "rtb-b", "az": "us-east-1b", "default_target": "i-1"},
    ]


def test_a_found_vpc_publishes_its_id_and_cidr() -> None:
    result = network_lookup_result([VPC], [], [])
    assert (result["found"], result["vpc_count"]) == (True, 1)
    assert (result["vpc_id"], result["vpc_cidr"]) == ("vpc-1", "10.10.0.0/16")


def test_no_vpc_or_two_vpcs_publish_nothing() -> None:
    subnets = [subnet("subnet-1", "a", "private")]
    tables = [route_table("rtb-1", "a")]
    for vpcs in ([], [VPC, {**VPC, "VpcId": "vpc-2"}]):
        result = network_lookup_result(vpcs, subnets, tables)
        assert result["found"] is False
        assert result["vpc_count"] == len(vpcs)
        assert result["vpc_id"] == result["vpc_cidr"] == ""
        assert result["private_subnets"] == result["private_route_tables"] == []


INSTANCE_ARN = "arn:aws:rds:us-east-1:123456789012:db:dev-djg-db-ander"
REPLICA = {
    "DBInstanceIdentifier": "dev-djg-db-replica-ander",
    "Endpoint": {"Address": "replica.example", "Port": 5432},
}
INSTANCE = {
    "DBInstanceIdentifier": "dev-djg-db-ander",
    "DBInstanceArn": INSTANCE_ARN,
    "DBInstanceStatus": "available",
    "Endpoint": {"Address": "db.example", "Port": 5433},
    "DbiResourceId": "db-ABCDEFGHIJKL",
    "DBName": "appdb",
}
GROUPS = [
    {"GroupName": "dev-djg-db-clients-ander", "GroupId": "sg-clients"},
    {"GroupName": "dev-djg-db-ander", "GroupId": "sg-db"},
]


def lookup(instances: list[dict[str, Any]], migration_user: str = "app_migrate") -> dict[str, Any]:
    return data_lookup_result(
        instances,
        GROUPS,
        instance_id="dev-djg-db-ander",
        replica_id="dev-djg-db-replica-ander",
        security_group_name="dev-djg-db-ander",
        client_security_group_name="dev-djg-db-clients-ander",
        app_user="app_user",
        migration_user=migration_user,
    )


def test_connect_arn_names_the_resource_id_and_user_in_the_instances_partition() -> None:
    china = "arn:aws-cn:rds:cn-north-1:123456789012:db:x"
    assert iam_connect_arn(china, "db-ABC", "app_user") == (
        "arn:aws-cn:rds-db:cn-north-1:123456789012:dbuser:db-ABC/app_user"
    )


def test_connect_arn_is_empty_without_instance_or_user() -> None:
    assert iam_connect_arn("", "", "app_user") == ""
    assert iam_connect_arn(INSTANCE_ARN, "db-ABC", "") == ""


def test_found_database_publishes_endpoint_groups_replica_and_connect_arns() -> None:
    result = lookup([REPLICA, INSTANCE])
    assert result["found"] is True
    assert (result["instance_id"], result["status"]) == ("dev-djg-db-ander", "available")
    assert (result["endpoint"], result["port"]) == ("db.example", 5433)
    assert (result["resource_id"], result["db_name"]) == ("db-ABCDEFGHIJKL", "appdb")
    assert result["iam_connect_arn"] == (
        "arn:aws:rds-db:us-east-1:123456789012:dbuser:db-ABCDEFGHIJKL/app_user"
    )
    assert result["iam_connect_migration_arn"].endswith("dbuser:db-ABCDEFGHIJKL/app_migrate")
    assert (result["security_group_id"], result["client_security_group_id"]) == (
        "sg-db",
        "sg-clients",
    )
    assert (result["replica_id"], result["replica_endpoint"]) == (
        "dev-djg-db-replica-ander",
        "replica.example",
    )


def test_no_migration_user_means_no_migration_arn() -> None:
    assert lookup([INSTANCE], migration_user="")["iam_connect_migration_arn"] == ""


def test_missing_database_publishes_empty_values_and_the_default_port() -> None:
    result = lookup([])
    assert result["found"] is False
    assert result["instance_id"] == result["iam_connect_arn"] == result["replica_id"] == ""
    assert result["port"] == 5432
    assert result["security_group_id"] == "sg-db"  # the groups exist before the instance


def test_an_instance_being_created_has_no_endpoint_yet() -> None:
    creating = {k: v for k, v in INSTANCE.items() if k != "Endpoint"}
    result = lookup([creating])
    assert (result["found"], result["endpoint"], result["port"]) == (True, "", 5432)
