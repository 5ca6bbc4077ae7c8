"""Health checks of ELBv2 target groups, as an Application Load Balancer runs them.

Every registered target of a target group that a listener uses is probed on the group's
HealthCheckPath / port / protocol every HealthCheckIntervalSeconds, with HealthCheckTimeoutSeconds,
and moves between AWS's states (ELB User Guide, "Health checks for Application Load Balancer
target groups"): `initial` until its first result, `healthy` after one passing check (the guide:
"it must pass one health check to be considered healthy") or `unhealthy` after
UnhealthyThresholdCount consecutive failures; then healthy -> unhealthy after
UnhealthyThresholdCount consecutive failures and unhealthy -> healthy after HealthyThresholdCount
consecutive successes. A deregistered target is `draining` for the group's
deregistration_delay.timeout_seconds (capped, see DRAIN_CAP_SECONDS); a target of a group no
listener uses is `unused` (Target.NotInUse).

Runs as threads of the moto server process and reads moto's elbv2 models directly, so targets
registered through the API or by other emulator code calling the backend's `register_targets`
are both checked.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import re
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tools.emulator import addresses, timing

if TYPE_CHECKING:
    from moto.elbv2.models import ELBv2Backend, FakeTargetGroup

# Multiplies health-check intervals and deregistration delays, never timeouts (timing.py). Read
# from the moto server's environment, i.e. the environment of `scripts/emulator start`.
TIME_SCALE_ENV = timing.TIME_SCALE_ENV
# AWS drains for deregistration_delay.timeout_seconds (default 300 s); an emulator that made
# every deployment wait five minutes would be unusable, so draining lasts at most this long.
DRAIN_CAP_SECONDS = 10.0
TICK_SECONDS = 0.1
USER_AGENT = "ELB-HealthChecker/2.0"  # what ALB health checks send

Key = tuple[str, str, int]  # (target group ARN, target Id, port)


time_scale = timing.time_scale


def matcher(http_code: str) -> Callable[[int], bool]:
    """Matcher.HttpCode ("200", "200,202", "200-299") as a predicate on a status code."""
    ranges = []
    for part in re.split(r"\s*,\s*", http_code.strip()):
        low, _, high = part.partition("-")
        ranges.append((int(low), int(high or low)))
    return lambda status: any(low <= status <= high for low, high in ranges)


@dataclass
class TargetRecord:
    state: str = "initial"
    reason: str | None = "Elb.InitialHealthChecking"
    description: str | None = "Initial health checks in progress"
    successes: int = 0
    failures: int = 0
    next_check: float = 0.0
    checking: bool = False
    drain_until: float | None = None


INITIAL = ("initial", "Elb.InitialHealthChecking", "Initial health checks in progress")
UNUSED = (
    "unused",
    "Target.NotInUse",
    "Target group is not configured to receive traffic from the load balancer",
)
DRAINING = ("draining", "Target.DeregistrationInProgress", "Target deregistration is in progress")


def forward_target_group_arns(action: Any) -> list[str]:
    """The target groups of a `forward` action (single TargetGroupArn or ForwardConfig)."""
    data = getattr(action, "data", {}) or {}
    if data.get("Type") != "forward":
        return []
    groups = [g["TargetGroupArn"] for g in data.get("ForwardConfig", {}).get("TargetGroups", [])]
    return groups or ([data["TargetGroupArn"]] if data.get("TargetGroupArn") else [])


def target_groups_in_use(backend: ELBv2Backend) -> set[str]:
    """Target groups some listener rule (default or not) forwards to."""
    used: set[str] = set()
    for balancer in list(backend.load_balancers.values()):
        for listener in list(balancer.listeners.values()):
            for rule in list(listener.rules.values()):
                for action in rule.actions:
                    used.update(forward_target_group_arns(action))
    return used


def target_ip(backend: ELBv2Backend, group: FakeTargetGroup, target_id: str) -> str:
    """The address AWS would connect to: the Id of an `ip` target, an instance's private IP."""
    if group.target_type == "instance":
        instance = backend.ec2_backend.get_instance_by_id(target_id)
        if instance is not None:
            return str(instance.private_ip_address)
    return target_id


def health_check_port(group: FakeTargetGroup, traffic_port: int) -> int:
    configured = str(group.health_check_port or "traffic-port")
    return traffic_port if configured == "traffic-port" else int(configured)


def on_loopback(ip: str, port: int) -> tuple[str, int] | None:
    """Where to connect for a target (addresses.resolve), or None when that is not loopback:
    an address nobody published (a task not started yet, an instance's VPC address) is never
    contacted; to the load balancer it is an ENI that does not answer."""
    host, local_port = addresses.resolve(ip, port)
    try:
        return (host, local_port) if ipaddress.ip_address(host).is_loopback else None
    except ValueError:
        return (host, local_port) if host == "localhost" else None


def probe(group: FakeTargetGroup, ip: str, port: int, scale: float) -> tuple[bool, str, str]:
    """One health check: (passed, reason code, description) with AWS's reason codes."""
    address = on_loopback(ip, port)
    if address is None:
        return False, "Target.Timeout", "Request timed out"
    host, local_port = address
    timeout = float(group.health_check_timeout_seconds or 5)  # never scaled (timing.py)
    connection: http.client.HTTPConnection
    if (group.health_check_protocol or "HTTP").upper() == "HTTPS":
        # ALB does not verify target certificates.
        context = ssl._create_unverified_context()
        connection = http.client.HTTPSConnection(host, local_port, timeout=timeout, context=context)
    else:
        connection = http.client.HTTPConnection(host, local_port, timeout=timeout)
    try:
        # AWS sends the target's own address as Host, not the load balancer's name.
        connection.putrequest(
            "GET", group.health_check_path or "/", skip_host=True, skip_accept_encoding=True
        )
        connection.putheader("Host", f"{ip}:{port}")
        connection.putheader("User-Agent", USER_AGENT)
        connection.putheader("Connection", "close")
        connection.endheaders()
        status = connection.getresponse().status
    except TimeoutError:
        return False, "Target.Timeout", "Request timed out"
    except (OSError, http.client.HTTPException):
        return False, "Target.FailedHealthChecks", "Health checks failed"
    finally:
        connection.close()
    codes = (group.matcher or {}).get("HttpCode", "200")
    if matcher(codes)(status):
        return True, "", ""
    return (
        False,
        "Target.ResponseCodeMismatch",
        f"Health checks failed with these codes: [{status}]",
    )


def apply_result(
    record: TargetRecord, group: FakeTargetGroup, result: tuple[bool, str, str]
) -> None:
    """Move a record along AWS's state machine after one check."""
    passed, reason, description = result
    if passed:
        record.successes, record.failures = record.successes + 1, 0
        needed = 1 if record.state == "initial" else int(group.healthy_threshold_count or 5)
        if record.state != "healthy" and record.successes >= needed:
            record.state, record.reason, record.description = "healthy", None, None
        return
    record.failures, record.successes = record.failures + 1, 0
    if record.state == "unhealthy" or record.failures >= int(group.unhealthy_threshold_count or 2):
        record.state, record.reason, record.description = "unhealthy", reason, description


class HealthChecker:
    """Health state of every registered target, kept by one loop thread plus probe threads."""

    def __init__(self, backends: Callable[[], Iterator[ELBv2Backend]]) -> None:
        self._backends = backends
        self._records: dict[Key, TargetRecord] = {}
        self._lock = threading.Lock()
        self._scale = time_scale()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="alb-health", daemon=True)
            self._thread.start()

    # What the data plane and DescribeTargetHealth read ----------------------------------------
    def status(
        self, group_arn: str, target_id: str, port: int
    ) -> tuple[str, str | None, str | None] | None:
        with self._lock:
            record = self._records.get((group_arn, target_id, int(port)))
            if record is None:
                return None
            if record.drain_until is not None:
                return DRAINING
            return record.state, record.reason, record.description

    def draining(self, group_arn: str) -> list[tuple[str, int]]:
        with self._lock:
            return [
                (target_id, port)
                for (arn, target_id, port), record in self._records.items()
                if arn == group_arn and record.drain_until is not None
            ]

    def routable(self, group: FakeTargetGroup) -> list[tuple[str, int]]:
        """Healthy targets; all of them when every registered target is unhealthy (ALB's
        fail-open: "If a target group contains only unhealthy registered targets, the load
        balancer routes requests to all those targets, regardless of their health status")."""
        states = {
            (t["Id"], int(t["Port"])): self.status(group.arn, t["Id"], int(t["Port"]))
            for t in list(group.targets.values())
        }
        healthy = [k for k, s in states.items() if s and s[0] == "healthy"]
        if healthy:
            return healthy
        if states and all(s and s[0] == "unhealthy" for s in states.values()):
            return list(states)
        return []

    # Registration events (also discovered by the loop) -----------------------------------------
    def registered(self, backend: ELBv2Backend, group: FakeTargetGroup) -> None:
        in_use = group.arn in target_groups_in_use(backend)
        with self._lock:
            due = self._sync_group(group, in_use, time.monotonic())
        self._launch([(backend, group, key) for key in due])

    def deregistered(self, group: FakeTargetGroup, targets: list[dict[str, Any]]) -> None:
        now = time.monotonic()
        with self._lock:
            for target in targets:
                port = int(target["Port"])
                self._start_draining(group, (group.arn, target["Id"], port), now)

    def _start_draining(self, group: FakeTargetGroup, key: Key, now: float) -> None:
        record = self._records.get(key)
        if record is None or record.drain_until is not None:
            return
        if record.state == "unused":  # nothing to drain: no traffic ever went there
            del self._records[key]
            return
        delay = float(group.attributes.get("deregistration_delay.timeout_seconds", 300))
        record.drain_until = now + min(delay, DRAIN_CAP_SECONDS) * self._scale

    # The loop ----------------------------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            # A moto dict that changed size under us: the next tick sees it settled.
            with contextlib.suppress(RuntimeError):
                self._tick()
            time.sleep(TICK_SECONDS)

    def _tick(self) -> None:
        now = time.monotonic()
        due: list[tuple[ELBv2Backend, FakeTargetGroup, Key]] = []
        live: set[str] = set()
        for backend in self._backends():
            in_use = target_groups_in_use(backend)
            for group in list(backend.target_groups.values()):
                live.add(group.arn)
                with self._lock:
                    due.extend(
                        (backend, group, k)
                        for k in self._sync_group(group, group.arn in in_use, now)
                    )
        with self._lock:
            for key in [
                k for k, r in self._records.items() if k[0] not in live or self._drained(r, now)
            ]:
                del self._records[key]
        self._launch(due)

    def _launch(self, due: list[tuple[ELBv2Backend, FakeTargetGroup, Key]]) -> None:
        for backend, group, key in due:
            threading.Thread(target=self._check, args=(backend, group, key), daemon=True).start()

    @staticmethod
    def _drained(record: TargetRecord, now: float) -> bool:
        return record.drain_until is not None and record.drain_until <= now

    def _sync_group(self, group: FakeTargetGroup, in_use: bool, now: float) -> list[Key]:
        """Bring the records of one group in line with its targets; the keys due for a check."""
        current = {(group.arn, t["Id"], int(t["Port"])) for t in list(group.targets.values())}
        for key in [k for k in self._records if k[0] == group.arn and k not in current]:
            self._start_draining(group, key, now)
        due = []
        for key in current:
            record = self._records.get(key)
            if not in_use:
                if record is None or record.state != "unused":
                    self._records[key] = self._unused()
                continue
            # New, registered again while draining, or its group just got a listener.
            if record is None or record.drain_until is not None or record.state == "unused":
                record = self._records[key] = TargetRecord()
            if not record.checking and record.next_check <= now:
                record.checking = True
                record.next_check = (
                    now + float(group.health_check_interval_seconds or 30) * self._scale
                )
                due.append(key)
        return due

    @staticmethod
    def _unused() -> TargetRecord:
        state, reason, description = UNUSED
        return TargetRecord(state=state, reason=reason, description=description)

    def _check(self, backend: ELBv2Backend, group: FakeTargetGroup, key: Key) -> None:
        _, target_id, port = key
        try:
            ip = target_ip(backend, group, target_id)
            result = probe(group, ip, health_check_port(group, port), self._scale)
        except Exception as error:  # AWS's "internal error" rather than a dead thread
            result = (
                False,
                "Elb.InternalError",
                f"Health checks failed due to an internal error: {error}",
            )
        with self._lock:
            record = self._records.get(key)
            if record is None or record.drain_until is not None or record.state == "unused":
                return
            record.checking = False
            apply_result(record, group, result)
