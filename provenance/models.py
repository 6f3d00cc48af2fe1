"""Stored run records, signed attestations and the settings that shape them.

Data and trivial properties only; every write goes through ``provenance.services``. See
docs/backend.md for the data model and the rules behind each constraint.
"""

from __future__ import annotations

import zlib
from typing import Any

import orjson
from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import HashIndex
from django.db import models
from django.db.models import Q
from django.db.models.functions import MD5
from django.utils import timezone

from provenance.config import UPLOAD_BUILDER_ID


class ByteaField(models.Field):  # type: ignore[type-arg]
    """Postgres ``bytea``, as BinaryField stores it, minus BinaryField's ``get_placeholder``: with
    that hook Django 5.2's bulk_create falls back from one ``UNNEST`` insert to a VALUES list of
    rows × columns placeholders, which psycopg splits in Python (7 ms per 30-object record)."""

    def get_internal_type(self) -> str:
        return "BinaryField"


class RunKind(models.TextChoices):
    PIPELINE_RUN = "PipelineRun"
    TASK_RUN = "TaskRun"


class ComputeStatus(models.TextChoices):
    """Where a run stands on its way to signed attestations.

    Every accepted record has one: signed, pending (queued), waiting (with the reason), skipped
    (nothing to sign under the namespace's settings, with the reason) or failed (with the reason).
    A TaskRun that belongs to a PipelineRun is ``child``: it is attested as part of its parent.
    """

    PENDING = "pending"
    WAITING = "waiting"
    SIGNED = "signed"
    SKIPPED = "skipped"
    FAILED = "failed"
    CHILD = "child"


class SourceKind(models.TextChoices):
    """How a record came to chainsweb (docs/security.md, "Namespace identity and record source").

    Only ``watch`` records were read from the cluster by chainsweb itself; ``api`` and ``import``
    are what a token holder or an operator handed in.
    """

    WATCH = "watch"
    API = "api"
    IMPORT = "import"
    UNKNOWN = "unknown"  # stored before sources were recorded, and not told by the old text


class RunRecord(models.Model):
    """A PipelineRun or TaskRun as last received, identified by its namespace and Kubernetes
    ``metadata.uid``.

    ``uid`` stays unique on its own: a uid stored in one namespace is refused in every other
    (``services.ingest``), so a run can never be taken over from another namespace, and the
    database, not only the check, keeps one row per uid. Every lookup still names the namespace.
    """

    uid = models.CharField(max_length=128, unique=True)
    kind = models.CharField(max_length=16, choices=RunKind.choices)
    namespace = models.CharField(max_length=253)
    name = models.CharField(max_length=253)
    # pipelineRef/taskRef name (or the tekton.dev/pipeline|task label) for a person to read.
    definition = models.CharField(max_length=253, blank=True, default="")
    pipeline_task = models.CharField(max_length=253, blank=True, default="")
    # For a TaskRun in a pipeline: its PipelineRun's uid once known, and its name (label).
    # Looked up with its namespace: the runrecord_children index below.
    parent_uid = models.CharField(max_length=128, blank=True, default="")
    parent_name = models.CharField(max_length=253, blank=True, default="")
    status = models.CharField(
        max_length=16, blank=True, default=""
    )  # Succeeded: True/False/Unknown
    reason = models.CharField(max_length=253, blank=True, default="")
    start_time = models.DateTimeField(null=True, blank=True)
    completion_time = models.DateTimeField(null=True, blank=True)
    labels = models.JSONField(default=dict, blank=True)
    resource_version = models.CharField(max_length=64, blank=True, default="")
    # The record as received: compact JSON of the object, zlib-compressed (docs/backend.md).
    raw = ByteaField()
    raw_sha256 = models.CharField(max_length=64)
    # How the stored version came: its kind, and who or what sent it (``RecordSource``).
    source_kind = models.CharField(
        max_length=16, choices=SourceKind.choices, default=SourceKind.UNKNOWN
    )
    source_detail = models.JSONField(default=dict, blank=True)
    first_seen = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)
    compute_status = models.CharField(
        max_length=16, choices=ComputeStatus.choices, default=ComputeStatus.PENDING
    )
    compute_reason = models.TextField(blank=True, default="")
    compute_updated = models.DateTimeField(null=True, blank=True)
    # Computes of this run that started and never finished (the worker was killed: out of
    # memory, SIGKILL). Over COMPUTE_MAX_ATTEMPTS the run is failed instead of computed again,
    # so a record that crashes its worker cannot keep a late-acked message coming back.
    compute_attempts = models.PositiveSmallIntegerField(default=0, db_default=0)
    # Retention (docs/operations.md): when ``raw`` was emptied, and the namespace's retention
    # period (days) it was pruned under. ``raw_sha256`` stays, and so do the run's attestations.
    pruned_at = models.DateTimeField(null=True, blank=True)
    pruned_retention_days = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["namespace", "kind", "name"]),
            models.Index(fields=["namespace", "parent_name"]),
            models.Index(fields=["compute_status"]),
            # A PipelineRun's TaskRuns, as linking and compute look them up: with only the
            # single-column parent_uid index, a planner without fresh statistics took the
            # (namespace, kind, name) index and filtered a whole namespace (17 ms per lookup
            # at 20,000 rows; bench/README.md, issue 16).
            models.Index(fields=["namespace", "parent_uid", "kind"], name="runrecord_children"),
            # TaskRuns that name their PipelineRun only by label, waiting for it to arrive.
            models.Index(
                fields=["namespace", "parent_name"],
                condition=Q(parent_uid=""),
                name="runrecord_orphans",
            ),
            # What the flood check (services.queue.namespaces_flooding) counts: the few runs
            # waiting, per namespace.
            models.Index(
                fields=["namespace"],
                condition=Q(compute_status=ComputeStatus.PENDING),
                name="runrecord_pending",
            ),
            # What prune_records looks for: a namespace's runs completed before a day, unpruned.
            models.Index(
                fields=["namespace", "completion_time"],
                condition=Q(pruned_at__isnull=True),
                name="runrecord_retention",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"

    @property
    def is_pruned(self) -> bool:
        """Its raw record was pruned under the namespace's retention (``raw`` is empty)."""
        return self.pruned_at is not None

    @property
    def document(self) -> dict[str, Any]:
        """The stored record as a dict (decompressed); a pruned run has none (check
        ``is_pruned`` first)."""
        loaded: dict[str, Any] = orjson.loads(zlib.decompress(bytes(self.raw)))
        return loaded

    @property
    def source(self) -> dict[str, Any]:
        """``{"kind": ..., ...details}``, as the API shows it."""
        return record_source(self.source_kind, self.source_detail)

    @property
    def is_top_level(self) -> bool:
        """``top_level_q`` for this one row."""
        return self.kind == RunKind.PIPELINE_RUN or not (self.parent_uid or self.parent_name)


def record_source(kind: str, detail: Any) -> dict[str, Any]:
    """A record's source as one object: its kind, then its details."""
    return {"kind": kind, **(detail if isinstance(detail, dict) else {})}


def top_level_q(prefix: str = "") -> Q:
    """The runs that get attestations of their own: PipelineRuns, and TaskRuns that name no
    PipelineRun (by uid or by label). ``prefix`` reaches a run through a relation (``run__``)."""
    return Q(**{f"{prefix}kind": RunKind.PIPELINE_RUN}) | Q(
        **{f"{prefix}parent_uid": "", f"{prefix}parent_name": ""}
    )


class Artifact(models.Model):
    """One (uri, algorithm, hex) named as a subject by some attestation."""

    uri = models.TextField()
    algorithm = models.CharField(max_length=16)
    hex = models.CharField(max_length=128)

    class Meta:
        constraints = [
            # md5(uri): a btree entry must stay small, and subject names have no length limit.
            models.UniqueConstraint(MD5("uri"), "algorithm", "hex", name="artifact_unique"),
        ]
        indexes = [
            # Exact digest lookups, and `hex LIKE 'abc%'` prefix search: the pattern_ops opclass
            # makes the btree usable for LIKE whatever the database collation.
            models.Index(fields=["algorithm", "hex"], name="artifact_digest"),
            models.Index(
                fields=["hex"], opclasses=["varchar_pattern_ops"], name="artifact_hex_prefix"
            ),
            # Exact name lookups; a hash index has no entry size limit.
            HashIndex(fields=["uri"], name="artifact_uri"),
        ]

    def __str__(self) -> str:
        return f"{self.uri}@{self.algorithm}:{self.hex[:12]}"


class SigningKey(models.Model):
    """A registered public key. The private key lives in a file under KEYS_DIR, never here."""

    class Purpose(models.TextChoices):
        ATTESTATION = "attestation"
        CHECKPOINT = "checkpoint"

    key_id = models.CharField(max_length=100, unique=True)
    # The id this key had before key ids became SSH fingerprints (base64 of the sha256 of the DER
    # public key); attestations signed back then carry it, so verification still finds the key.
    legacy_key_id = models.CharField(max_length=100, blank=True, default="")
    algorithm = models.CharField(max_length=16)
    public_key_pem = models.TextField()
    # Empty for the deployment-wide default key (and the checkpoint key).
    namespace = models.CharField(max_length=253, blank=True, default="")
    purpose = models.CharField(max_length=16, choices=Purpose.choices, default=Purpose.ATTESTATION)
    # File name relative to KEYS_DIR, so the folder can be mounted anywhere.
    private_key_path = models.CharField(max_length=500)
    created = models.DateTimeField(auto_now_add=True)
    # Mirrors of the trust bundle (TRUSTED_KEYS_DIR), for display: the verifier reads the
    # bundle, never these (docs/security.md, "Key lifecycle").
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=500, blank=True, default="", db_default="")
    retired_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.key_id} ({self.algorithm}, {self.namespace or 'default'})"


class NamespaceSettings(models.Model):
    """How one Kubernetes namespace's runs are attested. Unconfigured namespaces use the
    PROVENANCE_DEFAULTS setting."""

    namespace = models.CharField(max_length=253, unique=True)
    format = models.CharField(max_length=32)
    deep_inspection = models.BooleanField(default=False)
    scope = models.CharField(max_length=16)
    emit = models.CharField(max_length=16)
    builder_id = models.CharField(max_length=500)
    build_type = models.CharField(max_length=200)
    # The builder id of statements made from uploaded and imported records, unless the admin
    # opted uploads into ``builder_id`` (docs/security.md).
    upload_builder_id = models.CharField(max_length=500, default=UPLOAD_BUILDER_ID)
    uploads_use_builder_id = models.BooleanField(default=False)
    signing_key = models.ForeignKey(
        SigningKey, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Retention (docs/operations.md): days a completed run's raw record is kept (None: for
    # ever), and a legal hold that stops all pruning. Neither shapes a statement.
    retention_days = models.PositiveIntegerField(null=True, blank=True)
    legal_hold = models.BooleanField(default=False)
    # Chains' artifacts.taskrun.format: standalone TaskRuns ("": the same as ``format``).
    taskrun_format = models.CharField(max_length=32, blank=True, default="")
    # Publishing to OCI registries (docs/oci.md): none of these shapes a statement.
    oci_publish = models.BooleanField(default=False)
    oci_repository = models.CharField(max_length=500, blank=True, default="")
    oci_insecure = models.BooleanField(default=False)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "namespace settings"

    def __str__(self) -> str:
        return self.namespace


class SettingsAudit(models.Model):
    """One change to a namespace's settings: who, when, old → new, and why when a reason was
    given (setting or lifting a legal hold needs one). Group mappings and each pruning of raw
    records are entries too (docs/operations.md)."""

    namespace = models.CharField(max_length=253, db_index=True)
    actor = models.CharField(max_length=300)
    changed = models.DateTimeField(auto_now_add=True)
    old = models.JSONField()
    new = models.JSONField()
    reason = models.TextField(blank=True, default="")

    # The key of the entries prune_records writes (services.retention): ``new`` holds
    # {"runs", "records", "bytes", "retention_days", "completed_before"} under it.
    PRUNED = "raw_records_pruned"

    class Meta:
        ordering = ["-changed", "-id"]

    def __str__(self) -> str:
        return f"{self.namespace} by {self.actor} at {self.changed:%Y-%m-%d %H:%M}"


class Attestation(models.Model):
    """A signed statement. Immutable: the application only ever sets ``superseded_by`` (once,
    with a single-column UPDATE), and a database trigger refuses every other UPDATE and DELETE."""

    run = models.ForeignKey(RunRecord, on_delete=models.PROTECT, related_name="attestations")
    namespace = models.CharField(max_length=253)
    format = models.CharField(max_length=32)
    scope = models.CharField(max_length=16)
    emit = models.CharField(max_length=16)
    # "" for per-run; the canonical subject list for per-artifact (what supersession is keyed on).
    subject_key = models.TextField(blank=True, default="")
    run_status = models.CharField(max_length=16, blank=True, default="")
    run_reason = models.CharField(max_length=253, blank=True, default="")
    statement = models.BinaryField()  # the exact payload bytes that were signed
    statement_sha256 = models.CharField(max_length=64)
    envelope = models.BinaryField()  # DSSE envelope JSON bytes as served
    envelope_sha256 = models.CharField(max_length=64, unique=True)
    key_id = models.CharField(max_length=100)
    settings = models.JSONField()  # the namespace settings the statement was made under
    inputs_digest = models.CharField(max_length=64, unique=True)
    subjects = models.ManyToManyField(Artifact, related_name="attestations")
    created = models.DateTimeField(auto_now_add=True)
    superseded_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="supersedes"
    )

    class Meta:
        indexes = [
            models.Index(fields=["namespace", "-id"]),
            models.Index(fields=["run", "scope", "subject_key"]),
        ]

    def __str__(self) -> str:
        return f"attestation {self.pk} for {self.run_id} ({self.scope})"


class Publication(models.Model):
    """One signed attestation published to an OCI registry for one image among its subjects
    (docs/oci.md): the DSSE envelope as a layer at ``sha256-<hex>.att`` (``kind`` att) or the
    cosign image signature at ``sha256-<hex>.sig`` (``kind`` sig).

    Made ``pending`` in the transaction that stores the attestation, so that nothing a registry
    does can lose it; the publishing queue (and ``publish_attestations``) moves it to
    ``published`` or ``failed`` with the registry's reason.
    """

    class Kind(models.TextChoices):
        ATTESTATION = "att"
        SIGNATURE = "sig"

    class Status(models.TextChoices):
        PENDING = "pending"
        PUBLISHED = "published"
        FAILED = "failed"

    attestation = models.ForeignKey(
        Attestation, on_delete=models.PROTECT, related_name="publications"
    )
    namespace = models.CharField(max_length=253)
    kind = models.CharField(max_length=3, choices=Kind.choices)
    # The image (``repository@sha256:<hex>``) and where its tag is
    # (``repository:sha256-<hex>.att``).
    image = models.CharField(max_length=800)
    reference = models.CharField(max_length=800)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    manifest_digest = models.CharField(max_length=100, blank=True, default="")
    layer_digest = models.CharField(max_length=100, blank=True, default="")
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)
    published = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["attestation", "image", "kind"], name="publication_unique"
            ),
        ]
        indexes = [models.Index(fields=["namespace", "status"], name="publication_status")]

    def __str__(self) -> str:
        return f"{self.reference} ({self.status})"


class ChainEntry(models.Model):
    """One link of the hash chain over attestations (provenance.core.chain)."""

    seq = models.BigIntegerField(unique=True)
    attestation = models.OneToOneField(
        Attestation, on_delete=models.PROTECT, related_name="chain_entry"
    )
    envelope_sha256 = models.CharField(max_length=64)
    prev_hash = models.CharField(max_length=64)
    entry_hash = models.CharField(max_length=64)
    created = models.DateTimeField(default=timezone.now)
    # The chain key's signature (base64) over ``core.trust.chain_entry_payload``, and its key
    # id: only the workers hold that key, so a database writer cannot append a valid entry.
    # Empty on entries appended before chain entries were signed, until ``write_trust_bundle
    # --sign-chain`` signs them (the one change the append-only trigger allows).
    # Defaults in the database too, so a writer that does not know these columns (a worker of
    # the release before, during a rolling upgrade) still appends, unsigned.
    signed_by = models.CharField(max_length=100, blank=True, default="", db_default="")
    signature = models.TextField(blank=True, default="", db_default="")

    class Meta:
        verbose_name_plural = "chain entries"

    def __str__(self) -> str:
        return f"#{self.seq} {self.entry_hash[:12]}"


class ApiToken(models.Model):
    """A bearer token: only its sha256 is stored; the token is shown once at creation."""

    class Role(models.TextChoices):
        VIEWER = "viewer"
        INGESTER = "ingester"
        ADMIN = "admin"

    name = models.CharField(max_length=150)  # the person or system it was issued to
    token_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=12)  # first characters, to tell tokens apart
    # Either a list of namespaces or ``all_namespaces``, never both and never neither (the
    # constraint below): an empty list used to mean "everything", which one slip turned into a
    # token for every namespace.
    namespaces = ArrayField(models.CharField(max_length=253), default=list, blank=True)
    all_namespaces = models.BooleanField(default=False)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    created = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(all_namespaces=True, namespaces__len=0)
                    | models.Q(all_namespaces=False, namespaces__len__gt=0)
                ),
                name="apitoken_namespaces_explicit",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.role}, {self.prefix}…)"


# Each role can do what the ones below it can (a grant, a token, a group mapping).
ROLE_RANK = {ApiToken.Role.VIEWER: 0, ApiToken.Role.INGESTER: 1, ApiToken.Role.ADMIN: 2}


class WatchState(models.Model):
    """Where a ``watch_records`` stream left off (its last resourceVersion)."""

    key = models.CharField(max_length=300, unique=True)  # "<plural>/<namespace or *>"
    resource_version = models.CharField(max_length=64, blank=True, default="")
    updated = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.key}@{self.resource_version}"


class NamespaceGrant(models.Model):
    """A signed-in person's role in one namespace (staff users see every namespace)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="namespace_grants"
    )
    namespace = models.CharField(max_length=253)
    role = models.CharField(
        max_length=16, choices=ApiToken.Role.choices, default=ApiToken.Role.VIEWER
    )
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "namespace"], name="grant_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} is {self.role} of {self.namespace}"


class SsoGroupMapping(models.Model):
    """An identity-provider group that gives its members a role in a namespace.

    Managed by the namespace's admins (settings page) and ``manage.py oidc_group_map``; every
    change is a ``SettingsAudit`` entry. The roles it gives are worked out from the groups a user
    last signed in with (``SsoIdentity.groups``), never stored per user, so they stay apart from
    the grants given by hand (``NamespaceGrant``).
    """

    group = models.CharField(max_length=255)
    namespace = models.CharField(max_length=253)
    role = models.CharField(
        max_length=16, choices=ApiToken.Role.choices, default=ApiToken.Role.VIEWER
    )
    created = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=300)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["group", "namespace"], name="sso_group_unique"),
        ]
        indexes = [models.Index(fields=["namespace"], name="sso_group_namespace")]

    def __str__(self) -> str:
        return f"group {self.group} is {self.role} of {self.namespace}"


class SsoIdentity(models.Model):
    """Who a user is at the identity provider (OpenID Connect issuer and subject, or the trusted
    proxy and its user name), and the groups it said they were in at their last sign-in."""

    PROXY = "proxy"  # the issuer of users the trusted reverse proxy names

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sso_identity"
    )
    issuer = models.CharField(max_length=500)
    subject = models.CharField(max_length=255)
    groups = ArrayField(models.CharField(max_length=255), default=list, blank=True)
    signed_in = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["issuer", "subject"], name="sso_identity_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} is {self.subject} at {self.issuer}"


class RunView(models.Model):
    """The scopes of a run's artifacts for its page, computed by a worker (never in the web
    request: docs/security.md, "Bounded work") and kept for the inputs they were made from.

    ``inputs`` is the sha256 of the run's and its TaskRuns' stored records and of the settings
    the view uses, so a changed record or setting makes a new view; ``payload`` is the scopes'
    compact JSON, zlib-compressed, empty until computed or when ``error`` says why not."""

    class Status(models.TextChoices):
        PENDING = "pending"
        READY = "ready"
        FAILED = "failed"

    run = models.ForeignKey(RunRecord, on_delete=models.CASCADE, related_name="views")
    inputs = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    payload = ByteaField(default=b"")
    error = models.TextField(blank=True, default="")
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "inputs"], name="runview_run_inputs"),
        ]

    def __str__(self) -> str:
        return f"view of run {self.run_id} ({self.status})"
