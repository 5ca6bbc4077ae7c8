"""Per-environment values win over the playbook-adjacent globals; -e region wins over all."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.playbooks.runner import REPO_ROOT, run_playbook


def effective_config(inventory: str, *extra: str) -> dict:
    run = run_playbook("playbooks/config.yml", inventory, *extra, json_output=True)
    assert run.returncode == 0, run.output
    tasks = run.json_result()["plays"][0]["tasks"]
    return tasks[-1]["hosts"]["localhost"]["msg"]


def test_prod_override_of_confidentiality_wins_over_globals() -> None:
    config = effective_config("prod")
    assert config["resource_tags"]["Confidentiality"] == "secret"
    assert config["resource_tags"]["Environment"] == "prod"
    assert config["resource_tags"]["ManagedBy"] == "ansible"
    assert config["example_name"] == "prod-django-alb-and"


def test_each_environment_keeps_its_own_values() -> None:
    dev, hml = effective_config("dev"), effective_config("hml")
    assert (dev["vpc_cidr"], dev["network_nat_mode"]) == ("10.10.0.0/16", "instance")
    assert (hml["vpc_cidr"], hml["network_nat_mode"]) == ("10.20.0.0/16", "gateway")
    assert dev["resource_tags"]["Confidentiality"] == "internal"
    assert hml["example_name"] == "hml-django-alb-and"


def test_local_is_dev_under_its_own_name() -> None:
    local, dev = effective_config("local"), effective_config("dev")
    assert local["env_name"] == "local"
    assert local["vpc_cidr"] == dev["vpc_cidr"]
    assert local["vpc_azs"] == dev["vpc_azs"]


def test_extra_var_region_overrides_region_and_azs() -> None:
    config = effective_config("prod", "-e", "region=eu-west-1")
    assert config["region"] == "eu-west-1"
    assert config["vpc_azs"] == ["eu-west-1a", "eu-west-1b", "eu-west-1c"]


def test_no_inventory_sets_a_name_the_global_group_vars_define() -> None:
    """Playbook-adjacent group_vars load over inventory group_vars/all: a shared name would
    silently beat the environment's value."""
    global_names: set[str] = set()
    for path in (REPO_ROOT / "group_vars" / "all").glob("*.yml"):
        global_names |= set(yaml.safe_load(path.read_text()) or {})
    for path in Path(REPO_ROOT / "inventories").glob("*/group_vars/all/*.yml"):
        shared = global_names & set(yaml.safe_load(path.read_text()) or {})
        assert not shared, f"{path} redefines global names {shared}"
