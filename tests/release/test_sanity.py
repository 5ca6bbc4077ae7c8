"""ansible-test sanity passes on the collection as it ships (scripts/sanity).

It builds the tarball, installs it beside amazon.aws and community.aws and runs every sanity test
that applies (plugins' docs, validate-modules, import, compile, pep8, yamllint, ...; not pylint,
ruff lints the same code in the lint stage). About 40 s with its virtualenvs cached, 5 min on
the first run (ansible-test installs its own pinned requirements from PyPI into
~/.cache/django_ecs/ansible-test-home).
"""

from __future__ import annotations

import subprocess

import pytest

from tests.release.conftest import REPO_ROOT


@pytest.mark.slow(seconds=100)
def test_ansible_test_sanity_passes() -> None:
    completed = subprocess.run(
        [str(REPO_ROOT / "scripts" / "sanity")],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output[-20000:]
    assert "sanity: passed in" in output, output[-20000:]
    for test in ("validate-modules", "import", "ansible-doc", "action-plugin-docs"):
        assert f'Running sanity test "{test}"' in output, test
