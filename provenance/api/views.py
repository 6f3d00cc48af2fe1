"""API v1 views: one class per endpoint, each a thin shell around the reads or a service.

Every view authenticates by bearer token or browser session (``provenance.auth``), and asks
``provenance.access`` what the caller may see and do: objects of other namespaces are absent
from lists and a 404 on their own; writes need the role in the namespace they touch (403 naming
it). Every error is JSON ``{"error": "..."}`` (``error_handler``). See docs/api.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpResponse, HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import (
    ParseError,
    PermissionDenied,
    ValidationError,
)
from rest_framework.request import Request
from rest_framework.response import Response

from provenance import downloads, exports, metrics, services
from provenance.access import TokenUser
from provenance.core.digests import DIGEST_PATTERN, parse_query
from provenance.core.errors import ProvenanceError
from provenance.core.limits import TooLarge
from provenance.models import ApiToken, Artifact, Attestation, RunRecord
from provenance.reads import artifacts, attestations, runs
from provenance.reads.compare import attestation_compare
from provenance.reads.exports import (
    ARTIFACT_FIELDS,
    ATTESTATION_FIELDS,
    artifact_rows,
    attestation_rows,
)
from provenance.reads.gate import gate_evaluate
from provenance.reads.verify import Verdict, verify, verify_rows

from . import examples, outputs
from . import serializers as s

# settings.REST_FRAMEWORK and chainsweb/urls.py name these here.
from .base import (  # noqa: F401
    ID_PARAMETER,
    ApiCursorPagination,
    ApiView,
    Gone,
    PayloadTooLarge,
    UidConflict,
    Unverified,
    api_not_found,
    api_server_error,
    error_handler,
    filters_of,
)
from .outputs import ARTIFACT, ATTESTATION, ATTESTATION_BRIEF, ATTESTATION_DETAIL, RECORD, Context
from .schema import errors


def _attestations_shown(request: Request, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``AttestationOutput`` of attestation rows, each with its verdict (``reads.verify``)
    made now."""
    return ATTESTATION.render(rows, Context.of(request, verdicts=_verdicts(rows)))


def _verdicts(rows: list[dict[str, Any]]) -> dict[int, Verdict]:
    """Each row's verdict, made now (and counted for the verification-failures metric)."""
    verdicts = verify_rows(rows)
    metrics.verifications_observed("api", (v.ok for v in verdicts.values()))
    return verdicts


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
        filters = filters_of(self.FilterSerializer, self.request)
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
            "in the background. Needs the ingester (or admin) role in every record's namespace. "
            "A run is identified by its namespace and uid: a record whose uid is stored for a "
            "run of another namespace is a 409, and nothing of the request is stored."
        ),
        request={
            "application/json": OpenApiTypes.OBJECT,
            "application/yaml": OpenApiTypes.STR,
        },
        responses={202: s.IngestOutput, **errors(400, 403, 409, 413)},
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
                source=_api_source(request),
            )
        except services.NamespaceForbidden as exc:
            metrics.records_rejected("api")
            raise PermissionDenied(str(exc)) from None
        except services.UidConflict as exc:
            metrics.records_rejected("api")
            raise UidConflict(str(exc)) from None
        except TooLarge as exc:  # names the limit: INGEST_MAX_OBJECTS, PROVENANCE_MAX_TASKS
            metrics.records_rejected("api")
            raise PayloadTooLarge(str(exc)) from None
        except ProvenanceError as exc:
            metrics.records_rejected("api")
            raise ValidationError({"detail": str(exc)}) from None
        metrics.records_observed("api", (r.outcome for r in result.records))
        data = self.IngestOutputSerializer({"records": result.records}).data
        return Response(data, status=status.HTTP_202_ACCEPTED)


def _api_source(request: Request) -> services.RecordSource:
    """The source of records posted in this request: the token's name, or the signed-in
    user."""
    if isinstance(request.user, TokenUser):
        return services.RecordSource.api(token=request.user.token.name)
    return services.RecordSource.api(user=request.user.get_username())


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
        signed = attestations.attestations_of_run(record).values(*ATTESTATION_BRIEF.columns)
        detail = outputs.record_detail(RECORD.row_of(record), children, signed, Context.of(request))
        return Response(detail)


class RecordRawApi(ApiView):
    """The record exactly as received (its JSON, decompressed)."""

    @extend_schema(
        operation_id="records_raw",
        summary="The record as received",
        description="The stored JSON of the object as it was received (YAML input as JSON); "
        "410 once it was pruned under the namespace's retention (its attestations stay).",
        responses={
            (200, "application/json"): OpenApiResponse(
                OpenApiTypes.OBJECT,
                description="The Tekton object.",
                examples=[examples.RAW_RECORD],
            ),
            **errors(404, 410),
        },
        tags=["records"],
    )
    def get(self, request: Request, uid: str) -> HttpResponse:
        record = _record_or_404(self, uid)
        try:
            raw = runs.run_record_raw(record)
        except runs.RecordPruned as exc:
            raise Gone(str(exc)) from None
        response = HttpResponse(raw, content_type="application/json")
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
        filters = filters_of(self.FilterSerializer, self.request)
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
        ctx = Context.of(request, verdicts=_verdicts(rows))
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
        current = filters_of(self.FilterSerializer, request).get("current")
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
        filters = filters_of(self.FilterSerializer, self.request)
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
        verdict = verify(attestation)
        metrics.verifications_observed("api", [verdict.ok])
        ctx = Context.of(
            request,
            verdicts={pk: verdict},
            supersedes={pk: attestations.attestation_supersedes(attestation)},
            publications={pk: attestations.attestation_publications(attestation)},
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


class AttestationBundleApi(ApiView):
    """The attestation as a Sigstore bundle v0.3 (cosign, sigstore-python, policy-controller)."""

    @extend_schema(
        operation_id="attestations_bundle",
        parameters=[ID_PARAMETER],
        summary="The Sigstore bundle v0.3 (download)",
        description="The DSSE envelope with a public-key hint (the signature's key id) and no "
        "transparency-log entries: verify it with the namespace's public key "
        "(`/api/v1/keys`), e.g. `cosign verify-blob-attestation --bundle ... --key cosign.pub`.",
        responses={
            (200, downloads.SIGSTORE_BUNDLE_MEDIA_TYPE): OpenApiResponse(
                OpenApiTypes.OBJECT,
                description="`{mediaType, verificationMaterial: {publicKey: {hint}, "
                "tlogEntries: []}, dsseEnvelope}`",
                examples=[examples.SIGSTORE_BUNDLE],
            ),
            **errors(404),
        },
        tags=["attestations"],
    )
    def get(self, request: Request, pk: int) -> HttpResponse:
        return downloads.sigstore_bundle_download(_attestation_or_404(self, pk))


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


class AttestationDiffApi(ApiView):
    """What changed between two attestations' statements, as a reader sees it."""

    InputSerializer = s.AttestationDiffInput

    @extend_schema(
        operation_id="attestations_diff",
        parameters=[ID_PARAMETER, s.AttestationDiffInput],
        summary="Compare two attestations",
        description=(
            "What changed from attestation `other` to this one, section by section (format and "
            "settings, builder, run, subjects, tasks in scope and their status, materials or "
            "resolved dependencies, parameters), and the raw JSON diff of the two signed "
            "statements. 404 when either attestation is unknown or in a namespace you may not "
            "see; 409 when a stored statement cannot be read."
        ),
        responses={200: s.AttestationDiffOutput, **errors(400, 404, 409)},
        examples=[examples.ATTESTATION_DIFF],
        tags=["attestations"],
    )
    def get(self, request: Request, pk: int) -> Response:
        other = filters_of(self.InputSerializer, request)["other"]
        comparison = attestation_compare(pk=pk, other=other, namespaces=self.visible())
        if comparison is None:
            raise Http404("no such attestation")
        if comparison.diff is None:
            raise Unverified(f"the statements cannot be compared: {comparison.error}")
        links = outputs.Links(request)
        return Response(
            {
                "attestation": pk,
                "other": other,
                "settings_changed": comparison.settings_changed,
                **comparison.diff.as_json(),
                "url": links.url("api:attestation-detail", pk),
                "other_url": links.url("api:attestation-detail", other),
            }
        )


# =============================================================================================
# Exports (CSV, JSON Lines)


def _export_schema(
    kind: str, file_format: str, filters: type[Any], fields: tuple[str, ...]
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    media = {"csv": exports.CSV_MEDIA_TYPE.split(";")[0], "jsonl": exports.JSONL_MEDIA_TYPE}
    shape = {
        "csv": "CSV: a header row; lists joined with `; `; a cell starting with `=`, `+`, `-`, "
        "`@`, a tab or a carriage return is prefixed with `'` so a spreadsheet shows it as text",
        "jsonl": "JSON Lines: one JSON object per line",
    }
    return extend_schema(
        operation_id=f"{kind}_export_{file_format}",
        summary=f"Export the {kind} list as {file_format.upper()}, streamed",
        description=(
            f"Every {kind[:-1]} matching the filters, newest first, in one streamed file "
            f"({shape[file_format]}). Fields: "
            + ", ".join(f"`{f}`" for f in fields)
            + ". Rows are read in chunks of EXPORT_CHUNK_ROWS, so the size of the list does not "
            "matter"
            + (
                "; each attestation is verified as it is read, and `verified` filters on that "
                "(no cap, unlike the list's)."
                if kind == "attestations"
                else "."
            )
        ),
        parameters=[filters],
        responses={
            (200, media[file_format]): OpenApiResponse(
                OpenApiTypes.STR,
                description=f"The {kind} as {file_format.upper()}.",
                examples=[examples.export_example(kind, file_format, fields)],
            ),
            **errors(400),
        },
        tags=[kind],
    )


class _AttestationExport(ApiView):
    """The attestations list, filtered as ``GET /api/v1/attestations``, as a streamed file."""

    FilterSerializer = s.AttestationFilterInput
    file_format = "csv"

    def export(self, request: Request) -> HttpResponseBase:
        filters = filters_of(self.FilterSerializer, request)
        verified = filters.pop("verified", None)
        try:
            found = attestations.attestation_list(namespaces=self.visible(), **filters)
        except ValueError as exc:
            raise ValidationError({"detail": str(exc)}) from None
        return exports.export_response(
            attestation_rows(found, verified=verified),
            fields=ATTESTATION_FIELDS,
            kind="attestations",
            namespace=filters.get("namespace"),
            file_format=self.file_format,
        )


class AttestationCsvApi(_AttestationExport):
    file_format = "csv"

    @_export_schema("attestations", "csv", s.AttestationFilterInput, ATTESTATION_FIELDS)
    def get(self, request: Request) -> HttpResponseBase:
        return self.export(request)


class AttestationJsonlApi(_AttestationExport):
    file_format = "jsonl"

    @_export_schema("attestations", "jsonl", s.AttestationFilterInput, ATTESTATION_FIELDS)
    def get(self, request: Request) -> HttpResponseBase:
        return self.export(request)


class _ArtifactExport(ApiView):
    """The artifacts list, filtered as the artifacts page, as a streamed file."""

    FilterSerializer = s.ArtifactExportInput
    file_format = "csv"

    def export(self, request: Request) -> HttpResponseBase:
        filters = filters_of(self.FilterSerializer, request)
        found = artifacts.artifact_export(
            namespaces=self.visible(),
            text=filters.get("q", ""),
            namespace=filters.get("namespace", ""),
            attested_after=filters.get("attested_after"),
            attested_before=filters.get("attested_before"),
        )
        return exports.export_response(
            artifact_rows(found),
            fields=ARTIFACT_FIELDS,
            kind="artifacts",
            namespace=filters.get("namespace"),
            file_format=self.file_format,
        )


class ArtifactCsvApi(_ArtifactExport):
    file_format = "csv"

    @_export_schema("artifacts", "csv", s.ArtifactExportInput, ARTIFACT_FIELDS)
    def get(self, request: Request) -> HttpResponseBase:
        return self.export(request)


class ArtifactJsonlApi(_ArtifactExport):
    file_format = "jsonl"

    @_export_schema("artifacts", "jsonl", s.ArtifactExportInput, ARTIFACT_FIELDS)
    def get(self, request: Request) -> HttpResponseBase:
        return self.export(request)


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
            "In each namespace you may see, the gate relies on the one attestation that applies "
            "to the digest (the newest current one of the namespace's scope, or of `scope`, its "
            "format first; `candidates[].chosen_because` says why, `set_aside` lists the other "
            "current ones). "
            "Allowed only when such an attestation names the "
            "digest, its signature re-verifies against the registered public key, every task "
            "it records in scope succeeded, and every `require_tasks` entry is recorded as "
            "succeeded; with `require_source=watch`, its signed statement must also show that "
            "its run was read from the cluster, not uploaded or imported. Always 200 for a "
            "well-formed question; `allowed` is the answer."
        ),
        parameters=[s.GateInput],
        responses={200: s.GateOutput, **errors(400)},
        examples=[examples.GATE_ALLOWED, examples.GATE_DENIED],
        tags=["gate"],
    )
    def get(self, request: Request) -> Response:
        params = filters_of(self.InputSerializer, request)
        require = [t.strip() for t in params.get("require_tasks", "").split(",") if t.strip()]
        try:
            decision = gate_evaluate(
                namespaces=self.visible(),
                digest=params["digest"],
                namespace=params.get("namespace"),
                require_tasks=require,
                scope=params.get("scope"),
                require_source=params.get("require_source"),
            )
        except ValueError as exc:
            raise ValidationError({"detail": str(exc)}) from None
        return Response(self.OutputSerializer(decision).data)
