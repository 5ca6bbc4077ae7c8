# Copyright: contributors to django_ecs.aws
# Apache License 2.0 (see galaxy.yml)
"""Read a container image from disk without a Docker daemon.

Two inputs are understood, both what daemon-less builders write:

* an OCI image layout, as a directory (``docker buildx --output type=oci,tar=false``,
  ``buildah push oci:DIR``, ``skopeo copy ... oci:DIR``, ``umoci``) or as a tar archive of one
  (``--output type=oci``, ``docker save`` from Docker 25+, which adds ``index.json``);
* a legacy ``docker save`` archive (``manifest.json`` + ``<id>/layer.tar``), for which an OCI
  manifest is synthesised from the stored config and the uncompressed layers.

Nothing here talks to AWS: the result is an :class:`ImageSource` whose blobs open lazily, so that
the registry code can stream only the layers the registry lacks.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import re
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, Self

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
REF_ANNOTATIONS = ("org.opencontainers.image.ref.name", "io.containerd.image.name")
DIGEST_PATTERN = re.compile(r"^sha256:[0-9a-f]{64}$")


class BlobReader(Protocol):
    """What uploads need from an open blob: sequential reads and a context manager."""

    def read(self, size: int = -1, /) -> bytes: ...

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc_info: object) -> Any: ...


class ImageLayoutError(Exception):
    """The image on disk is missing, malformed or ambiguous."""


@dataclass(frozen=True)
class Blob:
    """A content-addressed blob (layer or image config) that can be opened for streaming."""

    digest: str
    size: int
    media_type: str
    open: Callable[[], BlobReader]


@dataclass(frozen=True)
class ImageSource:
    """One single-platform image: its exact manifest bytes and the blobs the manifest names."""

    manifest: bytes
    media_type: str
    digest: str
    config: Blob
    layers: tuple[Blob, ...]

    @property
    def blobs(self) -> tuple[Blob, ...]:
        """Config first, then layers, without duplicates: what the registry must hold."""
        unique: dict[str, Blob] = {}
        for blob in (self.config, *self.layers):
            unique.setdefault(blob.digest, blob)
        return tuple(unique.values())


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class _Store:
    """Uniform read access to a directory or a tar archive, by relative POSIX path."""

    def exists(self, name: str) -> bool:
        raise NotImplementedError

    def size(self, name: str) -> int:
        raise NotImplementedError

    def opener(self, name: str) -> Callable[[], BlobReader]:
        raise NotImplementedError

    def read(self, name: str) -> bytes:
        if not self.exists(name):
            raise ImageLayoutError(f"{name} is missing from the image")
        with self.opener(name)() as handle:
            return handle.read()


class _DirStore(_Store):
    def __init__(self, root: str) -> None:
        self.root = root

    def _path(self, name: str) -> str:
        return os.path.join(self.root, *name.split("/"))

    def exists(self, name: str) -> bool:
        return os.path.isfile(self._path(name))

    def size(self, name: str) -> int:
        return os.path.getsize(self._path(name))

    def opener(self, name: str) -> Callable[[], BlobReader]:
        path = self._path(name)
        return lambda: open(path, "rb")


class _TarStore(_Store):
    """Members are reopened per blob so several uploads never share one file position."""

    def __init__(self, archive: str) -> None:
        self.archive = archive
        try:
            with tarfile.open(archive, "r:*") as tar:
                members = tar.getmembers()
        except (tarfile.TarError, OSError) as exc:
            raise ImageLayoutError(f"{archive} is not a readable tar archive: {exc}") from exc
        self.members = {_clean_member_name(m.name): m.size for m in members if m.isfile()}
        # skopeo's docker-archive links <id>/layer.tar to the layer file: follow such links.
        self.links = {
            _clean_member_name(m.name): posixpath.normpath(
                posixpath.join(posixpath.dirname(_clean_member_name(m.name)), m.linkname)
            )
            for m in members
            if m.issym()
        }

    def _resolve(self, name: str) -> str:
        return self.links.get(name, name)

    def exists(self, name: str) -> bool:
        return self._resolve(name) in self.members

    def size(self, name: str) -> int:
        return self.members[self._resolve(name)]

    def opener(self, name: str) -> Callable[[], BlobReader]:
        target = self._resolve(name)
        return lambda: _TarMemberReader(self.archive, target)


class _TarMemberReader:
    """A readable file object for one archive member that closes its archive too."""

    def __init__(self, archive: str, name: str) -> None:
        # Kept open for the reader's lifetime; close() releases it.
        self._tar = tarfile.open(archive, "r:*")  # noqa: SIM115
        member = next(
            (m for m in self._tar.getmembers() if _clean_member_name(m.name) == name), None
        )
        handle = self._tar.extractfile(member) if member is not None else None
        if handle is None:
            self._tar.close()
            raise ImageLayoutError(f"{name} is missing from {archive}")
        self._handle = handle

    def read(self, size: int = -1) -> bytes:
        return self._handle.read(size)

    def close(self) -> None:
        self._handle.close()
        self._tar.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _clean_member_name(name: str) -> str:
    return name.removeprefix("./")


def _open_store(path: str) -> _Store:
    if os.path.isdir(path):
        return _DirStore(path)
    if os.path.isfile(path):
        return _TarStore(path)
    raise ImageLayoutError(f"{path} does not exist")


def _parse_json(data: bytes, what: str) -> dict[str, Any]:
    try:
        parsed = json.loads(data)
    except ValueError as exc:
        raise ImageLayoutError(f"{what} is not valid JSON: {exc}") from exc
    if not isinstance(parsed, dict):
        raise ImageLayoutError(f"{what} is not a JSON object")
    return parsed


def _blob_path(digest: str) -> str:
    if not isinstance(digest, str) or not DIGEST_PATTERN.match(digest):
        raise ImageLayoutError(f"unsupported or malformed digest {digest!r} (sha256 expected)")
    return "blobs/sha256/" + digest.split(":", 1)[1]


def _descriptor_blob(store: _Store, descriptor: dict[str, Any], default_type: str) -> Blob:
    """Turn a manifest descriptor into a Blob after checking the file exists with that size."""
    digest = descriptor.get("digest", "")
    path = _blob_path(digest)
    if not store.exists(path):
        raise ImageLayoutError(f"blob {digest} named by the manifest is missing ({path})")
    actual = store.size(path)
    if actual != descriptor.get("size"):
        raise ImageLayoutError(
            f"blob {digest} is {actual} bytes but the manifest says {descriptor.get('size')}"
        )
    return Blob(digest, actual, descriptor.get("mediaType", default_type), store.opener(path))


def _read_verified(store: _Store, digest: str) -> bytes:
    """Small blobs (manifests, configs) are hashed on every run: a corrupt one fails early."""
    data = store.read(_blob_path(digest))
    if sha256_digest(data) != digest:
        raise ImageLayoutError(f"blob {digest} does not match its digest")
    return data


def ref_matches(annotations: dict[str, str], wanted: str) -> bool:
    """A reference matches by full name (``repo:tag``) or by its tag alone (``tag``)."""
    for key in REF_ANNOTATIONS:
        name = annotations.get(key)
        if name and (name == wanted or name.rsplit(":", 1)[-1] == wanted):
            return True
    return False


def platform_matches(descriptor: dict[str, Any], wanted: str) -> bool:
    """``wanted`` is ``os/arch`` or ``os/arch/variant``, as in ``docker --platform``."""
    platform = descriptor.get("platform") or {}
    parts = [platform.get("os"), platform.get("architecture"), platform.get("variant")]
    name = "/".join(p for p in parts if p)
    return name == wanted or "/".join(p for p in parts[:2] if p) == wanted


def choose_descriptor(
    descriptors: list[dict[str, Any]], ref: str | None, platform: str | None
) -> dict[str, Any]:
    """Pick the one manifest the caller means, or explain why that is ambiguous."""
    candidates = descriptors
    if ref:
        named = [d for d in candidates if ref_matches(d.get("annotations") or {}, ref)]
        # Nested indexes carry the name only on the outer entry: no match means "not filtered".
        if named or any(d.get("annotations") for d in candidates):
            candidates = named
    # An entry without a platform (a nested index, a plain single image) cannot be ruled out.
    if platform and (len(candidates) > 1 or any(d.get("platform") for d in candidates)):
        candidates = [d for d in candidates if platform_matches(d, platform)]
    # Attestation manifests (buildx provenance) are marked "unknown/unknown": never an image.
    candidates = [d for d in candidates if not platform_matches(d, "unknown/unknown")]
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise ImageLayoutError(f"no image in the layout matches ref={ref!r} platform={platform!r}")
    raise ImageLayoutError(
        f"{len(candidates)} images in the layout match ref={ref!r} platform={platform!r}: "
        "set source_ref and/or platform to choose one"
    )


def _present(store: _Store, descriptors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Entries whose manifest is in the layout: ``docker save`` keeps only the local platform."""
    return [
        d
        for d in descriptors
        if DIGEST_PATTERN.match(str(d.get("digest"))) and store.exists(_blob_path(d["digest"]))
    ]


def _load_oci(store: _Store, ref: str | None, platform: str | None) -> ImageSource:
    index = _parse_json(store.read("index.json"), "index.json")
    descriptor = choose_descriptor(index.get("manifests") or [], ref, platform)
    # Multi-platform builds nest an index; descend until a single-platform manifest is reached.
    for _depth in range(4):
        if descriptor.get("mediaType") not in INDEX_TYPES:
            break
        nested = _parse_json(_read_verified(store, descriptor["digest"]), "nested index")
        present = _present(store, nested.get("manifests") or [])
        descriptor = choose_descriptor(present, None, platform)
    media_type = descriptor.get("mediaType", OCI_MANIFEST)
    if media_type not in MANIFEST_TYPES:
        raise ImageLayoutError(f"unsupported manifest media type {media_type!r}")
    manifest_bytes = _read_verified(store, descriptor["digest"])
    return _image_from_manifest(store, manifest_bytes, media_type)


def _image_from_manifest(store: _Store, manifest_bytes: bytes, media_type: str) -> ImageSource:
    manifest = _parse_json(manifest_bytes, "image manifest")
    if not isinstance(manifest.get("config"), dict) or not isinstance(manifest.get("layers"), list):
        raise ImageLayoutError("image manifest lacks config or layers")
    config = _descriptor_blob(store, manifest["config"], OCI_CONFIG)
    _read_verified(store, config.digest)
    layers = tuple(_descriptor_blob(store, layer, OCI_LAYER_TAR) for layer in manifest["layers"])
    return ImageSource(
        manifest=manifest_bytes,
        media_type=manifest.get("mediaType", media_type),
        digest=sha256_digest(manifest_bytes),
        config=config,
        layers=layers,
    )


def _legacy_entry(entries: Any, ref: str | None) -> dict[str, Any]:
    if not isinstance(entries, list) or not entries:
        raise ImageLayoutError("manifest.json of the docker save archive lists no image")
    if ref:
        entries = [
            e
            for e in entries
            if any(ref in (t, t.rsplit(":", 1)[-1]) for t in e.get("RepoTags") or [])
        ]
    if len(entries) != 1:
        raise ImageLayoutError(
            f"{len(entries)} images in the docker save archive match ref={ref!r}: set source_ref"
        )
    return entries[0]


def build_oci_manifest(config: Blob, layers: list[Blob]) -> bytes:
    """Compact, key-ordered JSON: the same input always yields the same manifest digest."""
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config.digest, "size": config.size},
        "layers": [
            {"mediaType": OCI_LAYER_TAR, "digest": layer.digest, "size": layer.size}
            for layer in layers
        ],
    }
    return json.dumps(manifest, separators=(",", ":")).encode()


def _load_docker_save(store: _Store, ref: str | None) -> ImageSource:
    """Legacy archives store uncompressed layers whose digests are the config's diff_ids."""
    entry = _legacy_entry(json.loads(store.read("manifest.json")), ref)
    config_bytes = store.read(entry.get("Config", ""))
    config_digest = sha256_digest(config_bytes)
    config_doc = _parse_json(config_bytes, "image config")
    diff_ids = (config_doc.get("rootfs") or {}).get("diff_ids") or []
    layer_paths = entry.get("Layers") or []
    if len(diff_ids) != len(layer_paths):
        raise ImageLayoutError(
            f"config lists {len(diff_ids)} diff_ids but the archive has {len(layer_paths)} layers"
        )
    layers = []
    for path, digest in zip(layer_paths, diff_ids, strict=True):
        if not store.exists(path):
            raise ImageLayoutError(f"layer {path} is missing from the docker save archive")
        _blob_path(digest)
        layers.append(Blob(digest, store.size(path), OCI_LAYER_TAR, store.opener(path)))
    config = Blob(config_digest, len(config_bytes), OCI_CONFIG, store.opener(entry["Config"]))
    manifest = build_oci_manifest(config, layers)
    return ImageSource(manifest, OCI_MANIFEST, sha256_digest(manifest), config, tuple(layers))


def load_image_source(
    path: str, ref: str | None = None, platform: str | None = None
) -> ImageSource:
    """Read the image at ``path`` (OCI layout dir/archive or docker save archive)."""
    store = _open_store(path)
    if store.exists("index.json"):
        if store.exists("oci-layout"):
            layout = _parse_json(store.read("oci-layout"), "oci-layout")
            if not str(layout.get("imageLayoutVersion", "")).startswith("1."):
                raise ImageLayoutError(f"unsupported OCI layout version in {path}")
        return _load_oci(store, ref, platform)
    if store.exists("manifest.json"):
        return _load_docker_save(store, ref)
    raise ImageLayoutError(
        f"{path} is neither an OCI image layout (no index.json) nor a docker save archive "
        "(no manifest.json)"
    )
