"""API v1 routes: explicit patterns, one view class each (docs/api.md lists them)."""

from __future__ import annotations

from django.urls import path, register_converter

from provenance.core.digests import DIGEST_REGEX

# ``schema`` registers the bearer scheme with drf-spectacular before any schema is generated.
from . import namespaces, schema, views  # noqa: F401


class IdConverter:
    """A database id: at most 18 digits, so an absurd one is a 404, never a bigint overflow."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


class DigestConverter:
    """``algorithm:hex`` as in ``sha256:abc...`` (``provenance.core.digests``)."""

    regex = DIGEST_REGEX

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(IdConverter, "id")
register_converter(DigestConverter, "digest")

app_name = "api"

urlpatterns = [
    path("records", views.RecordListApi.as_view(), name="records"),
    path("records/<str:uid>", views.RecordDetailApi.as_view(), name="record-detail"),
    path("records/<str:uid>/raw", views.RecordRawApi.as_view(), name="record-raw"),
    path("artifacts", views.ArtifactListApi.as_view(), name="artifacts"),
    path("artifacts.csv", views.ArtifactCsvApi.as_view(), name="artifacts-export-csv"),
    path("artifacts.jsonl", views.ArtifactJsonlApi.as_view(), name="artifacts-export-jsonl"),
    path("attestations.csv", views.AttestationCsvApi.as_view(), name="attestations-export-csv"),
    path(
        "attestations.jsonl", views.AttestationJsonlApi.as_view(), name="attestations-export-jsonl"
    ),
    path("artifacts/<id:pk>", views.ArtifactDetailApi.as_view(), name="artifact-detail"),
    path(
        "artifacts/<digest:digest>/attestations.jsonl",
        views.ArtifactAttestationsJsonlApi.as_view(),
        name="artifact-attestations-jsonl",
    ),
    path("attestations", views.AttestationListApi.as_view(), name="attestations"),
    path("attestations/<id:pk>", views.AttestationDetailApi.as_view(), name="attestation-detail"),
    path(
        "attestations/<id:pk>/envelope",
        views.AttestationEnvelopeApi.as_view(),
        name="attestation-envelope",
    ),
    path(
        "attestations/<id:pk>/bundle",
        views.AttestationBundleApi.as_view(),
        name="attestation-bundle",
    ),
    path(
        "attestations/<id:pk>/statement",
        views.AttestationStatementApi.as_view(),
        name="attestation-statement",
    ),
    path("attestations/<id:pk>/diff", views.AttestationDiffApi.as_view(), name="attestation-diff"),
    path("gate", views.GateApi.as_view(), name="gate"),
    path(
        "namespaces/<str:namespace>/settings",
        namespaces.NamespaceSettingsApi.as_view(),
        name="namespace-settings",
    ),
    path("keys", namespaces.KeyListApi.as_view(), name="keys"),
]
