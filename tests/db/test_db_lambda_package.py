"""django_ecs.aws.lambda_package: a reproducible db_init zip, built from module_utils."""

from __future__ import annotations

import base64
import hashlib
import importlib
import json
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible_collections.django_ecs.aws.plugins.modules import lambda_package
from db_fixtures import HANDLER_DIR, REPO_ROOT, ansible_env, build_package

RunModule = Callable[..., dict[str, Any]]
MODULE_UTILS = REPO_ROOT / "plugins" / "module_utils"


def test_two_builds_are_byte_identical(run_module: RunModule, tmp_path: Path):
    first = build_package(run_module, tmp_path / "a" / "db_init.zip")
    second = build_package(run_module, tmp_path / "b" / "db_init.zip")

    content = (tmp_path / "a" / "db_init.zip").read_bytes()
    assert content == (tmp_path / "b" / "db_init.zip").read_bytes()
    assert first["sha256"] == second["sha256"] == hashlib.sha256(content).hexdigest()
    assert first["code_sha256"] == base64.b64encode(hashlib.sha256(content).digest()).decode()
    assert first["size"] == len(content)


def test_rebuild_over_the_same_bytes_is_not_a_change(run_module: RunModule, tmp_path: Path):
    dest = tmp_path / "db_init.zip"
    assert build_package(run_module, dest)["changed"] is True
    written_at = dest.stat().st_mtime_ns

    again = build_package(run_module, dest)

    assert again["changed"] is False
    assert dest.stat().st_mtime_ns == written_at


def test_different_bytes_at_dest_are_replaced(run_module: RunModule, tmp_path: Path):
    dest = tmp_path / "db_init.zip"
    dest.write_bytes(b"stale")

    result = build_package(run_module, dest)

    assert result["changed"] is True
    assert hashlib.sha256(dest.read_bytes()).hexdigest() == result["sha256"]


def test_check_mode_reports_the_hash_and_writes_nothing(run_module: RunModule, tmp_path: Path):
    dest = tmp_path / "db_init.zip"
    real = build_package(run_module, tmp_path / "real.zip")

    planned = run_module(
        "lambda_package", {"src": str(HANDLER_DIR), "dest": str(dest)}, check_mode=True
    )

    assert planned["changed"] is True
    assert planned["sha256"] == real["sha256"]
    assert not dest.exists()


def test_zip_holds_the_collection_module_utils_unchanged(lambda_zip: Path):
    with zipfile.ZipFile(lambda_zip) as archive:
        for name in ("db_roles.py", "db_connect.py"):
            assert archive.read(name) == (MODULE_UTILS / name).read_bytes()
        assert archive.read("handler.py") == (HANDLER_DIR / "handler.py").read_bytes()


def test_zip_entries_are_sorted_dated_and_pure_python(lambda_zip: Path):
    with zipfile.ZipFile(lambda_zip) as archive:
        infos = archive.infolist()

    names = [info.filename for info in infos]
    assert names == sorted(names)
    assert {info.date_time for info in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {info.external_attr >> 16 for info in infos} == {0o100644}
    assert {"pg8000/__init__.py", "scramp/__init__.py", "asn1crypto/__init__.py"} <= set(names)
    assert {"dateutil/__init__.py", "six.py"} <= set(names)
    assert not [name for name in names if name.endswith((".pyc", ".so")) or "__pycache__" in name]


def test_a_version_other_than_the_pin_fails(run_module: RunModule, tmp_path: Path):
    result = run_module(
        "lambda_package",
        {
            "src": str(HANDLER_DIR),
            "dest": str(tmp_path / "db_init.zip"),
            "dependencies": ["pg8000==1.0.0"],
        },
    )

    assert result.get("failed") is True
    assert "pg8000 1.31.6 is installed, the pin is 1.0.0" in result["msg"]
    assert not (tmp_path / "db_init.zip").exists()


def test_default_pins_follow_constraints_txt():
    constraints = (REPO_ROOT / "constraints.txt").read_text().splitlines()
    for pin in lambda_package.DEFAULT_DEPENDENCIES:
        assert pin in constraints, f"{pin} differs from constraints.txt"


def test_deterministic_zip_ignores_insertion_order():
    forward = lambda_package.deterministic_zip({"a.py": b"1", "b/c.py": b"2"})
    backward = lambda_package.deterministic_zip({"b/c.py": b"2", "a.py": b"1"})

    assert forward == backward
    assert forward != lambda_package.deterministic_zip({"a.py": b"1", "b/c.py": b"3"})


def test_ca_bundle_is_shipped_for_verify_full(run_module: RunModule, tmp_path: Path):
    bundle = tmp_path / "global-bundle.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    dest = tmp_path / "db_init.zip"

    result = run_module(
        "lambda_package",
        {"src": str(HANDLER_DIR), "dest": str(dest), "ca_bundle": str(bundle)},
    )

    assert result.get("changed") is True, result
    with zipfile.ZipFile(dest) as archive:
        assert archive.read("rds-ca-bundle.pem") == bundle.read_bytes()


def test_ansible_cli_builds_the_package(tmp_path: Path):
    dest = tmp_path / "db_init.zip"
    command = [
        str(Path(sys.executable).parent / "ansible"),
        "localhost",
        "-i",
        "localhost,",
        "-c",
        "local",
        "-e",
        f"ansible_python_interpreter={sys.executable}",
        "-m",
        "django_ecs.aws.lambda_package",
        "-a",
        json.dumps({"src": str(HANDLER_DIR), "dest": str(dest)}),
    ]

    runs = [
        subprocess.run(
            command,
            cwd=REPO_ROOT,
            env=ansible_env(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        for _ in range(2)
    ]

    assert runs[0].returncode == 0, runs[0].stdout + runs[0].stderr
    assert "CHANGED" in runs[0].stdout
    assert runs[1].returncode == 0 and "SUCCESS" in runs[1].stdout, runs[1].stdout
    # Through AnsiballZ too, the module_utils reach the zip byte for byte.
    with zipfile.ZipFile(dest) as archive:
        assert archive.read("db_roles.py") == (MODULE_UTILS / "db_roles.py").read_bytes()


@pytest.mark.parametrize("name", ["lambda_package", "rds_iam_bootstrap"])
def test_documentation_matches_the_argument_spec(name: str):
    module = importlib.import_module(f"ansible_collections.django_ecs.aws.plugins.modules.{name}")
    documented = yaml.safe_load(module.DOCUMENTATION)["options"]
    yaml.safe_load(module.EXAMPLES)
    yaml.safe_load(module.RETURN)

    assert set(documented) == set(module.ARGUMENT_SPEC)
    for option, spec in module.ARGUMENT_SPEC.items():
        for key in ("type", "default", "choices", "elements", "required"):
            assert documented[option].get(key) == spec.get(key), (option, key)
