# Copyright: contributors to django_ecs.aws
# Apache License 2.0 (see galaxy.yml)
"""Run a read-only AWS module inside the controller's worker process, not as a module process.

A module task starts a new Python interpreter, unpacks and compiles ``AnsiballZ`` (about 0.25 s
for ``basic.py`` alone), imports boto3 and amazon.aws's utils (about 0.2 s) and only then reads
AWS: 0.6 to 1 s per task on a 2-core machine, for reads that take 30 ms. The layer reads
(``network_state``, ``converged_state``, ``network_lookup``, ``data_lookup``) run in every
layer's no-op re-run, six times in a ``site.yml`` run.

Their action plugins run the module's own ``run(module)`` here, with ``ControllerModule`` in place
of ``AnsibleAWSModule``: the same argument spec (the module's plus amazon.aws's connection
options, environment fallbacks included), the same clients and retries, the same result and the
same failure. The linear strategy imports an action plugin in the main process before it forks the
task's worker (``action_loader.get(..., class_only=True)``), so boto3, imported with the plugin,
is loaded once per playbook run and every worker inherits it.

Only where the module would run on the controller with the controller's Python: a local
connection, no become, and ``ansible_python_interpreter`` unset or ``ansible_playbook_python``
(every inventory of the collection pins that). Anywhere else the action runs the module as usual.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any, ClassVar, NoReturn

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase
from ansible_collections.amazon.aws.plugins.module_utils.botocore import (
    gather_sdk_versions,
    get_aws_region,
)
from ansible_collections.amazon.aws.plugins.module_utils.modules import (
    AnsibleAWSModule,
    aws_argument_spec,
)
from ansible_collections.django_ecs.aws.plugins.module_utils.aws_clients import session_clients


class ModuleEnded(Exception):  # noqa: N818 - the end of a run, not an error (as SystemExit)
    """``exit_json`` or ``fail_json`` was called: the result a module process would print."""

    def __init__(self, result: dict[str, Any]) -> None:
        super().__init__(result.get("msg", ""))
        self.result = result


class ControllerModule:
    """What the read-only modules use of ``AnsibleAWSModule``, for a run in the worker process.

    ``exit_json`` and ``fail_json`` raise ``ModuleEnded`` (a module process would exit there)."""

    def __init__(
        self, args: dict[str, Any], argument_spec: dict[str, Any], check_mode: bool
    ) -> None:
        spec = aws_argument_spec()
        spec.update(argument_spec)
        validated = ArgumentSpecValidator(spec).validate(args)
        if validated.error_messages:
            # As AnsibleModule reports it: the first error.
            self.fail_json(msg=validated.error_messages[0])
        self.params: dict[str, Any] = validated.validated_parameters
        self.check_mode = check_mode

    @property
    def region(self) -> str | None:
        # amazon.aws's rule: the option (or AWS_REGION), else the profile's region.
        return get_aws_region(self)  # type: ignore[arg-type]

    def client(self, service: str, retry_decorator: Any = None) -> Any:
        return session_clients(self, retry_decorator)(service)

    def exit_json(self, **result: Any) -> NoReturn:
        raise ModuleEnded(result)

    def fail_json(self, **result: Any) -> NoReturn:
        raise ModuleEnded({**result, "failed": True})

    # amazon.aws's own failure for an SDK error (message, traceback, SDK versions, the error
    # response), bound to this class: it needs only fail_json and _gather_versions.
    fail_json_aws = AnsibleAWSModule.fail_json_aws
    _gather_versions = staticmethod(gather_sdk_versions)


def run_in_process(
    run: Callable[[Any], Any], args: dict[str, Any], argument_spec: dict[str, Any], check_mode: bool
) -> dict[str, Any]:
    """The result of the module's ``run(module)`` on these task arguments."""
    try:
        run(ControllerModule(args, argument_spec, check_mode))
    except ModuleEnded as ended:
        return ended.result
    return {"failed": True, "msg": "the module returned without exit_json or fail_json"}


class InProcessReadAction(ActionBase):
    """Base of the read-only modules' action plugins. Subclasses name the module's spec and run."""

    TRANSFERS_FILES = False
    _supports_check_mode = True

    ARGUMENT_SPEC: ClassVar[dict[str, Any]]
    RUN: ClassVar[Callable[[Any], Any]]

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        if not self.runs_on_the_controller(task_vars or {}):
            return {**result, **self._execute_module(task_vars=task_vars)}
        outcome = run_in_process(
            type(self).RUN, dict(self._task.args), self.ARGUMENT_SPEC, bool(self._task.check_mode)
        )
        return {**result, **outcome}

    def runs_on_the_controller(self, task_vars: dict[str, Any]) -> bool:
        """Whether the module would run here, with this Python (so its result is the same)."""
        interpreter = task_vars.get("ansible_python_interpreter")
        return module_runs_here(
            self._connection.transport,
            bool(self._play_context.become),
            None if interpreter is None else str(self._templar.template(interpreter)),
        )


def module_runs_here(transport: str, become: bool, interpreter: str | None) -> bool:
    """A module task would run in this process's place: a local connection without become, under
    this Python (``ansible_python_interpreter`` unset or this interpreter). The paths are not
    resolved: a virtualenv's ``python`` links to the system one, whose packages differ."""
    if transport != "local" or become:
        return False
    return interpreter is None or os.path.abspath(interpreter) == os.path.abspath(sys.executable)
