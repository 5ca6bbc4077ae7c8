"""What the converged-stack tests use (tests/playbooks/test_converged_stack.py): a fresh
environment on the emulator, its runs (every one logged to one file, as molecule logs a
scenario's), and each part's comparison result (the `_<part>_converged` fact its compare task
sets)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import boto3

from tests.ci.deploy_policy import recording_env
from tests.playbooks.runner import REPO_ROOT, PlaybookRun, run_playbook

RECAP = re.compile(r"localhost\s+:\s+ok=\d+\s+changed=(\d+)")


def client(service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=os.environ["AWS_ENDPOINT_URL"],
        region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
    )


class Stack:
    def __init__(self, tmp_path: Path, prefix: str) -> None:
        self.env = prefix + uuid.uuid4().hex[:6]
        self.directory = tmp_path
        self.outputs = tmp_path / "outputs"
        # The AWS calls of the app layer's first converge (tests/ci/deploy_policy.py's format).
        self.app_calls = tmp_path / "app-calls.jsonl"
        # Every run on this environment logs its task results here (-v), as molecule's
        # ANSIBLE_LOG_PATH does: the data verify scans it for the admin password.
        self.log = tmp_path / "ansible.log"

    def env_vars(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """What every run on this environment gets: its outputs directory and the shared log."""
        return {
            "DJANGO_ECS_OUTPUTS_DIR": str(self.outputs),
            "ANSIBLE_LOG_PATH": str(self.log),
            "ANSIBLE_VERBOSITY": "1",
            **(extra or {}),
        }

    def name(self, part: str) -> str:
        return f"{self.env}-djg-{part}-ander"

    def run(
        self,
        playbook: str,
        *args: str,
        json_output: bool = False,
        env: dict[str, str] | None = None,
    ) -> PlaybookRun:
        run = run_playbook(
            playbook,
            "local",
            "-e",
            json.dumps({"aws_endpoint_required": True, "env_name": self.env}),
            *args,
            endpoint=os.environ["AWS_ENDPOINT_URL"],
            json_output=json_output,
            env=self.env_vars(env),
        )
        assert run.returncode == 0, run.output[-4000:]
        return run

    def deploy_local(self, *args: str, env: dict[str, str] | None = None) -> int:
        """The README's first command on this environment (scripts/deploy-local passes its
        arguments on to site.yml); returns the recap's changed count."""
        completed = subprocess.run(
            ["scripts/deploy-local", "-e", json.dumps({"env_name": self.env}), *args],
            cwd=REPO_ROOT,
            env={
                **os.environ,
                "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
                "ANSIBLE_NOCOLOR": "1",
                **self.env_vars(env),
            },
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        output = completed.stdout + completed.stderr
        assert completed.returncode == 0, output[-4000:]
        recap = RECAP.search(output)
        assert recap, output[-4000:]
        return int(recap.group(1))

    def outputs_of(self, layer: str) -> dict[str, Any]:
        return json.loads((self.outputs / f"{layer}.json").read_text())

    def compare(
        self, playbook: str, parts: list[str], env: dict[str, str] | None = None
    ) -> tuple[dict[str, dict[str, Any]], int]:
        """Each part's comparison result in one run of the playbook, and the run's changed count."""
        result = self.run(playbook, json_output=True, env=env).json_result()
        compared: dict[str, dict[str, Any]] = {}
        for play in result["plays"]:
            for task in play["tasks"]:
                facts = task["hosts"].get("localhost", {}).get("ansible_facts", {})
                for part in parts:
                    if f"_{part}_converged" in facts:
                        compared[part] = facts[f"_{part}_converged"]
        assert set(compared) == set(parts), sorted(compared)
        return compared, result["stats"]["localhost"]["changed"]


def assert_all_skipped(compared: dict[str, dict[str, Any]], changed: int) -> None:
    for part, result in compared.items():
        assert result["in_sync"], (part, result["reasons"])
        assert result["reasons"] == [], (part, result["reasons"])
    assert changed == 0


def converge(stack: Stack) -> Stack:
    """The stack converged with `scripts/deploy-local`, layer by layer as the delivery documents
    it: the network and data layers first, then the app layer (image build and publish included,
    as the local inventory builds on deploy) with its AWS calls recorded for the deploy role's
    policy test."""
    stack.deploy_local("--tags", "network,data")
    stack.deploy_local("--tags", "app", env=recording_env(stack.app_calls))
    return stack
