"""``migrate`` serialised across tasks by a PostgreSQL advisory lock.

The deploy runs migrations once, as a one-off ECS task before the service update. The
lock makes a second concurrent run (a retried pipeline, two environments sharing a
database by mistake, an operator by hand) wait and then find nothing to do, instead of
racing on the same DDL.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import CommandError
from django.core.management.commands import migrate
from django.db import connections

# An arbitrary, fixed 64-bit key: every migrate of this project contends on it.
MIGRATION_LOCK_KEY = 0x646A616E676F6563  # "djangoec"
POLL_SECONDS = 1.0


class Command(migrate.Command):
    help = migrate.Command.help + " Holds a PostgreSQL advisory lock while it runs."

    def add_arguments(self, parser: Any) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--lock-timeout",
            type=float,
            default=600.0,
            help="Seconds to wait for another migrate to finish (default 600).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        connection = connections[options["database"]]
        if connection.vendor != "postgresql":
            super().handle(*args, **options)
            return
        acquire_lock(connection, options["lock_timeout"], self._say)
        try:
            super().handle(*args, **options)
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [MIGRATION_LOCK_KEY])

    def _say(self, message: str) -> None:
        # Flushed at once: a waiting one-off task should say why it is idle.
        self.stdout.write(message)
        self.stdout.flush()


def acquire_lock(connection: Any, timeout: float, say: Any) -> None:
    deadline = time.monotonic() + timeout
    waited = False
    while True:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [MIGRATION_LOCK_KEY])
            if cursor.fetchone()[0]:
                return
        if time.monotonic() >= deadline:
            raise CommandError(f"another migrate still holds the lock after {timeout:.0f}s")
        if not waited:
            say("Waiting for another migrate to finish...")
            waited = True
        time.sleep(POLL_SECONDS)
