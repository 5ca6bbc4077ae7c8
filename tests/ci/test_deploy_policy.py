"""The deploy role's policy allows every AWS call of the deploy workflow, only the environment's.

On the emulator, on the suite's shared stack (the `converged_stack` fixture, tests/conftest.py):
its app layer's first converge (site.yml --tags app, on the network and data layers converged
before it) recorded every AWS call with a botocore hook (tests/ci/aws_call_recorder). That run
builds and publishes the image in the ecr role as playbooks/image.yml does in deploy.yml, then
deploys it. playbooks/bootstrap_ci.yml writes the role's policy; moto's IAM policy evaluator
(moto.iam.access_control) judges every recorded call.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from typing import Any

import pytest

from tests.ci.deploy_policy import Lookup, Request, denied, iam_requests, read_calls
from tests.playbooks.fast_path import Stack, client

pytestmark = [
    pytest.mark.slow,
    pytest.mark.xdist_group("fast_path"),
    pytest.mark.skipif(
        not os.environ.get("AWS_ENDPOINT_URL", "").startswith("http://127.0.0.1"),
        reason="needs the emulator (scripts/test starts it and exports AWS_ENDPOINT_URL)",
    ),
]


@dataclass
class Deployed:
    env: str
    calls: list[dict[str, Any]]
    policy: dict[str, Any]


@pytest.fixture(scope="module")
def deployed(converged_stack: Stack) -> Deployed:
    """The shared stack's recorded app-layer converge, and the deploy role bootstrapped for it."""
    converged_stack.run(
        "playbooks/bootstrap_ci.yml",
        "-e",
        json.dumps(
            {
                "ci_deploy_role_github_owner": "example-org",
                "ci_deploy_role_github_repository": "app",
            }
        ),
    )
    role = converged_stack.name("deploy")
    policy = client("iam").get_role_policy(RoleName=role, PolicyName="deploy")["PolicyDocument"]
    return Deployed(converged_stack.env, read_calls(converged_stack.app_calls), policy)


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
