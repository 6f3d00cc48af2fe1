"""OpenAPI pieces drf-spectacular cannot infer: the bearer scheme and the shared error shape."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiExample, OpenApiResponse
from rest_framework import serializers


class BearerTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "provenance.auth.BearerTokenAuthentication"
    match_subclasses = True  # the deployment uses provenance.sso.throttle's, with a bad-token limit
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A token from `manage.py create_token` (`cwt_...`).",
        }


class ErrorSerializer(serializers.Serializer[Any]):
    """Every 4xx answer: one message naming the problem."""

    error = serializers.CharField()


_ERROR_TEXT = {
    400: "A bad parameter or body; the message names it.",
    401: "No credentials, or an invalid, expired or revoked token.",
    403: "Authenticated, but the role or namespace does not allow this write.",
    404: "No such object, or one in a namespace you may not see (the two look the same).",
    409: "A conflict, which the message names: every attestation of the digest fails "
    "verification (bundles), a record's uid is stored for a run of another namespace "
    "(ingest; nothing is stored), or a stored statement cannot be read (diff).",
    410: "The run's raw record was pruned under its namespace's retention; its attestations stay.",
    413: "The request body is larger than INGEST_MAX_BYTES.",
    415: "The body's Content-Type is not accepted.",
    429: "Too many requests for this token or user; retry after Retry-After seconds.",
}
_ERROR_EXAMPLE = {
    400: "subject_digest must look like sha256:<hex>",
    401: "invalid, expired or revoked token",
    403: "this token may not write to namespace 'team-b'",
    404: "no such attestation",
    409: "no attestation of this digest verifies: attestation 42 is not in the chain "
    "(inserted outside the app)",
    410: "the raw record was pruned on 2026-11-30 under the namespace's 30-day retention",
    413: "the request body is larger than 10485760 bytes",
    415: 'Unsupported media type "text/plain" in request.',
    429: "Request was throttled. Expected available in 12 seconds.",
}


def errors(*codes: int) -> dict[int, OpenApiResponse]:
    """Documented error responses (always with 401 and 429, which every endpoint can give)."""
    wanted = sorted({401, 429, *codes})
    return {
        code: OpenApiResponse(
            response=ErrorSerializer,
            description=_ERROR_TEXT[code],
            examples=[
                OpenApiExample(
                    f"error {code}", value={"error": _ERROR_EXAMPLE[code]}, status_codes=[str(code)]
                )
            ],
        )
        for code in wanted
    }
