"""Verify the deployed service end to end on the emulator: HTTP through its load balancer.

Used by molecule/shared/verify_service.yml (every request goes to the emulated ALB's loopback
port with the load balancer's DNS name as Host, as a browser on AWS would send it):

    python -m tests.verify.service serves '<expected json>' [timeout]
        /, /healthz and /readyz answer through the ALB (HTTPS behind the HTTP redirect when the
        scenario has a certificate), and /readyz reports the image tag of the service's revision
        (and that tag is the expected json's `version`, when it has one)
    python -m tests.verify.service kill-task '<expected json>' <timeout>
        kill the container process of one of the service's tasks; the service replaces it and
        the replacement serves
    python -m tests.verify.service no-processes '<expected json>' [timeout]
        no container process of the environment's cluster is alive (after destroy)
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import ssl
import sys
import time
from dataclasses import dataclass
from typing import Any

import boto3

from tests.verify.app import name
from tests.verify.common import Checker, report
from tools.emulator import alb_dataplane, ecs_registry, launcher

REQUEST_TIMEOUT = 10


@dataclass
class Answer:
    status: int
    body: str
    location: str


@dataclass
class Listener:
    protocol: str
    local_port: int
    dns_name: str


def listeners(expected: dict[str, Any]) -> dict[str, Listener]:
    """The app load balancer's listeners by protocol, from the emulator's listing."""
    elb = boto3.client("elbv2")
    balancer = elb.describe_load_balancers(Names=[name(expected, "alb")])["LoadBalancers"][0]
    return {
        item["protocol"]: Listener(item["protocol"], item["local_port"], item["lb_dns_name"])
        for item in alb_dataplane.listener_ports(launcher.state_dir())
        if item["lb_arn"] == balancer["LoadBalancerArn"]
    }


def get(listener: Listener, path: str, certificate_file: str = "") -> Answer:
    """One GET through the ALB. HTTPS trusts only the scenario's own certificate (its name is
    app.example.test, not the DNS name: the chain is verified, the host name is not)."""
    if listener.protocol == "HTTPS":
        context = ssl.create_default_context(cafile=certificate_file)
        context.check_hostname = False
        connection: http.client.HTTPConnection = http.client.HTTPSConnection(
            "127.0.0.1", listener.local_port, timeout=REQUEST_TIMEOUT, context=context
        )
    else:
        connection = http.client.HTTPConnection(
            "127.0.0.1", listener.local_port, timeout=REQUEST_TIMEOUT
        )
    try:
        connection.request("GET", path, headers={"Host": listener.dns_name})
        response = connection.getresponse()
        body = response.read().decode(errors="replace")
        return Answer(response.status, body, response.getheader("Location") or "")
    finally:
        connection.close()


def deployed_tag(expected: dict[str, Any]) -> str:
    """APP_IMAGE_TAG of the revision the service runs: what /readyz must report."""
    ecs = boto3.client("ecs")
    service = ecs.describe_services(
        cluster=name(expected, "cluster"), services=[name(expected, "service")]
    )["services"][0]
    definition = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])
    container = definition["taskDefinition"]["containerDefinitions"][0]
    variables = {item["name"]: item["value"] for item in container.get("environment", [])}
    return variables.get("APP_IMAGE_TAG", "")


def serving_listener(expected: dict[str, Any], checker: Checker) -> Listener | None:
    """The listener users reach the app on; with HTTPS, HTTP must redirect there."""
    found = listeners(expected)
    if not expected.get("certificate_arn"):
        checker.check("HTTP" in found, f"no HTTP listener answers: {sorted(found)}")
        return found.get("HTTP")
    checker.check(
        {"HTTP", "HTTPS"} <= set(found), f"want HTTP and HTTPS listeners: {sorted(found)}"
    )
    if "HTTP" in found and "HTTPS" in found:
        redirect = get(found["HTTP"], "/readyz")
        want = f"https://{found['HTTPS'].dns_name}:{found['HTTPS'].local_port}/readyz"
        checker.check(
            redirect.status == 301 and redirect.location == want,
            f"HTTP /readyz: {redirect.status} to {redirect.location!r}, want 301 to {want!r}",
        )
    return found.get("HTTPS")


def check_endpoints(expected: dict[str, Any], listener: Listener, checker: Checker) -> None:
    certificate = expected.get("certificate_file", "")
    hello = get(listener, "/", certificate)
    checker.check(hello.status == 200 and "Hello" in hello.body, f"/: {hello.status} {hello.body}")
    health = get(listener, "/healthz", certificate)
    checker.check(health.status == 200, f"/healthz: {health.status} {health.body}")
    ready = get(listener, "/readyz", certificate)
    tag = deployed_tag(expected)
    wanted = expected.get("version")
    checker.check(wanted in (None, tag), f"the service runs tag {tag!r}, want {wanted!r}")
    checker.check(
        ready.status == 200
        and json.loads(ready.body or "{}") == {"status": "ready", "version": tag},
        f"/readyz: {ready.status} {ready.body}, want ready with version {tag!r}",
    )


def serves(expected: dict[str, Any], timeout: float = 0) -> list[str]:
    """The endpoint checks, retried up to ``timeout`` s (a replacement task may still start)."""
    deadline = time.monotonic() + timeout
    while True:
        checker = Checker()
        listener = serving_listener(expected, checker)
        if listener is not None:
            check_endpoints(expected, listener, checker)
        if not checker.failures or time.monotonic() >= deadline:
            return checker.failures
        time.sleep(1)


def service_tasks(expected: dict[str, Any]) -> list[str]:
    ecs = boto3.client("ecs")
    return ecs.list_tasks(
        cluster=name(expected, "cluster"),
        serviceName=name(expected, "service"),
        desiredStatus="RUNNING",
    )["taskArns"]


def kill_task(expected: dict[str, Any], timeout: float) -> list[str]:
    """SIGKILL one task's container (a crash); the service must start another that serves."""
    before = service_tasks(expected)
    if not before:
        return ["the service has no running task to kill"]
    victim = before[0]
    records = {r.task_arn: r for r in ecs_registry.load_all(launcher.state_dir())}
    containers = [c for c in records[victim].containers if ecs_registry.is_running(c)]
    if not containers:
        return [f"task {victim} has no live container process"]
    for container in containers:
        os.killpg(container.pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = service_tasks(expected)
        if now and victim not in now and len(now) >= len(before) and not serves(expected):
            return []
        time.sleep(1)
    return [
        f"killed {victim}; after {timeout} s the service runs {service_tasks(expected)}: "
        f"{serves(expected)}"
    ]


def live_containers(cluster: str) -> list[str]:
    return [
        f"{record.task_id} {container.name} pid {container.pid}"
        for record in ecs_registry.load_all(launcher.state_dir())
        if record.cluster == cluster
        for container in record.containers
        if ecs_registry.is_running(container)
    ]


def no_processes(expected: dict[str, Any], timeout: float) -> list[str]:
    """Stopping tasks get SIGTERM, then SIGKILL after their stopTimeout: wait that long."""
    cluster = name(expected, "cluster")
    deadline = time.monotonic() + timeout
    while (alive := live_containers(cluster)) and time.monotonic() < deadline:
        time.sleep(1)
    return [f"container processes still alive after destroy: {alive}"] if alive else []


def main() -> int:
    command, expected = sys.argv[1], json.loads(sys.argv[2])
    if command == "serves":
        return report(serves(expected, float(sys.argv[3]) if len(sys.argv) > 3 else 0))
    if command == "kill-task":
        return report(kill_task(expected, float(sys.argv[3])))
    if command == "no-processes":
        return report(no_processes(expected, float(sys.argv[3]) if len(sys.argv) > 3 else 60))
    print(f"unknown command {command}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
