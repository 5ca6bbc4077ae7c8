"""django_ecs.aws.ecr_image against the ECR emulator, with images built by hand on disk."""

from __future__ import annotations

import json
import os
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
from ansible_collections.django_ecs.aws.plugins.module_utils import ecr_registry as registry
from ansible_collections.django_ecs.aws.plugins.module_utils.ecr_image_source import (
    load_image_source,
)


class RecordingClient:
    """Forwards every call to the real (emulator) client and records its name and ranges."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self.client, name)

        def call(**kwargs: Any) -> Any:
            kwargs.pop("aws_retry", None)  # what the amazon.aws retrying wrapper would consume
            self.calls.append((name, {k: v for k, v in kwargs.items() if k != "layerPartBlob"}))
            return method(**kwargs)

        return call


BASE = {"usr/lib/python3/site.py": b"# base layer\n" * 400}
APP_V1 = {"app/manage.py": b"print('v1')\n"}
APP_V2 = {"app/manage.py": b"print('v2')\n"}
Run = Callable[..., dict[str, Any]]


def tag_digest(ecr: Any, repository: str, tag: str) -> str | None:
    images = ecr.batch_get_image(repositoryName=repository, imageIds=[{"imageTag": tag}])["images"]
    return images[0]["imageId"]["imageDigest"] if images else None


def available(ecr: Any, repository: str, digests: list[str]) -> set[str]:
    response = ecr.batch_check_layer_availability(repositoryName=repository, layerDigests=digests)
    return {
        layer["layerDigest"]
        for layer in response["layers"]
        if layer["layerAvailability"] == "AVAILABLE"
    }


def push(run_module: Run, repository: str, path: Path, tag: str, **extra: Any) -> dict[str, Any]:
    return run_module(
        "ecr_image", {"repository": repository, "path": str(path), "tag": tag, **extra}
    )


def test_first_push_uploads_every_blob_under_the_real_digest(
    run_module: Run, ecr: Any, repository: str, make_oci_layout: Callable[..., Any]
) -> None:
    image = make_oci_layout("v1", [BASE, APP_V1])

    result = push(run_module, repository, image.path, "sha-1", additional_tags=["latest"])

    assert result["changed"] is True, result
    assert result["digest"] == image.digest
    assert sorted(result["uploaded_layers"]) == sorted(image.blob_digests)
    assert result["skipped_layers"] == []
    assert result["tags_updated"] == ["sha-1", "latest"]
    assert result["image_uri"].endswith(f"/{repository}@{image.digest}")
    assert tag_digest(ecr, repository, "sha-1") == image.digest
    assert tag_digest(ecr, repository, "latest") == image.digest
    stored = ecr.batch_get_image(repositoryName=repository, imageIds=[{"imageTag": "sha-1"}])
    assert stored["images"][0]["imageManifest"].encode() == image.manifest
    assert available(ecr, repository, image.blob_digests) == set(image.blob_digests)


def test_second_push_of_the_same_image_changes_nothing(
    run_module: Run, repository: str, make_oci_layout: Callable[..., Any]
) -> None:
    image = make_oci_layout("v1", [BASE, APP_V1])
    push(run_module, repository, image.path, "sha-1", additional_tags=["latest"])

    again = push(run_module, repository, image.path, "sha-1", additional_tags=["latest"])

    assert again["changed"] is False, again
    assert again["uploaded_layers"] == []
    assert again["tags_updated"] == []
    assert again["bytes_uploaded"] == 0
    assert again["digest"] == image.digest


def test_new_version_uploads_only_the_layers_ecr_lacks(
    run_module: Run, ecr: Any, repository: str, make_oci_layout: Callable[..., Any]
) -> None:
    v1 = make_oci_layout("v1", [BASE, APP_V1])
    v2 = make_oci_layout("v2", [BASE, APP_V2])
    push(run_module, repository, v1.path, "sha-1", additional_tags=["latest"])

    result = push(run_module, repository, v2.path, "sha-2", additional_tags=["latest"])

    base_layer = v1.layer_digests[0]
    assert v2.layer_digests[0] == base_layer
    assert sorted(result["uploaded_layers"]) == sorted([v2.config_digest, v2.layer_digests[1]])
    assert result["skipped_layers"] == [base_layer]
    assert result["bytes_uploaded"] == v2.layer_sizes[1] + len(
        (v2.path / "blobs/sha256" / v2.config_digest.split(":")[1]).read_bytes()
    )
    assert tag_digest(ecr, repository, "latest") == v2.digest
    assert tag_digest(ecr, repository, "sha-1") == v1.digest


def test_source_tag_republishes_an_existing_image_without_local_files(
    run_module: Run, ecr: Any, repository: str, make_oci_layout: Callable[..., Any]
) -> None:
    v1 = make_oci_layout("v1", [BASE, APP_V1])
    v2 = make_oci_layout("v2", [BASE, APP_V2])
    push(run_module, repository, v1.path, "sha-1")
    push(run_module, repository, v2.path, "sha-2", additional_tags=["latest"])

    args = {"repository": repository, "source_tag": "sha-1", "tag": "latest"}
    rollback = run_module("ecr_image", args)
    again = run_module("ecr_image", args)

    assert rollback["changed"] is True, rollback
    assert rollback["digest"] == v1.digest
    assert rollback["uploaded_layers"] == []
    assert tag_digest(ecr, repository, "latest") == v1.digest
    assert again["changed"] is False


def test_missing_source_tag_fails_cleanly(run_module: Run, repository: str) -> None:
    result = run_module("ecr_image", {"repository": repository, "source_tag": "nope", "tag": "x"})

    assert result.get("failed") is True
    assert "source tag nope not found" in result["msg"]


def test_source_digest_tags_that_image_even_after_its_tag_moved(
    run_module: Run, ecr: Any, repository: str, make_oci_layout: Callable[..., Any]
) -> None:
    v1 = make_oci_layout("v1", [BASE, APP_V1])
    v2 = make_oci_layout("v2", [BASE, APP_V2])
    push(run_module, repository, v1.path, "sha-1", additional_tags=["latest"])
    push(run_module, repository, v2.path, "sha-2", additional_tags=["latest"])  # latest moved

    args = {"repository": repository, "source_digest": v1.digest, "tag": "deployed-prod"}
    planned = run_module("ecr_image", args, check_mode=True)
    tagged = run_module("ecr_image", args)
    again = run_module("ecr_image", args)

    assert planned["changed"] is True, planned
    assert planned["tags_updated"] == ["deployed-prod"]
    assert tagged["changed"] is True, tagged
    assert tagged["digest"] == v1.digest
    assert tagged["uploaded_layers"] == []
    assert tag_digest(ecr, repository, "deployed-prod") == v1.digest
    assert again["changed"] is False, again


def test_check_mode_source_digest_changes_nothing(
    run_module: Run, ecr: Any, repository: str, make_oci_layout: Callable[..., Any]
) -> None:
    v1 = make_oci_layout("v1", [BASE, APP_V1])
    push(run_module, repository, v1.path, "sha-1")

    args = {"repository": repository, "source_digest": v1.digest, "tag": "deployed-dev"}
    planned = run_module("ecr_image", args, check_mode=True)

    assert planned["changed"] is True, planned
    assert tag_digest(ecr, repository, "deployed-dev") is None


def test_missing_source_digest_fails_cleanly(run_module: Run, repository: str) -> None:
    digest = "sha256:" + "0" * 64
    args = {"repository": repository, "source_digest": digest, "tag": "x"}

    result = run_module("ecr_image", args)

    assert result.get("failed") is True
    assert f"source digest {digest} not found" in result["msg"]


def test_check_mode_reports_the_plan_and_uploads_nothing(
    run_module: Run, ecr: Any, repository: str, make_oci_layout: Callable[..., Any]
) -> None:
    image = make_oci_layout("v1", [BASE, APP_V1])

    planned = run_module(
        "ecr_image",
        {"repository": repository, "path": str(image.path), "tag": "sha-1"},
        check_mode=True,
    )

    assert planned["changed"] is True
    assert sorted(planned["uploaded_layers"]) == sorted(image.blob_digests)
    assert tag_digest(ecr, repository, "sha-1") is None
    assert available(ecr, repository, image.blob_digests) == set()


def test_immutable_tag_pointing_elsewhere_fails_before_any_upload(
    run_module: Run, ecr: Any, repository: str, make_oci_layout: Callable[..., Any]
) -> None:
    ecr.put_image_tag_mutability(repositoryName=repository, imageTagMutability="IMMUTABLE")
    v1 = make_oci_layout("v1", [BASE, APP_V1])
    v2 = make_oci_layout("v2", [BASE, APP_V2])
    push(run_module, repository, v1.path, "release")

    result = push(run_module, repository, v2.path, "release")

    assert result.get("failed") is True
    assert "immutable" in result["msg"] and v1.digest in result["msg"]
    assert available(ecr, repository, [v2.layer_digests[1]]) == set()
    assert tag_digest(ecr, repository, "release") == v1.digest


def test_exclusion_keeps_latest_mutable_while_sha_tags_are_immutable(
    run_module: Run, ecr: Any, repository: str, make_oci_layout: Callable[..., Any]
) -> None:
    settings_args = {
        "name": repository,
        "image_tag_mutability": "IMMUTABLE_WITH_EXCLUSION",
        "mutability_exclusion_filters": ["latest"],
    }
    settings = run_module("ecr_repository", settings_args)
    settings_again = run_module("ecr_repository", settings_args)
    assert settings["changed"] is True and "mutability" in settings["changes"], settings
    assert settings_again["changed"] is False, settings_again
    filters = settings_again["repository"]["imageTagMutabilityExclusionFilters"]
    assert [f["filter"] for f in filters] == ["latest"]
    v1 = make_oci_layout("v1", [BASE, APP_V1])
    v2 = make_oci_layout("v2", [BASE, APP_V2])
    push(run_module, repository, v1.path, "sha-1", additional_tags=["latest"])

    moved = push(run_module, repository, v2.path, "sha-2", additional_tags=["latest"])
    blocked = push(run_module, repository, v2.path, "sha-1")

    assert moved["changed"] is True, moved
    assert tag_digest(ecr, repository, "latest") == v2.digest
    assert blocked.get("failed") is True
    assert tag_digest(ecr, repository, "sha-1") == v1.digest


def test_small_parts_reassemble_into_the_same_layer(
    run_module: Run, ecr: Any, repository: str, make_oci_layout: Callable[..., Any]
) -> None:
    part_size = 5 * 1024 * 1024  # the smallest part ECR accepts
    big = {"app/blob.bin": os.urandom(2 * part_size + 1000)}
    image = make_oci_layout("big", [big])

    result = push(run_module, repository, image.path, "sha-big", part_size=part_size)

    assert result["changed"] is True, result
    assert image.layer_sizes[0] > 2 * part_size  # three parts, the last one short
    assert available(ecr, repository, image.blob_digests) == set(image.blob_digests)
    assert tag_digest(ecr, repository, "sha-big") == image.digest


def test_oci_layout_as_tar_archive_is_published(
    run_module: Run, ecr: Any, repository: str, make_oci_layout: Callable[..., Any], tmp_path: Path
) -> None:
    image = make_oci_layout("v1", [BASE, APP_V1])
    archive = tmp_path / "image.oci.tar"
    with tarfile.open(archive, "w") as tar:
        for entry in sorted(image.path.rglob("*")):
            tar.add(entry, arcname=entry.relative_to(image.path).as_posix(), recursive=False)

    result = push(run_module, repository, archive, "sha-1")

    assert result["changed"] is True, result
    assert result["digest"] == image.digest
    assert tag_digest(ecr, repository, "sha-1") == image.digest


def test_docker_save_archive_is_published_and_republish_is_a_no_op(
    run_module: Run, ecr: Any, repository: str, make_docker_save: Callable[..., Any]
) -> None:
    archive, diff_ids = make_docker_save("app.tar", [BASE, APP_V1], "django-app:sha-1")

    first = push(run_module, repository, archive, "sha-1", source_ref="sha-1")
    second = push(run_module, repository, archive, "sha-1")

    assert first["changed"] is True, first
    assert set(diff_ids) <= set(first["uploaded_layers"])
    assert available(ecr, repository, diff_ids) == set(diff_ids)
    stored = ecr.batch_get_image(repositoryName=repository, imageIds=[{"imageTag": "sha-1"}])
    manifest = json.loads(stored["images"][0]["imageManifest"])
    assert [layer["digest"] for layer in manifest["layers"]] == diff_ids
    assert tag_digest(ecr, repository, "sha-1") == first["digest"]
    assert second["changed"] is False and second["digest"] == first["digest"]


def test_layout_with_a_missing_blob_fails_with_the_blob_named(
    run_module: Run, repository: str, make_oci_layout: Callable[..., Any]
) -> None:
    image = make_oci_layout("v1", [BASE, APP_V1])
    (image.path / "blobs/sha256" / image.layer_digests[1].split(":")[1]).unlink()

    result = push(run_module, repository, image.path, "sha-1")

    assert result.get("failed") is True
    assert image.layer_digests[1] in result["msg"] and "missing" in result["msg"]


def test_unknown_repository_fails_cleanly(
    run_module: Run, make_oci_layout: Callable[..., Any]
) -> None:
    image = make_oci_layout("v1", [APP_V1])

    result = push(run_module, "no-such-repository", image.path, "sha-1")

    assert result.get("failed") is True
    assert "no-such-repository not found" in result["msg"]


def test_check_mode_plans_the_push_into_a_repository_still_to_be_created(
    run_module: Run, ecr: Any, aws_env: dict[str, str], make_oci_layout: Callable[..., Any]
) -> None:
    image = make_oci_layout("v1", [BASE, APP_V1])
    sts = boto3.client(
        "sts", endpoint_url=aws_env["AWS_ENDPOINT_URL"], region_name=aws_env["AWS_DEFAULT_REGION"]
    )
    account = sts.get_caller_identity()["Account"]
    region = aws_env["AWS_DEFAULT_REGION"]

    planned = run_module(
        "ecr_image",
        {"repository": "created-by-this-run", "path": str(image.path), "tag": "sha-1"},
        check_mode=True,
    )

    assert planned["changed"] is True and planned["repository_exists"] is False
    assert sorted(planned["uploaded_layers"]) == sorted(image.blob_digests)
    assert planned["image_uri"] == (
        f"{account}.dkr.ecr.{region}.amazonaws.com/created-by-this-run@{image.digest}"
    )
    names = [r["repositoryName"] for r in ecr.describe_repositories()["repositories"]]
    assert "created-by-this-run" not in names


def test_layer_corrupted_on_disk_is_never_completed_in_ecr(
    run_module: Run, ecr: Any, repository: str, make_oci_layout: Callable[..., Any]
) -> None:
    image = make_oci_layout("v1", [BASE, APP_V1])
    layer_file = image.path / "blobs/sha256" / image.layer_digests[0].split(":")[1]
    layer_file.write_bytes(bytes(len(layer_file.read_bytes())))  # same size, other bytes

    result = push(run_module, repository, image.path, "sha-1")

    assert result.get("failed") is True
    assert "does not match its digest" in result["msg"]
    assert image.layer_digests[0] not in available(ecr, repository, image.layer_digests)
    assert tag_digest(ecr, repository, "sha-1") is None


def test_part_size_below_what_ecr_accepts_is_refused(
    run_module: Run, repository: str, make_oci_layout: Callable[..., Any]
) -> None:
    image = make_oci_layout("v1", [APP_V1])

    result = push(run_module, repository, image.path, "sha-1", part_size=4096)

    assert result.get("failed") is True
    assert "part_size" in result["msg"]


def test_blob_upload_sends_contiguous_parts_then_completes_once(
    ecr: Any, repository: str, make_oci_layout: Callable[..., Any]
) -> None:
    part_size = registry.MIN_PART_SIZE
    image = make_oci_layout("big", [{"app/blob.bin": os.urandom(2 * part_size + 1000)}])
    layer = load_image_source(str(image.path)).layers[0]
    client = RecordingClient(ecr)

    registry.upload_blob(client, repository, None, layer, part_size)

    names = [name for name, _ in client.calls]
    assert names == [
        "initiate_layer_upload",
        "upload_layer_part",
        "upload_layer_part",
        "upload_layer_part",
        "complete_layer_upload",
    ]
    ranges = [(c["partFirstByte"], c["partLastByte"]) for n, c in client.calls if "part" in n]
    assert ranges == registry.part_ranges(layer.size, part_size)
    assert ranges[-1][1] == layer.size - 1
    assert available(ecr, repository, [layer.digest]) == {layer.digest}
