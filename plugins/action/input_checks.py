# Copyright: contributors to django_ecs.aws
# Apache License 2.0 (see galaxy.yml)
"""Check a role's input in one task, each check failing with its own message.

An action plugin, as ansible.builtin.assert is: the checks are Jinja conditionals evaluated in the
controller's worker, no module start-up. Its documentation is plugins/modules/input_checks.py.
"""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

CHECK_KEYS = {"that", "fail_msg", "when"}


def as_list(value: Any) -> list[Any]:
    """``that`` and ``when`` take one expression or a list of them, as assert's ``that`` does."""
    return value if isinstance(value, list) else [value]


def check_shape(index: int, check: Any) -> None:
    """Refuse a malformed check, naming it, before any is evaluated."""
    if not isinstance(check, dict) or not {"that", "fail_msg"} <= set(check):
        raise AnsibleActionFail(f"input_checks: check {index} needs 'that' and 'fail_msg'")
    unknown = set(check) - CHECK_KEYS
    if unknown:
        raise AnsibleActionFail(f"input_checks: check {index} has unknown keys {sorted(unknown)}")


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True

    @classmethod
    def finalize_task_arg(cls, name: str, value: Any, templar: Any, context: Any) -> Any:
        # The same hook ansible.builtin.assert uses for its `that`: the checks reach run()
        # untemplated, so each expression is evaluated as a conditional, in order, and a message is
        # templated only when its check fails (it may use values the earlier checks proved usable).
        if name == "checks":
            return value
        return super().finalize_task_arg(name, value, templar, context)

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        checks = self._task.args.get("checks")
        if not isinstance(checks, list) or not checks:
            raise AnsibleActionFail("input_checks needs checks: a non-empty list")
        for index, check in enumerate(checks):
            check_shape(index, check)
        checked = 0
        for check in checks:
            if not all(map(self._templar.evaluate_conditional, as_list(check.get("when", True)))):
                continue
            checked += 1
            for expression in as_list(check["that"]):
                if not self._templar.evaluate_conditional(expression):
                    msg = self._templar.template(check["fail_msg"])
                    result.update(failed=True, msg=msg, assertion=expression, checked=checked)
                    return result
        result.update(changed=False, checked=checked)
        return result
