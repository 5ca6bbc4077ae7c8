"""CHANGELOG.md is antsibull-changelog's rendering of changelogs/, and both pass its linters."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
ANTSIBULL_CHANGELOG = Path(sys.executable).parent / "antsibull-changelog"


def run_changelog_tool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ANTSIBULL_CHANGELOG), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_generate_reproduces_the_committed_changelog(tmp_path: Path) -> None:
    # A copy, so that a stale CHANGELOG.md is reported, not silently rewritten in the checkout;
    # galaxy.yml is what makes the tool treat the copy as a collection.
    shutil.copytree(REPO_ROOT / "changelogs", tmp_path / "changelogs")
    shutil.copy(REPO_ROOT / "galaxy.yml", tmp_path / "galaxy.yml")
    (tmp_path / "CHANGELOG.md").write_text("stale\n", encoding="utf-8")
    completed = run_changelog_tool("generate", cwd=tmp_path)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    generated = (tmp_path / "CHANGELOG.md").read_text(encoding="utf-8")
    committed = (REPO_ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert generated == committed, (
        "CHANGELOG.md is out of date: run `antsibull-changelog generate` (or `release`) "
        "and commit the result"
    )


def test_fragments_and_changelog_yaml_pass_antsibull_lint() -> None:
    fragments = run_changelog_tool("lint", cwd=REPO_ROOT)
    assert fragments.returncode == 0 and not fragments.stdout.strip(), fragments.stdout
    changes = run_changelog_tool("lint-changelog-yaml", "changelogs/changelog.yaml", cwd=REPO_ROOT)
    assert changes.returncode == 0 and not changes.stdout.strip(), changes.stdout
