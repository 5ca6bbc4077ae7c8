"""The checkout builds into an installable collection holding the roles and plugins only."""

from __future__ import annotations

import subprocess
import sys
import tarfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_collection_builds_with_roles_and_plugins_and_without_dev_files(tmp_path: Path) -> None:
    galaxy = Path(sys.executable).parent / "ansible-galaxy"
    completed = subprocess.run(
        [str(galaxy), "collection", "build", "--output-path", str(tmp_path), str(REPO_ROOT)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    (archive,) = tmp_path.glob("django_ecs-aws-*.tar.gz")
    with tarfile.open(archive) as bundle:
        names = set(bundle.getnames())
    for wanted in (
        "roles/vpc/tasks/main.yml",
        "roles/nat_instance/meta/argument_specs.yml",
        "plugins/filter/cidr.py",
        "plugins/modules/network_state.py",
        "plugins/module_utils/network_state.py",
        "meta/runtime.yml",
    ):
        assert wanted in names, f"{wanted} missing from the built collection"
    for unwanted_prefix in (
        ".venv/",
        "tests/",
        "molecule/",
        "collections/",
        ".emulator/",
        "outputs/",
    ):
        assert not any(name.startswith(unwanted_prefix) for name in names), unwanted_prefix
