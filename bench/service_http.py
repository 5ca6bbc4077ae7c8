"""Requests per second of the deployed service's /healthz: through the emulated ALB, and
direct to the task (a measurement, not a test).

    scripts/deploy-local                        # a deployed stack on the emulator
    .venv/bin/python bench/service_http.py [--env local] [--seconds 10] [--concurrency 8]
                                           [--rounds 3]

Both paths get the same client: ``--concurrency`` threads, each sending GET /healthz on a new
connection per request (what the ALB's health checks and most first requests do), for
``--seconds`` per round. Through the ALB the request goes to the listener's loopback port with
the load balancer's DNS name as Host, and the ALB forwards it to a healthy target; direct, it
goes to the loopback port the emulator maps to the task's container port. The difference is
the ALB data plane's cost (tools/emulator/alb_dataplane.py). The client shares the machine's
cores with the server: compare the two columns, not absolute numbers across machines.
Uses the emulator of this shell (``eval "$(scripts/emulator env)"``).
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import threading
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from tools.emulator import ecs_registry, launcher  # noqa: E402


def endpoints(env_name: str) -> tuple[tuple[int, str], tuple[int, str]]:
    """((ALB local port, Host), (task host port, Host)) of the environment's service."""
    local = json.loads((REPO_ROOT / "outputs" / env_name / "local.json").read_text())
    http_listener = next(item for item in local["listeners"] if item["protocol"] == "HTTP")
    cluster = f"{env_name}-"  # every resource name of the environment starts with it
    tasks = [
        record
        for record in ecs_registry.load_all(launcher.state_dir())
        if record.cluster.startswith(cluster)
        and record.last_status == "RUNNING"
        and record.host_ports
    ]
    if not tasks:
        raise SystemExit(f"no running task of {env_name}: scripts/deploy-local first")
    task_port = next(iter(tasks[0].host_ports.values()))
    # /healthz answers any Host (the ALB health check sends the target's address).
    return (http_listener["local_port"], local["load_balancer_dns_name"]), (task_port, "bench")


def hammer(port: int, host: str, seconds: float, concurrency: int) -> tuple[float, int]:
    """(requests per second, non-200 answers) of GET /healthz for ``seconds``."""
    done, failed = [0] * concurrency, [0] * concurrency
    deadline = time.monotonic() + seconds

    def worker(index: int) -> None:
        while time.monotonic() < deadline:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            try:
                connection.request("GET", "/healthz", headers={"Host": host})
                response = connection.getresponse()
                response.read()
                failed[index] += response.status != 200
            except OSError:
                failed[index] += 1
            finally:
                connection.close()
            done[index] += 1

    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(done) / (time.monotonic() - started), sum(failed)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="local")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    (alb_port, alb_host), (task_port, task_host) = endpoints(args.env)
    results: dict[str, list[float]] = {"alb": [], "task": []}
    for _ in range(args.rounds):  # interleaved, so both see the same machine load
        for name, port, host in (("alb", alb_port, alb_host), ("task", task_port, task_host)):
            rps, failed = hammer(port, host, args.seconds, args.concurrency)
            if failed:
                print(f"{name}: {failed} requests failed", file=sys.stderr)
            results[name].append(rps)
    alb, task = statistics.median(results["alb"]), statistics.median(results["task"])
    print(f"/healthz, {args.concurrency} threads, new connection per request, {args.rounds} rounds")
    print(
        f"  through the ALB   {alb:8.1f} rps (median; {sorted(round(r) for r in results['alb'])})"
    )
    print(
        f"  direct to a task  {task:8.1f} rps (median; {sorted(round(r) for r in results['task'])})"
    )
    print(f"  ALB / direct      {alb / task:8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
