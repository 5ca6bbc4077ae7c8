"""The AWS calls a playbook run makes, as IAM requests, judged by moto's IAM policy evaluator.

A run records its calls through ``aws_call_recorder/sitecustomize.py`` (``recording_env``: one
JSON line per call, from ansible-playbook and every module process). ``iam_requests`` turns
each call into what IAM authorises: the action, the resource ARN, the condition keys the request
carries (``aws:RequestTag/*``, ``iam:PassedToService``...) and the resource's tags
(``aws:ResourceTag/*``, read from the emulator afterwards), plus the requests AWS makes
implicitly (``iam:PassRole`` for the roles a task definition names, tag-on-create permissions).
``denied`` evaluates them with ``moto.iam.access_control.IAMPolicy``, moto's own evaluator
(Allow/Deny, Action/Resource wildcards, StringEquals conditions); nothing here matches patterns.

Written to be reused by any test that already converges a stack: pass ``recording_env(path)``
as the ``env`` of its ``site.yml --tags app`` / ``playbooks/image.yml`` runs, then call
``denied(policy, iam_requests(read_calls(path), Lookup(...)))``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from moto.iam.access_control import IAMPolicy, PermissionResult

RECORDER_DIR = Path(__file__).resolve().parent / "aws_call_recorder"
ECS_TASKS = "ecs-tasks.amazonaws.com"
# Calls IAM never authorises (any caller may make them).
NEEDS_NO_PERMISSION = {("sts", "GetCallerIdentity")}
# IAM prefixes that differ from botocore's signing name.
IAM_PREFIX = {"monitoring": "cloudwatch"}
# S3 API operations whose IAM action has another name (Service Authorization Reference, S3).
S3_ACTIONS = {
    "HeadBucket": "ListBucket",
    "GetBucketEncryption": "GetEncryptionConfiguration",
    "PutBucketEncryption": "PutEncryptionConfiguration",
    "GetBucketLifecycleConfiguration": "GetLifecycleConfiguration",
    "PutBucketLifecycleConfiguration": "PutLifecycleConfiguration",
    "GetPublicAccessBlock": "GetBucketPublicAccessBlock",
    "PutPublicAccessBlock": "PutBucketPublicAccessBlock",
    "GetBucketAccelerateConfiguration": "GetAccelerateConfiguration",
    "ListBucketInventoryConfigurations": "GetInventoryConfiguration",
    "GetObjectLockConfiguration": "GetBucketObjectLockConfiguration",
}


def recording_env(record_file: Path) -> dict[str, str]:
    """Environment of a playbook run whose AWS calls are appended to ``record_file``."""
    path = os.environ.get("PYTHONPATH", "")
    return {
        "DJANGO_ECS_RECORD_AWS_CALLS": str(record_file),
        "PYTHONPATH": os.pathsep.join(part for part in (str(RECORDER_DIR), path) if part),
    }


def read_calls(record_file: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in record_file.read_text().splitlines() if line]


@dataclass(frozen=True)
class Request:
    call: str  # "<service> <Operation>", for messages
    action: str
    resource: str
    context: dict[str, str] = field(default_factory=dict)


def tag_context(prefix: str, tags: dict[str, str]) -> dict[str, str]:
    return {f"aws:{prefix}/{key}": value for key, value in tags.items()}


class Lookup:
    """What a request's authorisation depends on beyond its parameters, read from the emulator
    after the run: ARNs that carry ids (KMS keys, secrets, task definitions) and resource tags."""

    def __init__(self, clients: Any, account: str, region: str) -> None:
        self._client = clients
        self.account, self.region = account, region
        self._cache: dict[tuple[str, str], Any] = {}

    def arn(self, service: str, rest: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account}:{rest}"

    def _once(self, kind: str, key: str, read: Any) -> Any:
        if (kind, key) not in self._cache:
            self._cache[kind, key] = read()
        return self._cache[kind, key]

    def ec2_tags(self, resource_id: str) -> dict[str, str]:
        def read() -> dict[str, str]:
            filters = [{"Name": "resource-id", "Values": [resource_id]}]
            found = self._client("ec2").describe_tags(Filters=filters)["Tags"]
            return {tag["Key"]: tag["Value"] for tag in found}

        return self._once("ec2", resource_id, read)

    def kms_key(self, key_id: str) -> tuple[str, dict[str, str]]:
        def read() -> tuple[str, dict[str, str]]:
            kms = self._client("kms")
            metadata = kms.describe_key(KeyId=key_id)["KeyMetadata"]
            tags = kms.list_resource_tags(KeyId=metadata["KeyId"])["Tags"]
            return metadata["Arn"], {tag["TagKey"]: tag["TagValue"] for tag in tags}

        return self._once("kms", key_id, read)

    def secret_arn(self, secret_id: str) -> str:
        return self._once(
            "secret",
            secret_id,
            lambda: self._client("secretsmanager").describe_secret(SecretId=secret_id)["ARN"],
        )

    def task_definition_arn(self, task_definition: str) -> str:
        return self._once(
            "taskdef",
            task_definition,
            lambda: self._client("ecs").describe_task_definition(taskDefinition=task_definition)[
                "taskDefinition"
            ]["taskDefinitionArn"],
        )


def _as_arn(value: str, lookup: Lookup, service: str, rest: str) -> str:
    return value if value.startswith("arn:") else lookup.arn(service, rest)


def _ecs(op: str, p: dict[str, Any], lookup: Lookup) -> list[tuple[str, str, dict[str, str]]]:
    """(action, resource, context) of one ECS call, implicit requests included."""
    cluster_name = str(p.get("cluster", p.get("clusterName", "default"))).split("/")[-1]
    cluster = lookup.arn("ecs", f"cluster/{cluster_name}")
    tags = {tag["key"]: tag["value"] for tag in p.get("tags", [])}
    out: list[tuple[str, str, dict[str, str]]] = []
    if op in {"CreateCluster", "UpdateClusterSettings", "PutClusterCapacityProviders"}:
        out.append((op, cluster, tag_context("RequestTag", tags)))
    elif op == "DescribeClusters":
        out += [(op, _as_arn(c, lookup, "ecs", f"cluster/{c}"), {}) for c in p["clusters"]]
    elif op in {"CreateService", "UpdateService", "DescribeServices"}:
        names = p.get("services") or [p.get("serviceName") or p.get("service")]
        for name in names:
            service = _as_arn(name, lookup, "ecs", f"service/{cluster_name}/{name}")
            out.append((op, service, tag_context("RequestTag", tags)))
    elif op in {"RunTask", "StartTask"}:
        definition = lookup.task_definition_arn(p["taskDefinition"])
        out.append((op, definition, {"ecs:cluster": cluster}))
    elif op in {"DescribeTasks", "StopTask"}:
        for task in p.get("tasks") or [p["task"]]:
            out.append((op, _as_arn(task, lookup, "ecs", f"task/{cluster_name}/{task}"), {}))
    elif op in {"TagResource", "UntagResource", "ListTagsForResource"}:
        out.append((op, p["resourceArn"], {}))
    else:  # RegisterTaskDefinition, DescribeTaskDefinition, List*: no resource-level permission
        out.append((op, "*", tag_context("RequestTag", tags)))
    # AWS: tags on creation need ecs:TagResource too; the roles a task names need iam:PassRole.
    if tags and op in {"CreateCluster", "CreateService", "RunTask", "RegisterTaskDefinition"}:
        created = (
            out[0][1] if out[0][1] != "*" else lookup.arn("ecs", f"task-definition/{p['family']}:1")
        )
        out.append(
            ("TagResource", created, {"ecs:CreateAction": op, **tag_context("RequestTag", tags)})
        )
    overrides = p.get("overrides", {})
    for key in ("taskRoleArn", "executionRoleArn"):
        role = p.get(key) or overrides.get(key)
        if role:
            out.append(("iam:PassRole", role, {"iam:PassedToService": ECS_TASKS}))
    return out


def _elbv2(op: str, p: dict[str, Any], lookup: Lookup) -> list[tuple[str, str, dict[str, str]]]:
    tags = {tag["Key"]: tag["Value"] for tag in p.get("Tags", [])}
    if op.startswith("Describe"):
        return [(op, "*", {})]
    if op in {"AddTags", "RemoveTags"}:
        return [(op, arn, tag_context("RequestTag", tags)) for arn in p["ResourceArns"]]
    if op in {"CreateLoadBalancer", "CreateTargetGroup"}:
        kind = "loadbalancer/app" if op == "CreateLoadBalancer" else "targetgroup"
        created = lookup.arn("elasticloadbalancing", f"{kind}/{p['Name']}/new")
        context = tag_context("RequestTag", tags)
        implicit = [("AddTags", created, {"elasticloadbalancing:CreateAction": op, **context})]
        return [(op, created, context), *(implicit if tags else [])]
    for key in ("ListenerArn", "TargetGroupArn", "LoadBalancerArn", "RuleArn"):
        if key in p:
            return [(op, p[key], {})]
    raise LookupError(f"elasticloadbalancing {op}: no resource known for {sorted(p)}")


EC2_TYPES = {"sg": "security-group", "vpc": "vpc", "subnet": "subnet", "i": "instance"}


def _ec2(op: str, p: dict[str, Any], lookup: Lookup) -> list[tuple[str, str, dict[str, str]]]:
    if op.startswith("Describe"):
        return [(op, "*", {})]
    if op == "CreateSecurityGroup":
        tags = {
            tag["Key"]: tag["Value"]
            for spec in p.get("TagSpecifications", [])
            for tag in spec["Tags"]
        }
        group = lookup.arn("ec2", "security-group/new")
        vpc_tags = lookup.ec2_tags(p["VpcId"])
        out = [
            (op, group, tag_context("RequestTag", tags)),
            (op, lookup.arn("ec2", f"vpc/{p['VpcId']}"), tag_context("ResourceTag", vpc_tags)),
        ]
        if tags:
            context = {"ec2:CreateAction": op, **tag_context("RequestTag", tags)}
            out.append(("CreateTags", group, context))
        return out
    if op in {"CreateTags", "DeleteTags"}:
        tags = {tag["Key"]: tag.get("Value", "") for tag in p.get("Tags", [])}
        return [
            (
                op,
                lookup.arn("ec2", f"{EC2_TYPES[rid.split('-')[0]]}/{rid}"),
                {
                    **tag_context("ResourceTag", lookup.ec2_tags(rid)),
                    **tag_context("RequestTag", tags),
                },
            )
            for rid in p["Resources"]
        ]
    group_id = p["GroupId"]
    resource_tags = tag_context("ResourceTag", lookup.ec2_tags(group_id))
    return [(op, lookup.arn("ec2", f"security-group/{group_id}"), resource_tags)]


def _named(
    service: str, op: str, p: dict[str, Any], lookup: Lookup
) -> list[tuple[str, str, dict[str, str]]]:
    """Services whose resources are named in the call (or by an ARN parameter)."""
    if service == "ecr":
        if "resourceArn" in p:
            return [(op, p["resourceArn"], {})]
        names = p.get("repositoryNames") or [p.get("repositoryName")]
        if names == [None]:  # GetAuthorizationToken, DescribeRegistry: account-wide
            return [(op, "*", {})]
        return [(op, lookup.arn("ecr", f"repository/{name}"), {}) for name in names]
    if service == "iam":
        if "RoleName" not in p:
            return [(op, "*", {})]
        role = f"arn:aws:iam::{lookup.account}:role/{p['RoleName']}"
        context = {"iam:PolicyARN": p["PolicyArn"]} if "PolicyArn" in p else {}
        return [(op, role, context)]
    if service == "logs":
        if op == "DescribeLogGroups":
            return [(op, lookup.arn("logs", "log-group:*"), {})]
        if "resourceArn" in p:
            return [(op, p["resourceArn"], {})]
        return [(op, lookup.arn("logs", f"log-group:{p['logGroupName']}"), {})]
    if service == "monitoring":
        if op == "DescribeAlarms":
            return [(op, "*", {})]
        if "ResourceARN" in p:
            return [(op, p["ResourceARN"], {})]
        if "AlarmName" in p or "AlarmNames" in p:
            names = p.get("AlarmNames") or [p["AlarmName"]]
            return [(op, lookup.arn("cloudwatch", f"alarm:{name}"), {}) for name in names]
        names = p.get("DashboardNames") or [p["DashboardName"]]
        return [(op, f"arn:aws:cloudwatch::{lookup.account}:dashboard/{n}", {}) for n in names]
    if service == "sns":
        if op == "ListTopics":
            return [(op, "*", {})]
        if op == "CreateTopic":
            topic = lookup.arn("sns", p["Name"])
            tags = {tag["Key"]: tag["Value"] for tag in p.get("Tags", [])}
            implicit = [("TagResource", topic, tag_context("RequestTag", tags))] if tags else []
            return [(op, topic, tag_context("RequestTag", tags)), *implicit]
        return [(op, p.get("TopicArn") or p.get("ResourceArn") or p["SubscriptionArn"], {})]
    if service == "kms":
        if op in {"CreateKey", "ListAliases", "ListKeys"}:
            tags = {tag["TagKey"]: tag["TagValue"] for tag in p.get("Tags", [])}
            context = tag_context("RequestTag", tags)
            implicit = [("TagResource", "*", context)] if tags and op == "CreateKey" else []
            return [(op, "*", context), *implicit]
        key_arn, key_tags = lookup.kms_key(p.get("TargetKeyId") or p["KeyId"])
        out = [(op, key_arn, tag_context("ResourceTag", key_tags))]
        if "AliasName" in p:  # CreateAlias / UpdateAlias: the alias and the key
            out.append((op, lookup.arn("kms", p["AliasName"]), {}))
        return out
    if service == "s3":
        return [(S3_ACTIONS.get(op, op), f"arn:aws:s3:::{p['Bucket']}", {})]
    if service == "secretsmanager":
        secret = lookup.secret_arn(p.get("SecretId") or p["Name"])
        tags = {tag["Key"]: tag["Value"] for tag in p.get("Tags", [])}
        implicit = [("TagResource", secret, tag_context("RequestTag", tags))] if tags else []
        return [(op, secret, tag_context("RequestTag", tags)), *implicit]
    if service == "ssm":
        if op == "GetParametersByPath":
            return [(op, lookup.arn("ssm", f"parameter{p['Path']}"), {})]
        names = p.get("Names") or [p.get("Name") or p["ResourceId"]]
        out = [(op, lookup.arn("ssm", f"parameter{name}"), {}) for name in names]
        if op == "PutParameter" and p.get("Tags"):
            out.append(("AddTagsToResource", out[0][1], {}))
        return out
    if service == "rds":
        identifier = p.get("DBInstanceIdentifier")
        return [(op, lookup.arn("rds", f"db:{identifier or '*'}"), {})]
    if service == "application-autoscaling":
        return [(op, p.get("ResourceARN", "*"), {})]
    raise LookupError(f"{service} {op}: no IAM request known (extend tests/ci/deploy_policy.py)")


def iam_requests(calls: list[dict[str, Any]], lookup: Lookup) -> list[Request]:
    """Every IAM authorisation the recorded calls need, each distinct one once."""
    requests: dict[tuple[str, str, str], Request] = {}
    for call in calls:
        service, op, params = call["signing_name"], call["operation"], call["params"]
        if (service, op) in NEEDS_NO_PERMISSION:
            continue
        if service == "ecs":
            found = _ecs(op, params, lookup)
        elif service == "elasticloadbalancing":
            found = _elbv2(op, params, lookup)
        elif service == "ec2":
            found = _ec2(op, params, lookup)
        else:
            found = _named(service, op, params, lookup)
        prefix = IAM_PREFIX.get(service, service)
        for action, resource, context in found:
            qualified = action if ":" in action else f"{prefix}:{action}"
            request = Request(f"{service} {op}", qualified, resource, context)
            requests[qualified, resource, json.dumps(context, sort_keys=True)] = request
    return list(requests.values())


def denied(policy: dict[str, Any], requests: list[Request]) -> list[Request]:
    """The requests ``policy`` does not allow (moto's evaluator: explicit Deny wins)."""
    evaluator = IAMPolicy(json.dumps(policy))
    return [
        request
        for request in requests
        if evaluator.is_action_permitted(
            request.action, request.resource, incoming_condition_values=request.context
        )
        != PermissionResult.PERMITTED
    ]
