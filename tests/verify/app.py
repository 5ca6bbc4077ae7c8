"""Verify a deployed app layer against the inventory's values, with boto3.

Used by the molecule app scenarios (molecule/shared/verify_app.yml):

    python -m tests.verify.app verify '<expected json>'   one line per failed check, exit 1 if any
    python -m tests.verify.app state '<expected json>'    JSON: task definition revisions, service
    python -m tests.verify.app drift '<expected json>'    change the service by hand (see drift())
"""

from __future__ import annotations

import json
import sys
from typing import Any

import boto3

from tests.verify.common import REQUIRED_TAGS
from tests.verify.common import Checker as BaseChecker

EXECUTION_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
FARGATE_DIMENSION = "ecs:service:DesiredCount"


class Checker(BaseChecker):
    def tags(self, what: str, actual: dict[str, str], wanted: dict[str, str]) -> None:
        for key in REQUIRED_TAGS:
            self.check(
                actual.get(key) == wanted[key],
                f"{what}: tag {key}={actual.get(key)!r}, want {wanted[key]!r}",
            )


def name(expected: dict[str, Any], resource: str) -> str:
    naming = expected["naming"]
    return f"{naming['env']}-{naming['service']}-{resource}-{naming['client']}"


def pairs(items: list[dict[str, Any]], key: str = "Key", value: str = "Value") -> dict[str, Any]:
    return {item[key]: item[value] for item in items or []}


class App:
    """The deployed app layer, read once."""

    def __init__(self, expected: dict[str, Any]) -> None:
        self.expected = expected
        self.ecs = boto3.client("ecs")
        self.elb = boto3.client("elbv2")
        self.iam = boto3.client("iam")
        self.ecr = boto3.client("ecr")
        self.ec2 = boto3.client("ec2")
        self.rds = boto3.client("rds")

    def service(self) -> dict[str, Any]:
        services = self.ecs.describe_services(
            cluster=name(self.expected, "cluster"),
            services=[name(self.expected, "service")],
            include=["TAGS"],
        )["services"]
        return services[0] if services else {}

    def task_definition(self, arn: str) -> tuple[dict[str, Any], dict[str, str]]:
        found = self.ecs.describe_task_definition(taskDefinition=arn, include=["TAGS"])
        return found["taskDefinition"], pairs(found.get("tags", []), "key", "value")

    def revisions(self) -> list[str]:
        return self.ecs.list_task_definitions(
            familyPrefix=name(self.expected, "app"), status="ACTIVE"
        )["taskDefinitionArns"]


def check_repository(checker: Checker, app: App) -> None:
    expected = app.expected
    repo = app.ecr.describe_repositories(repositoryNames=[expected["repository_name"]])[
        "repositories"
    ][0]
    if not expected["manage_repository"]:
        return  # another environment manages it (prod reuses hml's): nothing of ours to check
    checker.check(repo["imageScanningConfiguration"]["scanOnPush"], "ECR: scan on push is off")
    checker.check(
        repo["imageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION",
        f"ECR: tag mutability {repo['imageTagMutability']}",
    )
    filters = [f["filter"] for f in repo.get("imageTagMutabilityExclusionFilters", [])]
    checker.check(
        sorted(filters) == ["deployed-*", "latest"],
        f"ECR: mutable tags {filters}, want ['deployed-*', 'latest']",
    )
    policy = json.loads(
        app.ecr.get_lifecycle_policy(repositoryName=repo["repositoryName"])["lifecyclePolicyText"]
    )
    selections = [rule["selection"] for rule in policy["rules"]]
    checker.check(
        any(s["tagStatus"] == "untagged" for s in selections), "ECR: untagged images never expire"
    )
    checker.check(
        any(s.get("countType") == "imageCountMoreThan" for s in selections),
        "ECR: no keep-the-newest-N rule",
    )
    tags = pairs(app.ecr.list_tags_for_resource(resourceArn=repo["repositoryArn"])["tags"])
    checker.tags("ECR repository", tags, expected["tags"])
    first = min(policy["rules"], key=lambda rule: rule["rulePriority"])["selection"]
    checker.check(
        first.get("tagPrefixList") == ["deployed-"] and first.get("countNumber", 0) >= 9999,
        f"ECR: the first lifecycle rule does not keep the deployed images: {first}",
    )


def check_roles(checker: Checker, app: App, task: dict[str, Any]) -> None:
    expected = app.expected
    execution = app.iam.get_role(RoleName=task["executionRoleArn"].split("/")[-1])["Role"]
    attached = app.iam.list_attached_role_policies(RoleName=execution["RoleName"])[
        "AttachedPolicies"
    ]
    checker.check(
        [p["PolicyArn"] for p in attached] == [EXECUTION_POLICY],
        f"execution role: managed policies {attached}",
    )
    checker.tags("execution role", pairs(execution.get("Tags", [])), expected["tags"])
    task_role = app.iam.get_role(RoleName=task["taskRoleArn"].split("/")[-1])["Role"]
    checker.check(task_role["RoleName"] != execution["RoleName"], "task role is the execution role")
    document = app.iam.get_role_policy(
        RoleName=task_role["RoleName"], PolicyName="app-permissions"
    )["PolicyDocument"]
    statements = document["Statement"]
    db = app.rds.describe_db_instances(DBInstanceIdentifier=name(expected, "db"))["DBInstances"][0]
    account = task["taskDefinitionArn"].split(":")[4]
    user = f"{db['DbiResourceId']}/{expected['db_user']}"
    user_arn = f"arn:aws:rds-db:{expected['region']}:{account}:dbuser:{user}"
    connect = [s for s in statements if s.get("Action") == "rds-db:connect"]
    checker.check(
        len(connect) == 1 and connect[0]["Resource"] == user_arn,
        f"task role: rds-db:connect must be on {user_arn} only, got {connect}",
    )
    actions = json.dumps(statements)
    checker.check("GenerateDbAuthToken" not in actions, "task role names rds:GenerateDbAuthToken")
    checker.check(
        ("ssmmessages:" in actions) == expected["enable_exec"],
        "task role: ECS Exec permissions mismatch",
    )


def check_container(checker: Checker, app: App, task: dict[str, Any]) -> None:
    expected = app.expected
    checker.check(task["requiresCompatibilities"] == ["FARGATE"], "task: not FARGATE")
    checker.check(task["networkMode"] == "awsvpc", f"task: network mode {task['networkMode']}")
    checker.check(
        (task["cpu"], task["memory"]) == (str(expected["task_cpu"]), str(expected["task_memory"])),
        f"task: cpu/memory {task['cpu']}/{task['memory']}",
    )
    container = task["containerDefinitions"][0]
    checker.check(container.get("user") not in (None, "", "0", "root"), "container runs as root")
    checker.check(
        container.get("readonlyRootFilesystem") is True, "container: root fs not read-only"
    )
    checker.check(
        any(
            m["containerPath"] == "/tmp" and not m.get("readOnly")
            for m in container.get("mountPoints", [])
        ),
        "container: no writable /tmp",
    )
    checker.check(
        [p["containerPort"] for p in container["portMappings"]] == [expected["container_port"]],
        f"container: ports {container['portMappings']}",
    )
    logs = container["logConfiguration"]
    checker.check(
        logs["logDriver"] == "awslogs"
        and logs["options"]["awslogs-group"]
        == f"{expected['log_group_prefix']}/{expected['naming']['env']}/app",
        f"container: log configuration {logs}",
    )
    checker.check("healthCheck" in container, "container: no health check")
    checker.check(
        "@sha256:" in container["image"],
        f"container: image not pinned by digest {container['image']}",
    )
    repository, _, digest = container["image"].rpartition("@")
    deployed = app.ecr.describe_images(
        repositoryName=repository.split("/", 1)[-1], imageIds=[{"imageDigest": digest}]
    )["imageDetails"]
    deployed_tag = f"deployed-{expected['naming']['env']}"
    checker.check(
        bool(deployed) and deployed_tag in deployed[0].get("imageTags", []),
        f"ECR: the running image {digest} is not tagged {deployed_tag} (lifecycle protection)",
    )
    environment = pairs(container.get("environment", []), "name", "value")
    db = app.rds.describe_db_instances(DBInstanceIdentifier=name(expected, "db"))["DBInstances"][0]
    wanted_env = {
        "DB_AUTH_MODE": "iam",
        "DB_HOST": db["Endpoint"]["Address"],
        "DB_NAME": db["DBName"],
        "DB_USER": expected["db_user"],
        "AWS_REGION": expected["region"],
    }
    for key, value in wanted_env.items():
        checker.check(
            environment.get(key) == value,
            f"container env {key}={environment.get(key)!r}, want {value!r}",
        )
    checker.check(environment.get("DJANGO_ALLOWED_HOSTS"), "container env: no DJANGO_ALLOWED_HOSTS")
    names = " ".join(list(environment) + [s["name"] for s in container.get("secrets", [])])
    checker.check("PASSWORD" not in names, f"container: a password is passed ({names})")
    secrets = [s["name"] for s in container.get("secrets", [])]
    checker.check(secrets == ["DJANGO_SECRET_KEY"], f"container secrets {secrets}")


def check_service(checker: Checker, app: App, service: dict[str, Any]) -> None:
    expected = app.expected
    network = service["networkConfiguration"]["awsvpcConfiguration"]
    checker.check(network["assignPublicIp"] == "DISABLED", "service: tasks get public IPs")
    subnets = app.ec2.describe_subnets(SubnetIds=network["subnets"])["Subnets"]
    tiers = {pairs(s.get("Tags", [])).get("Tier") for s in subnets}
    checker.check(tiers == {"private"}, f"service: subnet tiers {tiers}")
    groups = app.ec2.describe_security_groups(GroupIds=network["securityGroups"])["SecurityGroups"]
    group_names = sorted(g["GroupName"] for g in groups)
    checker.check(
        group_names == sorted([name(expected, "app-sg"), name(expected, "db-clients")]),
        f"service: security groups {group_names}",
    )
    deployment = service["deploymentConfiguration"]
    breaker = deployment.get("deploymentCircuitBreaker", {})
    checker.check(
        breaker == {"enable": True, "rollback": True}, f"service: circuit breaker {breaker}"
    )
    checker.check(
        (deployment.get("minimumHealthyPercent"), deployment.get("maximumPercent")) == (100, 200),
        f"service: healthy percentages {deployment}",
    )
    checker.check(
        service.get("enableExecuteCommand", False) == expected["enable_exec"],
        "service: ECS Exec mismatch",
    )
    checker.check(service["launchType"] == "FARGATE", "service: not on Fargate")
    checker.tags("service", pairs(service.get("tags", []), "key", "value"), expected["tags"])
    cluster = app.ecs.describe_clusters(
        clusters=[name(expected, "cluster")], include=["SETTINGS", "TAGS"]
    )["clusters"][0]
    insights = pairs(cluster.get("settings", []), "name", "value").get("containerInsights")
    checker.check(insights in ("enabled", "enhanced"), f"cluster: Container Insights {insights}")
    checker.tags("cluster", pairs(cluster.get("tags", []), "key", "value"), expected["tags"])


def check_load_balancer(checker: Checker, app: App, service: dict[str, Any]) -> None:
    expected = app.expected
    balancer = app.elb.describe_load_balancers(Names=[name(expected, "alb")])["LoadBalancers"][0]
    checker.check(balancer["Scheme"] == "internet-facing", "ALB: not internet-facing")
    attributes = pairs(
        app.elb.describe_load_balancer_attributes(LoadBalancerArn=balancer["LoadBalancerArn"])[
            "Attributes"
        ]
    )
    wanted = {
        "routing.http.drop_invalid_header_fields.enabled": "true",
        "deletion_protection.enabled": str(expected["deletion_protection"]).lower(),
        "access_logs.s3.enabled": "true",
        "access_logs.s3.prefix": expected["access_logs_prefix"],
    }
    for key, value in wanted.items():
        checker.check(
            attributes.get(key) == value, f"ALB: {key}={attributes.get(key)!r}, want {value!r}"
        )
    checker.check(
        attributes.get("routing.http.desync_mitigation_mode") in ("defensive", "strictest"),
        "ALB: desync mitigation off",
    )
    check_log_bucket(checker, attributes["access_logs.s3.bucket"], expected)
    groups = app.ec2.describe_security_groups(GroupIds=balancer["SecurityGroups"])["SecurityGroups"]
    rules = [rule for group in groups for rule in group["IpPermissions"]]
    ports = sorted(rule["FromPort"] for rule in rules if "FromPort" in rule)
    wanted_ports = [80, 443] if expected["certificate_arn"] else [80]
    checker.check(ports == wanted_ports, f"ALB security group ports {ports}, want {wanted_ports}")
    groups = app.elb.describe_target_groups(Names=[name(expected, "tg")])["TargetGroups"]
    group = groups[0]
    checker.check(
        (group["TargetType"], group["Port"], group["HealthCheckPath"])
        == ("ip", expected["container_port"], "/healthz"),
        f"target group: {group['TargetType']} {group['Port']} {group['HealthCheckPath']}",
    )
    lb_links = [lb["targetGroupArn"] for lb in service.get("loadBalancers", [])]
    checker.check(lb_links == [group["TargetGroupArn"]], f"service: load balancers {lb_links}")
    listeners = app.elb.describe_listeners(LoadBalancerArn=balancer["LoadBalancerArn"])["Listeners"]
    by_port = {listener["Port"]: listener for listener in listeners}
    if expected["certificate_arn"]:
        https = by_port.get(443, {})
        checker.check(https.get("Protocol") == "HTTPS", "ALB: no HTTPS listener")
        checker.check(
            "TLS13-1-2" in https.get("SslPolicy", ""), f"ALB: TLS policy {https.get('SslPolicy')}"
        )
        certificates = [c["CertificateArn"] for c in https.get("Certificates", [])]
        checker.check(
            certificates == [expected["certificate_arn"]], f"ALB: HTTPS certificates {certificates}"
        )
        forward = https.get("DefaultActions", [{}])[0]
        checker.check(
            forward.get("TargetGroupArn") == group["TargetGroupArn"],
            f"ALB: HTTPS action {forward}",
        )
        redirect = by_port.get(80, {}).get("DefaultActions", [{}])[0].get("RedirectConfig", {})
        checker.check(
            (redirect.get("Protocol"), redirect.get("Port"), redirect.get("StatusCode"))
            == ("HTTPS", "443", "HTTP_301"),
            f"ALB: HTTP does not redirect to HTTPS ({redirect})",
        )
    else:
        action = by_port.get(80, {}).get("DefaultActions", [{}])[0]
        checker.check(
            set(by_port) == {80} and action.get("TargetGroupArn") == group["TargetGroupArn"],
            f"ALB: listeners {sorted(by_port)} / HTTP action {action}",
        )


def check_log_bucket(checker: Checker, bucket: str, expected: dict[str, Any]) -> None:
    s3 = boto3.client("s3")
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    checker.check(all(block.values()), f"log bucket: public access not blocked {block}")
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    checker.check(bool(rules), "log bucket: not encrypted")
    policy = s3.get_bucket_policy(Bucket=bucket)["Policy"]
    checker.check(
        "127311923021" in policy or expected["region"] != "us-east-1", "log bucket: no ELB account"
    )
    lifecycle = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    days = [rule.get("Expiration", {}).get("Days") for rule in lifecycle]
    checker.check(
        days == [expected["expiry_days"]],
        f"log bucket: expiry {days}, want {expected['expiry_days']}",
    )


def check_scaling(checker: Checker, app: App, service: dict[str, Any]) -> None:
    expected = app.expected
    scaling = boto3.client("application-autoscaling")
    resource = f"service/{name(expected, 'cluster')}/{name(expected, 'service')}"
    targets = scaling.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=[resource])[
        "ScalableTargets"
    ]
    checker.check(
        [(t["MinCapacity"], t["MaxCapacity"]) for t in targets]
        == [(expected["min_count"], expected["max_count"])],
        f"scalable target {[(t['MinCapacity'], t['MaxCapacity']) for t in targets]}",
    )
    policies = scaling.describe_scaling_policies(ServiceNamespace="ecs", ResourceId=resource)[
        "ScalingPolicies"
    ]
    tracked = {
        p["TargetTrackingScalingPolicyConfiguration"]["PredefinedMetricSpecification"][
            "PredefinedMetricType"
        ]: p["TargetTrackingScalingPolicyConfiguration"]["TargetValue"]
        for p in policies
    }
    wanted = {
        "ECSServiceAverageCPUUtilization": float(expected["cpu_target"]),
        "ECSServiceAverageMemoryUtilization": float(expected["memory_target"]),
        "ALBRequestCountPerTarget": float(expected["requests_target"]),
    }
    checker.check(tracked == wanted, f"scaling policies {tracked}, want {wanted}")
    checker.check(
        service["desiredCount"] >= expected["min_count"],
        f"service: desired count {service['desiredCount']}",
    )


def check_observability(checker: Checker, expected: dict[str, Any]) -> None:
    logs = boto3.client("logs")
    group_name = f"{expected['log_group_prefix']}/{expected['naming']['env']}/app"
    groups = logs.describe_log_groups(logGroupNamePrefix=group_name)["logGroups"]
    retention = [g.get("retentionInDays") for g in groups if g["logGroupName"] == group_name]
    checker.check(
        retention == [expected["log_retention_days"]],
        f"log group {group_name}: retention {retention}",
    )
    sns = boto3.client("sns")
    topics = [
        t["TopicArn"]
        for t in sns.list_topics()["Topics"]
        if t["TopicArn"].endswith(":" + name(expected, "alerts"))
    ]
    checker.check(len(topics) == 1, f"alert topic {name(expected, 'alerts')} not found")
    if not topics:
        return
    subscriptions = sns.list_subscriptions_by_topic(TopicArn=topics[0])["Subscriptions"]
    emails = sorted(s["Endpoint"] for s in subscriptions if s["Protocol"] == "email")
    checker.check(emails == sorted(expected["alert_emails"]), f"topic subscriptions {emails}")
    alarms = boto3.client("cloudwatch").describe_alarms(
        AlarmNamePrefix=expected["naming"]["env"] + "-"
    )["MetricAlarms"]
    ecs_alarms = [a for a in alarms if a["Namespace"] == "AWS/ECS"]
    checker.check(len(ecs_alarms) >= 2, f"ECS alarms: {[a['AlarmName'] for a in ecs_alarms]}")
    for alarm in alarms:
        checker.check(
            topics[0] in alarm.get("AlarmActions", []),
            f"alarm {alarm['AlarmName']}: not to the topic",
        )


def verify(expected: dict[str, Any]) -> list[str]:
    checker = Checker()
    app = App(expected)
    service = app.service()
    checker.check(
        service.get("status") == "ACTIVE", f"service {name(expected, 'service')} not active"
    )
    if not service:
        return checker.failures
    task, task_tags = app.task_definition(service["taskDefinition"])
    checker.tags("task definition", task_tags, expected["tags"])
    check_repository(checker, app)
    check_roles(checker, app, task)
    check_container(checker, app, task)
    check_service(checker, app, service)
    check_load_balancer(checker, app, service)
    check_scaling(checker, app, service)
    check_observability(checker, expected)
    return checker.failures


def state(expected: dict[str, Any]) -> dict[str, Any]:
    app = App(expected)
    service = app.service()
    task, _ = app.task_definition(service["taskDefinition"])
    return {
        "revisions": len(app.revisions()),
        "service_task_definition": service["taskDefinition"],
        "service_deployments": [d["taskDefinition"] for d in service.get("deployments", [])],
        "rollout_states": [d.get("rolloutState", "") for d in service.get("deployments", [])],
        "desired_count": service["desiredCount"],
        "cpu": task["cpu"],
        "image": task["containerDefinitions"][0]["image"],
    }


def drift(expected: dict[str, Any]) -> int:
    """Change by hand what community.aws.ecs_service never compares: public IPs on, the tasks'
    own security group dropped, circuit breaker off, lower healthy percentage; and scale the
    service as autoscaling would (a re-run must keep that count). Returns the new count."""
    app = App(expected)
    service = app.service()
    network = service["networkConfiguration"]["awsvpcConfiguration"]
    db_clients = app.ec2.describe_security_groups(
        Filters=[{"Name": "group-name", "Values": [name(expected, "db-clients")]}]
    )["SecurityGroups"][0]["GroupId"]
    scaled = min(expected["max_count"], service["desiredCount"] + 1)
    app.ecs.update_service(
        cluster=service["clusterArn"],
        service=service["serviceName"],
        desiredCount=scaled,
        networkConfiguration={
            "awsvpcConfiguration": {
                "subnets": network["subnets"],
                "securityGroups": [db_clients],
                "assignPublicIp": "ENABLED",
            }
        },
        deploymentConfiguration={
            "minimumHealthyPercent": 50,
            "maximumPercent": 200,
            "deploymentCircuitBreaker": {"enable": False, "rollback": False},
        },
    )
    return scaled


def main() -> int:
    command = sys.argv[1]
    expected = json.loads(sys.argv[2])
    if command == "state":
        print(json.dumps(state(expected)))
        return 0
    if command == "drift":
        print(json.dumps({"desired_count": drift(expected)}))
        return 0
    failures = verify(expected)
    for failure in failures:
        print(f"FAIL: {failure}")
    print(f"{len(failures)} failed checks")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
