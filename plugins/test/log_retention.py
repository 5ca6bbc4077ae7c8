"""Jinja test ``django_ecs.aws.log_retention``: is the value a CloudWatch Logs retention period?"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ansible_collections.django_ecs.aws.plugins.module_utils.log_retention import is_retention_days

DOCUMENTATION = r"""
name: log_retention
version_added: 0.1.0
short_description: Whether a number of days is one of CloudWatch Logs' retention periods
description:
  - True when the input (an integer or its text) is one of the values PutRetentionPolicy accepts
    (C(1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653)); roles check their retention settings with it before any AWS call.
options:
  _input:
    description: The number of days.
    type: raw
    required: true
"""

EXAMPLES = r"""
- name: Check the retention
  ansible.builtin.assert:
    that: log_retention_days is django_ecs.aws.log_retention
"""

RETURN = r"""
_value:
  description: Whether the value is an allowed retention period.
  type: bool
"""


class TestModule:
    def tests(self) -> dict[str, Callable[[Any], bool]]:
        return {"log_retention": is_retention_days}
