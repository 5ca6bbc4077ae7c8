"""aws_clients: a module run's clients share one boto3 session and connect as amazon.aws would.

Against the emulator (its endpoint, keys and region come in as module options, as the layer
plays' module_defaults pass them).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from ansible_collections.amazon.aws.plugins.module_utils.retries import (
    AWSRetry,
    RetryingBotoClientWrapper,
)
from ansible_collections.django_ecs.aws.plugins.module_utils.aws_clients import (
    counting_clients,
    session_clients,
)


def module_with(aws_env: dict[str, str], **options: Any) -> SimpleNamespace:
    """What AnsibleAWSModule's params hold for the connection options."""
    params = {
        "endpoint_url": aws_env["AWS_ENDPOINT_URL"],
        "region": aws_env["AWS_DEFAULT_REGION"],
        "access_key": aws_env["AWS_ACCESS_KEY_ID"],
        "secret_key": aws_env["AWS_SECRET_ACCESS_KEY"],
        "session_token": None,
        "profile": None,
        "validate_certs": True,
        "aws_ca_bundle": None,
        "aws_config": None,
        **options,
    }
    return SimpleNamespace(params=params)


@pytest.fixture
def sessions_made(monkeypatch: pytest.MonkeyPatch) -> list[boto3.session.Session]:
    """Every boto3 session created from here on."""
    made: list[boto3.session.Session] = []
    original_init = boto3.session.Session.__init__

    def recording_init(self: boto3.session.Session, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        made.append(self)

    monkeypatch.setattr(boto3.session.Session, "__init__", recording_init)
    return made


def test_clients_of_several_services_come_from_one_session(
    aws_env: dict[str, str], sessions_made: list[boto3.session.Session]
) -> None:
    create = session_clients(module_with(aws_env))
    clients = [create(service) for service in ("ssm", "rds", "ec2", "iam")]
    assert len(sessions_made) == 1
    assert [client.meta.service_model.service_name for client in clients] == [
        "ssm",
        "rds",
        "ec2",
        "iam",
    ]


def test_a_client_reaches_the_endpoint_with_the_modules_keys_and_region(
    aws_env: dict[str, str],
) -> None:
    client = session_clients(module_with(aws_env))("sts")
    assert client.meta.endpoint_url == aws_env["AWS_ENDPOINT_URL"]
    assert client.meta.region_name == aws_env["AWS_DEFAULT_REGION"]
    assert client.get_caller_identity()["Account"].isdigit()


def test_aws_config_is_merged_and_the_user_agent_names_the_collection(
    aws_env: dict[str, str],
) -> None:
    module = module_with(aws_env, aws_config={"connect_timeout": 7, "read_timeout": 11})
    config = session_clients(module)("ssm").meta.config
    assert config.connect_timeout == 7
    assert config.read_timeout == 11
    assert "django_ecs.aws" in config.user_agent_extra


def test_a_retry_decorator_wraps_the_client_as_module_client_does(
    aws_env: dict[str, str],
) -> None:
    client = session_clients(module_with(aws_env), AWSRetry.jittered_backoff())("ssm")
    assert isinstance(client, RetryingBotoClientWrapper)
    assert client.describe_parameters()["Parameters"] is not None


def test_counting_clients_count_calls_and_create_each_service_once(
    aws_env: dict[str, str], sessions_made: list[boto3.session.Session]
) -> None:
    calls = [0]
    client = counting_clients(module_with(aws_env), calls)
    client("sts").get_caller_identity()
    client("sts").get_caller_identity()
    client("ssm").describe_parameters()
    assert calls == [3]
    assert client("sts") is client("sts")
    assert len(sessions_made) == 1


class FailingModule(SimpleNamespace):
    def fail_json_aws(self, error: BaseException, msg: str) -> None:
        raise AssertionError(f"{msg}: {error}")


def test_no_region_fails_with_a_message_as_amazon_aws_does(
    aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    module = FailingModule(params=module_with(aws_env, region=None).params)
    with pytest.raises(
        AssertionError, match="Could not create the rds client: You must specify a region"
    ):
        session_clients(module)("rds")
