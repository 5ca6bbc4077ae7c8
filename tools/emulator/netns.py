"""A task's own network namespace (awsvpc), and the loopback forwarders that connect it.

On Fargate every task has its own network stack: its containers listen on their container
ports, reach each other on 127.0.0.1, and a port of one task never collides with another's.
Here (root only) each task gets a network namespace with nothing but `lo`:

- `Namespace.create()` makes one from a throw-away thread (`unshare(CLONE_NEWNET)` is per
  thread) and keeps it alive by a file descriptor; `spawn()` starts a process inside it (a
  thread enters the namespace with `setns`, and a forked child inherits its thread's namespace).
- `PortForward` listens on a free 127.0.0.1 port of the host namespace and connects each client
  to 127.0.0.1:<containerPort> inside the task's namespace (what a load balancer target is).
- `HostBridge` does the reverse for everything listening on the host's loopback (the emulator's
  moto server, the credentials endpoint, RDS servers, other tasks' forwarders...): inside the
  task's namespace it listens on the same 127.0.0.1 ports and connects to the host's, so a task
  reaches the emulator as a Fargate task reaches AWS endpoints. Ports a task's own containers
  declare are left free for them. The set follows the host's listeners (/proc/net/tcp) while
  the task runs.

Without root (or without `unshare`), `Namespace.create()` raises `NamespaceUnavailableError` and
the caller falls back to the host's network.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import socket
import subprocess
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

LOOPBACK = "127.0.0.1"
LISTEN = "0A"  # /proc/net/tcp state of a listening socket
HOST_NS_FD = os.open(f"/proc/{os.getpid()}/ns/net", os.O_RDONLY)  # the emulator's own
BRIDGE_REFRESH_SECONDS = 0.5
T = TypeVar("T")


class NamespaceUnavailableError(Exception):
    """No network namespace here (not root, or the kernel refuses)."""


def _in_thread[T](target: Callable[[], T]) -> T:
    """Run `target` in a new thread and return its result (or raise its exception): a
    thread that changes namespace never goes back to serving the server."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = target()
        except BaseException as error:  # handed to the caller
            outcome["error"] = error

    thread = threading.Thread(target=run, name="netns", daemon=True)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]  # type: ignore[no-any-return]


def _enter(fd: int) -> None:
    os.setns(fd, os.CLONE_NEWNET)


class Namespace:
    """A network namespace kept by an open descriptor; `close()` lets the kernel free it."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    @classmethod
    def create(cls) -> Namespace:
        if os.geteuid() != 0:
            raise NamespaceUnavailableError("not root")

        def make() -> int:
            try:
                os.unshare(os.CLONE_NEWNET)
            except OSError as error:
                raise NamespaceUnavailableError(str(error)) from None
            # The new namespace's `lo` is down; the `ip` child inherits this thread's namespace.
            subprocess.run(["ip", "link", "set", "lo", "up"], check=True, capture_output=True)
            return os.open("/proc/thread-self/ns/net", os.O_RDONLY)

        try:
            return cls(_in_thread(make))
        except (FileNotFoundError, subprocess.CalledProcessError) as error:
            raise NamespaceUnavailableError(str(error)) from None

    def run(self, target: Callable[[], T]) -> T:
        """Call `target` from a thread inside the namespace (processes it forks stay there)."""

        def inside() -> T:
            _enter(self.fd)
            return target()

        return _in_thread(inside)

    def spawn(self, *args: Any, **kwargs: Any) -> subprocess.Popen[bytes]:
        return self.run(lambda: subprocess.Popen(*args, **kwargs))

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)


def _pump(source: socket.socket, sink: socket.socket) -> None:
    """Copy one direction until EOF, then pass the EOF on (half-close)."""
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


def _splice(client: socket.socket, connect_ns: int, port: int) -> None:
    """Connect to 127.0.0.1:port in `connect_ns` and copy both ways until both ends close."""

    def serve() -> None:
        _enter(connect_ns)  # this thread only: the socket below belongs to that namespace
        try:
            upstream = socket.create_connection((LOOPBACK, port), timeout=5)
        except OSError:
            client.close()
            return
        upstream.settimeout(None)
        back = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
        back.start()
        _pump(client, upstream)
        back.join()
        client.close()
        upstream.close()

    threading.Thread(target=serve, name=f"splice-{port}", daemon=True).start()


class _Acceptor:
    """Accept on several listening sockets from one thread; each client goes to `_splice`."""

    def __init__(self, connect_ns: int) -> None:
        self.connect_ns = connect_ns
        self.selector = selectors.DefaultSelector()
        self.listeners: dict[int, socket.socket] = {}  # by the port connections go to
        self.stopped = threading.Event()

    def add(self, listener: socket.socket, target_port: int) -> None:
        listener.setblocking(False)
        self.listeners[target_port] = listener
        self.selector.register(listener, selectors.EVENT_READ, target_port)

    def remove(self, target_port: int) -> None:
        listener = self.listeners.pop(target_port, None)
        if listener is not None:
            self.selector.unregister(listener)
            listener.close()

    def poll(self, timeout: float) -> None:
        for key, _ in self.selector.select(timeout):
            listener: socket.socket = key.fileobj  # type: ignore[assignment]
            with contextlib.suppress(BlockingIOError, OSError):
                client, _ = listener.accept()
                client.setblocking(True)
                _splice(client, self.connect_ns, key.data)

    def close(self) -> None:
        for port in list(self.listeners):
            self.remove(port)
        self.selector.close()


def _listen(port: int) -> socket.socket:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((LOOPBACK, port))
    listener.listen(128)
    return listener


class PortForward:
    """Host 127.0.0.1:<host_port> -> 127.0.0.1:<container port> inside a namespace."""

    def __init__(self, namespace: Namespace, container_ports: Iterable[int]) -> None:
        self._acceptor = _Acceptor(namespace.fd)
        self.host_ports: dict[int, int] = {}
        for container_port in container_ports:
            listener = _listen(0)  # made here, in the host namespace
            self.host_ports[container_port] = listener.getsockname()[1]
            self._acceptor.add(listener, container_port)
        self._thread = threading.Thread(target=self._serve, name="port-forward", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._acceptor.stopped.is_set():
            self._acceptor.poll(0.2)
        self._acceptor.close()

    def close(self) -> None:
        self._acceptor.stopped.set()
        self._thread.join(timeout=2)


def host_listening_ports(proc_net_tcp: Path | None = None) -> set[int]:
    """TCP ports listening on the host's 127.0.0.1 or 0.0.0.0 (IPv4)."""
    path = proc_net_tcp or Path(f"/proc/{os.getpid()}/net/tcp")  # the leader's: host netns
    ports = set()
    for line in path.read_text().splitlines()[1:]:
        fields = line.split()
        address, port_hex = fields[1].split(":")
        if fields[3] == LISTEN and address in {"0100007F", "00000000"}:
            ports.add(int(port_hex, 16))
    return ports


class HostBridge:
    """Inside a namespace, 127.0.0.1:<port> -> the host's 127.0.0.1:<port>, for every port the
    host listens on except `reserved` (the task's own container ports)."""

    def __init__(self, namespace: Namespace, reserved: Iterable[int]) -> None:
        self._namespace = namespace
        self._reserved = set(reserved)
        self._acceptor = _Acceptor(HOST_NS_FD)
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="host-bridge", daemon=True)
        self._thread.start()
        self._ready.wait(timeout=5)  # the first set is in place before any container starts

    def _refresh(self) -> None:
        wanted = host_listening_ports() - self._reserved
        for port in set(self._acceptor.listeners) - wanted:
            self._acceptor.remove(port)
        for port in wanted - set(self._acceptor.listeners):
            with contextlib.suppress(OSError):  # taken inside the task already
                self._acceptor.add(_listen(port), port)

    def _serve(self) -> None:
        _enter(self._namespace.fd)  # listeners made by this thread live in the task's namespace
        self._refresh()
        self._ready.set()
        refreshed = 0.0
        while not self._acceptor.stopped.is_set():
            self._acceptor.poll(0.1)
            refreshed += 0.1
            if refreshed >= BRIDGE_REFRESH_SECONDS:
                refreshed = 0.0
                with contextlib.suppress(OSError):
                    self._refresh()
        self._acceptor.close()

    def close(self) -> None:
        self._acceptor.stopped.set()
        self._thread.join(timeout=2)
