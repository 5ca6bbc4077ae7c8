"""Where a playbook run's controller time goes, per Ansible worker (a measurement, not a test).

    .venv/bin/python bench/task_profile.py site.yml -i inventories/local \
        -e aws_endpoint_required=true

Runs ansible-playbook in this process with every task's worker (Ansible forks one per task and
host) under cProfile, then prints the workers' summed time split into what ansible-core does in
each of them: compiling Jinja templates, loading action, filter, test and lookup plugins,
validating role argument specs, and running modules (the module process included, as the worker
waits for it). Workers are forked and discarded, so neither compiled templates nor loaded
plugins outlive a task: that is the per-task cost this measures. cProfile slows Python down;
read the shares, not the seconds. Uses whatever emulator AWS_ENDPOINT_URL names, as
ansible-playbook would.
"""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# (label, function name, file suffix): cumulative time of the outermost call of each.
ACTION = "ansible/plugins/action/"
CATEGORIES = [
    ("Jinja template compile", "compile", "jinja2/environment.py"),
    ("plugin loading (action, filter, test, lookup)", "_load_module_source", "plugins/loader.py"),
    ("role argument-spec validation", "run", ACTION + "validate_argument_spec.py"),
    ("module execution (incl. the module process)", "_execute_module", ACTION + "__init__.py"),
]


def profile_workers(directory: Path) -> None:
    """Wrap WorkerProcess._run so that each forked worker dumps its own profile on exit."""
    from ansible.executor.process import worker

    run = worker.WorkerProcess._run

    def profiled(self: Any) -> None:
        profiler = cProfile.Profile()
        profiler.enable()
        try:
            run(self)
        finally:
            profiler.disable()
            profiler.dump_stats(directory / f"{os.getpid()}.prof")

    worker.WorkerProcess._run = profiled


def summarise(directory: Path, wall: float) -> None:
    files = [str(path) for path in directory.glob("*.prof") if path.stat().st_size]
    stats = pstats.Stats(*files, stream=io.StringIO())
    rows = stats.stats  # type: ignore[attr-defined]
    total = sum(
        cumulative
        for (path, _, name), (_, _, _, cumulative, _) in rows.items()
        if name == "_run" and path.endswith("executor/process/worker.py")
    )
    print(f"{len(files)} workers, {total:.1f} s summed (wall {wall:.1f} s, under cProfile)")
    for label, function, suffix in CATEGORIES:
        spent = sum(
            cumulative
            for (path, _, name), (_, _, _, cumulative, _) in rows.items()
            if name == function and path.endswith(suffix)
        )
        print(f"  {label:46} {spent:6.1f} s  {spent / total * 100:4.0f} %")


def main() -> None:
    directory = Path(tempfile.mkdtemp(prefix="task-profile-"))
    profile_workers(directory)
    from ansible.cli.playbook import main as ansible_playbook

    sys.argv[0] = "ansible-playbook"
    started = time.perf_counter()
    try:
        ansible_playbook()
    except SystemExit as done:
        status = done.code
    else:
        status = 0
    wall = time.perf_counter() - started
    sys.stdout.flush()
    summarise(directory, wall)
    sys.exit(status)


if __name__ == "__main__":
    main()
