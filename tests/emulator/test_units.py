"""Pure helpers of the emulator, tested without servers."""

from __future__ import annotations

import hashlib
from dataclasses import asdict

import pytest
from pg8000.native import literal

from tools.emulator import launcher, rds_engine_defaults, rds_postgres
from tools.emulator.moto_patched import (
    deployment_configuration_as_aws,
    manifest_digest,
    new_dbi_resource_id,
)
from tools.emulator.processes import free_loopback_ports


def _state() -> launcher.EmulatorState:
    return launcher.EmulatorState(
        moto_pid=1,
        moto_port=5001,
        pg_pid=2,
        pg_port=5002,
        pg_user="rdsadmin",
        pg_password="p@ss word",
        pg_base_dir="/tmp/x",
        started_at=0.0,
    )


@pytest.mark.parametrize(
    ("family", "force_ssl"), [("postgres16", "1"), ("postgres15", "1"), ("postgres14", "0")]
)
def test_force_ssl_default_follows_the_engine_version(family: str, force_ssl: str) -> None:
    parameters = rds_engine_defaults.engine_default_parameters(family)
    assert parameters["rds.force_ssl"]["ParameterValue"] == force_ssl
    assert {p["Source"] for p in parameters.values()} == {"engine-default"}


def test_unknown_family_has_no_defaults() -> None:
    assert rds_engine_defaults.engine_default_parameters("mysql8.0") == {}
    assert not rds_engine_defaults.is_known_family(None)


def test_defaults_are_fresh_copies() -> None:
    first = rds_engine_defaults.engine_default_parameters("postgres16")
    first["rds.force_ssl"]["ParameterValue"] = "0"
    second = rds_engine_defaults.engine_default_parameters("postgres16")
    assert second["rds.force_ssl"]["ParameterValue"] == "1"


def test_master_user_statements_quote_names_and_passwords() -> None:
    statements = rds_postgres.master_user_statements('we"ird', "it's", exists=False)
    assert statements == [
        f'CREATE ROLE "we""ird" WITH LOGIN CREATEROLE CREATEDB PASSWORD {literal("it's")}',
        'GRANT rds_superuser TO "we""ird"',
    ]
    assert rds_postgres.master_user_statements("m", None, exists=True)[0] == (
        'ALTER ROLE "m" WITH LOGIN CREATEROLE CREATEDB'
    )


def test_deployment_configuration_gets_aws_defaults() -> None:
    assert deployment_configuration_as_aws(None) == {
        "deploymentCircuitBreaker": {"enable": False, "rollback": False},
        "maximumPercent": 200,
        "minimumHealthyPercent": 100,
    }
    partial = deployment_configuration_as_aws({"deploymentCircuitBreaker": {"enable": True}})
    assert partial["deploymentCircuitBreaker"] == {"enable": True, "rollback": False}


def test_manifest_digest_hashes_the_exact_bytes() -> None:
    assert manifest_digest("{}") == "sha256:" + hashlib.sha256(b"{}").hexdigest()


def test_dbi_resource_ids_look_like_aws() -> None:
    resource_id = new_dbi_resource_id()
    assert resource_id.startswith("db-")
    assert len(resource_id) == 29
    assert resource_id[3:].isupper()


def test_exports_quote_values_and_default_the_region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    lines = launcher.export_lines(_state()).splitlines()
    assert "export PGPASSWORD='p@ss word'" in lines
    assert 'export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"' in lines
    assert "export AWS_ENDPOINT_URL=http://127.0.0.1:5001" in lines


def test_free_ports_are_distinct() -> None:
    ports = free_loopback_ports(3)
    assert len(set(ports)) == 3


def test_a_server_from_other_code_is_stale() -> None:
    current = launcher.EmulatorState(
        **{**asdict(_state()), "code_version": launcher.code_version()}
    )
    older = launcher.EmulatorState(**{**asdict(_state()), "code_version": "0123456789abcdef"})
    assert not launcher.is_stale(current)
    assert launcher.is_stale(older)
