"""Dashboard views: server-rendered pages, htmx fragments, downloads.

Thin by design: access comes from ``access_for_request`` (objects of namespaces the user may not
see are 404s), reads from ``provenance.dashboard``, writes from ``provenance.services``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    StreamingHttpResponse,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from provenance.core.errors import FormatError

from . import dashboard
from .access import Access, access_for_request
from .config import SETTINGS_FIELDS
from .forms import (
    ArtifactFilterForm,
    AttestationFilterForm,
    NamespaceSettingsForm,
    PageSizeMixin,
    RunFilterForm,
    SearchForm,
    TokenCreateForm,
    valid_data,
)
from .graph_layout import layout
from .models import ApiToken
from .services import (
    api_token_create,
    api_token_revoke,
    namespace_settings_effective,
    namespace_settings_update,
)

ADMIN = ApiToken.Role.ADMIN


def _access(request: HttpRequest) -> Access:
    return access_for_request(request)


def _page(request: HttpRequest, items: QuerySet[Any], per_page: int) -> Page[Any]:
    return Paginator(items, per_page).get_page(request.GET.get("page"))


def _per_page(data: dict[str, Any]) -> int:
    return int(data.get("per_page") or dashboard.DEFAULT_PAGE_SIZE)


def _attachment(data: bytes, filename: str, content_type: str) -> HttpResponse:
    response = HttpResponse(data, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# =============================================================================================
# Overview


@login_required
@require_GET
def overview(request: HttpRequest) -> HttpResponse:
    access = _access(request)
    visible = access.visible()
    return render(
        request,
        "provenance/overview.html",
        {
            "namespaces": dashboard.namespace_summaries(access),
            "latest": dashboard.latest_attestations(visible),
            "attention": dashboard.attention(visible),
            "nav": "overview",
        },
    )


# =============================================================================================
# Runs


# The same URL answers a page or an htmx fragment: caches must keep them apart.
@vary_on_headers("HX-Request", "HX-Target")
@login_required
@require_GET
def run_list(request: HttpRequest) -> HttpResponse:
    visible = _access(request).visible()
    form = RunFilterForm(
        request.GET,
        namespaces=dashboard.namespace_names(visible),
        pipelines=dashboard.pipeline_names(visible),
    )
    data = valid_data(form)
    filters = dashboard.RunFilters(
        **{k: v for k, v in data.items() if k in dashboard.RunFilters.__dataclass_fields__ and v}
    )
    page = _page(request, dashboard.run_list(visible=visible, filters=filters), _per_page(data))
    context = {
        "form": form,
        "page": page,
        "filtered": any(v for k, v in data.items() if k != "per_page"),
        "nav": "runs",
    }
    if request.htmx and request.htmx.target == "run-results":  # type: ignore[attr-defined]
        return render(request, "provenance/_run_results.html", context)
    return render(request, "provenance/run_list.html", context)


# The same URL answers a page or an htmx fragment: caches must keep them apart.
@vary_on_headers("HX-Request", "HX-Target")
@login_required
@require_GET
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    visible = _access(request).visible()
    record = dashboard.run_get(pk=pk, visible=visible)
    if record is None:
        raise Http404("no such run")
    deep = request.GET.get("deep") == "1"
    detail = dashboard.run_detail(record, visible=visible, deep=deep)
    wanted = request.GET.get("artifact", "").strip()
    selected = dashboard.scope_for(detail.scopes, wanted) if wanted else None
    graph = layout(detail.graph, selected) if detail.graph is not None else None
    run = detail.run
    context = {
        "detail": detail,
        "record": record,
        "run": run,
        "params": list(run.meta.params) if run else [],
        "results": list(run.meta.results) if run else [],
        "graph": graph,
        "tasks": dashboard.task_rows(detail, selected),
        "artifacts": [(dashboard.scope_key(s), s) for s in detail.scopes],
        "child_ids": {child.name: child.pk for child in detail.children},
        "selected": selected,
        "selected_key": dashboard.scope_key(selected) if selected else "",
        "wanted": wanted,
        "unknown_artifact": bool(wanted) and selected is None,
        "deep": deep,
        "deep_default": bool(detail.settings.get("deep_inspection")),
        "format_label": dashboard.format_label(detail.settings.get("format", "")),
        "nav": "runs",
    }
    if request.htmx and request.htmx.target == "run-graph":  # type: ignore[attr-defined]
        return render(request, "provenance/_run_graph.html", context)
    return render(request, "provenance/run_detail.html", context)


# =============================================================================================
# Artifacts and attestations


@login_required
@require_GET
def artifact_list(request: HttpRequest) -> HttpResponse:
    visible = _access(request).visible()
    form = ArtifactFilterForm(request.GET, namespaces=dashboard.namespace_names(visible))
    data = valid_data(form)
    filters = dashboard.ArtifactFilters(q=data.get("q") or "", namespace=data.get("namespace", ""))
    page = _page(
        request, dashboard.artifact_list(visible=visible, filters=filters), _per_page(data)
    )
    return render(
        request,
        "provenance/artifact_list.html",
        {
            "form": form,
            "page": page,
            "filtered": bool(filters.q or filters.namespace),
            "nav": "artifacts",
        },
    )


def _digest_or_404(digest: str) -> tuple[str, str]:
    pair = dashboard.normalize_digest(digest)
    if pair is None:
        raise Http404("not a digest")
    return pair


@login_required
@require_GET
def digest_detail(request: HttpRequest, digest: str) -> HttpResponseBase:
    algorithm, hex_value = _digest_or_404(digest)
    if digest != f"{algorithm}:{hex_value}":
        return redirect("provenance:digest", digest=f"{algorithm}:{hex_value}")
    visible = _access(request).visible()
    attestations = dashboard.digest_attestations(
        visible=visible, algorithm=algorithm, hex_value=hex_value
    )
    page = _page(request, attestations, _per_page(valid_data(PageSizeMixin(request.GET))))
    if not page.object_list:
        raise Http404("no attestation of this digest")
    rows = list(page.object_list)
    checks = dashboard.verify_all(rows)
    uris = sorted({s.uri for a in rows for s in a.subjects.all() if s.hex == hex_value})
    return render(
        request,
        "provenance/digest_detail.html",
        {
            "algorithm": algorithm,
            "hex": hex_value,
            "digest": f"{algorithm}:{hex_value}",
            "uris": uris,
            "page": page,
            "rows": [(a, checks[a.pk]) for a in rows],
            "nav": "artifacts",
        },
    )


@login_required
@require_GET
def digest_jsonl(request: HttpRequest, digest: str) -> HttpResponseBase:
    """Every visible attestation of the digest: one DSSE envelope per line (``.intoto.jsonl``)."""
    algorithm, hex_value = _digest_or_404(digest)
    visible = _access(request).visible()
    if not dashboard.digest_attestations(
        visible=visible, algorithm=algorithm, hex_value=hex_value
    ).exists():
        raise Http404("no attestation of this digest")

    def lines() -> Iterator[bytes]:
        for envelope in dashboard.digest_envelopes(
            visible=visible, algorithm=algorithm, hex_value=hex_value
        ):
            yield envelope.rstrip(b"\n") + b"\n"

    response = StreamingHttpResponse(lines(), content_type="application/jsonl")
    response["Content-Disposition"] = (
        f'attachment; filename="{algorithm}-{hex_value[:16]}.intoto.jsonl"'
    )
    return response


@login_required
@require_GET
def attestation_list(request: HttpRequest) -> HttpResponse:
    visible = _access(request).visible()
    form = AttestationFilterForm(request.GET, namespaces=dashboard.namespace_names(visible))
    data = valid_data(form)
    filters = dashboard.AttestationFilters(
        namespace=data.get("namespace") or "",
        format=data.get("format") or "",
        scope=data.get("scope") or "",
        current=data.get("current") or "",
        run=data.get("run"),
    )
    page = _page(
        request, dashboard.attestation_list(visible=visible, filters=filters), _per_page(data)
    )
    return render(
        request,
        "provenance/attestation_list.html",
        {
            "form": form,
            "page": page,
            "filtered": any(v for k, v in data.items() if k != "per_page"),
            "nav": "attestations",
        },
    )


def _attestation_or_404(request: HttpRequest, pk: int) -> Any:
    attestation = dashboard.attestation_get(pk=pk, visible=_access(request).visible())
    if attestation is None:
        raise Http404("no such attestation")
    return attestation


@login_required
@require_GET
def attestation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    attestation = _attestation_or_404(request, pk)
    keys = dashboard.keys_for([attestation])
    verification = dashboard.attestation_verify(attestation, keys)
    decoded = None
    decode_error = ""
    try:
        decoded = dashboard.statement_decode(bytes(attestation.statement))
    except ValueError as exc:
        decode_error = str(exc)
    subjects = list(attestation.subjects.all())
    return render(
        request,
        "provenance/attestation_detail.html",
        {
            "attestation": attestation,
            "verification": verification,
            "key": keys.get(attestation.key_id),
            "decoded": decoded,
            "decode_error": decode_error,
            "subjects": subjects,
            "digests": sorted({(s.algorithm, s.hex) for s in subjects}),
            "format_label": dashboard.format_label(attestation.format),
            "nav": "attestations",
        },
    )


@login_required
@require_GET
def attestation_statement(request: HttpRequest, pk: int) -> HttpResponse:
    """The exact statement bytes that were signed."""
    attestation = _attestation_or_404(request, pk)
    return _attachment(
        bytes(attestation.statement),
        f"attestation-{attestation.pk}.statement.json",
        "application/json",
    )


@login_required
@require_GET
def attestation_envelope(request: HttpRequest, pk: int) -> HttpResponse:
    """The DSSE envelope as stored and served."""
    attestation = _attestation_or_404(request, pk)
    return _attachment(
        bytes(attestation.envelope),
        f"attestation-{attestation.pk}.dsse.json",
        "application/json",
    )


# =============================================================================================
# Search


@login_required
@require_GET
def search(request: HttpRequest) -> HttpResponseBase:
    form = SearchForm(request.GET)
    query = valid_data(form).get("q") or ""
    results = dashboard.search(query, visible=_access(request).visible())
    return render(
        request,
        "provenance/search.html",
        {
            "form": form,
            "query": query,
            "results": results,
            "limit": dashboard.SEARCH_GROUP_LIMIT,
            "nav": "search",
        },
    )


# =============================================================================================
# Namespace settings (admins of the namespace)


def _admin_namespace(request: HttpRequest, namespace: str) -> Access:
    """404 for a namespace the user cannot see (or that does not exist), 403 for non-admins."""
    access = _access(request)
    if not access.allows(namespace) or not dashboard.namespace_exists(namespace):
        raise Http404("no such namespace")
    if not access.allows(namespace, ADMIN):
        raise PermissionDenied("only admins of this namespace can change its settings")
    return access


def _settings_context(
    request: HttpRequest,
    namespace: str,
    form: NamespaceSettingsForm | None = None,
    token_form: TokenCreateForm | None = None,
    proposed: dict[str, Any] | None = None,
) -> dict[str, Any]:
    values, key = namespace_settings_effective(namespace)
    form = form or NamespaceSettingsForm(initial=values)
    audit = Paginator(dashboard.settings_audit(namespace), 20).get_page(
        request.GET.get("audit_page")
    )
    return {
        "namespace": namespace,
        "values": values,
        "signing_key": key,
        "form": form,
        "token_form": token_form or TokenCreateForm(),
        "preview": dashboard.settings_preview(namespace, proposed or {}),
        "audit": audit,
        "audit_rows": [(entry, dashboard.audit_changes(entry)) for entry in audit],
        "progress": dashboard.recompute_progress(namespace),
        "tokens": Paginator(dashboard.namespace_tokens(namespace), 25).get_page(
            request.GET.get("tokens_page")
        ),
        "now": timezone.now(),
        "nav": "settings",
    }


@login_required
@require_http_methods(["GET", "POST"])
def namespace_settings(request: HttpRequest, namespace: str) -> HttpResponseBase:
    _admin_namespace(request, namespace)
    if request.method == "GET":
        return render(
            request, "provenance/namespace_settings.html", _settings_context(request, namespace)
        )
    form = NamespaceSettingsForm(request.POST)
    if not form.is_valid():
        context = _settings_context(request, namespace, form=form)
        return render(request, "provenance/namespace_settings.html", context, status=400)
    changes = {name: form.cleaned_data[name] for name in SETTINGS_FIELDS}
    if request.POST.get("action") == "preview":
        context = _settings_context(request, namespace, form=form, proposed=changes)
        return render(request, "provenance/namespace_settings.html", context)
    try:
        namespace_settings_update(
            namespace=namespace,
            changes=changes,
            actor=f"user:{request.user.get_username()}",
        )
    except FormatError as exc:
        form.add_error(None, str(exc))
        context = _settings_context(request, namespace, form=form)
        return render(request, "provenance/namespace_settings.html", context, status=400)
    messages.success(request, f"Settings of {namespace} saved; its runs are being recomputed.")
    return redirect("provenance:namespace-settings", namespace=namespace)


@login_required
@require_POST
def namespace_settings_preview(request: HttpRequest, namespace: str) -> HttpResponse:
    """htmx: the preview for the settings currently in the form (nothing is saved)."""
    _admin_namespace(request, namespace)
    form = NamespaceSettingsForm(request.POST)
    proposed = (
        {name: form.cleaned_data[name] for name in SETTINGS_FIELDS} if form.is_valid() else {}
    )
    return render(
        request,
        "provenance/_settings_preview.html",
        {
            "namespace": namespace,
            "preview": dashboard.settings_preview(namespace, proposed),
            "form": form,
        },
    )


@login_required
@require_GET
def namespace_progress(request: HttpRequest, namespace: str) -> HttpResponse:
    """htmx polling: runs of the namespace by compute status."""
    _admin_namespace(request, namespace)
    return render(
        request,
        "provenance/_recompute_progress.html",
        {"namespace": namespace, "progress": dashboard.recompute_progress(namespace)},
    )


@login_required
@require_POST
def token_create(request: HttpRequest, namespace: str) -> HttpResponse:
    _admin_namespace(request, namespace)
    token_form = TokenCreateForm(request.POST)
    if not token_form.is_valid():
        context = _settings_context(request, namespace, token_form=token_form)
        return render(request, "provenance/namespace_settings.html", context, status=400)
    days = token_form.cleaned_data.get("expires_days")
    row, token = api_token_create(
        name=token_form.cleaned_data["name"],
        namespaces=[namespace],
        role=token_form.cleaned_data["role"],
        expires_at=timezone.now() + timedelta(days=days) if days else None,
    )
    context = _settings_context(request, namespace)
    context.update({"new_token": token, "new_token_row": row})
    response = render(request, "provenance/namespace_settings.html", context, status=201)
    # The token is shown once: keep it out of every cache.
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def token_revoke(request: HttpRequest, namespace: str, token_id: int) -> HttpResponseBase:
    access = _admin_namespace(request, namespace)
    token = dashboard.namespace_tokens(namespace).filter(pk=token_id).first()
    if token is None:
        raise Http404("no such token")
    # A token spanning several namespaces is revoked only by someone who administers them all.
    if not all(access.allows(ns, ADMIN) for ns in token.namespaces):
        raise PermissionDenied("this token also covers namespaces you do not administer")
    api_token_revoke(token_id=token.pk)
    messages.success(request, f"Token {token.prefix}… ({token.name}) revoked.")
    return redirect(reverse("provenance:namespace-settings", args=[namespace]) + "#tokens")
