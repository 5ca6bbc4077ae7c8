"""Run ansible-playbook from the checkout and capture what it printed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
# Nothing listens on the discard port: any AWS call made by a play fails loudly with
# "Could not connect to the endpoint URL", which the bad-input tests assert never happens.
DEAD_ENDPOINT = "http://127.0.0.1:9"
NO_AWS_CALL_MARKERS = ("Could not connect to the endpoint URL", "EndpointConnectionError")


@dataclass
class PlaybookRun:
    returncode: int
    output: str

    def json_result(self) -> dict[str, Any]:
        return json.loads(self.output[self.output.index("{") :])

    def assert_failed_before_aws(self, *expected: str) -> None:
        """The run failed, printed every ``expected`` text and made no AWS call (dead endpoint)."""
        assert self.returncode != 0, self.output
        for text in expected:
            assert text in self.output, self.output
        for marker in NO_AWS_CALL_MARKERS:
            assert marker not in self.output, self.output


def run_playbook(
    playbook: str,
    inventory: str,
    *extra_args: str,
    endpoint: str = DEAD_ENDPOINT,
    json_output: bool = False,
    env: dict[str, str] | None = None,
) -> PlaybookRun:
    run_env = {
        **os.environ,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", "testing"),
        "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", "testing"),
        "ANSIBLE_NOCOLOR": "1",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        **(env or {}),
    }
    if json_output:
        run_env["ANSIBLE_STDOUT_CALLBACK"] = "ansible.builtin.json"
    completed = subprocess.run(
        ["ansible-playbook", playbook, "-i", f"inventories/{inventory}", *extra_args],
        cwd=REPO_ROOT,
        env=run_env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    return PlaybookRun(completed.returncode, completed.stdout + completed.stderr)
