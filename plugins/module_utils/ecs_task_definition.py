# Copyright: contributors to django_ecs.aws
# Apache License 2.0 (see galaxy.yml)
"""Compare an ECS task definition as wanted with the one AWS stores.

AWS echoes a registered definition back with defaults filled in (``essential: true``,
``cpu: 0``, empty lists, ``protocol: tcp``, ``hostPort`` under awsvpc, health check timings),
with ``cpu``/``memory`` as strings and lists in whatever order they were sent. Both sides are
brought to one canonical form by the pure functions below; any remaining difference, in any
field, means a new revision. Keyed lists (containers, environment, secrets, volumes) become
mappings so that their order never counts and the diff names the entry that changed.
"""

from __future__ import annotations

import json
import re
from typing import Any

# RegisterTaskDefinition request fields (tags aside: they do not need a new revision).
TASK_FIELDS = (
    "family",
    "taskRoleArn",
    "executionRoleArn",
    "networkMode",
    "containerDefinitions",
    "volumes",
    "placementConstraints",
    "requiresCompatibilities",
    "cpu",
    "memory",
    "pidMode",
    "ipcMode",
    "proxyConfiguration",
    "inferenceAccelerators",
    "ephemeralStorage",
    "runtimePlatform",
    "enableFaultInjection",
)
CONTAINER_INT_FIELDS = ("cpu", "memory", "memoryReservation", "startTimeout", "stopTimeout")
PORT_INT_FIELDS = ("containerPort", "hostPort")
# Booleans whose absence means false: false and absent must compare equal.
FALSE_DEFAULTS = frozenset(
    {
        "readOnly",
        "readonlyRootFilesystem",
        "privileged",
        "disableNetworking",
        "interactive",
        "pseudoTerminal",
        "initProcessEnabled",
        "enableFaultInjection",
        "configuredAtLaunch",
    }
)
HEALTH_CHECK_DEFAULTS = {"interval": 30, "timeout": 5, "retries": 3}
# Lists whose order carries no meaning, and the key each is sorted by.
UNORDERED_LISTS = {
    "mountPoints": "containerPath",
    "volumesFrom": "sourceContainer",
    "ulimits": "name",
    "systemControls": "namespace",
    "extraHosts": "hostname",
    "dependsOn": "containerName",
    "environmentFiles": "value",
    "resourceRequirements": "type",
}
CPU_UNITS_PER_VCPU = 1024
MIB_PER_GB = 1024


class TaskDefinitionError(ValueError):
    """Input that AWS would reject or that cannot be compared safely."""


def normalise_cpu(value: Any) -> str | None:
    """``256``, ``"256"`` and ``"0.25 vCPU"`` are the same to AWS: CPU units as a string."""
    return _normalise_units(value, r"v?cpu", CPU_UNITS_PER_VCPU, "cpu")


def normalise_memory(value: Any) -> str | None:
    """``512``, ``"512"`` and ``"0.5 GB"`` are the same to AWS: MiB as a string."""
    return _normalise_units(value, r"gb", MIB_PER_GB, "memory")


def _normalise_units(value: Any, unit: str, scale: int, what: str) -> str | None:
    if value is None or value == "":
        return None
    text = str(value).strip()
    if re.fullmatch(r"\d+", text):
        return str(int(text))
    match = re.fullmatch(rf"(\d+(?:\.\d+)?)\s*{unit}", text, re.IGNORECASE)
    if not match:
        raise TaskDefinitionError(f"cannot read {what} value {value!r}")
    return str(int(float(match.group(1)) * scale))


def env_value(name: str, value: Any) -> str:
    """ECS stores strings; YAML numbers are converted, YAML booleans are refused as ambiguous."""
    if isinstance(value, bool):
        raise TaskDefinitionError(
            f'environment variable {name} is a boolean; quote it ("true"/"True"/"1")'
        )
    if value is None:
        return ""
    return str(value)


def request_container(container: dict[str, Any]) -> dict[str, Any]:
    """What RegisterTaskDefinition needs from a user-written container: strings and ints."""
    result = dict(container)
    for key in CONTAINER_INT_FIELDS:
        if result.get(key) is not None:
            result[key] = int(result[key])
    if result.get("environment"):
        result["environment"] = [
            {"name": e["name"], "value": env_value(e["name"], e.get("value"))}
            for e in result["environment"]
        ]
    if result.get("portMappings"):
        result["portMappings"] = [
            {k: int(v) if k in PORT_INT_FIELDS else v for k, v in p.items()}
            for p in result["portMappings"]
        ]
    return result


def _prune(value: Any) -> Any:
    """Drop None, empty containers and false-by-default booleans, recursively."""
    if isinstance(value, dict):
        pruned = {k: _prune(v) for k, v in value.items()}
        return {
            k: v
            for k, v in pruned.items()
            if v is not None and v not in ([], {}) and not (k in FALSE_DEFAULTS and v is False)
        }
    if isinstance(value, list):
        return [_prune(v) for v in value]
    return value


def _sort_key(item: Any, key: str) -> str:
    return json.dumps(item.get(key) if isinstance(item, dict) else item, sort_keys=True)


def _canonical_ports(ports: list[dict[str, Any]], network_mode: str) -> list[dict[str, Any]]:
    result = []
    for port in ports:
        entry = {k: int(v) if k in PORT_INT_FIELDS else v for k, v in port.items()}
        entry.setdefault("protocol", "tcp")
        # awsvpc and host publish the container port itself; AWS writes hostPort in.
        if network_mode in ("awsvpc", "host") and "containerPort" in entry:
            entry.setdefault("hostPort", entry["containerPort"])
        result.append(entry)
    return sorted(result, key=lambda p: json.dumps(p, sort_keys=True))


def canonical_container(container: dict[str, Any], network_mode: str) -> dict[str, Any]:
    result = request_container(container)
    if result.get("essential", True) is True:
        result.pop("essential", None)
    if result.get("cpu") == 0:
        result.pop("cpu")
    if result.get("versionConsistency") == "enabled":
        result.pop("versionConsistency")
    result["environment"] = {e["name"]: e["value"] for e in result.get("environment") or []}
    result["secrets"] = {s["name"]: s["valueFrom"] for s in result.get("secrets") or []}
    result["portMappings"] = _canonical_ports(result.get("portMappings") or [], network_mode)
    for field, key in UNORDERED_LISTS.items():
        if result.get(field):
            result[field] = sorted(result[field], key=lambda item, k=key: _sort_key(item, k))
    if result.get("links"):
        result["links"] = sorted(result["links"])
    if result.get("healthCheck"):
        health = {**HEALTH_CHECK_DEFAULTS, **result["healthCheck"]}
        if health.get("startPeriod") == 0:
            health.pop("startPeriod")
        result["healthCheck"] = health
    log = result.get("logConfiguration")
    if log and log.get("secretOptions"):
        options = {s["name"]: s["valueFrom"] for s in log["secretOptions"]}
        result["logConfiguration"] = {**log, "secretOptions": options}
    return result


def default_network_mode(compatibilities: list[str] | None) -> str:
    return "awsvpc" if "FARGATE" in (compatibilities or []) else "bridge"


def canonical_task_definition(definition: dict[str, Any]) -> dict[str, Any]:
    """One comparable form for a request or a DescribeTaskDefinition answer."""
    task = {k: definition[k] for k in TASK_FIELDS if definition.get(k) is not None}
    task["cpu"] = normalise_cpu(task.get("cpu"))
    task["memory"] = normalise_memory(task.get("memory"))
    compatibilities = sorted(task.get("requiresCompatibilities") or [])
    task["requiresCompatibilities"] = compatibilities
    network_mode = task.get("networkMode") or default_network_mode(compatibilities)
    task["networkMode"] = network_mode
    containers = task.get("containerDefinitions") or []
    task["containerDefinitions"] = {
        c["name"]: canonical_container(c, network_mode) for c in containers
    }
    task["volumes"] = {v["name"]: _canonical_volume(v) for v in task.get("volumes") or []}
    task["placementConstraints"] = sorted(
        task.get("placementConstraints") or [], key=lambda c: json.dumps(c, sort_keys=True)
    )
    return _prune(task)


def _canonical_volume(volume: dict[str, Any]) -> dict[str, Any]:
    result = {k: v for k, v in volume.items() if k != "name"}
    efs = result.get("efsVolumeConfiguration")
    if efs:
        result["efsVolumeConfiguration"] = {"rootDirectory": "/", **efs}
    return result


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted paths to leaves; lists are leaves, compared whole."""
    if isinstance(value, dict) and (value or not prefix):
        flat: dict[str, Any] = {}
        for key, item in value.items():
            flat.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    return {prefix: value}


def diff_definitions(
    current: dict[str, Any] | None, desired: dict[str, Any]
) -> list[dict[str, Any]]:
    """Fields that differ between two canonical definitions, as field/before/after entries."""
    before = flatten(current or {})
    after = flatten(desired)
    return [
        {"field": field, "before": before.get(field), "after": after.get(field)}
        for field in sorted(set(before) | set(after))
        if before.get(field) != after.get(field)
    ]


def build_request(params: dict[str, Any]) -> dict[str, Any]:
    """RegisterTaskDefinition arguments (tags aside) from the module's snake_case options."""
    runtime = params.get("runtime_platform") or {}
    storage = params.get("ephemeral_storage") or {}
    request: dict[str, Any] = {
        "family": params["family"],
        "taskRoleArn": params.get("task_role_arn"),
        "executionRoleArn": params.get("execution_role_arn"),
        "networkMode": params.get("network_mode"),
        "containerDefinitions": [request_container(c) for c in params["container_definitions"]],
        "volumes": params.get("volumes"),
        "placementConstraints": params.get("placement_constraints"),
        "requiresCompatibilities": params.get("requires_compatibilities"),
        "cpu": normalise_cpu(params.get("cpu")),
        "memory": normalise_memory(params.get("memory")),
        "pidMode": params.get("pid_mode"),
        "ipcMode": params.get("ipc_mode"),
        "runtimePlatform": {
            k: v
            for k, v in {
                "cpuArchitecture": runtime.get("cpu_architecture"),
                "operatingSystemFamily": runtime.get("operating_system_family"),
            }.items()
            if v
        },
        "ephemeralStorage": (
            {"sizeInGiB": storage["size_in_gib"]} if storage.get("size_in_gib") else None
        ),
    }
    return {k: v for k, v in request.items() if v not in (None, [], {})}


def validate_request(request: dict[str, Any]) -> list[str]:
    """Mistakes worth stopping for before AWS is asked (names must be unique to compare)."""
    problems = []
    names = [c.get("name") for c in request["containerDefinitions"]]
    if not names or None in names or len(set(names)) != len(names):
        problems.append("every container definition needs a name, unique in the task")
    for container in request["containerDefinitions"]:
        env_names = [e.get("name") for e in container.get("environment") or []]
        if len(set(env_names)) != len(env_names):
            problems.append(f"container {container.get('name')} sets an environment name twice")
        if not container.get("image"):
            problems.append(f"container {container.get('name')} has no image")
    if "FARGATE" in (request.get("requiresCompatibilities") or []):
        if request.get("networkMode", "awsvpc") != "awsvpc":
            problems.append("FARGATE requires network_mode awsvpc")
        if not request.get("cpu") or not request.get("memory"):
            problems.append("FARGATE requires task-level cpu and memory")
    return problems
