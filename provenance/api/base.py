"""What every API endpoint shares: JSON errors (``error_handler``, and the JSON 404/500 pages
under /api/), content negotiation, cursor pagination, the base view with its access rule, and
reading a filter serializer."""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, NotFound, ValidationError
from rest_framework.fields import empty
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.parsers import BaseParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView, exception_handler, set_rollback

from provenance.access import Access
from provenance.auth import request_access
from provenance.models import ApiToken

from . import examples

logger = logging.getLogger(__name__)

# Seconds a client is told to wait when the database is unavailable (a restart takes a few).
DATABASE_RETRY_AFTER = 5


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "the request body is too large"


class Gone(APIException):
    """What was here was removed on purpose (a raw record pruned under retention)."""

    status_code = status.HTTP_410_GONE
    default_detail = "gone"


class UidConflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "a record's uid is stored for a run of another namespace"


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
        if not (wanted.isascii() and wanted.isdigit() and len(wanted) <= 18 and int(wanted) > 0):
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
                "schema": {"type": "integer", "minimum": 1, "maximum": 999_999_999_999_999_999},
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


def filters_of(
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
