"""API v1: a namespace's settings (read by any role in it, changed by its admins) and the
registered public keys."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from provenance import services
from provenance.config import NAMESPACE_NAME, ConfigError, check_fields
from provenance.core.errors import ProvenanceError
from provenance.models import ApiToken
from provenance.reads.keys import signing_key_list
from provenance.reads.namespaces import namespace_settings_view
from provenance.reads.trust import trust_bundle

from . import examples
from . import serializers as s
from .base import ApiView
from .schema import errors

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
            check_fields(name for name in request.data if name != "reason")
        except ConfigError as exc:
            raise ValidationError({"detail": str(exc)}) from None
        serializer = serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        changes = dict(serializer.validated_data)
        reason = changes.pop("reason", "")
        if "retention_days" in changes:
            changes["retention_days"] = changes["retention_days"] or None  # 0: for ever
        try:
            services.namespace_settings_update(
                namespace=namespace, changes=changes, actor=self.access.actor, reason=reason
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
        description="Every attestation setting is required; the retention fields may be left "
        "out. Audited; a change to how statements are made re-signs the namespace's runs.",
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
        description="Only the fields given change. Audited; a change to how statements are "
        "made re-signs the namespace's runs (retention_days, legal_hold and the oci_* "
        "publishing fields re-sign nothing; setting or lifting a legal hold needs a reason).",
        parameters=[NAMESPACE_PARAMETER],
        request=s.NamespaceSettingsInput,
        responses={200: s.NamespaceSettingsOutput, **errors(400, 403, 415)},
        examples=[
            examples.SETTINGS_PATCH,
            examples.SETTINGS_PUBLISH,
            examples.SETTINGS_HOLD,
            examples.SETTINGS,
        ],
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
        bundle = trust_bundle().keys
        return Response(self.OutputSerializer({"results": keys}, context={"bundle": bundle}).data)
