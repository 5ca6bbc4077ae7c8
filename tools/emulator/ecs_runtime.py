"""Run an ECS task's containers as local processes, as Fargate runs them, and report as ECS does.

moto's RunTask answers at once and never starts anything. Here (`patch_ecs_runs_tasks` in
moto_patched.py) each new task gets a `TaskRun`: a thread that takes the task through ECS's
lifecycle (PROVISIONING -> PENDING -> RUNNING -> DEPROVISIONING -> STOPPED) while it

- resolves the `secrets` (Secrets Manager, SSM) as the execution role would, and stops the task
  with ResourceInitializationError when one is missing, as ECS does;
- pulls each container's image from the emulated ECR (ecs_images.py: the blobs ecr_blobs.py
  kept) and unpacks it into a root directory of its own under `<state>/ecs/tasks/<task id>/`;
- gives the task its own network namespace (netns.py) with forwarders: each containerPort
  answers on a free 127.0.0.1 port of the host, published in addresses.py under the task's
  private IP, and the host's loopback services (the emulator itself) are reachable inside;
- starts the containers (entryPoint/command/workingDirectory/environment over the image config,
  RunTask's overrides over both) with an environment built from scratch: the container's
  variables and secrets, ECS's own (AWS_REGION, the container credentials endpoint serving the
  task role's credentials, ECS_CONTAINER_METADATA_URI_V4) and AWS_ENDPOINT_URL = this emulator;
- sends every output line to the container's awslogs stream `<prefix>/<container>/<task id>`;
- runs the container health checks and reports containers[].healthStatus and the task's;
- stops the task when an essential container exits or turns UNHEALTHY, or on StopTask
  (SIGTERM, SIGKILL after the container's stopTimeout), with ECS's stopCode and stoppedReason.

Deviations (tools/emulator/README.md item 31): there is no OS image, so the host's Python
environment (the emulator's interpreter and its venv's bin directory first on PATH) stands in
for the image's userland; absolute paths of the image (entry point, arguments, working
directory) are mapped into the container's root directory; the emulator's CA bundle replaces
the RDS bundle the real image bakes at `<workdir>/certs/rds-global-bundle.pem`.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import json
import os
import random
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tools.emulator import addresses, ecr_blobs, ecs_images, ecs_registry, netns, timing

LOOPBACK = "127.0.0.1"
BLOB_PATH = "/ecr/blobs/"
TIME_SCALE_ENV = timing.TIME_SCALE_ENV
CA_BUNDLE_IN_WORKDIR = Path("certs") / "rds-global-bundle.pem"  # app/testapp/env.py
HOST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_STOP_TIMEOUT = 30  # seconds, Fargate's default (ContainerDefinition.stopTimeout)
# ContainerDefinition.healthCheck defaults (ECS API reference, HealthCheck).
HEALTH_DEFAULTS = {"interval": 30, "timeout": 5, "retries": 3, "startPeriod": 0}
ESSENTIAL_EXITED = "Essential container in task exited"
HEALTH_FAILED = "Task failed container health checks"
USER_STOPPED = "Task stopped by user"
SECRETS_FAILED = (
    "ResourceInitializationError: unable to pull secrets or registry auth: execution resource "
    "retrieval failed: {detail}"
)
LOG_GROUP_MISSING = (
    "ResourceInitializationError: failed to validate logger args: create stream has been "
    "retried 1 times: failed to create Cloudwatch log stream: ResourceNotFoundException: The "
    "specified log group does not exist. : exit status 1"
)


time_scale = timing.time_scale


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def exit_code_of(returncode: int) -> int:
    """Docker's exit code: a process killed by signal N exits 128+N (137 for SIGKILL)."""
    return 128 - returncode if returncode < 0 else returncode


# Container state as DescribeTasks reports it -------------------------------------------------
class ContainerState:
    """One `containers[]` entry of a task (attribute names as moto's serializer looks them up)."""

    def __init__(self, task_arn: str, definition: Mapping[str, Any]) -> None:
        self.container_arn = f"{task_arn.replace(':task/', ':container/')}/{secrets.token_hex(16)}"
        self.task_arn = task_arn
        self.name = str(definition.get("name", ""))
        self.image = str(definition.get("image", ""))
        self.image_digest: str | None = None
        self.runtime_id: str | None = None
        self.last_status = "PENDING"
        self.exit_code: int | None = None
        self.exitCode: int | None = None  # moto code (patch 20b) sets this spelling
        self.reason: str | None = None
        self.network_interfaces: list[dict[str, str]] = []
        self.network_bindings: list[dict[str, Any]] = []
        self.health_status = "UNKNOWN"
        self.cpu = str(definition.get("cpu", 0))
        self.memory = str(definition["memory"]) if definition.get("memory") else None
        self.essential = bool(definition.get("essential", True))

    def set_exit(self, code: int | None) -> None:
        self.exit_code = self.exitCode = code


# Building what a container runs --------------------------------------------------------------
def map_into_root(root: Path, value: str) -> str:
    """An absolute path of the image, as it lies in the container's root directory here; other
    values (relative paths, host paths such as /bin/sh the image does not have) as they are."""
    if not value.startswith("/"):
        return value
    candidate = root / value.lstrip("/")
    return str(candidate) if candidate.exists() or candidate.is_symlink() else value


def argv_for(
    config: ecs_images.ImageConfig, definition: Mapping[str, Any], override: Mapping[str, Any]
) -> list[str]:
    """Docker's rule: entryPoint (definition, else image) + command (override, definition,
    else image's Cmd unless the definition replaced the entry point)."""
    entrypoint = definition.get("entryPoint")
    command = override.get("command") or definition.get("command")
    if entrypoint:
        return [*entrypoint, *(command or [])]
    return [*config.entrypoint, *(command if command else config.cmd)]


def merged_environment(
    config: ecs_images.ImageConfig,
    definition: Mapping[str, Any],
    override: Mapping[str, Any],
    secret_values: Mapping[str, str],
) -> dict[str, str]:
    """Image Env < definition environment < secrets < the override's environment."""
    variables = dict(config.env)
    for pair in definition.get("environment") or []:
        variables[str(pair["name"])] = str(pair.get("value", ""))
    variables.update(secret_values)
    for pair in override.get("environment") or []:
        variables[str(pair["name"])] = str(pair.get("value", ""))
    return variables


def process_path(image_path: str | None) -> str:
    """PATH: the emulator's venv first (it stands in for the image's interpreter), then the
    image's PATH, then the host's usual directories."""
    runtime_bin = str(Path(sys.executable).parent)
    parts = [runtime_bin, *(image_path or "").split(":"), *HOST_PATH.split(":")]
    return ":".join(dict.fromkeys(p for p in parts if p))


def health_command(check: Mapping[str, Any]) -> list[str] | None:
    """The argv of a healthCheck `command` (["CMD", ...] or ["CMD-SHELL", "..."])."""
    command = list(check.get("command") or [])
    if not command:
        return None
    kind, rest = command[0], command[1:]
    if kind == "CMD-SHELL":
        return ["/bin/sh", "-c", " ".join(rest)]
    if kind == "CMD":
        return rest
    return ["/bin/sh", "-c", " ".join(command)]  # no keyword: the whole list is the shell line


def secret_reference(value_from: str) -> tuple[str, str, str | None, str | None, str | None]:
    """(service, id, json key, version stage, version id) of a `secrets[].valueFrom`: a
    Secrets Manager ARN, optionally `:json-key:version-stage:version-id`, or an SSM parameter
    (name or ARN). ECS documents both forms (Developer Guide, "Pass sensitive data")."""
    if value_from.startswith("arn:") and ":secretsmanager:" in value_from:
        parts = value_from.split(":")
        base = ":".join(parts[:7])
        extra = [*parts[7:], "", "", ""][:3]
        return ("secretsmanager", base, extra[0] or None, extra[1] or None, extra[2] or None)
    return ("ssm", value_from, None, None, None)


# The container credentials endpoint and task metadata ----------------------------------------
class _EndpointHandler(BaseHTTPRequestHandler):
    server: EndpointServer

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        try:
            status, body = self.server.answer(path, self.headers.get("Authorization") or "")
        except Exception as error:  # the task sees a 500, the emulator keeps serving
            status, body = 500, {"message": str(error)}
        raw = isinstance(body, bytes)  # an ECR blob (GetDownloadUrlForLayer)
        data = body if raw else json.dumps(body, default=str).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream" if raw else "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        return  # the moto log is the emulator's; these would drown it


class EndpointServer(ThreadingHTTPServer):
    """What ECS serves a task on 169.254.170.2: the task role's credentials (botocore's
    ContainerProvider, AWS_CONTAINER_CREDENTIALS_FULL_URI + AWS_CONTAINER_AUTHORIZATION_TOKEN,
    accepted on loopback) and the task metadata endpoint v4. Here on the host's loopback; each
    task's namespace reaches it through its HostBridge. It also serves ECR's layer blobs at
    `/ecr/blobs/sha256:<hex>`, the URLs GetDownloadUrlForLayer answers (S3 on AWS)."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__((LOOPBACK, 0), _EndpointHandler)
        self.tokens: dict[str, Callable[[], dict[str, Any]]] = {}
        self.metadata: dict[str, Callable[[str], dict[str, Any] | None]] = {}

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def answer(self, path: str, authorization: str) -> tuple[int, Any]:
        if path.startswith(BLOB_PATH):
            try:
                return 200, ecr_blobs.BlobStore.of_emulator().read(path[len(BLOB_PATH) :])
            except (OSError, ValueError):
                return 404, {"message": "no such blob"}
        if path.startswith("/v2/credentials"):
            issue = self.tokens.get(authorization)
            if issue is None:
                return 401, {"message": "invalid or missing authorization token"}
            return 200, issue()
        parts = path.split("/")  # /v4/<task id>/<container>[/task]
        if len(parts) >= 4 and parts[1] == "v4" and parts[2] in self.metadata:
            found = self.metadata[parts[2]]("/".join(parts[3:]))
            if found is not None:
                return 200, found
        return 404, {"message": "not found"}


_endpoint_lock = threading.Lock()
_endpoint: list[EndpointServer] = []  # started on the first task


def endpoint_server() -> EndpointServer:
    with _endpoint_lock:
        if not _endpoint:
            server = EndpointServer()
            threading.Thread(target=server.serve_forever, name="ecs-endpoint", daemon=True).start()
            _endpoint.append(server)
        return _endpoint[0]


# Access to the rest of the emulated account (moto's backends) ---------------------------------
@dataclass
class Account:
    """The moto backends a task needs, for its account and region. Lazy imports: moto's
    modules load on first use, as the server loads them."""

    account_id: str
    region: str

    def secret_value(self, value_from: str) -> str:
        from moto.secretsmanager.models import secretsmanager_backends
        from moto.ssm.models import ssm_backends

        service, identifier, json_key, stage, version = secret_reference(value_from)
        region = identifier.split(":")[3] if identifier.startswith("arn:") else self.region
        if service == "ssm":
            parameter = ssm_backends[self.account_id][region].get_parameter(identifier)
            if parameter is None:
                raise LookupError(f"unable to retrieve secrets from ssm: {identifier}")
            # ECS decrypts a SecureString with the execution role; moto keeps it "encrypted".
            return str(parameter.decrypt(parameter.value))
        backend = secretsmanager_backends[self.account_id][region]
        try:
            answer = backend.get_secret_value(identifier, version, stage)
        except Exception as error:
            raise LookupError(
                "unable to retrieve secret from asm: service call has been retried 1 time(s): "
                f"failed to fetch secret {identifier} from secrets manager: "
                f"ResourceNotFoundException: {getattr(error, 'message', error)}"
            ) from None
        text = str(answer.get("SecretString", ""))
        if json_key is None:
            return text
        try:
            return str(json.loads(text)[json_key])
        except (ValueError, KeyError, TypeError):
            raise LookupError(
                f"unable to retrieve secret from asm: retrieved secret from Secrets Manager did "
                f"not contain json key {json_key}"
            ) from None

    def manifest_lookup(self, ref: ecs_images.ImageRef) -> ecs_images.ManifestLookup:
        from moto.ecr.models import ecr_backends

        def lookup(tag: str | None, digest: str | None) -> tuple[str, str]:
            backend = ecr_backends[ref.account][ref.region]
            repository = backend.repositories.get(ref.repository)
            if repository is None:
                raise ecs_images.ImageError(f"repository {ref.repository} not found")
            try:
                image = repository._get_image(tag, digest)
            except Exception:
                raise ecs_images.ImageError(
                    f"{ref.repository}:{tag or digest}: not found"
                ) from None
            return image.get_image_digest(), image.image_manifest

        return lookup

    def role_credentials(self, role_arn: str, session: str) -> dict[str, Any]:
        from moto.sts.models import sts_backends
        from moto.utilities.utils import get_partition

        sts = sts_backends[self.account_id][get_partition(self.region)]
        role = sts.assume_role(
            region_name=self.region,
            role_session_name=session,
            role_arn=role_arn,
            policy=None,
            duration=3600,
            external_id=None,
        )
        return {
            "AccessKeyId": role.access_key_id,
            "SecretAccessKey": role.secret_access_key,
            "Token": role.session_token,
            "Expiration": role.expiration.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "RoleArn": role_arn,
        }

    def release_interfaces(self, task: Any) -> None:
        """ECS deletes a stopped task's ENI (its address is free again); the attachment stays
        in DescribeTasks as DELETED."""
        from moto.ec2.models import ec2_backends

        ec2 = ec2_backends[self.account_id][self.region]
        for attachment in getattr(task, "attachments", None) or []:
            attachment["status"] = "DELETED"
            for detail in attachment.get("details") or []:
                if detail.get("name") == "networkInterfaceId":
                    with contextlib.suppress(Exception):  # deleted by hand already
                        ec2.delete_network_interface(detail["value"])

    def logs(self, region: str | None = None) -> Any:
        from moto.logs.models import logs_backends

        return logs_backends[self.account_id][region or self.region]


# One container's process ---------------------------------------------------------------------
@dataclass
class LogTarget:
    group: str
    stream: str
    region: str


@dataclass
class ContainerRun:
    """What is needed to start one container, and its process once started."""

    state: ContainerState
    definition: Mapping[str, Any]
    root: Path
    argv: list[str]
    cwd: Path
    environment: dict[str, str]
    log: LogTarget | None
    log_file: Path
    process: subprocess.Popen[bytes] | None = None
    start_time: int = 0
    pumps: list[threading.Thread] = field(default_factory=list)

    @property
    def stop_timeout(self) -> float:
        return float(self.definition.get("stopTimeout") or DEFAULT_STOP_TIMEOUT)

    @property
    def health_check(self) -> Mapping[str, Any] | None:
        check = self.definition.get("healthCheck")
        return check if check and health_command(check) else None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal_group(self, sig: signal.Signals) -> None:
        if self.process is not None and self.start_time:
            # The leader may be gone while its children run: the group id stays ours while
            # any member lives, and our record of the leader's start time guards reuse.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, sig)


# The task -------------------------------------------------------------------------------------
class TaskRun:
    """A task's containers from PROVISIONING to STOPPED (one thread per task)."""

    def __init__(
        self,
        task: Any,
        definition: Any,
        account: Account,
        endpoint_url: str,
        state_dir: Path,
        on_change: Callable[[TaskRun], None] | None = None,
    ) -> None:
        self.task = task
        self.definition = definition
        self.account = account
        self.endpoint_url = endpoint_url
        self.state_dir = state_dir
        self.on_change = on_change
        self.directory = ecs_registry.tasks_dir(state_dir) / task.id
        self.overrides: Mapping[str, Any] = task.overrides or {}
        self.containers: list[ContainerRun] = []
        self.namespace: netns.Namespace | None = None
        self.forward: netns.PortForward | None = None
        self.bridge: netns.HostBridge | None = None
        self.stop_requested = threading.Event()
        self.private_ip = private_ip_of(task)
        self.token = secrets.token_urlsafe(32)
        self.host_ports: dict[int, int] = {}
        self._thread = threading.Thread(target=self._run, name=f"ecs-task-{task.id}", daemon=True)
        task.health_status = "UNKNOWN"
        task.containers = [
            ContainerState(task.task_arn, d) for d in definition.container_definitions
        ]
        for container in task.containers:
            container.network_interfaces = _interfaces(task, self.private_ip)

    # Public -----------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def stop(self, reason: str, stop_code: str) -> None:
        """StopTask or the scheduler: the first reason given is the one reported."""
        if not self.stop_requested.is_set():
            self.task.desired_status = "STOPPED"
            self.task.stop_code = stop_code
            self.task.stopped_reason = reason
            self.task.stopping_at = utcnow()
            self.stop_requested.set()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    @property
    def stopped(self) -> bool:
        return self.task.last_status == "STOPPED"

    # Lifecycle --------------------------------------------------------------------------------
    def _set_status(self, status: str) -> None:
        self.task.last_status = status
        self._save()
        if self.on_change is not None:
            with contextlib.suppress(Exception):
                self.on_change(self)

    def _run(self) -> None:
        try:
            self._set_status("PENDING")
            self._prepare()
            if not self.stop_requested.is_set():  # StopTask while PENDING: nothing starts
                self._launch()
                self._set_status("RUNNING")
                self._supervise()
        except TaskFailedToStartError as error:
            self._fail(str(error))
        except Exception as error:  # an emulator bug must still end the task, visibly
            traceback.print_exc()  # to the server's log
            self._fail(f"emulator error: {type(error).__name__}: {error}")
        finally:
            self._shut_down()

    def _fail(self, reason: str) -> None:
        if not self.stop_requested.is_set():
            self.stop(reason, "TaskFailedToStart")
        for container in self.task.containers:
            if container.reason is None and container.last_status != "STOPPED":
                container.reason = reason

    def _prepare(self) -> None:
        """PENDING: secrets, log groups, images; nothing runs yet."""
        self.task.pull_started_at = utcnow()
        blobs = ecr_blobs.BlobStore.of_emulator()
        for state, definition in zip(
            self.task.containers, self.definition.container_definitions, strict=True
        ):
            self.containers.append(self._container(state, definition, blobs))
        self.task.pull_stopped_at = utcnow()

    def _container(
        self, state: ContainerState, definition: Mapping[str, Any], blobs: ecr_blobs.BlobStore
    ) -> ContainerRun:
        override = next(
            (
                o
                for o in self.overrides.get("containerOverrides") or []
                if o.get("name") == state.name
            ),
            {},
        )
        secret_values = self._secrets(definition)
        log = self._log_target(definition)
        root = self.directory / "containers" / state.name
        try:
            ref = ecs_images.ImageRef.parse(state.image)
            image = ecs_images.resolve(ref, self.account.manifest_lookup(ref), blobs)
            ecs_images.unpack(image, blobs, root)
        except (ecs_images.ImageError, OSError, ValueError) as error:
            raise TaskFailedToStartError(
                f"CannotPullContainerError: pull image manifest has been retried 1 time(s): "
                f"failed to resolve ref {state.image}: {error}"
            ) from None
        state.image_digest = image.manifest_digest
        workdir = str(definition.get("workingDirectory") or image.config.working_dir or "/")
        cwd = root / workdir.lstrip("/")
        cwd.mkdir(parents=True, exist_ok=True)
        self._install_ca_bundle(cwd)
        argv = [map_into_root(root, a) for a in argv_for(image.config, definition, override)]
        if not argv:
            raise TaskFailedToStartError(
                f"CannotStartContainerError: {state.name}: no command specified"
            )
        variables = merged_environment(image.config, definition, override, secret_values)
        environment = self._environment(variables, state.name, root)
        return ContainerRun(
            state,
            definition,
            root,
            argv,
            cwd,
            environment,
            log,
            self.directory / f"{state.name}.log",
        )

    def _secrets(self, definition: Mapping[str, Any]) -> dict[str, str]:
        values = {}
        for secret in definition.get("secrets") or []:
            try:
                values[str(secret["name"])] = self.account.secret_value(str(secret["valueFrom"]))
            except LookupError as error:
                raise TaskFailedToStartError(SECRETS_FAILED.format(detail=error)) from None
        return values

    def _log_target(self, definition: Mapping[str, Any]) -> LogTarget | None:
        configuration = definition.get("logConfiguration") or {}
        if configuration.get("logDriver") != "awslogs":
            return None
        options = configuration.get("options") or {}
        region = options.get("awslogs-region") or self.account.region
        group = options.get("awslogs-group", "")
        prefix = options.get("awslogs-stream-prefix")
        name = definition.get("name", "")
        stream = f"{prefix}/{name}/{self.task.id}" if prefix else self.task.id
        logs = self.account.logs(region)
        if group not in logs.groups:
            if str(options.get("awslogs-create-group", "")).lower() != "true":
                raise TaskFailedToStartError(LOG_GROUP_MISSING)
            logs.ensure_log_group(group)
        if stream not in logs.groups[group].streams:
            logs.create_log_stream(group, stream)
        return LogTarget(group, stream, region)

    def _install_ca_bundle(self, cwd: Path) -> None:
        # The real image bakes AWS's RDS bundle there; the emulator's RDS servers are signed
        # by the emulator's CA, so the task gets that one (README item 31).
        bundle = self.state_dir / "rds-ca-bundle.pem"
        if bundle.is_file():
            target = cwd / CA_BUNDLE_IN_WORKDIR
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(bundle.read_bytes())

    def _environment(self, variables: dict[str, str], container: str, root: Path) -> dict[str, str]:
        """From scratch, never the server's (it holds the PostgreSQL superuser's password)."""
        endpoint = endpoint_server()
        home = root / "root"
        home.mkdir(parents=True, exist_ok=True)
        environment = {
            "HOME": str(home),  # root's home in the image, mapped into its root directory
            "HOSTNAME": f"ip-{self.private_ip.replace('.', '-')}.ec2.internal",
            **variables,
            "PATH": process_path(variables.get("PATH")),
            "AWS_EXECUTION_ENV": "AWS_ECS_FARGATE",
            "AWS_REGION": self.account.region,
            "AWS_DEFAULT_REGION": self.account.region,
            "ECS_CONTAINER_METADATA_URI_V4": (
                f"http://{LOOPBACK}:{endpoint.port}/v4/{self.task.id}/{container}"
            ),
            "ECS_CONTAINER_METADATA_URI": (
                f"http://{LOOPBACK}:{endpoint.port}/v4/{self.task.id}/{container}"
            ),
            # Not ECS's: every SDK call of the task goes to the emulator, never to AWS.
            "AWS_ENDPOINT_URL": self.endpoint_url,
        }
        if self.task_role_arn:
            environment["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = (
                f"http://{LOOPBACK}:{endpoint.port}/v2/credentials/{self.task.id}"
            )
            environment["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = self.token
        return environment

    @property
    def task_role_arn(self) -> str | None:
        return self.overrides.get("taskRoleArn") or getattr(self.definition, "task_role_arn", None)

    @property
    def container_ports(self) -> list[int]:
        ports = []
        for definition in self.definition.container_definitions:
            for mapping in definition.get("portMappings") or []:
                if mapping.get("containerPort"):
                    ports.append(int(mapping["containerPort"]))
        return ports

    def _launch(self) -> None:
        """Network, endpoints, then every container's process."""
        self._set_up_network()
        endpoint = endpoint_server()
        if self.task_role_arn:
            role = str(self.task_role_arn)
            endpoint.tokens[self.token] = lambda: self.account.role_credentials(role, self.task.id)
        endpoint.metadata[self.task.id] = self.metadata
        for container in self.containers:
            self._spawn(container)
        self.task.started_at = utcnow()
        self.task.connectivity = "CONNECTED"
        self.task.connectivity_at = self.task.started_at
        for port, host_port in self.host_ports.items():
            addresses.publish(self.private_ip, port, LOOPBACK, host_port)

    def _set_up_network(self) -> None:
        ports = self.container_ports
        try:
            self.namespace = netns.Namespace.create()
        except netns.NamespaceUnavailableError:
            # Host network: one task per container port (README item 31).
            self.host_ports = {port: port for port in ports}
            return
        self.bridge = netns.HostBridge(self.namespace, ports)
        self.forward = netns.PortForward(self.namespace, ports)
        self.host_ports = dict(self.forward.host_ports)

    def _popen(self, argv: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        if self.namespace is not None:
            return self.namespace.spawn(argv, **kwargs)
        return subprocess.Popen(argv, **kwargs)

    def _spawn(self, container: ContainerRun) -> None:
        try:
            container.process = self._popen(
                container.argv,
                cwd=container.cwd,
                env=container.environment,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group: StopTask signals what it started too
            )
        except OSError as error:
            raise TaskFailedToStartError(
                f"CannotStartContainerError: {container.state.name}: {error}"
            ) from None
        container.start_time = ecs_registry.process_start_time(container.process.pid)
        container.state.runtime_id = f"{self.task.id}-{container.process.pid}"
        container.state.last_status = "RUNNING"
        self._save()  # the pid on disk at once: `scripts/emulator stop` must find it
        pump = threading.Thread(target=self._pump_log, args=(container,), daemon=True)
        pump.start()
        container.pumps.append(pump)
        if container.health_check is not None:
            threading.Thread(target=self._health_loop, args=(container,), daemon=True).start()

    def _pump_log(self, container: ContainerRun) -> None:
        """Each line to the awslogs stream as it comes (awslogs drops the newline) and to a
        local file (`scripts/emulator status` names it)."""
        assert container.process is not None and container.process.stdout is not None
        logs = self.account.logs(container.log.region) if container.log else None
        with open(container.log_file, "ab") as local:
            for raw in iter(container.process.stdout.readline, b""):
                local.write(raw)
                local.flush()
                if logs is None or container.log is None:
                    continue
                message = raw.decode("utf-8", "replace").rstrip("\n")
                event = {"timestamp": int(time.time() * 1000), "message": message}
                with contextlib.suppress(Exception):  # a deleted group must not kill the pump
                    logs.put_log_events(container.log.group, container.log.stream, [event])

    # Health checks ----------------------------------------------------------------------------
    def _health_loop(self, container: ContainerRun) -> None:
        check = {**HEALTH_DEFAULTS, **(container.health_check or {})}
        scale = time_scale()
        interval, timeout = check["interval"] * scale, check["timeout"]  # timeouts: unscaled
        start_period, retries = check["startPeriod"] * scale, int(check["retries"])
        argv = [map_into_root(container.root, a) for a in health_command(check) or []]
        began, failures = time.monotonic(), 0
        while not self.stop_requested.wait(interval) and container.alive():
            healthy = self._probe(container, argv, timeout)
            if healthy:
                failures = 0
                container.state.health_status = "HEALTHY"
            elif time.monotonic() - began >= start_period:
                failures += 1  # failures in the start period do not count (ECS HealthCheck)
                if failures >= retries:
                    container.state.health_status = "UNHEALTHY"
            self._update_task_health()

    def _probe(self, container: ContainerRun, argv: list[str], timeout: float) -> bool:
        try:
            probe = self._popen(
                argv,
                cwd=container.cwd,
                env=container.environment,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        except OSError:
            return False
        try:
            return probe.wait(timeout=max(timeout, 0.1)) == 0
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(probe.pid, signal.SIGKILL)
            probe.wait()
            return False

    def _update_task_health(self) -> None:
        """The task's health: UNHEALTHY if an essential container is, HEALTHY once every
        essential container with a health check is, else UNKNOWN (ECS Task.healthStatus)."""
        checked = [c.state for c in self.containers if c.state.essential and c.health_check]
        statuses = {c.health_status for c in checked}
        if "UNHEALTHY" in statuses:
            self.task.health_status = "UNHEALTHY"
        elif checked and statuses == {"HEALTHY"}:
            self.task.health_status = "HEALTHY"
        else:
            self.task.health_status = "UNKNOWN"
        self._save()

    # Running and stopping ---------------------------------------------------------------------
    def _supervise(self) -> None:
        while not self.stop_requested.wait(0.1):
            for container in self.containers:
                if not container.alive():
                    self._container_exited(container)
            if self.task.health_status == "UNHEALTHY":
                code = "ServiceSchedulerInitiated" if self._in_service else "TaskFailedToStart"
                self.stop(HEALTH_FAILED, code)
            if any(c.state.essential and c.state.last_status == "STOPPED" for c in self.containers):
                self.stop(ESSENTIAL_EXITED, "EssentialContainerExited")

    @property
    def _in_service(self) -> bool:
        return str(getattr(self.task, "group", "")).startswith("service:")

    def _container_exited(self, container: ContainerRun) -> None:
        if container.state.last_status == "STOPPED" or container.process is None:
            return
        container.signal_group(signal.SIGKILL)  # what the entry point left behind
        for pump in container.pumps:
            pump.join(timeout=2)
        container.state.set_exit(exit_code_of(container.process.returncode))
        container.state.last_status = "STOPPED"
        self._save()

    def _stop_containers(self) -> None:
        running = [c for c in self.containers if c.alive()]
        for container in running:
            container.signal_group(signal.SIGTERM)
        deadline = {id(c): time.monotonic() + c.stop_timeout for c in running}
        while any(c.alive() for c in running):
            for container in running:
                if container.alive() and time.monotonic() >= deadline[id(container)]:
                    container.signal_group(signal.SIGKILL)
            time.sleep(0.05)
        for container in self.containers:
            if container.process is not None:
                self._container_exited(container)

    def _shut_down(self) -> None:
        self.task.desired_status = "STOPPED"
        if self.task.last_status == "RUNNING":
            self._set_status("DEPROVISIONING")
        self._stop_containers()
        self.task.execution_stopped_at = utcnow()
        for port in self.host_ports:
            addresses.withdraw(self.private_ip, port)
        endpoint = endpoint_server()
        endpoint.tokens.pop(self.token, None)
        endpoint.metadata.pop(self.task.id, None)
        for closable in (self.forward, self.bridge, self.namespace):
            if closable is not None:
                closable.close()
        for state in self.task.containers:
            if state.last_status != "STOPPED":
                state.last_status = "STOPPED"  # never started (failed before its process)
        # The unpacked images: a crash-looping service would fill the disk with them. The
        # record and each container's output stay until `scripts/emulator stop`.
        shutil.rmtree(self.directory / "containers", ignore_errors=True)
        with contextlib.suppress(Exception):
            self.account.release_interfaces(self.task)
        self.task.stopped_at = utcnow()
        self._set_status("STOPPED")

    # Reporting --------------------------------------------------------------------------------
    def metadata(self, rest: str) -> dict[str, Any] | None:
        """Task metadata endpoint v4: `<container>` and `<container>/task` (a subset)."""
        name, _, what = rest.partition("/")
        container = next((c for c in self.task.containers if c.name == name), None)
        if container is None:
            return None
        entry = {
            "Name": container.name,
            "Image": container.image,
            "ImageID": container.image_digest,
            "DesiredStatus": self.task.desired_status,
            "KnownStatus": container.last_status,
            "Networks": [{"NetworkMode": "awsvpc", "IPv4Addresses": [self.private_ip]}],
            "ContainerARN": container.container_arn,
        }
        if what != "task":
            return entry
        return {
            "Cluster": self.task.cluster_arn,
            "TaskARN": self.task.task_arn,
            "Family": self.definition.family,
            "Revision": str(self.definition.revision),
            "DesiredStatus": self.task.desired_status,
            "KnownStatus": self.task.last_status,
            "LaunchType": "FARGATE",
            "AvailabilityZone": f"{self.account.region}a",
            "Containers": [self.metadata(c.name) for c in self.task.containers],
        }

    def record(self) -> ecs_registry.TaskRecord:
        return ecs_registry.TaskRecord(
            cluster=self.task.cluster_name,
            task_id=self.task.id,
            task_arn=self.task.task_arn,
            task_definition=f"{self.definition.family}:{self.definition.revision}",
            last_status=self.task.last_status,
            health_status=getattr(self.task, "health_status", "UNKNOWN"),
            private_ip=self.private_ip,
            host_ports={str(p): h for p, h in self.host_ports.items()},
            containers=[
                ecs_registry.ContainerRecord(
                    name=c.state.name,
                    pid=c.process.pid if c.process else 0,
                    start_time=c.start_time,
                    log_group=c.log.group if c.log else "",
                    log_stream=c.log.stream if c.log else "",
                    log_file=str(c.log_file),
                )
                for c in self.containers
            ],
        )

    def _save(self) -> None:
        with contextlib.suppress(OSError):
            ecs_registry.save(self.state_dir, self.record())


class TaskFailedToStartError(Exception):
    """The task stops before its containers run; the message is its stoppedReason."""


# Networking facts of a task, from moto's ENI ------------------------------------------------
def private_ip_of(task: Any) -> str:
    for attachment in getattr(task, "attachments", None) or []:
        for detail in attachment.get("details") or []:
            if detail.get("name") == "privateIPv4Address":
                return str(detail["value"])
    return LOOPBACK  # not awsvpc: the host's


def _interfaces(task: Any, private_ip: str) -> list[dict[str, str]]:
    attachments = getattr(task, "attachments", None) or []
    if not attachments:
        return []
    return [{"attachmentId": attachments[0]["id"], "privateIpv4Address": private_ip}]


def free_address_in(cidr: str, taken: Iterable[str]) -> str:
    """A host address of the subnet AWS could hand out: not the first four nor the last
    (reserved in every VPC subnet, VPC User Guide "Subnet CIDR blocks"), nor one in use."""
    network = ipaddress.ip_network(cidr, strict=False)
    used = set(taken)
    first, last = int(network.network_address) + 4, int(network.broadcast_address) - 1
    for _ in range(256):
        candidate = str(ipaddress.ip_address(random.randint(first, last)))
        if candidate not in used:
            return candidate
    for number in range(first, last + 1):
        candidate = str(ipaddress.ip_address(number))
        if candidate not in used:
            return candidate
    raise ValueError(f"subnet {cidr} has no free address")


def place_in_subnet(task: Any, ec2_backend: Any) -> None:
    """moto gives a task's ENI a random 10.x address outside its subnet; give it one inside,
    as AWS does, so the load balancer's ip targets lie in the VPC."""
    for attachment in getattr(task, "attachments", None) or []:
        details = {d["name"]: d for d in attachment.get("details") or []}
        if "subnetId" not in details or "networkInterfaceId" not in details:
            continue
        subnet = ec2_backend.get_subnet(details["subnetId"]["value"])
        eni = ec2_backend.get_network_interface(details["networkInterfaceId"]["value"])
        taken = [
            str(e.private_ip_address)
            for e in ec2_backend.enis.values()
            if getattr(e, "subnet", None) is subnet
        ]
        address = free_address_in(subnet.cidr_block, taken)
        eni.private_ip_address = address
        eni.private_ip_addresses = [{"Primary": True, "PrivateIpAddress": address}]
        details["privateIPv4Address"]["value"] = address
        eni.private_dns_name = f"ip-{address.replace('.', '-')}.ec2.internal"
        if "privateDnsName" in details:
            details["privateDnsName"]["value"] = eni.private_dns_name


# The table of runs -----------------------------------------------------------------------------
_runs_lock = threading.Lock()
_runs: dict[str, TaskRun] = {}


def register(run: TaskRun) -> None:
    with _runs_lock:
        _runs[run.task.task_arn] = run


def run_of(task: Any) -> TaskRun | None:
    with _runs_lock:
        return _runs.get(getattr(task, "task_arn", ""))


def all_runs() -> list[TaskRun]:
    with _runs_lock:
        return list(_runs.values())


def kill_all() -> None:
    """SIGKILL every container's process group (the server is going away)."""
    for run in all_runs():
        for container in run.containers:
            if container.alive():
                container.signal_group(signal.SIGKILL)


def quote(argv: Iterable[str]) -> str:
    return shlex.join(list(argv))
