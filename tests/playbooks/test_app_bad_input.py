"""App-layer bad input fails before any AWS call, naming the variable and the expected form.

The endpoint is a dead loopback port (see runner.py): any AWS call would print
"Could not connect to the endpoint URL".
"""

from __future__ import annotations

import json

import pytest

from tests.playbooks.runner import run_playbook

CERT_UUID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"


def assert_app_fails_before_aws(
    extra_vars: list[str], *expected: str, inventory: str = "local"
) -> None:
    args = [arg for pair in (("-e", value) for value in extra_vars) for arg in pair]
    run_playbook("playbooks/app.yml", inventory, *args).assert_failed_before_aws(*expected)


@pytest.mark.parametrize(("cpu", "memory"), [(256, 4096), (512, 512), (300, 1024), (4096, 4096)])
def test_cpu_and_memory_must_be_a_fargate_pair(cpu: int, memory: int) -> None:
    assert_app_fails_before_aws(
        [f"app_task_cpu={cpu}", f"app_task_memory={memory}"],
        f"app_task_cpu={cpu} / app_task_memory={memory} is not a valid Fargate pair",
    )


def test_min_count_above_max_count() -> None:
    assert_app_fails_before_aws(
        ["app_min_count=5", "app_max_count=2", "app_desired_count=3"],
        "app_min_count <= app_desired_count <= app_max_count",
        "app_min_count=5",
    )


@pytest.mark.parametrize("desired", [0, 9])
def test_desired_count_outside_min_and_max(desired: int) -> None:
    assert_app_fails_before_aws(
        [f"app_desired_count={desired}", "app_min_count=1", "app_max_count=5"],
        f"app_desired_count={desired}",
    )


@pytest.mark.parametrize(
    "arn",
    [
        "banana",
        f"arn:aws:iam::123456789012:server-certificate/{CERT_UUID}",
        f"arn:aws:acm:us-east-1:12345:certificate/{CERT_UUID}",
    ],
)
def test_certificate_arn_of_the_wrong_form(arn: str) -> None:
    assert_app_fails_before_aws(
        [f"app_certificate_arn={arn}"], "app_certificate_arn must be empty (HTTP only) or the ARN"
    )


def test_certificate_of_another_region() -> None:
    arn = f"arn:aws:acm:eu-west-1:123456789012:certificate/{CERT_UUID}"
    assert_app_fails_before_aws(
        [f"app_certificate_arn={arn}"], "an ACM certificate in us-east-1", arn
    )


def test_second_environment_managing_the_shared_repository() -> None:
    assert_app_fails_before_aws(
        ["app_manage_repository=true", "aws_endpoint_required=true"],
        "more than one environment would manage it",
        "managed by 'hml'",
        inventory="prod",
    )


@pytest.mark.parametrize("tag", ["bad tag", "-leading-dash", "x" * 129, "a/b", "sha:1"])
def test_image_tag_that_is_not_a_valid_tag(tag: str) -> None:
    assert_app_fails_before_aws(
        [json.dumps({"image_tag": tag})], "image_tag must be a valid image tag"
    )


def test_image_playbook_checks_the_tag_too() -> None:
    run = run_playbook("playbooks/image.yml", "local", "-e", json.dumps({"image_tag": "not valid"}))
    run.assert_failed_before_aws("image_tag must be a valid image tag")


@pytest.mark.parametrize("archive", ["build/app-image.tar", "/nonexistent/app-image.tar"])
def test_image_archive_must_be_an_existing_absolute_path(archive: str) -> None:
    run = run_playbook("playbooks/image.yml", "local", "-e", f"image_archive={archive}")
    run.assert_failed_before_aws(
        "image_archive must be the absolute path of an existing", f"got '{archive}'"
    )
