"""The shared repository's lifecycle policy never expires an image an environment deploys.

Three environments share one repository (docs/delivery.md): dev deploys each new build, hml a
recent one, prod one released long ago. The policy is the role's own (roles/ecr/defaults), and
tools/emulator/ecr_lifecycle.py evaluates it the way the ECR User Guide documents (moto never
evaluates lifecycle policies); the emulator answers ECR's lifecycle policy preview with it
(moto_patched section 24), so the last test asks the repository itself."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jinja2
import pytest
import yaml

from tests.playbooks.runner import run_playbook
from tools.emulator.ecr_lifecycle import Image, expired, matches

DEFAULTS = Path(__file__).resolve().parents[2] / "roles" / "ecr" / "defaults" / "main.yml"
START = datetime(2026, 1, 1, tzinfo=UTC)


def role_policy(keep_images: int = 30) -> dict[str, Any]:
    """_ecr_lifecycle_policy as the role renders it."""
    defaults = yaml.safe_load(DEFAULTS.read_text())
    values = {
        "ecr_keep_images": keep_images,
        **{k: v for k, v in defaults.items() if k.startswith("_ecr_deployed")},
    }
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined)

    def render(value: Any) -> Any:
        if isinstance(value, str):
            return environment.from_string(value).render(values)
        if isinstance(value, list):
            return [render(item) for item in value]
        if isinstance(value, dict):
            return {key: render(item) for key, item in value.items()}
        return value

    return render(defaults["_ecr_lifecycle_policy"])


def build(number: int, *extra_tags: str) -> Image:
    sha = hashlib.sha1(str(number).encode()).hexdigest()
    digest = "sha256:" + hashlib.sha256(sha.encode()).hexdigest()
    return Image(digest, (sha, *extra_tags), START + timedelta(days=number))


def test_no_image_a_service_runs_expires() -> None:
    builds = 60
    prod, hml, dev = 5, 52, builds
    images = [
        build(
            n,
            *{prod: ["deployed-prod"], hml: ["deployed-hml"], dev: ["latest", "deployed-dev"]}.get(
                n, []
            ),
        )
        for n in range(1, builds + 1)
    ]
    untagged = Image("sha256:" + "0" * 64, (), START + timedelta(days=10))
    now = START + timedelta(days=builds, hours=1)

    gone = expired(role_policy(), [*images, untagged], now)

    running = {images[n - 1].digest for n in (prod, hml, dev)}
    assert running.isdisjoint(gone)
    # The policy still cleans up: builds beyond the newest 30 go, and untagged images.
    assert images[0].digest in gone
    assert untagged.digest in gone
    assert len(gone) == (builds - 30 - 1) + 1  # all but the newest 30 and prod's; the untagged one


def test_a_deployed_tag_protects_whatever_other_tags_the_image_has() -> None:
    policy = role_policy(keep_images=1)
    old = build(1, "deployed-prod", "latest")
    newer = [build(n) for n in range(2, 5)]
    gone = expired(policy, [old, *newer], START + timedelta(days=5))
    assert old.digest not in gone
    assert gone == {image.digest for image in newer[:-1]}


def test_prefix_list_needs_every_prefix_on_some_tag() -> None:
    # ECR User Guide: matched if all of the tags in the tagPrefixList are matched against any of
    # the image's tags.
    selection = {"tagStatus": "tagged", "tagPrefixList": ["deployed-", "v"]}
    assert matches(selection, Image("a", ("v1", "deployed-hml"), START))
    assert not matches(selection, Image("b", ("deployed-hml",), START))
    assert not matches({"tagStatus": "tagged", "tagPrefixList": ["v"]}, Image("c", (), START))


@pytest.fixture
def shared_repository(ecr: Any) -> Iterator[str]:
    """The repository three environments share, named apart from other tests."""
    name = f"test-shared-{uuid.uuid4().hex[:10]}"
    ecr.create_repository(repositoryName=name)
    yield name
    ecr.delete_repository(repositoryName=name, force=True)


def deploy(
    aws_env: dict[str, str], repository: str, env_name: str, image_tag: str, manages: bool
) -> dict[str, Any]:
    """One environment's app layer, ecr role only (tests/playbooks/ecr_deployed_tag.yml):
    returns the deployed-tag task's result."""
    run = run_playbook(
        "tests/playbooks/ecr_deployed_tag.yml",
        "local",
        "-e",
        json.dumps(
            {
                "env_name": env_name,
                "app_repository_name": repository,
                "app_manage_repository": manages,
                "app_build_on_deploy": False,
                "app_keep_images": 3,
                "image_tag": image_tag,
            }
        ),
        endpoint=aws_env["AWS_ENDPOINT_URL"],
        json_output=True,
    )
    assert run.returncode == 0, run.output
    tasks = run.json_result()["plays"][0]["tasks"]
    return next(
        task["hosts"]["localhost"]
        for task in tasks
        if task["task"]["name"].endswith(
            "Point this environment's deployed tag at the image it deploys"
        )
    )


def test_three_environments_deployed_images_survive_the_lifecycle_policy(
    aws_env: dict[str, str],
    run_module: Callable[..., dict[str, Any]],
    ecr: Any,
    shared_repository: str,
    make_oci_layout: Callable[..., Any],
) -> None:
    # Six builds, oldest first; prod runs the first, hml the fourth, dev the newest.
    digests = {}
    for n in range(1, 7):
        layout = make_oci_layout(f"b{n}", [{"app/build": f"{n}\n".encode()}])
        pushed = run_module(
            "ecr_image",
            {"repository": shared_repository, "path": str(layout.path), "tag": f"sha-{n}"},
        )
        digests[n] = pushed["digest"]
    deployed = {"dev": 6, "hml": 4, "prod": 1}

    for env_name, build in deployed.items():
        result = deploy(aws_env, shared_repository, env_name, f"sha-{build}", env_name == "dev")
        assert result["changed"] is True, result
        assert result["digest"] == digests[build]
    again = deploy(aws_env, shared_repository, "prod", "sha-1", manages=False)

    assert again["changed"] is False, again
    ecr.start_lifecycle_policy_preview(repositoryName=shared_repository)  # the role's policy
    preview = ecr.get_lifecycle_policy_preview(repositoryName=shared_repository)
    assert preview["status"] == "COMPLETE"
    expiring = {result["imageDigest"]: result for result in preview["previewResults"]}
    # Keep the newest 3 (builds 4 to 6): builds 2 and 3 expire, build 1 is prod's and stays.
    assert set(expiring) == {digests[2], digests[3]}
    assert {result["appliedRulePriority"] for result in expiring.values()} == {3}
    for env_name, build in deployed.items():
        tagged = ecr.batch_get_image(
            repositoryName=shared_repository, imageIds=[{"imageTag": f"deployed-{env_name}"}]
        )["images"]
        assert tagged[0]["imageId"]["imageDigest"] == digests[build]
