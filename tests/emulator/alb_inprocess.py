"""A patched moto server whose process a test can reach into, as the ECS side does.

The ECS task runner lives in the moto server process: it publishes task addresses
(tools/emulator/addresses.py) and registers targets by calling moto's elbv2 backend, not the
HTTP API. A test cannot do either in the emulator `scripts/emulator` starts, so this script runs
moto's ThreadedMotoServer with the emulator's patches and takes JSON commands on stdin, one a line:
  {"publish": [private_ip, port, local_host, local_port]}
  {"register": [account, region, target_group_arn, target_id, port]}
  {"deregister": [account, region, target_group_arn, target_id, port]}
It prints `ready <port>` once serving and `ok` after each command; EOF stops it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tools.emulator import addresses, moto_patched


def _backend(account: str, region: str) -> object:
    from moto.elbv2.models import elbv2_backends

    return elbv2_backends[account][region]


def _run(command: dict[str, list[object]]) -> None:
    if "publish" in command:
        ip, port, host, local_port = command["publish"]
        addresses.publish(str(ip), int(port), str(host), int(local_port))  # type: ignore[call-overload]
    for verb in ("register", "deregister"):
        if verb in command:
            account, region, arn, target_id, port = command[verb]
            method = getattr(_backend(str(account), str(region)), f"{verb}_targets")
            method(arn, [{"Id": target_id, "Port": int(port)}])  # type: ignore[call-overload]


def main() -> None:
    moto_patched.apply_patches()
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address=moto_patched.LOOPBACK, port=0, verbose=False)
    server.start()
    print(f"ready {server.get_host_and_port()[1]}", flush=True)
    for line in sys.stdin:
        _run(json.loads(line))
        print("ok", flush=True)
    server.stop()


if __name__ == "__main__":
    main()
