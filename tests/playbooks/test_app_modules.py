"""Pure planning parts of the app layer's modules (no AWS): what each would change."""

from __future__ import annotations

from typing import Any

from ansible_collections.django_ecs.aws.plugins.modules import (
    ecr_repository,
    ecs_cluster,
    ecs_service_scaling,
    resource_tags,
)

TAGS = {"Project": "django-ecs", "Environment": "dev"}
CPU_POLICY: dict[str, Any] = {
    "name": "dev-djg-cpu-ander",
    "predefined_metric": "ECSServiceAverageCPUUtilization",
    "target_value": 60.0,
    "resource_label": None,
    "scale_out_cooldown": 60,
    "scale_in_cooldown": 300,
}


def scaling_params(**overrides: Any) -> dict[str, Any]:
    return {
        "state": "present",
        "min_capacity": 1,
        "max_capacity": 5,
        "policies": [CPU_POLICY],
        "tags": TAGS,
        **overrides,
    }


def aws_policy(target: float = 60.0) -> dict[str, Any]:
    """What DescribeScalingPolicies returns for CPU_POLICY (AWS adds nothing we compare)."""
    return {
        "TargetValue": target,
        "PredefinedMetricSpecification": {
            "PredefinedMetricType": "ECSServiceAverageCPUUtilization"
        },
        "ScaleOutCooldown": 60,
        "ScaleInCooldown": 300,
        "DisableScaleIn": False,
    }


def test_converged_scaling_plans_nothing() -> None:
    target = {"MinCapacity": 1, "MaxCapacity": 5}
    plan = ecs_service_scaling.plan(
        target, TAGS, {CPU_POLICY["name"]: aws_policy()}, scaling_params()
    )
    assert plan == []


def test_new_bounds_change_only_the_target() -> None:
    target = {"MinCapacity": 1, "MaxCapacity": 5}
    policies = {CPU_POLICY["name"]: aws_policy()}
    assert ecs_service_scaling.plan(target, TAGS, policies, scaling_params(max_capacity=8)) == [
        "target"
    ]


def test_new_target_value_rewrites_the_policy_and_stale_policies_go() -> None:
    target = {"MinCapacity": 1, "MaxCapacity": 5}
    policies = {CPU_POLICY["name"]: aws_policy(55.0), "old-policy": aws_policy()}
    plan = ecs_service_scaling.plan(target, TAGS, policies, scaling_params())
    assert plan == [f"policy:{CPU_POLICY['name']}", "delete:old-policy"]


def test_empty_tags_leave_the_target_tags_alone() -> None:
    target = {"MinCapacity": 1, "MaxCapacity": 5}
    policies = {CPU_POLICY["name"]: aws_policy()}
    assert ecs_service_scaling.plan(target, {"Other": "x"}, policies, scaling_params(tags={})) == []
    assert "tags" in ecs_service_scaling.plan(target, {"Other": "x"}, policies, scaling_params())


def test_request_count_policy_carries_its_resource_label() -> None:
    policy = {
        **CPU_POLICY,
        "predefined_metric": "ALBRequestCountPerTarget",
        "resource_label": "a/b",
    }
    metric = ecs_service_scaling.policy_configuration(policy)["PredefinedMetricSpecification"]
    assert metric == {"PredefinedMetricType": "ALBRequestCountPerTarget", "ResourceLabel": "a/b"}


def test_absent_deletes_policies_then_deregisters() -> None:
    plan = ecs_service_scaling.plan(
        {"MinCapacity": 1, "MaxCapacity": 5}, {}, {"b": {}, "a": {}}, scaling_params(state="absent")
    )
    assert plan == ["delete:a", "delete:b", "deregister"]


def test_cluster_plans_settings_and_tags_separately() -> None:
    current = {
        "settings": [{"name": "containerInsights", "value": "disabled"}],
        "tags": [{"key": "Project", "value": "django-ecs"}, {"key": "aws:owner", "value": "x"}],
    }
    assert ecs_cluster.plan(current, "present", "enabled", {"Project": "django-ecs"}) == [
        "settings"
    ]
    assert ecs_cluster.plan(current, "present", "disabled", TAGS) == ["tags"]
    assert ecs_cluster.plan(None, "present", "enabled", TAGS) == ["create"]
    assert ecs_cluster.plan(None, "absent", "enabled", TAGS) == []


def repository_params(**overrides: Any) -> dict[str, Any]:
    return {
        "scan_on_push": True,
        "image_tag_mutability": "IMMUTABLE_WITH_EXCLUSION",
        "mutability_exclusion_filters": ["latest"],
        "lifecycle_policy": {"rules": []},
        "tags": TAGS,
        **overrides,
    }


def test_repository_in_the_wanted_state_plans_nothing() -> None:
    repo = {
        "imageScanningConfiguration": {"scanOnPush": True},
        "imageTagMutability": "IMMUTABLE_WITH_EXCLUSION",
        "imageTagMutabilityExclusionFilters": [{"filterType": "WILDCARD", "filter": "latest"}],
    }
    assert ecr_repository.plan_update(repo, {"rules": []}, TAGS, repository_params()) == {}


def test_repository_reset_to_mutable_by_another_tool_is_repaired() -> None:
    repo = {"imageScanningConfiguration": {"scanOnPush": False}, "imageTagMutability": "MUTABLE"}
    changes = ecr_repository.plan_update(repo, None, {}, repository_params())
    assert sorted(changes) == ["lifecycle", "mutability", "scan", "tags"]
    assert changes["mutability"]["imageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION"


def test_tag_plan_sets_changed_values_and_purges_but_keeps_aws_tags() -> None:
    current = {"Project": "old", "Owner": "platform-team", "Stale": "1", "aws:cloudformation": "x"}
    to_set, to_remove = resource_tags.plan_tags(
        current, {"Project": "new", "Owner": "platform-team"}, True
    )
    assert to_set == {"Project": "new"}
    assert to_remove == ["Stale"]
    assert resource_tags.plan_tags(current, {"Project": "old"}, False) == ({}, [])


def test_tag_api_is_chosen_from_the_arn() -> None:
    assert resource_tags.service_of("arn:aws:ecr:us-east-1:123456789012:repository/app") == "ecr"
    assert resource_tags.service_of("arn:aws:s3:::bucket") is None
    assert resource_tags.service_of("not-an-arn") is None
    api = resource_tags.TAG_APIS["ecs"]
    assert api.to_api({"a": "1"}) == [{"key": "a", "value": "1"}]
    assert resource_tags.TAG_APIS["logs"].to_api({"a": "1"}) == {"a": "1"}
