#!/usr/bin/python
# Copyright: contributors to django_ecs.aws
# Apache License 2.0 (see galaxy.yml)
# Ansible wants DOCUMENTATION/EXAMPLES/RETURN before any import (ansible-test validate-modules).

from __future__ import annotations

DOCUMENTATION = r"""
module: ecs_cluster
short_description: ECS cluster with its settings (Container Insights) and tags
version_added: 0.1.0
description:
  - Creates, updates or deletes an ECS cluster so that its cluster settings and tags match.
  - Why not C(community.aws.ecs_cluster)? It has no C(tags) option and cannot set cluster
    settings, so Container Insights could not be turned on (community.aws 11.2).
author:
  - django_ecs.aws maintainers (!UNKNOWN)
options:
  name:
    description: Cluster name.
    type: str
    required: true
  state:
    description: Whether the cluster exists.
    type: str
    choices: [present, absent]
    default: present
  container_insights:
    description: Container Insights mode.
    type: str
    choices: [enabled, disabled, enhanced]
    default: enabled
  tags:
    description: Tags of the cluster (others are removed, except C(aws:) ones).
    type: dict
    default: {}
notes:
  - Supports check mode.
  - Deleting a cluster that still has services fails, as the ECS API does.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: The app cluster, Container Insights on
  django_ecs.aws.ecs_cluster:
    name: dev-djg-cluster-ander
    container_insights: enabled
    tags: "{{ resource_tags }}"
"""

RETURN = r"""
cluster:
  description: The cluster as DescribeClusters returns it (camelCase), absent once deleted.
  returned: when state=present
  type: dict
changes:
  description: What was (or in check mode would be) done, e.g. C(create), C(settings), C(tags).
  returned: success
  type: list
  elements: str
"""

import contextlib
from typing import Any

with contextlib.suppress(ImportError):  # AnsibleAWSModule reports a missing botocore itself
    from botocore.exceptions import BotoCoreError, ClientError

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

ARGUMENT_SPEC: dict[str, Any] = {
    "name": {"type": "str", "required": True},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "container_insights": {
        "type": "str",
        "choices": ["enabled", "disabled", "enhanced"],
        "default": "enabled",
    },
    "tags": {"type": "dict", "default": {}},
}


def tag_dict(cluster: dict[str, Any]) -> dict[str, str]:
    return {tag["key"]: tag["value"] for tag in cluster.get("tags") or []}


def insights_of(cluster: dict[str, Any]) -> str | None:
    for setting in cluster.get("settings") or []:
        if setting.get("name") == "containerInsights":
            return setting.get("value")
    return None


def plan(
    current: dict[str, Any] | None, state: str, insights: str, tags: dict[str, str]
) -> list[str]:
    """Actions turning ``current`` (None: no active cluster) into the wanted cluster."""
    if state == "absent":
        return ["delete"] if current else []
    if not current:
        return ["create"]
    actions = []
    if insights_of(current) != insights:
        actions.append("settings")
    have = {k: v for k, v in tag_dict(current).items() if not k.startswith("aws:")}
    if have != tags:
        actions.append("tags")
    return actions


def describe(client: Any, name: str) -> dict[str, Any] | None:
    response = client.describe_clusters(
        clusters=[name], include=["SETTINGS", "TAGS"], aws_retry=True
    )
    active = [c for c in response.get("clusters", []) if c.get("status") != "INACTIVE"]
    return active[0] if active else None


def sync_tags(client: Any, cluster: dict[str, Any], tags: dict[str, str]) -> None:
    arn = cluster["clusterArn"]
    stale = [k for k in tag_dict(cluster) if k not in tags and not k.startswith("aws:")]
    if stale:
        client.untag_resource(resourceArn=arn, tagKeys=stale, aws_retry=True)
    client.tag_resource(
        resourceArn=arn, tags=[{"key": k, "value": v} for k, v in tags.items()], aws_retry=True
    )


def apply(
    client: Any, actions: list[str], current: dict[str, Any] | None, params: dict[str, Any]
) -> None:
    name, tags = params["name"], params["tags"]
    settings = [{"name": "containerInsights", "value": params["container_insights"]}]
    if "create" in actions:
        client.create_cluster(
            clusterName=name,
            settings=settings,
            tags=[{"key": k, "value": v} for k, v in tags.items()],
            aws_retry=True,
        )
    if "settings" in actions:
        client.update_cluster_settings(cluster=name, settings=settings, aws_retry=True)
    if "tags" in actions and current:
        sync_tags(client, current, tags)
    if "delete" in actions:
        client.delete_cluster(cluster=name, aws_retry=True)


def main() -> None:
    module = AnsibleAWSModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = dict(module.params)
    params["tags"] = {str(k): str(v) for k, v in params["tags"].items()}
    client = module.client("ecs", retry_decorator=AWSRetry.jittered_backoff())
    try:
        current = describe(client, params["name"])
        actions = plan(current, params["state"], params["container_insights"], params["tags"])
        if actions and not module.check_mode:
            apply(client, actions, current, params)
            current = describe(client, params["name"])
    except (BotoCoreError, ClientError) as exc:
        module.fail_json_aws(exc, msg=f"cannot manage ECS cluster {params['name']}")
    result: dict[str, Any] = {"changed": bool(actions), "changes": actions}
    if params["state"] == "present":
        result["cluster"] = current or {}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
