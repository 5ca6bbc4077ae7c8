"""On the emulator, one stack of the local inventory (dev's values: two AZs, a NAT instance, the
image built on deploy) for the whole module, the suite's costliest unit. In this order:
- site.yml --check on the still empty account is a plan that creates nothing;
- `scripts/deploy-local`, the README's first command, converges it layer by layer as the delivery
  documents it: the network and data layers, then the app layer (image build and publish
  included) with every AWS call it makes recorded; run again in full, it reports changed=0;
- the deploy role (playbooks/bootstrap_ci.yml) on that environment: its generated policy allows
  every recorded call of the app layer, refuses the same calls on another environment's names,
  and cannot rewrite the role; judged by moto's IAM policy evaluator (tests/ci/deploy_policy.py);
- the app layer's and the data layer's parts are skipped on the converged stack (their records
  match), publish the same facts as a full run (same outputs files), and run again, naming the
  resource and field, when something of theirs changed outside Ansible;
- a data plan on a clone that never built the db_init zip plans instead of failing;
- site.yml --check --diff with one value changed per layer ends with a plan naming exactly those,
  and its recorded AWS calls are reads only;
- the layer verifies molecule's scenarios share (molecule/shared/verify_stack.yml): every
  resource checked with boto3, each layer's drift repair, a new tag rolled out (and the same tag
  again changing nothing), the service serving through its load balancer, a tag whose migration
  fails stopping the roll-out while the old revision serves, the data layer's live change and
  restored grant, and the admin password in no log of any run above;
- the network layer: drift is planned in check mode without touching anything, then repaired, and
  switching the NAT mode re-points routes, removing the old NAT only when asked;
- destroy removes the whole stack, the database included, and no task process is left.
This module is what molecule's stack_local scenario was (its converge, idempotence, verify and
destroy), run on the stack the checks above need anyway: one first converge instead of two.

One module on purpose: `scripts/test` runs pytest with `--dist loadscope`, so a module is one
unit of one xdist worker and the stack is converged once (xdist_group would spread the tests of
several modules over both workers: pytest-xdist 3.8 cannot rename pytest 9.2's node ids, so the
mark has no effect). Each test leaves the stack converged for the next, the verify rolls out a
tag of its own, and the network test, which changes the NAT mode, comes before the destroy.
Concurrent edits of roles/, plugins/ or playbooks/ change the code fingerprint and make a part
run in full: run this module on a quiet tree.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from tests.ci.deploy_policy import (
    Lookup,
    Request,
    denied,
    iam_requests,
    read_calls,
    recording_env,
)
from tests.playbooks.fast_path import RECAP, Stack, assert_all_skipped, client, converge
from tests.playbooks.runner import PlaybookRun, run_playbook
from tests.verify.network import verify

pytestmark = [
    pytest.mark.slow(seconds=1000),
    pytest.mark.skipif(
        not os.environ.get("AWS_ENDPOINT_URL", "").startswith("http://127.0.0.1"),
        reason="needs the emulator (scripts/test starts it and exports AWS_ENDPOINT_URL)",
    ),
]
APP_PARTS = ["alb", "observability", "observability_alb_alarms", "ecs_autoscaling"]
DATA_PARTS = ["rds", "rds_available", "db_init"]


@pytest.fixture(scope="module")
def empty_stack(tmp_path_factory: pytest.TempPathFactory) -> Stack:
    """The module's environment, before anything of it exists."""
    return Stack(tmp_path_factory.mktemp("converged-stack"), "fp")


@pytest.fixture(scope="module")
def stack(empty_stack: Stack) -> Stack:
    return converge(empty_stack)


def environment_vpcs(stack: Stack) -> list[str]:
    vpcs = client("ec2").describe_vpcs(
        Filters=[{"Name": "tag:Environment", "Values": [stack.env]}]
    )["Vpcs"]
    return [vpc["VpcId"] for vpc in vpcs]


def test_check_mode_on_the_empty_account_is_a_plan_that_creates_nothing(
    empty_stack: Stack,
) -> None:
    """A first deployment's plan: every layer says what it would create (the NAT instance, the
    image build, the service) without failing on ids that do not exist yet."""
    plan = empty_stack.run("site.yml", "--check")
    assert int(RECAP.search(plan.output).group(1)) > 0, plan.output[-3000:]
    assert "Would create service" in plan.output, plan.output[-3000:]
    assert environment_vpcs(empty_stack) == []


def test_deploy_local_again_changes_nothing(stack: Stack) -> None:
    """The README's first command, run again on the converged stack: changed=0, every layer."""
    assert stack.deploy_local() == 0


@dataclass
class Deployed:
    env: str
    calls: list[dict[str, Any]]
    policy: dict[str, Any]


@pytest.fixture(scope="module")
def deployed(stack: Stack) -> Deployed:
    """The shared stack's recorded app-layer converge, and the deploy role bootstrapped for it."""
    stack.run(
        "playbooks/bootstrap_ci.yml",
        "-e",
        json.dumps(
            {
                "ci_deploy_role_github_owner": "example-org",
                "ci_deploy_role_github_repository": "app",
            }
        ),
    )
    role = stack.name("deploy")
    policy = client("iam").get_role_policy(RoleName=role, PolicyName="deploy")["PolicyDocument"]
    return Deployed(stack.env, read_calls(stack.app_calls), policy)


def lookup() -> Lookup:
    return Lookup(client, "123456789012", os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))


def describe(requests: list[Request]) -> str:
    return "\n".join(f"{r.call}: {r.action} on {r.resource} {r.context}" for r in requests)


def test_every_call_of_the_deploy_workflow_is_allowed(deployed: Deployed) -> None:
    app_operations = {(c["signing_name"], c["operation"]) for c in deployed.calls}
    # The recording saw the publishing itself, and the app layer's writes.
    assert {("ecr", "PutImage"), ("ecr", "CompleteLayerUpload")} <= app_operations
    for written in (
        ("ecs", "CreateService"),
        ("ecs", "RegisterTaskDefinition"),
        ("iam", "PutRolePolicy"),
    ):
        assert written in app_operations, sorted(app_operations)

    requests = iam_requests(deployed.calls, lookup())
    assert len(requests) > 100
    refused = denied(deployed.policy, requests)
    assert not refused, "the deploy role's policy refuses:\n" + describe(refused)


def test_the_same_calls_on_another_environment_are_refused(deployed: Deployed) -> None:
    """The policy is scoped: every request that names the environment (its resource names or
    tags) is refused once it names another one instead."""
    requests = iam_requests(deployed.calls, lookup())

    def names_env(request: Request) -> bool:
        return deployed.env in request.resource or deployed.env in json.dumps(request.context)

    def elsewhere(request: Request) -> Request:
        context = json.loads(json.dumps(request.context).replace(deployed.env, "other"))
        return replace(
            request, resource=request.resource.replace(deployed.env, "other"), context=context
        )

    scoped = [request for request in requests if names_env(request)]
    assert len(scoped) > 50, describe(scoped)
    foreign = [elsewhere(request) for request in scoped]
    allowed_elsewhere = [r for r in foreign if r not in denied(deployed.policy, foreign)]
    assert not allowed_elsewhere, "allowed on another environment:\n" + describe(allowed_elsewhere)


def test_the_deploy_role_cannot_rewrite_itself(deployed: Deployed) -> None:
    role = f"arn:aws:iam::123456789012:role/{deployed.env}-djg-deploy-ander"
    rewrites = [
        Request("iam PutRolePolicy", "iam:PutRolePolicy", role),
        Request("iam AttachRolePolicy", "iam:AttachRolePolicy", role),
        Request("iam UpdateAssumeRolePolicy", "iam:UpdateAssumeRolePolicy", role),
    ]
    assert denied(deployed.policy, rewrites) == rewrites
    statements = deployed.policy["Statement"]
    actions = [
        a
        for s in statements
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    ]
    assert "*" not in actions and not any(action.endswith(":*") for action in actions), actions


def app_layer(stack: Stack) -> tuple[dict[str, dict[str, Any]], int]:
    return stack.compare("playbooks/app.yml", APP_PARTS)


def data_layer(stack: Stack) -> tuple[dict[str, dict[str, Any]], int]:
    return stack.compare("playbooks/data.yml", DATA_PARTS)


def registered_targets(elbv2: Any, group_arn: str) -> set[str]:
    health = elbv2.describe_target_health(TargetGroupArn=group_arn)["TargetHealthDescriptions"]
    return {description["Target"]["Id"] for description in health}


def test_converged_app_parts_are_skipped_and_drift_is_named_and_repaired(stack: Stack) -> None:
    first_outputs = stack.outputs_of("app")

    compared, changed = app_layer(stack)
    assert_all_skipped(compared, changed)
    # The facts republished from the records make the same outputs as the full run.
    assert stack.outputs_of("app") == first_outputs

    elbv2, logs, cloudwatch = client("elbv2"), client("logs"), client("cloudwatch")
    scaling = client("application-autoscaling")
    target_group = stack.name("tg")
    log_group = f"/aws/django-ecs/{stack.env}/app"
    alarm = stack.name("alarm-alb-5xx")
    scalable = f"service/{stack.name('cluster')}/{stack.name('service')}"
    group_arn = elbv2.describe_target_groups(Names=[target_group])["TargetGroups"][0][
        "TargetGroupArn"
    ]
    assert registered_targets(elbv2, group_arn), "the service's tasks are in its target group"
    elbv2.modify_target_group(TargetGroupArn=group_arn, HealthCheckPath="/drifted")
    logs.put_retention_policy(logGroupName=log_group, retentionInDays=14)
    described = cloudwatch.describe_alarms(AlarmNames=[alarm])["MetricAlarms"][0]
    settable = (
        *("AlarmName", "AlarmDescription", "ActionsEnabled", "AlarmActions", "MetricName"),
        *("Namespace", "Statistic", "Dimensions", "Period", "EvaluationPeriods"),
        *("ComparisonOperator", "TreatMissingData"),
    )
    cloudwatch.put_metric_alarm(
        **{key: described[key] for key in settable if key in described}, Threshold=99.0
    )
    target = scaling.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=[scalable])[
        "ScalableTargets"
    ][0]
    scaling.register_scalable_target(
        ServiceNamespace="ecs",
        ResourceId=scalable,
        ScalableDimension="ecs:service:DesiredCount",
        MinCapacity=target["MinCapacity"],
        MaxCapacity=target["MaxCapacity"] + 3,
    )

    repair_calls = stack.outputs.parent / "app-repair-calls.jsonl"
    compared, _ = stack.compare("playbooks/app.yml", APP_PARTS, env=recording_env(repair_calls))
    drifted = {
        "alb": f"target_group:{target_group} changed outside this role: HealthCheckPath",
        "observability": f"log_group:{log_group} changed outside this role: retentionInDays",
        "observability_alb_alarms": f"alarm:{alarm} changed outside this role:",
        "ecs_autoscaling": f"scalable_target:{scalable} changed outside this role: MaxCapacity",
    }
    for part, reason in drifted.items():
        assert not compared[part]["in_sync"], part
        assert any(line.startswith(reason) for line in compared[part]["reasons"]), (
            part,
            compared[part]["reasons"],
        )
    assert any(
        line.startswith(f"alarm:{alarm} changed outside this role:") and "Threshold" in line
        for line in compared["observability"]["reasons"]
    ), compared["observability"]["reasons"]

    # Repaired: the roles ran in full and put their values back.
    group = elbv2.describe_target_groups(Names=[target_group])["TargetGroups"][0]
    assert group["HealthCheckPath"] == "/healthz"
    # The alb role ran in full and left the service's tasks in the target group: ECS owns them
    # (elb_target_group's default deregistered every target not listed, i.e. all of them).
    deregistered = [
        call for call in read_calls(repair_calls) if call["operation"] == "DeregisterTargets"
    ]
    assert deregistered == [], deregistered
    retention = logs.describe_log_groups(logGroupNamePrefix=log_group)["logGroups"][0]
    assert retention["retentionInDays"] == 7
    assert cloudwatch.describe_alarms(AlarmNames=[alarm])["MetricAlarms"][0]["Threshold"] == 5.0
    repaired = scaling.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=[scalable])[
        "ScalableTargets"
    ][0]
    assert repaired["MaxCapacity"] == target["MaxCapacity"]

    compared, changed = app_layer(stack)
    assert_all_skipped(compared, changed)
    assert stack.outputs_of("app") == first_outputs


def user_parameter(rds: Any, group: str, name: str) -> str | None:
    parameters = rds.describe_db_parameters(DBParameterGroupName=group, Source="user")
    return {p["ParameterName"]: p.get("ParameterValue") for p in parameters["Parameters"]}.get(name)


def test_converged_data_parts_are_skipped_and_drift_is_named_and_repaired(stack: Stack) -> None:
    first_outputs = stack.outputs_of("data")

    compared, changed = data_layer(stack)
    assert_all_skipped(compared, changed)
    # The facts republished from the records (network, db group) make the same outputs.
    assert stack.outputs_of("data") == first_outputs

    rds, functions = client("rds"), client("lambda")
    instance, parameter_group = stack.name("db"), stack.name("postgres16")
    function = stack.name("db-init")
    retention = rds.describe_db_instances(DBInstanceIdentifier=instance)["DBInstances"][0][
        "BackupRetentionPeriod"
    ]
    timeout = functions.get_function_configuration(FunctionName=function)["Timeout"]
    rds.modify_db_parameter_group(
        DBParameterGroupName=parameter_group,
        Parameters=[
            {"ParameterName": "log_statement", "ParameterValue": "all", "ApplyMethod": "immediate"}
        ],
    )
    rds.modify_db_instance(
        DBInstanceIdentifier=instance, BackupRetentionPeriod=retention + 2, ApplyImmediately=True
    )
    functions.update_function_configuration(FunctionName=function, Timeout=timeout + 30)

    compared, _ = data_layer(stack)
    drifted = {
        "rds": (f"db_parameter_group:{parameter_group}", "Parameters"),
        "rds_available": (f"rds_instance:{instance}", "BackupRetentionPeriod"),
        "db_init": (f"lambda_function:{function}", "Timeout"),
    }
    for part, (resource, field) in drifted.items():
        assert not compared[part]["in_sync"], part
        reason = f"{resource} changed outside this role: {field}"
        assert reason in compared[part]["reasons"], (part, compared[part]["reasons"])

    # Repaired: the parts ran in full and put their values back.
    assert user_parameter(rds, parameter_group, "log_statement") == "ddl"
    repaired = rds.describe_db_instances(DBInstanceIdentifier=instance)["DBInstances"][0]
    assert repaired["BackupRetentionPeriod"] == retention
    assert functions.get_function_configuration(FunctionName=function)["Timeout"] == timeout

    compared, changed = data_layer(stack)
    assert_all_skipped(compared, changed)
    assert stack.outputs_of("data") == first_outputs


def test_the_data_plan_works_on_a_clone_that_never_built_the_lambda_zip(
    stack: Stack, tmp_path: Path
) -> None:
    """A CI plan job or another machine has no db_init.zip: check mode builds it (a local file)
    and plans, instead of failing on the missing file."""
    elsewhere = tmp_path / "another-clone" / "outputs" / stack.env
    plan = run_playbook(
        "playbooks/data.yml",
        "local",
        "--check",
        "-e",
        json.dumps({"aws_endpoint_required": True, "env_name": stack.env}),
        endpoint=os.environ["AWS_ENDPOINT_URL"],
        env={"DJANGO_ECS_OUTPUTS_DIR": str(elsewhere)},
    )
    assert plan.returncode == 0, plan.output[-4000:]
    assert (tmp_path / "another-clone" / "build" / stack.env / "db_init.zip").is_file()


# What a run that changes nothing may call: reads (and EC2's DryRun probes, which write nothing).
READ_OPERATION = re.compile(r"^(Describe|List|Get|Head|BatchGet|Lookup|Search)[A-Z]")


def writes(calls: list[dict[str, Any]], planner: str = "") -> list[str]:
    """The calls that may write. ``planner``: the db_init function, whose invocation under
    --check carries check mode and only plans (tests/db/test_db_init_lambda.py proves it)."""
    return [
        f"{call['service']} {call['operation']}"
        for call in calls
        if not READ_OPERATION.match(call["operation"])
        and not call["params"].get("DryRun")
        and not (call["operation"] == "Invoke" and call["params"]["FunctionName"] == planner)
    ]


def files_of(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes() for p in directory.rglob("*") if p.is_file()
    }


def test_the_plan_names_one_changed_value_per_layer_and_changes_nothing(
    stack: Stack, tmp_path: Path
) -> None:
    """site.yml's summary names each part and input (and that nothing else would converge)."""
    plan_calls = tmp_path / "plan-calls.jsonl"
    outputs_before = files_of(stack.outputs)
    plan = run_playbook(
        "site.yml",
        "local",
        "--check",
        "--diff",
        "-e",
        json.dumps(
            {
                "aws_endpoint_required": True,
                "env_name": stack.env,
                "vpc_flow_logs": True,
                "rds_backup_retention_days": 9,
                "app_task_memory": 1024,
            }
        ),
        endpoint=os.environ["AWS_ENDPOINT_URL"],
        json_output=True,
        env={"DJANGO_ECS_OUTPUTS_DIR": str(stack.outputs), **recording_env(plan_calls)},
    )
    assert plan.returncode == 0, plan.output[-4000:]
    summary = next(
        task["hosts"]["localhost"]["msg"]
        for play in plan.json_result()["plays"]
        for task in play["tasks"]
        if task["task"]["name"].startswith("Summarise, per layer")
    )
    expected = [
        "network: 1 to converge, 2 in sync",
        f"  vpc: log group /aws/django-ecs/{stack.env}/vpc-flow-logs: missing",
        "data: 2 to converge, 1 in sync",
        "  rds: input rds_backup_retention_days changed",
        "  rds_available: input rds_backup_retention_days changed",
        "app: 1 to converge, 6 in sync",
    ]
    for line in expected:
        assert any(item.startswith(line) for item in summary), (line, summary)
    # The role's own setting and the inventory value it defaults to, both named.
    service = next(item for item in summary if item.startswith("  ecs_service: "))
    assert "input ecs_service_memory changed" in service, service
    assert "input app_task_memory changed" in service, service
    # --check changed nothing, in any layer: every AWS call of the run was a read (the parts'
    # records, SSM parameters, included: none was rewritten), and no outputs file changed. This
    # replaces a full app.yml run comparing the app parts, which saw the app layer only.
    calls = read_calls(plan_calls)
    # The filter can fail: it finds the writes of the app layer's converge.
    assert {"ecs CreateService", "ssm PutParameter"} <= set(writes(read_calls(stack.app_calls)))
    assert {call["service"] for call in calls} >= {"ec2", "rds", "ecs", "ssm"}, len(calls)
    assert writes(calls, planner=stack.name("db-init")) == []
    assert files_of(stack.outputs) == outputs_before


def network(stack: Stack, *extra: str) -> PlaybookRun:
    run = run_playbook(
        "playbooks/network.yml",
        "local",
        "-e",
        f"env_name={stack.env}",
        *extra,
        endpoint=os.environ["AWS_ENDPOINT_URL"],
        env={"DJANGO_ECS_OUTPUTS_DIR": str(stack.outputs)},
    )
    assert run.returncode == 0, run.output[-3000:]
    return run


def changed(run: PlaybookRun) -> int:
    return int(re.search(r"localhost\s+:\s+ok=\d+\s+changed=(\d+)", run.output).group(1))


def expected_network(stack: Stack, mode: str) -> dict[str, Any]:
    """The local inventory's network values, as tests.verify.network checks them."""
    return {
        "region": "us-east-1",
        "naming": {"env": stack.env, "service": "djg", "client": "ander"},
        "tags": {
            "Project": "django-ecs",
            "Owner": "platform-team",
            "ManagedBy": "ansible",
            "Confidentiality": "internal",
            "Environment": stack.env,
        },
        "vpc_cidr": "10.10.0.0/16",
        "vpc_azs": ["us-east-1a", "us-east-1b"],
        "network_nat_mode": mode,
        "nat_instance_type": "t3.micro",
        "nat_gateway_count": 1,
    }


def private_default_targets(ec2: Any, stack: Stack) -> list[str]:
    tables = ec2.describe_route_tables(
        Filters=[
            {"Name": "tag:Environment", "Values": [stack.env]},
            {"Name": "tag:Tier", "Values": ["private"]},
        ]
    )["RouteTables"]
    return sorted(
        r.get("NatGatewayId") or r.get("InstanceId") or ""
        for t in tables
        for r in t["Routes"]
        if r.get("DestinationCidrBlock") == "0.0.0.0/0"
    )


def nat_instances(ec2: Any, stack: Stack) -> list[str]:
    reservations = ec2.describe_instances(
        Filters=[
            {"Name": "tag:Name", "Values": [stack.name("nat")]},
            {"Name": "instance-state-name", "Values": ["pending", "running"]},
        ]
    )["Reservations"]
    return [i["InstanceId"] for r in reservations for i in r["Instances"]]


def drift_the_network(ec2: Any, stack: Stack) -> None:
    """Drift, as a hurried console session would leave it."""
    vpc_id = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [stack.name("vpc")]}])[
        "Vpcs"
    ][0]["VpcId"]
    private = ec2.describe_route_tables(
        Filters=[
            {"Name": "vpc-id", "Values": [vpc_id]},
            {"Name": "tag:Tier", "Values": ["private"]},
        ]
    )["RouteTables"]
    ec2.delete_route(RouteTableId=private[0]["RouteTableId"], DestinationCidrBlock="0.0.0.0/0")
    default_sg = ec2.describe_security_groups(
        Filters=[
            {"Name": "vpc-id", "Values": [vpc_id]},
            {"Name": "group-name", "Values": ["default"]},
        ]
    )["SecurityGroups"][0]["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=default_sg,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 22,
                "ToPort": 22,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
            }
        ],
    )
    subnet_id = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"][
        0
    ]["SubnetId"]
    ec2.create_tags(Resources=[subnet_id], Tags=[{"Key": "Owner", "Value": "someone-else"}])


def test_every_layer_verifies_and_converges_a_change(stack: Stack) -> None:
    """molecule/shared/verify_stack.yml, as molecule's verify step runs it: its nested runs read
    the scenario's extra vars (this environment's name) and log where this module's runs do."""
    scenario = stack.directory / "scenario"
    scenario.mkdir(exist_ok=True)
    (scenario / "extra_vars.yml").write_text(json.dumps({"env_name": stack.env}))
    molecule_env = {
        "MOLECULE_SCENARIO_DIRECTORY": str(scenario),
        "MOLECULE_EPHEMERAL_DIRECTORY": str(stack.directory),
    }
    stack.run(
        "molecule/shared/verify_stack.yml",
        "-e",
        f"@{scenario / 'extra_vars.yml'}",
        env=molecule_env,
    )


def test_network_drift_is_planned_repaired_and_nat_modes_switch(stack: Stack) -> None:
    ec2 = client("ec2")
    assert changed(network(stack)) == 0, "the converged network layer re-runs with no change"

    drift_the_network(ec2, stack)
    plan = network(stack, "--check", "--diff")
    assert changed(plan) > 0
    assert "default route not via the NAT instance" in plan.output
    assert "default security group: has rules" in plan.output
    drifted = verify(expected_network(stack, "instance"))
    assert len(drifted) >= 3, f"check mode must not repair anything: {drifted}"

    assert changed(network(stack)) > 0
    assert verify(expected_network(stack, "instance")) == []
    assert changed(network(stack)) == 0

    # instance -> gateway without pruning: routes move, the instance stays.
    instance_ids = nat_instances(ec2, stack)
    gateway = ("-e", "network_nat_mode=gateway", "-e", "nat_gateway_count=1")
    network(stack, *gateway)
    targets = private_default_targets(ec2, stack)
    assert all(t.startswith("nat-") for t in targets) and len(set(targets)) == 1
    assert nat_instances(ec2, stack) == instance_ids
    assert verify(expected_network(stack, "gateway")) == []

    # ... and with the explicit switch (a deletion, so confirmed), the unused NAT instance goes.
    network(
        stack, *gateway, "-e", "network_prune_unused_nat=true", "-e", f"confirm_destroy={stack.env}"
    )
    assert nat_instances(ec2, stack) == []


def test_destroy_removes_the_whole_stack(stack: Stack) -> None:
    """playbooks/destroy.yml with both confirmations (molecule/shared/destroy_stack.yml), on the
    stack the tests above left: then no VPC, database or task process of it is left."""
    stack.run("molecule/shared/destroy_stack.yml")
    assert environment_vpcs(stack) == []
    instances = client("rds").describe_db_instances()["DBInstances"]
    assert [
        i["DBInstanceIdentifier"] for i in instances if stack.env in i["DBInstanceIdentifier"]
    ] == []
