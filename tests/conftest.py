"""Shared pytest setup: make `ansible_collections.django_ecs.aws` importable from the checkout."""

from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
# collections/ansible_collections/django_ecs/aws is a symlink to the repo root; the site-packages
# ansible_collections is a namespace package, so both trees merge.
sys.path.insert(0, str(REPO_ROOT / "collections"))
