"""The GitHub Actions delivery workflow: structure, hardening, and its input validation.

The workflow cannot run here (no GitHub runner, no AWS); what can be checked is checked for
real: the YAML as Actions parses it, and the validation script run with bash on hostile input,
exactly as the workflow runs it (inputs in the environment, outputs appended to GITHUB_OUTPUT).
actionlint is not run: on PyPI it ships only as an sdist that downloads the binary from GitHub
at build time, and Debian has no package for it.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = REPO_ROOT / ".github" / "workflows" / "deploy.yml"
VALIDATOR = REPO_ROOT / ".github" / "scripts" / "validate_inputs.sh"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
PINNED = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+@[0-9a-f]{40}$")
UNTRUSTED_EXPRESSION = re.compile(r"\$\{\{[^}]*\b(github\.event|inputs|github\.head_ref)\b")


@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    return yaml.safe_load(WORKFLOW.read_text())


def all_steps(workflow: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(job_id, step) for job_id, job in workflow["jobs"].items() for step in job["steps"]]


def step_named(workflow: dict[str, Any], job_id: str, prefix: str) -> dict[str, Any]:
    matches = [s for s in workflow["jobs"][job_id]["steps"] if s.get("name", "").startswith(prefix)]
    assert len(matches) == 1, f"{job_id}: one step named {prefix!r}"
    return matches[0]


def run_step(
    step: dict[str, Any], context: dict[str, str], tmp_path: Path, extra_env: dict[str, str]
) -> tuple[subprocess.CompletedProcess[str], str]:
    """Run a step's script as Actions would: ${{ }} in env values resolved, the script untouched."""

    def resolve(value: str) -> str:
        return re.sub(r"\$\{\{\s*([^}]+?)\s*\}\}", lambda m: context[m.group(1)], str(value))

    output_file = tmp_path / "github_output"
    output_file.write_text("")
    env = {
        "PATH": os.environ["PATH"],
        "GITHUB_OUTPUT": str(output_file),
        **{key: resolve(value) for key, value in step.get("env", {}).items()},
        **extra_env,
    }
    completed = subprocess.run(
        ["bash", "-e", "-c", step["run"]],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return completed, output_file.read_text()


def validate(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {"PATH": os.environ["PATH"], "COMMIT_SHA": COMMIT, "HOME": str(tmp_path)}
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


# --- Triggers, permissions, pinning ---------------------------------------------------------


def test_push_to_main_and_manual_dispatch_with_environments_and_tag(workflow: dict) -> None:
    triggers = workflow["on"]
    assert triggers["push"] == {"branches": ["main"]}
    inputs = triggers["workflow_dispatch"]["inputs"]
    assert inputs["environments"]["type"] == "string"
    assert inputs["environments"]["default"] == '["dev"]'
    assert inputs["image_tag"]["required"] is False
    assert set(triggers) == {"push", "workflow_dispatch"}, "no pull_request_target or the like"


def test_no_untrusted_expression_inside_any_run_script(workflow: dict) -> None:
    for job_id, step in all_steps(workflow):
        script = step.get("run", "")
        assert not UNTRUSTED_EXPRESSION.search(script), f"{job_id}: {step.get('name')}"
        # Stricter than needed: no expression at all in scripts, everything goes through env.
        assert "${{" not in script, f"{job_id}: {step.get('name')} interpolates into shell"


def test_every_action_is_pinned_to_a_full_commit_sha(workflow: dict) -> None:
    used = [step["uses"] for _, step in all_steps(workflow) if "uses" in step]
    assert used, "the workflow uses actions"
    for reference in used:
        assert PINNED.match(reference), f"{reference} is not pinned to a 40-hex commit"


def test_permissions_are_minimal(workflow: dict) -> None:
    assert workflow["permissions"] == {"contents": "read"}
    for job_id, job in workflow["jobs"].items():
        permissions = job.get("permissions", workflow["permissions"])
        assert permissions != "write-all"
        writes = {scope for scope, level in permissions.items() if level == "write"}
        if job_id == "deploy":
            assert permissions == {"contents": "read", "id-token": "write"}
        else:
            assert writes == set(), f"{job_id} may write {writes}"


def test_checkout_never_keeps_the_token(workflow: dict) -> None:
    for job_id, step in all_steps(workflow):
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step["with"]["persist-credentials"] is False, job_id


# --- What the jobs do -----------------------------------------------------------------------


def test_tests_run_on_python_312_after_bootstrap(workflow: dict) -> None:
    steps = workflow["jobs"]["test"]["steps"]
    python = next(s for s in steps if s.get("uses", "").startswith("actions/setup-python@"))
    assert python["with"]["python-version"] == "${{ env.PYTHON_VERSION }}"
    assert workflow["env"]["PYTHON_VERSION"] == "3.12"
    runs = [s["run"] for s in steps if "run" in s]
    assert runs == ["scripts/bootstrap", "scripts/test lint pytest"]


def test_image_is_built_once_as_an_oci_archive_from_app(workflow: dict) -> None:
    build = workflow["jobs"]["build"]
    assert build["needs"] == ["plan", "test"]
    assert build["if"] == "needs.plan.outputs.build == 'true'"
    script = step_named(workflow, "build", "Build app/").get("run", "")
    assert "docker buildx build app/" in script
    assert '--output="type=oci,dest=${IMAGE_ARCHIVE}"' in script
    assert "--provenance=false" in script, "a single manifest, no attestation index"


def test_deploy_publishes_then_deploys_each_environment_behind_its_gate(workflow: dict) -> None:
    deploy = workflow["jobs"]["deploy"]
    condition = " ".join(deploy["if"].split())
    assert condition.startswith("!cancelled() && needs.plan.result == 'success'")
    assert "needs.test.result == 'success'" in condition
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


def test_aws_access_is_the_oidc_role_only(workflow: dict) -> None:
    step = step_named(workflow, "deploy", "Assume the deploy role")
    assert step["uses"].startswith("aws-actions/configure-aws-credentials@")
    assert step["with"]["role-to-assume"] == "${{ secrets.AWS_ROLE_TO_ASSUME }}"
    text = WORKFLOW.read_text()
    assert "aws-access-key-id" not in text and "AWS_SECRET_ACCESS_KEY" not in text


# --- The validation script, as the workflow runs it -------------------------------------------


def test_push_deploys_dev_with_the_short_commit_sha(workflow: dict, tmp_path: Path) -> None:
    step = step_named(workflow, "plan", "Validate environments and image tag")
    context = {
        "github.event_name": "push",
        "inputs.environments": "",
        "inputs.image_tag": "",
        "github.sha": COMMIT,
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
    context = {"github.sha": COMMIT}
    ok, _ = run_step(step, context, tmp_path, {"DEPLOY_ENV": "hml", "IMAGE_TAG": "abc"})
    assert ok.returncode == 0, ok.stderr
    bad, _ = run_step(step, context, tmp_path, {"DEPLOY_ENV": 'dev"]', "IMAGE_TAG": "abc"})
    assert bad.returncode != 0
