"""Pure parts of the ECR modules: image reading and push planning, no AWS involved."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from ansible_collections.django_ecs.aws.plugins.module_utils import ecr_registry as registry
from ansible_collections.django_ecs.aws.plugins.module_utils.ecr_image_source import (
    ImageLayoutError,
    choose_descriptor,
    load_image_source,
)

APP = {"app/manage.py": b"print('hi')\n"}
MUTABLE_REPO: dict[str, Any] = {"imageTagMutability": "MUTABLE"}
SHA_IMMUTABLE_REPO: dict[str, Any] = {
    "imageTagMutability": "IMMUTABLE_WITH_EXCLUSION",
    "imageTagMutabilityExclusionFilters": [{"filterType": "WILDCARD", "filter": "latest"}],
}
D1, D2 = "sha256:" + "1" * 64, "sha256:" + "2" * 64


def test_layout_digest_is_the_hash_of_the_stored_manifest(
    make_oci_layout: Callable[..., Any],
) -> None:
    image = make_oci_layout("v1", [APP])

    source = load_image_source(str(image.path))

    assert source.digest == image.digest
    assert source.manifest == image.manifest
    assert [b.digest for b in source.blobs] == image.blob_digests


def test_corrupt_manifest_is_reported_as_a_digest_mismatch(
    make_oci_layout: Callable[..., Any],
) -> None:
    image = make_oci_layout("v1", [APP])
    (image.path / "blobs/sha256" / image.digest.split(":")[1]).write_bytes(b"{}")

    with pytest.raises(ImageLayoutError, match="does not match its digest"):
        load_image_source(str(image.path))


def test_layer_size_different_from_the_manifest_is_rejected(
    make_oci_layout: Callable[..., Any],
) -> None:
    image = make_oci_layout("v1", [APP])
    (image.path / "blobs/sha256" / image.layer_digests[0].split(":")[1]).write_bytes(b"short")

    with pytest.raises(ImageLayoutError, match="bytes but the manifest says"):
        load_image_source(str(image.path))


def test_directory_without_index_or_manifest_is_not_an_image(tmp_path: Path) -> None:
    with pytest.raises(ImageLayoutError, match="neither an OCI image layout"):
        load_image_source(str(tmp_path))


def test_docker_save_layers_are_the_config_diff_ids(
    make_docker_save: Callable[..., Any],
) -> None:
    archive, diff_ids = make_docker_save("app.tar", [APP], "django-app:sha-1")

    source = load_image_source(str(archive))

    manifest = json.loads(source.manifest)
    assert [layer["digest"] for layer in manifest["layers"]] == diff_ids
    assert source.media_type == "application/vnd.oci.image.manifest.v1+json"
    assert load_image_source(str(archive)).digest == source.digest


def test_symlinked_layers_of_a_skopeo_docker_archive_are_followed(
    make_docker_save: Callable[..., Any],
) -> None:
    archive, diff_ids = make_docker_save("app.tar", [APP], "django-app:v1", link_layers=True)

    source = load_image_source(str(archive))

    assert [layer.digest for layer in source.layers] == diff_ids
    with source.layers[0].open() as handle:
        assert "sha256:" + hashlib.sha256(handle.read()).hexdigest() == diff_ids[0]


def test_ref_and_platform_choose_one_image_of_several() -> None:
    def entry(ref: str, arch: str) -> dict[str, Any]:
        return {
            "digest": f"{ref}-{arch}",
            "annotations": {"org.opencontainers.image.ref.name": ref},
            "platform": {"os": "linux", "architecture": arch},
        }

    entries = [entry("v1", "amd64"), entry("v1", "arm64"), entry("v2", "amd64")]

    assert choose_descriptor(entries, "v1", "linux/arm64")["digest"] == "v1-arm64"
    assert choose_descriptor(entries, "v2", None)["digest"] == "v2-amd64"
    with pytest.raises(ImageLayoutError, match="2 images"):
        choose_descriptor(entries, "v1", None)


def test_attestation_manifests_are_never_chosen() -> None:
    entries = [
        {"digest": "image", "platform": {"os": "linux", "architecture": "amd64"}},
        {"digest": "provenance", "platform": {"os": "unknown", "architecture": "unknown"}},
    ]

    assert choose_descriptor(entries, None, None)["digest"] == "image"


@pytest.mark.parametrize(
    ("mutability", "tag", "immutable"),
    [
        ("MUTABLE", "sha-1", False),
        ("IMMUTABLE", "latest", True),
        ("IMMUTABLE_WITH_EXCLUSION", "latest", False),
        ("IMMUTABLE_WITH_EXCLUSION", "sha-1", True),
        ("MUTABLE_WITH_EXCLUSION", "latest", True),
        ("MUTABLE_WITH_EXCLUSION", "sha-1", False),
    ],
)
def test_tag_mutability_follows_ecr_exclusion_rules(
    mutability: str, tag: str, immutable: bool
) -> None:
    filters = [{"filterType": "WILDCARD", "filter": "lat*"}]

    assert registry.tag_is_immutable(mutability, filters, tag) is immutable


def test_tags_already_at_the_digest_are_not_put_again() -> None:
    plan = registry.plan_push(D1, ["sha-1", "latest"], {"sha-1": D1, "latest": D2}, MUTABLE_REPO)

    assert plan.tags_to_put == ["latest"]
    assert plan.conflicts == {}


def test_immutable_tag_elsewhere_is_a_conflict_but_latest_moves() -> None:
    current = {"sha-1": D2, "latest": D2}

    plan = registry.plan_push(D1, ["sha-1", "latest"], current, SHA_IMMUTABLE_REPO)

    assert plan.conflicts == {"sha-1": D2}
    assert plan.tags_to_put == ["latest"]


def test_part_ranges_cover_every_byte_once() -> None:
    assert registry.part_ranges(10, 4) == [(0, 3), (4, 7), (8, 9)]
    assert registry.part_ranges(8, 4) == [(0, 3), (4, 7)]
    assert registry.part_ranges(0, 4) == []


def test_unavailable_and_missing_layers_are_both_uploaded() -> None:
    pages = [
        {
            "layers": [
                {"layerDigest": D1, "layerAvailability": "AVAILABLE"},
                {"layerDigest": D2, "layerAvailability": "UNAVAILABLE"},
            ],
            "failures": [
                {"layerDigest": "sha256:" + "3" * 64, "failureCode": "MissingLayerDigest"}
            ],
        }
    ]

    assert registry.missing_digests(pages) == {D2, "sha256:" + "3" * 64}


def test_mutability_plan_ignores_filter_order_and_detects_changes() -> None:
    repo = {
        "imageTagMutability": "IMMUTABLE_WITH_EXCLUSION",
        "imageTagMutabilityExclusionFilters": [
            {"filterType": "WILDCARD", "filter": "latest"},
            {"filterType": "WILDCARD", "filter": "main-*"},
        ],
    }

    assert (
        registry.plan_tag_mutability(repo, "IMMUTABLE_WITH_EXCLUSION", ["main-*", "latest"]) is None
    )
    assert registry.plan_tag_mutability(repo, "IMMUTABLE", []) == {
        "imageTagMutability": "IMMUTABLE"
    }
    change = registry.plan_tag_mutability(repo, "IMMUTABLE_WITH_EXCLUSION", ["latest"])
    assert change is not None
    assert change["imageTagMutabilityExclusionFilters"] == [
        {"filterType": "WILDCARD", "filter": "latest"}
    ]


def test_nested_index_resolves_to_the_platform_present_on_disk(
    make_oci_layout: Callable[..., Any],
) -> None:
    image = make_oci_layout("multi", [APP])
    platforms = [("amd64", image.digest), ("arm64", "sha256:" + "9" * 64)]
    nested = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [
                {
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": digest,
                    "size": len(image.manifest),
                    "platform": {"os": "linux", "architecture": arch},
                }
                for arch, digest in platforms
            ],
        }
    ).encode()
    nested_digest = "sha256:" + hashlib.sha256(nested).hexdigest()
    (image.path / "blobs/sha256" / nested_digest.split(":")[1]).write_bytes(nested)
    top = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.index.v1+json",
                "digest": nested_digest,
                "size": len(nested),
                "annotations": {"org.opencontainers.image.ref.name": "sha-1"},
            }
        ],
    }
    (image.path / "index.json").write_text(json.dumps(top))

    assert load_image_source(str(image.path), ref="sha-1").digest == image.digest
    with pytest.raises(ImageLayoutError, match="no image"):
        load_image_source(str(image.path), platform="linux/arm64")
