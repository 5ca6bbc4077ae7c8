"""Network layer timings on the local emulator (a measurement, not a test).

    .venv/bin/python bench/network.py [--inventory local|prod] [--runs 3]

For each run, in a fresh environment name: the first converge from empty, then no-op re-runs,
then the same reads done by one boto3 process (what network_state reads). Prints medians and
the ratio no-op / boto3. Uses a private emulator (its own state directory), stopped at the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO_ROOT), str(REPO_ROOT / "collections")]

import boto3  # noqa: E402
from ansible_collections.django_ecs.aws.plugins.filter.cidr import carve_subnets  # noqa: E402
from ansible_collections.django_ecs.aws.plugins.module_utils.network_state import (  # noqa: E402
    DesiredNetwork,
    ObservedNetwork,
)
from ansible_collections.django_ecs.aws.plugins.modules.network_state import (  # noqa: E402
    read_nat_role,
    read_vpc,
)

from tools.emulator import launcher  # noqa: E402

INVENTORY_VALUES = {
    "local": {"service": "djg", "client": "ander", "cidr": "10.10.0.0/16", "azs": "ab"},
    "prod": {"service": "django", "client": "and", "cidr": "10.30.0.0/16", "azs": "abc"},
}


def timed_playbook(inventory: str, env_name: str, env: dict[str, str]) -> float:
    started = time.perf_counter()
    completed = subprocess.run(
        [
            "ansible-playbook",
            "playbooks/network.yml",
            "-i",
            f"inventories/{inventory}",
            "-e",
            f"env_name={env_name}",
            "-e",
            "aws_endpoint_required=true",
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if completed.returncode != 0:
        sys.exit(f"ansible-playbook failed:\n{completed.stdout[-3000:]}")
    return elapsed


def timed_boto3_reads(inventory: str, env_name: str) -> float:
    values = INVENTORY_VALUES[inventory]
    desired = DesiredNetwork(
        naming={"env": env_name, "service": values["service"], "client": values["client"]},
        tags={},
        vpc_cidr=values["cidr"],
        subnets=carve_subnets(values["cidr"], [f"us-east-1{z}" for z in values["azs"]]),
        nat_instance_state="present" if inventory == "local" else "ignore",
    )
    started = time.perf_counter()
    session = boto3.session.Session(region_name="us-east-1")
    observed = ObservedNetwork()
    read_vpc(session.client("ec2"), desired, observed)
    if inventory == "local":
        read_nat_role(session.client("iam"), desired, observed)
    assert observed.vpc is not None, "the VPC should exist"
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inventory", choices=sorted(INVENTORY_VALUES), default="local")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with launcher.session("bench-network-") as env:
        first, noop, reads = [], [], []
        for run in range(args.runs):
            env_name = f"bench{run}"
            first.append(timed_playbook(args.inventory, env_name, env))
            noop.append(timed_playbook(args.inventory, env_name, env))
            reads.append(timed_boto3_reads(args.inventory, env_name))
        report(args.inventory, first, noop, reads)


def report(inventory: str, first: list[float], noop: list[float], reads: list[float]) -> None:
    median = statistics.median
    print(f"network layer, inventory {inventory}, {len(first)} runs, load {os.getloadavg()[0]:.1f}")
    for label, values in (
        ("first converge", first),
        ("no-op re-run", noop),
        ("boto3 reads", reads),
    ):
        print(f"  {label:15} median {median(values):7.2f} s   runs {[round(v, 2) for v in values]}")
    print(f"  no-op / boto3 reads: {median(noop) / median(reads):.1f}x")


if __name__ == "__main__":
    main()
