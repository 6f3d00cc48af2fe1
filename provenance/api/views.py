"""API v1 views: one class per endpoint, each a thin shell around a service or selector.

Every error is JSON ``{"error": "..."}`` with a 4xx status (``error_handler``).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpResponse
from rest_framework import generics, status
from rest_framework.exceptions import APIException, ParseError, PermissionDenied, ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView, exception_handler

from provenance import selectors, services
from provenance.auth import BearerTokenAuthentication, HasRole, TokenUser
from provenance.core.errors import ProvenanceError
from provenance.models import ApiToken, Attestation

from .serializers import (
    AttestationOutput,
    IngestedRecordOutput,
    NamespaceSettingsInput,
    NamespaceSettingsOutput,
    SigningKeyOutput,
)


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "the request body is too large"


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
    """DRF's handler, reshaped to ``{"error": "..."}``."""
    response = exception_handler(exc, context)
    if response is not None:
        response.data = {"error": "; ".join(_flatten(response.data)) or "error"}
    return response


class TokenApi(APIView):
    """Base: bearer tokens only, role-checked, JSON errors."""

    authentication_classes = [BearerTokenAuthentication]
    permission_classes = [HasRole]
    required_role: str = ApiToken.Role.VIEWER

    def get_exception_handler(self) -> Any:
        return error_handler

    def token_user(self) -> TokenUser:
        user = self.request.user
        assert isinstance(user, TokenUser)
        return user


class RecordIngestApi(TokenApi):
    """POST run records (JSON or YAML; one object, a List or multi-document YAML) → 202."""

    required_role = ApiToken.Role.INGESTER
    OutputSerializer = IngestedRecordOutput

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
        user = self.token_user()
        try:
            result = services.records_ingest(
                data=body, namespaces_allowed=user.namespaces, source=f"api:{user.name}"
            )
        except services.NamespaceForbidden as exc:
            raise PermissionDenied(str(exc)) from None
        except ProvenanceError as exc:
            raise ValidationError({"detail": str(exc)}) from None
        data = self.OutputSerializer(result.records, many=True).data
        return Response({"records": data}, status=status.HTTP_202_ACCEPTED)


class AttestationCursorPagination(CursorPagination):
    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


class AttestationListApi(TokenApi, generics.ListAPIView[Attestation]):
    """GET attestations, filtered by subject_digest / subject_digest_prefix / namespace /
    pipeline_run / current, newest first, cursor-paginated."""

    serializer_class = AttestationOutput
    pagination_class = AttestationCursorPagination

    def get_queryset(self) -> Any:
        params = self.request.query_params
        current = params.get("current")
        try:
            return selectors.attestation_list(
                namespaces=self.token_user().namespaces,
                subject_digest=params.get("subject_digest"),
                subject_digest_prefix=params.get("subject_digest_prefix"),
                namespace=params.get("namespace"),
                pipeline_run=params.get("pipeline_run"),
                current=None if current is None else current.lower() in ("1", "true", "yes"),
            )
        except ValueError as exc:
            raise ValidationError({"detail": str(exc)}) from None


class AttestationEnvelopeApi(TokenApi):
    """GET the DSSE envelope of one attestation, as a file download."""

    def get(self, request: Request, pk: int) -> HttpResponse:
        attestation = selectors.attestation_get(pk=pk, namespaces=self.token_user().namespaces)
        if attestation is None:
            raise Http404("no such attestation")
        response = HttpResponse(bytes(attestation.envelope), content_type="application/json")
        response["Content-Disposition"] = f'attachment; filename="attestation-{pk}.dsse.json"'
        return response


class NamespaceSettingsApi(TokenApi):
    """GET (any role) or PATCH (admin) one namespace's attestation settings."""

    required_role = ApiToken.Role.ADMIN
    read_role = ApiToken.Role.VIEWER
    InputSerializer = NamespaceSettingsInput
    OutputSerializer = NamespaceSettingsOutput

    def _check_namespace(self, namespace: str, *, write: bool) -> None:
        if not services.NAMESPACE_NAME.fullmatch(namespace):
            raise ValidationError({"detail": f"{namespace!r} is not a Kubernetes namespace name"})
        allowed = self.token_user().namespaces
        if allowed is not None and namespace not in allowed:
            if write:
                raise PermissionDenied(f"this token may not change namespace {namespace!r}")
            raise Http404("no such namespace")

    def get(self, request: Request, namespace: str) -> Response:
        self._check_namespace(namespace, write=False)
        return Response(self.OutputSerializer(selectors.namespace_settings_view(namespace)).data)

    def patch(self, request: Request, namespace: str) -> Response:
        self._check_namespace(namespace, write=True)
        if not isinstance(request.data, dict):
            raise ValidationError({"detail": "the body must be a JSON object"})
        unknown = set(request.data) - set(self.InputSerializer().fields)
        if unknown:
            raise ValidationError({"detail": f"unknown field(s): {', '.join(sorted(unknown))}"})
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            services.namespace_settings_update(
                namespace=namespace,
                changes=dict(serializer.validated_data),
                actor=f"token:{self.token_user().name}",
            )
        except ProvenanceError as exc:
            raise ValidationError({"detail": str(exc)}) from None
        return Response(self.OutputSerializer(selectors.namespace_settings_view(namespace)).data)


class KeyListApi(TokenApi):
    """GET the registered public keys (PEM) with their key ids."""

    OutputSerializer = SigningKeyOutput

    def get(self, request: Request) -> Response:
        keys = selectors.signing_key_list(namespaces=self.token_user().namespaces)
        return Response({"results": self.OutputSerializer(keys, many=True).data})
