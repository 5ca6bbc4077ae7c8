"""The baseline for bench/app_http.py: a bare Django hello-world, one view, no middleware.

Served by the same gunicorn.conf.py as the app (``gunicorn -c app/gunicorn.conf.py
app_http_bare:application``), so only the Django side differs.
"""

from __future__ import annotations

import django
from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.http import HttpRequest, HttpResponse
from django.urls import path

settings.configure(
    DEBUG=False,
    SECRET_KEY="bench-only-" + "x" * 50,
    ALLOWED_HOSTS=["app.example.test"],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=[],
    INSTALLED_APPS=[],
    USE_TZ=True,
)
django.setup()


def hello(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"Hello, world!\n", content_type="text/plain")


urlpatterns = [path("", hello)]
application = get_wsgi_application()
