"""execution-environment.yml is valid for ansible-builder and agrees with this checkout."""

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

REPO_ROOT = Path(__file__).resolve().parents[2]
EE_FILE = REPO_ROOT / "execution-environment.yml"


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


def test_builder_context_carries_the_collection_tarball_and_requirements(tmp_path: Path) -> None:
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
    galaxy = yaml.safe_load((build / "requirements.yml").read_text(encoding="utf-8"))
    (local,) = [item for item in galaxy["collections"] if item.get("type") == "file"]
    assert (build / local["name"]).is_file(), f"{local['name']} is not in the build context"
    assert "boto3==" in (build / "requirements.txt").read_text(encoding="utf-8")
    # bindep parses the system packages and installs all of them on the base image's platform.
    system = Depends((build / "bindep.txt").read_text(encoding="utf-8"))
    installed = [rule[0] for rule in system.active_rules(["platform:rpm", "default"])]
    assert installed == [line.split()[0] for line in definition["dependencies"]["system"]]
    containerfile = (tmp_path / "context" / "Containerfile").read_text(encoding="utf-8")
    assert f'ARG EE_BASE_IMAGE="{definition["images"]["base_image"]["name"]}"' in containerfile


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
    for requirement in dependencies["python"]:
        name, version = requirement.split("==")
        assert pins[name.lower()] == version, f"{name}: constraints.txt pins {pins[name.lower()]}"
    core = dependencies["ansible_core"]["package_pip"].split("==")[1]
    assert core == importlib.metadata.version("ansible-core")
