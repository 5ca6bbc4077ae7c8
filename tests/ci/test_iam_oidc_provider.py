"""django_ecs.aws.iam_oidc_provider: the plan (pure), then the module against the emulator,
including the emulator's patch 25 (moto 5.2.5 has no Add/RemoveClientID for OIDC providers)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from ansible_collections.django_ecs.aws.plugins.modules.iam_oidc_provider import (
    ARGUMENT_SPEC,
    Provider,
    plan,
    validate,
)

RunModule = Callable[..., dict[str, Any]]


def params(**overrides: Any) -> dict[str, Any]:
    defaults = {name: spec.get("default") for name, spec in ARGUMENT_SPEC.items()}
    return {**defaults, "url": "https://token.actions.githubusercontent.com", **overrides}


def test_missing_provider_is_created() -> None:
    assert plan(None, params(client_ids=["sts.amazonaws.com"])).create


def test_matching_provider_needs_nothing() -> None:
    current = Provider("arn", ["sts.amazonaws.com"], ["a" * 40], {"Project": "p"})
    wanted = params(client_ids=["sts.amazonaws.com"], tags={"Project": "p"})
    assert plan(current, wanted).lines(wanted["url"]) == []


def test_audiences_and_tags_converge_without_replacing_the_provider() -> None:
    current = Provider("arn", ["old"], [], {"Stale": "x", "aws:cloudformation:stack-id": "s"})
    wanted = params(client_ids=["sts.amazonaws.com"], tags={"Project": "p"})
    changes = plan(current, wanted)
    assert not changes.create
    assert changes.add_client_ids == ["sts.amazonaws.com"]
    assert changes.remove_client_ids == ["old"]
    assert changes.set_tags == {"Project": "p"}
    assert changes.remove_tags == ["Stale"]  # aws: tags are never touched
    assert plan(current, {**wanted, "purge_client_ids": False}).remove_client_ids == []


def test_thumbprints_left_to_iam_unless_given() -> None:
    current = Provider("arn", [], ["b" * 40], {})
    assert plan(current, params()).thumbprints is None
    assert plan(current, params(thumbprints=["A" * 40])).thumbprints == ["a" * 40]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"url": "http://token.actions.githubusercontent.com"}, "url must be https://"),
        ({"url": "https://*.example.com"}, "url must be https://"),
        ({"thumbprints": ["abc"]}, "40 hex digits"),
        ({"client_ids": [" "]}, "client_ids must not contain empty"),
    ],
)
def test_bad_input_is_refused(overrides: dict[str, Any], message: str) -> None:
    assert any(message in error for error in validate(params(**overrides)))


def test_module_creates_then_adds_an_audience_and_keeps_the_arn(
    run_module: RunModule, aws_env: dict[str, str]
) -> None:
    url = f"https://oidc-{uuid.uuid4().hex[:8]}.example.com"
    created = run_module("iam_oidc_provider", {"url": url, "client_ids": ["sts.amazonaws.com"]})
    assert created["changed"] and created["actions"] == [f"create {url}"], created
    again = run_module("iam_oidc_provider", {"url": url, "client_ids": ["sts.amazonaws.com"]})
    assert not again["changed"] and again["arn"] == created["arn"], again

    planned = run_module(
        "iam_oidc_provider", {"url": url, "client_ids": ["other"]}, check_mode=True
    )
    assert planned["actions"] == ["add client id other", "remove client id sts.amazonaws.com"]
    iam = boto3.client("iam", endpoint_url=aws_env["AWS_ENDPOINT_URL"], region_name="us-east-1")
    stored = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=created["arn"])
    assert stored["ClientIDList"] == ["sts.amazonaws.com"], "check mode changed the provider"

    shared = run_module(
        "iam_oidc_provider", {"url": url, "client_ids": ["other"], "purge_client_ids": False}
    )
    assert shared["changed"] and shared["arn"] == created["arn"], shared
    assert sorted(shared["client_ids"]) == ["other", "sts.amazonaws.com"]
    removed = run_module("iam_oidc_provider", {"url": url, "state": "absent"})
    assert removed["changed"] and removed["arn"] == ""
    assert url.split("//")[1] not in str(iam.list_open_id_connect_providers())


def test_emulator_adds_and_removes_client_ids_as_aws_does(aws_env: dict[str, str]) -> None:
    """Patch 25: plain moto 5.2.5 fails both calls (not implemented)."""
    iam = boto3.client("iam", endpoint_url=aws_env["AWS_ENDPOINT_URL"], region_name="us-east-1")
    arn = iam.create_open_id_connect_provider(
        Url=f"https://oidc-{uuid.uuid4().hex[:8]}.example.com", ClientIDList=["a"]
    )["OpenIDConnectProviderArn"]
    try:
        iam.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="b")
        iam.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="b")
        iam.remove_client_id_from_open_id_connect_provider(
            OpenIDConnectProviderArn=arn, ClientID="a"
        )
        iam.remove_client_id_from_open_id_connect_provider(
            OpenIDConnectProviderArn=arn, ClientID="never-added"
        )
        described = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
        assert described["ClientIDList"] == ["b"]
        with pytest.raises(iam.exceptions.NoSuchEntityException):
            iam.add_client_id_to_open_id_connect_provider(
                OpenIDConnectProviderArn=arn + "-missing", ClientID="c"
            )
    finally:
        iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)
