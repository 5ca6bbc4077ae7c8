"""The installed collection runs the stack by name, with nothing of the checkout.

`ansible-playbook django_ecs.aws.site -i inventories/dev --check` from a directory that holds
only a copy of the dev inventory, the collection installed from the tarball into a path of its
own, on a private emulator (an empty account): check mode there is a plan. --tags network keeps
it short (the whole stack takes minutes); every layer's preflight (tagged always) and the
summary play run too.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from tests.emulator.emulator_cli import run_emulator, start_copy
from tests.release.conftest import REPO_ROOT


@pytest.fixture(scope="module")
def private_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    state_dir = tmp_path_factory.mktemp("release-emulator")
    exports = start_copy(state_dir)
    yield exports
    run_emulator("stop", state_dir)


def test_site_runs_by_fqcn_from_the_installed_collection(
    installed_collections: Path, private_emulator: dict[str, str], tmp_path: Path
) -> None:
    shutil.copytree(REPO_ROOT / "inventories" / "dev", tmp_path / "inventories" / "dev")
    env_name = "rel" + uuid.uuid4().hex[:6]
    environment = {
        name: value
        for name, value in os.environ.items()
        # Nothing may point back at the checkout: its ansible.cfg, its collections path.
        if not name.startswith("ANSIBLE_") and name not in ("PYTHONPATH", "AWS_PROFILE")
    }
    environment.update(
        private_emulator,
        ANSIBLE_COLLECTIONS_PATH=str(installed_collections),
        ANSIBLE_NOCOLOR="1",
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    completed = subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            "django_ecs.aws.site",
            "-i",
            "inventories/dev",
            "--check",
            "-vv",  # prints each task's path and the configuration file in use
            "--tags",
            "network",
            "-e",
            json.dumps({"aws_endpoint_required": True, "env_name": env_name}),
        ],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = completed.stdout + completed.stderr

    assert completed.returncode == 0, output
    collection = installed_collections / "ansible_collections" / "django_ecs" / "aws"
    assert "config file = None" in output, output
    # site.yml's own task, the app layer's preflight (a role the network layer never runs), vpc.
    for task_file in (
        "playbooks/site.yml",
        "roles/ecs_service/tasks/preflight",
        "roles/vpc/tasks/",
    ):
        assert f"task path: {collection}/{task_file}" in output, task_file
    # ansible-core and the dependency collections live in the venv, inside the checkout here.
    assert str(REPO_ROOT) not in output.replace(str(REPO_ROOT / ".venv"), "<venv>"), output
    # The plan of an empty account: what would be created, and nothing is.
    assert "network: 2 to converge" in output, output
    assert f"vpc: VPC {env_name}-djg-vpc-ander: 0 found, want 1" in output, output
    ec2 = boto3.client(
        "ec2",
        endpoint_url=private_emulator["AWS_ENDPOINT_URL"],
        region_name=private_emulator["AWS_DEFAULT_REGION"],
        aws_access_key_id=private_emulator["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=private_emulator["AWS_SECRET_ACCESS_KEY"],
    )
    assert (
        ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [f"{env_name}-*"]}])["Vpcs"] == []
    )
