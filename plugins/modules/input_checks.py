# Copyright: contributors to django_ecs.aws
# Apache License 2.0 (see galaxy.yml)
# Documentation only: the action plugin of the same name (plugins/action/input_checks.py)
# does the work in the controller process, as ansible.builtin.assert's module file does for its own.

from __future__ import annotations

DOCUMENTATION = r"""
module: input_checks
short_description: Check a role's input, each check with its own message, in one task
version_added: 0.1.0
description:
  - Evaluates O(checks) in order, as M(ansible.builtin.assert) evaluates its O(ansible.builtin.assert#module:that),
    and fails on the first check that does not hold, with that check's O(checks[].fail_msg).
  - Why not M(ansible.builtin.assert)? It takes one message per task, so naming the variable at
    fault took one task per message, and every task costs a worker process (about 0.1 s here). A
    role's preflight checks run before every playbook run; here they cost one task.
  - A check's message is templated only when the check fails, so it may show values the earlier
    checks have proven usable.
  - Runs in the controller process (an action plugin); never calls AWS. Supports check mode.
options:
  checks:
    description: The checks, evaluated in order.
    type: list
    elements: dict
    required: true
    suboptions:
      that:
        description: Conditional expressions (no C({{ }})), as in M(ansible.builtin.assert); all must hold.
        type: list
        elements: str
        required: true
      fail_msg:
        description: The message when the check fails; name the variable and the expected form.
        type: str
        required: true
      when:
        description: Conditional expressions; the check is skipped unless all hold.
        type: list
        elements: str
author:
  - django_ecs.aws maintainers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Check the RDS input
  django_ecs.aws.input_checks:
    checks:
      - that: rds_engine_version | string is match('^[0-9]+(\.[0-9]+)?$')
        fail_msg: rds_engine_version must look like "16" or "16.4"; got '{{ rds_engine_version }}'
      - that: rds_backup_retention_days | int >= 1
        when: rds_read_replica | bool
        fail_msg: rds_read_replica needs rds_backup_retention_days of 1 or more
"""

RETURN = r"""
checked:
  description: How many checks were evaluated (the others were skipped by their O(checks[].when)).
  returned: always
  type: int
  sample: 6
assertion:
  description: The expression that did not hold.
  returned: failed
  type: str
  sample: rds_backup_retention_days | int <= 35
"""
