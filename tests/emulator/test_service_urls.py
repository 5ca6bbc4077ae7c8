"""scripts/deploy-local's last step: each environment's service URL on the emulator."""

from __future__ import annotations

import json
from pathlib import Path

from tools.emulator import service_urls

ARN = "arn:aws:elasticloadbalancing:us-east-1:123456789012"
DNS = "local-djg-alb-ander-1234567890.us-east-1.elb.localhost"


def listener(protocol: str, port: int, local_port: int, dns: str = DNS) -> dict:
    scheme = protocol.lower()
    return {
        "listener_arn": f"{ARN}:listener/app/x/{port}",
        "lb_arn": f"{ARN}:loadbalancer/app/x/1",
        "lb_name": "x",
        "lb_dns_name": dns,
        "protocol": protocol,
        "port": port,
        "local_port": local_port,
        "url": f"{scheme}://{dns}:{local_port}/",
    }


def test_https_is_preferred_and_other_load_balancers_ignored() -> None:
    listeners = [
        listener("HTTP", 80, 41000),
        listener("HTTPS", 443, 41001),
        listener("HTTP", 80, 42000, dns="other.us-east-1.elb.localhost"),
    ]
    found = service_urls.local_outputs({"load_balancer_dns_name": DNS}, listeners)
    assert found is not None
    assert found["url"] == f"https://{DNS}:41001/"
    assert [item["local_port"] for item in found["listeners"]] == [41001, 41000]


def test_no_listener_no_url() -> None:
    assert service_urls.local_outputs({"load_balancer_dns_name": DNS}, []) is None
    unnamed = {"load_balancer_dns_name": ""}
    assert service_urls.local_outputs(unnamed, [listener("HTTP", 80, 1)]) is None


def test_write_all_writes_each_answering_environment_and_drops_stale_files(tmp_path: Path) -> None:
    (tmp_path / "local").mkdir()
    (tmp_path / "local" / "app.json").write_text(json.dumps({"load_balancer_dns_name": DNS}))
    (tmp_path / "gone").mkdir()
    (tmp_path / "gone" / "app.json").write_text(json.dumps({"load_balancer_dns_name": "x"}))
    (tmp_path / "gone" / "local.json").write_text("{}")

    urls = service_urls.write_all(tmp_path, [listener("HTTP", 80, 41000)])

    assert urls == {"local": f"http://{DNS}:41000/"}
    assert json.loads((tmp_path / "local" / "local.json").read_text())["url"] == urls["local"]
    assert not (tmp_path / "gone" / "local.json").exists()
