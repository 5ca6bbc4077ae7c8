"""ECS rules the emulator enforces as AWS does (moto_patched section 19); fail on plain moto."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

Aws = Callable[[str], Any]


@pytest.fixture
def cluster_with_revision(aws: Aws, unique: str) -> Iterator[tuple[str, str, str]]:
    """A cluster and one Fargate task definition revision: (cluster, family, revision ARN)."""
    ecs = aws("ecs")
    cluster, family = f"rules-{unique}", f"rules-app-{unique}"
    ecs.create_cluster(clusterName=cluster)
    arn = ecs.register_task_definition(
        family=family,
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="256",
        memory="512",
        containerDefinitions=[{"name": "app", "image": "app:1", "essential": True}],
    )["taskDefinition"]["taskDefinitionArn"]
    yield cluster, family, arn
    ecs.deregister_task_definition(taskDefinition=arn)
    ecs.delete_cluster(cluster=cluster)


@pytest.mark.parametrize("suffix", [":1", " app", "/x"])
def test_list_tasks_refuses_a_family_that_is_not_a_bare_name(
    aws: Aws, cluster_with_revision: tuple[str, str, str], suffix: str
) -> None:
    cluster, family, _ = cluster_with_revision

    with pytest.raises(ClientError) as raised:
        aws("ecs").list_tasks(cluster=cluster, family=family + suffix, desiredStatus="RUNNING")

    assert raised.value.response["Error"]["Code"] == "InvalidParameterException"
    assert "family must match" in raised.value.response["Error"]["Message"]
    # The bare family, the filter AWS does accept, still lists.
    assert aws("ecs").list_tasks(cluster=cluster, family=family)["taskArns"] == []


def test_list_tasks_refuses_a_task_definition_arn_as_family(
    aws: Aws, cluster_with_revision: tuple[str, str, str]
) -> None:
    cluster, _, arn = cluster_with_revision

    with pytest.raises(ClientError, match="InvalidParameterException"):
        aws("ecs").list_tasks(cluster=cluster, family=arn)
