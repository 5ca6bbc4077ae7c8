"""The pure parts of the ECS runtime (emulator item 31): image references and layers, how a
container's command and environment are built, secrets' references, subnet addresses, the
circuit breaker's threshold. No emulator needed."""

from __future__ import annotations

import gzip
import io
import ipaddress
import json
import tarfile
from pathlib import Path

import pytest

from tools.emulator import ecr_blobs, ecs_images, ecs_runtime, ecs_services, netns

DIGEST = "sha256:" + "ab" * 32


def test_image_reference_by_digest_tag_or_default_tag() -> None:
    registry = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
    by_digest = ecs_images.ImageRef.parse(f"{registry}/team/app@{DIGEST}")
    assert (by_digest.account, by_digest.region, by_digest.repository) == (
        "123456789012",
        "eu-west-1",
        "team/app",
    )
    assert (by_digest.tag, by_digest.digest) == (None, DIGEST)
    assert ecs_images.ImageRef.parse(f"{registry}/app:v7").tag == "v7"
    assert ecs_images.ImageRef.parse(f"{registry}/app").tag == "latest"
    with pytest.raises(ecs_images.ImageError):
        ecs_images.ImageRef.parse("python:3.12-slim")  # no registry but the emulated ECR


def _layer(members: dict[str, bytes | None]) -> bytes:
    """A gzip layer; None makes a directory."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            if content is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
    return gzip.compress(buffer.getvalue())


def test_layers_unpack_in_order_with_whiteouts_and_opaque_directories(tmp_path: Path) -> None:
    blobs = ecr_blobs.BlobStore(tmp_path / "blobs")
    lower = blobs.put(_layer({"app/a": b"1", "app/b": b"2", "data/old": b"x", "../escape": b"no"}))
    upper = blobs.put(
        _layer({"app/.wh.b": b"", "app/a": b"new", "data/.wh..wh..opq": b"", "data/n": b"y"})
    )
    image = ecs_images.Image(DIGEST, ecs_images.ImageConfig(), [lower, upper])
    root = tmp_path / "root"
    ecs_images.unpack(image, blobs, root)
    assert (root / "app" / "a").read_bytes() == b"new"
    assert not (root / "app" / "b").exists()
    assert sorted(p.name for p in (root / "data").iterdir()) == ["n"]
    assert not (tmp_path / "escape").exists()


def test_image_config_entrypoint_cmd_workdir_env() -> None:
    blob = json.dumps(
        {"config": {"Entrypoint": ["/e"], "Cmd": ["c"], "WorkingDir": "/w", "Env": ["A=1=2"]}}
    ).encode()
    config = ecs_images.ImageConfig.from_blob(blob)
    assert (config.entrypoint, config.cmd, config.working_dir, config.env) == (
        ["/e"],
        ["c"],
        "/w",
        {"A": "1=2"},
    )


def test_command_follows_docker_rules() -> None:
    config = ecs_images.ImageConfig(entrypoint=["/app/entry.sh"], cmd=["serve"])
    assert ecs_runtime.argv_for(config, {}, {}) == ["/app/entry.sh", "serve"]
    assert ecs_runtime.argv_for(config, {"command": ["migrate"]}, {}) == [
        "/app/entry.sh",
        "migrate",
    ]
    override = {"command": ["check"]}
    assert ecs_runtime.argv_for(config, {"command": ["migrate"]}, override)[1:] == ["check"]
    # A definition's entryPoint drops the image's Cmd, as docker run --entrypoint does.
    assert ecs_runtime.argv_for(config, {"entryPoint": ["sh", "-c", "x"]}, {}) == ["sh", "-c", "x"]


def test_environment_precedence_image_definition_secrets_override() -> None:
    config = ecs_images.ImageConfig(env={"A": "image", "B": "image", "C": "image"})
    definition = {"environment": [{"name": "B", "value": "definition"}]}
    override = {"environment": [{"name": "C", "value": "override"}]}
    merged = ecs_runtime.merged_environment(config, definition, override, {"S": "secret"})
    assert merged == {"A": "image", "B": "definition", "C": "override", "S": "secret"}


def test_secret_references() -> None:
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"
    assert ecs_runtime.secret_reference(arn) == ("secretsmanager", arn, None, None, None)
    assert ecs_runtime.secret_reference(f"{arn}:password:AWSPREVIOUS:") == (
        "secretsmanager",
        arn,
        "password",
        "AWSPREVIOUS",
        None,
    )
    assert ecs_runtime.secret_reference("/app/key")[0] == "ssm"


def test_health_check_commands() -> None:
    assert ecs_runtime.health_command({"command": ["CMD-SHELL", "curl x || exit 1"]}) == [
        "/bin/sh",
        "-c",
        "curl x || exit 1",
    ]
    assert ecs_runtime.health_command({"command": ["CMD", "/bin/true", "-v"]}) == [
        "/bin/true",
        "-v",
    ]
    assert ecs_runtime.health_command({"command": []}) is None


def test_image_paths_map_into_the_root_and_host_paths_stay(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "run.sh").write_text("")
    assert ecs_runtime.map_into_root(tmp_path, "/app/run.sh") == str(tmp_path / "app/run.sh")
    assert ecs_runtime.map_into_root(tmp_path, "/bin/sh") == "/bin/sh"
    assert ecs_runtime.map_into_root(tmp_path, "serve") == "serve"


def test_exit_codes_as_docker_reports_them() -> None:
    assert [ecs_runtime.exit_code_of(c) for c in (0, 3, -9, -15)] == [0, 3, 137, 143]


def test_task_addresses_lie_in_the_subnet_outside_reserved_ones() -> None:
    subnet = ipaddress.ip_network("10.0.1.0/28")
    reserved = {"10.0.1.0", "10.0.1.1", "10.0.1.2", "10.0.1.3", "10.0.1.15"}
    taken = {f"10.0.1.{n}" for n in range(4, 14)}
    assert ecs_runtime.free_address_in(str(subnet), taken) == "10.0.1.14"
    for _ in range(50):
        address = ecs_runtime.free_address_in(str(subnet), [])
        assert ipaddress.ip_address(address) in subnet and address not in reserved


def test_circuit_breaker_threshold_is_half_the_desired_count_within_3_and_200() -> None:
    thresholds = [ecs_services.breaker_threshold(n) for n in (1, 2, 6, 7, 10, 1000)]
    assert thresholds == [3, 3, 3, 4, 5, 200]


def test_health_check_time_scale() -> None:
    assert ecs_runtime.time_scale({ecs_runtime.TIME_SCALE_ENV: "0.1"}) == 0.1
    assert ecs_runtime.time_scale({ecs_runtime.TIME_SCALE_ENV: "x"}) == 1.0
    assert ecs_runtime.time_scale({}) == 1.0


def test_host_listening_ports_are_read_from_proc_net_tcp(tmp_path: Path) -> None:
    table = tmp_path / "tcp"
    table.write_text(
        "  sl  local_address rem_address   st\n"
        "   0: 0100007F:1F90 00000000:0000 0A\n"  # 127.0.0.1:8080 listening
        "   1: 00000000:0016 00000000:0000 0A\n"  # 0.0.0.0:22 listening
        "   2: 0100007F:D431 0100007F:1F90 01\n"  # an established connection
        "   3: 0A00000A:0050 00000000:0000 0A\n"  # 10.0.0.10:80: not loopback
    )
    assert netns.host_listening_ports(table) == {8080, 22}


def test_without_root_there_is_no_namespace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(netns.os, "geteuid", lambda: 1000)
    with pytest.raises(netns.NamespaceUnavailableError):
        netns.Namespace.create()
