"""The deploy role's policy allows every AWS call of the deploy workflow, only the environment's.

On the emulator: a fresh environment's network and data layers, then what the deploy job runs,
each run's AWS calls recorded by a botocore hook: playbooks/image.yml with a prebuilt archive,
then site.yml --tags app with that tag (deploy.yml). playbooks/bootstrap_ci.yml writes the role's
policy; moto's IAM policy evaluator (moto.iam.access_control) judges every recorded call.

Cost: one first converge of a stack (about 3 minutes on 2 cores, most of it the network and data
layers). tests/ci/deploy_policy.py is written so that a test already converging a stack can record
its own app-layer run instead (pass recording_env(...) as the run's env) and drop this one.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.ci.deploy_policy import Lookup, Request, denied, iam_requests, read_calls, recording_env
from tests.ecr.conftest import build_oci_layout
from tests.playbooks.runner import run_playbook

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not os.environ.get("AWS_ENDPOINT_URL", "").startswith("http://127.0.0.1"),
        reason="needs the emulator (scripts/test starts it and exports AWS_ENDPOINT_URL)",
    ),
]
IMAGE_TAG = "ci-0123abcd"


def client(service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=os.environ["AWS_ENDPOINT_URL"],
        region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
    )


@dataclass
class Deployed:
    env: str
    image_calls: list[dict[str, Any]]
    app_calls: list[dict[str, Any]]
    policy: dict[str, Any]


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    tmp = tmp_path_factory.mktemp("deploy-policy")
    env = "dp" + uuid.uuid4().hex[:6]
    extra = {"aws_endpoint_required": True, "env_name": env}
    outputs = {"DJANGO_ECS_OUTPUTS_DIR": str(tmp / "outputs"), "XDG_CACHE_HOME": str(tmp / "cache")}

    def run(playbook: str, *args: str, record: Path | None = None) -> None:
        env_vars = {**outputs, **(recording_env(record) if record else {})}
        done = run_playbook(
            playbook,
            "local",
            "-e",
            json.dumps(extra),
            *args,
            endpoint=os.environ["AWS_ENDPOINT_URL"],
            env=env_vars,
        )
        assert done.returncode == 0, done.output[-4000:]

    # What the deploy workflow needs in place (docs/delivery.md: deployed by hand first).
    run("site.yml", "--tags", "network,data")
    # The build job's archive: ecr_image reads an OCI layout as it reads buildx's OCI output.
    image = build_oci_layout(tmp / "image", [{"app/manage.py": b"print('deployed')\n"}])
    image_record, app_record = tmp / "image.jsonl", tmp / "app.jsonl"
    run(
        "playbooks/image.yml",
        "-e",
        f"image_archive={image.path}",
        "-e",
        f"image_tag={IMAGE_TAG}",
        record=image_record,
    )
    run(
        "site.yml",
        "--tags",
        "app",
        "-e",
        f"image_tag={IMAGE_TAG}",
        "-e",
        "app_build_on_deploy=false",
        record=app_record,
    )
    owner = {"ci_deploy_role_github_owner": "example-org"}
    run(
        "playbooks/bootstrap_ci.yml",
        "-e",
        json.dumps({**owner, "ci_deploy_role_github_repository": "app"}),
    )
    policy = client("iam").get_role_policy(RoleName=f"{env}-djg-deploy-ander", PolicyName="deploy")
    yield Deployed(env, read_calls(image_record), read_calls(app_record), policy["PolicyDocument"])


def lookup() -> Lookup:
    return Lookup(client, "123456789012", os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))


def describe(requests: list[Request]) -> str:
    return "\n".join(f"{r.call}: {r.action} on {r.resource} {r.context}" for r in requests)


def test_every_call_of_the_deploy_workflow_is_allowed(deployed: Deployed) -> None:
    operations = {(c["signing_name"], c["operation"]) for c in deployed.image_calls}
    # The recording saw the publishing itself, and the app layer's writes.
    assert {("ecr", "PutImage"), ("ecr", "CompleteLayerUpload")} <= operations, operations
    app_operations = {(c["signing_name"], c["operation"]) for c in deployed.app_calls}
    for written in (
        ("ecs", "CreateService"),
        ("ecs", "RegisterTaskDefinition"),
        ("iam", "PutRolePolicy"),
    ):
        assert written in app_operations, sorted(app_operations)

    requests = iam_requests(deployed.image_calls + deployed.app_calls, lookup())
    assert len(requests) > 100
    refused = denied(deployed.policy, requests)
    assert not refused, "the deploy role's policy refuses:\n" + describe(refused)


def test_the_same_calls_on_another_environment_are_refused(deployed: Deployed) -> None:
    """The policy is scoped: every request that names the environment (its resource names or
    tags) is refused once it names another one instead."""
    requests = iam_requests(deployed.image_calls + deployed.app_calls, lookup())

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
