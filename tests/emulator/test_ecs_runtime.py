"""ECR keeps pushed blobs and ECS RunTask runs the containers (emulator item 31, ecs_runtime.py).

Plain moto 5.2.5 keeps only a layer's length, answers RunTask with a RUNNING task that runs
nothing (exit code 0, no logs, no listening port) and drifts it to STOPPED one DescribeTasks at
a time: every test here asserts what only a real process can produce.
"""

from __future__ import annotations

import json
import socket
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
from ecs_support import (
    NETNS,
    Aws,
    awsvpc,
    cluster,
    describe_task,
    ecs_emulator,
    image,
    log_messages,
    sha256,
    wait_for,
    wait_status,
)

from tests.aws_policies import service_trust

__all__ = ["awsvpc", "cluster", "ecs_emulator", "image"]  # module fixtures, imported for pytest


@pytest.fixture(scope="module")
def emulator(ecs_emulator: tuple[Path, Aws]) -> tuple[Path, Aws]:
    return ecs_emulator


@pytest.fixture(scope="module")
def aws(emulator: tuple[Path, Aws]) -> Aws:
    return emulator[1]


@pytest.fixture
def log_group(aws: Aws) -> str:
    name = f"/ecs/test-{uuid.uuid4().hex[:8]}"
    aws("logs").create_log_group(logGroupName=name)
    return name


def _role(aws: Aws, name: str) -> str:
    trust = service_trust("ecs-tasks.amazonaws.com")
    return aws("iam").create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]


def _register(aws: Aws, image: str, log_group: str, **container: Any) -> str:
    family = f"t-{uuid.uuid4().hex[:8]}"
    role = container.pop("task_role", None)
    definition = {
        "name": "app",
        "image": image,
        "essential": True,
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": log_group,
                "awslogs-region": "us-east-1",
                "awslogs-stream-prefix": "web",
            },
        },
        **container,
    }
    extra = {"taskRoleArn": role} if role else {}
    answer = aws("ecs").register_task_definition(
        family=family,
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
        containerDefinitions=[definition],
        executionRoleArn=_role(aws, f"exec-{family}"),
        **extra,
    )
    return str(answer["taskDefinition"]["taskDefinitionArn"])


def _run(aws: Aws, cluster: str, awsvpc: dict, definition: str, **options: Any) -> str:
    tasks = aws("ecs").run_task(
        cluster=cluster,
        taskDefinition=definition,
        launchType="FARGATE",
        networkConfiguration=awsvpc,
        **options,
    )["tasks"]
    return str(tasks[0]["taskArn"])


def _stream(task_arn: str) -> str:
    return f"web/app/{task_arn.rsplit('/', 1)[-1]}"


def _record(state_dir: Path, task_arn: str) -> dict[str, Any]:
    path = state_dir / "ecs" / "tasks" / task_arn.rsplit("/", 1)[-1] / "record.json"
    return json.loads(path.read_text())


def test_pushed_blobs_are_kept_by_digest(emulator: tuple[Path, Aws], image: str) -> None:
    state_dir, aws = emulator
    repository, digest = image.split("/", 1)[1].split("@")
    manifest = aws("ecr").batch_get_image(
        repositoryName=repository, imageIds=[{"imageDigest": digest}]
    )["images"][0]["imageManifest"]
    for descriptor in [json.loads(manifest)["config"], *json.loads(manifest)["layers"]]:
        blob = state_dir / "ecr" / "blobs" / "sha256" / descriptor["digest"].split(":")[1]
        assert sha256(blob.read_bytes()) == descriptor["digest"]


def test_layer_download_url_serves_the_pushed_bytes(aws: Aws, image: str) -> None:
    repository, digest = image.split("/", 1)[1].split("@")
    manifest = aws("ecr").batch_get_image(
        repositoryName=repository, imageIds=[{"imageDigest": digest}]
    )["images"][0]["imageManifest"]
    layer = json.loads(manifest)["layers"][0]["digest"]
    answer = aws("ecr").get_download_url_for_layer(repositoryName=repository, layerDigest=layer)
    assert answer["layerDigest"] == layer
    with urllib.request.urlopen(answer["downloadUrl"], timeout=5) as response:
        assert sha256(response.read()) == layer
    missing = "sha256:" + "0" * 64
    with pytest.raises(aws("ecr").exceptions.LayersNotFoundException):
        aws("ecr").get_download_url_for_layer(repositoryName=repository, layerDigest=missing)


def test_exit_code_zero_and_output_in_cloudwatch(
    aws: Aws, image: str, cluster: str, awsvpc: dict, log_group: str
) -> None:
    definition = _register(aws, image, log_group, command=["exit", "0"])
    arn = _run(aws, cluster, awsvpc, definition)
    task = wait_status(aws, cluster, arn, "STOPPED")
    assert task["containers"][0]["exitCode"] == 0
    assert task["stopCode"] == "EssentialContainerExited"
    assert task["stoppedReason"] == "Essential container in task exited"
    assert task["startedAt"] <= task["stoppedAt"]
    assert log_messages(aws, log_group, _stream(arn)) == ["about to exit 0", "second line"]


def test_nonzero_exit_code_is_reported(
    aws: Aws, image: str, cluster: str, awsvpc: dict, log_group: str
) -> None:
    definition = _register(aws, image, log_group, command=["exit", "3"])
    arn = _run(aws, cluster, awsvpc, definition)
    assert wait_status(aws, cluster, arn, "STOPPED")["containers"][0]["exitCode"] == 3


def test_environment_secrets_and_overrides_reach_the_process(
    aws: Aws, image: str, cluster: str, awsvpc: dict, log_group: str
) -> None:
    secret = aws("secretsmanager").create_secret(
        Name=f"db-{uuid.uuid4().hex[:6]}", SecretString=json.dumps({"password": "s3cret"})
    )["ARN"]
    parameter = f"/app/{uuid.uuid4().hex[:6]}"
    aws("ssm").put_parameter(Name=parameter, Value="from-ssm", Type="SecureString")
    names = ["IMAGE_VARIABLE", "FROM_DEFINITION", "DB_PASSWORD", "SSM_VALUE", "OVERRIDDEN"]
    names += ["AWS_REGION", "AWS_ENDPOINT_URL", "PGPASSWORD"]
    definition = _register(
        aws,
        image,
        log_group,
        command=["env", *names],
        environment=[
            {"name": "FROM_DEFINITION", "value": "yes"},
            {"name": "OVERRIDDEN", "value": "definition"},
        ],
        secrets=[
            {"name": "DB_PASSWORD", "valueFrom": f"{secret}:password::"},
            {"name": "SSM_VALUE", "valueFrom": parameter},
        ],
    )
    override = {"name": "app", "environment": [{"name": "OVERRIDDEN", "value": "override"}]}
    arn = _run(aws, cluster, awsvpc, definition, overrides={"containerOverrides": [override]})
    wait_status(aws, cluster, arn, "STOPPED")
    lines = log_messages(aws, log_group, _stream(arn))
    assert lines[:5] == [
        "IMAGE_VARIABLE=from-image",
        "FROM_DEFINITION=yes",
        "DB_PASSWORD=s3cret",
        "SSM_VALUE=from-ssm",
        "OVERRIDDEN=override",
    ]
    assert lines[5] == "AWS_REGION=us-east-1"
    assert lines[6].startswith("AWS_ENDPOINT_URL=http://127.0.0.1:")
    assert lines[7] == "PGPASSWORD=None"  # the server's environment never leaks in
    assert lines[8].startswith("cwd=/") and lines[8].endswith("/containers/app/app")


def test_missing_secret_stops_the_task_before_it_runs(
    aws: Aws, image: str, cluster: str, awsvpc: dict, log_group: str
) -> None:
    missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:nope-AbCdEf"
    definition = _register(
        aws, image, log_group, command=["exit", "0"], secrets=[{"name": "X", "valueFrom": missing}]
    )
    task = wait_status(aws, cluster, _run(aws, cluster, awsvpc, definition), "STOPPED")
    assert task["stopCode"] == "TaskFailedToStart"
    assert task["stoppedReason"].startswith(
        "ResourceInitializationError: unable to pull secrets or registry auth"
    )
    assert missing in task["stoppedReason"]
    assert task["containers"][0].get("exitCode") is None


def test_task_role_credentials_come_from_the_container_endpoint(
    aws: Aws, image: str, cluster: str, awsvpc: dict, log_group: str
) -> None:
    role_name = f"task-{uuid.uuid4().hex[:8]}"
    definition = _register(
        aws, image, log_group, command=["whoami"], task_role=_role(aws, role_name)
    )
    arn = _run(aws, cluster, awsvpc, definition)
    task = wait_status(aws, cluster, arn, "STOPPED", timeout=30)
    assert task["containers"][0]["exitCode"] == 0, log_messages(aws, log_group, _stream(arn))
    task_id = arn.rsplit("/", 1)[-1]
    expected = f"identity=arn:aws:sts::123456789012:assumed-role/{role_name}/{task_id}"
    assert log_messages(aws, log_group, _stream(arn)) == [expected]


def test_task_metadata_endpoint_v4_describes_the_task(
    aws: Aws, image: str, cluster: str, awsvpc: dict, log_group: str
) -> None:
    definition = _register(aws, image, log_group, command=["metadata"])
    arn = _run(aws, cluster, awsvpc, definition)
    task = wait_status(aws, cluster, arn, "STOPPED")
    assert task["containers"][0]["exitCode"] == 0, log_messages(aws, log_group, _stream(arn))
    assert log_messages(aws, log_group, _stream(arn)) == [f"task={arn}", "container=app"]


def _get(port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=5) as response:
        return json.loads(response.read())


def test_container_port_answers_and_health_check_turns_healthy(
    emulator: tuple[Path, Aws], image: str, cluster: str, awsvpc: dict, log_group: str
) -> None:
    state_dir, aws = emulator
    probe = "python -c \"import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/')\""
    definition = _register(
        aws,
        image,
        log_group,
        command=["serve", "8080"],
        portMappings=[{"containerPort": 8080, "protocol": "tcp"}],
        healthCheck={"command": ["CMD-SHELL", probe], "interval": 5, "retries": 2},
        stopTimeout=5,
    )
    arn = _run(aws, cluster, awsvpc, definition)
    task = wait_status(aws, cluster, arn, "RUNNING")
    assert task["healthStatus"] == "UNKNOWN"
    healthy = wait_for(
        lambda: (t := describe_task(aws, cluster, arn))["healthStatus"] == "HEALTHY" and t
    )
    assert healthy["containers"][0]["healthStatus"] == "HEALTHY"
    # Lines reach CloudWatch while the container runs, not when it ends.
    assert log_messages(aws, log_group, _stream(arn))[0] == "listening on 8080"
    private_ip = healthy["containers"][0]["networkInterfaces"][0]["privateIpv4Address"]
    assert private_ip.startswith("10.20.3.")  # in the task's subnet
    host_port = _record(state_dir, arn)["host_ports"]["8080"]
    assert _get(host_port)["path"] == "/ping"
    if NETNS:
        assert host_port != 8080
        with pytest.raises(OSError):  # the task's port lives in its own namespace
            socket.create_connection(("127.0.0.1", 8080), timeout=1)
    else:
        assert host_port == 8080  # the host-network fallback (README item 31)
    stopping = aws("ecs").stop_task(cluster=cluster, task=arn, reason="enough")["task"]
    assert stopping["desiredStatus"] == "STOPPED"
    task = wait_status(aws, cluster, arn, "STOPPED")
    assert (task["stopCode"], task["stoppedReason"]) == ("UserInitiated", "enough")
    assert task["containers"][0]["exitCode"] == 143  # SIGTERM, as docker reports it
    with pytest.raises(OSError):
        _get(host_port)
    assert task["attachments"][0]["status"] == "DELETED"
    eni = next(
        d["value"] for d in task["attachments"][0]["details"] if d["name"] == "networkInterfaceId"
    )
    enis = aws("ec2").describe_network_interfaces()["NetworkInterfaces"]
    assert eni not in {e["NetworkInterfaceId"] for e in enis}  # its address is free again


def test_failing_health_check_stops_the_task(
    aws: Aws, image: str, cluster: str, awsvpc: dict, log_group: str
) -> None:
    definition = _register(
        aws,
        image,
        log_group,
        command=["sleep", "60"],
        healthCheck={"command": ["CMD", "false"], "interval": 5, "retries": 1},
        stopTimeout=2,
    )
    task = wait_status(aws, cluster, _run(aws, cluster, awsvpc, definition), "STOPPED")
    assert task["healthStatus"] == "UNHEALTHY"
    assert task["containers"][0]["healthStatus"] == "UNHEALTHY"
    assert task["stoppedReason"] == "Task failed container health checks"


def test_a_non_essential_container_may_exit_while_the_task_runs(
    aws: Aws, image: str, cluster: str, awsvpc: dict, log_group: str
) -> None:
    definition = _register(aws, image, log_group, command=["sleep", "60"], stopTimeout=2)
    family = aws("ecs").describe_task_definition(taskDefinition=definition)["taskDefinition"]
    side = {**family["containerDefinitions"][0], "name": "side", "essential": False}
    side["command"] = ["exit", "1"]
    revision = aws("ecs").register_task_definition(
        family=family["family"],
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
        containerDefinitions=[family["containerDefinitions"][0], side],
    )["taskDefinition"]["taskDefinitionArn"]
    arn = _run(aws, cluster, awsvpc, revision)

    def side_exited() -> dict[str, Any] | None:
        task = describe_task(aws, cluster, arn)
        containers = {c["name"]: c for c in task["containers"]}
        return task if containers["side"].get("exitCode") == 1 else None

    task = wait_for(side_exited)
    assert task["lastStatus"] == "RUNNING"
    aws("ecs").stop_task(cluster=cluster, task=arn)
    task = wait_status(aws, cluster, arn, "STOPPED")
    codes = {c["name"]: c.get("exitCode") for c in task["containers"]}
    assert codes == {"app": 143, "side": 1}
    assert task["stoppedReason"] == "Task stopped by user"
