"""Helpers of the ECS runtime tests: a tiny OCI image pushed through ECR's API, task waits.

The image is laid out as roles/ecr/files/build_oci_layout.sh lays the app's out (files under
/app, entry point /app/docker-entrypoint.sh, workdir /app), with a small Python program as its
"app": what it does is chosen by its arguments, so one image serves every test.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from emulator_cli import parse_exports, run_emulator

from tools.emulator import timing

Aws = Callable[[str], Any]
ACCOUNT = "123456789012"  # moto's default account
REGION = "us-east-1"
TIME_SCALE_ENV = timing.TIME_SCALE_ENV
TIME_SCALE = "0.1"  # health checks at a tenth of their interval: seconds, not minutes

ENTRYPOINT = """\
#!/bin/sh
set -eu
cd "$(dirname "$0")"
exec python app.py "$@"
"""

APP = """\
import json, os, sys, time, http.server, urllib.request
mode, args = (sys.argv[1:] or ["serve"])[0], sys.argv[2:]
if mode == "exit":
    print("about to exit", args[0], flush=True)
    print("second line", flush=True)
    sys.exit(int(args[0]))
if mode == "env":
    for name in args:
        print(f"{name}={os.environ.get(name)}", flush=True)
    print("cwd=" + os.getcwd(), flush=True)
    sys.exit(0)
if mode == "whoami":
    import boto3
    print("identity=" + boto3.client("sts").get_caller_identity()["Arn"], flush=True)
    sys.exit(0)
if mode == "metadata":
    base = os.environ["ECS_CONTAINER_METADATA_URI_V4"]
    print("task=" + json.load(urllib.request.urlopen(base + "/task"))["TaskARN"], flush=True)
    print("container=" + json.load(urllib.request.urlopen(base))["Name"], flush=True)
    sys.exit(0)
if mode == "serve":
    port = int(args[0]) if args else 8000
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps({"path": self.path, "pid": os.getpid()}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
    print(f"listening on {port}", flush=True)
    http.server.HTTPServer(("0.0.0.0", port), Handler).serve_forever()
if mode == "sleep":
    time.sleep(float(args[0]))
"""


def namespaces_available() -> bool:
    """Whether tasks get network namespaces here (root with unshare), as the emulator checks."""
    from tools.emulator import netns

    try:
        netns.Namespace.create().close()
    except netns.NamespaceUnavailableError:
        return False
    return True


NETNS = namespaces_available()
needs_netns = pytest.mark.skipif(
    not NETNS, reason="no network namespaces (not root): tasks share the host's ports"
)


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def layer(files: dict[str, tuple[bytes, int]]) -> bytes:
    """A gzip layer of `files` (path -> (content, mode))."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, (content, mode) in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(content), mode
            tar.addfile(info, io.BytesIO(content))
    return gzip.compress(buffer.getvalue(), mtime=0)


def push_blob(ecr: Any, repository: str, data: bytes) -> str:
    upload = ecr.initiate_layer_upload(repositoryName=repository)["uploadId"]
    ecr.upload_layer_part(
        repositoryName=repository,
        uploadId=upload,
        partFirstByte=0,
        partLastByte=len(data) - 1,
        layerPartBlob=data,
    )
    digest = sha256(data)
    ecr.complete_layer_upload(repositoryName=repository, uploadId=upload, layerDigests=[digest])
    return digest


def push_app_image(ecr: Any, repository: str, tag: str = "v1", extra_env: str = "") -> str:
    """Push the test app as an OCI image; its `<registry>/<repo>@sha256:...` reference."""
    files = {
        "app/docker-entrypoint.sh": (ENTRYPOINT.encode(), 0o755),
        "app/app.py": (textwrap.dedent(APP).encode(), 0o644),
        "app/stale.txt": (b"lower layer", 0o644),
    }
    top = {"app/.wh.stale.txt": (b"", 0o644), "app/VERSION": (tag.encode(), 0o644)}
    layers = [layer(files), layer(top)]
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "Entrypoint": ["/app/docker-entrypoint.sh"],
            "Cmd": ["serve"],
            "WorkingDir": "/app",
            "Env": ["IMAGE_VARIABLE=from-image", f"EXTRA={extra_env}"],
        },
        "rootfs": {"type": "layers", "diff_ids": [sha256(gzip.decompress(b)) for b in layers]},
    }
    config_bytes = json.dumps(config).encode()
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": push_blob(ecr, repository, config_bytes),
            "size": len(config_bytes),
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": push_blob(ecr, repository, blob),
                "size": len(blob),
            }
            for blob in layers
        ],
    }
    text = json.dumps(manifest)
    image = ecr.put_image(repositoryName=repository, imageManifest=text, imageTag=tag)["image"]
    registry = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
    return f"{registry}/{repository}@{image['imageId']['imageDigest']}"


def start_emulator(state_dir: Path) -> dict[str, str]:
    """An emulator of its own with health checks sped up (TIME_SCALE)."""
    saved = os.environ.get(TIME_SCALE_ENV)
    os.environ[TIME_SCALE_ENV] = TIME_SCALE
    try:
        started = run_emulator("start", state_dir)
    finally:
        if saved is None:
            del os.environ[TIME_SCALE_ENV]
        else:
            os.environ[TIME_SCALE_ENV] = saved
    assert started.returncode == 0, started.stderr
    return parse_exports(started.stdout)


def client_factory(env: dict[str, str]) -> Aws:
    def client(service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=env["AWS_ENDPOINT_URL"],
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    return client


@pytest.fixture(scope="module")
def ecs_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Aws]]:
    state_dir = tmp_path_factory.mktemp("emulator-ecs")
    env = start_emulator(state_dir)
    yield state_dir, client_factory(env)
    run_emulator("stop", state_dir)


def wait_for(predicate: Callable[[], Any], timeout: float = 20, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout}s: {predicate}")
        time.sleep(interval)


def describe_task(aws: Aws, cluster: str, arn: str) -> dict[str, Any]:
    return aws("ecs").describe_tasks(cluster=cluster, tasks=[arn])["tasks"][0]


def wait_status(aws: Aws, cluster: str, arn: str, status: str, timeout: float = 20) -> dict:
    return wait_for(
        lambda: (t := describe_task(aws, cluster, arn))["lastStatus"] == status and t, timeout
    )


def log_messages(aws: Aws, group: str, stream: str) -> list[str]:
    events = aws("logs").get_log_events(logGroupName=group, logStreamName=stream)["events"]
    return [e["message"] for e in events]


def network(aws: Aws) -> dict[str, Any]:
    """awsvpc networkConfiguration in a fresh subnet."""
    ec2 = aws("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.3.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName=f"sg-{vpc}", Description="t", VpcId=vpc)
    return {
        "awsvpcConfiguration": {
            "subnets": [subnet],
            "securityGroups": [group["GroupId"]],
            "assignPublicIp": "DISABLED",
        }
    }


# The fixtures every ECS test module shares (each module defines `aws` on its own emulator).
@pytest.fixture(scope="module")
def image(aws: Aws) -> str:
    """The app image pushed to a repository of its own."""
    repository = f"app-{uuid.uuid4().hex[:8]}"
    aws("ecr").create_repository(repositoryName=repository)
    return push_app_image(aws("ecr"), repository)


@pytest.fixture(scope="module")
def cluster(aws: Aws) -> str:
    name = f"c-{uuid.uuid4().hex[:8]}"
    aws("ecs").create_cluster(clusterName=name)
    return name


@pytest.fixture(scope="module")
def awsvpc(aws: Aws) -> dict[str, Any]:
    return network(aws)
