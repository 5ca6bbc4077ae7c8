"""On-disk records of the ECS tasks the emulator runs, for `scripts/emulator status` and `stop`.

The task runner (ecs_runtime.py, inside the moto server) writes one `record.json` per task
under `<state dir>/ecs/tasks/<task id>/` whenever the task changes state; the launcher, another
process, reads them to list the tasks and to stop every container process still alive (each
container is a process group of its own: the server's own stop would not reach them). A pid is
signalled only while its start time is the one recorded, so a recycled pid is never hit.

Standard library only: the launcher imports this without moto.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tools.emulator.processes import wait_until

TASKS_DIR = Path("ecs") / "tasks"
RECORD = "record.json"
STOP_GRACE_SECONDS = 5.0


@dataclass
class ContainerRecord:
    name: str
    pid: int = 0
    start_time: int = 0  # /proc/<pid>/stat field 22: tells a recycled pid apart
    log_group: str = ""
    log_stream: str = ""
    log_file: str = ""


@dataclass
class TaskRecord:
    cluster: str
    task_id: str
    task_arn: str
    task_definition: str  # family:revision
    last_status: str = "PROVISIONING"
    health_status: str = "UNKNOWN"
    private_ip: str = ""
    host_ports: dict[str, int] = field(default_factory=dict)  # containerPort -> loopback port
    containers: list[ContainerRecord] = field(default_factory=list)

    @classmethod
    def from_json(cls, text: str) -> TaskRecord:
        raw = json.loads(text)
        raw["containers"] = [ContainerRecord(**c) for c in raw.get("containers", [])]
        return cls(**raw)


def tasks_dir(state_dir: Path) -> Path:
    return state_dir / TASKS_DIR


def save(state_dir: Path, record: TaskRecord) -> None:
    directory = tasks_dir(state_dir) / record.task_id
    directory.mkdir(parents=True, exist_ok=True)
    temporary = directory / (RECORD + ".tmp")
    temporary.write_text(json.dumps(asdict(record), indent=2))
    temporary.replace(directory / RECORD)


def load_all(state_dir: Path) -> list[TaskRecord]:
    records = []
    for path in sorted(tasks_dir(state_dir).glob(f"*/{RECORD}")):
        try:
            records.append(TaskRecord.from_json(path.read_text()))
        except (OSError, ValueError, TypeError):
            continue  # being rewritten, or from an older emulator
    return records


def process_start_time(pid: int) -> int:
    """Start time (clock ticks since boot) of a live, non-zombie pid; 0 when gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    fields = stat.rsplit(")", 1)[1].split()
    return 0 if fields[0] == "Z" else int(fields[19])


def is_running(container: ContainerRecord) -> bool:
    return container.pid > 0 and process_start_time(container.pid) == container.start_time


def _signal_group(container: ContainerRecord, sig: signal.Signals) -> None:
    if is_running(container):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(container.pid, sig)


def stop_all(state_dir: Path) -> int:
    """SIGTERM every live container process group, SIGKILL what remains after a grace;
    the number of containers that were running."""
    alive = [c for r in load_all(state_dir) for c in r.containers if is_running(c)]
    for container in alive:
        _signal_group(container, signal.SIGTERM)
    if not wait_until(lambda: not any(map(is_running, alive)), STOP_GRACE_SECONDS):
        for container in alive:
            _signal_group(container, signal.SIGKILL)
        wait_until(lambda: not any(map(is_running, alive)), STOP_GRACE_SECONDS)
    return len(alive)
