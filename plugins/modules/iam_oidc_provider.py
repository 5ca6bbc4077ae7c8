#!/usr/bin/python
# Copyright: contributors to django_ecs.aws
# Apache License 2.0 (see galaxy.yml)
# Ansible wants DOCUMENTATION/EXAMPLES/RETURN before any import (ansible-test validate-modules).

from __future__ import annotations

DOCUMENTATION = r"""
module: iam_oidc_provider
short_description: Manage an IAM OpenID Connect identity provider (e.g. GitHub Actions)
version_added: 0.1.0
description:
  - Creates, converges or deletes the IAM OIDC identity provider of one issuer URL, with its client
    IDs (audiences), thumbprints and tags. An account has at most one provider per URL, so the
    URL identifies it.
  - Why? Neither C(amazon.aws) 11 nor C(community.aws) 11 has a module for OpenID Connect
    providers (they have C(iam_role), C(iam_policy), C(iam_managed_policy) and, for SAML only,
    C(community.aws.iam_saml_federation)). GitHub Actions' OIDC deploy roles need one per account.
  - Client IDs are added and removed one by one (AddClientIDToOpenIDConnectProvider,
    RemoveClientIDFromOpenIDConnectProvider), so a provider shared with other roles keeps its
    ARN; O(purge_client_ids=false) only adds.
author:
  - django_ecs.aws maintainers (!UNKNOWN)
options:
  url:
    description:
      - Issuer URL, C(https://) and host (and path), e.g.
        C(https://token.actions.githubusercontent.com). The C(iss) claim of the tokens.
    type: str
    required: true
  client_ids:
    description: Audiences (C(aud) claims) the provider accepts, e.g. C(sts.amazonaws.com).
    type: list
    elements: str
    default: []
  purge_client_ids:
    description: Remove client IDs not in O(client_ids).
    type: bool
    default: true
  thumbprints:
    description:
      - SHA-1 thumbprints (40 hex digits) of the issuer's certificate chain.
      - Empty (the default) leaves them to IAM, which computes one at creation and, for
        GitHub and other issuers it trusts through its own CA library, does not rely on them.
        When set, the provider's list is made equal to it.
    type: list
    elements: str
    default: []
  tags:
    description: Tags of the provider.
    type: dict
    default: {}
  purge_tags:
    description: Remove tags not in O(tags). C(aws:) tags are never touched.
    type: bool
    default: true
  state:
    description: C(absent) deletes the provider of O(url).
    type: str
    choices: [present, absent]
    default: present
notes:
  - Supports check mode (the plan is returned as RV(actions), nothing is changed).
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: The GitHub Actions OIDC provider of this account
  django_ecs.aws.iam_oidc_provider:
    url: https://token.actions.githubusercontent.com
    client_ids: [sts.amazonaws.com]
    tags: "{{ resource_tags }}"
  register: github_oidc
"""

RETURN = r"""
arn:
  description: ARN of the provider (empty after O(state=absent), or when check mode would create it).
  returned: success
  type: str
  sample: arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com
client_ids:
  description: Client IDs after the run.
  returned: success
  type: list
  elements: str
thumbprints:
  description: Thumbprints after the run.
  returned: success
  type: list
  elements: str
tags:
  description: Tags after the run.
  returned: success
  type: dict
actions:
  description: What the run did (or, in check mode, would do), one line per API change.
  returned: success
  type: list
  elements: str
  sample: ["create https://token.actions.githubusercontent.com"]
"""

import contextlib
import re
from dataclasses import dataclass, field
from typing import Any

with contextlib.suppress(ImportError):  # AnsibleAWSModule reports a missing botocore itself
    from botocore.exceptions import BotoCoreError, ClientError

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.tagging import (
    ansible_dict_to_boto3_tag_list,
    boto3_tag_list_to_ansible_dict,
    compare_aws_tags,
)

ARGUMENT_SPEC: dict[str, Any] = {
    "url": {"type": "str", "required": True},
    "client_ids": {"type": "list", "elements": "str", "default": []},
    "purge_client_ids": {"type": "bool", "default": True},
    "thumbprints": {"type": "list", "elements": "str", "default": []},
    "tags": {"type": "dict", "default": {}},
    "purge_tags": {"type": "bool", "default": True},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
}
_URL = re.compile(r"^https://[a-z0-9.-]+(/[A-Za-z0-9._~/-]*)?$")
_THUMBPRINT = re.compile(r"^[0-9a-fA-F]{40}$")


@dataclass
class Provider:
    """What IAM holds for one provider (the parts this module manages)."""

    arn: str
    client_ids: list[str] = field(default_factory=list)
    thumbprints: list[str] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class Plan:
    create: bool = False
    delete: bool = False
    add_client_ids: list[str] = field(default_factory=list)
    remove_client_ids: list[str] = field(default_factory=list)
    thumbprints: list[str] | None = None  # None: leave them as they are
    set_tags: dict[str, str] = field(default_factory=dict)
    remove_tags: list[str] = field(default_factory=list)

    def lines(self, url: str) -> list[str]:
        lines = [f"create {url}"] if self.create else []
        lines += [f"delete {url}"] if self.delete else []
        if not self.create:
            lines += [f"add client id {client_id}" for client_id in self.add_client_ids]
            lines += [f"remove client id {client_id}" for client_id in self.remove_client_ids]
            lines += ["update thumbprints"] if self.thumbprints is not None else []
            lines += [f"tag {key}" for key in sorted(self.set_tags)]
            lines += [f"untag {key}" for key in self.remove_tags]
        return lines


def validate(params: dict[str, Any]) -> list[str]:
    """Input errors, before any AWS call (the URL ends up in an ARN)."""
    errors = []
    if not _URL.match(params["url"]):
        errors.append(f"url must be https://<host>[/<path>], got {params['url']!r}")
    bad = [value for value in params["thumbprints"] if not _THUMBPRINT.match(value)]
    if bad:
        errors.append(f"thumbprints must be 40 hex digits each, got {bad!r}")
    empty = [value for value in params["client_ids"] if not value.strip()]
    if empty:
        errors.append("client_ids must not contain empty strings")
    return errors


def arn_suffix(url: str) -> str:
    """IAM names a provider by its URL without the scheme (and without a trailing slash)."""
    return url.split("://", 1)[1].rstrip("/")


def plan(current: Provider | None, params: dict[str, Any]) -> Plan:
    """Desired (params) vs current provider -> the changes to make."""
    tags = {str(key): str(value) for key, value in params["tags"].items()}
    if params["state"] == "absent":
        return Plan(delete=current is not None)
    if current is None:
        return Plan(create=True)
    wanted_ids = list(dict.fromkeys(params["client_ids"]))
    to_remove = (
        [i for i in current.client_ids if i not in wanted_ids] if params["purge_client_ids"] else []
    )
    thumbprints = [value.lower() for value in params["thumbprints"]]
    # amazon.aws's comparison: never removes aws: tags, and only purges when asked.
    set_tags, remove_tags = compare_aws_tags(current.tags, tags, params["purge_tags"])
    return Plan(
        add_client_ids=[i for i in wanted_ids if i not in current.client_ids],
        remove_client_ids=to_remove,
        thumbprints=thumbprints
        if thumbprints and sorted(thumbprints) != sorted(t.lower() for t in current.thumbprints)
        else None,
        set_tags=set_tags,
        remove_tags=sorted(remove_tags),
    )


class Iam:
    def __init__(self, module: AnsibleAWSModule) -> None:
        self._client = module.client("iam", retry_decorator=AWSRetry.jittered_backoff())

    def call(self, operation: str, **kwargs: Any) -> Any:
        return getattr(self._client, operation)(**kwargs, aws_retry=True)

    def find(self, url: str) -> Provider | None:
        suffix = "oidc-provider/" + arn_suffix(url)
        listed = self.call("list_open_id_connect_providers")["OpenIDConnectProviderList"]
        arn = next((item["Arn"] for item in listed if item["Arn"].endswith(suffix)), None)
        if arn is None:
            return None
        found = self.call("get_open_id_connect_provider", OpenIDConnectProviderArn=arn)
        return Provider(
            arn=arn,
            client_ids=list(found.get("ClientIDList", [])),
            thumbprints=list(found.get("ThumbprintList", [])),
            tags=boto3_tag_list_to_ansible_dict(found.get("Tags", [])),
        )

    def apply(self, current: Provider | None, changes: Plan, params: dict[str, Any]) -> str:
        """Make the changes; the provider's ARN afterwards (empty once deleted)."""
        tags = ansible_dict_to_boto3_tag_list({str(k): str(v) for k, v in params["tags"].items()})
        if changes.create:
            request: dict[str, Any] = {"Url": params["url"].rstrip("/")}
            request["ClientIDList"] = list(dict.fromkeys(params["client_ids"]))
            if params["thumbprints"]:
                request["ThumbprintList"] = [value.lower() for value in params["thumbprints"]]
            if tags:
                request["Tags"] = tags
            return self.call("create_open_id_connect_provider", **request)[
                "OpenIDConnectProviderArn"
            ]
        if current is None:  # the plan only updates or deletes a provider that exists
            raise AssertionError("no current provider to update")
        arn = {"OpenIDConnectProviderArn": current.arn}
        if changes.delete:
            self.call("delete_open_id_connect_provider", **arn)
            return ""
        for client_id in changes.add_client_ids:
            self.call("add_client_id_to_open_id_connect_provider", ClientID=client_id, **arn)
        for client_id in changes.remove_client_ids:
            self.call("remove_client_id_from_open_id_connect_provider", ClientID=client_id, **arn)
        if changes.thumbprints is not None:
            self.call(
                "update_open_id_connect_provider_thumbprint",
                ThumbprintList=changes.thumbprints,
                **arn,
            )
        if changes.set_tags:
            as_list = ansible_dict_to_boto3_tag_list(changes.set_tags)
            self.call("tag_open_id_connect_provider", Tags=as_list, **arn)
        if changes.remove_tags:
            self.call("untag_open_id_connect_provider", TagKeys=changes.remove_tags, **arn)
        return current.arn


def main() -> None:
    module = AnsibleAWSModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    errors = validate(params)
    if errors:
        module.fail_json(msg="; ".join(errors))
    iam = Iam(module)
    try:
        current = iam.find(params["url"])
        changes = plan(current, params)
        arn = current.arn if current else ""
        if not module.check_mode:
            try:
                arn = iam.apply(current, changes, params)
            except ClientError as exc:
                # Another run (another environment's bootstrap) created it since it was read:
                # converge that one instead of failing.
                if not changes.create or exc.response["Error"]["Code"] != "EntityAlreadyExists":
                    raise
                current = iam.find(params["url"])
                changes = plan(current, params)
                arn = iam.apply(current, changes, params)
        # A re-read shows what IAM made of the changes; nothing changed: what was read is current.
        changed = changes.lines(params["url"])
        after = iam.find(params["url"]) if changed and arn and not module.check_mode else current
    except (BotoCoreError, ClientError) as exc:
        module.fail_json_aws(exc, msg=f"cannot manage the OIDC provider {params['url']}")
    module.exit_json(
        changed=bool(changed),
        arn=arn,
        client_ids=after.client_ids if after else [],
        thumbprints=after.thumbprints if after else [],
        tags=after.tags if after else {},
        actions=changed,
    )


if __name__ == "__main__":
    main()
