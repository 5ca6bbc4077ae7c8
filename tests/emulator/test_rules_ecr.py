"""ECR lifecycle policy preview as AWS answers it (moto_patched section 24); fails on plain moto,
which has neither StartLifecyclePolicyPreview nor GetLifecyclePolicyPreview."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

Aws = Callable[[str], Any]
KEEP_DEPLOYED_THEN_NEWEST_ONE = {
    "rules": [
        {
            "rulePriority": 1,
            "description": "keep deployed images",
            "selection": {
                "tagStatus": "tagged",
                "tagPrefixList": ["deployed-"],
                "countType": "imageCountMoreThan",
                "countNumber": 9999,
            },
            "action": {"type": "expire"},
        },
        {
            "rulePriority": 2,
            "description": "keep the newest image",
            "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 1},
            "action": {"type": "expire"},
        },
    ]
}


def manifest(build: int) -> str:
    layer = "sha256:" + hashlib.sha256(f"layer {build}".encode()).hexdigest()
    config = "sha256:" + hashlib.sha256(f"config {build}".encode()).hexdigest()
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": config,
                "size": 10,
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": layer,
                    "size": 10,
                }
            ],
        }
    )


@pytest.fixture
def builds(aws: Aws, unique: str) -> Iterator[tuple[str, list[str]]]:
    """A repository with four builds, oldest first, the first one also tagged deployed-prod:
    (repository, digests)."""
    ecr, name = aws("ecr"), f"rules-ecr-{unique}"
    ecr.create_repository(repositoryName=name)
    digests = [
        ecr.put_image(repositoryName=name, imageManifest=manifest(n), imageTag=f"sha-{n}")["image"][
            "imageId"
        ]["imageDigest"]
        for n in range(1, 5)
    ]
    ecr.put_image(repositoryName=name, imageManifest=manifest(1), imageTag="deployed-prod")
    yield name, digests
    ecr.delete_repository(repositoryName=name, force=True)


def test_preview_answers_the_images_the_stored_policy_expires(
    aws: Aws, builds: tuple[str, list[str]]
) -> None:
    ecr, (name, digests) = aws("ecr"), builds
    policy = json.dumps(KEEP_DEPLOYED_THEN_NEWEST_ONE)
    ecr.put_lifecycle_policy(repositoryName=name, lifecyclePolicyText=policy)

    started = ecr.start_lifecycle_policy_preview(repositoryName=name)
    preview = ecr.get_lifecycle_policy_preview(repositoryName=name)

    assert started["lifecyclePolicyText"] == policy
    assert preview["status"] == "COMPLETE"
    results = {result["imageDigest"]: result for result in preview["previewResults"]}
    # Build 1 is deployed (rule 1 keeps it), build 4 the newest; builds 2 and 3 expire by rule 2.
    assert set(results) == {digests[1], digests[2]}
    assert results[digests[1]]["imageTags"] == ["sha-2"]
    assert results[digests[1]]["action"] == {"type": "EXPIRE"}
    assert results[digests[1]]["appliedRulePriority"] == 2
    assert isinstance(results[digests[1]]["imagePushedAt"], datetime)
    assert preview["summary"]["expiringImageTotalCount"] == 2
    # A preview expires nothing.
    assert len(ecr.describe_images(repositoryName=name)["imageDetails"]) == 4


def test_preview_evaluates_the_policy_in_the_request(
    aws: Aws, builds: tuple[str, list[str]]
) -> None:
    ecr, (name, digests) = aws("ecr"), builds
    policy = {"rules": [dict(KEEP_DEPLOYED_THEN_NEWEST_ONE["rules"][1], rulePriority=1)]}

    ecr.start_lifecycle_policy_preview(repositoryName=name, lifecyclePolicyText=json.dumps(policy))
    preview = ecr.get_lifecycle_policy_preview(repositoryName=name)

    # Without the deployed-tag rule the oldest build (deployed-prod) expires too.
    assert {result["imageDigest"] for result in preview["previewResults"]} == set(digests[:3])
    tags = {tuple(r["imageTags"]) for r in preview["previewResults"]}
    assert ("sha-1", "deployed-prod") in tags


def test_preview_needs_a_policy_and_a_started_preview(
    aws: Aws, builds: tuple[str, list[str]]
) -> None:
    ecr, (name, _) = aws("ecr"), builds

    with pytest.raises(ClientError) as not_started:
        ecr.get_lifecycle_policy_preview(repositoryName=name)
    with pytest.raises(ClientError) as no_policy:
        ecr.start_lifecycle_policy_preview(repositoryName=name)

    assert not_started.value.response["Error"]["Code"] == "LifecyclePolicyPreviewNotFoundException"
    assert no_policy.value.response["Error"]["Code"] == "LifecyclePolicyNotFoundException"
