"""Command line: python -m tools.emulator start|stop|status|env|listeners|urls."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from tools.emulator import alb_dataplane, ecs_registry, launcher, service_urls


def _start() -> int:
    began = time.monotonic()
    state = launcher.start()
    sys.stdout.write(launcher.export_lines(state))
    elapsed = time.monotonic() - began
    print(f"emulator ready in {elapsed:.1f}s: {state.endpoint_url}", file=sys.stderr)
    if launcher.is_stale(state):
        # Not restarted behind the back of whoever uses it; say so instead.
        print(
            "emulator: the running server predates changes to tools/emulator; "
            "run `scripts/emulator stop` then `start` to pick them up",
            file=sys.stderr,
        )
    return 0


def _stop() -> int:
    stopped = launcher.stop()  # ECS task processes first (launcher._teardown)
    print("emulator stopped" if stopped else "emulator was not running", file=sys.stderr)
    return 0


def _status() -> int:
    state = launcher.load_state(launcher.state_dir())
    if state is None:
        print("emulator: not running")
        return 1
    health = launcher.health(state)
    print(
        f"moto: {'healthy' if health['moto'] else 'DOWN'} (pid {state.moto_pid}, "
        f"{state.endpoint_url})"
    )
    print(
        f"postgres: {'healthy' if health['postgres'] else 'DOWN'} (pid {state.pg_pid}, "
        f"127.0.0.1:{state.pg_port})"
    )
    _print_tasks(launcher.state_dir())
    return 0 if all(health.values()) else 1


def _print_tasks(directory: Path) -> None:
    """The ECS tasks whose processes still run (one line per task, one per container)."""
    records = ecs_registry.load_all(directory)
    running = [r for r in records if any(map(ecs_registry.is_running, r.containers))]
    print(f"ecs tasks: {len(running)} running")
    for record in running:
        ports = " ".join(f"{p}->127.0.0.1:{h}" for p, h in record.host_ports.items()) or "-"
        print(
            f"  {record.cluster} {record.task_id} {record.task_definition} {record.last_status}"
            f" health={record.health_status} ip={record.private_ip} ports={ports}"
        )
        for container in record.containers:
            stream = f"{container.log_group}:{container.log_stream}" if container.log_group else "-"
            print(
                f"    {container.name} pid={container.pid} log={container.log_file} stream={stream}"
            )


def _env() -> int:
    state = launcher.load_state(launcher.state_dir())
    if state is None:
        print("emulator is not running: scripts/emulator start", file=sys.stderr)
        return 1
    sys.stdout.write(launcher.export_lines(state))
    return 0


def _listeners() -> int:
    # Where each load balancer listener listens (README, "Load balancers"), as JSON.
    print(json.dumps(alb_dataplane.listener_ports(launcher.state_dir()), indent=2))
    return 0


def _urls() -> int:
    # Each deployed environment's service URL on this emulator (outputs/<env>/local.json).
    outputs = Path(__file__).resolve().parents[2] / "outputs"
    urls = service_urls.write_all(outputs, alb_dataplane.listener_ports(launcher.state_dir()))
    for env_name, url in urls.items():
        print(f"{env_name}: {url}  (outputs/{env_name}/{service_urls.LOCAL_OUTPUTS})")
    return 0


COMMANDS = {
    "start": _start,
    "stop": _stop,
    "status": _status,
    "env": _env,
    "listeners": _listeners,
    "urls": _urls,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/emulator", description=__doc__)
    parser.add_argument("command", choices=sorted(COMMANDS))
    command = parser.parse_args(argv).command
    try:
        return COMMANDS[command]()
    except launcher.EmulatorError as error:
        print(f"emulator: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
