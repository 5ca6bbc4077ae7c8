# Copyright: contributors to django_ecs.aws
# Apache License 2.0 (see galaxy.yml)
"""boto3 clients for read-mostly modules: created once per service, retried, and counted.

All of a module run's clients come from one boto3 session. amazon.aws's ``module.client()`` builds
a new session for every client, and a session parses botocore's data files (endpoints, partitions,
defaults, the service's model and endpoint rules) anew: about 0.15 s per client on the 2-core
machine, 1.0 s of the 1.5 s it took to create the seven clients of the data layer's state read.
The connection settings are still amazon.aws's (``get_aws_connection_info``: region, endpoint,
profile or keys, certificate checks, ``aws_config``), and so are the retries.

Thread-safe: the readers of ``live_resources`` share these clients across threads (boto3 clients
are thread-safe; creating one and counting calls are guarded here).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from ansible.module_utils.ansible_release import __version__ as ansible_version
from ansible_collections.amazon.aws.plugins.module_utils.botocore import get_aws_connection_info
from ansible_collections.amazon.aws.plugins.module_utils.retries import (
    AWSRetry,
    RetryingBotoClientWrapper,
)

try:
    import boto3
    import botocore.config
    import botocore.exceptions
except ImportError:
    pass  # AnsibleAWSModule reports the missing SDK before any client is made


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


def session_clients(module: Any, retry_decorator: Any = None) -> Callable[[str], Any]:
    """``create(service)``: a boto3 client from the module run's one session, connected as
    amazon.aws's ``module.client(service, retry_decorator)`` connects (its region, endpoint and
    credential options) and retried the same way."""
    region, endpoint_url, connect_params = get_aws_connection_info(module)
    params = dict(connect_params)
    session = boto3.session.Session(profile_name=params.pop("profile_name", None))
    config = botocore.config.Config(user_agent_extra=f"Ansible/{ansible_version} django_ecs.aws")
    user_config = params.pop("aws_config", None)
    if user_config is not None:
        config = config.merge(user_config)

    def create(service: str) -> Any:
        try:
            created = session.client(
                service, config=config, region_name=region, endpoint_url=endpoint_url, **params
            )
        except (ValueError, botocore.exceptions.BotoCoreError) as error:
            # As amazon.aws's boto3_conn: a message, not a traceback (no region, a bad endpoint).
            module.fail_json_aws(error, msg=f"Could not create the {service} client")
        return (
            created
            if retry_decorator is None
            else RetryingBotoClientWrapper(created, retry_decorator)
        )

    return create


def counting_clients(module: Any, counter: list[int]) -> Callable[[str], Any]:
    """``client(service)``: one retried, counted client per service for this module run."""
    cache: dict[str, Any] = {}
    creating, counting = threading.Lock(), threading.Lock()
    create = session_clients(module, AWSRetry.jittered_backoff())

    def client(service: str) -> Any:
        with creating:  # a boto3 session is not thread-safe: clients are created one at a time
            if service not in cache:
                cache[service] = CountingClient(create(service), counter, counting)
        return cache[service]

    return client
