"""One JSON object per log line on stdout, for CloudWatch Logs Insights."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

# Fields of gunicorn's access-log atoms worth keeping, under readable names.
ACCESS_ATOMS = {
    "h": "remote_addr",
    "m": "method",
    "U": "path",
    "q": "query",
    "H": "protocol",
    "s": "status",
    "B": "bytes",
    "M": "duration_ms",
    "a": "user_agent",
    "{x-forwarded-for}i": "forwarded_for",
    "{x-amzn-trace-id}i": "trace_id",
}
# Attributes every LogRecord has; anything else came through ``extra=`` and is kept.
_RECORD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
        }
        if record.name == "gunicorn.access" and isinstance(record.args, dict):
            entry.update(access_fields(record.args))
        else:
            entry["message"] = record.getMessage()
        entry.update(extra_fields(record))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def access_fields(atoms: dict[str, Any]) -> dict[str, Any]:
    fields = {
        name: _unescape(atoms[atom])
        for atom, name in ACCESS_ATOMS.items()
        if atoms.get(atom) not in (None, "-")
    }
    for numeric in ("status", "bytes", "duration_ms"):
        if numeric in fields:
            fields[numeric] = _as_int(fields[numeric])
    return fields


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    return {key: value for key, value in vars(record).items() if key not in _RECORD_ATTRS}


def _unescape(value: Any) -> Any:
    # gunicorn escapes quotes for its text format; json.dumps escapes them again.
    return value.replace('\\"', '"') if isinstance(value, str) else value


def _as_int(value: Any) -> Any:
    try:
        return int(value)
    except (TypeError, ValueError):
        return value
