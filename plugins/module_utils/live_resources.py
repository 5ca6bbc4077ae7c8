# Copyright: contributors to django_ecs.aws
# Apache License 2.0 (see galaxy.yml)
"""Read one resource as AWS describes it, for the fast path's stamps (``converged``).

Each reader takes a ``client(service)`` factory and the resource as a role recorded it (a
``kind`` plus identifiers) and returns what AWS says about it, or ``None`` when it does not exist.
Readers return whole ``describe``/``get`` answers, minus fields that change without anyone
changing the resource (counters, states, timestamps of use): everything else AWS reports is
compared, so a field no one thought of still counts as drift. A reader that misses a volatile field
only costs speed (the role runs in full every time), never a wrong skip.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ansible_collections.django_ecs.aws.plugins.module_utils.converged import (
    field_fingerprints,
    resource_key,
)
from ansible_collections.django_ecs.aws.plugins.module_utils.network_lookup import subnets_of_tier

with contextlib.suppress(ImportError):  # AnsibleAWSModule reports a missing botocore
    import botocore.exceptions

Clients = Callable[[str], Any]
# The reads are independent and mostly wait on the network (each request a round trip to AWS),
# so a few threads overlap them; few enough to stay well below the describe APIs' request rates
# (throttled requests are retried: counting_clients' clients use AWSRetry).
READ_THREADS = 8
Reader = Callable[[Clients, dict[str, Any]], "dict[str, Any] | None"]

_NOT_FOUND_CODES = {
    "AccessPointNotFound",
    "ClusterNotFoundException",
    "DBInstanceNotFound",
    "DBInstanceNotFoundFault",
    "DBParameterGroupNotFound",
    "DBParameterGroupNotFoundFault",
    "DBSubnetGroupNotFoundFault",
    "InvalidGroup.NotFound",
    "InvalidVpcID.NotFound",
    "LifecyclePolicyNotFoundException",
    "LoadBalancerNotFound",
    "LoadBalancerNotFoundException",
    "NoSuchBucket",
    "NoSuchBucketPolicy",
    "NoSuchEntity",
    "NoSuchLifecycleConfiguration",
    "NoSuchPublicAccessBlockConfiguration",
    "NotFoundException",
    "OwnershipControlsNotFoundError",
    "ImageNotFoundException",
    "RepositoryNotFoundException",
    "RepositoryPolicyNotFoundException",
    "ResourceNotFoundException",
    "ResourceNotFound",
    "ServerSideEncryptionConfigurationNotFoundError",
    "TargetGroupNotFound",
    "TargetGroupNotFoundException",
    "NoSuchTagSet",
    "DashboardNotFoundError",
}


def _optional(call: Callable[..., Any], **kwargs: Any) -> Any:
    """The answer, or None when AWS says the thing (or an optional part of it) does not exist."""
    try:
        return call(**kwargs)
    except botocore.exceptions.ClientError as error:
        if error.response.get("Error", {}).get("Code") in _NOT_FOUND_CODES:
            return None
        raise


def _without(described: dict[str, Any], *volatile: str) -> dict[str, Any]:
    answer = {key: value for key, value in described.items() if key not in volatile}
    answer.pop("ResponseMetadata", None)
    return answer


def ecs_cluster(client: Clients, resource: dict[str, Any]) -> dict[str, Any] | None:
    answer = client("ecs").describe_clusters(
        clusters=[resource["name"]], include=["SETTINGS", "TAGS", "CONFIGURATIONS"]
    )
    active = [c for c in answer.get("clusters", []) if c.get("status") == "ACTIVE"]
    if not active:
        return None
    return _without(
        active[0],
        "registeredContainerInstancesCount",
        "runningTasksCount",
        "pendingTasksCount",
        "activeServicesCount",
        "statistics",
        "attachmentsStatus",
    )


def ecs_service(client: Clients, resource: dict[str, Any]) -> dict[str, Any] | None:
    answer = _optional(
        client("ecs").describe_services,
        cluster=resource["cluster"],
        services=[resource["name"]],
        include=["TAGS"],
    )
    active = [s for s in (answer or {}).get("services", []) if s.get("status") == "ACTIVE"]
    if not active:
        return None
    # desiredCount belongs to autoscaling once the service exists (the role keeps the live one).
    return _without(
        active[0],
        "deployments",
        "events",
        "runningCount",
        "pendingCount",
        "desiredCount",
        "taskSets",
    )


def ecs_task_definition(client: Clients, resource: dict[str, Any]) -> dict[str, Any] | None:
    answer = _optional(
        client("ecs").describe_task_definition, taskDefinition=resource["name"], include=["TAGS"]
    )
    if not answer or answer["taskDefinition"].get("status") != "ACTIVE":
        return None
    described = _without(answer["taskDefinition"], "registeredAt", "registeredBy")
    return {**described, "tags": answer.get("tags", [])}


def iam_role(client: Clients, resource: dict[str, Any]) -> dict[str, Any] | None:
    iam = client("iam")
    answer = _optional(iam.get_role, RoleName=resource["name"])
    if not answer:
        return None
    inline = {}
    for page in iam.get_paginator("list_role_policies").paginate(RoleName=resource["name"]):
        for policy in page["PolicyNames"]:
            document = iam.get_role_policy(RoleName=resource["name"], PolicyName=policy)
            inline[policy] = document["PolicyDocument"]
    attached = [
        policy["PolicyArn"]
        for page in iam.get_paginator("list_attached_role_policies").paginate(
            RoleName=resource["name"]
        )
        for policy in page["AttachedPolicies"]
    ]
    role = _without(answer["Role"], "RoleLastUsed")
    return {**role, "InlinePolicies": inline, "AttachedPolicies": sorted(attached)}


def security_group(client: Clients, resource: dict[str, Any]) -> dict[str, Any] | None:
    answer = _optional(client("ec2").describe_security_groups, GroupIds=[resource["id"]])
    groups = (answer or {}).get("SecurityGroups", [])
    return _without(groups[0]) if groups else None


def secret(client: Clients, resource: dict[str, Any]) -> dict[str, Any] | None:
    # The description only: the value is never read, so no digest of it is stored anywhere.
    answer = _optional(client("secretsmanager").describe_secret, SecretId=resource["name"])
    if not answer or answer.get("DeletedDate"):
        return None
    return _without(answer, "LastAccessedDate", "NextRotationDate")


def scalable_target(client: Clients, resource: dict[str, Any]) -> dict[str, Any] | None:
    autoscaling = client("application-autoscaling")
    targets = autoscaling.describe_scalable_targets(
        ServiceNamespace="ecs", ResourceIds=[resource["id"]]
    )["ScalableTargets"]
    if not targets:
        return None
    policies = autoscaling.describe_scaling_policies(
        ServiceNamespace="ecs", ResourceId=resource["id"]
    )["ScalingPolicies"]
    # One target per service (ecs:service:DesiredCount), its fields at the top so drift names
    # them (MinCapacity, ...). PredictedCapacity follows a predictive policy's forecast.
    target = _without(targets[0], "CreationTime", "PredictedCapacity")
    arn = target.get("ScalableTargetARN")
    tags = autoscaling.list_tags_for_resource(ResourceARN=arn).get("Tags", {}) if arn else {}
    return {
        **target,
        "ScalingPolicies": sorted(
            (_without(p, "CreationTime") for p in policies), key=lambda p: p.get("PolicyName", "")
        ),
        "Tags": tags,
    }


def log_group(client: Clients, resource: dict[str, Any]) -> dict[str, Any] | None:
    logs = client("logs")
    for page in logs.get_paginator("describe_log_groups").paginate(
        logGroupNamePrefix=resource["name"]
    ):
        for group in page["logGroups"]:
            if group["logGroupName"] == resource["name"]:
                tags = logs.list_tags_log_group(logGroupName=resource["name"]).get("tags", {})
                return {**_without(group, "storedBytes"), "tags": tags}
    return None


def _described_alarm(cloudwatch: Any, described: dict[str, Any]) -> dict[str, Any]:
    # Tags too: the roles purge them, so a tag changed outside is drift.
    tags = cloudwatch.list_tags_for_resource(ResourceARN=described["AlarmArn"]).get("Tags", [])
    return {
        **_without(
            described,
            "StateValue",
            "StateReason",
            "StateReasonData",
            "StateUpdatedTimestamp",
            "StateTransitionedTimestamp",
            "EvaluationState",
        ),
        "Tags": sorted(tags, key=lambda tag: tag["Key"]),
    }


def alarms(client: Clients, resource: dict[str, Any]) -> dict[str, Any] | None:
    cloudwatch = client("cloudwatch")
    found: dict[str, Any] = {}
    for page in cloudwatch.get_paginator("describe_alarms").paginate(
        AlarmNamePrefix=resource["prefix"]
    ):
        for described in page["MetricAlarms"] + page.get("CompositeAlarms", []):
            found[described["AlarmName"]] = _described_alarm(cloudwatch, described)
    return found or None


def alarm(client: Clients, resource: dict[str, Any]) -> dict[str, Any] | None:
    """One alarm by its exact ``name``, field by field (a prefix, as ``alarms`` takes, would also
    match another client's alarms of the same environment and service)."""
    cloudwatch = client("cloudwatch")
    answer = cloudwatch.describe_alarms(AlarmNames=[resource["name"]])
    described = answer["MetricAlarms"] + answer.get("CompositeAlarms", [])
    return _described_alarm(cloudwatch, described[0]) if described else None


def dashboard(client: Clients, resource: dict[str, Any]) -> dict[str, Any] | None:
    answer = _optional(client("cloudwatch").get_dashboard, DashboardName=resource["name"])
    return _without(answer) if answer else None


def sns_topic(client: Clients, resource: dict[str, Any]) -> dict[str, Any] | None:
    sns = client("sns")
    answer = _optional(sns.get_topic_attributes, TopicArn=resource["id"])
    if not answer:
        return None
    attributes = _without(
        answer["Attributes"],
        "SubscriptionsConfirmed",
        "SubscriptionsPending",
        "SubscriptionsDeleted",
    )
    subscriptions = sorted(
        (s["Protocol"], s["Endpoint"])
        for page in sns.get_paginator("list_subscriptions_by_topic").paginate(
            TopicArn=resource["id"]
        )
        for s in page["Subscriptions"]
    )
    tags = sns.list_tags_for_resource(ResourceArn=resource["id"]).get("Tags", [])
    return {"Attributes": attributes, "Subscriptions": subscriptions, "Tags": tags}


def kms_key(client: Clients, resource: dict[str, Any]) -> dict[str, Any] | None:
    kms = client("kms")
    answer = _optional(kms.describe_key, KeyId=resource["id"])
    if not answer or answer["KeyMetadata"].get("KeyState") != "Enabled":
        return None
    key_id = answer["KeyMetadata"]["KeyId"]
    return {
        "KeyMetadata": answer["KeyMetadata"],
        "Policy": kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"],
        "RotationEnabled": kms.get_key_rotation_status(KeyId=key_id).get("KeyRotationEnabled"),
        "Tags": kms.list_resource_tags(KeyId=key_id).get("Tags", []),
    }


def ecr_repository(client: Clients, resource: dict[str, Any]) -> dict[str, Any] | None:
    ecr = client("ecr")
    answer = _optional(ecr.describe_repositories, repositoryNames=[resource["name"]])
    if not answer:
        return None
    repository = answer["repositories"][0]
    policy = _optional(ecr.get_repository_policy, repositoryName=resource["name"])
    lifecycle = _optional(ecr.get_lifecycle_policy, repositoryName=resource["name"])
    tags = ecr.list_tags_for_resource(resourceArn=repository["repositoryArn"]).get("tags", [])
    return {
        **repository,
        "policyText": (policy or {}).get("policyText"),
        "lifecyclePolicyText": (lifecycle or {}).get("lifecyclePolicyText"),
        "tags": tags,
    }


def ecr_image(client: Clients, resource: dict[str, Any]) -> dict[str, Any] | None:
    answer = _optional(
        client("ecr").describe_images,
        repositoryName=resource["repository"],
        imageIds=[{"imageTag": resource["tag"]}],
    )
    details = (answer or {}).get("imageDetails", [])
    if not details:
        return None
    return {
        "imageDigest": details[0]["imageDigest"],
        "imageTags": sorted(details[0].get("imageTags", [])),
    }


def load_balancer(client: Clients, resource: dict[str, Any]) -> dict[str, Any] | None:
    elbv2 = client("elbv2")
    answer = _optional(elbv2.describe_load_balancers, Names=[resource["name"]])
    if not answer or not answer["LoadBalancers"]:
        return None
    balancer = _without(answer["LoadBalancers"][0], "State")
    arn = balancer["LoadBalancerArn"]
    listeners = []
    for page in elbv2.get_paginator("describe_listeners").paginate(LoadBalancerArn=arn):
        for listener in page["Listeners"]:
            rules = elbv2.describe_rules(ListenerArn=listener["ListenerArn"])["Rules"]
            listeners.append({**listener, "Rules": rules})
    return {
        **balancer,
        "Attributes": elbv2.describe_load_balancer_attributes(LoadBalancerArn=arn)["Attributes"],
        "Tags": elbv2.describe_tags(ResourceArns=[arn])["TagDescriptions"][0].get("Tags", []),
        "Listeners": sorted(listeners, key=lambda listener: listener.get("Port", 0)),
    }


def target_group(client: Clients, resource: dict[str, Any]) -> dict[str, Any] | None:
    elbv2 = client("elbv2")
    answer = _optional(elbv2.describe_target_groups, Names=[resource["name"]])
    if not answer or not answer["TargetGroups"]:
        return None
    group = _without(answer["TargetGroups"][0])
    arn = group["TargetGroupArn"]
    return {
        **group,
        "Attributes": elbv2.describe_target_group_attributes(TargetGroupArn=arn)["Attributes"],
        "Tags": elbv2.describe_tags(ResourceArns=[arn])["TagDescriptions"][0].get("Tags", []),
    }


def s3_bucket(client: Clients, resource: dict[str, Any]) -> dict[str, Any] | None:
    s3 = client("s3")
    bucket = resource["name"]
    if _optional(s3.get_bucket_location, Bucket=bucket) is None:
        return None
    parts = {
        "Encryption": (s3.get_bucket_encryption, "ServerSideEncryptionConfiguration"),
        "PublicAccessBlock": (s3.get_public_access_block, "PublicAccessBlockConfiguration"),
        "Policy": (s3.get_bucket_policy, "Policy"),
        "Lifecycle": (s3.get_bucket_lifecycle_configuration, "Rules"),
        "Ownership": (s3.get_bucket_ownership_controls, "OwnershipControls"),
        "Tags": (s3.get_bucket_tagging, "TagSet"),
        "Versioning": (s3.get_bucket_versioning, "Status"),
    }
    described = {}
    for name, (call, key) in parts.items():
        answer = _optional(call, Bucket=bucket)
        described[name] = (answer or {}).get(key)
    return described


def rds_instance(client: Clients, resource: dict[str, Any]) -> dict[str, Any] | None:
    answer = _optional(client("rds").describe_db_instances, DBInstanceIdentifier=resource["id"])
    instances = (answer or {}).get("DBInstances", [])
    if not instances:
        return None
    # The status passes through backing-up, modifying...: pending changes are in
    # PendingModifiedValues, which stays compared.
    return _without(
        instances[0], "LatestRestorableTime", "DBInstanceStatus", "ActivityStreamStatus"
    )


def db_parameter_group(client: Clients, resource: dict[str, Any]) -> dict[str, Any] | None:
    rds = client("rds")
    answer = _optional(rds.describe_db_parameter_groups, DBParameterGroupName=resource["name"])
    if not answer:
        return None
    parameters = {
        parameter["ParameterName"]: parameter.get("ParameterValue")
        for page in rds.get_paginator("describe_db_parameters").paginate(
            DBParameterGroupName=resource["name"], Source="user"
        )
        for parameter in page["Parameters"]
    }
    group = answer["DBParameterGroups"][0]
    return {**group, "Parameters": parameters, "Tags": _rds_tags(rds, group["DBParameterGroupArn"])}


def db_subnet_group(client: Clients, resource: dict[str, Any]) -> dict[str, Any] | None:
    rds = client("rds")
    answer = _optional(rds.describe_db_subnet_groups, DBSubnetGroupName=resource["name"])
    groups = (answer or {}).get("DBSubnetGroups", [])
    if not groups:
        return None
    group = _without(groups[0], "SubnetGroupStatus")
    return {**group, "Tags": _rds_tags(rds, group["DBSubnetGroupArn"])}


def _rds_tags(rds: Any, arn: str) -> list[dict[str, str]]:
    """RDS describes groups without their tags (the roles set them)."""
    tags = rds.list_tags_for_resource(ResourceName=arn).get("TagList", [])
    return sorted(tags, key=lambda tag: tag["Key"])


def lambda_function(client: Clients, resource: dict[str, Any]) -> dict[str, Any] | None:
    functions = client("lambda")
    answer = _optional(functions.get_function_configuration, FunctionName=resource["name"])
    if not answer:
        return None
    tags = functions.list_tags(Resource=answer["FunctionArn"]).get("Tags", {})
    return {
        **_without(
            answer,
            "State",
            "StateReason",
            "StateReasonCode",
            "LastUpdateStatus",
            "LastUpdateStatusReason",
            "LastUpdateStatusReasonCode",
        ),
        "Tags": tags,
    }


def target_group_attachment(client: Clients, resource: dict[str, Any]) -> dict[str, Any] | None:
    """The target group ``name``'s ARN and the load balancers it serves, nothing else of it.

    Not a resource of the part but what it looked up: alarms name their load balancer and target
    group by ARN suffix, so a replaced load balancer must make the part run even when the alarms
    themselves did not change.
    """
    answer = _optional(client("elbv2").describe_target_groups, Names=[resource["name"]])
    groups = (answer or {}).get("TargetGroups", [])
    if not groups:
        return None
    return {
        "TargetGroupArn": groups[0]["TargetGroupArn"],
        "LoadBalancerArns": sorted(groups[0].get("LoadBalancerArns", [])),
    }


def instances_named(client: Clients, resource: dict[str, Any]) -> dict[str, Any] | None:
    """The ids of the instances tagged Name=``name`` that are not terminated (e.g. the NAT
    instance an alarm watches): a replaced instance makes the part run. None: there is none."""
    ec2 = client("ec2")
    ids = sorted(
        instance["InstanceId"]
        for page in ec2.get_paginator("describe_instances").paginate(
            Filters=[
                {"Name": "tag:Name", "Values": [resource["name"]]},
                {
                    "Name": "instance-state-name",
                    "Values": ["pending", "running", "stopping", "stopped"],
                },
            ]
        )
        for reservation in page["Reservations"]
        for instance in reservation["Instances"]
    )
    return {"InstanceIds": ids} if ids else None


def network(client: Clients, resource: dict[str, Any]) -> dict[str, Any] | None:
    """The VPC ``id`` and its private subnets, as ``network_lookup`` publishes them.

    Not a resource of the part but what it read of the network layer: recorded so that a new or
    replaced private subnet makes the part run, as it changes what the part sends (a subnet group,
    a function's VPC configuration).
    """
    ec2 = client("ec2")
    answer = _optional(ec2.describe_vpcs, VpcIds=[resource["id"]])
    if not answer or not answer["Vpcs"]:
        return None
    subnets = [
        subnet
        for page in ec2.get_paginator("describe_subnets").paginate(
            Filters=[{"Name": "vpc-id", "Values": [resource["id"]]}]
        )
        for subnet in page["Subnets"]
    ]
    return {"VpcId": resource["id"], "PrivateSubnets": subnets_of_tier(subnets, "private")}


READERS: dict[str, Reader] = {
    "alarm": alarm,
    "alarms": alarms,
    "dashboard": dashboard,
    "db_parameter_group": db_parameter_group,
    "db_subnet_group": db_subnet_group,
    "ecr_image": ecr_image,
    "ecr_repository": ecr_repository,
    "ecs_cluster": ecs_cluster,
    "ecs_service": ecs_service,
    "ecs_task_definition": ecs_task_definition,
    "iam_role": iam_role,
    "instances_named": instances_named,
    "kms_key": kms_key,
    "lambda_function": lambda_function,
    "load_balancer": load_balancer,
    "log_group": log_group,
    "network": network,
    "rds_instance": rds_instance,
    "s3_bucket": s3_bucket,
    "scalable_target": scalable_target,
    "secret": secret,
    "security_group": security_group,
    "sns_topic": sns_topic,
    "target_group": target_group,
    "target_group_attachment": target_group_attachment,
}


def read(client: Clients, resource: dict[str, Any]) -> dict[str, Any] | None:
    """What AWS says about one recorded resource (None: it is gone)."""
    return READERS[resource["kind"]](client, resource)


def _described(client: Clients, resource: dict[str, Any]) -> dict[str, Any] | None:
    # An empty identifier (check mode, before the resource exists) counts as missing.
    if any(value == "" for value in resource.values()):
        return None
    try:
        return read(client, resource)
    except botocore.exceptions.ClientError as error:
        # Not readable (a permission, an unexpected state): drift, so the role runs in full and
        # meets the real error itself, with its own message.
        return {"unreadable": error.response.get("Error", {}).get("Code", "error")}


def read_each(client: Clients, resources: list[dict[str, Any]]) -> list[dict[str, str] | None]:
    """Each resource's field fingerprints (None: missing), in order, read concurrently.

    ``client`` must be thread-safe, as ``aws_clients.counting_clients`` is."""
    with ThreadPoolExecutor(max_workers=max(1, min(READ_THREADS, len(resources)))) as pool:
        return list(
            pool.map(lambda resource: field_fingerprints(_described(client, resource)), resources)
        )


def live_fingerprints(
    client: Clients, resources: list[dict[str, Any]]
) -> dict[str, dict[str, str] | None]:
    """``{kind:identifier: {field: fingerprint}}`` of the resources, None for the missing ones."""
    return {
        resource_key(resource): answer
        for resource, answer in zip(resources, read_each(client, resources), strict=True)
    }
