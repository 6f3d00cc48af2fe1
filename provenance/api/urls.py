from __future__ import annotations

from django.urls import path

from . import views

app_name = "api"

urlpatterns = [
    path("records", views.RecordIngestApi.as_view(), name="records"),
    path("attestations", views.AttestationListApi.as_view(), name="attestations"),
    path(
        "attestations/<int:pk>/envelope",
        views.AttestationEnvelopeApi.as_view(),
        name="attestation-envelope",
    ),
    path(
        "namespaces/<str:namespace>/settings",
        views.NamespaceSettingsApi.as_view(),
        name="namespace-settings",
    ),
    path("keys", views.KeyListApi.as_view(), name="keys"),
]
