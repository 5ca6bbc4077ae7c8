"""The data plane of the emulator's Application Load Balancers: listeners that answer HTTP.

moto stores load balancers, listeners, rules and target groups; nothing listens. Here every
listener of an `application` load balancer gets its own free port on 127.0.0.1 (its
`local_port`), opened by CreateListener and closed by DeleteListener / DeleteLoadBalancer.
Requests are routed as ALB does: the listener's rules by priority (host-header, path-pattern,
http-header, http-request-method, query-string, source-ip), then its default action; `forward`
(one target group or a weighted ForwardConfig) proxies HTTP/1.1 to a target chosen round-robin
among the healthy ones (alb_health.py), `redirect` answers 301/302 with the placeholders filled
in, `fixed-response` answers the configured body. HTTPS listeners serve the listener's ACM
certificate.

Where a listener listens: `<state dir>/alb-listeners.json` (the launcher's state directory),
rewritten on every change; `listener_ports()` reads it.

Runs in the moto server process (moto_patched.py installs the hooks), reading moto's elbv2 and
acm backends directly.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import itertools
import json
import os
import random
import re
import secrets
import socket
import ssl
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from tools.emulator import alb_health, alb_tls

if TYPE_CHECKING:
    from moto.elbv2.models import ELBv2Backend, FakeListener, FakeLoadBalancer, FakeTargetGroup

LOOPBACK = "127.0.0.1"
ENV_STATE_DIR = "DJANGO_ECS_EMULATOR_ALB_STATE_DIR"  # set by the launcher for the moto process
LISTING_FILE = "alb-listeners.json"
IDLE_TIMEOUT = 60.0  # ALB's idle_timeout.timeout_seconds default
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
}
REASONS = {
    400: "Bad Request",
    404: "Not Found",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Temporarily Unavailable",
    504: "Gateway Time-out",
    301: "Moved Permanently",
    302: "Found",
}


# Requests ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Request:
    method: str
    path: str  # without the query
    query: str  # without the "?"
    host: str  # the Host header without its port
    headers: list[tuple[str, str]]
    client_ip: str
    body: bytes
    protocol: str  # "http" / "https", as the client connected
    local_port: int  # the port the client connected to

    def header(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name.lower()]


def wildcard(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    """ALB's condition wildcards: `*` any run of characters, `?` exactly one."""
    regex = re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".")
    return re.compile(f"^{regex}$", re.IGNORECASE if ignore_case else 0)


def _values(condition: dict[str, Any], config: str) -> list[Any]:
    return list(condition.get(config, {}).get("Values") or condition.get("Values") or [])


def _host_matches(condition: dict[str, Any], request: Request) -> bool:
    values = _values(condition, "HostHeaderConfig")
    return any(wildcard(v, True).match(request.host) for v in values)


def _path_matches(condition: dict[str, Any], request: Request) -> bool:
    values = _values(condition, "PathPatternConfig")  # case-sensitive, the query excluded
    return any(wildcard(v, False).match(request.path) for v in values)


def _method_matches(condition: dict[str, Any], request: Request) -> bool:
    return request.method in _values(condition, "HttpRequestMethodConfig")


def _header_matches(condition: dict[str, Any], request: Request) -> bool:
    config = condition.get("HttpHeaderConfig", {})
    seen = request.header(config.get("HttpHeaderName", ""))
    return any(wildcard(v, True).match(s) for v in config.get("Values", []) for s in seen)


def _query_string_matches(condition: dict[str, Any], request: Request) -> bool:
    pairs = urllib.parse.parse_qsl(request.query, keep_blank_values=True)
    return any(_query_matches(v, pairs) for v in _values(condition, "QueryStringConfig"))


def _source_matches(condition: dict[str, Any], request: Request) -> bool:
    client = ipaddress.ip_address(request.client_ip)
    networks = _values(condition, "SourceIpConfig")
    return any(client in ipaddress.ip_network(v, strict=False) for v in networks)


CONDITIONS = {
    "host-header": _host_matches,
    "path-pattern": _path_matches,
    "http-request-method": _method_matches,
    "http-header": _header_matches,
    "query-string": _query_string_matches,
    "source-ip": _source_matches,
}


def condition_matches(condition: dict[str, Any], request: Request) -> bool:
    """One rule condition (ELB User Guide, "Listener rules", condition types): any value."""
    matches = CONDITIONS.get(condition.get("Field", ""))
    return matches is not None and matches(condition, request)


def _query_matches(wanted: dict[str, str], pairs: list[tuple[str, str]]) -> bool:
    key, value = wanted.get("Key"), wanted.get("Value", "")
    return any(
        (key is None or wildcard(key, True).match(k)) and wildcard(value, True).match(v)
        for k, v in pairs
    )


def rule_actions(listener: FakeListener, request: Request) -> list[Any]:
    """The actions of the first rule (by priority) whose conditions all match; else default."""
    rules = [r for r in list(listener.rules.values()) if not r.is_default]
    for rule in sorted(rules, key=lambda r: int(r.priority)):
        if all(condition_matches(c, request) for c in rule.conditions):
            return list(rule.actions)
    return list(listener.default_actions)


def final_action(actions: list[Any]) -> Any | None:
    """The action that answers (authenticate-* actions before it are not emulated)."""
    ordered = sorted(actions, key=lambda a: int((a.data or {}).get("Order") or 0))
    answering = [a for a in ordered if a.type in ("forward", "redirect", "fixed-response")]
    return answering[-1] if answering else None


# Redirects -----------------------------------------------------------------------------------
def redirect_location(
    config: dict[str, Any], request: Request, port_map: dict[int, int], listener_port: int
) -> str:
    """RedirectConfig's URL with #{protocol}, #{host}, #{port}, #{path}, #{query} filled in.

    Ports are AWS ports (`#{port}` is the listener's own, "443" means the HTTPS listener); the
    URL gets the local port of this load balancer's listener on that port (nothing listens on
    443 here), or the AWS port itself when the load balancer has no such listener.
    """
    values = {
        "protocol": request.protocol,
        "host": request.host,
        "port": str(listener_port),
        "path": request.path.lstrip("/"),  # AWS: #{path} is the path without its leading "/"
        "query": request.query,
    }

    def fill(text: str) -> str:
        return re.sub(r"#\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), text)

    protocol = fill(config.get("Protocol") or "#{protocol}").lower()
    host = fill(config.get("Host") or "#{host}")
    aws_port = int(fill(config.get("Port") or "#{port}"))
    path = fill(config.get("Path") or "/#{path}")
    query = fill(config.get("Query") or "#{query}")
    port = port_map.get(aws_port, aws_port)
    return f"{protocol}://{host}:{port}{path}" + (f"?{query}" if query else "")


# Answers -------------------------------------------------------------------------------------
@dataclass
class Answer:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes


def error_page(status: int, extra: list[tuple[str, str]] | None = None) -> Answer:
    """ALB's own error pages (Server: awselb/2.0, a small HTML body)."""
    title = f"{status} {REASONS.get(status, '')}".strip()
    body = (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n</body>\r\n</html>\r\n"
    )
    headers = [("Server", "awselb/2.0"), ("Content-Type", "text/html")] + (extra or [])
    return Answer(status, REASONS.get(status, ""), headers, body.encode())


def fixed_response(config: dict[str, Any]) -> Answer:
    status = int(config.get("StatusCode", 200))
    headers = [
        ("Server", "awselb/2.0"),
        ("Content-Type", config.get("ContentType") or "text/plain"),
    ]
    return Answer(
        status,
        REASONS.get(status, http.client.responses.get(status, "")),
        headers,
        (config.get("MessageBody") or "").encode(),
    )


def forwarded_headers(request: Request) -> list[tuple[str, str]]:
    """The client's headers (Host unchanged, as on AWS) plus ALB's X-Forwarded-* and trace id."""
    headers = [(k, v) for k, v in request.headers if k.lower() not in HOP_BY_HOP]
    drop = {"x-forwarded-for", "x-forwarded-proto", "x-forwarded-port", "content-length"}
    headers = [(k, v) for k, v in headers if k.lower() not in drop]
    chain = ", ".join([*request.header("X-Forwarded-For"), request.client_ip])  # append mode
    headers += [
        ("X-Forwarded-For", chain),
        ("X-Forwarded-Proto", request.protocol),
        ("X-Forwarded-Port", str(request.local_port)),
    ]
    if not request.header("X-Amzn-Trace-Id"):  # a client's own trace id is passed on
        headers.append(
            ("X-Amzn-Trace-Id", f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)}")
        )
    if request.body or request.method in ("POST", "PUT", "PATCH"):
        headers.append(("Content-Length", str(len(request.body))))
    return headers


def proxy(request: Request, group: FakeTargetGroup, ip: str, port: int) -> Answer:
    """One request to one target (resolved through addresses.py); 502/504 as ALB answers."""
    address = alb_health.on_loopback(ip, port)
    if address is None:
        return error_page(504)  # an ENI that does not answer: ALB times out
    host, local_port = address
    connection: http.client.HTTPConnection
    if (group.protocol or "HTTP").upper() == "HTTPS":
        context = ssl._create_unverified_context()
        connection = http.client.HTTPSConnection(
            host, local_port, timeout=IDLE_TIMEOUT, context=context
        )
    else:
        connection = http.client.HTTPConnection(host, local_port, timeout=IDLE_TIMEOUT)
    target = request.path + (f"?{request.query}" if request.query else "")
    try:
        connection.putrequest(request.method, target, skip_host=True, skip_accept_encoding=True)
        for name, value in forwarded_headers(request):
            connection.putheader(name, value)
        connection.endheaders(request.body or None)
        response = connection.getresponse()
        body = response.read()
        headers = [(k, v) for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP]
        return Answer(response.status, response.reason, headers, body)
    except TimeoutError:
        return error_page(504)
    except (OSError, http.client.HTTPException):
        return error_page(502)
    finally:
        connection.close()


# Listener servers ----------------------------------------------------------------------------
class ListenerServer(ThreadingHTTPServer):
    """One listener's loopback port; TLS handshakes happen in the request's own thread."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self, plane: DataPlane, backend: ELBv2Backend, listener: FakeListener, port: int = 0
    ) -> None:
        self.plane = plane
        self.backend = backend
        self.listener = listener
        secure = listener.protocol == "HTTPS"
        self.tls = alb_tls.ListenerTls(backend, listener).context if secure else None
        self.served = (listener.protocol, listener.certificate, listener.ssl_policy)
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__((LOOPBACK, port), ProxyHandler)
        self.thread = threading.Thread(
            target=self.serve_forever, args=(0.1,), name=f"alb-{self.local_port}", daemon=True
        )

    def stop(self) -> None:
        """Close the port and drop open (keep-alive) connections, as a deleted listener does."""
        self.shutdown()
        self.server_close()
        with self._connections_lock:
            for connection in list(self._connections):
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)

    def _track(self, connection: socket.socket, open_: bool) -> None:
        with self._connections_lock:
            if open_:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    @property
    def local_port(self) -> int:
        return int(self.server_address[1])

    @property
    def scheme(self) -> str:
        return "https" if self.tls is not None else "http"

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.tls is None:
            self._serve(request, client_address)
            return
        request.settimeout(IDLE_TIMEOUT)
        try:
            secure = self.tls.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError):
            return  # a failed handshake: the client sees the TLS alert
        try:
            self._serve(secure, client_address)
        finally:
            secure.close()

    def _serve(self, connection: socket.socket, client_address: Any) -> None:
        self._track(connection, True)
        try:
            super().finish_request(connection, client_address)
        finally:
            self._track(connection, False)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that went away mid-answer is no server error


def read_chunked(stream: BinaryIO) -> bytes:
    """A chunked request body, whole (the target gets it with a Content-Length)."""
    body = bytearray()
    while size := int(stream.readline().split(b";")[0].strip() or b"0", 16):
        body += stream.read(size)
        stream.readline()  # the CRLF after each chunk
    while stream.readline() not in (b"\r\n", b"\n", b""):
        pass  # trailer fields, not forwarded
    return bytes(body)


class ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: every answer carries Content-Length
    timeout = IDLE_TIMEOUT
    server: ListenerServer

    def do_request(self) -> None:
        request = self._read_request()
        answer = self.server.plane.answer(self.server, request)
        self._send(answer, head=request.method == "HEAD")

    # http.server's names for each method's handler; every method is proxied alike.
    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_request  # noqa: N815

    def _read_request(self) -> Request:
        body = self._read_body()
        path, _, query = self.path.partition("?")
        host = (self.headers.get("Host") or "").strip()
        host = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        return Request(
            method=self.command,
            path=path or "/",
            query=query,
            host=host,
            headers=list(self.headers.items()),
            client_ip=self.client_address[0],
            body=body,
            protocol=self.server.scheme,
            local_port=self.server.local_port,
        )

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return read_chunked(self.rfile)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, answer: Answer, head: bool) -> None:
        self.send_response_only(answer.status, answer.reason)
        for name, value in answer.headers:
            if name.lower() != "content-length" or head:
                self.send_header(name, value)
        if not head:
            self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        if not head:
            self.wfile.write(answer.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # moto.log is for moto; the targets log their own requests


# The data plane ------------------------------------------------------------------------------
def elbv2_backends() -> Iterator[ELBv2Backend]:
    """Every elbv2 backend moto has created (never creates one)."""
    from moto.elbv2.models import elbv2_backends as backends

    for regions in list(dict.values(backends)):
        yield from list(dict.values(regions))


class DataPlane:
    """The listener servers of one moto process, its health checker and its listing file."""

    def __init__(self) -> None:
        self.health = alb_health.HealthChecker(elbv2_backends)
        self._servers: dict[str, ListenerServer] = {}
        self._lock = threading.RLock()
        self._turns: dict[str, Iterator[int]] = {}
        self._reconciler = threading.Thread(
            target=self._reconcile_loop, name="alb-reconcile", daemon=True
        )
        self._started = False

    def start(self) -> None:
        with self._lock:
            if not self._started:
                self._started = True
                self.health.start()
                self._reconciler.start()

    # Listener lifecycle ------------------------------------------------------------------------
    def open(self, backend: ELBv2Backend, listener: FakeListener, port: int = 0) -> None:
        balancer = backend.load_balancers.get(listener.load_balancer_arn)
        if balancer is None or balancer.type != "application":
            return
        with self._lock:
            self.start()
            self.close(listener.arn, write=False)
            server = ListenerServer(self, backend, listener, port)
            server.thread.start()
            self._servers[listener.arn] = server
            self.write_listing()

    def reopen(self, backend: ELBv2Backend, listener: FakeListener) -> None:
        """After ModifyListener changed its protocol, certificate or policy: a new server on the
        same local port if it is still free (rules and actions are read per request anyway)."""
        with self._lock:
            old = self._servers.get(listener.arn)
            wanted = (listener.protocol, listener.certificate, listener.ssl_policy)
            if old is not None and old.served == wanted:
                return
            port = old.local_port if old else 0
            self.close(listener.arn, write=False)
            try:
                self.open(backend, listener, port)
            except OSError:
                self.open(backend, listener)

    def close(self, listener_arn: str, write: bool = True) -> None:
        with self._lock:
            server = self._servers.pop(listener_arn, None)
            if server is not None:
                server.stop()
            if write:
                self.write_listing()

    def close_balancer(self, balancer: FakeLoadBalancer) -> None:
        with self._lock:
            for arn in list(balancer.listeners):
                self.close(arn, write=False)
            self.write_listing()

    def local_port(self, listener_arn: str) -> int | None:
        server = self._servers.get(listener_arn)
        return server.local_port if server else None

    def _reconcile_loop(self) -> None:
        # Listeners that vanished without DeleteListener (/moto-api/reset) lose their port.
        while True:
            time.sleep(1.0)
            try:
                alive = {
                    arn
                    for b in elbv2_backends()
                    for lb in list(b.load_balancers.values())
                    for arn in list(lb.listeners)
                }
            except RuntimeError:
                continue
            with self._lock:
                gone = [arn for arn in self._servers if arn not in alive]
                for arn in gone:
                    self.close(arn, write=False)
                if gone:
                    self.write_listing()

    # Listing -----------------------------------------------------------------------------------
    def listing(self) -> list[dict[str, Any]]:
        entries = []
        for arn, server in list(self._servers.items()):
            balancer = server.backend.load_balancers.get(server.listener.load_balancer_arn)
            dns_name = balancer.dns_name if balancer else ""
            entries.append(
                {
                    "listener_arn": arn,
                    "lb_arn": server.listener.load_balancer_arn,
                    "lb_name": balancer.name if balancer else "",
                    "lb_dns_name": dns_name,
                    "protocol": server.listener.protocol,
                    "port": int(server.listener.port),
                    "local_port": server.local_port,
                    "url": f"{server.scheme}://{dns_name}:{server.local_port}/",
                }
            )
        return entries

    def write_listing(self) -> None:
        directory = os.environ.get(ENV_STATE_DIR)
        if not directory:
            return
        target = Path(directory) / LISTING_FILE
        scratch = target.with_suffix(".tmp")
        scratch.write_text(json.dumps(self.listing(), indent=2) + "\n")
        os.replace(scratch, target)

    # Answering ---------------------------------------------------------------------------------
    def answer(self, server: ListenerServer, request: Request) -> Answer:
        try:
            action = final_action(rule_actions(server.listener, request))
            if action is None:
                return error_page(500)
            if action.type == "redirect":
                return self._redirect(server, request, action.data.get("RedirectConfig", {}))
            if action.type == "fixed-response":
                return fixed_response(action.data.get("FixedResponseConfig", {}))
            return self._forward(server, request, action)
        except Exception as error:  # a 500 page for the client, the reason in moto.log
            print(f"alb_dataplane: {type(error).__name__}: {error}", file=sys.stderr)
            return error_page(500)

    def _redirect(self, server: ListenerServer, request: Request, config: dict[str, Any]) -> Answer:
        balancer = server.backend.load_balancers.get(server.listener.load_balancer_arn)
        port_map = {}
        for listener in list(balancer.listeners.values()) if balancer else []:
            local = self.local_port(listener.arn)
            if local is not None:
                port_map[int(listener.port)] = local
        location = redirect_location(config, request, port_map, int(server.listener.port))
        status = 301 if config.get("StatusCode", "HTTP_301") == "HTTP_301" else 302
        return error_page(status, [("Location", location)])

    def _forward(self, server: ListenerServer, request: Request, action: Any) -> Answer:
        group = self._choose_group(server.backend, action)
        if group is None:
            return error_page(503)
        targets = self.health.routable(group)
        if not targets:
            return error_page(503)
        target_id, port = targets[next(self._turn(group.arn)) % len(targets)]
        ip = alb_health.target_ip(server.backend, group, target_id)
        return proxy(request, group, ip, port)

    def _turn(self, group_arn: str) -> Iterator[int]:
        with self._lock:
            return self._turns.setdefault(group_arn, itertools.count())

    @staticmethod
    def _choose_group(backend: ELBv2Backend, action: Any) -> FakeTargetGroup | None:
        """ForwardConfig's weighted choice (weight 0 never chosen), or the one TargetGroupArn."""
        weighted = action.data.get("ForwardConfig", {}).get("TargetGroups", [])
        arns = [g["TargetGroupArn"] for g in weighted]
        weights = [int(g.get("Weight", 1)) for g in weighted]
        if weighted and sum(weights) > 0:
            arn = random.choices(arns, weights=weights)[0]
        else:
            arn = action.data.get("TargetGroupArn") or (arns[0] if arns else "")
        return backend.target_groups.get(arn)


_planes: dict[str, DataPlane] = {}
_planes_lock = threading.Lock()


def plane() -> DataPlane:
    """The process's one data plane (created on first use)."""
    with _planes_lock:
        if "plane" not in _planes:
            _planes["plane"] = DataPlane()
        return _planes["plane"]


# DNS names -----------------------------------------------------------------------------------
def local_dns_name(name: str, region: str, scheme: str) -> str:
    """AWS's shape (`[internal-]<name>-<digits>.<region>.elb.amazonaws.com`) under `.localhost`,
    which curl and RFC 6761 resolve to loopback."""
    prefix = "internal-" if scheme == "internal" else ""
    return f"{prefix}{name}-{random.randrange(10**9, 10**10)}.{region}.elb.localhost"


# Reading the listing (from any process) ------------------------------------------------------
def listener_ports(directory: Path | None = None) -> list[dict[str, Any]]:
    """The emulator's listeners and where they listen: `{listener_arn, lb_arn, lb_name,
    lb_dns_name, protocol, port, local_port, url}` each. `directory` defaults to the launcher's
    state dir (`$DJANGO_ECS_EMULATOR_DIR` or `.emulator/`)."""
    if directory is None:
        from tools.emulator import launcher

        directory = launcher.state_dir()
    try:
        return list(json.loads((directory / LISTING_FILE).read_text()))
    except FileNotFoundError:
        return []
