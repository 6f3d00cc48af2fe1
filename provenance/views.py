"""Dashboard views: server-rendered pages, htmx fragments, downloads.

Thin by design: access comes from ``access_for_request`` (objects of namespaces the user may not
see are 404s), reads from ``provenance.reads`` (the same ones the API uses), writes from
``provenance.services``, downloads from ``provenance.downloads``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from provenance.core.digests import read_digest
from provenance.core.errors import FormatError
from provenance.core.statements import StatementError, read_statement

from . import downloads, metrics
from .access import Access, access_for_request
from .config import SETTINGS_FIELDS, ConfigError, format_label
from .forms import (
    DEFAULT_PAGE_SIZE,
    ArtifactFilterForm,
    AttestationFilterForm,
    NamespaceSettingsForm,
    PageSizeMixin,
    PublishForm,
    RetentionForm,
    RunFilterForm,
    SearchForm,
    TokenCreateForm,
    artifact_filters,
    attestation_filters,
    valid_data,
    verified_filter,
)
from .graph_layout import MAX_DRAWN_TASKS, layout
from .models import ApiToken, RunView
from .reads import artifacts, attestations, namespaces, preview, rundetail, runs
from .reads.applies import coverage, subjects_coverage
from .reads.compare import previous_build, superseded_by_settings
from .reads.overview import attention, namespace_summaries
from .reads.search import SEARCH_GROUP_LIMIT, SEARCH_MAX_LENGTH, search_results
from .reads.tokens import namespace_tokens
from .reads.verify import key_ring, verify, verify_many
from .services import (
    api_token_create,
    api_token_revoke,
    namespace_settings_update,
    run_view_request,
)
from .sso.forms import settings_section

ADMIN = ApiToken.Role.ADMIN


def _access(request: HttpRequest) -> Access:
    return access_for_request(request)


def _page(request: HttpRequest, items: QuerySet[Any], per_page: int) -> Page[Any]:
    return Paginator(items, per_page).get_page(request.GET.get("page"))


def _per_page(data: dict[str, Any]) -> int:
    return int(data.get("per_page") or DEFAULT_PAGE_SIZE)


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
            "namespaces": namespace_summaries(visible, access.role_in),
            "latest": attestations.latest_attestations(visible),
            "attention": attention(visible),
            "nav": "overview",
        },
    )


# =============================================================================================
# Runs


# A large run's task table comes in pages, the picked artifact's tasks first; its stored record
# is a download past this size rather than a page of JSON.
TASK_PAGE_SIZE = 100
SCOPE_ORDER = {"producer": 0, "in": 1, "out": 2, "": 3}
RECORD_INLINE_BYTES = 256 * 1024


# The same URL answers a page or an htmx fragment: caches must keep them apart.
@vary_on_headers("HX-Request", "HX-Target")
@login_required
@require_GET
def run_list(request: HttpRequest) -> HttpResponse:
    visible = _access(request).visible()
    form = RunFilterForm(
        request.GET,
        namespaces=namespaces.namespace_names(visible),
        pipelines=runs.pipeline_names(visible),
    )
    data = valid_data(form)
    listed = runs.run_list(namespaces=visible, **_run_filters(data))
    page = _page(request, listed, _per_page(data))
    context = {
        "form": form,
        "page": page,
        "filtered": any(v for k, v in data.items() if k != "per_page"),
        "nav": "runs",
    }
    if request.htmx and request.htmx.target == "run-results":  # type: ignore[attr-defined]
        return render(request, "provenance/_run_results.html", context)
    return render(request, "provenance/run_list.html", context)


def _run_filters(data: dict[str, Any]) -> dict[str, Any]:
    """The runs form's fields as ``reads.runs.run_record_list`` filters (days are whole days in
    the current time zone)."""
    zone = timezone.get_current_timezone()
    kind = data.get("kind") or ""
    filters = {
        "namespace": data.get("namespace"),
        "definition": data.get("pipeline"),
        "status": data.get("status") or None,
        "compute_status": data.get("signing"),
        "kind": "" if kind == "top" else kind,
        "top_level": kind == "top",
        "text": (data.get("q") or "").strip(),
    }
    if data.get("started_from"):
        filters["started_after"] = datetime.combine(data["started_from"], time.min, zone)
    if data.get("started_to"):
        filters["started_before"] = datetime.combine(data["started_to"], time.max, zone)
    return {name: value for name, value in filters.items() if value}


# A large run's task table comes in pages, the picked artifact's tasks first; its stored record
# is a download past this size rather than a page of JSON.
TASK_PAGE_SIZE = 100
SCOPE_ORDER = {"producer": 0, "in": 1, "out": 2, "": 3}
RECORD_INLINE_BYTES = 256 * 1024


# The same URL answers a page or an htmx fragment: caches must keep them apart.
@vary_on_headers("HX-Request", "HX-Target")
@login_required
@require_GET
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    visible = _access(request).visible()
    record = runs.run_get(pk=pk, namespaces=visible)
    if record is None:
        raise Http404("no such run")
    deep = request.GET.get("deep") == "1"
    detail = rundetail.run_detail(record, namespaces=visible, deep=deep)
    if deep and detail.view_inputs and detail.view is None:
        # A worker computes it; without a broker (embedded mode) it is computed in-process.
        detail.view = run_view_request(record=record, inputs=detail.view_inputs)
        if detail.view.status == RunView.Status.READY:
            detail.scopes = rundetail.scopes_decode(detail.view.payload)
    wanted = request.GET.get("artifact", "").strip()
    selected = rundetail.scope_for(detail.scopes, wanted) if wanted else None
    graph = graph_tall = None
    if detail.graph is not None:
        graph = layout(detail.graph, selected, declared=detail.declared, waiting=detail.waiting)
        if graph.nodes:  # a phone shows the graph top to bottom (CSS picks the drawing)
            graph_tall = layout(
                detail.graph,
                selected,
                declared=detail.declared,
                waiting=detail.waiting,
                vertical=True,
            )
    run = detail.run
    tasks = rundetail.task_rows(detail, selected)
    if len(tasks) > MAX_DRAWN_TASKS and selected is not None:
        # A large run: the artifact's tasks first, so they are on the table's first page.
        tasks.sort(key=lambda t: SCOPE_ORDER[t.scope])
    per_page = TASK_PAGE_SIZE if len(tasks) > MAX_DRAWN_TASKS else max(len(tasks), 1)
    task_page = Paginator(tasks, per_page).get_page(request.GET.get("tasks"))
    record_size = 0 if record.is_pruned else len(runs.run_record_raw(record))
    context = {
        "detail": detail,
        "record": record,
        "run": run,
        "params": list(run.meta.params) if run else [],
        "results": list(run.meta.results) if run else [],
        "graph": graph,
        "graph_tall": graph_tall,
        "tasks": task_page.object_list,
        "task_page": task_page,
        "record_size": record_size,
        "record_inline": 0 < record_size <= RECORD_INLINE_BYTES,
        "artifacts": [(rundetail.scope_key(s), s) for s in detail.scopes],
        "child_ids": {child.name: child.pk for child in detail.children},
        "selected": selected,
        "selected_key": rundetail.scope_key(selected) if selected else "",
        "wanted": wanted,
        "unknown_artifact": bool(wanted) and selected is None,
        "deep": deep,
        "deep_view": detail.view,
        "deep_default": detail.settings.deep_inspection,
        "format_label": format_label(detail.settings.format),
        "nav": "runs",
    }
    if request.htmx and request.htmx.target == "run-graph":  # type: ignore[attr-defined]
        return render(request, "provenance/_run_graph.html", context)
    return render(request, "provenance/run_detail.html", context)


@login_required
@require_GET
def run_record(request: HttpRequest, pk: int) -> HttpResponse:
    """The stored record as received (the run page links it when it is too large to show)."""
    record = runs.run_get(pk=pk, namespaces=_access(request).visible())
    if record is None:
        raise Http404("no such run")
    try:
        raw = runs.run_record_raw(record)
    except runs.RecordPruned as exc:
        raise Http404(str(exc)) from None
    return downloads.attachment(raw, "application/json", f"{record.kind.lower()}-{record.pk}.json")


# =============================================================================================
# Artifacts and attestations


@login_required
@require_GET
def artifact_list(request: HttpRequest) -> HttpResponse:
    visible = _access(request).visible()
    form = ArtifactFilterForm(request.GET, namespaces=namespaces.namespace_names(visible))
    data = valid_data(form)
    filters = artifact_filters(data)
    found = artifacts.artifact_search(namespaces=visible, **filters)
    return render(
        request,
        "provenance/artifact_list.html",
        {
            "form": form,
            "page": _page(request, found, _per_page(data)),
            "filtered": any(v for k, v in data.items() if k != "per_page"),
            "export_query": _export_query(request),
            "nav": "artifacts",
        },
    )


def _digest_or_404(digest: str) -> tuple[str, str]:
    pair = read_digest(digest)
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
    naming = attestations.attestations_naming(namespaces=visible, digest=f"{algorithm}:{hex_value}")
    newest = attestations.shown(naming).order_by("-created", "-id")
    page = _page(request, newest, _per_page(valid_data(PageSizeMixin(request.GET))))
    if not page.object_list:
        raise Http404("no attestation of this digest")
    rows = list(page.object_list)
    verdicts = verify_many(rows)
    metrics.verifications_observed("dashboard", (v.ok for v in verdicts.values()))
    covered = coverage(namespaces=visible, digest=f"{algorithm}:{hex_value}")
    return render(
        request,
        "provenance/digest_detail.html",
        {
            "coverages": [
                (c, previous_build(c.applies, visible) if c.applies else None) for c in covered
            ],
            "applies_ids": {c.applies for c in covered},
            "algorithm": algorithm,
            "hex": hex_value,
            "digest": f"{algorithm}:{hex_value}",
            "uris": artifacts.digest_names(visible, algorithm, hex_value),
            "page": page,
            "rows": [(a, verdicts[a.pk]) for a in rows],
            "nav": "artifacts",
        },
    )


@login_required
@require_GET
def digest_jsonl(request: HttpRequest, digest: str) -> HttpResponseBase:
    """Every visible attestation of the digest that verifies: one DSSE envelope per line
    (``provenance.downloads``, the API's bundle too)."""
    algorithm, hex_value = _digest_or_404(digest)
    bundle = attestations.attestations_bundle(
        namespaces=_access(request).visible(), digest=f"{algorithm}:{hex_value}"
    )
    if bundle.empty:
        raise Http404("no attestation of this digest")
    if not bundle.envelopes:
        return HttpResponse(
            downloads.unverified_message(bundle), status=409, content_type="text/plain"
        )
    return downloads.bundle_download(bundle, algorithm, hex_value)


@login_required
@require_GET
def attestation_list(request: HttpRequest) -> HttpResponse:
    visible = _access(request).visible()
    form = AttestationFilterForm(request.GET, namespaces=namespaces.namespace_names(visible))
    data = valid_data(form)
    filters = attestation_filters(data)
    try:
        found = attestations.attestation_list(
            namespaces=visible, verified=verified_filter(data), with_bytes=False, **filters
        )
    except ValueError as exc:
        # verified= over more attestations than API_VERIFIED_FILTER_MAX: say so, list them all.
        form.add_error("verified", str(exc))
        found = attestations.attestation_list(namespaces=visible, with_bytes=False, **filters)
    page = _page(request, found, _per_page(data))
    return render(
        request,
        "provenance/attestation_list.html",
        {
            "form": form,
            "page": page,
            "export_query": _export_query(request),
            "filtered": any(v for k, v in data.items() if k != "per_page"),
            "nav": "attestations",
        },
    )


def _export_query(request: HttpRequest) -> str:
    """The page's filters for its export links (paging left out: an export is the whole
    filtered list)."""
    query = request.GET.copy()
    for name in ("page", "per_page"):
        query.pop(name, None)
    return query.urlencode()


def _attestation_or_404(request: HttpRequest, pk: int) -> Any:
    attestation = attestations.attestation_get(pk=pk, namespaces=_access(request).visible())
    if attestation is None:
        raise Http404("no such attestation")
    return attestation


@login_required
@require_GET
def attestation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    attestation = _attestation_or_404(request, pk)
    ring = key_ring()
    verdict = verify(attestation, ring)
    metrics.verifications_observed("dashboard", [verdict.ok])
    decoded = None
    decode_error = ""
    try:
        decoded = read_statement(bytes(attestation.statement))
    except StatementError as exc:
        decode_error = str(exc)
    subjects = attestation.subject_rows
    visible = _access(request).visible()
    applies = subjects_coverage(attestation, visible)
    digest_count = len({(s["algorithm"], s["hex"]) for s in subjects})
    return render(
        request,
        "provenance/attestation_detail.html",
        {
            "applies": applies,
            "applies_more": max(0, digest_count - len(applies)),
            "previous_build": previous_build(attestation.pk, visible),
            "supersedes": attestations.attestation_supersedes(attestation),
            "settings_change": superseded_by_settings(attestation),
            "attestation": attestation,
            "verdict": verdict,
            "key": ring.keys.get(attestation.key_id),
            "trusted": ring.trusted(attestation.key_id),
            "decoded": decoded,
            "decode_error": decode_error,
            "digests": sorted({(s["algorithm"], s["hex"]) for s in subjects}),
            "publications": attestations.attestation_publications(attestation),
            "format_label": format_label(attestation.format),
            "nav": "attestations",
        },
    )


@login_required
@require_GET
def attestation_statement(request: HttpRequest, pk: int) -> HttpResponse:
    """The exact statement bytes that were signed."""
    return downloads.statement_download(_attestation_or_404(request, pk))


@login_required
@require_GET
def attestation_bundle(request: HttpRequest, pk: int) -> HttpResponse:
    """The attestation as a Sigstore bundle v0.3."""
    return downloads.sigstore_bundle_download(_attestation_or_404(request, pk))


@login_required
@require_GET
def attestation_envelope(request: HttpRequest, pk: int) -> HttpResponse:
    """The DSSE envelope as stored and served."""
    return downloads.envelope_download(_attestation_or_404(request, pk))


# =============================================================================================
# Search


@login_required
@require_GET
def search(request: HttpRequest) -> HttpResponseBase:
    form = SearchForm(request.GET)
    query = valid_data(form).get("q") or ""
    # A query over the limit is said to be too long, never taken for an empty one.
    too_long = len(request.GET.get("q", "").strip()) if "q" in form.errors else 0
    results = search_results(query, namespaces=_access(request).visible())
    return render(
        request,
        "provenance/search.html",
        {
            "form": form,
            "query": query,
            "too_long": too_long,
            "max_length": SEARCH_MAX_LENGTH,
            "results": results,
            "limit": SEARCH_GROUP_LIMIT,
            "nav": "search",
        },
    )


# =============================================================================================
# Namespace settings (admins of the namespace)


def _admin_namespace(request: HttpRequest, namespace: str) -> Access:
    """404 for a namespace the user cannot see (or that does not exist), 403 for non-admins."""
    access = _access(request)
    if not access.allows(namespace) or not namespaces.namespace_exists(namespace):
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
    retention_form: RetentionForm | None = None,
    publish_form: PublishForm | None = None,
) -> dict[str, Any]:
    config, key = namespaces.namespace_settings_effective(namespace)
    form = form or NamespaceSettingsForm(initial=config.values())
    audit = Paginator(namespaces.settings_audit(namespace), 20).get_page(
        request.GET.get("audit_page")
    )
    return {
        "namespace": namespace,
        "values": config.values(),
        "signing_key": key,
        "form": form,
        "token_form": token_form or TokenCreateForm(),
        "retention": config,
        "retention_form": retention_form or RetentionForm(initial=config.retention()),
        "publish_form": publish_form or PublishForm(initial=config.publishing()),
        "publishing": config,
        "legal_hold_entry": namespaces.legal_hold_entry(namespace) if config.legal_hold else None,
        "pruned_runs": namespaces.pruned_runs(namespace),
        "preview": preview.settings_preview(namespace, proposed or {}),
        "audit": audit,
        "audit_rows": [
            (entry, namespaces.audit_changes(entry), namespaces.audit_note(entry))
            for entry in audit
        ],
        "progress": namespaces.recompute_progress(namespace),
        "tokens": Paginator(namespace_tokens(namespace), 25).get_page(
            request.GET.get("tokens_page")
        ),
        "now": timezone.now(),
        "sso": settings_section(namespace),
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
def namespace_publishing(request: HttpRequest, namespace: str) -> HttpResponseBase:
    """Save where the namespace's attestations are published (audited; re-signs nothing)."""
    _admin_namespace(request, namespace)
    form = PublishForm(request.POST)
    return _settings_section_save(
        request,
        namespace,
        form,
        "publishing",
        changes=dict(form.cleaned_data) if form.is_valid() else {},
        page=lambda: _settings_context(request, namespace, publish_form=form),
    )


@login_required
@require_POST
def namespace_retention(request: HttpRequest, namespace: str) -> HttpResponseBase:
    """Save the namespace's retention period and legal hold (audited, with the reason)."""
    _admin_namespace(request, namespace)
    form = RetentionForm(request.POST)
    data = form.cleaned_data if form.is_valid() else {}
    return _settings_section_save(
        request,
        namespace,
        form,
        "retention",
        changes={
            "retention_days": data.get("retention_days") or None,
            "legal_hold": data.get("legal_hold"),
        },
        reason=data.get("reason", ""),
        page=lambda: _settings_context(request, namespace, retention_form=form),
    )


def _settings_section_save(
    request: HttpRequest,
    namespace: str,
    form: forms.Form,
    section: str,
    *,
    changes: dict[str, Any],
    page: Callable[[], dict[str, Any]],
    reason: str = "",
) -> HttpResponseBase:
    """Save one section of the settings page (``section``: its anchor) from its validated
    ``form``: a 400 with the page (``page``) and the form's errors, or a redirect back to it."""
    if form.is_valid():
        try:
            namespace_settings_update(
                namespace=namespace,
                changes=changes,
                actor=f"user:{request.user.get_username()}",
                reason=reason,
            )
        except ConfigError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, str(exc))
    if form.errors:
        return render(request, "provenance/namespace_settings.html", page(), status=400)
    messages.success(request, f"{section.capitalize()} of {namespace} saved.")
    return redirect(reverse("provenance:namespace-settings", args=[namespace]) + f"#{section}")


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
            "preview": preview.settings_preview(namespace, proposed),
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
        {"namespace": namespace, "progress": namespaces.recompute_progress(namespace)},
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
    token = namespace_tokens(namespace).filter(pk=token_id).first()
    if token is None:
        raise Http404("no such token")
    # A token spanning several namespaces is revoked only by someone who administers them all.
    if not all(access.allows(ns, ADMIN) for ns in token.namespaces):
        raise PermissionDenied("this token also covers namespaces you do not administer")
    api_token_revoke(token_id=token.pk)
    messages.success(request, f"Token {token.prefix}… ({token.name}) revoked.")
    return redirect(reverse("provenance:namespace-settings", args=[namespace]) + "#tokens")
