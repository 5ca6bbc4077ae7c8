"""One clock factor for everything the emulator waits on by AWS's numbers.

Health checks (ECS container checks, ALB target checks) and ALB draining follow the intervals
and periods their resources are configured with: a 30 s container health-check interval takes
30 s here too, which is faithful but slow for a test suite. ``DJANGO_ECS_EMULATOR_TIME_SCALE``
in the environment of ``scripts/emulator start`` multiplies those intervals, periods and delays
(0.1: ten times faster). Timeouts are never scaled: a check's process still gets the seconds
its definition allows, so a busy machine does not turn healthy targets unhealthy. It is the
emulator's setting, not a request parameter: what the playbooks send AWS is the same either way.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

TIME_SCALE_ENV = "DJANGO_ECS_EMULATOR_TIME_SCALE"


def time_scale(environ: Mapping[str, str] | None = None) -> float:
    """The factor (default 1: AWS's timings); anything unreadable or not positive counts as 1."""
    try:
        value = float((os.environ if environ is None else environ).get(TIME_SCALE_ENV, "") or 1)
    except ValueError:
        return 1.0
    return value if value > 0 else 1.0


# Benchmarks only: each API request is answered after this many milliseconds, as an AWS
# endpoint's round trip takes tens of milliseconds where the emulator on loopback takes about
# one. It shows what of a run is round trips on AWS (bench/), and whether reads overlap them.
# Default 0; scripts/test and scripts/deploy-local never set it.
REQUEST_LATENCY_ENV = "DJANGO_ECS_EMULATOR_REQUEST_LATENCY_MS"


def request_latency(environ: Mapping[str, str] | None = None) -> float:
    """The added latency in seconds (0 when unset, unreadable or negative)."""
    try:
        value = float((os.environ if environ is None else environ).get(REQUEST_LATENCY_ENV) or 0)
    except ValueError:
        return 0.0
    return max(value, 0.0) / 1000
