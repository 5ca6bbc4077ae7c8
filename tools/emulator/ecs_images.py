"""An ECS container's image, read back from the emulated ECR: reference, manifest, config, files.

`ImageRef.parse` reads a container definition's `image` (`<account>.dkr.ecr.<region>.amazonaws
.com/<repository>@sha256:...` or `:<tag>`), `unpack()` lays the image's layers out in a
directory, in order, honouring whiteouts as an overlay filesystem would, and `ImageConfig` is
what the config blob says about how to run it (Entrypoint, Cmd, WorkingDir, Env).

Pure of moto: the caller hands a function giving a manifest's text and a blob store.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import shutil
import tarfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from tools.emulator.ecr_blobs import BlobStore

ECR_IMAGE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/"
    r"(?P<repository>[a-z0-9._/-]+?)(?::(?P<tag>[\w][\w.-]{0,127}))?(?:@(?P<digest>sha256:[0-9a-f]{64}))?$"
)
INDEX_TYPES = {
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
}
WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
PLATFORM = ("linux", "amd64")  # what Fargate runs by default (runtimePlatform X86_64)


class ImageError(Exception):
    """The image cannot be pulled: ECS stops such a task with CannotPullContainerError."""


@dataclass(frozen=True)
class ImageRef:
    account: str
    region: str
    repository: str
    tag: str | None
    digest: str | None

    @classmethod
    def parse(cls, image: str) -> ImageRef:
        match = ECR_IMAGE.match(image)
        if match is None:
            raise ImageError(f"{image}: not an image of this emulator's ECR (no other registry)")
        tag = match["tag"] or (None if match["digest"] else "latest")
        return cls(match["account"], match["region"], match["repository"], tag, match["digest"])


@dataclass(frozen=True)
class ImageConfig:
    """The parts of an image config (its `config` object) that shape a container's process."""

    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    working_dir: str = ""
    env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_blob(cls, blob: bytes) -> ImageConfig:
        config = json.loads(blob).get("config") or {}
        variables = dict(item.split("=", 1) for item in config.get("Env") or [] if "=" in item)
        return cls(
            entrypoint=list(config.get("Entrypoint") or []),
            cmd=list(config.get("Cmd") or []),
            working_dir=str(config.get("WorkingDir") or ""),
            env=variables,
        )


@dataclass(frozen=True)
class Image:
    manifest_digest: str
    config: ImageConfig
    layer_digests: list[str]


ManifestLookup = Callable[[str | None, str | None], tuple[str, str]]


def _choose_platform(index: Mapping[str, Any]) -> str:
    """The digest of the index's linux/amd64 manifest (the only platform emulated)."""
    for entry in index.get("manifests") or []:
        platform = entry.get("platform") or {}
        if (platform.get("os"), platform.get("architecture")) == PLATFORM:
            return str(entry["digest"])
    raise ImageError("image index has no linux/amd64 manifest")


def resolve(ref: ImageRef, lookup: ManifestLookup, blobs: BlobStore) -> Image:
    """The image a reference names: `lookup(tag, digest)` answers (digest, manifest text) from
    the repository, or raises ImageError."""
    digest, text = lookup(ref.tag, ref.digest)
    manifest = json.loads(text)
    if manifest.get("mediaType") in INDEX_TYPES or "manifests" in manifest:
        digest, text = lookup(None, _choose_platform(manifest))
        manifest = json.loads(text)
    if manifest.get("schemaVersion") != 2 or "config" not in manifest:
        raise ImageError(f"unsupported manifest (schema {manifest.get('schemaVersion')})")
    config_digest = manifest["config"]["digest"]
    layers = [layer["digest"] for layer in manifest.get("layers") or []]
    missing = [d for d in [config_digest, *layers] if not blobs.has(d)]
    if missing:
        raise ImageError(f"blobs never pushed to this emulator: {', '.join(missing)}")
    return Image(digest, ImageConfig.from_blob(blobs.read(config_digest)), layers)


def _layer_tar(blob: bytes) -> tarfile.TarFile:
    data = gzip.decompress(blob) if blob[:2] == b"\x1f\x8b" else blob
    # umoci ends a layer right after its last file's bytes (no block padding, no end-of-archive
    # blocks); container runtimes and GNU tar read it anyway, Python's tarfile needs them.
    data += b"\0" * (-len(data) % tarfile.BLOCKSIZE + 2 * tarfile.BLOCKSIZE)
    return tarfile.open(fileobj=io.BytesIO(data), mode="r:")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _inside(root: Path, member_name: str) -> Path | None:
    """Where a member lands under root; None for a name escaping it."""
    relative = PurePosixPath(member_name.lstrip("/"))
    if ".." in relative.parts:
        return None
    return root / relative


def _apply_whiteout(root: Path, member: tarfile.TarInfo) -> bool:
    """Handle `.wh.` entries (deletions of lower layers' files); True if it was one."""
    name = PurePosixPath(member.name)
    if not name.name.startswith(WHITEOUT):
        return False
    directory = _inside(root, str(name.parent))
    if directory is None:
        return True
    if name.name == OPAQUE:  # the directory's lower contents are hidden
        for child in directory.iterdir() if directory.is_dir() else []:
            _remove(child)
    else:
        _remove(directory / name.name[len(WHITEOUT) :])
    return True


def unpack(image: Image, blobs: BlobStore, root: Path) -> None:
    """Extract the layers in order into `root`, as an overlay mount would show them."""
    root.mkdir(parents=True, exist_ok=True)
    for digest in image.layer_digests:
        with _layer_tar(blobs.read(digest)) as layer:
            for member in layer.getmembers():
                if _apply_whiteout(root, member):
                    continue
                target = _inside(root, member.name)
                if target is None or member.isdev():
                    continue  # escaping names and device nodes are never written
                if target.is_symlink() or (target.exists() and not target.is_dir()):
                    target.unlink()  # an upper layer replaces the file
                try:
                    layer.extract(member, root, set_attrs=True, filter="tar")
                except tarfile.FilterError:
                    continue  # a link out of the root: skipped, never followed
