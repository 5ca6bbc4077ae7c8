# Copyright: contributors to django_ecs.aws
# Apache License 2.0 (see galaxy.yml)
"""ECR registry side of an image push: planning (pure) and the layer-upload API calls.

The planning functions take plain data so they are unit-tested without AWS; the functions taking
``client`` expect an amazon.aws retrying client (``module.client(..., retry_decorator=...)``).
"""

from __future__ import annotations

import fnmatch
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.django_ecs.aws.plugins.module_utils.ecr_image_source import Blob

# ECR takes parts of 5 MiB (LayerPartTooSmallException below, the last part aside) to 20 MiB;
# BatchCheckLayerAvailability takes 100 digests.
MIN_PART_SIZE = 5 * 1024 * 1024
MAX_PART_SIZE = 20 * 1024 * 1024
CHECK_BATCH = 100
IMMUTABLE = "IMMUTABLE"
IMMUTABLE_WITH_EXCLUSION = "IMMUTABLE_WITH_EXCLUSION"
MUTABLE_WITH_EXCLUSION = "MUTABLE_WITH_EXCLUSION"
ACCEPTED_MANIFEST_TYPES = (
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)


class RegistryError(Exception):
    """A condition the caller must fix (missing tag, immutable conflict, corrupt layer)."""


@dataclass
class PushPlan:
    """What a push has to do: tags to (re)point and blobs to upload."""

    digest: str
    tags_to_put: list[str]
    conflicts: dict[str, str] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(self.tags_to_put)


def wanted_tags(tag: str, additional_tags: Iterable[str]) -> list[str]:
    """The primary tag first, then the others once each, in the order given."""
    return list(dict.fromkeys([tag, *additional_tags]))


def tag_is_immutable(mutability: str, exclusion_filters: list[dict[str, str]], tag: str) -> bool:
    """ECR's rule: the *_WITH_EXCLUSION modes flip the base mode for tags matching a filter."""
    excluded = any(
        f.get("filterType", "WILDCARD") == "WILDCARD" and fnmatch.fnmatchcase(tag, f["filter"])
        for f in exclusion_filters or []
    )
    if mutability == IMMUTABLE:
        return True
    if mutability == IMMUTABLE_WITH_EXCLUSION:
        return not excluded
    if mutability == MUTABLE_WITH_EXCLUSION:
        return excluded
    return False


def plan_push(
    digest: str,
    tags: list[str],
    current: dict[str, str],
    repository: dict[str, Any],
) -> PushPlan:
    """Tags already at ``digest`` are left alone; immutable tags elsewhere are conflicts."""
    mutability = repository.get("imageTagMutability", "MUTABLE")
    filters = repository.get("imageTagMutabilityExclusionFilters") or []
    plan = PushPlan(digest=digest, tags_to_put=[])
    for tag in tags:
        existing = current.get(tag)
        if existing == digest:
            continue
        if existing and tag_is_immutable(mutability, filters, tag):
            plan.conflicts[tag] = existing
        else:
            plan.tags_to_put.append(tag)
    return plan


def conflict_message(repository: str, conflicts: dict[str, str], digest: str) -> str:
    listed = ", ".join(f"{tag} -> {old}" for tag, old in sorted(conflicts.items()))
    return (
        f"tag(s) immutable in repository {repository} already point at another image "
        f"({listed}); refusing to repoint them to {digest}. Push under a new tag."
    )


def part_ranges(size: int, part_size: int) -> list[tuple[int, int]]:
    """Inclusive byte ranges, as UploadLayerPart's partFirstByte/partLastByte expect."""
    if part_size <= 0:
        raise ValueError("part_size must be positive")
    return [(start, min(start + part_size, size) - 1) for start in range(0, size, part_size)]


def missing_digests(check_response_pages: Iterable[dict[str, Any]]) -> set[str]:
    """Digests BatchCheckLayerAvailability did not report as AVAILABLE."""
    missing: set[str] = set()
    for page in check_response_pages:
        for layer in page.get("layers", []):
            if layer.get("layerAvailability") != "AVAILABLE":
                missing.add(layer["layerDigest"])
        for failure in page.get("failures", []):
            if failure.get("failureCode") == "InvalidLayerDigest":
                raise RegistryError(f"ECR rejects layer digest {failure.get('layerDigest')}")
            missing.add(failure["layerDigest"])
    return missing


def _repo_args(repository: str, registry_id: str | None) -> dict[str, str]:
    args = {"repositoryName": repository}
    if registry_id:
        args["registryId"] = registry_id
    return args


def repository_uri(account: str, region: str, repository: str) -> str:
    """The URI ECR gives a repository (amazonaws.com.cn in the China regions)."""
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"{account}.dkr.ecr.{region}.{suffix}/{repository}"


def describe_repository(client: Any, repository: str, registry_id: str | None) -> dict[str, Any]:
    response = client.describe_repositories(
        repositoryNames=[repository],
        **({"registryId": registry_id} if registry_id else {}),
        aws_retry=True,
    )
    return response["repositories"][0]


def get_image_by_tag(
    client: Any, repository: str, registry_id: str | None, tag: str
) -> dict[str, Any] | None:
    """The image (imageId, imageManifest, imageManifestMediaType) a tag points at, or None.

    One tag per call: a response for several tags identifies images, not which tag matched.
    """
    return _get_image(client, repository, registry_id, {"imageTag": tag})


def get_image_by_digest(
    client: Any, repository: str, registry_id: str | None, digest: str
) -> dict[str, Any] | None:
    """The image with this manifest digest, or None."""
    return _get_image(client, repository, registry_id, {"imageDigest": digest})


def _get_image(
    client: Any, repository: str, registry_id: str | None, image_id: dict[str, str]
) -> dict[str, Any] | None:
    response = client.batch_get_image(
        imageIds=[image_id],
        acceptedMediaTypes=list(ACCEPTED_MANIFEST_TYPES),
        **_repo_args(repository, registry_id),
        aws_retry=True,
    )
    images = response.get("images") or []
    return images[0] if images else None


def current_tag_digests(
    client: Any, repository: str, registry_id: str | None, tags: list[str]
) -> dict[str, str]:
    digests: dict[str, str] = {}
    for tag in tags:
        image = get_image_by_tag(client, repository, registry_id, tag)
        if image:
            digests[tag] = image["imageId"]["imageDigest"]
    return digests


def check_missing_blobs(
    client: Any, repository: str, registry_id: str | None, digests: list[str]
) -> set[str]:
    pages = [
        client.batch_check_layer_availability(
            layerDigests=digests[start : start + CHECK_BATCH],
            **_repo_args(repository, registry_id),
            aws_retry=True,
        )
        for start in range(0, len(digests), CHECK_BATCH)
    ]
    return missing_digests(pages)


def upload_blob(
    client: Any, repository: str, registry_id: str | None, blob: Blob, part_size: int
) -> None:
    """Stream one blob in parts, hashing as it goes so a corrupt local file never completes."""
    repo_args = _repo_args(repository, registry_id)
    started = client.initiate_layer_upload(**repo_args, aws_retry=True)
    upload_id = started["uploadId"]
    size = part_size or min(int(started.get("partSize") or MAX_PART_SIZE), MAX_PART_SIZE)
    hasher = hashlib.sha256()
    with blob.open() as handle:
        for first, last in part_ranges(blob.size, size):
            chunk = handle.read(last - first + 1)
            if len(chunk) != last - first + 1:
                raise RegistryError(f"blob {blob.digest} is shorter than its {blob.size} bytes")
            hasher.update(chunk)
            client.upload_layer_part(
                uploadId=upload_id,
                partFirstByte=first,
                partLastByte=last,
                layerPartBlob=chunk,
                **repo_args,
                aws_retry=True,
            )
    if "sha256:" + hasher.hexdigest() != blob.digest:
        raise RegistryError(f"local blob {blob.digest} does not match its digest: layout corrupt")
    try:
        client.complete_layer_upload(
            uploadId=upload_id, layerDigests=[blob.digest], **repo_args, aws_retry=True
        )
    except is_boto3_error_code("LayerAlreadyExistsException"):
        pass  # a concurrent push completed the same layer first: the registry has it


def valid_part_size(part_size: int) -> bool:
    """0 lets ECR choose; otherwise within the limits ECR enforces."""
    return part_size == 0 or MIN_PART_SIZE <= part_size <= MAX_PART_SIZE


def put_image(
    client: Any,
    repository: str,
    registry_id: str | None,
    *,
    manifest: str,
    media_type: str,
    digest: str,
    tag: str,
) -> dict[str, Any]:
    """Passing imageDigest makes ECR verify the digest we report is the one it stores."""
    return client.put_image(
        imageManifest=manifest,
        imageManifestMediaType=media_type,
        imageDigest=digest,
        imageTag=tag,
        **_repo_args(repository, registry_id),
        aws_retry=True,
    )["image"]


def exclusion_filters(patterns: Iterable[str]) -> list[dict[str, str]]:
    """ECR's filter objects for wildcard patterns (the only filter type ECR has)."""
    return [{"filterType": "WILDCARD", "filter": pattern} for pattern in patterns]


def plan_tag_mutability(
    repository: dict[str, Any], mutability: str, patterns: list[str]
) -> dict[str, Any] | None:
    """PutImageTagMutability arguments, or None when the repository already matches.

    Filters compare as a set: ECR does not promise to return them in the order they were set.
    """
    current_filters = {
        (f.get("filterType", "WILDCARD"), f.get("filter"))
        for f in repository.get("imageTagMutabilityExclusionFilters") or []
    }
    wanted_filters = {("WILDCARD", p) for p in patterns}
    if repository.get("imageTagMutability") == mutability and current_filters == wanted_filters:
        return None
    args: dict[str, Any] = {"imageTagMutability": mutability}
    if patterns:
        args["imageTagMutabilityExclusionFilters"] = exclusion_filters(sorted(set(patterns)))
    return args
