from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from provenance.api.docs import ApiDocsView


def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness probe: the process is up and routing requests (no DB query on purpose)."""
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("provenance.api.urls")),
    # OpenAPI 3 (YAML by default, JSON with ?format=json) and Swagger UI over it.
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", ApiDocsView.as_view(url_name="schema"), name="api-docs"),
    path("", include("provenance.urls")),
]

# JSON errors under /api/ (an unrouted API path is still an API answer); pages elsewhere.
handler404 = "provenance.api.views.api_not_found"
handler500 = "provenance.api.views.api_server_error"
