"""execution-environment.yml is valid for ansible-builder and agrees with this checkout; the
collection's own meta/execution-environment.yml gives an image the runtime requirements only."""

from __future__ import annotations

import importlib.metadata
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import ansible_collections
import pytest
import yaml
from ansible_builder.ee_schema import validate_schema
from ansible_builder.exceptions import DefinitionError
from bindep.depends import Depends
from packaging.requirements import Requirement

from tests.release.conftest import galaxy

REPO_ROOT = Path(__file__).resolve().parents[2]
EE_FILE = REPO_ROOT / "execution-environment.yml"
COLLECTION_EE_FILE = REPO_ROOT / "meta" / "execution-environment.yml"
BIN = Path(sys.executable).parent
# What the root requirements.txt holds for development: never in an image.
DEV_TOOLS = {"molecule", "moto", "pytest", "pytest-xdist", "ruff", "ansible-lint", "yamllint"}


def load_definition() -> dict[str, Any]:
    return yaml.safe_load(EE_FILE.read_text(encoding="utf-8"))


def collection_tarball(definition: dict[str, Any]) -> str:
    (entry,) = [
        item
        for item in definition["dependencies"]["galaxy"]["collections"]
        if item.get("type") == "file"
    ]
    return Path(entry["name"]).name


def frozen_pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (REPO_ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.lower()] = version
    return pins


def collection_requirements() -> list[Requirement]:
    """The Python requirements meta/execution-environment.yml points ansible-builder at."""
    path = REPO_ROOT / yaml.safe_load(COLLECTION_EE_FILE.read_text())["dependencies"]["python"]
    lines = path.read_text(encoding="utf-8").splitlines()
    return [Requirement(line) for line in lines if line.strip() and not line.startswith("#")]


def introspect(collections_path: Path, exclude_pip: list[str], out: Path) -> tuple[str, str]:
    """`ansible-builder introspect` as the image build runs it: (pip lines, bindep lines)."""
    out.mkdir()
    exclude = out / "exclude-requirements.txt"
    exclude.write_text("".join(f"{name}\n" for name in exclude_pip), encoding="utf-8")
    completed = subprocess.run(
        [
            str(BIN / "ansible-builder"),
            "introspect",
            str(collections_path),
            f"--exclude-pip-reqs={exclude}",
            f"--write-pip={out / 'requirements.txt'}",
            f"--write-bindep={out / 'bindep.txt'}",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    pip = out / "requirements.txt"
    bindep = out / "bindep.txt"
    return (
        pip.read_text(encoding="utf-8") if pip.exists() else "",
        bindep.read_text(encoding="utf-8") if bindep.exists() else "",
    )


def by_collection(pip_lines: str) -> dict[str, dict[str, Requirement]]:
    """introspect's `req  # from collection ns.name` lines, grouped by collection."""
    grouped: dict[str, dict[str, Requirement]] = {}
    for line in pip_lines.splitlines():
        if line.strip():
            requirement, source = line.split("# from collection ")
            parsed = Requirement(requirement.strip())
            grouped.setdefault(source.strip(), {})[parsed.name.lower()] = parsed
    return grouped


@pytest.fixture(scope="module")
def collections_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built tarball installed, beside the venv's amazon.aws and community.aws, as the
    image's galaxy stage lays them out before introspection."""
    build_dir = tmp_path_factory.mktemp("ee-build")
    galaxy("build", "--force", "--output-path", str(build_dir), cwd=REPO_ROOT)
    (tarball,) = build_dir.glob("django_ecs-aws-*.tar.gz")
    path = tmp_path_factory.mktemp("ee-collections")
    galaxy("install", "--no-deps", "--force", "-p", str(path), str(tarball), cwd=path)
    for namespace in ("amazon", "community"):
        (path / "ansible_collections" / namespace).mkdir(exist_ok=True)
        (path / "ansible_collections" / namespace / "aws").symlink_to(
            Path(ansible_collections.__path__[0]) / namespace / "aws"
        )
    return path


def installed_collection_version(namespace: str, name: str) -> str:
    # The collections the checkout's virtualenv runs (the `ansible` package ships them).
    for root in ansible_collections.__path__:
        manifest = Path(root) / namespace / name / "MANIFEST.json"
        if manifest.is_file():
            return json.loads(manifest.read_text(encoding="utf-8"))["collection_info"]["version"]
    raise AssertionError(f"{namespace}.{name} is not installed in the virtualenv")


def test_definition_passes_ansible_builders_schema_version_3() -> None:
    definition = load_definition()
    assert definition["version"] == 3
    validate_schema(definition)


def test_schema_check_refuses_an_unknown_key() -> None:
    # The validation above is ansible-builder's real schema, not a formality.
    definition = load_definition()
    definition["dependencies"]["pip"] = ["boto3"]
    with pytest.raises(DefinitionError):
        validate_schema(definition)


def test_builder_context_carries_the_collection_tarball_and_the_exclusions(tmp_path: Path) -> None:
    definition = load_definition()
    tarball = collection_tarball(definition)
    shutil.copy(EE_FILE, tmp_path / EE_FILE.name)
    # A stand-in for `ansible-galaxy collection build`'s output: create copies it, never opens it.
    (tmp_path / tarball).write_bytes(b"")
    completed = subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-builder"),
            "create",
            "--file",
            EE_FILE.name,
            "--context",
            "context",
            "--output-filename",
            "Containerfile",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    build = tmp_path / "context" / "_build"
    # The galaxy stage installs from /build: the requirement's relative path must find the copy.
    galaxy_requirements = yaml.safe_load((build / "requirements.yml").read_text(encoding="utf-8"))
    (local,) = [item for item in galaxy_requirements["collections"] if item.get("type") == "file"]
    assert (build / local["name"]).is_file(), f"{local['name']} is not in the build context"
    # No Python or system list of its own: introspection takes them from the collections.
    assert not (build / "requirements.txt").exists()
    assert not (build / "bindep.txt").exists()
    exclude = (build / "exclude-requirements.txt").read_text(encoding="utf-8").split()
    assert exclude == definition["dependencies"]["exclude"]["python"]
    containerfile = (tmp_path / "context" / "Containerfile").read_text(encoding="utf-8")
    assert f'ARG EE_BASE_IMAGE="{definition["images"]["base_image"]["name"]}"' in containerfile
    assert "introspect.py introspect --exclude-pip-reqs=exclude-requirements.txt" in containerfile


def test_the_collection_declares_its_execution_environment_requirements() -> None:
    meta = yaml.safe_load(COLLECTION_EE_FILE.read_text(encoding="utf-8"))
    assert meta["version"] == 1
    # ansible-builder refuses absolute paths and joins these with the collection's root.
    for entry in ("python", "system"):
        assert (REPO_ROOT / meta["dependencies"][entry]).is_file(), entry
    # One source of truth: the image's definition does not restate them.
    dependencies = load_definition()["dependencies"]
    assert "python" not in dependencies
    assert "system" not in dependencies


def test_introspection_installs_the_runtime_requirements_and_no_dev_tool(
    collections_path: Path, tmp_path: Path
) -> None:
    exclude = load_definition()["dependencies"]["exclude"]["python"]
    pip_lines, bindep_lines = introspect(collections_path, exclude, tmp_path / "out")
    grouped = by_collection(pip_lines)
    ours = grouped["django_ecs.aws"]
    assert sorted(ours) == ["boto3", "botocore", "pg8000"]
    pins = frozen_pins()
    for name, requirement in ours.items():
        assert str(requirement.specifier) == f"=={pins[name]}", name
    everything = {name for requirements in grouped.values() for name in requirements}
    assert everything & (DEV_TOOLS | set(exclude)) == set()
    # bindep parses the system packages and installs all of them on rpm and dpkg images.
    system = Depends(bindep_lines)
    for platform in ("platform:rpm", "platform:dpkg"):
        installed = [rule[0] for rule in system.active_rules([platform, "default"])]
        assert installed == ["tar", "findutils", "umoci"], platform


def test_without_the_meta_file_introspection_would_install_the_dev_tools(
    collections_path: Path, tmp_path: Path
) -> None:
    """The tarball ships the root requirements.txt (the development set): the meta file is what
    keeps ansible-builder from installing it."""
    bare = tmp_path / "bare"
    shutil.copytree(
        collections_path / "ansible_collections" / "django_ecs",
        bare / "ansible_collections" / "django_ecs",
    )
    (
        bare / "ansible_collections" / "django_ecs" / "aws" / "meta" / "execution-environment.yml"
    ).unlink()
    pip_lines, _ = introspect(bare, [], tmp_path / "out")
    assert {"moto", "ruff"} <= set(by_collection(pip_lines)["django_ecs.aws"])


def test_pins_match_the_checkout() -> None:
    definition = load_definition()
    dependencies = definition["dependencies"]
    galaxy = yaml.safe_load((REPO_ROOT / "galaxy.yml").read_text(encoding="utf-8"))
    assert collection_tarball(definition) == (
        f"{galaxy['namespace']}-{galaxy['name']}-{galaxy['version']}.tar.gz"
    ), "rename the tarball in execution-environment.yml with galaxy.yml's version"
    for item in dependencies["galaxy"]["collections"]:
        if item.get("type") != "file":
            namespace, name = item["name"].split(".")
            assert item["version"] == installed_collection_version(namespace, name), item["name"]
            assert item["name"] in galaxy["dependencies"], f"{item['name']} is not a dependency"
    pins = frozen_pins()
    for requirement in collection_requirements():
        (specifier,) = requirement.specifier
        assert specifier.operator == "==", f"{requirement}: pin it"
        assert pins[requirement.name.lower()] == specifier.version, (
            f"{requirement.name}: constraints.txt pins {pins[requirement.name.lower()]}"
        )
    core = dependencies["ansible_core"]["package_pip"].split("==")[1]
    assert core == importlib.metadata.version("ansible-core")
