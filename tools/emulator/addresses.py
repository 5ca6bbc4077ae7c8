"""Where an emulated private address really listens.

On AWS a Fargate task has its own ENI address (say 10.10.3.17) and its container listens on
the container port there; a load balancer's ``ip`` target is that address and port. Here every
task lives on loopback, so the ECS side publishes, for each (private address, port) it reports
to AWS callers, the loopback (host, port) that serves it, and the load balancer side resolves
a target through this table before it connects. An address nobody published is used as is
(a test's own server on 127.0.0.1).

Both sides run as threads of the emulator's one moto server process, hence the lock.
"""

from __future__ import annotations

import threading

_lock = threading.Lock()
_table: dict[tuple[str, int], tuple[str, int]] = {}


def publish(private_ip: str, port: int, local_host: str, local_port: int) -> None:
    """Say that ``private_ip:port`` (as AWS reports it) is served at ``local_host:local_port``."""
    with _lock:
        _table[(private_ip, int(port))] = (local_host, int(local_port))


def withdraw(private_ip: str, port: int) -> None:
    """Forget ``private_ip:port`` (its task stopped); later connections to it are refused."""
    with _lock:
        _table.pop((private_ip, int(port)), None)


def resolve(ip: str, port: int) -> tuple[str, int]:
    """The loopback address to connect to for ``ip:port``; unpublished addresses as they are."""
    with _lock:
        return _table.get((ip, int(port)), (ip, int(port)))
