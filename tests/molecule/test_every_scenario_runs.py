"""Every molecule scenario CI runs has its pytest module, so none is left out of the suite."""

from __future__ import annotations

from pathlib import Path

from tests.molecule.scenario import ci_scenarios

HERE = Path(__file__).parent


def test_each_ci_scenario_has_a_module_that_runs_it() -> None:
    scenarios = ci_scenarios()
    assert scenarios, "no molecule scenario found"
    for name in scenarios:
        module = HERE / f"test_{name}.py"
        assert module.is_file(), f"molecule/{name} runs in CI only through {module.name}"
        assert f'run_scenario("{name}")' in module.read_text(), module
