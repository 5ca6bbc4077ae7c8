"""Liveness answered ahead of the rest of the stack."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

HEALTH_PATH = "/healthz"


class HealthCheckMiddleware:
    """Answer ``GET /healthz`` before ALLOWED_HOSTS, HTTPS redirect and the database.

    The ALB health check sends the target's private IP as Host and speaks plain HTTP to
    the task, so the request must not reach ``request.get_host()`` or SecurityMiddleware.
    Liveness says only "this process serves HTTP": a database outage must not make ECS
    replace every task (readiness is /readyz).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info == HEALTH_PATH and request.method in ("GET", "HEAD"):
            return liveness_response()
        return self.get_response(request)


def liveness_response() -> HttpResponse:
    response = HttpResponse(b"ok\n", content_type="text/plain")
    response["Cache-Control"] = "no-store"
    return response
