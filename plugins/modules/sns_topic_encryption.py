#!/usr/bin/python
# Copyright: contributors to django_ecs.aws
# Apache License 2.0 (see galaxy.yml)
# Ansible wants DOCUMENTATION/EXAMPLES/RETURN before any import (ansible-test validate-modules).

from __future__ import annotations

DOCUMENTATION = r"""
module: sns_topic_encryption
short_description: Set the KMS key that encrypts an SNS topic at rest
version_added: 0.1.0
description:
  - Sets the C(KmsMasterKeyId) attribute of an existing SNS topic (server-side encryption),
    or removes it, idempotently.
  - Why not C(community.aws.sns_topic)? It manages the topic, its subscriptions and tags but
    has no option for the topic's encryption key (SetTopicAttributes C(KmsMasterKeyId)).
    Create the topic with it, then run this module.
author:
  - django_ecs.aws maintainers (!UNKNOWN)
options:
  topic_arn:
    description: ARN of the topic.
    type: str
    required: true
  kms_master_key_id:
    description:
      - Key id, key ARN, alias name (C(alias/aws/sns), the AWS managed key) or alias ARN.
        The empty string turns encryption off.
    type: str
    required: true
notes:
  - Supports check mode and diff mode.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Encrypt the alerts topic with the AWS managed key
  django_ecs.aws.sns_topic_encryption:
    topic_arn: "{{ alerts_topic.sns_arn }}"
    kms_master_key_id: alias/aws/sns
"""

RETURN = r"""
kms_master_key_id:
  description: The key after the run (empty when unencrypted).
  returned: success
  type: str
  sample: alias/aws/sns
"""

import contextlib
import re
from typing import Any

with contextlib.suppress(ImportError):  # AnsibleAWSModule reports a missing botocore itself
    from botocore.exceptions import BotoCoreError, ClientError

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

ARGUMENT_SPEC: dict[str, Any] = {
    "topic_arn": {"type": "str", "required": True},
    "kms_master_key_id": {"type": "str", "required": True, "no_log": False},
}
TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$")
KMS_KEY = re.compile(
    r"^(alias/[A-Za-z0-9/_-]{1,250}|[0-9a-f-]{36}|mrk-[0-9a-f]{32}"
    r"|arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key/[A-Za-z0-9-]+|alias/[A-Za-z0-9/_-]+))$"
)


def validate(topic_arn: str, key: str) -> str | None:
    if not TOPIC_ARN.match(topic_arn):
        return f"topic_arn must be an SNS topic ARN, got {topic_arn!r}"
    if key and not KMS_KEY.match(key):
        return f"kms_master_key_id must be a KMS key id, key ARN, alias or alias ARN, got {key!r}"
    return None


def main() -> None:
    module = AnsibleAWSModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    topic_arn, wanted = module.params["topic_arn"], module.params["kms_master_key_id"]
    problem = validate(topic_arn, wanted)
    if problem:
        module.fail_json(msg=problem)
    client = module.client("sns", retry_decorator=AWSRetry.jittered_backoff())
    try:
        attributes = client.get_topic_attributes(TopicArn=topic_arn, aws_retry=True)["Attributes"]
        current = attributes.get("KmsMasterKeyId", "")
        changed = current != wanted
        if changed and not module.check_mode:
            client.set_topic_attributes(
                TopicArn=topic_arn,
                AttributeName="KmsMasterKeyId",
                AttributeValue=wanted,
                aws_retry=True,
            )
    except (BotoCoreError, ClientError) as exc:
        module.fail_json_aws(exc, msg=f"cannot set the encryption key of {topic_arn}")
    module.exit_json(
        changed=changed,
        kms_master_key_id=wanted,
        diff={"before": {"kms_master_key_id": current}, "after": {"kms_master_key_id": wanted}},
    )


if __name__ == "__main__":
    main()
