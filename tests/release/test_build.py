"""What `ansible-galaxy collection build` puts in the tarball, and what galaxy.yml says of it."""

from __future__ import annotations

import tarfile
from pathlib import Path

import yaml

from tests.release.conftest import REPO_ROOT

# The checkout's development state and tooling: nothing a user of the collection runs.
LEFT_OUT = (
    ".venv/", ".emulator/", ".git/", ".pytest_cache/", ".ruff_cache/", "build/", "outputs/",
    "collections/", "tests/", "molecule/", "bench/", "tools/", "scripts/", ".github/", ".ci/",
)  # fmt: skip


def test_the_tarball_is_the_collection_without_the_checkouts_state(release_tarball: Path) -> None:
    with tarfile.open(release_tarball) as tar:
        members = {member.name: member for member in tar.getmembers()}
    names = [name + ("/" if member.isdir() else "") for name, member in members.items()]
    assert [n for n in names if n.startswith(LEFT_OUT)] == []
    assert [n for n in names if "__pycache__" in n or n.endswith(".pyc")] == []
    for shipped in ("playbooks/site.yml", "site.yml", "meta/runtime.yml", "files/lambda/db_init"):
        assert shipped in members, shipped
    # The layer playbooks' group_vars are file links into group_vars/ (ansible-test refuses
    # directory links), each resolving inside the collection.
    for name in ("app.yml", "globals.yml"):
        link = members[f"playbooks/group_vars/all/{name}"]
        assert link.issym(), name
        assert f"group_vars/all/{Path(link.linkname).name}" in members


def test_every_global_group_vars_file_is_linked_beside_the_playbooks() -> None:
    """A new group_vars/all file that playbooks/group_vars lacks would be missing from every
    play (each loads the group_vars next to its own playbook, playbooks/)."""
    globals_dir = REPO_ROOT / "group_vars" / "all"
    linked_dir = REPO_ROOT / "playbooks" / "group_vars" / "all"
    assert sorted(p.name for p in linked_dir.iterdir()) == sorted(
        p.name for p in globals_dir.iterdir()
    )
    for link in linked_dir.iterdir():
        assert link.is_symlink() and link.resolve() == (globals_dir / link.name).resolve()


def test_the_manifest_carries_galaxy_yml(release_tarball: Path) -> None:
    galaxy = yaml.safe_load((REPO_ROOT / "galaxy.yml").read_text())
    with tarfile.open(release_tarball) as tar:
        manifest_file = tar.extractfile("MANIFEST.json")
        assert manifest_file is not None
        info = yaml.safe_load(manifest_file.read())["collection_info"]
    assert (info["namespace"], info["name"]) == ("django_ecs", "aws")
    assert info["version"] == galaxy["version"]
    assert release_tarball.name == f"django_ecs-aws-{galaxy['version']}.tar.gz"
    assert info["dependencies"] == galaxy["dependencies"]
