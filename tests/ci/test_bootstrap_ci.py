"""playbooks/bootstrap_ci.yml on the emulator: the OIDC provider and one environment's deploy
role; re-run changes nothing; the trust names one repository and one GitHub environment (checked
with moto's own IAM policy evaluator); a wildcard or empty subject part stops before AWS."""

from __future__ import annotations

import json
import uuid
from typing import Any

import boto3
import pytest
from moto.iam.access_control import IAMPolicy, PermissionResult

from tests.playbooks.runner import DEAD_ENDPOINT, run_playbook

ISSUER = "token.actions.githubusercontent.com"
OWNER, REPOSITORY = "example-org", "django-ecs-app"


def bootstrap(env_name: str, endpoint: str, **overrides: str) -> Any:
    extra = {
        "aws_endpoint_required": True,
        "env_name": env_name,
        "ci_deploy_role_github_owner": OWNER,
        "ci_deploy_role_github_repository": REPOSITORY,
        **overrides,
    }
    return run_playbook(
        "playbooks/bootstrap_ci.yml", "local", "-e", json.dumps(extra), endpoint=endpoint
    )


def changed_count(output: str) -> int:
    recap = output[output.rindex("PLAY RECAP") :]
    return int(recap.split("changed=")[1].split()[0])


def trust_allows(trust: dict[str, Any], subject: str, audience: str = "sts.amazonaws.com") -> bool:
    context = {f"{ISSUER}:sub": subject, f"{ISSUER}:aud": audience}
    result = IAMPolicy(json.dumps(trust)).is_action_permitted(
        "sts:AssumeRoleWithWebIdentity", incoming_condition_values=context
    )
    return result == PermissionResult.PERMITTED


def test_bootstrap_twice_then_the_trust_names_the_repository_and_environment(
    aws_env: dict[str, str],
) -> None:
    env_name = "ci" + uuid.uuid4().hex[:6]
    first = bootstrap(env_name, aws_env["AWS_ENDPOINT_URL"])
    assert first.returncode == 0, first.output[-4000:]
    role_name = f"{env_name}-djg-deploy-ander"
    assert f"AWS_ROLE_TO_ASSUME=arn:aws:iam::123456789012:role/{role_name}" in first.output

    second = bootstrap(env_name, aws_env["AWS_ENDPOINT_URL"])
    assert second.returncode == 0, second.output[-4000:]
    assert changed_count(second.output) == 0, second.output[-4000:]

    iam = boto3.client("iam", endpoint_url=aws_env["AWS_ENDPOINT_URL"], region_name="us-east-1")
    provider_arn = f"arn:aws:iam::123456789012:oidc-provider/{ISSUER}"
    provider = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=provider_arn)
    assert "sts.amazonaws.com" in provider["ClientIDList"]

    trust = iam.get_role(RoleName=role_name)["Role"]["AssumeRolePolicyDocument"]
    (statement,) = trust["Statement"]
    assert statement["Principal"] == {"Federated": provider_arn}
    assert statement["Condition"] == {
        "StringEquals": {
            f"{ISSUER}:sub": f"repo:{OWNER}/{REPOSITORY}:environment:{env_name}",
            f"{ISSUER}:aud": "sts.amazonaws.com",
        }
    }
    subject = f"repo:{OWNER}/{REPOSITORY}:environment:{env_name}"
    assert trust_allows(trust, subject)
    for other in (
        f"repo:{OWNER}/{REPOSITORY}:environment:prod",  # another environment's job
        f"repo:{OWNER}/{REPOSITORY}:ref:refs/heads/main",  # a job outside any environment
        f"repo:{OWNER}/other-repo:environment:{env_name}",
        f"repo:someone-else/{REPOSITORY}:environment:{env_name}",
    ):
        assert not trust_allows(trust, other), other
    assert not trust_allows(trust, subject, audience="https://github.com/example-org")

    (policy_name,) = iam.list_role_policies(RoleName=role_name)["PolicyNames"]
    policy = iam.get_role_policy(RoleName=role_name, PolicyName=policy_name)["PolicyDocument"]
    actions = [
        a
        for s in policy["Statement"]
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    ]
    assert "*" not in actions and not any(a.endswith(":*") for a in actions), actions


@pytest.mark.parametrize(
    ("overrides", "variable"),
    [
        ({"ci_deploy_role_github_owner": "*"}, "ci_deploy_role_github_owner"),
        ({"ci_deploy_role_github_repository": "django-ecs-?"}, "ci_deploy_role_github_repository"),
        ({"ci_deploy_role_github_environment": ""}, "ci_deploy_role_github_environment"),
    ],
)
def test_wildcard_or_empty_subject_is_refused_before_any_aws_call(
    overrides: dict[str, str], variable: str
) -> None:
    # Aimed at the discard port: any AWS call would print "Could not connect to the endpoint
    # URL", which assert_failed_before_aws requires to be absent.
    run = bootstrap("cibad", DEAD_ENDPOINT, **overrides)
    run.assert_failed_before_aws(f"{variable} must be", "no '*' or '?', not empty")
    failed_task = run.output.split("fatal:")[0].rsplit("TASK [", 1)[1]
    assert failed_task.startswith("django_ecs.aws.ci_deploy_role : Check the GitHub owner"), (
        failed_task
    )
