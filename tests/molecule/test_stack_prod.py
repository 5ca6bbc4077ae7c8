"""molecule/stack_prod, the prod inventory's whole stack (three AZs, a NAT gateway each, Multi-AZ
RDS with a read replica, HTTPS), end to end on the emulator: plan on the empty account, converge,
idempotence, verify (a resize within the bounded wait, a killed task replaced), destroy."""

from __future__ import annotations

import os

import pytest

from tests.molecule.scenario import run_scenario

pytestmark = [
    pytest.mark.slow(seconds=560),
    pytest.mark.skipif(
        not os.environ.get("AWS_ENDPOINT_URL", "").startswith("http://127.0.0.1"),
        reason="needs the emulator (scripts/test starts it and exports AWS_ENDPOINT_URL)",
    ),
]


def test_the_stack_prod_scenario_passes() -> None:
    run_scenario("stack_prod")
