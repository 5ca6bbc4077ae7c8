"""Where a deployed service answers on the emulator: its load balancer's loopback URL.

On AWS the app layer's outputs name the load balancer's DNS name and ``http(s)://<name>/``.
Here each listener listens on a loopback port of its own (README, "Load balancers"), so
``scripts/deploy-local`` ends by matching every ``outputs/<env>/app.json`` against the
emulator's listeners and writing ``outputs/<env>/local.json``: the URL to open, HTTPS when the
load balancer has an HTTPS listener. ``app.json`` itself stays what the app layer wrote (the
playbook rewrites it whenever its values change, so a second writer would make every re-run
report a change).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

LOCAL_OUTPUTS = "local.json"


def service_listeners(app_outputs: dict[str, Any], listeners: list[dict[str, Any]]) -> list[dict]:
    """The listeners of the app's load balancer, HTTPS first."""
    dns_name = app_outputs.get("load_balancer_dns_name") or ""
    own = [item for item in listeners if dns_name and item.get("lb_dns_name") == dns_name]
    return sorted(own, key=lambda item: (item.get("protocol") != "HTTPS", item.get("port", 0)))


def local_outputs(app_outputs: dict[str, Any], listeners: list[dict[str, Any]]) -> dict | None:
    """``{url, listeners}`` for one environment, or None when its load balancer does not listen."""
    own = service_listeners(app_outputs, listeners)
    if not own:
        return None
    return {
        "url": own[0]["url"],
        "load_balancer_dns_name": app_outputs["load_balancer_dns_name"],
        "listeners": [
            {key: item[key] for key in ("protocol", "port", "local_port", "url")} for item in own
        ],
    }


def write_all(outputs_root: Path, listeners: list[dict[str, Any]]) -> dict[str, str]:
    """Write ``<env>/local.json`` for every environment that answers; ``{env: url}``."""
    urls = {}
    for app_file in sorted(outputs_root.glob("*/app.json")):
        try:
            app_outputs = json.loads(app_file.read_text())
        except (OSError, ValueError):
            continue
        found = local_outputs(app_outputs, listeners)
        target = app_file.parent / LOCAL_OUTPUTS
        if found is None:
            target.unlink(missing_ok=True)
            continue
        content = json.dumps(found, indent=2, sort_keys=True) + "\n"
        if not target.exists() or target.read_text() != content:
            target.write_text(content)
        urls[app_file.parent.name] = found["url"]
    return urls
