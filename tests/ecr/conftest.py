"""Fixtures for the ECR tests: module runner, moto-backed client and hand-built images."""

from __future__ import annotations

import atexit
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import boto3
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
AWS_VARS = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def _collection_root() -> Path:
    """A directory where ``ansible_collections.django_ecs.aws`` resolves to this checkout.

    The checkout's own ``collections/ansible_collections/django_ecs/aws`` symlink is used when
    present; otherwise a throwaway one is made, so the tests run without the rest of the tree.
    """
    own = REPO_ROOT / "collections"
    if (own / "ansible_collections" / "django_ecs" / "aws").resolve() == REPO_ROOT:
        return own
    root = Path(tempfile.mkdtemp(prefix="django_ecs_collection_"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    (root / "ansible_collections" / "django_ecs").mkdir(parents=True)
    (root / "ansible_collections" / "django_ecs" / "aws").symlink_to(REPO_ROOT)
    return root


# At import time, so test modules can import the collection's module_utils at their top.
COLLECTION_ROOT = _collection_root()
if str(COLLECTION_ROOT) not in sys.path:
    sys.path.insert(0, str(COLLECTION_ROOT))


@pytest.fixture(scope="session")
def collection_path() -> Path:
    return COLLECTION_ROOT


@pytest.fixture(scope="session")
def aws_env() -> dict[str, str]:
    missing = [name for name in AWS_VARS if not os.environ.get(name)]
    if missing:
        pytest.skip(f"emulator not configured: {', '.join(missing)} unset (run scripts/test)")
    host = urlparse(os.environ["AWS_ENDPOINT_URL"]).hostname
    if host not in LOOPBACK:
        pytest.fail(f"AWS_ENDPOINT_URL must be a loopback emulator, got {host}")
    return {name: os.environ[name] for name in AWS_VARS}


@pytest.fixture(scope="session")
def run_module(collection_path: Path, aws_env: dict[str, str]) -> Callable[..., dict[str, Any]]:
    """Run one of our modules as Ansible would (JSON args on stdin), return its JSON result."""

    def run(name: str, args: dict[str, Any], check_mode: bool = False) -> dict[str, Any]:
        module_args = dict(args, _ansible_check_mode=check_mode)
        env = dict(os.environ, PYTHONPATH=str(collection_path), **aws_env)
        completed = subprocess.run(
            [sys.executable, "-m", f"ansible_collections.django_ecs.aws.plugins.modules.{name}"],
            input=json.dumps({"ANSIBLE_MODULE_ARGS": module_args}),
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
        try:
            return json.loads(completed.stdout)
        except ValueError:
            pytest.fail(f"module {name} printed no JSON:\n{completed.stdout}\n{completed.stderr}")

    return run


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
