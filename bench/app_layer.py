"""Whole-stack timings and AWS request counts on the local emulator (a measurement, not a test).

    .venv/bin/python bench/app_layer.py [--inventory local|prod] [--runs 3]

Per run, in a fresh environment name: the full stack's first converge (site.yml), two no-op
re-runs, the app layer's no-op re-run and an image roll-out (a new image_tag: build, push, new
revision, migration task, service update; prod values deploy what CI published, so there the
publish, playbooks/image.yml on hml, the repository's manager, is timed on its own line). Each
is timed and its AWS requests are counted (the emulator's request log), beside the floor
measured in the same run: one boto3 process reading every resource the roles recorded (what a
converged check must read, the same readers converged_state uses) plus the network layer's read.
Uses the emulator named by AWS_ENDPOINT_URL (its state directory must be
DJANGO_ECS_EMULATOR_DIR), else starts a private one; DJANGO_ECS_EMULATOR_REQUEST_LATENCY_MS=50
there gives every request an AWS-like round trip (tools/emulator/README.md).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO_ROOT), str(REPO_ROOT / "collections")]

import boto3  # noqa: E402
from ansible_collections.django_ecs.aws.plugins.module_utils.converged import (  # noqa: E402
    decode_stamp,
)
from ansible_collections.django_ecs.aws.plugins.module_utils.live_resources import (  # noqa: E402
    live_fingerprints,
)

from tools.emulator import launcher  # noqa: E402

EMULATOR_VARS = ["aws_endpoint_required=true"]
NAMING = {"local": ("djg", "ander"), "prod": ("django", "and")}


def emulator_requests() -> int:
    """Requests the emulator has served so far (its access log has one line per request)."""
    log = Path(os.environ["DJANGO_ECS_EMULATOR_DIR"]) / "logs" / "moto.log"
    with log.open(errors="replace") as lines:
        return sum(1 for line in lines if '"POST ' in line or '"GET ' in line or '"PUT ' in line)


def scenario_vars(inventory: str, env_name: str) -> list[str]:
    """prod values need what stack_prod's users set: its extra vars, under this run's name."""
    if inventory != "prod":
        return [f"env_name={env_name}"]
    return [f"@{os.environ['MOLECULE_SCENARIO_DIRECTORY']}/extra_vars.yml"]


def prepare_prod(env_name: str, env: dict[str, str]) -> None:
    """The shared repository with a published image and the HTTPS certificate, as
    molecule/stack_prod prepares them (hml manages the repository, CI publishes), here under
    this run's environment name."""
    scenario = Path(tempfile.mkdtemp(prefix="bench-prod-"))
    text = (REPO_ROOT / "molecule/stack_prod/extra_vars.yml").read_text()
    text = text.replace("env_name: appprod", f"env_name: {env_name}")
    text = text.replace("app_repository_name: appprod-", f"app_repository_name: {env_name}-")
    (scenario / "extra_vars.yml").write_text(text)
    for name in ("MOLECULE_SCENARIO_DIRECTORY", "MOLECULE_EPHEMERAL_DIRECTORY"):
        env[name] = os.environ[name] = str(scenario)
    playbook("molecule/shared/prepare.yml", "prod", env_name, env)


def playbook(
    name: str,
    inventory: str,
    env_name: str,
    env: dict[str, str],
    *extra: str,
    scenario: str | None = None,
) -> tuple[float, int]:
    """Run site.yml or <name>.yml (a path under the repository); seconds and AWS requests.
    `scenario` names the inventory whose scenario values apply, when not `inventory` itself."""
    path = "site.yml" if name == "site" else name if "/" in name else f"playbooks/{name}.yml"
    args = ["ansible-playbook", path, "-i", f"inventories/{inventory}"]
    for value in [*scenario_vars(scenario or inventory, env_name), *EMULATOR_VARS, *extra]:
        args += ["-e", value]
    before = emulator_requests()
    started = time.perf_counter()
    done = subprocess.run(args, cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{name} failed:\n{done.stdout[-3000:]}")
    return elapsed, emulator_requests() - before


def floor_reads(inventory: str, env_name: str) -> tuple[float, int]:
    """One boto3 process: every stamp of the stack and every resource it lists, plus the VPC."""
    service, client_name = NAMING[inventory]
    session = boto3.session.Session(region_name="us-east-1")
    calls: list[str] = []
    session.events.register("before-call", lambda model, **_: calls.append(model.name))
    clients: dict[str, Any] = {}
    creating = threading.Lock()

    def client(name: str) -> Any:
        # Thread-safe, as live_fingerprints needs (it reads concurrently); one client per service.
        with creating:
            if name not in clients:
                clients[name] = session.client(name)
        return clients[name]

    started = time.perf_counter()
    path = f"/{env_name}-{service}-converged-{client_name}"
    pages = client("ssm").get_paginator("get_parameters_by_path").paginate(Path=path)
    for page in pages:
        for parameter in page["Parameters"]:
            stamp = decode_stamp(parameter["Value"]) or {}
            live_fingerprints(client, stamp.get("resources", []))
    vpc_name = f"{env_name}-{service}-vpc-{client_name}"
    vpc = client("ec2").describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [vpc_name]}])["Vpcs"][
        0
    ]
    for describe in ("describe_subnets", "describe_route_tables", "describe_security_groups"):
        getattr(client("ec2"), describe)(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])
    return time.perf_counter() - started, len(calls)


def one_run(inventory: str, run: int, env: dict[str, str]) -> dict[str, tuple[float, int]]:
    env_name = f"bench{inventory[0]}{run}{int(time.time()) % 1000}"
    if inventory == "prod":
        prepare_prod(env_name, env)
    measured = {"full stack, first converge": playbook("site", inventory, env_name, env)}
    # The first re-run may still finish what settles after a first deploy (records of parts
    # whose resources were still changing); the second is the steady-state no-op.
    measured["full stack, first re-run"] = playbook("site", inventory, env_name, env)
    measured["full stack, no-op re-run"] = playbook("site", inventory, env_name, env)
    measured["floor: one boto3 read of it all"] = floor_reads(inventory, env_name)
    measured["app layer, no-op re-run"] = playbook("app", inventory, env_name, env)
    if inventory == "prod":
        # prod deploys what CI published beforehand (it does not build on deploy): the publish
        # runs on the repository's managing environment (hml), as molecule/stack_prod's prepare.
        measured["image publish (image.yml on hml)"] = playbook(
            "image", "hml", env_name, env, "image_tag=bench2", scenario="prod"
        )
    measured["image roll-out (new tag)"] = playbook(
        "app", inventory, env_name, env, "image_tag=bench2"
    )
    return measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inventory", choices=sorted(NAMING), default="local")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    results: dict[str, list[tuple[float, int]]] = {}
    with launcher.session("bench-stack-", reuse_named=True) as env:
        for run in range(args.runs):
            for label, value in one_run(args.inventory, run, env).items():
                results.setdefault(label, []).append(value)
    print(
        f"whole stack, inventory {args.inventory}, {args.runs} runs, load {os.getloadavg()[0]:.1f}"
    )
    for label, values in results.items():
        seconds = [round(value[0], 2) for value in values]
        requests = [value[1] for value in values]
        print(
            f"  {label:34} median {statistics.median(seconds):7.2f} s  runs {seconds}"
            f"  requests median {statistics.median(requests):6.0f}  runs {requests}"
        )


if __name__ == "__main__":
    main()
