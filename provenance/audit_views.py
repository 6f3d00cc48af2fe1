"""Dashboard pages for auditors: comparing two attestations, and exporting the attestations and
artifacts lists (CSV, JSON Lines) with the filters of their pages.

Kept apart from ``views`` (the browsing pages) so neither grows past what one can read; access,
reads and streaming come from the same places (``access``, ``reads``, ``exports``).
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from .access import access_for_request
from .reads.compare import attestation_compare


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
