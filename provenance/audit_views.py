"""Dashboard pages for auditors: comparing two attestations, and exporting the attestations and
artifacts lists (CSV, JSON Lines) with the filters of their pages.

Kept apart from ``views`` (the browsing pages) so neither grows past what one can read; access,
reads and streaming come from the same places (``access``, ``reads``, ``exports``).
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from .access import access_for_request
from .exports import export_response
from .forms import (
    ArtifactFilterForm,
    AttestationFilterForm,
    artifact_filters,
    attestation_filters,
    valid_data,
    verified_filter,
)
from .reads.artifacts import artifact_export
from .reads.attestations import attestation_list
from .reads.compare import attestation_compare
from .reads.exports import ARTIFACT_FIELDS, ATTESTATION_FIELDS, artifact_rows, attestation_rows
from .reads.namespaces import namespace_names


@login_required
@require_GET
def attestation_compare_page(request: HttpRequest, pk: int, other: int) -> HttpResponse:
    """What changed from attestation ``other`` to ``pk``: 404 when either is unknown or in a
    namespace the user cannot see."""
    comparison = attestation_compare(
        pk=pk, other=other, namespaces=access_for_request(request).visible()
    )
    if comparison is None:
        raise Http404("no such attestation")
    return render(
        request,
        "provenance/attestation_compare.html",
        {
            "comparison": comparison,
            "head": comparison.head,
            "base": comparison.base,
            "pairs": [(comparison.base, "base"), (comparison.head, "head")],
            "nav": "attestations",
        },
    )


@login_required
@require_GET
def attestations_export(request: HttpRequest, file_format: str) -> StreamingHttpResponse:
    """The attestations list with the page's filters (paging aside), streamed."""
    visible = access_for_request(request).visible()
    form = AttestationFilterForm(request.GET, namespaces=namespace_names(visible))
    data = valid_data(form)
    filters = attestation_filters(data)
    rows = attestation_rows(
        attestation_list(namespaces=visible, **filters), verified=verified_filter(data)
    )
    return export_response(
        rows,
        fields=ATTESTATION_FIELDS,
        kind="attestations",
        namespace=filters["namespace"],
        file_format=file_format,
    )


@login_required
@require_GET
def artifacts_export(request: HttpRequest, file_format: str) -> StreamingHttpResponse:
    """The artifacts list with the page's filters (paging aside), streamed."""
    visible = access_for_request(request).visible()
    form = ArtifactFilterForm(request.GET, namespaces=namespace_names(visible))
    filters = artifact_filters(valid_data(form))
    return export_response(
        artifact_rows(artifact_export(namespaces=visible, **filters)),
        fields=ARTIFACT_FIELDS,
        kind="artifacts",
        namespace=filters["namespace"],
        file_format=file_format,
    )
