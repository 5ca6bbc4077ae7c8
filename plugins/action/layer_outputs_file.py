# Copyright: contributors to django_ecs.aws
# Apache License 2.0 (see galaxy.yml)
"""Write a layer's outputs file on the control node, in the controller process.

An action plugin, not a module: writing a small JSON file next to the playbook needs no
module start-up (ansible.builtin.file + copy cost two of them, about 1-2 s per layer run).
Its documentation is plugins/modules/layer_outputs_file.py (ansible-doc reads modules there).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase


def render(values: dict[str, Any]) -> str:
    return json.dumps(values, indent=2, sort_keys=True) + "\n"


def write_if_changed(path: Path, content: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write then rename: a reader never sees half a file.
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as handle:
        handle.write(content)
    os.chmod(handle.name, 0o644)
    os.replace(handle.name, path)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        path_arg = self._task.args.get("path")
        values = self._task.args.get("values")
        if not path_arg or not isinstance(values, dict):
            raise AnsibleActionFail("layer_outputs_file needs path (a file) and values (a dict)")
        path = Path(os.path.expanduser(str(path_arg)))
        content = render(values)
        before = path.read_text() if path.exists() else ""
        result.update(changed=before != content, path=str(path))
        if self._task.diff and result["changed"]:
            result["diff"] = {
                "before": before,
                "after": content,
                "before_header": str(path),
                "after_header": str(path),
            }
        if result["changed"] and not self._task.check_mode:
            write_if_changed(path, content)
        return result
