"""The README's role-variable tables are what tools/role_docs.py renders from the specs."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from types import ModuleType

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
README = REPO_ROOT / "README.md"


def load_generator() -> ModuleType:
    # tools/ is scripts, not a package: load the file itself.
    spec = importlib.util.spec_from_file_location("role_docs", REPO_ROOT / "tools" / "role_docs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


role_docs = load_generator()


def generated_section(readme: str) -> str:
    start = readme.index(role_docs.START_MARKER) + len(role_docs.START_MARKER)
    return readme[start : readme.index(role_docs.END_MARKER)]


def test_readme_role_variables_match_the_argument_specs() -> None:
    readme = README.read_text(encoding="utf-8")
    wanted = role_docs.replace_section(readme, role_docs.render(REPO_ROOT / "roles"))
    assert readme == wanted, (
        "README.md role variables are stale: run .venv/bin/python tools/role_docs.py"
    )


def test_every_role_and_option_has_a_row() -> None:
    section = generated_section(README.read_text(encoding="utf-8"))
    spec_files = sorted((REPO_ROOT / "roles").glob("*/meta/argument_specs.yml"))
    assert spec_files
    for spec_file in spec_files:
        role = spec_file.parent.parent.name
        assert f"### `{role}`" in section, role
        for entry_point in yaml.safe_load(spec_file.read_text(encoding="utf-8"))[
            "argument_specs"
        ].values():
            for option in entry_point.get("options") or {}:
                assert f"| `{option}` |" in section, f"{role}: {option} has no row"


def test_check_fails_on_a_changed_spec_and_a_run_rewrites_the_readme(tmp_path: Path) -> None:
    roles = tmp_path / "roles"
    spec_dir = roles / "vpc" / "meta"
    spec_dir.mkdir(parents=True)
    shutil.copy(REPO_ROOT / "roles" / "vpc" / "meta" / "argument_specs.yml", spec_dir)
    readme = tmp_path / "README.md"
    readme.write_text(
        f"# title\n\n{role_docs.START_MARKER}\n{role_docs.END_MARKER}\n\n## after\n",
        encoding="utf-8",
    )
    arguments = ["--readme", str(readme), "--roles", str(roles)]
    assert role_docs.main(arguments) == 0
    assert role_docs.main(["--check", *arguments]) == 0

    spec_file = spec_dir / "argument_specs.yml"
    specs = yaml.safe_load(spec_file.read_text(encoding="utf-8"))
    specs["argument_specs"]["main"]["options"]["vpc_cidr"]["description"] = (
        "A new C(description) | piped."
    )
    spec_file.write_text(yaml.safe_dump(specs), encoding="utf-8")
    assert role_docs.main(["--check", *arguments]) == 1
    assert role_docs.main(arguments) == 0
    rewritten = readme.read_text(encoding="utf-8")
    assert "A new `description` \\| piped." in rewritten
    assert rewritten.startswith("# title\n") and rewritten.endswith("## after\n")
