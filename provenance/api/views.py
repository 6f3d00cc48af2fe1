"""API v1 views: one class per endpoint, each a thin shell around a service or selector.

Every view authenticates by bearer token or browser session (``provenance.auth``), and asks
``provenance.access`` what the caller may see and do: objects of other namespaces are absent
from lists and a 404 on their own; writes need the role in the namespace they touch (403 naming
it). Every error is JSON ``{"error": "..."}`` (``error_handler``). See docs/api.md.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import (
    APIException,
    NotFound,
    ParseError,
    PermissionDenied,
    ValidationError,
)
from rest_framework.fields import empty
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.parsers import BaseParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView, exception_handler, set_rollback

from provenance import downloads, services
from provenance.access import Access
from provenance.auth import request_access
from provenance.config import NAMESPACE_NAME, ConfigError, check_fields
from provenance.core.digests import DIGEST_PATTERN, parse_query
from provenance.core.errors import ProvenanceError
from provenance.models import ApiToken, Artifact, Attestation, RunRecord
from provenance.reads import artifacts, attestations, runs
from provenance.reads.gate import gate_evaluate
from provenance.reads.keys import signing_key_list
from provenance.reads.namespaces import namespace_settings_view
from provenance.reads.verify import verify, verify_rows

from . import examples, outputs
from . import serializers as s
from .outputs import ARTIFACT, ATTESTATION, ATTESTATION_BRIEF, ATTESTATION_DETAIL, RECORD, Context
from .schema import errors

# =============================================================================================
# Plumbing shared by every endpoint


logger = logging.getLogger(__name__)

# Seconds a client is told to wait when the database is unavailable (a restart takes a few).
DATABASE_RETRY_AFTER = 5


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "the request body is too large"


class Unverified(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "no attestation of this digest verifies"


def _flatten(detail: Any, prefix: str = "") -> list[str]:
    if isinstance(detail, dict):
        messages = []
        for key, value in detail.items():
            label = "" if key in ("non_field_errors", "detail") else f"{prefix}{key}: "
            messages.extend(_flatten(value, label))
        return messages
    if isinstance(detail, list):
        return [m for item in detail for m in _flatten(item, prefix)]
    return [f"{prefix}{detail}"]


def error_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, reshaped to ``{"error": "..."}``.

    A lost or refused database connection (Postgres restarting, failing over) is a 503 with
    ``Retry-After``: the request changed nothing and the client should simply send it again.
    """
    if isinstance(exc, OperationalError | InterfaceError):
        logger.warning("database unavailable: %s", str(exc).strip() or type(exc).__name__)
        set_rollback()
        return Response(
            {"error": "the database is unavailable; retry shortly"},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(DATABASE_RETRY_AFTER)},
        )
    if isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge(f"the request body is larger than {settings.INGEST_MAX_BYTES} bytes")
    response = exception_handler(exc, context)
    if response is not None:
        response.data = {"error": "; ".join(_flatten(response.data)) or "error"}
    return response


def api_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """``handler404``: JSON under /api/ (an unrouted path), the site's page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"error": "not found"}, status=404)
    return defaults.page_not_found(request, exception)


def api_server_error(request: HttpRequest) -> HttpResponse:
    """``handler500``: JSON under /api/, the site's page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"error": "internal server error"}, status=500)
    return defaults.server_error(request)


class FirstRenderer(BaseContentNegotiation):
    """Always JSON (or the view's one renderer): an ``Accept`` header never turns a download
    or an error into a 406."""

    def select_parser(self, request: Request, parsers: Iterable[BaseParser]) -> BaseParser | None:
        content_type = request.content_type.split(";")[0].strip().lower()
        return next((p for p in parsers if p.media_type == content_type), None)

    def select_renderer(
        self,
        request: Request,
        renderers: Iterable[BaseRenderer],
        format_suffix: str | None = None,
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, str(renderer.media_type)


class ApiCursorPagination(CursorPagination):
    """Newest first by id, ``page_size`` capped at API_MAX_PAGE_SIZE; the cursor carries only a
    position in the caller's own filtered list, so it cannot reveal other namespaces."""

    ordering = "-id"
    page_size_query_param = "page_size"

    def get_page_size(self, request: Request) -> int:
        wanted = request.query_params.get(self.page_size_query_param)
        if wanted is None:
            return int(settings.API_PAGE_SIZE)
        if not (wanted.isascii() and wanted.isdigit() and len(wanted) < 10 and int(wanted) > 0):
            raise ValidationError({"page_size": "must be a positive integer"})
        return min(int(wanted), int(settings.API_MAX_PAGE_SIZE))

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        link = {"type": "string", "format": "uri", "nullable": True}
        return {
            "type": "object",
            "required": ["next", "previous", "results"],
            "properties": {
                "next": {
                    **link,
                    "example": f"{examples.HOST}/api/v1/attestations?cursor=cD00ODY%3D",
                },
                "previous": {**link, "example": None},
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "Where the page starts: the cursor of a `next`/`previous` link.",
                "schema": {"type": "string"},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": (
                    f"Results per page (default {settings.API_PAGE_SIZE}; larger values are "
                    f"capped at {settings.API_MAX_PAGE_SIZE})."
                ),
                "schema": {"type": "integer", "minimum": 1},
            },
        ]

    def decode_cursor(self, request: Request) -> Cursor | None:
        cursor = super().decode_cursor(request)
        # DRF trusts the position; a crafted one ("p=abc") would reach the database as an id.
        if cursor is not None and cursor.position is not None:
            position = str(cursor.position)
            if not position.isdigit() or len(position) > 18:
                raise NotFound(self.invalid_cursor_message)
        return cursor


class ApiView(APIView):
    """Base of every endpoint: JSON, session or bearer auth, per-namespace access."""

    renderer_classes = [JSONRenderer]
    content_negotiation_class = FirstRenderer
    # Writes need this role somewhere (``HasRole``) and in the namespace they touch (the view).
    required_role: str = ApiToken.Role.ADMIN

    @property
    def access(self) -> Access:
        return request_access(self.request)

    def visible(self) -> set[str] | None:
        return self.access.visible()


ID_PARAMETER = OpenApiParameter(
    "id",
    {"type": "integer", "minimum": 1, "maximum": 999_999_999_999_999_999},
    OpenApiParameter.PATH,
    description="The object's id.",
)


@functools.cache
def _optional_fields(serializer_class: type[serializers.Serializer[Any]]) -> frozenset[str] | None:
    """The input's field names when none is required or has a default (else None): then a
    request naming none of them validates to ``{}``."""
    fields = serializer_class._declared_fields
    if any(f.required or f.default is not empty for f in fields.values()):
        return None
    if serializer_class.validate is not serializers.Serializer.validate:
        return None
    return frozenset(fields)


def _filters(
    serializer_class: type[serializers.Serializer[Any]], request: Request
) -> dict[str, Any]:
    # A plain dict: DRF reads a QueryDict like an HTML form, where a missing boolean is False.
    data = request.query_params.dict()
    names = _optional_fields(serializer_class)
    if names is not None and names.isdisjoint(data):
        return {}  # no filter given: skip building the serializer's fields (most of its cost)
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _attestations_shown(request: Request, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``AttestationOutput`` of attestation rows, each with its verdict (``reads.verify``)
    made now."""
    return ATTESTATION.render(rows, Context.of(request, verdicts=verify_rows(rows)))


# =============================================================================================
# Records


class RecordListApi(ApiView, generics.ListAPIView[RunRecord]):
    """GET: PipelineRuns and TaskRuns, filtered, newest first. POST: ingest run records."""

    required_role = ApiToken.Role.INGESTER
    pagination_class = ApiCursorPagination
    FilterSerializer = s.RecordFilterInput
    IngestOutputSerializer = s.IngestOutput
    serializer_class = RECORD.serializer

    def get_queryset(self) -> Any:
        filters = _filters(self.FilterSerializer, self.request)
        return runs.run_record_list(namespaces=self.visible(), **filters).values(
            *RECORD.paged_columns
        )

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(RECORD.render(page or [], Context.of(request)))

    @extend_schema(
        operation_id="records_list",
        summary="List PipelineRuns and TaskRuns",
        parameters=[s.RecordFilterInput],
        responses={200: RECORD.serializer(many=True), **errors(400, 404)},
        examples=[examples.RECORD_LIST],
        tags=["records"],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="records_ingest",
        summary="Ingest run records (JSON or YAML)",
        description=(
            "One PipelineRun/TaskRun object, a `kind: List`, or multi-document YAML. Every "
            "object is validated before anything is stored; provenance is computed and signed "
            "in the background. Needs the ingester (or admin) role in every record's namespace."
        ),
        request={
            "application/json": OpenApiTypes.OBJECT,
            "application/yaml": OpenApiTypes.STR,
        },
        responses={202: s.IngestOutput, **errors(400, 403, 413)},
        examples=[examples.INGEST_REQUEST, examples.INGEST_RESPONSE],
        tags=["records"],
    )
    def post(self, request: Request) -> Response:
        limit = settings.INGEST_MAX_BYTES
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            raise ParseError("invalid Content-Length") from None
        if declared > limit:
            raise PayloadTooLarge(f"the request body is larger than {limit} bytes")
        try:
            body = request.body
        except RequestDataTooBig:
            raise PayloadTooLarge(f"the request body is larger than {limit} bytes") from None
        if len(body) > limit:
            raise PayloadTooLarge(f"the request body is larger than {limit} bytes")
        access = self.access
        try:
            result = services.records_ingest(
                data=body,
                namespaces_allowed=access.namespaces_with(ApiToken.Role.INGESTER),
                source=f"api:{access.actor}",
            )
        except services.NamespaceForbidden as exc:
            raise PermissionDenied(str(exc)) from None
        except ProvenanceError as exc:
            raise ValidationError({"detail": str(exc)}) from None
        data = self.IngestOutputSerializer({"records": result.records}).data
        return Response(data, status=status.HTTP_202_ACCEPTED)


def _record_or_404(view: ApiView, uid: str) -> RunRecord:
    record = runs.run_record_get(uid=uid, namespaces=view.visible())
    if record is None:
        raise Http404("no such record")
    return record


class RecordDetailApi(ApiView):
    """One PipelineRun or TaskRun by uid, with its TaskRuns and attestations."""

    @extend_schema(
        operation_id="records_retrieve",
        summary="One run record by uid",
        responses={200: outputs.RECORD_DETAIL.serializer, **errors(404)},
        examples=[examples.RECORD_DETAIL],
        tags=["records"],
    )
    def get(self, request: Request, uid: str) -> Response:
        record = _record_or_404(self, uid)
        children = runs.run_children(record).values(*RECORD.columns)
        signed = attestations.attestations_of_run(record.pk).values(*ATTESTATION_BRIEF.columns)
        detail = outputs.record_detail(RECORD.row_of(record), children, signed, Context.of(request))
        return Response(detail)


class RecordRawApi(ApiView):
    """The record exactly as received (its JSON, decompressed)."""

    @extend_schema(
        operation_id="records_raw",
        summary="The record as received",
        description="The stored JSON of the object as it was received (YAML input as JSON).",
        responses={
            (200, "application/json"): OpenApiResponse(
                OpenApiTypes.OBJECT,
                description="The Tekton object.",
                examples=[examples.RAW_RECORD],
            ),
            **errors(404),
        },
        tags=["records"],
    )
    def get(self, request: Request, uid: str) -> HttpResponse:
        record = _record_or_404(self, uid)
        response = HttpResponse(runs.run_record_raw(record), content_type="application/json")
        response["ETag"] = f'"{record.raw_sha256}"'
        return response


# =============================================================================================
# Artifacts


class ArtifactListApi(ApiView, generics.ListAPIView[Artifact]):
    """Artifacts (subject name + digest) named by attestations the caller may see."""

    pagination_class = ApiCursorPagination
    FilterSerializer = s.ArtifactFilterInput
    serializer_class = ARTIFACT.serializer

    def get_queryset(self) -> Any:
        filters = _filters(self.FilterSerializer, self.request)
        try:
            found = artifacts.artifact_list(namespaces=self.visible(), **filters)
        except ValueError as exc:
            raise ValidationError({"detail": str(exc)}) from None
        return found.values(*ARTIFACT.paged_columns)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(ARTIFACT.render(page or [], Context.of(request)))

    @extend_schema(
        operation_id="artifacts_list",
        summary="Search artifacts by digest, digest prefix, name or namespace",
        parameters=[s.ArtifactFilterInput],
        responses={200: ARTIFACT.serializer(many=True), **errors(400, 404)},
        examples=[examples.ARTIFACT_LIST],
        tags=["artifacts"],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class ArtifactDetailApi(ApiView):
    """One artifact with the attestations (visible to the caller) that name it."""

    @extend_schema(
        operation_id="artifacts_retrieve",
        parameters=[ID_PARAMETER],
        summary="One artifact with its attestations",
        responses={200: outputs.ARTIFACT_DETAIL.serializer, **errors(404)},
        examples=[examples.ARTIFACT_DETAIL],
        tags=["artifacts"],
    )
    def get(self, request: Request, pk: int) -> Response:
        visible = self.visible()
        artifact = artifacts.artifact_get(pk=pk, namespaces=visible).values(*ARTIFACT.columns)
        row = artifact.first()
        if row is None:
            raise Http404("no such artifact")
        naming = attestations.artifact_attestations(artifact_id=pk, namespaces=visible)
        rows = list(naming.values(*ATTESTATION.columns))
        ctx = Context.of(request, verdicts=verify_rows(rows))
        return Response(outputs.artifact_detail(row, rows, ctx))


class ArtifactAttestationsJsonlApi(ApiView):
    """Every envelope for a digest, one DSSE JSON per line (cosign/GitHub bundle style)."""

    FilterSerializer = s.BundleFilterInput

    @extend_schema(
        operation_id="artifacts_attestations_jsonl",
        summary="All attestation envelopes for a digest, as JSON Lines",
        description=(
            "One DSSE envelope per line, oldest first, for every attestation you may see whose "
            "subjects include the digest (under any name) and that verifies now. An attestation "
            "that does not verify is left out and named, with its reason codes, in the "
            "`Chainsweb-Unverified` header. `current=true` leaves out superseded ones. 404 when "
            "there is none; 409 when none of them verifies."
        ),
        parameters=[
            OpenApiParameter(
                "digest",
                OpenApiTypes.STR,
                OpenApiParameter.PATH,
                pattern=DIGEST_PATTERN,
                description="sha256:<hex>",
            ),
            s.BundleFilterInput,
        ],
        responses={
            (200, downloads.BUNDLE_MEDIA_TYPE): OpenApiResponse(
                OpenApiTypes.STR,
                description="DSSE envelopes, one per line.",
                examples=[examples.JSONL],
            ),
            **errors(400, 404, 409),
        },
        tags=["artifacts"],
    )
    def get(self, request: Request, digest: str) -> HttpResponse:
        current = _filters(self.FilterSerializer, request).get("current")
        try:
            algorithm, hex_value = parse_query(digest, "digest")
        except ValueError as exc:
            raise ValidationError({"detail": str(exc)}) from None
        bundle = attestations.attestations_bundle(
            namespaces=self.visible(), digest=f"{algorithm}:{hex_value}", current=current
        )
        if bundle.empty:
            raise Http404("no attestation names this digest")
        if not bundle.envelopes:
            raise Unverified(downloads.unverified_message(bundle))
        return downloads.bundle_download(bundle, algorithm, hex_value)


# =============================================================================================
# Attestations


class AttestationListApi(ApiView, generics.ListAPIView[Attestation]):
    """Attestations, filtered, newest first, cursor-paginated."""

    pagination_class = ApiCursorPagination
    FilterSerializer = s.AttestationFilterInput
    serializer_class = ATTESTATION.serializer

    def get_queryset(self) -> Any:
        filters = _filters(self.FilterSerializer, self.request)
        try:
            found = attestations.attestation_list(namespaces=self.visible(), **filters)
        except ValueError as exc:
            raise ValidationError({"detail": str(exc)}) from None
        return found.values(*ATTESTATION.paged_columns)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        rows = list(self.paginate_queryset(self.get_queryset()) or [])
        return self.get_paginated_response(_attestations_shown(request, rows))

    @extend_schema(
        operation_id="attestations_list",
        summary="Search attestations",
        parameters=[s.AttestationFilterInput],
        responses={200: ATTESTATION.serializer(many=True), **errors(400, 404)},
        examples=[examples.ATTESTATION_LIST],
        tags=["attestations"],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


def _attestation_or_404(view: ApiView, pk: int) -> Attestation:
    attestation = attestations.attestation_get(pk=pk, namespaces=view.visible())
    if attestation is None:
        raise Http404("no such attestation")
    return attestation


class AttestationDetailApi(ApiView):
    """One attestation, re-verified now, with what it superseded."""

    @extend_schema(
        operation_id="attestations_retrieve",
        parameters=[ID_PARAMETER],
        summary="One attestation",
        responses={200: ATTESTATION_DETAIL.serializer, **errors(404)},
        examples=[examples.ATTESTATION_DETAIL],
        tags=["attestations"],
    )
    def get(self, request: Request, pk: int) -> Response:
        attestation = _attestation_or_404(self, pk)
        row = ATTESTATION_DETAIL.row_of(attestation)
        ctx = Context.of(
            request,
            verdicts={pk: verify(attestation)},
            supersedes={pk: attestations.attestation_supersedes(attestation)},
        )
        return Response(ATTESTATION_DETAIL.render_one(row, ctx))


class AttestationEnvelopeApi(ApiView):
    """The DSSE envelope of one attestation, as a file download."""

    @extend_schema(
        operation_id="attestations_envelope",
        parameters=[ID_PARAMETER],
        summary="The DSSE envelope (download)",
        responses={
            (200, downloads.ENVELOPE_MEDIA_TYPE): OpenApiResponse(
                OpenApiTypes.OBJECT,
                description="`{payloadType, payload, signatures: [{keyid, sig}]}`",
                examples=[examples.ENVELOPE],
            ),
            **errors(404),
        },
        tags=["attestations"],
    )
    def get(self, request: Request, pk: int) -> HttpResponse:
        return downloads.envelope_download(_attestation_or_404(self, pk))


class AttestationStatementApi(ApiView):
    """The exact in-toto statement bytes that were signed (the envelope's payload)."""

    @extend_schema(
        operation_id="attestations_statement",
        parameters=[ID_PARAMETER],
        summary="The signed in-toto statement, byte for byte (download)",
        responses={
            (200, downloads.STATEMENT_MEDIA_TYPE): OpenApiResponse(
                OpenApiTypes.OBJECT,
                description="The statement exactly as signed.",
                examples=[examples.STATEMENT],
            ),
            **errors(404),
        },
        tags=["attestations"],
    )
    def get(self, request: Request, pk: int) -> HttpResponse:
        return downloads.statement_download(_attestation_or_404(self, pk))


# =============================================================================================
# Gate


class GateApi(ApiView):
    """May this digest be deployed? (docs/api.md, "The deployment gate")"""

    InputSerializer = s.GateInput
    OutputSerializer = s.GateOutput

    @extend_schema(
        operation_id="gate",
        summary="Deployment gate: may this digest be deployed?",
        description=(
            "Allowed only when a current (not superseded) attestation you may see names the "
            "digest, its signature re-verifies against the registered public key, every task "
            "it records in scope succeeded, and every `require_tasks` entry is recorded as "
            "succeeded. Always 200 for a well-formed question; `allowed` is the answer."
        ),
        parameters=[s.GateInput],
        responses={200: s.GateOutput, **errors(400)},
        examples=[examples.GATE_ALLOWED, examples.GATE_DENIED],
        tags=["gate"],
    )
    def get(self, request: Request) -> Response:
        params = _filters(self.InputSerializer, request)
        require = [t.strip() for t in params.get("require_tasks", "").split(",") if t.strip()]
        try:
            decision = gate_evaluate(
                namespaces=self.visible(),
                digest=params["digest"],
                namespace=params.get("namespace"),
                require_tasks=require,
                scope=params.get("scope"),
            )
        except ValueError as exc:
            raise ValidationError({"detail": str(exc)}) from None
        return Response(self.OutputSerializer(decision).data)


# =============================================================================================
# Namespace settings and keys

NAMESPACE_PARAMETER = OpenApiParameter(
    "namespace",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    pattern=NAMESPACE_NAME.pattern.join("^$"),
    description="A Kubernetes namespace name.",
)


class NamespaceSettingsApi(ApiView):
    """GET (any role in the namespace) or PUT/PATCH (admin of it) a namespace's settings."""

    required_role = ApiToken.Role.ADMIN
    InputSerializer = s.NamespaceSettingsInput
    ReplaceInputSerializer = s.NamespaceSettingsReplaceInput
    OutputSerializer = s.NamespaceSettingsOutput

    def _check_namespace(self, namespace: str, *, write: bool) -> None:
        if not NAMESPACE_NAME.fullmatch(namespace):
            raise ValidationError({"detail": f"{namespace!r} is not a Kubernetes namespace name"})
        if write and not self.access.allows(namespace, ApiToken.Role.ADMIN):
            raise PermissionDenied(f"you may not change the settings of namespace {namespace!r}")
        if not write and not self.access.allows(namespace, ApiToken.Role.VIEWER):
            raise Http404("no such namespace")

    def _settings(self, namespace: str) -> Response:
        return Response(self.OutputSerializer(namespace_settings_view(namespace)).data)

    def _update(self, request: Request, namespace: str, serializer_class: type[Any]) -> Response:
        self._check_namespace(namespace, write=True)
        if not isinstance(request.data, dict):
            raise ValidationError({"detail": "the body must be a JSON object"})
        try:
            check_fields(request.data)
        except ConfigError as exc:
            raise ValidationError({"detail": str(exc)}) from None
        serializer = serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            services.namespace_settings_update(
                namespace=namespace,
                changes=dict(serializer.validated_data),
                actor=self.access.actor,
            )
        except ProvenanceError as exc:
            raise ValidationError({"detail": str(exc)}) from None
        return self._settings(namespace)

    @extend_schema(
        operation_id="namespace_settings_retrieve",
        summary="A namespace's attestation settings",
        parameters=[NAMESPACE_PARAMETER],
        responses={200: s.NamespaceSettingsOutput, **errors(400, 404)},
        examples=[examples.SETTINGS],
        tags=["settings"],
    )
    def get(self, request: Request, namespace: str) -> Response:
        self._check_namespace(namespace, write=False)
        return self._settings(namespace)

    @extend_schema(
        operation_id="namespace_settings_update",
        summary="Replace a namespace's settings (admin)",
        description="Every field is required. Audited; re-signs the namespace's runs.",
        parameters=[NAMESPACE_PARAMETER],
        request=s.NamespaceSettingsReplaceInput,
        responses={200: s.NamespaceSettingsOutput, **errors(400, 403, 415)},
        examples=[examples.SETTINGS_PUT, examples.SETTINGS],
        tags=["settings"],
    )
    def put(self, request: Request, namespace: str) -> Response:
        return self._update(request, namespace, self.ReplaceInputSerializer)

    @extend_schema(
        operation_id="namespace_settings_partial_update",
        summary="Change some of a namespace's settings (admin)",
        description="Only the fields given change. Audited; re-signs the namespace's runs.",
        parameters=[NAMESPACE_PARAMETER],
        request=s.NamespaceSettingsInput,
        responses={200: s.NamespaceSettingsOutput, **errors(400, 403, 415)},
        examples=[examples.SETTINGS_PATCH, examples.SETTINGS],
        tags=["settings"],
    )
    def patch(self, request: Request, namespace: str) -> Response:
        return self._update(request, namespace, self.InputSerializer)


class KeyListApi(ApiView):
    """The registered public keys (PEM) with their key ids."""

    OutputSerializer = s.SigningKeyListOutput

    @extend_schema(
        operation_id="keys_list",
        summary="Public keys to verify envelopes with",
        description="Keys of the namespaces you may see, and the deployment-wide default keys.",
        responses={200: s.SigningKeyListOutput, **errors()},
        examples=[examples.KEYS],
        tags=["keys"],
    )
    def get(self, request: Request) -> Response:
        keys = signing_key_list(namespaces=self.visible())
        return Response(self.OutputSerializer({"results": keys}).data)
