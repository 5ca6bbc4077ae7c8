"""ci.yml (the README's test command on pull requests and pushes) and infra.yml (the network and
data layers, by hand): what they run, where, and who may run them. Their scripts run with bash
as a runner would (a recording `ansible-playbook`, the real validation script)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.workflow.workflows import (
    COMMIT,
    EXPRESSION,
    MAIN,
    WORKFLOWS_DIR,
    load,
    run_step,
    step_named,
)


@pytest.fixture(scope="module")
def ci() -> dict[str, Any]:
    return load("ci.yml")


@pytest.fixture(scope="module")
def infra() -> dict[str, Any]:
    return load("infra.yml")


# --- ci.yml -------------------------------------------------------------------------------------


def test_ci_runs_on_every_pull_request_and_push(ci: dict) -> None:
    assert ci["on"] == {"pull_request": None, "push": None}


def test_ci_runs_the_readmes_test_command_and_holds_no_credential(ci: dict) -> None:
    (job,) = ci["jobs"].values()
    runs = [step["run"] for step in job["steps"] if "run" in step]
    assert runs == ['sudo env "PATH=${PATH}" CI=true scripts/test'], "all stages, as the README"
    assert "environment" not in job
    assert "secrets." not in (Path(__file__).parents[2] / ".github/workflows/ci.yml").read_text()
    assert job["timeout-minutes"] <= 90


def test_a_newer_push_supersedes_the_running_ci(ci: dict) -> None:
    assert ci["concurrency"] == {
        "group": "ci-${{ github.workflow }}-${{ github.ref }}",
        "cancel-in-progress": True,
    }


# --- infra.yml ----------------------------------------------------------------------------------


def test_infra_is_manual_only_with_a_closed_list_of_environments(infra: dict) -> None:
    assert set(infra["on"]) == {"workflow_dispatch"}
    inputs = infra["on"]["workflow_dispatch"]["inputs"]
    assert inputs["environment"]["type"] == "choice"
    assert inputs["environment"]["options"] == ["dev", "hml", "prod"]
    assert inputs["plan_only"] == {
        "description": inputs["plan_only"]["description"],
        "type": "boolean",
        "default": True,
    }, "a dispatch plans unless told to apply"


def test_infra_deploys_in_its_environment_after_the_gate(infra: dict) -> None:
    deploy = infra["jobs"]["deploy"]
    assert deploy["needs"] == ["gate"]
    assert deploy["environment"] == "${{ inputs.environment }}-infra"
    # Shared with deploy.yml: one Ansible run per environment at a time, never cancelled.
    assert deploy["concurrency"] == {
        "group": "deploy-${{ inputs.environment }}",
        "cancel-in-progress": False,
    }
    assert load("deploy.yml")["jobs"]["deploy"]["concurrency"]["group"] == (
        "deploy-${{ matrix.environment }}"
    )
    assert "permissions" not in infra["jobs"]["gate"], "the gate holds no OIDC token"
    names = [step.get("name", "") for step in deploy["steps"]]
    order = ["Re-check the target", "Assume the infra role", "Deploy the network and data"]
    positions = [next(i for i, n in enumerate(names) if n.startswith(p)) for p in order]
    assert positions == sorted(positions), names


def resolve(expression: str, context: dict[str, str]) -> str:
    return EXPRESSION.sub(lambda match: context[match.group(1)], expression)


def test_infra_assumes_the_infra_role_of_its_own_infra_environment(infra: dict) -> None:
    """The app deploy role (bootstrap_ci) may not touch the network and data layers, so infra.yml
    assumes another role, from another GitHub environment: <env>-infra's AWS_INFRA_ROLE_TO_ASSUME.
    The OIDC subject is repo:<owner>/<repo>:environment:<job environment>, so no environment
    either workflow runs in may be shared, or one job's token would satisfy the other's trust."""
    job = infra["jobs"]["deploy"]
    step = step_named(infra, "deploy", "Assume the infra role")
    assert step["with"]["role-to-assume"] == "${{ secrets.AWS_INFRA_ROLE_TO_ASSUME }}"
    targets = infra["on"]["workflow_dispatch"]["inputs"]["environment"]["options"]
    infra_environments = {
        resolve(job["environment"], {"inputs.environment": target}) for target in targets
    }
    assert infra_environments == {"dev-infra", "hml-infra", "prod-infra"}

    app_job = load("deploy.yml")["jobs"]["deploy"]
    app_environments = {
        resolve(app_job["environment"], {"matrix.environment": target}) for target in targets
    }
    assert app_environments == {"dev", "hml", "prod"}
    assert not infra_environments & app_environments


def test_the_app_deploy_never_reads_the_infra_role() -> None:
    assert "AWS_INFRA_ROLE_TO_ASSUME" not in (WORKFLOWS_DIR / "deploy.yml").read_text()


def recording_playbook(tmp_path: Path) -> tuple[Path, Path]:
    """A checkout-like directory whose .venv/bin/ansible-playbook records its arguments."""
    work, record = tmp_path / "work", tmp_path / "argv"
    (work / ".venv" / "bin").mkdir(parents=True)
    playbook = work / ".venv" / "bin" / "ansible-playbook"
    playbook.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{record}"\n')
    playbook.chmod(0o755)
    return work, record


@pytest.mark.parametrize(("plan_only", "mode"), [("true", ["--check", "--diff"]), ("false", [])])
def test_infra_runs_site_yml_for_the_network_and_data_layers(
    infra: dict, tmp_path: Path, plan_only: str, mode: list[str]
) -> None:
    step = step_named(infra, "deploy", "Deploy the network and data layers")
    work, record = recording_playbook(tmp_path)
    script = {"run": f'cd "{work}"\n' + step["run"]}
    completed, _ = run_step(script, {}, tmp_path, {"DEPLOY_ENV": "hml", "PLAN_ONLY": plan_only})
    assert completed.returncode == 0, completed.stderr
    assert record.read_text().splitlines() == [
        "site.yml",
        "-i",
        "inventories/hml",
        "--tags",
        "network,data",
        *mode,
    ]


@pytest.mark.parametrize(
    ("environment", "ref", "allowed"),
    [
        ("dev", "refs/heads/feature-x", True),
        ("hml", "refs/heads/feature-x", False),
        ("prod", "refs/heads/feature-x", False),
        ("prod", MAIN, True),
        ("staging", MAIN, False),
        ('dev"]; touch pwned; ["', MAIN, False),
    ],
)
def test_infra_gate_refuses_hml_and_prod_off_main_and_unknown_targets(
    infra: dict, tmp_path: Path, environment: str, ref: str, allowed: bool
) -> None:
    context = {"inputs.environment": environment, "github.sha": COMMIT, "github.ref": ref}
    gate = step_named(infra, "gate", "Check the environment and the branch")
    recheck = step_named(infra, "deploy", "Re-check the target")
    for step, extra in ((gate, {}), (recheck, {"DEPLOY_ENV": environment})):
        completed, _ = run_step(step, context, tmp_path, extra)
        assert (completed.returncode == 0) is allowed, completed.stderr
        assert not (tmp_path / "pwned").exists()
        assert not (Path(__file__).parents[2] / "pwned").exists()
