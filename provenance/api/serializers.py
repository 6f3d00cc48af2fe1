"""Input and output shapes of the API; no logic."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from provenance.core.plan import EMIT_POLICIES, SCOPES
from provenance.core.slsa.config import BUILD_TYPES, FORMAT_NAMES, PREDICATE_VERSION
from provenance.models import Attestation


class IngestedRecordOutput(serializers.Serializer[Any]):
    kind = serializers.CharField()
    namespace = serializers.CharField()
    name = serializers.CharField()
    uid = serializers.CharField()
    outcome = serializers.CharField()


class NamespaceSettingsInput(serializers.Serializer[Any]):
    format = serializers.ChoiceField(choices=FORMAT_NAMES, required=False)
    deep_inspection = serializers.BooleanField(required=False)
    scope = serializers.ChoiceField(choices=SCOPES, required=False)
    emit = serializers.ChoiceField(choices=EMIT_POLICIES, required=False)
    builder_id = serializers.CharField(required=False, max_length=500)
    build_type = serializers.ChoiceField(choices=BUILD_TYPES, required=False)


class NamespaceSettingsOutput(serializers.Serializer[Any]):
    namespace = serializers.CharField()
    format = serializers.CharField()
    predicate = serializers.SerializerMethodField()
    deep_inspection = serializers.BooleanField()
    scope = serializers.CharField()
    emit = serializers.CharField()
    builder_id = serializers.CharField()
    build_type = serializers.CharField()
    signing_key = serializers.CharField(allow_null=True)
    configured = serializers.BooleanField()

    def get_predicate(self, obj: dict[str, Any]) -> str:
        return PREDICATE_VERSION.get(obj["format"], "")


class AttestationOutput(serializers.ModelSerializer[Attestation]):
    pipeline_run = serializers.CharField(source="run.name")
    run_uid = serializers.CharField(source="run.uid")
    run_kind = serializers.CharField(source="run.kind")
    predicate = serializers.SerializerMethodField()
    subjects = serializers.SerializerMethodField()
    status = serializers.CharField(source="run_status")
    reason = serializers.CharField(source="run_reason")
    chain_seq = serializers.SerializerMethodField()
    envelope_url = serializers.SerializerMethodField()

    class Meta:
        model = Attestation
        fields = [
            "id",
            "namespace",
            "pipeline_run",
            "run_uid",
            "run_kind",
            "format",
            "predicate",
            "scope",
            "emit",
            "subjects",
            "status",
            "reason",
            "key_id",
            "envelope_sha256",
            "created",
            "superseded_by",
            "chain_seq",
            "envelope_url",
        ]

    def get_predicate(self, obj: Attestation) -> str:
        return PREDICATE_VERSION.get(obj.format, "")

    def get_subjects(self, obj: Attestation) -> list[dict[str, Any]]:
        grouped: dict[str, dict[str, str]] = {}
        for artifact in obj.subjects.all():
            grouped.setdefault(artifact.uri, {})[artifact.algorithm] = artifact.hex
        return [{"name": name, "digest": digest} for name, digest in grouped.items()]

    def get_chain_seq(self, obj: Attestation) -> int | None:
        entry = getattr(obj, "chain_entry", None)
        return entry.seq if entry is not None else None

    def get_envelope_url(self, obj: Attestation) -> str:
        path = f"/api/v1/attestations/{obj.pk}/envelope"
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


class SigningKeyOutput(serializers.Serializer[Any]):
    key_id = serializers.CharField()
    algorithm = serializers.CharField()
    namespace = serializers.CharField()
    purpose = serializers.CharField()
    public_key = serializers.CharField(source="public_key_pem")
    created = serializers.DateTimeField()
