"""The deploy workflow (deploy.yml): the order of its jobs, the image tested before it is
published, its build arguments, and its input validation.

The workflow cannot run here (no GitHub runner, no AWS); what can be checked is checked for
real: the YAML as Actions parses it, and its scripts run with bash on hostile input, exactly as
the workflow runs them (inputs in the environment, outputs appended to GITHUB_OUTPUT; a
recording stand-in for `docker`). The rules every workflow keeps, zizmor and actionlint are in
test_workflows.py.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.workflow.workflows import (
    COMMIT,
    MAIN,
    REPO_ROOT,
    VALIDATOR,
    WORKFLOWS_DIR,
    load,
    run_step,
    step_named,
)

WORKFLOW = WORKFLOWS_DIR / "deploy.yml"
DOCKERFILE = REPO_ROOT / "app" / "Dockerfile"
DIGEST = "sha256:" + "ab" * 32
BASE_IMAGE = f"python:3.12.12-slim-trixie@{DIGEST}"


@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    return load("deploy.yml")


def validate(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {
        "PATH": os.environ["PATH"],
        "COMMIT_SHA": COMMIT,
        "GIT_REF": MAIN,
        "HOME": str(tmp_path),
    }
    return subprocess.run(
        ["bash", str(VALIDATOR)],
        cwd=tmp_path,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def outputs(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines())


# --- Triggers and the order of the jobs ------------------------------------------------------


def test_push_to_main_and_manual_dispatch_with_environments_and_tag(workflow: dict) -> None:
    triggers = workflow["on"]
    assert triggers["push"] == {"branches": ["main"]}
    inputs = triggers["workflow_dispatch"]["inputs"]
    assert inputs["environments"]["type"] == "string"
    assert inputs["environments"]["default"] == '["dev"]'
    assert inputs["image_tag"]["required"] is False
    assert set(triggers) == {"push", "workflow_dispatch"}


def test_jobs_run_in_the_guides_order(workflow: dict) -> None:
    """Test the code, build the image once, test that image, then publish and deploy it."""
    jobs = workflow["jobs"]
    assert jobs["build"]["needs"] == ["plan", "test"]
    assert jobs["build"]["if"] == "needs.plan.outputs.build == 'true'"
    assert jobs["image-test"]["needs"] == ["plan", "build"]
    assert jobs["image-test"]["if"] == "needs.plan.outputs.build == 'true'"
    assert jobs["deploy"]["needs"] == ["plan", "test", "build", "image-test"]


def test_a_built_image_deploys_only_when_its_test_passed(workflow: dict) -> None:
    condition = " ".join(workflow["jobs"]["deploy"]["if"].split())
    assert condition.startswith("!cancelled() && needs.plan.result == 'success'")
    assert "needs.test.result == 'success'" in condition
    built = (
        "(needs.plan.outputs.build == 'true' && needs.build.result == 'success'"
        " && needs.image-test.result == 'success')"
    )
    redeployed = "(needs.plan.outputs.build == 'false' && needs.build.result == 'skipped')"
    assert f"&& ({built} || {redeployed})" in condition
    # No other way in: `success() ||` or a bare skipped image test would bypass the test.
    assert condition.count("needs.image-test.result") == 1


def test_repository_tests_run_as_scripts_test_does_in_ci(workflow: dict) -> None:
    steps = workflow["jobs"]["test"]["steps"]
    python = next(s for s in steps if s.get("uses", "").startswith("actions/setup-python@"))
    assert python["with"]["python-version"] == "${{ env.PYTHON_VERSION }}"
    assert workflow["env"]["PYTHON_VERSION"] == "3.12"
    runs = [s["run"] for s in steps if "run" in s]
    assert runs == ['sudo env "PATH=${PATH}" CI=true scripts/test lint pytest']


# --- The build: once, from app/, with every build argument from a variable ------------------


def dockerfile_args() -> dict[str, str | None]:
    """Each ARG of app/Dockerfile and its default (None: no default, the build needs it)."""
    found: dict[str, str | None] = {}
    for line in DOCKERFILE.read_text().splitlines():
        match = re.match(r"^ARG\s+([A-Z0-9_]+)(?:=(\S*))?", line)
        if match:
            found[match.group(1)] = match.group(2)
    return found


def test_every_required_build_argument_comes_from_a_repository_variable(workflow: dict) -> None:
    step = step_named(workflow, "build", "Build app/")
    required = sorted(name for name, default in dockerfile_args().items() if default is None)
    assert "RDS_CA_BUNDLE_SHA256" in required
    # The base image has a default tag in the Dockerfile; CI pins it by digest instead.
    for name in [*required, "PYTHON_IMAGE"]:
        assert step["env"][name] == f"${{{{ vars.{name} }}}}", name
        assert f'--build-arg="{name}=${{{name}}}"' in step["run"], name


def fake_docker(tmp_path: Path) -> tuple[Path, Path]:
    """A `docker` that records its arguments, one per line, and succeeds."""
    bin_dir, record = tmp_path / "bin", tmp_path / "docker-args"
    bin_dir.mkdir()
    (bin_dir / "docker").write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{record}"\n')
    (bin_dir / "docker").chmod(0o755)
    return bin_dir, record


def run_build(
    workflow: dict, tmp_path: Path, python_image: str, ca_sha256: str = "cd" * 32
) -> tuple[subprocess.CompletedProcess[str], Path]:
    step = step_named(workflow, "build", "Build app/")
    context = {
        "needs.plan.outputs.image_tag": "0123456789ab",
        "vars.RDS_CA_BUNDLE_SHA256": ca_sha256,
        "vars.PYTHON_IMAGE": python_image,
    }
    bin_dir, record = fake_docker(tmp_path)
    archive = tmp_path / "out" / "app-image.tar"
    completed, _ = run_step(step, context, tmp_path, {"IMAGE_ARCHIVE": str(archive)}, bin_dir)
    return completed, record


def test_the_build_passes_the_pinned_base_and_the_ca_digest(workflow: dict, tmp_path: Path) -> None:
    completed, record = run_build(workflow, tmp_path, BASE_IMAGE)
    assert completed.returncode == 0, completed.stderr
    args = record.read_text().splitlines()
    assert args[:3] == ["buildx", "build", "app/"]
    assert f"--build-arg=PYTHON_IMAGE={BASE_IMAGE}" in args
    assert f"--build-arg=RDS_CA_BUNDLE_SHA256={'cd' * 32}" in args
    assert f"--output=type=oci,dest={tmp_path / 'out' / 'app-image.tar'}" in args
    assert "--provenance=false" in args, "a single manifest, no attestation index"


@pytest.mark.parametrize(
    "python_image",
    [
        "",  # the variable is not set
        "python:3.12.12-slim-trixie",  # a tag moves
        "python:latest",
        f"python@{DIGEST[:-1]}",  # 63 hex
        f"python:3.12@{DIGEST}; touch pwned",
        f"python:3.12@{DIGEST}\n--output=type=local,dest=/",
    ],
)
def test_the_build_refuses_a_base_image_not_pinned_by_digest(
    workflow: dict, tmp_path: Path, python_image: str
) -> None:
    completed, record = run_build(workflow, tmp_path, python_image)
    assert completed.returncode == 1
    assert "::error::Set the repository variable PYTHON_IMAGE" in completed.stdout
    assert not record.exists(), "docker never ran"
    assert not (REPO_ROOT / "pwned").exists()


@pytest.mark.parametrize("ca_sha256", ["", "cd" * 31, "CD" * 32, "cd" * 32 + " x"])
def test_the_build_refuses_a_missing_or_malformed_ca_digest(
    workflow: dict, tmp_path: Path, ca_sha256: str
) -> None:
    completed, record = run_build(workflow, tmp_path, BASE_IMAGE, ca_sha256)
    assert completed.returncode == 1
    assert "RDS_CA_BUNDLE_SHA256" in completed.stdout
    assert not record.exists()


# --- The image test: the built archive, run, before anything is published -------------------


def test_the_image_test_runs_the_archive_the_build_uploaded(workflow: dict) -> None:
    upload = step_named(workflow, "build", "Keep the image")
    download = step_named(workflow, "image-test", "Fetch the image built by this run")
    assert download["with"]["name"] == upload["with"]["name"] == "app-image"
    assert upload["with"]["path"] == "${{ env.IMAGE_ARCHIVE }}"
    assert workflow["env"]["IMAGE_ARCHIVE"].startswith(download["with"]["path"] + "/")
    steps = workflow["jobs"]["image-test"]["steps"]
    assert not any(s.get("uses", "").startswith("actions/checkout@") for s in steps), (
        "the image is tested, not the sources"
    )
    load_step = step_named(workflow, "image-test", "Load the OCI archive")["run"]
    assert 'skopeo copy "oci-archive:${IMAGE_ARCHIVE}" "docker-daemon:${TEST_IMAGE}"' in load_step


def test_the_apps_suite_runs_inside_the_built_image(workflow: dict) -> None:
    script = step_named(workflow, "image-test", "Run the app's test suite inside")["run"]
    command = " ".join(script.replace("\\\n", " ").split())
    assert command.startswith("docker run --rm ")
    assert "--read-only" in command, "as ECS runs it"
    assert command.endswith('"${TEST_IMAGE}" python manage.py test --noinput --verbosity=2 testapp')
    names = [s.get("name", "") for s in workflow["jobs"]["image-test"]["steps"]]
    for later in ("Run Django's deployment checks", "Serve from the built image"):
        step = step_named(workflow, "image-test", later)
        assert '"${TEST_IMAGE}"' in step["run"]
    assert names.index(next(n for n in names if n.startswith("Start PostgreSQL"))) < names.index(
        next(n for n in names if n.startswith("Run the app's test suite"))
    )


def test_the_suite_the_image_runs_exists_and_is_shipped() -> None:
    """`manage.py test testapp` finds tests in the image: the module is in the build context."""
    tests = REPO_ROOT / "app" / "testapp" / "tests.py"
    assert re.search(r"^class \w+\((Simple)?TestCase\):", tests.read_text(), re.MULTILINE)
    dockerignore = (REPO_ROOT / "app" / ".dockerignore").read_text().splitlines()
    assert "!testapp/" in dockerignore
    assert "COPY testapp ./testapp" in DOCKERFILE.read_text()


# --- Publish and deploy -----------------------------------------------------------------------


def test_deploy_publishes_then_deploys_each_environment_behind_its_gate(workflow: dict) -> None:
    deploy = workflow["jobs"]["deploy"]
    assert deploy["environment"] == "${{ matrix.environment }}"
    assert deploy["strategy"]["matrix"]["environment"] == (
        "${{ fromJSON(needs.plan.outputs.environments) }}"
    )
    assert deploy["concurrency"] == {
        "group": "deploy-${{ matrix.environment }}",
        "cancel-in-progress": False,
    }
    names = [step.get("name", "") for step in deploy["steps"]]
    order = [
        "Re-check the target",
        "Assume the deploy role",
        "Publish the image",
        "Deploy the app layer",
    ]
    positions = [next(i for i, n in enumerate(names) if n.startswith(p)) for p in order]
    assert positions == sorted(positions), names

    publish = step_named(workflow, "deploy", "Publish the image")["run"]
    assert "ansible-playbook playbooks/image.yml" in publish
    assert '-e "image_tag=${IMAGE_TAG}"' in publish
    app = step_named(workflow, "deploy", "Deploy the app layer")["run"]
    assert "ansible-playbook site.yml" in app and "--tags app" in app
    assert '-e "image_tag=${IMAGE_TAG}"' in app


# --- The validation script, as the workflow runs it -------------------------------------------


def test_push_deploys_dev_with_the_short_commit_sha(workflow: dict, tmp_path: Path) -> None:
    step = step_named(workflow, "plan", "Validate environments and image tag")
    context = {
        "github.event_name": "push",
        "inputs.environments": "",
        "inputs.image_tag": "",
        "github.sha": COMMIT,
        "github.ref": MAIN,
    }
    completed, written = run_step(step, context, tmp_path, {})
    assert completed.returncode == 0, completed.stderr
    assert outputs(written) == {
        "environments": '["dev"]',
        "image_tag": COMMIT[:12],
        "build": "true",
    }


def test_dispatch_redeploys_a_published_tag_to_listed_environments(
    workflow: dict, tmp_path: Path
) -> None:
    step = step_named(workflow, "plan", "Validate environments and image tag")
    context = {
        "github.event_name": "workflow_dispatch",
        "inputs.environments": '[ "hml", "prod","hml" ]',
        "inputs.image_tag": "0123456789ab",
        "github.sha": COMMIT,
        "github.ref": MAIN,
    }
    completed, written = run_step(step, context, tmp_path, {})
    assert completed.returncode == 0, completed.stderr
    assert outputs(written) == {
        "environments": '["hml","prod"]',
        "image_tag": "0123456789ab",
        "build": "false",
    }


HOSTILE_ENVIRONMENTS = [
    '["dev"]; touch {marker}',
    '["dev$(touch {marker})"]',
    '["dev`touch {marker}`"]',
    '["dev", "prod\\"; touch {marker}; \\""]',
    '["dev"]\nbuild=true',
    '["d\\u0065v"]',
    '[["dev"]]',
    '["dev",]',
    "[]",
    "dev",
    '["local"]',
    '["staging"]',
    '["DEV"]',
    '"dev"',
]
HOSTILE_TAGS = [
    "$(touch {marker})",
    "`touch {marker}`",
    "v1; touch {marker}",
    "v1\nbuild=true",
    "::set-env name=X::1",
    "-rf",
    ".hidden",
    "a/b",
    "a b",
    "x" * 129,
]


@pytest.mark.parametrize("environments", HOSTILE_ENVIRONMENTS)
def test_hostile_environments_input_is_rejected_without_output(
    workflow: dict, tmp_path: Path, environments: str
) -> None:
    assert_rejected(workflow, tmp_path, environments, "")


@pytest.mark.parametrize("image_tag", HOSTILE_TAGS)
def test_hostile_image_tag_is_rejected_without_output(
    workflow: dict, tmp_path: Path, image_tag: str
) -> None:
    assert_rejected(workflow, tmp_path, '["dev"]', image_tag)


def assert_rejected(workflow: dict, tmp_path: Path, environments: str, image_tag: str) -> None:
    marker = tmp_path / "pwned"
    step = step_named(workflow, "plan", "Validate environments and image tag")
    context = {
        "github.event_name": "workflow_dispatch",
        "inputs.environments": environments.format(marker=marker),
        "inputs.image_tag": image_tag.format(marker=marker),
        "github.sha": COMMIT,
        "github.ref": MAIN,
    }
    completed, written = run_step(step, context, tmp_path, {})
    assert completed.returncode != 0
    assert "::error title=Invalid deploy input::" in completed.stderr
    assert written == "", "nothing reaches GITHUB_OUTPUT"
    assert not marker.exists(), "the input was executed"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"EVENT_NAME": "pull_request_target", "INPUT_ENVIRONMENTS": '["dev"]'}, "unsupported"),
        ({"EVENT_NAME": "push", "COMMIT_SHA": "HEAD"}, "COMMIT_SHA must be"),
        (
            {"EVENT_NAME": "workflow_dispatch", "INPUT_ENVIRONMENTS": '["prod"]'}
            | {"ALLOWED_ENVIRONMENTS": "dev hml"},
            "unknown environment",
        ),
    ],
)
def test_validator_refuses_other_events_bad_commits_and_unlisted_environments(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    completed = validate(tmp_path, **env)
    assert completed.returncode == 1
    assert message in completed.stderr
    assert completed.stdout == ""


def test_deploy_recheck_step_rejects_a_tampered_target(workflow: dict, tmp_path: Path) -> None:
    step = step_named(workflow, "deploy", "Re-check the target")
    context = {"github.sha": COMMIT, "github.ref": MAIN}
    ok, _ = run_step(step, context, tmp_path, {"DEPLOY_ENV": "hml", "IMAGE_TAG": "abc"})
    assert ok.returncode == 0, ok.stderr
    bad, _ = run_step(step, context, tmp_path, {"DEPLOY_ENV": 'dev"]', "IMAGE_TAG": "abc"})
    assert bad.returncode != 0


@pytest.mark.parametrize(
    ("environments", "ref", "allowed"),
    [
        ('["dev"]', "refs/heads/feature-x", True),
        ('["hml"]', "refs/heads/feature-x", False),
        ('["dev","prod"]', "refs/heads/feature-x", False),
        ('["prod"]', "refs/tags/v1", False),
        ('["prod"]', "refs/heads/mainline", False),
        ('["prod"]', "", False),
        ('["hml","prod"]', MAIN, True),
    ],
)
def test_hml_and_prod_deploy_only_from_main(
    workflow: dict, tmp_path: Path, environments: str, ref: str, allowed: bool
) -> None:
    step = step_named(workflow, "plan", "Validate environments and image tag")
    context = {
        "github.event_name": "workflow_dispatch",
        "inputs.environments": environments,
        "inputs.image_tag": "",
        "github.sha": COMMIT,
        "github.ref": ref,
    }
    completed, written = run_step(step, context, tmp_path, {})
    if allowed:
        assert completed.returncode == 0, completed.stderr
        assert outputs(written)["environments"] == environments
    else:
        assert completed.returncode == 1
        assert "deploys only from refs/heads/main" in completed.stderr
        assert written == ""


def test_the_recheck_step_holds_the_main_only_rule_too(workflow: dict, tmp_path: Path) -> None:
    step = step_named(workflow, "deploy", "Re-check the target")
    context = {"github.sha": COMMIT, "github.ref": "refs/heads/feature-x"}
    dev, _ = run_step(step, context, tmp_path, {"DEPLOY_ENV": "dev", "IMAGE_TAG": "abc"})
    assert dev.returncode == 0, dev.stderr
    prod, _ = run_step(step, context, tmp_path, {"DEPLOY_ENV": "prod", "IMAGE_TAG": "abc"})
    assert prod.returncode == 1
    assert "deploys only from refs/heads/main" in prod.stderr
