"""The fast path's record: what makes a role part run, and what lets it be skipped."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from ansible_collections.django_ecs.aws.plugins.filter.converged import converged_plan
from ansible_collections.django_ecs.aws.plugins.lookup.converged import (
    NOT_INPUTS,
    assigned_names,
    code_fingerprint,
    facts_set_by,
    input_names,
    referenced_names,
    tree_fingerprint,
)
from ansible_collections.django_ecs.aws.plugins.module_utils.converged import (
    STAMP_VERSION,
    decode_stamp,
    encode_stamp,
    field_fingerprints,
    fingerprint,
    live_differences,
    role_reasons,
)

REPO = Path(__file__).resolve().parents[2]
SERVICE = {
    "serviceName": "svc",
    "taskDefinition": "app:3",
    "networkConfiguration": {"subnets": ["a"]},
}


def stamp(**changes):
    return {"version": STAMP_VERSION, "code": "c1", "inputs": {"x": fingerprint(1)}, **changes}


def test_fingerprints_ignore_key_order_but_not_values():
    assert fingerprint({"a": 1, "b": [1, 2]}) == fingerprint({"b": [1, 2], "a": 1})
    assert fingerprint({"a": 1}) != fingerprint({"a": "1"})
    assert fingerprint([1, 2]) != fingerprint([2, 1])


def test_a_field_changed_outside_the_role_is_named():
    before = {"ecs_service:svc": field_fingerprints(SERVICE)}
    drifted = {**SERVICE, "networkConfiguration": {"subnets": ["b"]}}
    now = {"ecs_service:svc": field_fingerprints(drifted)}
    assert live_differences(before, now) == [
        "ecs_service:svc changed outside this role: networkConfiguration"
    ]
    assert live_differences(before, before) == []


def test_a_deleted_or_new_resource_is_drift():
    recorded = {"ecs_service:svc": field_fingerprints(SERVICE)}
    assert live_differences(recorded, {"ecs_service:svc": None}) == [
        "ecs_service:svc no longer exists"
    ]
    assert live_differences({"x:y": None}, {"x:y": {"f": "1"}}) == [
        "x:y exists now but did not when recorded"
    ]


def test_an_unreadable_resource_is_never_in_sync():
    unreadable = {"x:y": field_fingerprints({"unreadable": "AccessDenied"})}
    assert live_differences(unreadable, unreadable) == ["x:y could not be read"]


def test_only_a_matching_stamp_lets_the_part_be_skipped():
    inputs = {"x": fingerprint(1)}
    assert role_reasons(stamp(), "c1", inputs, []) == []
    assert role_reasons(None, "c1", inputs, []) == [
        "never converged by this collection (no record yet)"
    ]
    assert role_reasons(stamp(), "c2", inputs, []) == [
        "the role's or the collection's code changed"
    ]
    assert role_reasons(stamp(), "c1", {"x": fingerprint(2)}, []) == ["input x changed"]
    assert role_reasons(stamp(), "c1", {**inputs, "y": fingerprint(0)}, []) == ["input y changed"]
    assert role_reasons(stamp(), "c1", inputs, ["gone"]) == ["gone"]
    assert role_reasons(stamp(version=0), "c1", inputs, []) != []


def test_stamps_round_trip_and_large_ones_fit_a_standard_parameter():
    small = stamp()
    assert decode_stamp(encode_stamp(small)) == small
    large = stamp(
        live={f"r{i}": {f"f{j}": fingerprint((i, j)) for j in range(20)} for i in range(12)}
    )
    encoded = encode_stamp(large)
    assert len(encoded) <= 4096
    assert decode_stamp(encoded) == large
    assert decode_stamp("not json") is None


def test_the_code_fingerprint_follows_every_file_of_roles_plugins_and_playbooks(tmp_path):
    for directory in ("roles/r/tasks", "plugins", "playbooks"):
        (tmp_path / directory).mkdir(parents=True)
    task = tmp_path / "roles/r/tasks/main.yml"
    task.write_text("- name: one\n")
    before = code_fingerprint(tmp_path)
    task.write_text("- name: two\n")
    assert code_fingerprint(tmp_path) != before
    (tmp_path / "playbooks/x.yml").write_text("---\n")
    assert code_fingerprint(tmp_path) != before


def test_the_build_context_is_an_input(tmp_path):
    (tmp_path / "app.py").write_text("print(1)\n")
    before = tree_fingerprint(tmp_path)
    (tmp_path / "app.py").write_text("print(2)\n")
    assert tree_fingerprint(tmp_path) != before


ROLES = sorted(
    p.parent.parent.name
    for p in REPO.glob("roles/*/tasks/*.yml")
    if "converged_record" in p.read_text()
)


@pytest.mark.parametrize("role", ROLES)
def test_every_argument_of_a_recorded_role_is_an_input(role):
    # The property the fast path rests on: any option of the role's argument spec (the settings
    # it sends AWS) is fingerprinted, so changing any of them makes the part run.
    options = yaml.safe_load((REPO / f"roles/{role}/meta/argument_specs.yml").read_text())
    every = set(options["argument_specs"]["main"]["options"])
    assert set(input_names(role, "main")) == {o for o in every if not o.endswith(NOT_INPUTS)}
    assert set(input_names(role, "main")) and len(every) - len(input_names(role, "main")) <= len(
        NOT_INPUTS
    )


def test_a_role_reading_another_layers_facts_has_them_as_inputs():
    # ecs_service reads network_lookup_private_subnets directly: a new subnet list must make it run.
    assert "network_lookup_private_subnets" in referenced_names("ecs_service")
    assert not any(
        name.startswith(("ecs_service_", "_ecs_service_"))
        for name in referenced_names("ecs_service")
    )


def test_the_plan_names_what_converges_per_layer():
    network = {
        "in_sync": {"vpc": True, "nat_instance": False},
        "drift": {"nat_instance": ["route gone"]},
    }
    states = {"app": {"parts": {"alb": {}, "ecs_service": {}, "ecr": {}}}}
    results = {
        "_alb_converged": {"in_sync": True, "reasons": []},
        "_ecs_service_converged": {"in_sync": False, "reasons": ["input ecs_service_cpu changed"]},
    }
    assert converged_plan(network, states, results) == [
        "network: 1 to converge, 1 in sync",
        "  nat_instance: route gone",
        "  in sync: vpc",
        "app: 1 to converge, 1 in sync",
        "  ecs_service: input ecs_service_cpu changed",
        "  in sync: alb",
    ]
    assert converged_plan({}, {}, {}) == ["nothing selected"]


def test_facts_a_role_sets_itself_are_reads_not_inputs():
    # rds imports network_lookup: at its comparison those facts are set or not depending on what
    # ran before (a skipped nat role, --tags data), so they cannot be inputs; the record's
    # network resource compares what they read instead.
    assert "network_lookup_private_subnets" in facts_set_by("rds")
    assert "network_lookup_private_subnets" not in referenced_names("rds")
    text = (
        "- name: t\n  ansible.builtin.set_fact:\n    a_fact: 1\n  vars:\n    a_var: 2\n"
        "    nested:\n      deep: 3\n- name: u\n  debug:\n    msg: '{{ g }}'\n"
    )
    assert assigned_names(text) == {"a_fact", "a_var", "nested"}
