from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from provenance import ops
from provenance.api.docs import ApiDocsView

# /healthz, /readyz and /metrics are answered by provenance.ops.OpsEndpointsMiddleware before the
# Host check; these routes name them, and serve /metrics to a signed-in staff member.
urlpatterns = [
    path("healthz", ops.healthz_view, name="healthz"),
    path("readyz", ops.readyz_view, name="readyz"),
    path("metrics", ops.metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("provenance.api.urls")),
    # OpenAPI 3 (YAML by default, JSON with ?format=json) and Swagger UI over it.
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", ApiDocsView.as_view(url_name="schema"), name="api-docs"),
    path("", include("provenance.sso.urls")),
    path("", include("provenance.urls")),
]

# JSON errors under /api/ (an unrouted API path is still an API answer); pages elsewhere.
handler404 = "provenance.api.views.api_not_found"
handler500 = "provenance.api.views.api_server_error"
