"""The API's inputs, and its smaller outputs (ingest, gate, settings, keys); no logic.

The record, attestation and artifact outputs are defined in ``provenance.api.outputs``. Field
names are part of the API contract (docs/api.md): add fields, never rename or drop them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from provenance.config import MAX_OCI_REPOSITORY, MAX_REASON, MAX_RETENTION_DAYS
from provenance.core.digests import DIGEST_PATTERN, DIGEST_PREFIX_PATTERN
from provenance.core.plan import EMIT_POLICIES, SCOPES
from provenance.core.slsa.config import BUILD_TYPES, FORMAT_NAMES, PREDICATE_VERSION
from provenance.models import ComputeStatus, RunKind
from provenance.reads.applies import EARLIER, OTHER_SCOPE, UNVERIFIED
from provenance.reads.gate import GATE_SOURCES

if TYPE_CHECKING:
    from django.utils.functional import _StrPromise as StrPromise

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


# =============================================================================================
# Records


class IngestedRecordOutput(serializers.Serializer[Any]):
    kind = serializers.CharField()
    namespace = serializers.CharField()
    name = serializers.CharField()
    uid = serializers.CharField()
    outcome = serializers.ChoiceField(choices=["created", "updated", "unchanged", "pruned"])


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


class AttestationDiffInput(serializers.Serializer[Any]):
    other = serializers.IntegerField(
        min_value=1,
        max_value=999_999_999_999_999_999,
        help_text="The attestation to compare with (the base): the diff reads from it to this one.",
    )


class DiffChangeOutput(serializers.Serializer[Any]):
    item = serializers.CharField(help_text="What differs: a subject name, task, setting, ...")
    kind = serializers.CharField(help_text="added, removed or changed.")
    before = serializers.CharField(help_text="Its value in `other` (empty when added).")
    after = serializers.CharField(help_text="Its value in this attestation (empty when removed).")


class DiffSectionOutput(serializers.Serializer[Any]):
    key = serializers.ChoiceField(
        choices=["format", "builder", "run", "subjects", "tasks", "materials", "parameters"]
    )
    title = serializers.CharField()
    note = serializers.CharField(help_text="What this section cannot compare, when anything.")
    changes = DiffChangeOutput(many=True)


class AttestationDiffOutput(serializers.Serializer[Any]):
    attestation = serializers.IntegerField(help_text="This attestation (after).")
    other = serializers.IntegerField(help_text="The one compared with (before).")
    settings_changed = serializers.BooleanField(
        help_text="The two were made under different namespace settings."
    )
    changed = serializers.BooleanField(help_text="Any section has a change.")
    sections = DiffSectionOutput(many=True)
    raw_diff = serializers.CharField(
        help_text="Unified diff of the two statements as JSON (indented, keys sorted)."
    )
    url = serializers.CharField()
    other_url = serializers.CharField()


# =============================================================================================
# Artifacts


class ArtifactFilterInput(serializers.Serializer[Any]):
    digest = _digest_filter()
    digest_prefix = _digest_prefix_filter()
    uri = serializers.CharField(required=False, help_text="Subject name (image or URI), exact.")
    namespace = serializers.CharField(
        required=False, max_length=253, help_text="Named by an attestation of this namespace."
    )


class ArtifactExportInput(serializers.Serializer[Any]):
    """The artifacts page's filters, for its export."""

    q = serializers.CharField(
        required=False,
        max_length=300,
        help_text="Part of the artifact's name, or a digest prefix (at least 4 hex digits).",
    )
    namespace = serializers.CharField(
        required=False, max_length=253, help_text="Named by an attestation of this namespace."
    )
    attested_after = serializers.DateTimeField(
        required=False, help_text="Last attested at or after this time."
    )
    attested_before = serializers.DateTimeField(
        required=False, help_text="Last attested at or before this time."
    )


class BundleFilterInput(serializers.Serializer[Any]):
    current = serializers.BooleanField(
        required=False, help_text="true: leave out superseded attestations."
    )


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
    require_source = serializers.ChoiceField(
        choices=GATE_SOURCES,
        required=False,
        help_text="watch: only attestations whose signed statement shows its run was read from "
        "the cluster by watch_records (not uploaded or imported) count; see docs/api.md.",
    )


class GateCandidateOutput(serializers.Serializer[Any]):
    attestation = serializers.IntegerField(source="attestation.pk")
    namespace = serializers.CharField(source="attestation.namespace")
    scope = serializers.CharField(source="attestation.scope")
    allowed = serializers.BooleanField()
    reasons = serializers.ListField(child=serializers.CharField())
    chosen_because = serializers.CharField(
        help_text="Why the gate relied on this attestation in its namespace: the sentence the "
        "artifact page shows (the rule is in `rule`)."
    )


class GateSetAsideOutput(serializers.Serializer[Any]):
    attestation = serializers.IntegerField()
    namespace = serializers.CharField()
    scope = serializers.CharField()
    role = serializers.ChoiceField(
        choices=[OTHER_SCOPE, EARLIER, UNVERIFIED],
        help_text="other-scope: current, of a scope the namespace no longer signs (or not the "
        "one asked for); earlier: current, but an older statement of the same scope; "
        "does-not-verify: ranked before the one relied on, but it does not verify now.",
    )
    why = serializers.CharField(source="text")


class GateOutput(serializers.Serializer[Any]):
    allowed = serializers.BooleanField()
    reasons = serializers.ListField(child=serializers.CharField())
    attestation = serializers.IntegerField(allow_null=True)
    digest = serializers.CharField()
    candidates = GateCandidateOutput(
        many=True,
        help_text="In each namespace, the attestation that applies (one per namespace), checked.",
    )
    rule = serializers.CharField(help_text="Which attestation the gate relies on, in words.")
    set_aside = GateSetAsideOutput(
        many=True,
        help_text="Current attestations naming the digest that the gate did not rely on.",
    )


# =============================================================================================
# Namespace settings and keys


class StrictIntegerField(serializers.IntegerField):
    """A JSON number only (DRF also takes "30" and true)."""

    def to_internal_value(self, data: Any) -> int:
        if not isinstance(data, int) or isinstance(data, bool):
            self.fail("invalid")
        return int(super().to_internal_value(data))


class RetentionInput(serializers.Serializer[Any]):
    """The retention fields of PUT and PATCH: optional in both, and they re-sign nothing."""

    retention_days = StrictIntegerField(
        required=False,
        allow_null=True,
        min_value=0,
        max_value=MAX_RETENTION_DAYS,
        help_text="Days a completed run's raw record is kept; null or 0: for ever.",
    )
    legal_hold = StrictBooleanField(
        required=False, help_text="While true, no raw record of the namespace is pruned."
    )
    reason = StrictCharField(
        required=False,
        max_length=MAX_REASON,
        help_text="Kept in the audit history; required to set or lift a legal hold.",
    )


class PublishInput(RetentionInput):
    """The publishing fields of PUT and PATCH (docs/oci.md): optional in both; they re-sign
    nothing and apply to attestations signed from then on."""

    oci_publish = StrictBooleanField(
        required=False,
        help_text="Publish each signed attestation to the registry of every OCI image among "
        "its subjects (sha256-<hex>.att and .sig, cosign's layout).",
    )
    oci_repository = StrictCharField(
        required=False,
        allow_blank=True,
        max_length=MAX_OCI_REPOSITORY,
        help_text="host[:port]/path that replaces each image's own repository (Chains' "
        "storage.oci.repository); empty: the image's repository.",
    )
    oci_insecure = StrictBooleanField(
        required=False,
        help_text="Plain HTTP or unverified TLS to the registry (local registries only).",
    )


_BUILDER_ID_HELP = "An absolute URI: the builder.id of statements made from watched records."
_UPLOAD_BUILDER_ID_HELP = (
    "An absolute URI: the builder.id of statements made from uploaded (API) and imported "
    "records, unless uploads_use_builder_id."
)
_UPLOADS_USE_HELP = (
    "true: uploaded and imported records are signed with builder_id too, so a statement no "
    "longer tells where its records came from. Default false."
)


def _upload_builder_id() -> StrictCharField:
    return StrictCharField(required=False, max_length=500, help_text=_UPLOAD_BUILDER_ID_HELP)


def _uploads_use_builder_id() -> StrictBooleanField:
    return StrictBooleanField(required=False, help_text=_UPLOADS_USE_HELP)


def _taskrun_format() -> StrictChoiceField:
    return StrictChoiceField(
        choices=("", *FORMAT_NAMES),
        required=False,
        help_text="The format of standalone TaskRuns (Chains' artifacts.taskrun.format); "
        "empty: the same as format (artifacts.pipelinerun.format).",
    )


class NamespaceSettingsInput(PublishInput):
    format = StrictChoiceField(choices=FORMAT_NAMES, required=False)
    deep_inspection = StrictBooleanField(required=False)
    scope = StrictChoiceField(choices=SCOPES, required=False)
    emit = StrictChoiceField(choices=EMIT_POLICIES, required=False)
    builder_id = StrictCharField(required=False, max_length=500, help_text=_BUILDER_ID_HELP)
    build_type = StrictChoiceField(choices=BUILD_TYPES, required=False)
    upload_builder_id = _upload_builder_id()
    uploads_use_builder_id = _uploads_use_builder_id()
    taskrun_format = _taskrun_format()


class NamespaceSettingsReplaceInput(PublishInput):
    """PUT: the whole settings object (the two upload fields, taskrun_format, and the
    retention and publishing fields, when left out, keep their values)."""

    format = StrictChoiceField(choices=FORMAT_NAMES)
    deep_inspection = StrictBooleanField()
    scope = StrictChoiceField(choices=SCOPES)
    emit = StrictChoiceField(choices=EMIT_POLICIES)
    builder_id = StrictCharField(max_length=500, help_text=_BUILDER_ID_HELP)
    build_type = StrictChoiceField(choices=BUILD_TYPES)
    upload_builder_id = _upload_builder_id()
    uploads_use_builder_id = _uploads_use_builder_id()
    taskrun_format = _taskrun_format()


class NamespaceSettingsOutput(serializers.Serializer[Any]):
    namespace = serializers.CharField()
    format = serializers.CharField()
    predicate = serializers.SerializerMethodField()
    deep_inspection = serializers.BooleanField()
    scope = serializers.CharField()
    emit = serializers.CharField()
    builder_id = serializers.CharField()
    build_type = serializers.CharField()
    upload_builder_id = serializers.CharField()
    uploads_use_builder_id = serializers.BooleanField()
    signing_key = serializers.CharField(allow_null=True)
    configured = serializers.BooleanField()
    retention_days = serializers.IntegerField(allow_null=True)
    legal_hold = serializers.BooleanField()
    taskrun_format = serializers.CharField(
        help_text="Standalone TaskRuns' format; empty: the same as format."
    )
    oci_publish = serializers.BooleanField()
    oci_repository = serializers.CharField()
    oci_insecure = serializers.BooleanField()

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
    trusted = serializers.SerializerMethodField(
        help_text="The trust bundle (outside the database) holds this key: without it, nothing "
        "it signed verifies."
    )
    trusted_for = serializers.SerializerMethodField(
        help_text='What the bundle trusts it for: namespaces, "default" (every namespace), '
        '"chain" (chain entries and checkpoints); empty when not trusted.'
    )
    revoked_at = serializers.DateTimeField(
        allow_null=True,
        help_text="Attestations it signed from then on fail; earlier ones are flagged.",
    )
    revoked_reason = serializers.CharField()
    retired_at = serializers.DateTimeField(
        allow_null=True, help_text="Rotated out: signs nothing more, still verifies."
    )

    def _trusted(self, key: Any) -> Any:
        return self.context.get("bundle", {}).get(key.key_id)

    def get_trusted(self, key: Any) -> bool:
        return self._trusted(key) is not None

    def get_trusted_for(self, key: Any) -> list[str]:
        trusted = self._trusted(key)
        if trusted is None:
            return []
        if trusted.purpose == "checkpoint":
            return ["chain"]
        return ["default"] if trusted.default else list(trusted.namespaces)


class SigningKeyListOutput(serializers.Serializer[Any]):
    results = SigningKeyOutput(many=True)
