"""What the workflow tests share: the workflow files as Actions reads them, and their steps run
with bash the way a runner runs them (expressions in `env:` resolved, the script untouched)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS_DIR = REPO_ROOT / ".github" / "workflows"
WORKFLOW_FILES = sorted(WORKFLOWS_DIR.glob("*.yml"))
VALIDATOR = REPO_ROOT / ".github" / "scripts" / "validate_inputs.sh"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
MAIN = "refs/heads/main"
EXPRESSION = re.compile(r"\$\{\{\s*([^}]+?)\s*\}\}")


def load(name: str) -> dict[str, Any]:
    return yaml.safe_load((WORKFLOWS_DIR / name).read_text())


def all_steps(workflow: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (job_id, step) for job_id, job in workflow["jobs"].items() for step in job.get("steps", [])
    ]


def step_named(workflow: dict[str, Any], job_id: str, prefix: str) -> dict[str, Any]:
    matches = [s for s in workflow["jobs"][job_id]["steps"] if s.get("name", "").startswith(prefix)]
    assert len(matches) == 1, f"{job_id}: one step named {prefix!r}"
    return matches[0]


def run_step(
    step: dict[str, Any],
    context: dict[str, str],
    tmp_path: Path,
    extra_env: dict[str, str],
    path_prefix: Path | None = None,
) -> tuple[subprocess.CompletedProcess[str], str]:
    """Run a step's script as Actions would: ${{ }} in env values resolved, the script untouched.

    `path_prefix` puts stand-ins (a recording `docker`) ahead of the real PATH.
    """

    def resolve(value: str) -> str:
        return EXPRESSION.sub(lambda m: context[m.group(1)], str(value))

    output_file = tmp_path / "github_output"
    output_file.write_text("")
    search_path = os.environ["PATH"]
    if path_prefix is not None:
        search_path = f"{path_prefix}{os.pathsep}{search_path}"
    env = {
        "PATH": search_path,
        "GITHUB_OUTPUT": str(output_file),
        **{key: resolve(value) for key, value in step.get("env", {}).items()},
        **extra_env,
    }
    completed = subprocess.run(
        # GitHub's default shell for run: on Linux.
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return completed, output_file.read_text()
