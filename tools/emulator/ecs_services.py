"""ECS services: a scheduler per service keeps its tasks running and rolls its deployments.

moto keeps a service as a record: no task ever starts, its deployment is COMPLETED or
IN_PROGRESS by an environment variable, and UpdateService rolls nothing. Here
(`patch_ecs_services_schedule` in moto_patched.py) each service of the ECS deployment
controller gets a `Scheduler` thread that, every fraction of a second:

- starts tasks of the PRIMARY deployment (through RunTask, so ecs_runtime.py runs them) until
  it has `desiredCount`, within `maximumPercent` of all the service's tasks, and replaces any
  that stops;
- registers each RUNNING task as an `ip` target (private IP, containerPort) of the service's
  `loadBalancers[].targetGroupArn` (moto's elbv2 backend), deregisters it before it stops;
- counts a task healthy when RUNNING, its health checks (if any) HEALTHY, and its targets
  `healthy` in DescribeTargetHealth;
- stops the tasks of older deployments as new ones turn healthy, never below
  `minimumHealthyPercent` of healthy tasks; the PRIMARY deployment's rolloutState turns
  COMPLETED when it has desiredCount healthy tasks and no older task is left;
- counts the PRIMARY deployment's tasks that stop on their own as `failedTasks`; with the
  deployment circuit breaker enabled, at the threshold (half the desired count, at least 3,
  at most 200: ServiceDeploymentCircuitBreaker in the ECS API reference) the deployment is
  FAILED ("ECS deployment circuit breaker: tasks failed to start.") and, with `rollback`, a new
  PRIMARY deployment of the last COMPLETED one's task definition replaces it;
- writes the service events ECS writes for all of this (newest first).

DeleteService and a desiredCount of 0 stop the tasks.
"""

from __future__ import annotations

import contextlib
import datetime
import math
import threading
import time
import uuid
from typing import Any

from tools.emulator import ecs_runtime

TICK_SECONDS = 0.25
# A task without container health checks counts as healthy once RUNNING this long: a
# container that exits at once must not pass for a healthy replacement (README item 31).
STABLE_SECONDS = 1.0
# Relaunching a deployment's failing tasks waits 0.25 s doubled per consecutive failure, at
# most 30 s: ECS throttles such restarts too (far longer), and a crash loop must not eat the CPU.
BACKOFF_FIRST, BACKOFF_MAX = 0.25, 30.0
MAX_EVENTS = 100  # DescribeServices returns the 100 most recent events
BREAKER_REASON = "ECS deployment circuit breaker: tasks failed to start."


def breaker_threshold(desired_count: int) -> int:
    """Failed tasks that trip the circuit breaker: 0.5 x desired count, within [3, 200]."""
    return max(3, min(200, math.ceil(0.5 * desired_count)))


def new_deployment_id() -> str:
    return f"ecs-svc/{uuid.uuid4().int % 10**19:019d}"


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def new_deployment(service: Any, task_definition: str) -> dict[str, Any]:
    deployment_id = new_deployment_id()
    now = utcnow()
    return {
        "id": deployment_id,
        "status": "PRIMARY",
        "taskDefinition": task_definition,
        "desiredCount": service.desired_count,
        "pendingCount": 0,
        "runningCount": 0,
        "failedTasks": 0,
        "createdAt": now,
        "updatedAt": now,
        "launchType": service.launch_type,
        "platformVersion": service.platform_version,
        "platformFamily": "Linux",
        "networkConfiguration": service.network_configuration or None,
        "rolloutState": "IN_PROGRESS",
        "rolloutStateReason": f"ECS deployment {deployment_id} in progress.",
    }


class Scheduler:
    """The service scheduler of one service (one daemon thread)."""

    def __init__(self, backend: Any, service: Any) -> None:
        self.backend = backend
        self.service = service
        self.key = f"{service.cluster_name}:{service.name}"
        self.group = f"service:{service.name}"
        self.wake = threading.Event()
        self.last_completed: str | None = None  # task definition of the last COMPLETED one
        self.registered: dict[str, list[tuple[str, str, int]]] = {}  # task arn -> targets
        self.counted: set[str] = set()  # task arns already looked at once stopped
        self.stopping: set[str] = set()  # task arns this scheduler stopped
        self.retired = False  # set by /moto-api/reset: the backend it served is gone
        self.failures: dict[str, int] = {}  # deployment id -> consecutive failed tasks
        self.not_before: dict[str, float] = {}  # deployment id -> monotonic time of next launch
        service.deployments = [new_deployment(service, service.task_definition)]
        service.events = []
        self._thread = threading.Thread(target=self._loop, name=f"ecs-{self.key}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    # Events -----------------------------------------------------------------------------------
    def event(self, message: str) -> None:
        entry = {"id": str(uuid.uuid4()), "createdAt": utcnow(), "message": message}
        self.service.events = [entry, *self.service.events][:MAX_EVENTS]

    def _say(self, text: str) -> None:
        self.event(f"(service {self.service.name}) {text}")

    # The loop ---------------------------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            self.wake.wait(TICK_SECONDS)
            self.wake.clear()
            try:
                if not self._tick():
                    return
            except Exception:  # a bug of ours must not end the service's scheduling
                import traceback

                traceback.print_exc()

    def _active(self) -> bool:
        if self.retired:
            return False
        current = self.backend.services.get(self.key)
        return current is self.service and self.service.status == "ACTIVE"

    def runs(self) -> list[ecs_runtime.TaskRun]:
        return [
            run
            for run in ecs_runtime.all_runs()
            if getattr(run.task, "group", None) == self.group
            and run.task.cluster_name == self.service.cluster_name
        ]

    def _tick(self) -> bool:
        runs = self.runs()
        live = [r for r in runs if not r.stopped and r.task.desired_status == "RUNNING"]
        self._register_running(live)
        self._account_for_stopped(runs)
        if not self._active():  # deleted (or replaced by a service of the same name)
            for run in live:
                self._stop(run, f"Service {self.service.name} was deleted")
            return any(not r.stopped for r in runs)
        self._roll(live)
        self.count(runs)
        return True

    # Deployments ------------------------------------------------------------------------------
    @property
    def primary(self) -> dict[str, Any]:
        return self.service.deployments[0]

    def tasks_of(self, runs: list[ecs_runtime.TaskRun], deployment: dict) -> list:
        return [r for r in runs if r.task.started_by == deployment["id"]]

    def _roll(self, live: list[ecs_runtime.TaskRun]) -> None:
        configuration = getattr(self.service, "deployment_configuration", None) or {}
        desired = int(self.service.desired_count or 0)
        maximum = math.floor(desired * int(configuration.get("maximumPercent", 200)) / 100)
        minimum = math.ceil(desired * int(configuration.get("minimumHealthyPercent", 100)) / 100)
        primary_live = self.tasks_of(live, self.primary)
        throttled = time.monotonic() < self.not_before.get(self.primary["id"], 0.0)
        if self.primary["rolloutState"] != "FAILED" and not throttled:  # FAILED: no more
            room = max(maximum, desired) - len(live)
            for _ in range(max(0, min(desired - len(primary_live), room))):
                if time.monotonic() < self.not_before.get(self.primary["id"], 0.0):
                    break  # throttled by the launch just made
                self._launch()
        healthy = [r for r in live if self.healthy(r)]
        if any(r.task.started_by == self.primary["id"] for r in healthy):
            self.failures.pop(self.primary["id"], None)  # no longer consecutive
        for run in sorted(primary_live, key=self.healthy)[: max(0, len(primary_live) - desired)]:
            self._stop(run, self._scaling_reason())
        older = [r for r in live if r.task.started_by != self.primary["id"]]
        for run in sorted(older, key=self.healthy):  # the unhealthy go first
            if not self.healthy(run):
                self._stop(run, self._scaling_reason())
            elif len(healthy) - 1 >= minimum:
                healthy.remove(run)
                self._stop(run, self._scaling_reason())
        self._complete_or_fail(live)

    def _scaling_reason(self) -> str:
        return f"Scaling activity initiated by (deployment {self.primary['id']})"

    def _complete_or_fail(self, live: list[ecs_runtime.TaskRun]) -> None:
        primary = self.primary
        if primary["rolloutState"] != "IN_PROGRESS":
            return
        desired = int(self.service.desired_count or 0)
        healthy = [r for r in self.tasks_of(live, primary) if self.healthy(r)]
        others_live = [r for r in live if r.task.started_by != primary["id"]]
        if len(healthy) >= desired and not others_live:
            primary["rolloutState"] = "COMPLETED"
            primary["rolloutStateReason"] = f"ECS deployment {primary['id']} completed."
            primary["updatedAt"] = utcnow()
            self.service.deployments = [primary]
            self.last_completed = primary["taskDefinition"]
            self._say(f"(deployment {primary['id']}) deployment completed.")
            self._say("has reached a steady state.")
            return
        breaker = (getattr(self.service, "deployment_configuration", None) or {}).get(
            "deploymentCircuitBreaker"
        ) or {}
        if breaker.get("enable") and primary["failedTasks"] >= breaker_threshold(desired):
            self._trip(primary, bool(breaker.get("rollback")))

    def _trip(self, primary: dict[str, Any], rollback: bool) -> None:
        primary["rolloutState"] = "FAILED"
        primary["rolloutStateReason"] = BREAKER_REASON
        primary["updatedAt"] = utcnow()
        self._say(f"(deployment {primary['id']}) deployment failed: tasks failed to start.")
        if not rollback or self.last_completed is None:
            return
        back = new_deployment(self.service, self.last_completed)
        primary["status"] = "ACTIVE"
        self.service.deployments = [back, *self.service.deployments]
        self.service.task_definition = self.last_completed
        self._say(f"rolling back to deployment {back['id']}.")

    def redeploy(self, task_definition: str) -> None:
        """UpdateService with a new task definition or forceNewDeployment."""
        for deployment in self.service.deployments:
            deployment["status"] = "ACTIVE"
        fresh = new_deployment(self.service, task_definition)
        self.service.deployments = [fresh, *self.service.deployments]
        self.wake.set()

    # Tasks ------------------------------------------------------------------------------------
    def _launch(self) -> None:
        tasks = self.backend.run_task(
            self.service.cluster_name,
            self.primary["taskDefinition"],
            1,
            None,
            self.primary["id"],  # startedBy: the deployment, as ECS sets it
            None,
            self.service.launch_type or "FARGATE",
            self.service.network_configuration or None,
            self.group,
        )
        if not tasks:  # EC2 launch type without container instances: moto placed nothing
            self.not_before[self.primary["id"]] = time.monotonic() + BACKOFF_MAX
            self._say(
                "was unable to place a task because no container instance met all of its "
                "requirements. Reason: No Container Instances were found in your cluster."
            )
            return
        ids = " ".join(f"(task {t.id})" for t in tasks)
        self._say(f"has started {len(tasks)} tasks: {ids}.")

    def _stop(self, run: ecs_runtime.TaskRun, reason: str) -> None:
        if run.task.task_arn in self.stopping:
            return
        self.stopping.add(run.task.task_arn)
        self._deregister(run)
        run.stop(reason, "ServiceSchedulerInitiated")
        self._say(f"has stopped 1 running tasks: (task {run.task.id}).")

    def _account_for_stopped(self, runs: list[ecs_runtime.TaskRun]) -> None:
        """A task that stopped without the scheduler asking failed (failedTasks, events)."""
        for run in runs:
            arn = run.task.task_arn
            if arn in self.counted or not (run.stopped or run.task.desired_status == "STOPPED"):
                continue
            self.counted.add(arn)
            self._deregister(run)
            if arn in self.stopping:
                continue
            if run.task.stopped_reason == ecs_runtime.HEALTH_FAILED:
                self._say(f"(task {run.task.id}) failed container health checks.")
            deployment = next(
                (d for d in self.service.deployments if d["id"] == run.task.started_by), None
            )
            if deployment is None:
                continue
            if deployment["rolloutState"] == "IN_PROGRESS":
                deployment["failedTasks"] += 1
            failures = self.failures.get(deployment["id"], 0) + 1
            self.failures[deployment["id"]] = failures
            delay = min(BACKOFF_FIRST * 2 ** (failures - 1), BACKOFF_MAX)
            self.not_before[deployment["id"]] = time.monotonic() + delay

    def count(self, runs: list[ecs_runtime.TaskRun] | None = None) -> None:
        runs = self.runs() if runs is None else runs
        running = pending = 0
        for deployment in self.service.deployments:
            mine = [r for r in self.tasks_of(runs, deployment) if not r.stopped]
            deployment["runningCount"] = sum(r.task.last_status == "RUNNING" for r in mine)
            deployment["pendingCount"] = sum(
                r.task.last_status in {"PROVISIONING", "PENDING"}
                and r.task.desired_status == "RUNNING"
                for r in mine
            )
            deployment["desiredCount"] = (
                self.service.desired_count if deployment is self.primary else 0
            )
            running += deployment["runningCount"]
            pending += deployment["pendingCount"]
        self.service.running_count, self.service.pending_count = running, pending

    # Load balancer ----------------------------------------------------------------------------
    def _targets(self, run: ecs_runtime.TaskRun) -> list[tuple[str, str, int]]:
        return [
            (str(lb["targetGroupArn"]), run.private_ip, int(lb["containerPort"]))
            for lb in self.service.load_balancers or []
            if lb.get("targetGroupArn") and lb.get("containerPort")
        ]

    def _elbv2(self) -> Any:
        from moto.elbv2.models import elbv2_backends

        return elbv2_backends[self.backend.account_id][self.backend.region_name]

    def _register_running(self, live: list[ecs_runtime.TaskRun]) -> None:
        for run in live:
            arn = run.task.task_arn
            if run.task.last_status != "RUNNING" or arn in self.registered:
                continue
            targets = self._targets(run)
            self.registered[arn] = targets
            for group_arn, ip, port in targets:
                self._elbv2().register_targets(group_arn, [{"Id": ip, "Port": port}])
                self._say(f"registered 1 targets in (target-group {group_arn})")

    def _deregister(self, run: ecs_runtime.TaskRun) -> None:
        for group_arn, ip, port in self.registered.pop(run.task.task_arn, []):
            with contextlib.suppress(Exception):  # the target group may be gone already
                self._elbv2().deregister_targets(group_arn, [{"Id": ip, "Port": port}])
                self._say(f"deregistered 1 targets in (target-group {group_arn})")

    def healthy(self, run: ecs_runtime.TaskRun) -> bool:
        task = run.task
        if task.last_status != "RUNNING" or task.desired_status != "RUNNING":
            return False
        checked = any(c.health_check for c in run.containers if c.state.essential)
        if checked and task.health_status != "HEALTHY":
            return False
        started = getattr(task, "started_at", None)
        if not checked and (started is None or _age(started) < STABLE_SECONDS):
            return False
        for group_arn, ip, port in self.registered.get(task.task_arn, self._targets(run)):
            try:
                states = self._elbv2().describe_target_health(group_arn, [{"Id": ip, "Port": port}])
            except Exception:
                return False
            if not states or states[0].status != "healthy":
                return False
        return True


def _age(moment: datetime.datetime) -> float:
    return (utcnow() - moment).total_seconds()


_lock = threading.Lock()
_schedulers: dict[int, Scheduler] = {}  # by id() of moto's Service object


def start(backend: Any, service: Any) -> Scheduler | None:
    if (service.deployment_controller or {}).get("type", "ECS") != "ECS":
        return None  # CODE_DEPLOY / EXTERNAL: ECS does not schedule these itself
    if not service.task_definition:
        return None
    scheduler = Scheduler(backend, service)
    scheduler.count()  # CreateService answers with no task yet, running or pending
    with _lock:
        _schedulers[id(service)] = scheduler
    scheduler.start()
    return scheduler


def of(service: Any) -> Scheduler | None:
    with _lock:
        return _schedulers.get(id(service))


def task_changed(run: ecs_runtime.TaskRun) -> None:
    """A task changed state: wake its service's scheduler instead of waiting for its tick."""
    with _lock:
        schedulers = list(_schedulers.values())
    for scheduler in schedulers:
        if getattr(run.task, "group", None) == scheduler.group:
            scheduler.wake.set()


def retire_all() -> None:
    """moto's state was reset: every scheduler stops its tasks and ends."""
    with _lock:
        retired = list(_schedulers.values())
        _schedulers.clear()
    for scheduler in retired:
        scheduler.retired = True
        scheduler.wake.set()


def schedulers() -> list[Scheduler]:
    with _lock:
        return list(_schedulers.values())
