"""The dashboard (mounted at "/" by chainsweb/urls.py), sign-in included."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import URLPattern, URLResolver, path

from . import audit_views, views
from .sso.views import SignOut

app_name = "provenance"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.overview, name="overview"),
    # Django's default LOGIN_URL is /accounts/login/, so @login_required lands here.
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(
            template_name="provenance/login.html",
            redirect_authenticated_user=True,
            next_page="provenance:overview",
        ),
        name="login",
    ),
    path(
        "accounts/logout/",
        SignOut.as_view(),
        name="logout",
    ),
    path("runs/", views.run_list, name="runs"),
    path("runs/<int:pk>/", views.run_detail, name="run"),
    path("runs/<int:pk>/record.json", views.run_record, name="run-record"),
    path("artifacts/", views.artifact_list, name="artifacts"),
    *(
        path(
            f"{kind}/export.{file_format}",
            export,
            {"file_format": file_format},
            name=f"{kind}-export-{file_format}",
        )
        for kind, export in (
            ("artifacts", audit_views.artifacts_export),
            ("attestations", audit_views.attestations_export),
        )
        for file_format in ("csv", "jsonl")
    ),
    path("artifacts/<str:digest>/", views.digest_detail, name="digest"),
    path("artifacts/<str:digest>/attestations.jsonl", views.digest_jsonl, name="digest-jsonl"),
    path("attestations/", views.attestation_list, name="attestations"),
    path("attestations/<int:pk>/", views.attestation_detail, name="attestation"),
    path(
        "attestations/<int:pk>/statement.json",
        views.attestation_statement,
        name="attestation-statement",
    ),
    path(
        "attestations/<int:pk>/bundle.sigstore.json",
        views.attestation_bundle,
        name="attestation-bundle",
    ),
    path(
        "attestations/<int:pk>/envelope.json",
        views.attestation_envelope,
        name="attestation-envelope",
    ),
    path(
        "attestations/<int:pk>/compare/<int:other>/",
        audit_views.attestation_compare_page,
        name="attestation-compare",
    ),
    path("search/", views.search, name="search"),
    path(
        "namespaces/<str:namespace>/settings/",
        views.namespace_settings,
        name="namespace-settings",
    ),
    path(
        "namespaces/<str:namespace>/settings/preview",
        views.namespace_settings_preview,
        name="namespace-preview",
    ),
    path(
        "namespaces/<str:namespace>/publishing",
        views.namespace_publishing,
        name="namespace-publishing",
    ),
    path(
        "namespaces/<str:namespace>/retention",
        views.namespace_retention,
        name="namespace-retention",
    ),
    path(
        "namespaces/<str:namespace>/progress",
        views.namespace_progress,
        name="namespace-progress",
    ),
    path("namespaces/<str:namespace>/tokens/", views.token_create, name="token-create"),
    path(
        "namespaces/<str:namespace>/tokens/<int:token_id>/revoke",
        views.token_revoke,
        name="token-revoke",
    ),
]
