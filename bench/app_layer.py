"""App layer and full-stack timings on the local emulator (a measurement, not a test).

    .venv/bin/python bench/app_layer.py [--runs 1]

In a fresh environment name per run (dev values, inventories/local): the full stack's first
converge (site.yml), its no-op re-run, the app layer's no-op re-run,
an image roll-out (a new image_tag: build, push, new revision, migration task, service update),
each beside one boto3 process reading the state a converged check needs. Uses the emulator named
by AWS_ENDPOINT_URL (it must carry the app-layer emulator patches), else starts a private one.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO_ROOT), str(REPO_ROOT / "collections")]

import boto3  # noqa: E402

from tools.emulator import launcher  # noqa: E402

EMULATOR_VARS = ["aws_endpoint_required=true"]
SERVICE, CLIENT = "djg", "ander"


def playbooks(names: list[str], env_name: str, env: dict[str, str], *extra: str) -> float:
    """Run site.yml or playbooks/<name>.yml in turn; seconds for all of them."""
    started = time.perf_counter()
    for name in names:
        path = "site.yml" if name == "site" else f"playbooks/{name}.yml"
        args = ["ansible-playbook", path, "-i", "inventories/local"]
        for value in [f"env_name={env_name}", *EMULATOR_VARS, *extra]:
            args += ["-e", value]
        done = subprocess.run(
            args, cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            sys.exit(f"{name} failed:\n{done.stdout[-3000:]}")
    return time.perf_counter() - started


def app_reads(env_name: str) -> int:
    """The reads a converged app layer needs, one boto3 process; returns the call count."""

    def name(part: str) -> str:
        return f"{env_name}-{SERVICE}-{part}-{CLIENT}"

    session = boto3.session.Session(region_name="us-east-1")
    calls: list[str] = []
    session.events.register("before-call", lambda model, **_: calls.append(model.name))
    ecs, elb, iam = session.client("ecs"), session.client("elbv2"), session.client("iam")
    ecr, ec2 = session.client("ecr"), session.client("ec2")
    ecr.describe_repositories(repositoryNames=[name("ecr")])
    ecr.batch_get_image(repositoryName=name("ecr"), imageIds=[{"imageTag": "latest"}])
    ecs.describe_clusters(clusters=[name("cluster")], include=["SETTINGS", "TAGS"])
    balancer = elb.describe_load_balancers(Names=[name("alb")])["LoadBalancers"][0]
    elb.describe_load_balancer_attributes(LoadBalancerArn=balancer["LoadBalancerArn"])
    elb.describe_listeners(LoadBalancerArn=balancer["LoadBalancerArn"])
    elb.describe_target_groups(Names=[name("tg")])
    ec2.describe_security_groups(
        Filters=[{"Name": "group-name", "Values": [name("alb-sg"), name("app-sg")]}]
    )
    for role in ("ecs-execution-role", "ecs-task-role"):
        iam.get_role(RoleName=name(role))
        iam.list_role_policies(RoleName=name(role))
    session.client("secretsmanager").describe_secret(SecretId=name("django-secret-key"))
    session.client("rds").describe_db_instances(DBInstanceIdentifier=name("db"))
    service = ecs.describe_services(cluster=name("cluster"), services=[name("service")])
    ecs.describe_task_definition(taskDefinition=service["services"][0]["taskDefinition"])
    scaling = session.client("application-autoscaling")
    scaling.describe_scalable_targets(ServiceNamespace="ecs")
    scaling.describe_scaling_policies(ServiceNamespace="ecs")
    return len(calls)


def timed(reads: Callable[[], int]) -> tuple[float, int]:
    started = time.perf_counter()
    calls = reads()
    return time.perf_counter() - started, calls


def environment() -> dict[str, str]:
    if not os.environ.get("AWS_ENDPOINT_URL"):
        os.environ["DJANGO_ECS_EMULATOR_DIR"] = tempfile.mkdtemp(prefix="bench-app-")
        os.environ.update(launcher.env_vars(launcher.start()))
    return {
        **os.environ,
        "ANSIBLE_NOCOLOR": "1",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    env = environment()
    results: dict[str, list[float]] = {}
    calls = 0
    stack = ["site"]
    for run in range(args.runs):
        env_name = f"bencha{run}{int(time.time()) % 1000}"
        measured = {
            "full stack, first converge": playbooks(stack, env_name, env),
            "full stack, no-op re-run": playbooks(stack, env_name, env),
            "app layer, no-op re-run": playbooks(["app"], env_name, env),
            "image roll-out (new tag)": playbooks(["app"], env_name, env, "image_tag=bench2"),
        }
        elapsed, calls = timed(lambda env_name=env_name: app_reads(env_name))
        measured[f"boto3 reads of the app layer ({calls} calls)"] = elapsed
        for label, value in measured.items():
            results.setdefault(label, []).append(value)
    print(f"app layer, inventory local (dev), {args.runs} runs, load {os.getloadavg()[0]:.1f}")
    for label, values in results.items():
        runs = [round(value, 2) for value in values]
        print(f"  {label:44} median {statistics.median(values):7.2f} s   runs {runs}")


if __name__ == "__main__":
    main()
