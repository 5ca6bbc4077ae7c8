"""The service's endpoints: hello, liveness and readiness."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_safe

from testapp.middleware import liveness_response

logger = logging.getLogger(__name__)


@require_safe
def hello(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"Hello, world!\n", content_type="text/plain")


@require_safe
def healthz(request: HttpRequest) -> HttpResponse:
    # Normally unreachable: HealthCheckMiddleware answers first.
    return liveness_response()


@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: one ``SELECT 1`` through the app's own database user, and the deployed tag."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        # The reason stays short and generic on the wire; the detail goes to the log.
        logger.warning("readiness check failed: %s", exc, extra={"error": type(exc).__name__})
        return _no_store(
            JsonResponse({"status": "unavailable", "reason": "database unreachable"}, status=503)
        )
    return _no_store(JsonResponse({"status": "ready", "version": settings.APP_VERSION}))


def _no_store(response: JsonResponse) -> JsonResponse:
    response["Cache-Control"] = "no-store"
    return response
