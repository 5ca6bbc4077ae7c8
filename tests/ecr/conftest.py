"""Fixtures for the ECR tests: module runner, moto-backed client and hand-built images."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest


@pytest.fixture(scope="session")
def ecr(aws_env: dict[str, str]) -> Any:
    return boto3.client(
        "ecr", endpoint_url=aws_env["AWS_ENDPOINT_URL"], region_name=aws_env["AWS_DEFAULT_REGION"]
    )


@pytest.fixture
def repository(ecr: Any) -> Iterator[str]:
    """A fresh repository per test: tests can run in parallel against one emulator."""
    name = f"test-app-{uuid.uuid4().hex[:10]}"
    ecr.create_repository(repositoryName=name)
    yield name
    ecr.delete_repository(repositoryName=name, force=True)


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def layer_tar(files: dict[str, bytes]) -> bytes:
    """A reproducible uncompressed layer tar (fixed mtime/owner) holding ``files``."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, content in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(content), 0, 0o644
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


@dataclass
class BuiltImage:
    path: Path
    manifest: bytes
    digest: str
    config_digest: str
    layer_digests: list[str]
    layer_sizes: list[int]

    @property
    def blob_digests(self) -> list[str]:
        return [self.config_digest, *self.layer_digests]


def _write_blob(blobs_dir: Path, data: bytes) -> str:
    digest = sha256(data)
    (blobs_dir / digest.split(":")[1]).write_bytes(data)
    return digest


def build_oci_layout(
    root: Path, layers: list[dict[str, bytes]], ref: str = "latest", extra_config: str = ""
) -> BuiltImage:
    """Write an OCI image layout by hand: gzip layers, config, manifest, index.json."""
    blobs_dir = root / "blobs" / "sha256"
    blobs_dir.mkdir(parents=True, exist_ok=True)
    raw_layers = [layer_tar(files) for files in layers]
    gz_layers = [gzip.compress(raw, mtime=0) for raw in raw_layers]
    layer_digests = [_write_blob(blobs_dir, blob) for blob in gz_layers]
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Cmd": ["gunicorn"], "Labels": {"build": extra_config}},
        "rootfs": {"type": "layers", "diff_ids": [sha256(raw) for raw in raw_layers]},
    }
    config_bytes = json.dumps(config).encode()
    config_digest = _write_blob(blobs_dir, config_bytes)
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": len(config_bytes),
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": digest,
                "size": len(blob),
            }
            for digest, blob in zip(layer_digests, gz_layers, strict=True)
        ],
    }
    manifest_bytes = json.dumps(manifest, indent=2).encode()
    manifest_digest = _write_blob(blobs_dir, manifest_bytes)
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": manifest_digest,
                "size": len(manifest_bytes),
                "annotations": {"org.opencontainers.image.ref.name": ref},
                "platform": {"os": "linux", "architecture": "amd64"},
            }
        ],
    }
    (root / "index.json").write_text(json.dumps(index))
    (root / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    return BuiltImage(
        root,
        manifest_bytes,
        manifest_digest,
        config_digest,
        layer_digests,
        [len(b) for b in gz_layers],
    )


def build_docker_save(
    archive: Path, layers: list[dict[str, bytes]], repo_tag: str, link_layers: bool = False
) -> list[str]:
    """Write a legacy ``docker save`` archive; returns the diff_ids (its layer digests).

    ``link_layers`` stores each layer once as ``<digest>.tar`` with ``<id>/layer.tar`` a symlink
    to it, the way ``skopeo copy ... docker-archive:`` writes them.
    """
    raw_layers = [layer_tar(files) for files in layers]
    diff_ids = [sha256(raw) for raw in raw_layers]
    config_bytes = json.dumps(
        {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    ).encode()
    config_name = sha256(config_bytes).split(":")[1] + ".json"
    layer_names = [f"{d.split(':')[1]}/layer.tar" for d in diff_ids]
    manifest = [{"Config": config_name, "RepoTags": [repo_tag], "Layers": layer_names}]
    members = {config_name: config_bytes, "manifest.json": json.dumps(manifest).encode()}
    members.update(zip(layer_names, raw_layers, strict=True))
    links: dict[str, str] = {}
    if link_layers:
        for name, digest in zip(layer_names, diff_ids, strict=True):
            stored = digest.split(":")[1] + ".tar"
            members[stored] = members.pop(name)
            links[name] = "../" + stored
    with tarfile.open(archive, "w") as tar:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
        for name, target in links.items():
            link = tarfile.TarInfo(name)
            link.type, link.linkname = tarfile.SYMTYPE, target
            tar.addfile(link)
    return diff_ids


@pytest.fixture
def make_oci_layout(tmp_path: Path) -> Callable[..., BuiltImage]:
    """``make_oci_layout(name, layers, ref=..., extra_config=...)`` under this test's tmp dir."""

    def make(name: str, layers: list[dict[str, bytes]], **kwargs: str) -> BuiltImage:
        return build_oci_layout(tmp_path / name, layers, **kwargs)

    return make


@pytest.fixture
def make_docker_save(tmp_path: Path) -> Callable[..., tuple[Path, list[str]]]:
    def make(
        name: str, layers: list[dict[str, bytes]], repo_tag: str, link_layers: bool = False
    ) -> tuple[Path, list[str]]:
        archive = tmp_path / name
        return archive, build_docker_save(archive, layers, repo_tag, link_layers)

    return make
