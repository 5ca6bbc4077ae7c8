"""Record every AWS API call a process makes, when DJANGO_ECS_RECORD_AWS_CALLS names a file.

Put this directory on PYTHONPATH: Python imports ``sitecustomize`` at start-up in every process,
so ansible-playbook and each module it runs (AnsiballZ inherits the environment) record too.
botocore is not imported here (that would slow every process down); an import hook registers a
``before-parameter-build`` handler on each botocore session once botocore.session is loaded.
One JSON line per call: service, operation, the API parameters (bytes left out).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import json
import os
import sys
from typing import Any

_TARGET = "botocore.session"
_RECORD_FILE = os.environ.get("DJANGO_ECS_RECORD_AWS_CALLS", "")


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return f"<{type(value).__name__}>"  # bytes, file objects: the content is not the point


def _record(params: dict[str, Any], model: Any, **_: Any) -> None:
    line = {
        "service": model.service_model.service_name,
        "signing_name": model.service_model.signing_name,
        "operation": model.name,
        "params": _jsonable(params),
    }
    # O_APPEND: lines of concurrent processes (forks, async jobs) never interleave.
    descriptor = os.open(_RECORD_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(descriptor, (json.dumps(line, sort_keys=True) + "\n").encode())
    finally:
        os.close(descriptor)


def _patch(session_module: Any) -> None:
    original_init = session_module.Session.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self.register("before-parameter-build", _record)

    session_module.Session.__init__ = init


class _Loader(importlib.abc.Loader):
    def __init__(self, wrapped: importlib.abc.Loader) -> None:
        self._wrapped = wrapped

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> Any:
        return self._wrapped.create_module(spec)

    def exec_module(self, module: Any) -> None:
        self._wrapped.exec_module(module)
        _patch(module)


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != _TARGET:
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _Loader(spec.loader)
        return spec


if _RECORD_FILE and _TARGET not in sys.modules:
    sys.meta_path.insert(0, _Finder())
