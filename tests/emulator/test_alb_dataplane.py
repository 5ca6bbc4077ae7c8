"""Emulator items 27-30: the ALB answers HTTP (tools/emulator/alb_dataplane.py, alb_health.py).

Real parts only: an emulator of our own (scripts/emulator, health-check times scaled by 0.1
through DJANGO_ECS_EMULATOR_TIME_SCALE), real HTTP targets (http.server threads on
loopback), real TLS with a certificate imported into ACM. On plain moto nothing listens, every
target is "healthy" at once and DNSName ends in elb.amazonaws.com, so each test here fails there.
"""

from __future__ import annotations

import datetime
import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from emulator_cli import parse_exports, run_emulator

from tools.emulator import alb_dataplane, alb_health

Aws = Callable[[str], Any]
SCALE = 0.1  # health checks every 0.5 s (interval 5), 0.2 s timeout (timeout 2)
HEALTH = {
    "HealthCheckPath": "/health",
    "HealthCheckIntervalSeconds": 5,
    "HealthCheckTimeoutSeconds": 2,
    "HealthyThresholdCount": 2,
    "UnhealthyThresholdCount": 2,
}
REGION = "us-east-1"


# Targets -------------------------------------------------------------------------------------
class Target:
    """A tiny HTTP target on loopback: answers its name, records what it was sent."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.health_status = 200
        self.health_delay = 0.0
        self.health_gate = threading.Event()  # health checks wait for it (set: answer at once)
        self.health_gate.set()
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.health_checks: list[dict[str, str]] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                headers = dict(self.headers.items())
                if self.path == "/health":
                    target.health_checks.append(headers)
                    target.health_gate.wait(timeout=10)
                    time.sleep(target.health_delay)
                    self._answer(target.health_status, b"ok")
                elif self.path == "/drop":
                    self.close_connection = True  # no answer at all: the proxy's 502
                else:
                    target.requests.append((self.path, headers))
                    self._answer(200, target.name.encode())

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                target.requests.append((self.path, dict(self.headers.items())))
                self._answer(200, b"got " + self.rfile.read(length))

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


@pytest.fixture
def targets() -> Iterator[Callable[[str], Target]]:
    made: list[Target] = []

    def make(name: str) -> Target:
        made.append(Target(name))
        return made[-1]

    yield make
    for target in made:
        target.close()


# The emulator and its resources --------------------------------------------------------------
@pytest.fixture(scope="module")
def alb_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    """An emulator of our own with health-check times scaled down."""
    state_dir = tmp_path_factory.mktemp("emulator-alb")
    saved = os.environ.get(alb_health.TIME_SCALE_ENV)
    os.environ[alb_health.TIME_SCALE_ENV] = str(SCALE)
    try:
        started = run_emulator("start", state_dir)
    finally:
        if saved is None:
            del os.environ[alb_health.TIME_SCALE_ENV]
        else:
            os.environ[alb_health.TIME_SCALE_ENV] = saved
    assert started.returncode == 0, started.stderr
    yield state_dir, parse_exports(started.stdout)
    run_emulator("stop", state_dir)


@pytest.fixture(scope="module")
def state_dir(alb_emulator: tuple[Path, dict[str, str]]) -> Path:
    return alb_emulator[0]


def _clients(endpoint: str) -> Aws:
    def client(service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=endpoint,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    return client


@pytest.fixture(scope="module")
def aws(alb_emulator: tuple[Path, dict[str, str]]) -> Aws:
    return _clients(alb_emulator[1]["AWS_ENDPOINT_URL"])


@pytest.fixture(scope="module")
def elb(aws: Aws) -> Any:
    return aws("elbv2")


def make_network(ec2: Any) -> tuple[str, list[str]]:
    vpc = ec2.create_vpc(CidrBlock="10.10.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.10.{i}.0/24", AvailabilityZone=f"{REGION}{z}")
        for i, z in ((1, "a"), (2, "b"))
    ]
    return vpc, [s["Subnet"]["SubnetId"] for s in subnets]


@pytest.fixture(scope="module")
def network(aws: Aws) -> tuple[str, list[str]]:
    return make_network(aws("ec2"))


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def make_alb(elb: Any, network: tuple[str, list[str]]) -> dict[str, Any]:
    created = elb.create_load_balancer(Name=unique("alb"), Subnets=network[1], Type="application")
    return dict(created["LoadBalancers"][0])


def make_group(elb: Any, network: tuple[str, list[str]], **overrides: Any) -> str:
    settings = {**HEALTH, **overrides}
    group = elb.create_target_group(
        Name=unique("tg"), Protocol="HTTP", Port=80, VpcId=network[0], TargetType="ip", **settings
    )
    return str(group["TargetGroups"][0]["TargetGroupArn"])


def forward(group_arn: str) -> list[dict[str, Any]]:
    return [{"Type": "forward", "TargetGroupArn": group_arn}]


def listen(elb: Any, balancer: dict[str, Any], actions: list[dict[str, Any]], **kw: Any) -> str:
    settings = {"Protocol": "HTTP", "Port": 80, **kw}
    created = elb.create_listener(
        LoadBalancerArn=balancer["LoadBalancerArn"], DefaultActions=actions, **settings
    )
    return str(created["Listeners"][0]["ListenerArn"])


def local_port(state_dir: Path, listener_arn: str) -> int:
    ports = {e["listener_arn"]: e["local_port"] for e in alb_dataplane.listener_ports(state_dir)}
    return int(ports[listener_arn])


def register(elb: Any, group_arn: str, *members: Target) -> None:
    elb.register_targets(
        TargetGroupArn=group_arn, Targets=[{"Id": "127.0.0.1", "Port": t.port} for t in members]
    )


def health_of(elb: Any, group_arn: str) -> dict[int, dict[str, Any]]:
    described = elb.describe_target_health(TargetGroupArn=group_arn)["TargetHealthDescriptions"]
    return {int(d["Target"]["Port"]): d["TargetHealth"] for d in described}


def wait_state(
    elb: Any, group_arn: str, port: int, state: str, timeout: float = 10
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        health = health_of(elb, group_arn).get(port, {})
        if health.get("State") == state or time.monotonic() > deadline:
            assert health.get("State") == state, health
            return health
        time.sleep(0.1)


def fetch(
    port: int,
    path: str = "/",
    host: str = "example.test",
    tls: ssl.SSLContext | None = None,
) -> tuple[int, dict[str, str], bytes]:
    connection: http.client.HTTPConnection
    if tls is not None:
        connection = http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=tls)
    else:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers={"Host": f"{host}:{port}"})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


@pytest.fixture
def served(
    elb: Any, network: tuple[str, list[str]], state_dir: Path
) -> Callable[..., tuple[dict[str, Any], str, int]]:
    """An ALB with an HTTP listener forwarding to a new target group: (balancer, group, port)."""

    def make(**group_settings: Any) -> tuple[dict[str, Any], str, int]:
        balancer = make_alb(elb, network)
        group = make_group(elb, network, **group_settings)
        listener = listen(elb, balancer, forward(group))
        return balancer, group, local_port(state_dir, listener)

    return make


# Forwarding ----------------------------------------------------------------------------------
def test_forward_passes_host_unchanged_and_adds_forwarded_headers(
    elb: Any, served: Any, targets: Any
) -> None:
    balancer, group, port = served()
    web = targets("web")
    register(elb, group, web)
    wait_state(elb, group, web.port, "healthy")

    status, _, body = fetch(port, "/items?page=2", host=balancer["DNSName"])

    assert (status, body) == (200, b"web")
    path, seen = web.requests[-1]
    assert path == "/items?page=2"
    assert seen["Host"] == f"{balancer['DNSName']}:{port}"  # as the client sent it
    assert seen["X-Forwarded-For"] == "127.0.0.1"
    assert seen["X-Forwarded-Proto"] == "http"
    assert seen["X-Forwarded-Port"] == str(port)
    assert seen["X-Amzn-Trace-Id"].startswith("Root=1-")


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_request_body_reaches_target(elb: Any, served: Any, targets: Any, chunked: bool) -> None:
    _, group, port = served()
    web = targets("posts")
    register(elb, group, web)
    wait_state(elb, group, web.port, "healthy")
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    body = iter([b"name=", b"value"]) if chunked else b"name=value"
    connection.request("POST", "/form", body=body, encode_chunked=chunked)
    response = connection.getresponse()
    assert (response.status, response.read()) == (200, b"got name=value")
    connection.close()
    assert web.requests[-1][1]["Content-Length"] == "10"


def test_dns_name_is_under_elb_localhost(elb: Any, network: Any) -> None:
    name = make_alb(elb, network)["DNSName"]
    assert name.endswith(f".{REGION}.elb.localhost")


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")
def test_curl_reaches_the_balancer_by_its_dns_name(elb: Any, served: Any, targets: Any) -> None:
    balancer, group, port = served()
    web = targets("by-name")
    register(elb, group, web)
    wait_state(elb, group, web.port, "healthy")
    url = f"http://{balancer['DNSName']}:{port}/"
    # --noproxy: a proxy variable in the environment must not take the request off loopback.
    result = subprocess.run(
        ["curl", "-sS", "--noproxy", "*", url],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert result.stdout == "by-name", result.stderr


def test_round_robin_over_healthy_targets(elb: Any, served: Any, targets: Any) -> None:
    _, group, port = served()
    first, second = targets("first"), targets("second")
    register(elb, group, first, second)
    for member in (first, second):
        wait_state(elb, group, member.port, "healthy")

    bodies = [fetch(port)[2] for _ in range(6)]

    assert sorted(bodies) == [b"first"] * 3 + [b"second"] * 3
    assert bodies[0] != bodies[1]


def test_unhealthy_target_leaves_rotation_and_comes_back(
    elb: Any, served: Any, targets: Any
) -> None:
    _, group, port = served()
    steady, flaky = targets("steady"), targets("flaky")
    register(elb, group, steady, flaky)
    wait_state(elb, group, flaky.port, "healthy")
    wait_state(elb, group, steady.port, "healthy")

    flaky.health_status = 500
    health = wait_state(elb, group, flaky.port, "unhealthy")
    assert health["Reason"] == "Target.ResponseCodeMismatch"
    assert health["Description"] == "Health checks failed with these codes: [500]"
    assert {fetch(port)[2] for _ in range(4)} == {b"steady"}

    flaky.health_status = 200
    wait_state(elb, group, flaky.port, "healthy")
    assert {fetch(port)[2] for _ in range(4)} == {b"steady", b"flaky"}


def test_all_targets_unhealthy_fails_open(elb: Any, served: Any, targets: Any) -> None:
    # ELB User Guide: "If a target group contains only unhealthy registered targets, the load
    # balancer routes requests to all those targets, regardless of their health status."
    _, group, port = served()
    sick = targets("sick")
    sick.health_status = 503
    register(elb, group, sick)
    wait_state(elb, group, sick.port, "unhealthy")
    assert fetch(port)[:3:2] == (200, b"sick")


def test_no_registered_target_answers_503(served: Any) -> None:
    _, _, port = served()
    status, headers, body = fetch(port)
    assert status == 503
    assert headers["Server"] == "awselb/2.0"
    assert b"503 Service Temporarily Unavailable" in body


def test_target_failing_mid_request_answers_502(elb: Any, served: Any, targets: Any) -> None:
    _, group, port = served()
    web = targets("drops")
    register(elb, group, web)
    wait_state(elb, group, web.port, "healthy")
    status, headers, _ = fetch(port, "/drop")
    assert (status, headers["Server"]) == (502, "awselb/2.0")


def test_health_check_sends_target_address_as_host(elb: Any, served: Any, targets: Any) -> None:
    _, group, _ = served()
    web = targets("checked")
    register(elb, group, web)
    wait_state(elb, group, web.port, "healthy")
    assert web.health_checks[0]["Host"] == f"127.0.0.1:{web.port}"
    assert web.health_checks[0]["User-Agent"] == "ELB-HealthChecker/2.0"


# DescribeTargetHealth ------------------------------------------------------------------------
def test_target_starts_initial_then_healthy(elb: Any, served: Any, targets: Any) -> None:
    # Ten failures allowed: the checks that time out while the gate is shut keep it `initial`.
    _, group, _ = served(UnhealthyThresholdCount=10)
    late = targets("late")
    late.health_gate.clear()
    register(elb, group, late)
    assert health_of(elb, group)[late.port] == {
        "State": "initial",
        "Reason": "Elb.InitialHealthChecking",
        "Description": "Initial health checks in progress",
    }
    late.health_gate.set()
    assert wait_state(elb, group, late.port, "healthy") == {"State": "healthy"}


def test_slow_health_check_is_a_timeout(elb: Any, served: Any, targets: Any) -> None:
    _, group, _ = served()
    stuck = targets("stuck")
    stuck.health_delay = 3.0  # beyond HealthCheckTimeoutSeconds (2 s; timeouts are never scaled)
    register(elb, group, stuck)
    health = wait_state(elb, group, stuck.port, "unhealthy")
    assert (health["Reason"], health["Description"]) == ("Target.Timeout", "Request timed out")


def test_refused_connection_fails_health_checks(elb: Any, served: Any, targets: Any) -> None:
    _, group, _ = served()
    gone = targets("gone")
    gone.close()
    register(elb, group, gone)
    health = wait_state(elb, group, gone.port, "unhealthy")
    assert (health["Reason"], health["Description"]) == (
        "Target.FailedHealthChecks",
        "Health checks failed",
    )


def test_unpublished_private_address_is_never_contacted(elb: Any, served: Any) -> None:
    # No task published 10.99.0.1:8000: nothing is sent off loopback, the target times out.
    _, group, port = served()
    elb.register_targets(TargetGroupArn=group, Targets=[{"Id": "10.99.0.1", "Port": 8000}])
    health = wait_state(elb, group, 8000, "unhealthy")
    assert health["Reason"] == "Target.Timeout"
    assert fetch(port)[0] == 504  # fail-open sends it there; an ENI that never answers


def test_group_without_listener_is_unused(elb: Any, network: Any, targets: Any) -> None:
    group = make_group(elb, network)
    idle = targets("idle")
    register(elb, group, idle)
    time.sleep(1.0)  # two check intervals: still nobody checks it
    assert health_of(elb, group)[idle.port] == {
        "State": "unused",
        "Reason": "Target.NotInUse",
        "Description": "Target group is not configured to receive traffic from the load balancer",
    }
    assert idle.health_checks == []


def test_deregistered_target_drains_then_disappears(elb: Any, served: Any, targets: Any) -> None:
    _, group, port = served()
    leaving = targets("leaving")
    register(elb, group, leaving)
    wait_state(elb, group, leaving.port, "healthy")
    # 30 s is capped at DRAIN_CAP_SECONDS (10 s), scaled: 1 s.
    elb.modify_target_group_attributes(
        TargetGroupArn=group,
        Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "30"}],
    )
    elb.deregister_targets(
        TargetGroupArn=group, Targets=[{"Id": "127.0.0.1", "Port": leaving.port}]
    )

    assert health_of(elb, group)[leaving.port] == {
        "State": "draining",
        "Reason": "Target.DeregistrationInProgress",
        "Description": "Target deregistration is in progress",
    }
    assert fetch(port)[0] == 503  # a draining target gets no new requests
    time.sleep(1.5)
    assert health_of(elb, group) == {}


# Rules and actions ---------------------------------------------------------------------------
def test_rules_by_priority_then_default(
    elb: Any, network: Any, state_dir: Path, targets: Any
) -> None:
    balancer = make_alb(elb, network)
    group = make_group(elb, network)
    api = targets("api")
    register(elb, group, api)
    not_found = {"StatusCode": "404", "ContentType": "text/plain", "MessageBody": "nothing here"}
    listener = listen(elb, balancer, [{"Type": "fixed-response", "FixedResponseConfig": not_found}])
    denied = {"StatusCode": "403", "ContentType": "application/json", "MessageBody": '{"no": 1}'}
    elb.create_rule(
        ListenerArn=listener,
        Priority=10,
        Conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/api/*"]}}],
        Actions=forward(group),
    )
    elb.create_rule(  # a lower number wins, even for /api/ paths
        ListenerArn=listener,
        Priority=5,
        Conditions=[{"Field": "host-header", "HostHeaderConfig": {"Values": ["admin.*"]}}],
        Actions=[{"Type": "fixed-response", "FixedResponseConfig": denied}],
    )
    port = local_port(state_dir, listener)
    wait_state(elb, group, api.port, "healthy")

    assert fetch(port, "/api/users")[::2] == (200, b"api")
    assert fetch(port, "/api/users", host="ADMIN.example.test")[::2] == (403, b'{"no": 1}')
    status, headers, body = fetch(port, "/elsewhere")
    assert (status, headers["Content-Type"], body) == (404, "text/plain", b"nothing here")


def test_weighted_forward_never_picks_weight_zero(
    elb: Any, network: Any, state_dir: Path, targets: Any
) -> None:
    balancer = make_alb(elb, network)
    live, dark = make_group(elb, network), make_group(elb, network)
    blue, green = targets("blue"), targets("green")
    register(elb, live, blue)
    register(elb, dark, green)
    weights = [{"TargetGroupArn": live, "Weight": 1}, {"TargetGroupArn": dark, "Weight": 0}]
    listener = listen(
        elb, balancer, [{"Type": "forward", "ForwardConfig": {"TargetGroups": weights}}]
    )
    wait_state(elb, live, blue.port, "healthy")
    wait_state(elb, dark, green.port, "healthy")
    port = local_port(state_dir, listener)
    assert {fetch(port)[2] for _ in range(6)} == {b"blue"}


# Redirect and HTTPS --------------------------------------------------------------------------
def self_signed(common_name: str) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(common_name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return certificate.public_bytes(serialization.Encoding.PEM), key_pem


@pytest.fixture
def https_balancer(
    aws: Aws, elb: Any, network: Any, state_dir: Path, targets: Any
) -> dict[str, Any]:
    """An ALB as the alb role builds it: HTTP:80 redirecting to HTTPS:443 (imported cert)."""
    balancer = make_alb(elb, network)
    certificate, key = self_signed(f"*.{REGION}.elb.localhost")
    imported = aws("acm").import_certificate(Certificate=certificate, PrivateKey=key)
    group = make_group(elb, network)
    secure = targets("secure")
    register(elb, group, secure)
    https = listen(
        elb,
        balancer,
        forward(group),
        Protocol="HTTPS",
        Port=443,
        Certificates=[{"CertificateArn": imported["CertificateArn"]}],
    )
    to_https = {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"}
    http_listener = listen(elb, balancer, [{"Type": "redirect", "RedirectConfig": to_https}])
    wait_state(elb, group, secure.port, "healthy")
    return {
        "dns": balancer["DNSName"],
        "certificate": certificate,
        "https_listener": https,
        "https_port": local_port(state_dir, https),
        "http_port": local_port(state_dir, http_listener),
        "target": secure,
    }


def test_redirect_to_https_points_at_local_https_listener(https_balancer: dict[str, Any]) -> None:
    dns, http_port = https_balancer["dns"], https_balancer["http_port"]
    status, headers, _ = fetch(http_port, "/admin/login/?next=/x", host=dns)
    assert status == 301
    expected = f"https://{dns}:{https_balancer['https_port']}/admin/login/?next=/x"
    assert headers["Location"] == expected


def test_https_listener_serves_the_imported_certificate(
    https_balancer: dict[str, Any], tmp_path: Path
) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_bytes(https_balancer["certificate"])
    verifying = ssl.create_default_context(cafile=str(bundle))  # hostname checked too
    dns, port = https_balancer["dns"], https_balancer["https_port"]
    request = f"GET /secret HTTP/1.1\r\nHost: {dns}:{port}\r\nConnection: close\r\n\r\n"
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        verifying.wrap_socket(raw, server_hostname=dns) as secure,
    ):
        secure.sendall(request.encode())
        answer = b"".join(iter(lambda: secure.recv(65536), b""))
    assert answer.startswith(b"HTTP/1.1 200")
    assert answer.endswith(b"secure")
    assert https_balancer["target"].requests[-1][1]["X-Forwarded-Proto"] == "https"


def test_https_refuses_a_client_that_does_not_trust_the_certificate(
    https_balancer: dict[str, Any],
) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        fetch(
            https_balancer["https_port"],
            tls=ssl.create_default_context(),
            host=https_balancer["dns"],
        )


def tls_get(port: int, server_name: str, trusted: bytes, tmp_path: Path) -> bytes:
    """GET / over TLS, trusting only `trusted` and checking the certificate names server_name."""
    bundle = tmp_path / f"{uuid.uuid4().hex}.pem"
    bundle.write_bytes(trusted)
    verifying = ssl.create_default_context(cafile=str(bundle))
    request = f"GET / HTTP/1.1\r\nHost: {server_name}\r\nConnection: close\r\n\r\n"
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        verifying.wrap_socket(raw, server_hostname=server_name) as secure,
    ):
        secure.sendall(request.encode())
        return b"".join(iter(lambda: secure.recv(65536), b""))


def test_sni_selects_an_added_certificate(
    aws: Aws, elb: Any, https_balancer: dict[str, Any], tmp_path: Path
) -> None:
    other, key = self_signed("api.example.test")
    arn = aws("acm").import_certificate(Certificate=other, PrivateKey=key)["CertificateArn"]
    elb.add_listener_certificates(
        ListenerArn=https_balancer["https_listener"], Certificates=[{"CertificateArn": arn}]
    )
    port = https_balancer["https_port"]
    assert tls_get(port, "api.example.test", other, tmp_path).endswith(b"secure")
    # Any other name still gets the default certificate.
    answer = tls_get(port, https_balancer["dns"], https_balancer["certificate"], tmp_path)
    assert answer.endswith(b"secure")


def test_modify_listener_to_https_keeps_its_local_port(
    aws: Aws, elb: Any, network: Any, state_dir: Path, tmp_path: Path
) -> None:
    balancer = make_alb(elb, network)
    hello = {"StatusCode": "200", "ContentType": "text/plain", "MessageBody": "hello"}
    listener = listen(elb, balancer, [{"Type": "fixed-response", "FixedResponseConfig": hello}])
    port = local_port(state_dir, listener)
    certificate, key = self_signed(balancer["DNSName"])
    imported = aws("acm").import_certificate(Certificate=certificate, PrivateKey=key)

    elb.modify_listener(
        ListenerArn=listener,
        Protocol="HTTPS",
        Certificates=[{"CertificateArn": imported["CertificateArn"]}],
    )

    assert local_port(state_dir, listener) == port
    assert tls_get(port, balancer["DNSName"], certificate, tmp_path).endswith(b"hello")


# Listener lifecycle --------------------------------------------------------------------------
def refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def test_deleting_listener_closes_its_port(elb: Any, network: Any, state_dir: Path) -> None:
    balancer = make_alb(elb, network)
    answer = [{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200"}}]
    listener = listen(elb, balancer, answer)
    port = local_port(state_dir, listener)
    kept_alive = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    kept_alive.request("GET", "/")
    assert kept_alive.getresponse().read() == b""  # 200, empty body; the connection stays open
    elb.delete_listener(ListenerArn=listener)
    assert refused(port)
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        kept_alive.request("GET", "/")  # the open connection is dropped too
        kept_alive.getresponse()
    assert listener not in {e["listener_arn"] for e in alb_dataplane.listener_ports(state_dir)}


def test_emulator_cli_lists_listeners(elb: Any, network: Any, state_dir: Path) -> None:
    balancer = make_alb(elb, network)
    answer = [{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200"}}]
    listener = listen(elb, balancer, answer)
    listed = json.loads(run_emulator("listeners", state_dir).stdout)
    entry = next(e for e in listed if e["listener_arn"] == listener)
    assert entry["url"] == f"http://{balancer['DNSName']}:{entry['local_port']}/"
    assert (entry["protocol"], entry["port"]) == ("HTTP", 80)


def test_deleting_balancer_closes_all_its_ports(elb: Any, network: Any, state_dir: Path) -> None:
    balancer = make_alb(elb, network)
    answer = [{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200"}}]
    ports = [local_port(state_dir, listen(elb, balancer, answer, Port=p)) for p in (80, 8080)]
    elb.delete_load_balancer(LoadBalancerArn=balancer["LoadBalancerArn"])
    assert all(refused(port) for port in ports)


# The ECS side: targets registered inside the moto process, at published addresses ------------
@pytest.fixture
def inprocess(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Aws, Path]]:
    """tests/emulator/alb_inprocess.py: a patched moto server taking commands on stdin."""
    environment = {
        **os.environ,
        alb_health.TIME_SCALE_ENV: str(SCALE),
        alb_dataplane.ENV_STATE_DIR: str(tmp_path),
    }
    server = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("alb_inprocess.py"))],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=environment,
    )
    assert server.stdout is not None
    ready = server.stdout.readline().split()
    assert ready[:1] == ["ready"], ready
    yield server, _clients(f"http://127.0.0.1:{ready[1]}"), tmp_path
    assert server.stdin is not None
    server.stdin.close()
    server.wait(timeout=10)


def command(server: subprocess.Popen[str], **verb: list[Any]) -> None:
    assert server.stdin is not None and server.stdout is not None
    server.stdin.write(json.dumps(verb) + "\n")
    server.stdin.flush()
    assert server.stdout.readline().strip() == "ok"


def test_backend_registered_target_at_published_address_is_checked_and_proxied(
    inprocess: tuple[subprocess.Popen[str], Aws, Path], targets: Any
) -> None:
    server, client, listing_dir = inprocess
    elb = client("elbv2")
    network = make_network(client("ec2"))
    balancer = make_alb(elb, network)
    group = make_group(elb, network)
    port = local_port(listing_dir, listen(elb, balancer, forward(group)))
    task = targets("task")
    # As the ECS side does: the task's ENI address is published, then registered in-process.
    command(server, publish=["10.10.3.17", 8000, "127.0.0.1", task.port])
    command(server, register=["123456789012", REGION, group, "10.10.3.17", 8000])

    wait_state(elb, group, 8000, "healthy")
    assert task.health_checks[0]["Host"] == "10.10.3.17:8000"  # the address AWS knows
    assert fetch(port)[::2] == (200, b"task")
