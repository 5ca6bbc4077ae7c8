"""ECS services: a scheduler thread per service (filled in below)."""

from __future__ import annotations

from typing import Any


def task_changed(run: Any) -> None:
    """A task of the runtime changed state (its scheduler looks at it on its next pass)."""
