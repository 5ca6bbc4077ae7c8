"""The collection as users get it: the tarball `ansible-galaxy collection build` makes, installed
into a collections path of its own (amazon.aws and community.aws come from the venv)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def galaxy(*args: str, cwd: Path) -> None:
    completed = subprocess.run(
        [str(BIN / "ansible-galaxy"), "collection", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "ANSIBLE_NOCOLOR": "1"},
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


@pytest.fixture(scope="session")
def release_tarball(tmp_path_factory: pytest.TempPathFactory) -> Path:
    build_dir = tmp_path_factory.mktemp("release-build")
    galaxy("build", "--force", "--output-path", str(build_dir), cwd=REPO_ROOT)
    (tarball,) = build_dir.glob("django_ecs-aws-*.tar.gz")
    return tarball


@pytest.fixture(scope="session")
def installed_collections(tmp_path_factory: pytest.TempPathFactory, release_tarball: Path) -> Path:
    """A collections path holding only django_ecs.aws, installed from the tarball."""
    path = tmp_path_factory.mktemp("release-collections")
    # From the collections path itself: in the checkout, its ansible.cfg would point at the
    # checkout's own copy and the install would be skipped as already done.
    galaxy("install", "--no-deps", "--force", "-p", str(path), str(release_tarball), cwd=path)
    return path
