# Copyright: contributors to django_ecs.aws
# Apache License 2.0 (see galaxy.yml)
"""boto3 clients for read-mostly modules: created once per service, retried, and counted.

Thread-safe: the readers of ``live_resources`` share these clients across threads (boto3 clients
are thread-safe; creating one and counting calls are guarded here).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry


class CountingClient:
    """A boto3 client wrapper that counts calls (modules report their API cost)."""

    def __init__(self, client: Any, counter: list[int], lock: threading.Lock) -> None:
        self._client = client
        self._counter = counter
        self._lock = lock

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute) or name.startswith(("get_paginator", "can_paginate")):
            return attribute

        def counted(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                self._counter[0] += 1
            return attribute(*args, **kwargs)

        return counted


def counting_clients(module: Any, counter: list[int]) -> Callable[[str], Any]:
    """``client(service)``: one retried, counted client per service for this module run."""
    cache: dict[str, Any] = {}
    retry = AWSRetry.jittered_backoff()
    creating, counting = threading.Lock(), threading.Lock()

    def client(service: str) -> Any:
        with creating:  # boto3 sessions (one per module.client) are not thread-safe to create
            if service not in cache:
                created = module.client(service, retry_decorator=retry)
                cache[service] = CountingClient(created, counter, counting)
        return cache[service]

    return client
