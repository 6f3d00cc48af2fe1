"""Input and output shapes of the API; no logic.

Field names are part of the API contract (docs/api.md): add fields, never rename or drop them.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, MutableMapping
from datetime import UTC, tzinfo
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

from django.conf import settings
from django.db import models
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from provenance.core.plan import EMIT_POLICIES, SCOPES
from provenance.core.slsa.config import BUILD_TYPES, FORMAT_NAMES, PREDICATE_VERSION
from provenance.models import Artifact, Attestation, ComputeStatus, RunKind, RunRecord
from provenance.reads.verify import Verdict

if TYPE_CHECKING:
    from django.utils.functional import _StrPromise as StrPromise

DIGEST_PATTERN = r"^[A-Za-z0-9]{1,16}:[0-9a-fA-F]{1,128}$"
DIGEST_PREFIX_PATTERN = r"^[A-Za-z0-9]{1,16}:[0-9a-fA-F]{4,128}$"
CONDITION_STATUSES = ("True", "False", "Unknown")
DIGEST_ERRORS: dict[str, str | StrPromise] = {"invalid": "must look like sha256:<hex>"}
DIGEST_PREFIX_ERRORS: dict[str, str | StrPromise] = {
    "invalid": "must look like sha256:<at least 4 hex digits>"
}


class StrictCharField(serializers.CharField):
    """A JSON string only: DRF would turn ``0`` or ``true`` into ``"0"`` / ``"True"``."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))


class StrictBooleanField(serializers.BooleanField):
    """A JSON ``true``/``false`` only (DRF also takes "yes", 1, "on", ...)."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class StrictChoiceField(serializers.ChoiceField):
    """One of the choices, as a JSON string."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str):
            self.fail("invalid_choice", input=data)
        return super().to_internal_value(data)


def _absolute(context: Mapping[str, Any], path: str) -> str:
    request = context.get("request")
    return request.build_absolute_uri(path) if request is not None else path


# An argument ``reverse()`` puts into a path as it is (nothing to quote, no dot segment).
_PLAIN_ARG = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,300}")
# Stand-ins for a route's argument, tried in turn until one fits its converter (id, str, digest).
_MARKERS = ("987654321987654321", "zq9xmarkzq9x", "zq9x:9876543210fedcba9876543210")


class _Links:
    """Absolute API links for one request: one ``reverse()`` per route, not one per row.

    Each route is reversed once with a stand-in argument and split around it; a row's link is
    its argument joined into the two halves. An argument ``reverse()`` would quote takes the
    slow path, so a link is always what ``build_absolute_uri(reverse(...))`` gives.
    """

    def __init__(self, context: Mapping[str, Any]) -> None:
        self.context = context
        self.halves: dict[str, list[str] | None] = {}

    def _split(self, route: str) -> list[str] | None:
        for marker in _MARKERS:
            try:
                parts = _absolute(self.context, reverse(route, args=[marker])).split(marker)
            except NoReverseMatch:
                continue
            return parts if len(parts) == 2 else None
        return None

    def url(self, route: str, arg: int | str) -> str:
        if route not in self.halves:
            self.halves[route] = self._split(route)
        halves = self.halves[route]
        text = str(arg)
        if halves is None or not _PLAIN_ARG.fullmatch(text):
            return _absolute(self.context, reverse(route, args=[arg]))
        return text.join(halves)


def _link(context: Mapping[str, Any], route: str, arg: int | str) -> str:
    """``route``'s absolute link for ``arg``, through the request's one ``_Links``."""
    links: _Links | None = context.get("_links")
    if links is None:
        links = _Links(context)
        if isinstance(context, MutableMapping):  # DRF's: one dict shared by every row
            context["_links"] = links
    return links.url(route, arg)


def output_zone() -> tzinfo | None:
    """The zone DRF's ``DateTimeField`` shows times in (None: naive UTC); ``datetime.UTC`` for
    the UTC zone, the zone the database's times come in, so they need no conversion."""
    if not settings.USE_TZ:
        return None
    zone = timezone.get_current_timezone()
    return UTC if getattr(zone, "key", None) in ("UTC", "Etc/UTC") else zone


class _DateTimeOutput(serializers.DateTimeField):
    """DRF's, asking for the current time zone once per field (a field lives one request), not
    once per value."""

    def default_timezone(self) -> tzinfo | None:
        if not hasattr(self, "_zone"):
            self._zone = output_zone()
        return self._zone


_M = TypeVar("_M", bound=models.Model)


# A model's output exactly as DRF shows it, with two per-row costs paid once per serializer.
# (A comment, not a docstring: drf-spectacular would put it in every subclass's schema.)
class _ModelOutput(serializers.ModelSerializer[_M]):
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DateTimeField: _DateTimeOutput,
    }

    @cached_property
    def _readable_fields(self) -> list[serializers.Field[Any, Any, Any, Any]]:
        # DRF's is a generator over its field mapping, walked again for every row.
        return [field for field in self.fields.values() if not field.write_only]

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        # DRF builds the fields from the model for every serializer (every request); they only
        # depend on the class, so build them once per class and hand out copies, as DRF does
        # with the declared fields.
        built = _BUILT_FIELDS.get(type(self))
        if built is None:
            built = _BUILT_FIELDS[type(self)] = super().get_fields()
        return copy.deepcopy(built)


_BUILT_FIELDS: dict[type[serializers.Serializer[Any]], dict[str, Any]] = {}


# =============================================================================================
# Records


class IngestedRecordOutput(serializers.Serializer[Any]):
    kind = serializers.CharField()
    namespace = serializers.CharField()
    name = serializers.CharField()
    uid = serializers.CharField()
    outcome = serializers.ChoiceField(choices=["created", "updated", "unchanged"])


class IngestOutput(serializers.Serializer[Any]):
    records = IngestedRecordOutput(many=True)


class RecordFilterInput(serializers.Serializer[Any]):
    namespace = serializers.CharField(required=False, max_length=253)
    kind = serializers.ChoiceField(choices=RunKind.values, required=False)
    pipeline = serializers.CharField(
        required=False,
        max_length=253,
        help_text="Pipeline name: a PipelineRun's pipelineRef, a TaskRun's tekton.dev/pipeline.",
    )
    task = serializers.CharField(
        required=False, max_length=253, help_text="A TaskRun's task name or pipeline task."
    )
    name = serializers.CharField(required=False, max_length=253)
    pipeline_run = serializers.CharField(
        required=False, max_length=253, help_text="TaskRuns of this PipelineRun (name or uid)."
    )
    status = serializers.ChoiceField(
        choices=CONDITION_STATUSES,
        required=False,
        help_text="The Succeeded condition: True (succeeded), False (failed), Unknown (running).",
    )
    compute_status = serializers.ChoiceField(choices=ComputeStatus.values, required=False)
    started_after = serializers.DateTimeField(required=False)
    started_before = serializers.DateTimeField(required=False)
    completed_after = serializers.DateTimeField(required=False)
    completed_before = serializers.DateTimeField(required=False)


def record_pipeline(kind: str, definition: str, labels: Mapping[str, Any] | None) -> str:
    """A PipelineRun's pipeline; a TaskRun's ``tekton.dev/pipeline`` label."""
    if kind == RunKind.PIPELINE_RUN:
        return definition
    return str((labels or {}).get("tekton.dev/pipeline", ""))


def record_task(kind: str, definition: str) -> str:
    """A TaskRun's task; empty for a PipelineRun."""
    return definition if kind == RunKind.TASK_RUN else ""


class RecordOutput(_ModelOutput[RunRecord]):
    pipeline = serializers.SerializerMethodField()
    task = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()
    raw_url = serializers.SerializerMethodField()

    class Meta:
        model = RunRecord
        fields = [
            "uid",
            "kind",
            "namespace",
            "name",
            "pipeline",
            "task",
            "pipeline_task",
            "parent_uid",
            "parent_name",
            "status",
            "reason",
            "start_time",
            "completion_time",
            "labels",
            "resource_version",
            "first_seen",
            "updated",
            "compute_status",
            "compute_reason",
            "url",
            "raw_url",
        ]
        read_only_fields = fields

    def get_pipeline(self, obj: RunRecord) -> str:
        return record_pipeline(obj.kind, obj.definition, obj.labels)

    def get_task(self, obj: RunRecord) -> str:
        return record_task(obj.kind, obj.definition)

    def get_url(self, obj: RunRecord) -> str:
        return _link(self.context, "api:record-detail", obj.uid)

    def get_raw_url(self, obj: RunRecord) -> str:
        return _link(self.context, "api:record-raw", obj.uid)


class AttestationBriefOutput(_ModelOutput[Attestation]):
    predicate = serializers.SerializerMethodField()
    status = serializers.CharField(source="run_status")
    url = serializers.SerializerMethodField()

    class Meta:
        model = Attestation
        fields = [
            "id",
            "namespace",
            "format",
            "predicate",
            "scope",
            "emit",
            "status",
            "created",
            "superseded_by",
            "url",
        ]
        read_only_fields = fields

    def get_predicate(self, obj: Attestation) -> str:
        return PREDICATE_VERSION.get(obj.format, "")

    def get_url(self, obj: Attestation) -> str:
        return _link(self.context, "api:attestation-detail", obj.pk)


class RecordDetailOutput(RecordOutput):
    children = serializers.SerializerMethodField()
    attestations = serializers.SerializerMethodField()

    class Meta(RecordOutput.Meta):
        fields = [*RecordOutput.Meta.fields, "children", "attestations"]
        read_only_fields = fields

    @extend_schema_field(RecordOutput(many=True))
    def get_children(self, obj: RunRecord) -> Any:
        return RecordOutput(self.context["children"], many=True, context=self.context).data

    @extend_schema_field(AttestationBriefOutput(many=True))
    def get_attestations(self, obj: RunRecord) -> Any:
        rows = self.context["attestations"]
        return AttestationBriefOutput(rows, many=True, context=self.context).data


# =============================================================================================
# Attestations


def _digest_filter() -> serializers.RegexField:
    return serializers.RegexField(
        DIGEST_PATTERN,
        error_messages=DIGEST_ERRORS,
        required=False,
        help_text="Exact digest, e.g. sha256:<64 hex>.",
    )


def _digest_prefix_filter() -> serializers.RegexField:
    return serializers.RegexField(
        DIGEST_PREFIX_PATTERN,
        error_messages=DIGEST_PREFIX_ERRORS,
        required=False,
        help_text="Digest prefix, at least 4 hex digits.",
    )


class SubjectOutput(serializers.Serializer[Any]):
    name = serializers.CharField()
    digest = serializers.DictField(child=serializers.CharField())


class AttestationFilterInput(serializers.Serializer[Any]):
    subject_digest = _digest_filter()
    subject_digest_prefix = _digest_prefix_filter()
    subject_name = serializers.CharField(
        required=False, help_text="A subject name (image or artifact URI), exact."
    )
    namespace = serializers.CharField(required=False, max_length=253)
    pipeline_run = serializers.CharField(
        required=False, max_length=253, help_text="The attested run's name or uid."
    )
    format = serializers.ChoiceField(choices=FORMAT_NAMES, required=False)
    scope = serializers.ChoiceField(choices=SCOPES, required=False)
    status = serializers.ChoiceField(
        choices=CONDITION_STATUSES,
        required=False,
        help_text="The run's Succeeded condition when the statement was signed.",
    )
    created_after = serializers.DateTimeField(required=False)
    created_before = serializers.DateTimeField(required=False)
    current = serializers.BooleanField(
        required=False, help_text="true: not superseded; false: superseded."
    )
    verified = serializers.BooleanField(
        required=False,
        help_text="true: the signature and hashes re-check against the registered key now.",
    )


class AttestationOutput(_ModelOutput[Attestation]):
    pipeline_run = serializers.CharField(source="run.name")
    run_uid = serializers.CharField(source="run.uid")
    run_kind = serializers.CharField(source="run.kind")
    predicate = serializers.SerializerMethodField()
    subjects = serializers.SerializerMethodField()
    status = serializers.CharField(source="run_status")
    reason = serializers.CharField(source="run_reason")
    chain_seq = serializers.SerializerMethodField()
    verified = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()
    envelope_url = serializers.SerializerMethodField()
    statement_url = serializers.SerializerMethodField()
    run_url = serializers.SerializerMethodField()

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
            "statement_sha256",
            "created",
            "superseded_by",
            "chain_seq",
            "verified",
            "url",
            "envelope_url",
            "statement_url",
            "run_url",
        ]
        read_only_fields = fields

    def get_predicate(self, obj: Attestation) -> str:
        return PREDICATE_VERSION.get(obj.format, "")

    @extend_schema_field(SubjectOutput(many=True))
    def get_subjects(self, obj: Attestation) -> list[dict[str, Any]]:
        subjects: dict[int, list[dict[str, Any]]] = self.context["subjects"]
        return subjects.get(obj.pk, [])

    def get_chain_seq(self, obj: Attestation) -> int | None:
        entry = getattr(obj, "chain_entry", None)
        return entry.seq if entry is not None else None

    def get_verified(self, obj: Attestation) -> bool:
        verdict: Verdict | None = self.context.get("verdicts", {}).get(obj.pk)
        return verdict is not None and verdict.ok

    def get_url(self, obj: Attestation) -> str:
        return _link(self.context, "api:attestation-detail", obj.pk)

    def get_envelope_url(self, obj: Attestation) -> str:
        return _link(self.context, "api:attestation-envelope", obj.pk)

    def get_statement_url(self, obj: Attestation) -> str:
        return _link(self.context, "api:attestation-statement", obj.pk)

    def get_run_url(self, obj: Attestation) -> str:
        return _link(self.context, "api:record-detail", obj.run.uid)


class AttestationDetailOutput(AttestationOutput):
    settings = serializers.JSONField()
    supersedes = serializers.SerializerMethodField()
    problems = serializers.SerializerMethodField()

    class Meta(AttestationOutput.Meta):
        fields = [*AttestationOutput.Meta.fields, "settings", "supersedes", "problems"]
        read_only_fields = fields

    def get_supersedes(self, obj: Attestation) -> list[int]:
        supersedes: list[int] = self.context.get("supersedes", [])
        return supersedes

    def get_problems(self, obj: Attestation) -> list[str]:
        verdict: Verdict | None = self.context.get("verdicts", {}).get(obj.pk)
        return verdict.messages if verdict is not None else ["not checked"]


# =============================================================================================
# Artifacts


class ArtifactFilterInput(serializers.Serializer[Any]):
    digest = _digest_filter()
    digest_prefix = _digest_prefix_filter()
    uri = serializers.CharField(required=False, help_text="Subject name (image or URI), exact.")
    namespace = serializers.CharField(
        required=False, max_length=253, help_text="Named by an attestation of this namespace."
    )


class BundleFilterInput(serializers.Serializer[Any]):
    current = serializers.BooleanField(
        required=False, help_text="true: leave out superseded attestations."
    )


class ArtifactOutput(_ModelOutput[Artifact]):
    digest = serializers.SerializerMethodField()
    namespaces = serializers.ListField(child=serializers.CharField(), source="visible_namespaces")
    attestation_count = serializers.IntegerField()
    url = serializers.SerializerMethodField()
    attestations_url = serializers.SerializerMethodField()

    class Meta:
        model = Artifact
        fields = [
            "id",
            "uri",
            "algorithm",
            "hex",
            "digest",
            "namespaces",
            "attestation_count",
            "url",
            "attestations_url",
        ]
        read_only_fields = fields

    def get_digest(self, obj: Artifact) -> str:
        return f"{obj.algorithm}:{obj.hex}"

    def get_url(self, obj: Artifact) -> str:
        return _link(self.context, "api:artifact-detail", obj.pk)

    def get_attestations_url(self, obj: Artifact) -> str:
        digest = f"{obj.algorithm}:{obj.hex}"
        return _link(self.context, "api:artifact-attestations-jsonl", digest)


class ArtifactDetailOutput(ArtifactOutput):
    attestations = serializers.SerializerMethodField()

    class Meta(ArtifactOutput.Meta):
        fields = [*ArtifactOutput.Meta.fields, "attestations"]
        read_only_fields = fields

    @extend_schema_field(AttestationOutput(many=True))
    def get_attestations(self, obj: Artifact) -> Any:
        rows = self.context["attestations"]
        return AttestationOutput(rows, many=True, context=self.context).data


# =============================================================================================
# Gate


class GateInput(serializers.Serializer[Any]):
    digest = serializers.RegexField(
        DIGEST_PATTERN,
        error_messages=DIGEST_ERRORS,
        help_text="The artifact's digest, e.g. sha256:<64 hex>.",
    )
    namespace = serializers.CharField(
        required=False, max_length=253, help_text="Only attestations of this namespace count."
    )
    require_tasks = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=2000,
        help_text="Comma-separated pipeline task names that must have succeeded, e.g. scan,test.",
    )
    scope = serializers.ChoiceField(
        choices=SCOPES, required=False, help_text="Only attestations of this scope count."
    )


class GateCandidateOutput(serializers.Serializer[Any]):
    attestation = serializers.IntegerField(source="attestation.pk")
    namespace = serializers.CharField(source="attestation.namespace")
    scope = serializers.CharField(source="attestation.scope")
    allowed = serializers.BooleanField()
    reasons = serializers.ListField(child=serializers.CharField())


class GateOutput(serializers.Serializer[Any]):
    allowed = serializers.BooleanField()
    reasons = serializers.ListField(child=serializers.CharField())
    attestation = serializers.IntegerField(allow_null=True)
    digest = serializers.CharField()
    candidates = GateCandidateOutput(many=True)


# =============================================================================================
# Namespace settings and keys


class NamespaceSettingsInput(serializers.Serializer[Any]):
    format = StrictChoiceField(choices=FORMAT_NAMES, required=False)
    deep_inspection = StrictBooleanField(required=False)
    scope = StrictChoiceField(choices=SCOPES, required=False)
    emit = StrictChoiceField(choices=EMIT_POLICIES, required=False)
    builder_id = StrictCharField(required=False, max_length=500)
    build_type = StrictChoiceField(choices=BUILD_TYPES, required=False)


class NamespaceSettingsReplaceInput(serializers.Serializer[Any]):
    """PUT: the whole settings object."""

    format = StrictChoiceField(choices=FORMAT_NAMES)
    deep_inspection = StrictBooleanField()
    scope = StrictChoiceField(choices=SCOPES)
    emit = StrictChoiceField(choices=EMIT_POLICIES)
    builder_id = StrictCharField(max_length=500)
    build_type = StrictChoiceField(choices=BUILD_TYPES)


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

    @extend_schema_field(OpenApiTypes.STR)
    def get_predicate(self, obj: dict[str, Any]) -> str:
        return PREDICATE_VERSION.get(obj["format"], "")


class SigningKeyOutput(serializers.Serializer[Any]):
    key_id = serializers.CharField()
    algorithm = serializers.CharField()
    namespace = serializers.CharField()
    purpose = serializers.CharField()
    public_key = serializers.CharField(source="public_key_pem")
    created = serializers.DateTimeField()


class SigningKeyListOutput(serializers.Serializer[Any]):
    results = SigningKeyOutput(many=True)
