"""Building the app image: every required build argument is passed, and no unrunnable image ships.

- app/Dockerfile's ARGs without a default must each be passed by every build path: the ecr role's
  buildx command and deploy.yml's build step. Both are run here with a stand-in `docker` that
  records its arguments (no Docker engine on this machine, and CI's must not be used).
- Without buildx, the fallback builder (umoci) makes an image of the app files only, with no
  Python in it. It is allowed only against the emulator (aws_endpoint_required); any other
  target fails in preflight, before any AWS call, naming what to install.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml

from tests.playbooks.runner import REPO_ROOT, PlaybookRun, run_playbook
from tests.workflow.test_deploy_workflow import WORKFLOW, run_step, step_named

DOCKERFILE = REPO_ROOT / "app" / "Dockerfile"
CA_SHA256 = "ab" * 32
# The workflow pins the base image by digest through the repository variable PYTHON_IMAGE.
PINNED_BASE = f"python:3.12.12-slim-trixie@sha256:{'cd' * 32}"
NO_BUILDX = "Cannot build a runnable image here"
INSTALL = "docker-buildx-plugin"


def required_build_args() -> set[str]:
    """ARGs of any stage that have no default value: a build without them is broken."""
    args = re.findall(r"^ARG\s+(\S+)\s*$", DOCKERFILE.read_text(), flags=re.MULTILINE)
    return {arg for arg in args if "=" not in arg}


def passed_build_args(argv: list[str]) -> dict[str, str]:
    passed = {}
    for index, arg in enumerate(argv):
        value = argv[index + 1] if arg == "--build-arg" else arg.removeprefix("--build-arg=")
        if value != arg or arg == "--build-arg":
            name, _, given = value.partition("=")
            passed[name] = given
    return passed


@pytest.fixture
def docker_without_buildx(tmp_path: Path) -> Path:
    """A `docker` CLI with no buildx plugin, first on PATH (as this machine's, and unlike CI's)."""
    return fake_docker(tmp_path / "no-buildx", buildx=False)


def fake_docker(directory: Path, buildx: bool) -> Path:
    """`docker` that answers `buildx inspect` (or not), records `buildx build`'s argv, fails."""
    directory.mkdir()
    script = directory / "docker"
    script.write_text(
        "#!/bin/sh\n"
        'if [ "$1 $2" = "buildx inspect" ]; then '
        + ("exit 0; fi\n" if buildx else 'echo "unknown command: docker buildx" >&2; exit 1; fi\n')
        + f'printf "%s\\n" "$@" > {directory}/argv\n'
        + 'echo "fake docker: no engine" >&2; exit 1\n'
    )
    script.chmod(0o755)
    return directory


def search_path(first: Path) -> str:
    return os.pathsep.join([str(first), str(Path(sys.executable).parent), os.environ["PATH"]])


def test_the_dockerfile_requires_the_ca_bundle_digest() -> None:
    """The list every build path is checked against (a new required ARG extends both tests)."""
    assert required_build_args() == {"RDS_CA_BUNDLE_SHA256"}


def test_the_ecr_roles_buildx_build_passes_every_required_build_arg(
    aws_env: dict[str, str], tmp_path: Path
) -> None:
    docker = fake_docker(tmp_path / "buildx", buildx=True)
    run = run_playbook(
        "playbooks/image.yml",
        "local",
        "--check",
        "-e",
        json.dumps({"env_name": "b" + uuid.uuid4().hex[:8]}),
        endpoint=aws_env["AWS_ENDPOINT_URL"],
        env={
            "PATH": search_path(docker),
            "RDS_CA_BUNDLE_SHA256": CA_SHA256,
            "XDG_CACHE_HOME": str(tmp_path / "cache"),
        },
    )

    assert "TASK [django_ecs.aws.ecr : Build the image with docker buildx" in run.output, run.output
    argv = (docker / "argv").read_text().splitlines()
    assert argv[:2] == ["buildx", "build"]
    passed = passed_build_args(argv)
    assert set(passed) >= required_build_args(), argv
    assert passed["RDS_CA_BUNDLE_SHA256"] == CA_SHA256


def test_a_buildx_build_without_the_ca_bundle_digest_stops_before_aws(tmp_path: Path) -> None:
    docker = fake_docker(tmp_path / "buildx", buildx=True)
    run = run_playbook(
        "playbooks/image.yml",
        "local",
        env={"PATH": search_path(docker), "RDS_CA_BUNDLE_SHA256": ""},
    )
    run.assert_failed_before_aws("The image build needs app_rds_ca_bundle_sha256", "got ''")
    assert not (docker / "argv").exists()


def test_deploy_workflow_build_passes_every_required_build_arg_from_repository_variables(
    tmp_path: Path,
) -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    step = step_named(workflow, "build", "Build app/")
    # Each value from a repository variable of the same name, through env, never in the script.
    for name in required_build_args():
        assert step["env"][name] == f"${{{{ vars.{name} }}}}"
        assert "${{" not in step["run"]
    docker = fake_docker(tmp_path / "buildx", buildx=True)
    context = {
        "needs.plan.outputs.image_tag": "0123456789ab",
        "vars.PYTHON_IMAGE": PINNED_BASE,
        **{f"vars.{name}": CA_SHA256 for name in required_build_args()},
    }
    extra = {"PATH": search_path(docker), "IMAGE_ARCHIVE": str(tmp_path / "build" / "image.tar")}

    completed, _ = run_step(step, context, tmp_path, extra)

    assert "fake docker: no engine" in completed.stderr, completed.stderr
    argv = (docker / "argv").read_text().splitlines()
    assert argv[:3] == ["buildx", "build", "app/"]
    assert passed_build_args(argv) == {
        **dict.fromkeys(required_build_args(), CA_SHA256),
        "PYTHON_IMAGE": PINNED_BASE,
    }


def test_deploy_workflow_build_stops_when_the_repository_variable_is_unset(
    tmp_path: Path,
) -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    step = step_named(workflow, "build", "Build app/")
    docker = fake_docker(tmp_path / "buildx", buildx=True)
    context = {
        "needs.plan.outputs.image_tag": "0123456789ab",
        "vars.RDS_CA_BUNDLE_SHA256": "",
        "vars.PYTHON_IMAGE": PINNED_BASE,
    }
    extra = {"PATH": search_path(docker), "IMAGE_ARCHIVE": str(tmp_path / "image.tar")}

    completed, _ = run_step(step, context, tmp_path, extra)

    assert completed.returncode != 0
    assert "::error::Set the repository variable RDS_CA_BUNDLE_SHA256" in completed.stdout
    assert not (docker / "argv").exists()


# --- No buildx ------------------------------------------------------------------------------


@pytest.mark.parametrize("playbook", ["playbooks/image.yml", "playbooks/app.yml"])
def test_no_buildx_outside_the_emulator_fails_before_aws(
    docker_without_buildx: Path, playbook: str
) -> None:
    """dev builds on deploy; aimed at AWS (no aws_endpoint_required) it must not ship app files."""
    run = run_playbook(playbook, "dev", env={"PATH": search_path(docker_without_buildx)})
    run.assert_failed_before_aws(NO_BUILDX, "docker buildx inspect", INSTALL, "image_archive=")


def test_the_layout_builder_chosen_by_hand_is_refused_outside_the_emulator() -> None:
    run = run_playbook("playbooks/image.yml", "dev", "-e", "ecr_builder=layout")
    run.assert_failed_before_aws(NO_BUILDX, "ecr_builder is layout", INSTALL)


def test_the_emulator_still_builds_with_umoci_as_the_images_user(
    aws_env: dict[str, str], docker_without_buildx: Path, tmp_path: Path
) -> None:
    env_name = "u" + uuid.uuid4().hex[:8]
    cache = tmp_path / "cache"
    run: PlaybookRun = run_playbook(
        "playbooks/image.yml",
        "local",
        "-e",
        json.dumps({"env_name": env_name, "image_tag": "umoci-1"}),
        endpoint=aws_env["AWS_ENDPOINT_URL"],
        env={"PATH": search_path(docker_without_buildx), "XDG_CACHE_HOME": str(cache)},
    )

    assert run.returncode == 0, run.output[-4000:]
    assert "TASK [django_ecs.aws.ecr : Build an OCI layout of the app files" in run.output
    layout = cache / "django_ecs" / "build" / env_name / "layout"
    config = image_config(layout)
    user = re.findall(r"^USER\s+(\S+)\s*$", DOCKERFILE.read_text(), flags=re.MULTILINE)[-1]
    assert config["config"]["User"] == user


def image_config(layout: Path) -> dict[str, object]:
    def blob(digest: str) -> dict[str, object]:
        algorithm, value = digest.split(":")
        return json.loads((layout / "blobs" / algorithm / value).read_text())

    index = json.loads((layout / "index.json").read_text())
    manifest = blob(index["manifests"][0]["digest"])
    return blob(manifest["config"]["digest"])  # type: ignore[index]


def layer_names(layout: Path) -> set[str]:
    """Every member name of the layout's one image's layers (umoci ends a layer without tar's
    end-of-archive blocks: read with GNU tar, which container runtimes agree with)."""
    index = json.loads((layout / "index.json").read_text())
    manifest_path = layout / "blobs" / "sha256" / index["manifests"][0]["digest"].split(":")[1]
    names: set[str] = set()
    for layer in json.loads(manifest_path.read_text())["layers"]:
        blob = layout / "blobs" / "sha256" / layer["digest"].split(":")[1]
        listing = subprocess.run(
            ["tar", "-tzf", str(blob)], capture_output=True, text=True, check=False
        )
        names |= {name.rstrip("/") for name in listing.stdout.split()}
    return names


@pytest.mark.skipif(shutil.which("umoci") is None, reason="umoci is not installed")
def test_the_layout_builder_keeps_the_app_files_and_drops_dotfiles(tmp_path: Path) -> None:
    # GNU tar matches exclusion wildcards across "/" by default: `--exclude='.*'` matched
    # "./anything" and the image held an empty /app.
    context = tmp_path / "app"
    for name in ["manage.py", "testapp/wsgi.py", ".env", "testapp/.secret", "tests/test_x.py"]:
        (context / name).parent.mkdir(parents=True, exist_ok=True)
        (context / name).write_text("x")
    script = REPO_ROOT / "roles" / "ecr" / "files" / "build_oci_layout.sh"
    layout = tmp_path / "layout"
    built = subprocess.run(
        ["sh", str(script), str(context), str(layout), "t1", "linux/amd64", "1000:1000"],
        check=False,
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr
    names = layer_names(layout)
    assert {"app/manage.py", "app/testapp/wsgi.py"} <= names
    assert not {"app/.env", "app/testapp/.secret", "app/tests/test_x.py"} & names
