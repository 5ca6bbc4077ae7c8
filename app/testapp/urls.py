from django.urls import path

from testapp import views

urlpatterns = [
    path("", views.hello, name="hello"),
    path("readyz", views.readyz, name="readyz"),
    # /healthz is answered by HealthCheckMiddleware; the route keeps reverse() working.
    path("healthz", views.healthz, name="healthz"),
]
