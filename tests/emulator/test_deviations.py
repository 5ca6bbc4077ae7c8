"""One test per moto deviation the emulator corrects; each fails against plain moto 5.2.5."""

from __future__ import annotations

import hashlib
import io
import json
import ssl
import zipfile
from collections.abc import Callable
from typing import Any

import boto3
import pg8000.native
import pytest
from botocore.exceptions import ClientError

from tests.aws_policies import service_trust

Aws = Callable[[str], Any]

MANAGED_POLICIES = (
    "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
    "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
    "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy",
)
ENGINE_DEFAULTS_WE_TUNE = (
    "rds.force_ssl",
    "log_min_duration_statement",
    "log_connections",
    "log_disconnections",
    "log_statement",
    "rds.log_retention_period",
    "shared_preload_libraries",
)


def _vpc_subnet(ec2: Any, cidr: str) -> tuple[str, str]:
    vpc_id = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
    subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock=cidr)["Subnet"]["SubnetId"]
    return vpc_id, subnet_id


def _tags_of(ec2: Any, resource_id: str, resource_type: str) -> list[dict[str, str]]:
    # The filter amazon.aws's describe_ec2_tags sends.
    filters = [
        {"Name": "resource-id", "Values": [resource_id]},
        {"Name": "resource-type", "Values": [resource_type]},
    ]
    return ec2.describe_tags(Filters=filters)["Tags"]


def _parameters(rds: Any, group: str, **extra: str) -> dict[str, dict[str, Any]]:
    pages = rds.get_paginator("describe_db_parameters").paginate(
        DBParameterGroupName=group, **extra
    )
    return {p["ParameterName"]: p for page in pages for p in page["Parameters"]}


def test_aws_managed_policies_exist(aws: Aws) -> None:
    iam = aws("iam")
    for arn in MANAGED_POLICIES:
        assert iam.get_policy(PolicyArn=arn)["Policy"]["Arn"] == arn


def test_lambda_invoke_answers_without_docker(aws: Aws, unique: str) -> None:
    role = aws("iam").create_role(
        RoleName=f"fn-{unique}", AssumeRolePolicyDocument=service_trust("lambda.amazonaws.com")
    )
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return {'ok': True}\n")
    lambda_client = aws("lambda")
    lambda_client.create_function(
        FunctionName=f"fn-{unique}",
        Runtime="python3.12",
        Role=role["Role"]["Arn"],
        Handler="handler.handler",
        Code={"ZipFile": package.getvalue()},
    )
    answer = lambda_client.invoke(FunctionName=f"fn-{unique}", Payload=b"{}")
    assert answer["StatusCode"] == 200
    assert "FunctionError" not in answer


def test_unknown_parameter_group_is_not_found(aws: Aws, unique: str) -> None:
    with pytest.raises(ClientError) as raised:
        aws("rds").describe_db_parameter_groups(DBParameterGroupName=f"missing-{unique}")
    assert raised.value.response["Error"]["Code"] == "DBParameterGroupNotFound"
    defaults = aws("rds").describe_db_parameter_groups(DBParameterGroupName="default.postgres16")
    assert defaults["DBParameterGroups"][0]["DBParameterGroupFamily"] == "postgres16"


def test_new_parameter_group_carries_engine_defaults(aws: Aws, unique: str) -> None:
    rds = aws("rds")
    group = f"pg16-{unique}"
    rds.create_db_parameter_group(
        DBParameterGroupName=group, DBParameterGroupFamily="postgres16", Description="test"
    )
    parameters = _parameters(rds, group)
    assert set(ENGINE_DEFAULTS_WE_TUNE) <= set(parameters)
    force_ssl = parameters["rds.force_ssl"]
    assert force_ssl["Source"] == "engine-default"
    assert (force_ssl["DataType"], force_ssl["AllowedValues"]) == ("boolean", "0,1")
    assert (force_ssl["ApplyType"], force_ssl["IsModifiable"]) == ("dynamic", True)
    # What rds_instance_param_group does: modify, then compare on the next run.
    rds.modify_db_parameter_group(
        DBParameterGroupName=group,
        Parameters=[
            {"ParameterName": "rds.force_ssl", "ParameterValue": "1", "ApplyMethod": "immediate"},
            {
                "ParameterName": "log_min_duration_statement",
                "ParameterValue": "500",
                "ApplyMethod": "immediate",
            },
        ],
    )
    user_set = _parameters(rds, group, Source="user")
    assert {n: p["ParameterValue"] for n, p in user_set.items()} == {
        "rds.force_ssl": "1",
        "log_min_duration_statement": "500",
    }
    assert user_set["log_min_duration_statement"]["DataType"] == "integer"


def test_nat_gateway_and_eip_tags_found_by_aws_resource_types(aws: Aws, unique: str) -> None:
    ec2 = aws("ec2")
    _, subnet_id = _vpc_subnet(ec2, "10.91.0.0/24")
    allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
    ec2.create_tags(Resources=[allocation], Tags=[{"Key": "Name", "Value": f"eip-{unique}"}])
    nat_id = ec2.create_nat_gateway(
        SubnetId=subnet_id,
        AllocationId=allocation,
        TagSpecifications=[
            {"ResourceType": "natgateway", "Tags": [{"Key": "Name", "Value": f"nat-{unique}"}]}
        ],
    )["NatGateway"]["NatGatewayId"]
    nat_tags = _tags_of(ec2, nat_id, "natgateway")
    eip_tags = _tags_of(ec2, allocation, "elastic-ip")
    assert [(t["Value"], t["ResourceType"]) for t in nat_tags] == [(f"nat-{unique}", "natgateway")]
    assert [(t["Value"], t["ResourceType"]) for t in eip_tags] == [(f"eip-{unique}", "elastic-ip")]


def test_cluster_describes_empty_capacity_providers(aws: Aws, unique: str) -> None:
    ecs = aws("ecs")
    ecs.create_cluster(clusterName=f"cluster-{unique}")
    cluster = ecs.describe_clusters(clusters=[f"cluster-{unique}"])["clusters"][0]
    assert cluster["capacityProviders"] == []
    assert cluster["defaultCapacityProviderStrategy"] == []


def test_service_keeps_grace_period_and_deployment_configuration(aws: Aws, unique: str) -> None:
    ecs = aws("ecs")
    cluster = f"svc-{unique}"
    ecs.create_cluster(clusterName=cluster)
    ecs.register_task_definition(
        family=f"td-{unique}",
        containerDefinitions=[{"name": "web", "image": "nginx", "memory": 128}],
    )
    requested = {
        "deploymentCircuitBreaker": {"enable": True, "rollback": True},
        "maximumPercent": 200,
        "minimumHealthyPercent": 50,
    }
    created = ecs.create_service(
        cluster=cluster,
        serviceName="web",
        taskDefinition=f"td-{unique}",
        desiredCount=1,
        healthCheckGracePeriodSeconds=60,
        deploymentConfiguration=requested,
        enableExecuteCommand=True,
    )["service"]
    assert created["enableExecuteCommand"] is True
    assert created["healthCheckGracePeriodSeconds"] == 60
    assert created["deploymentConfiguration"] == requested
    ecs.update_service(cluster=cluster, service="web", healthCheckGracePeriodSeconds=120)
    described = ecs.describe_services(cluster=cluster, services=["web"])["services"][0]
    assert described["healthCheckGracePeriodSeconds"] == 120
    assert described["deploymentConfiguration"] == requested


def test_put_image_digest_is_sha256_of_manifest(aws: Aws, unique: str) -> None:
    ecr = aws("ecr")
    ecr.create_repository(repositoryName=f"repo-{unique}")
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": 2,
                "digest": "sha256:" + hashlib.sha256(b"{}").hexdigest(),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": 5,
                    "digest": "sha256:" + hashlib.sha256(f"layer{unique}".encode()).hexdigest(),
                }
            ],
        },
        indent=3,
    )
    image = ecr.put_image(repositoryName=f"repo-{unique}", imageManifest=manifest, imageTag="v1")
    expected = "sha256:" + hashlib.sha256(manifest.encode()).hexdigest()
    assert image["image"]["imageId"]["imageDigest"] == expected


def test_source_dest_check_off_shows_on_primary_eni(aws: Aws) -> None:
    ec2 = aws("ec2")
    _, subnet_id = _vpc_subnet(ec2, "10.92.0.0/24")
    instance = ec2.run_instances(
        ImageId="ami-12c6146b", InstanceType="t3.micro", MinCount=1, MaxCount=1, SubnetId=subnet_id
    )["Instances"][0]
    ec2.modify_instance_attribute(
        InstanceId=instance["InstanceId"], SourceDestCheck={"Value": False}
    )
    eni_id = instance["NetworkInterfaces"][0]["NetworkInterfaceId"]
    eni = ec2.describe_network_interfaces(NetworkInterfaceIds=[eni_id])["NetworkInterfaces"][0]
    described = ec2.describe_instances(InstanceIds=[instance["InstanceId"]])
    assert eni["SourceDestCheck"] is False
    assert described["Reservations"][0]["Instances"][0]["SourceDestCheck"] is False


def _connect(
    env: dict[str, str], endpoint: dict[str, Any], user: str, password: str, database: str
) -> Any:
    """A verified TLS session, as sslmode=verify-full with the RDS CA bundle would open it."""
    context = ssl.create_default_context(cafile=env["DJANGO_ECS_EMULATOR_CA_BUNDLE"])
    return pg8000.native.Connection(
        user=user,
        password=password,
        host=endpoint["Address"],
        port=endpoint["Port"],
        database=database,
        ssl_context=context,
    )


def _postgres_instance(aws: Aws, identifier: str, master: str, database: str) -> dict[str, Any]:
    return aws("rds").create_db_instance(
        DBInstanceIdentifier=identifier,
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        EngineVersion="16.3",
        AllocatedStorage=20,
        MasterUsername=master,
        MasterUserPassword="first-Password1",
        DBName=database,
    )["DBInstance"]


def test_db_instance_endpoint_is_a_live_postgres(
    aws: Aws, emulator_env: dict[str, str], unique: str
) -> None:
    rds = aws("rds")
    master, database = f"master_{unique}", f"appdb_{unique}"
    created = _postgres_instance(aws, f"db-{unique}", master, database)
    endpoint = created["Endpoint"]
    assert endpoint["Address"] == "127.0.0.1"
    session = _connect(emulator_env, endpoint, master, "first-Password1", database)
    role = session.run(
        "SELECT rolcreaterole, rolcreatedb, rolsuper, pg_has_role(current_user, 'rds_superuser',"
        " 'MEMBER'), (SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname ="
        " current_database()) FROM pg_roles WHERE rolname = current_user"
    )
    assert role == [[True, True, False, True, master]]
    session.run(f"CREATE ROLE app_{unique} LOGIN")
    session.run(f"GRANT rds_iam TO app_{unique}")  # what db_init does on RDS
    session.close()

    rds.modify_db_instance(
        DBInstanceIdentifier=f"db-{unique}",
        MasterUserPassword="second-Password2",
        ApplyImmediately=True,
    )
    with pytest.raises(pg8000.native.DatabaseError):
        _connect(emulator_env, endpoint, master, "first-Password1", database)
    _connect(emulator_env, endpoint, master, "second-Password2", database).close()


def test_each_db_instance_is_a_server_of_its_own(
    aws: Aws, emulator_env: dict[str, str], unique: str
) -> None:
    # Same master user and database names, as two environments of one inventory have.
    first = _postgres_instance(aws, f"one-{unique}", "admin_user", "appdb")["Endpoint"]
    second = _postgres_instance(aws, f"two-{unique}", "admin_user", "appdb")["Endpoint"]
    assert first["Port"] != second["Port"]
    session = _connect(emulator_env, first, "admin_user", "first-Password1", "appdb")
    session.run(f"CREATE ROLE only_in_one_{unique}")
    session.close()
    other = _connect(emulator_env, second, "admin_user", "first-Password1", "appdb")
    assert other.run("SELECT count(*) FROM pg_roles WHERE rolname LIKE 'only_in_one_%'") == [[0]]
    other.close()
    aws("rds").delete_db_instance(DBInstanceIdentifier=f"two-{unique}", SkipFinalSnapshot=True)
    with pytest.raises((OSError, pg8000.native.InterfaceError)):
        _connect(emulator_env, second, "admin_user", "first-Password1", "appdb")


def test_db_instance_requires_tls(aws: Aws, emulator_env: dict[str, str], unique: str) -> None:
    # RDS for PostgreSQL 15+ defaults rds.force_ssl to 1: an unencrypted login is refused.
    endpoint = _postgres_instance(aws, f"tls-{unique}", "tls_admin", "appdb")["Endpoint"]
    with pytest.raises(pg8000.native.DatabaseError, match="no encryption"):
        pg8000.native.Connection(
            user="tls_admin",
            password="first-Password1",
            host=endpoint["Address"],
            port=endpoint["Port"],
            database="appdb",
            ssl_context=False,
        )


def test_read_replica_is_a_read_only_copy(
    aws: Aws, emulator_env: dict[str, str], unique: str
) -> None:
    source = _postgres_instance(aws, f"src-{unique}", "src_admin", "appdb")["Endpoint"]
    session = _connect(emulator_env, source, "src_admin", "first-Password1", "appdb")
    session.run("CREATE TABLE kept (n int)")
    session.run("INSERT INTO kept VALUES (42)")
    session.close()
    aws("rds").create_db_instance_read_replica(
        DBInstanceIdentifier=f"src-{unique}-replica", SourceDBInstanceIdentifier=f"src-{unique}"
    )
    replica = aws("rds").describe_db_instances(DBInstanceIdentifier=f"src-{unique}-replica")[
        "DBInstances"
    ][0]["Endpoint"]
    assert replica["Port"] != source["Port"]
    copy = _connect(emulator_env, replica, "src_admin", "first-Password1", "appdb")
    assert copy.run("SELECT n FROM kept") == [[42]]
    with pytest.raises(pg8000.native.DatabaseError, match="read-only transaction"):
        copy.run("INSERT INTO kept VALUES (1)")
    copy.close()


def test_db_instances_have_their_own_resource_ids(aws: Aws, unique: str) -> None:
    rds = aws("rds")
    for suffix in ("a", "b"):
        rds.create_db_instance(
            DBInstanceIdentifier=f"ids-{unique}-{suffix}",
            DBInstanceClass="db.t3.micro",
            Engine="postgres",
            AllocatedStorage=20,
            MasterUsername=f"ids_{unique}",
            MasterUserPassword="Password-123",
        )
    described = rds.describe_db_instances()["DBInstances"]
    ids = {
        d["DbiResourceId"]
        for d in described
        if d["DBInstanceIdentifier"].startswith(f"ids-{unique}")
    }
    assert len(ids) == 2


def test_db_instance_without_subnet_group_is_in_the_default_one(aws: Aws, unique: str) -> None:
    rds = aws("rds")
    rds.create_db_instance(
        DBInstanceIdentifier=f"nosubnets-{unique}",
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        AllocatedStorage=20,
        MasterUsername=f"ns_{unique}",
        MasterUserPassword="Password-123",
    )
    described = rds.describe_db_instances(DBInstanceIdentifier=f"nosubnets-{unique}")
    subnet_group = described["DBInstances"][0]["DBSubnetGroup"]
    default_vpc = aws("ec2").describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])
    assert subnet_group["DBSubnetGroupName"] == "default"
    assert subnet_group["VpcId"] == default_vpc["Vpcs"][0]["VpcId"]


def test_rule_description_updates_return_true(aws: Aws, unique: str) -> None:
    ec2 = aws("ec2")
    vpc_id, _ = _vpc_subnet(ec2, "10.93.0.0/24")
    group_id = ec2.create_security_group(
        GroupName=f"describe-{unique}", Description="d", VpcId=vpc_id
    )["GroupId"]
    described_rule = [
        {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "x"}]}
    ]
    egress = ec2.update_security_group_rule_descriptions_egress(
        GroupId=group_id, IpPermissions=described_rule
    )
    ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=described_rule)
    ingress = ec2.update_security_group_rule_descriptions_ingress(
        GroupId=group_id, IpPermissions=described_rule
    )
    assert egress["Return"] is True
    assert ingress["Return"] is True


def test_kms_key_deletion_accepts_the_key_arn(aws: Aws) -> None:
    kms = aws("kms")
    key = kms.create_key(Description="deletion by arn")["KeyMetadata"]
    scheduled = kms.schedule_key_deletion(KeyId=key["Arn"], PendingWindowInDays=7)
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "PendingDeletion"
    assert scheduled["KeyId"].endswith(key["KeyId"])
    kms.cancel_key_deletion(KeyId=key["Arn"])
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] != "PendingDeletion"
    kms.enable_key(KeyId=key["Arn"])
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "Enabled"
    kms.disable_key(KeyId=key["Arn"])
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "Disabled"


def test_new_alb_lists_every_default_attribute(aws: Aws) -> None:
    ec2, elbv2 = aws("ec2"), aws("elbv2")
    vpc_id = ec2.create_vpc(CidrBlock="10.94.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(
            VpcId=vpc_id, CidrBlock=f"10.94.{i}.0/24", AvailabilityZone=f"us-east-1{z}"
        )["Subnet"]["SubnetId"]
        for i, z in enumerate("ab")
    ]
    arn = elbv2.create_load_balancer(Name="attrs", Subnets=subnets)["LoadBalancers"][0][
        "LoadBalancerArn"
    ]
    attributes = {
        a["Key"]: a["Value"]
        for a in elbv2.describe_load_balancer_attributes(LoadBalancerArn=arn)["Attributes"]
    }
    assert attributes["access_logs.s3.enabled"] == "false"
    assert attributes["routing.http.drop_invalid_header_fields.enabled"] == "false"
    assert attributes["routing.http.desync_mitigation_mode"] == "defensive"
    assert attributes["idle_timeout.timeout_seconds"] == "60"


def test_fargate_run_task_with_task_level_memory_only(aws: Aws, unique: str) -> None:
    ecs = aws("ecs")
    cluster = f"run-{unique}"
    ecs.create_cluster(clusterName=cluster)
    ecs.register_task_definition(
        family=f"mem-{unique}",
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="256",
        memory="512",
        containerDefinitions=[{"name": "web", "image": "nginx"}],
    )
    ec2 = aws("ec2")
    vpc_id, subnet_id = _vpc_subnet(ec2, "10.95.0.0/24")
    # As our VPCs do (moto's ENIs lack a private DNS name otherwise).
    ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})
    group_id = ec2.create_security_group(GroupName=f"t-{unique}", Description="t", VpcId=vpc_id)[
        "GroupId"
    ]
    started = ecs.run_task(
        cluster=cluster,
        taskDefinition=f"mem-{unique}",
        count=1,
        launchType="FARGATE",
        networkConfiguration={
            "awsvpcConfiguration": {"subnets": [subnet_id], "securityGroups": [group_id]}
        },
    )
    assert len(started["tasks"]) == 1


def test_gp3_instance_reports_baseline_iops_and_throughput(aws: Aws, unique: str) -> None:
    rds = aws("rds")
    created = rds.create_db_instance(
        DBInstanceIdentifier=f"gp3-{unique}",
        Engine="postgres",
        DBInstanceClass="db.t3.micro",
        AllocatedStorage=20,
        StorageType="gp3",
        MasterUsername=f"gp3admin{unique[:6]}".replace("-", ""),
        MasterUserPassword="not-a-real-password-1",
    )["DBInstance"]
    assert (created["Iops"], created["StorageThroughput"]) == (3000, 125)


def test_effective_account_settings_include_aws_defaults(aws: Aws) -> None:
    ecs = aws("ecs")
    effective = ecs.list_account_settings(name="taskLongArnFormat", effectiveSettings=True)
    assert [(s["name"], s["value"]) for s in effective["settings"]] == [
        ("taskLongArnFormat", "enabled")
    ]
    # Without effectiveSettings only what the account set is listed, as on AWS.
    assert ecs.list_account_settings(name="awsvpcTrunking")["settings"] == []


def _scalable_service(aws: Aws, unique: str) -> tuple[str, str]:
    """An ECS service registered as a scalable target with tags; returns (resource id, ARN)."""
    ecs = aws("ecs")
    cluster = f"scale-{unique}"
    ecs.create_cluster(clusterName=cluster)
    ecs.register_task_definition(
        family=f"scale-{unique}",
        containerDefinitions=[{"name": "web", "image": "nginx", "memory": 128}],
    )
    ecs.create_service(
        cluster=cluster, serviceName="web", taskDefinition=f"scale-{unique}", desiredCount=1
    )
    resource_id = f"service/{cluster}/web"
    arn = aws("application-autoscaling").register_scalable_target(
        ServiceNamespace="ecs",
        ResourceId=resource_id,
        ScalableDimension="ecs:service:DesiredCount",
        MinCapacity=1,
        MaxCapacity=3,
        Tags={"Project": "django-ecs", "Environment": "dev"},
    )["ScalableTargetARN"]
    return resource_id, arn


def test_scalable_target_tags_round_trip(aws: Aws, unique: str) -> None:
    scaling = aws("application-autoscaling")
    resource_id, arn = _scalable_service(aws, unique)
    assert scaling.list_tags_for_resource(ResourceARN=arn)["Tags"] == {
        "Project": "django-ecs",
        "Environment": "dev",
    }
    scaling.tag_resource(ResourceARN=arn, Tags={"Environment": "prod", "Owner": "platform"})
    scaling.untag_resource(ResourceARN=arn, TagKeys=["Project"])
    assert scaling.list_tags_for_resource(ResourceARN=arn)["Tags"] == {
        "Environment": "prod",
        "Owner": "platform",
    }
    # Tags of RegisterScalableTarget apply on creation only (AWS: use TagResource afterwards).
    scaling.register_scalable_target(
        ServiceNamespace="ecs",
        ResourceId=resource_id,
        ScalableDimension="ecs:service:DesiredCount",
        MinCapacity=1,
        MaxCapacity=4,
        Tags={"Ignored": "yes"},
    )
    assert "Ignored" not in scaling.list_tags_for_resource(ResourceARN=arn)["Tags"]


def test_scalable_target_tag_errors_are_aws_errors(aws: Aws, unique: str) -> None:
    scaling = aws("application-autoscaling")
    resource_id, arn = _scalable_service(aws, unique)
    refusals = {
        "ValidationException": {"aws:reserved": "x"},
        "TooManyTagsException": {f"k{n}": "v" for n in range(49)},
    }
    for code, tags in refusals.items():
        with pytest.raises(ClientError) as raised:
            scaling.tag_resource(ResourceARN=arn, Tags=tags)
        assert raised.value.response["Error"]["Code"] == code
    scaling.deregister_scalable_target(
        ServiceNamespace="ecs", ResourceId=resource_id, ScalableDimension="ecs:service:DesiredCount"
    )
    with pytest.raises(ClientError) as raised:
        scaling.list_tags_for_resource(ResourceARN=arn)
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_iam_db_login_needs_rds_db_connect(
    aws: Aws, emulator_env: dict[str, str], unique: str
) -> None:
    # Item 26: an rds_iam member's token is checked against the signer's IAM policies; plain
    # moto has no engine to log in to, and patch 9's engines let any token in.
    master, database = f"master_{unique}", f"appdb_{unique}"
    endpoint = _postgres_instance(aws, f"iam-{unique}", master, database)["Endpoint"]
    aws("rds").modify_db_instance(
        DBInstanceIdentifier=f"iam-{unique}", EnableIAMDatabaseAuthentication=True
    )
    resource_id = aws("rds").describe_db_instances(DBInstanceIdentifier=f"iam-{unique}")[
        "DBInstances"
    ][0]["DbiResourceId"]
    session = _connect(emulator_env, endpoint, master, "first-Password1", database)
    session.run(f"CREATE ROLE app_{unique} LOGIN")
    session.run(f"GRANT rds_iam TO app_{unique}")
    session.close()
    trust = json.dumps({"Version": "2012-10-17", "Statement": []})
    aws("iam").create_role(RoleName=f"db-{unique}", AssumeRolePolicyDocument=trust)
    role_arn = f"arn:aws:iam::123456789012:role/db-{unique}"

    def token() -> str:
        keys = aws("sts").assume_role(RoleArn=role_arn, RoleSessionName="app")["Credentials"]
        client = boto3.client(
            "rds",
            region_name="us-east-1",
            aws_access_key_id=keys["AccessKeyId"],
            aws_secret_access_key=keys["SecretAccessKey"],
            aws_session_token=keys["SessionToken"],
        )
        return str(
            client.generate_db_auth_token(
                DBHostname=endpoint["Address"], Port=endpoint["Port"], DBUsername=f"app_{unique}"
            )
        )

    with pytest.raises(pg8000.native.DatabaseError, match="authentication failed"):
        _connect(emulator_env, endpoint, f"app_{unique}", token(), database)
    statement = {
        "Effect": "Allow",
        "Action": "rds-db:connect",
        "Resource": f"arn:aws:rds-db:us-east-1:123456789012:dbuser:{resource_id}/app_{unique}",
    }
    aws("iam").put_role_policy(
        RoleName=f"db-{unique}",
        PolicyName="connect",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
    )
    _connect(emulator_env, endpoint, f"app_{unique}", token(), database).close()
