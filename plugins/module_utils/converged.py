# Copyright: contributors to django_ecs.aws
# Apache License 2.0 (see galaxy.yml)
"""What a role last converged, and whether anything changed since: the fast path's record.

After a role (or one part of it, e.g. ``rds_available``) ran in full, ``converged_record``
stores a *stamp* in SSM Parameter Store:

- ``code``: a fingerprint of the role's files, the collection's plugins and the versions of
  amazon.aws and community.aws (what decides which calls the role makes);
- ``inputs``: a fingerprint per variable of the role's argument spec, as templated for that run;
- ``resources``: what the role manages (a kind and the identifiers a reader needs), and ``live``:
  a fingerprint per top-level field of each resource as AWS described it right after the run;
- ``outputs``: the facts the role publishes to later roles (ARNs, names), re-published when the
  role is skipped.

The next run reads every stamp of the layer and the same resources again (``converged_state``, one
process), and each role compares its code and inputs with its stamp (the ``converged`` lookup). A
role is skipped only when all three match. Nothing here restates what a role converges to: the
role stays the one description of its resources, and the stamp only says "this is what the role
left behind, for these inputs and this code". Any difference, a missing stamp or a resource that
cannot be read counts as drift: the worst case is the full, correct role run.

Pure functions; the readers are in ``live_resources``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import zlib
from typing import Any

STAMP_VERSION = 1
# SSM standard parameters hold 4096 characters; larger stamps are compressed.
SSM_STANDARD_LIMIT = 4096
_COMPRESSED_PREFIX = "z:"


def fingerprint(value: Any) -> str:
    """A short, stable digest of any JSON-able value (keys sorted, so dict order never matters)."""
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def field_fingerprints(described: dict[str, Any] | None) -> dict[str, str] | None:
    """One fingerprint per top-level field: a drifted resource is reported with its fields."""
    if described is None:
        return None
    return {field: fingerprint(value) for field, value in sorted(described.items())}


def resource_key(resource: dict[str, Any]) -> str:
    """``kind:identifier`` for reports, e.g. ``ecs_service:local-djg-service-ander``."""
    identifier = resource.get("name") or resource.get("id") or fingerprint(resource)
    return f"{resource['kind']}:{identifier}"


def live_differences(
    recorded: dict[str, dict[str, str] | None], current: dict[str, dict[str, str] | None]
) -> list[str]:
    """What changed in AWS since the stamp, one line per resource (gone, new, fields changed)."""
    reasons = []
    for key in sorted(set(recorded) | set(current)):
        before, now = recorded.get(key), current.get(key)
        if now is not None and "unreadable" in now:
            # Never in sync: a resource no reader could read proves nothing about it.
            reasons.append(f"{key} could not be read")
            continue
        if before == now:
            continue
        if now is None:
            reasons.append(f"{key} no longer exists")
        elif before is None:
            reasons.append(f"{key} exists now but did not when recorded")
        else:
            fields = sorted(f for f in set(before) | set(now) if before.get(f) != now.get(f))
            reasons.append(f"{key} changed outside this role: {', '.join(fields)}")
    return reasons


def input_differences(recorded: dict[str, str], current: dict[str, str]) -> list[str]:
    """The role variables whose value differs from the recorded run."""
    changed = sorted(
        name for name in set(recorded) | set(current) if recorded.get(name) != current.get(name)
    )
    return [f"input {name} changed" for name in changed]


def role_reasons(
    stamp: dict[str, Any] | None,
    code: str,
    inputs: dict[str, str],
    live_drift: list[str],
) -> list[str]:
    """Why the role must run; an empty list means it would change nothing."""
    if not stamp:
        return ["never converged by this collection (no record yet)"]
    if stamp.get("version") != STAMP_VERSION:
        return [f"recorded by another stamp version ({stamp.get('version')})"]
    reasons = []
    if stamp.get("code") != code:
        reasons.append("the role's or the collection's code changed")
    reasons += input_differences(stamp.get("inputs", {}), inputs)
    return reasons + list(live_drift)


def encode_stamp(stamp: dict[str, Any]) -> str:
    """JSON, compressed when it would not fit a standard SSM parameter."""
    text = json.dumps(stamp, sort_keys=True, separators=(",", ":"), default=str)
    if len(text) <= SSM_STANDARD_LIMIT:
        return text
    return _COMPRESSED_PREFIX + base64.b64encode(zlib.compress(text.encode(), 9)).decode()


def decode_stamp(value: str) -> dict[str, Any] | None:
    """The stamp, or None for anything unreadable (which then counts as never converged)."""
    try:
        if value.startswith(_COMPRESSED_PREFIX):
            value = zlib.decompress(base64.b64decode(value[len(_COMPRESSED_PREFIX) :])).decode()
        stamp = json.loads(value)
    except (ValueError, zlib.error):
        return None
    return stamp if isinstance(stamp, dict) else None


def parameter_name(path: str, part: str) -> str:
    """The SSM parameter of one role part's stamp, e.g. ``/local-djg-converged-ander/alb``."""
    return f"{path.rstrip('/')}/{part}"


def plan_lines(layers: dict[str, list[tuple[str, dict[str, Any] | None]]]) -> list[str]:
    """A ``cdk diff``-like summary: per layer, each part in sync or why it runs.

    ``layers`` maps a layer to its parts in run order, each with the ``converged`` lookup's
    result (None: the part did not run under the selected tags).
    """
    lines = []
    for layer, parts in layers.items():
        ran = [(part, result) for part, result in parts if result is not None]
        if not ran:
            continue
        converging = [(part, result) for part, result in ran if not result.get("in_sync")]
        in_sync = [part for part, result in ran if result.get("in_sync")]
        lines.append(f"{layer}: {len(converging)} to converge, {len(in_sync)} in sync")
        for part, result in converging:
            lines.append(f"  {part}: {'; '.join(result.get('reasons') or ['runs'])}")
        if in_sync:
            lines.append(f"  in sync: {', '.join(in_sync)}")
    return lines or ["nothing selected"]
