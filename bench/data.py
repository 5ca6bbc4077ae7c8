"""Data layer timings on the local emulator (a measurement, not a test).

    .venv/bin/python bench/data.py [--inventory local|prod] [--runs 2]

For each run, in a fresh environment name: the network layer (not timed), then the data layer's
first converge from empty, a no-op re-run, and the reads a converged check needs done by one
boto3 process (instance and replica, security groups, subnet and parameter groups, secret,
function, role, log group). Prints medians and the ratio no-op / boto3. Uses a private emulator
(its own state directory), stopped at the end.
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

from tools.emulator import launcher  # noqa: E402

NAMING = {"local": ("djg", "ander"), "prod": ("django", "and")}


def playbook(name: str, inventory: str, env_name: str, env: dict[str, str]) -> float:
    extra = [f"env_name={env_name}", "aws_endpoint_required=true"]
    args = ["ansible-playbook", f"playbooks/{name}.yml", "-i", f"inventories/{inventory}"]
    for value in extra:
        args += ["-e", value]
    started = time.perf_counter()
    completed = subprocess.run(
        args, cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - started
    if completed.returncode != 0:
        sys.exit(f"{name} failed:\n{completed.stdout[-3000:]}")
    return elapsed


def timed_boto3_reads(inventory: str, env_name: str) -> tuple[float, int]:
    service, client = NAMING[inventory]

    def name(part: str) -> str:
        return f"{env_name}-{service}-{part}-{client}"

    started = time.perf_counter()
    session = boto3.session.Session(region_name="us-east-1")
    rds, ec2 = session.client("rds"), session.client("ec2")
    iam = session.client("iam")
    instances = rds.describe_db_instances(
        Filters=[{"Name": "db-instance-id", "Values": [name("db"), name("db-replica")]}]
    )["DBInstances"]
    ec2.describe_security_groups(
        Filters=[
            {"Name": "group-name", "Values": [name("db"), name("db-clients"), name("db-init")]}
        ]
    )
    rds.describe_db_subnet_groups(DBSubnetGroupName=name("db"))
    rds.describe_db_parameters(DBParameterGroupName=name("postgres16"), Source="user")
    session.client("secretsmanager").describe_secret(SecretId=name("db-admin"))
    session.client("lambda").get_function(FunctionName=name("db-init"))
    iam.get_role(RoleName=name("db-init"))
    iam.get_role_policy(RoleName=name("db-init"), PolicyName="db-init")
    session.client("logs").describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{name('db-init')}")
    assert instances, "the instance should exist"
    return time.perf_counter() - started, 9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inventory", choices=sorted(NAMING), default="local")
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    with launcher.session("bench-data-") as env:
        first, noop, reads = [], [], []
        calls = 0
        for run in range(args.runs):
            env_name = f"benchd{run}"
            playbook("network", args.inventory, env_name, env)
            first.append(playbook("data", args.inventory, env_name, env))
            noop.append(playbook("data", args.inventory, env_name, env))
            elapsed, calls = timed_boto3_reads(args.inventory, env_name)
            reads.append(elapsed)
        report(args.inventory, first, noop, reads, calls)


def report(
    inventory: str, first: list[float], noop: list[float], reads: list[float], calls: int
) -> None:
    median = statistics.median
    print(f"data layer, inventory {inventory}, {len(first)} runs, load {os.getloadavg()[0]:.1f}")
    for label, values in (
        ("first converge", first),
        ("no-op re-run", noop),
        (f"boto3 reads ({calls} calls)", reads),
    ):
        print(f"  {label:24} median {median(values):7.2f} s   runs {[round(v, 2) for v in values]}")
    print(f"  no-op / boto3 reads: {median(noop) / median(reads):.1f}x")


if __name__ == "__main__":
    main()
