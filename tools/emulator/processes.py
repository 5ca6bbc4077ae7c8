"""Small process and port helpers shared by the launcher's two servers."""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path

LOOPBACK = "127.0.0.1"


def free_loopback_ports(count: int) -> list[int]:
    """Ports free on loopback right now; all sockets stay open until every port is chosen,
    so the ports differ from each other."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((LOOPBACK, 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def is_alive(pid: int, marker: str) -> bool:
    """True if `pid` runs and its command line contains `marker`.

    The marker guards against a recycled pid; zombies count as dead."""
    if pid <= 0:  # never a process of ours; os.killpg(0) would hit our own group
        return False
    proc = Path(f"/proc/{pid}")
    try:
        cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z" and marker in cmdline


def terminate(pid: int, marker: str, signals: tuple[signal.Signals, ...], grace: float) -> None:
    """Send each signal in turn to the process group of `pid` until it is gone."""
    for sig in signals:
        if not is_alive(pid, marker):
            return
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        if wait_until(lambda: not is_alive(pid, marker), grace):
            return


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    """Poll `predicate` until it is true or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def tail(path: Path, lines: int = 20) -> str:
    """The end of a log file, to explain a failed start."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return f"({path} is missing)"
