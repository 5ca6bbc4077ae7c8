"""The bytes of the blobs pushed to the emulated ECR, kept on disk by their digest.

moto's CompleteLayerUpload keeps only a layer's length, so nothing could ever read an image
back. Here every completed upload (layers and image configs alike: a registry client pushes
both through the layer upload API) is written to `<state dir>/ecr/blobs/sha256/<hex>`, the
layout of an OCI image layout's blob store. Content-addressed, hence shared by every
repository of the emulator: a blob's digest is its identity, as in a registry's storage.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

STATE_DIR_ENV = "DJANGO_ECS_EMULATOR_DIR"
DIGEST = re.compile(r"^sha256:(?P<hex>[0-9a-f]{64})$")


def state_dir() -> Path:
    """The emulator's state dir as the launcher passes it to the server (a direct run of the
    server without it keeps its files in the current directory's `.emulator`)."""
    return Path(os.environ.get(STATE_DIR_ENV) or ".emulator").resolve()


class BlobStore:
    """Blobs by digest under `root` (`<root>/sha256/<hex>`)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def of_emulator(cls) -> BlobStore:
        return cls(state_dir() / "ecr" / "blobs")

    def path(self, digest: str) -> Path:
        match = DIGEST.match(digest)
        if match is None:
            raise ValueError(f"not a sha256 digest: {digest!r}")
        return self.root / "sha256" / match["hex"]

    def put(self, data: bytes) -> str:
        """Store `data`; its digest. Written to a temporary file then renamed, so a reader
        never sees half a blob."""
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        target = self.path(digest)
        if target.exists():
            return digest
        target.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        os.replace(temporary, target)
        return digest

    def has(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def read(self, digest: str) -> bytes:
        """The blob's bytes; FileNotFoundError when it was never pushed."""
        return self.path(digest).read_bytes()
