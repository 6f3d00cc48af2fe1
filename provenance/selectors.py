"""Reads for the API, the commands and the dashboard; nothing here writes."""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import orjson
from django.conf import settings
from django.contrib.postgres.aggregates import ArrayAgg
from django.contrib.postgres.expressions import ArraySubquery
from django.db import connection
from django.db.models import Count, Exists, Model, OuterRef, Q, QuerySet
from django.db.models.functions import JSONObject
from django.utils import timezone

from provenance.core import chain, dsse
from provenance.core.errors import ProvenanceError, SigningError
from provenance.core.signing import PublicKey, key_id_of, load_public_key
from provenance.core.statements import RUN_STATE_KEY

from .models import (
    ApiToken,
    Artifact,
    Attestation,
    ChainEntry,
    RunKind,
    RunRecord,
    SigningKey,
)
from .services import (
    namespace_settings_effective,
    signer_load,
    token_hash,
)

M = TypeVar("M", bound=Model)


_TOKEN_COLUMNS = tuple(f.attname for f in ApiToken._meta.concrete_fields)
# One lookup on the unique token_hash index, written out: this runs on every API request, and
# the ORM would compile the same query again each time.
_ACTIVE_TOKEN_SQL = (
    f"SELECT {', '.join(_TOKEN_COLUMNS)} FROM {ApiToken._meta.db_table} "
    "WHERE token_hash = %s AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > %s)"
)


def api_token_active(token: str) -> ApiToken | None:
    """The token's row if it exists, is not revoked and has not expired."""
    with connection.cursor() as cursor:
        cursor.execute(_ACTIVE_TOKEN_SQL, [token_hash(token), timezone.now()])
        row = cursor.fetchone()
    return None if row is None else ApiToken.from_db(connection.alias, _TOKEN_COLUMNS, row)


def token_namespaces(token: ApiToken) -> set[str] | None:
    """The namespaces a token may use; None means all."""
    return None if token.all_namespaces else set(token.namespaces)


def parse_digest_filter(value: str, what: str = "subject_digest") -> tuple[str, str]:
    """``alg:hex`` → (alg, hex), lower-cased; ValueError with a message otherwise."""
    algorithm, sep, hex_value = value.strip().partition(":")
    if not sep or not algorithm or not hex_value:
        raise ValueError(f"{what} must look like sha256:<hex>")
    hex_value = hex_value.lower()
    if any(c not in "0123456789abcdef" for c in hex_value):
        raise ValueError("the digest must be hexadecimal")
    if not algorithm.isascii() or not algorithm.isalnum() or len(algorithm) > 16:
        raise ValueError("the digest algorithm must be a short name such as sha256")
    if len(hex_value) > 128:
        raise ValueError("the digest is too long")
    return algorithm.lower(), hex_value


def _visible(
    qs: QuerySet[M], namespaces: set[str] | None, field_name: str = "namespace"
) -> QuerySet[M]:
    """Only rows of namespaces the caller may see (``None``: every namespace)."""
    if namespaces is None:
        return qs
    return qs.filter(**{f"{field_name}__in": namespaces})


# =============================================================================================
# Run records


def run_record_list(
    *,
    namespaces: set[str] | None,
    namespace: str | None = None,
    kind: str | None = None,
    pipeline: str | None = None,
    task: str | None = None,
    name: str | None = None,
    pipeline_run: str | None = None,
    status: str | None = None,
    compute_status: str | None = None,
    started_after: datetime | None = None,
    started_before: datetime | None = None,
    completed_after: datetime | None = None,
    completed_before: datetime | None = None,
) -> QuerySet[RunRecord]:
    """PipelineRuns and TaskRuns the caller may see, newest first (by arrival).

    ``pipeline`` matches a PipelineRun's pipeline name and a TaskRun's ``tekton.dev/pipeline``
    label; ``task`` a TaskRun's task name or pipeline task; ``pipeline_run`` a TaskRun's
    PipelineRun (name or uid); the time bounds are inclusive.
    """
    qs = _visible(RunRecord.objects.defer("raw"), namespaces)
    if namespace:
        qs = qs.filter(namespace=namespace)
    if kind:
        qs = qs.filter(kind=kind)
    if pipeline:
        qs = qs.filter(
            Q(kind=RunKind.PIPELINE_RUN, definition=pipeline)
            | Q(kind=RunKind.TASK_RUN, labels__contains={"tekton.dev/pipeline": pipeline})
        )
    if task:
        qs = qs.filter(Q(definition=task) | Q(pipeline_task=task), kind=RunKind.TASK_RUN)
    if name:
        qs = qs.filter(name=name)
    if pipeline_run:
        qs = qs.filter(
            Q(parent_uid=pipeline_run) | Q(parent_name=pipeline_run), kind=RunKind.TASK_RUN
        )
    if status is not None:
        qs = qs.filter(status=status)
    if compute_status:
        qs = qs.filter(compute_status=compute_status)
    if started_after:
        qs = qs.filter(start_time__gte=started_after)
    if started_before:
        qs = qs.filter(start_time__lte=started_before)
    if completed_after:
        qs = qs.filter(completion_time__gte=completed_after)
    if completed_before:
        qs = qs.filter(completion_time__lte=completed_before)
    return qs.order_by("-id")


# What the API's record list shows of a record (``api.rows.record_rows``), and the id it pages by.
RUN_RECORD_ROW_FIELDS = (
    "id",
    "uid",
    "kind",
    "namespace",
    "name",
    "definition",
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
)


def run_record_rows(
    *, namespaces: set[str] | None, **filters: Any
) -> QuerySet[RunRecord, dict[str, Any]]:
    """``run_record_list`` (same arguments) as plain rows of ``RUN_RECORD_ROW_FIELDS``."""
    rows: QuerySet[RunRecord, dict[str, Any]] = run_record_list(
        namespaces=namespaces, **filters
    ).values(*RUN_RECORD_ROW_FIELDS)
    return rows


def run_record_get(*, uid: str, namespaces: set[str] | None) -> RunRecord | None:
    """One visible record by its Kubernetes uid (None for unknown and invisible alike)."""
    if not uid or len(uid) > 128 or "\x00" in uid:
        return None
    qs: QuerySet[RunRecord] = _visible(RunRecord.objects.filter(uid=uid), namespaces)
    return qs.first()


def run_record_children(record: RunRecord) -> QuerySet[RunRecord]:
    """A PipelineRun's stored TaskRuns (same namespace by construction), by start time."""
    if record.kind != RunKind.PIPELINE_RUN:
        return RunRecord.objects.none()
    return (
        RunRecord.objects.defer("raw")
        .filter(kind=RunKind.TASK_RUN, parent_uid=record.uid, namespace=record.namespace)
        .order_by("start_time", "name", "id")
    )


def run_record_attestations(record: RunRecord) -> QuerySet[Attestation]:
    return Attestation.objects.filter(run=record).defer("statement", "envelope").order_by("-id")


def run_record_raw(record: RunRecord) -> bytes:
    """The record as received: the compact JSON of the object, decompressed."""
    return zlib.decompress(bytes(record.raw))


# =============================================================================================
# Artifacts


def artifact_list(
    *,
    namespaces: set[str] | None,
    digest: str | None = None,
    digest_prefix: str | None = None,
    uri: str | None = None,
    namespace: str | None = None,
) -> QuerySet[Artifact]:
    """Artifacts named by at least one attestation the caller may see, newest first.

    Each row is annotated with ``visible_namespaces`` and ``attestation_count``, counting only
    attestations the caller may see.
    """
    qs = Artifact.objects.filter(_artifact_seen(namespaces, namespace))
    if digest:
        algorithm, hex_value = parse_digest_filter(digest, "digest")
        qs = qs.filter(algorithm=algorithm, hex=hex_value)
    if digest_prefix:
        algorithm, hex_value = parse_digest_filter(digest_prefix, "digest_prefix")
        if len(hex_value) < 4:
            raise ValueError("a digest prefix needs at least 4 hex characters")
        qs = qs.filter(algorithm=algorithm, hex__startswith=hex_value)
    if uri:
        qs = qs.filter(uri=uri)
    return _artifact_annotate(qs, namespaces).order_by("-id")


def _artifact_seen(namespaces: set[str] | None, namespace: str | None = None) -> Exists:
    """An artifact is named by an attestation the caller may see (in ``namespace``, if given).

    Two nested EXISTS (the link table, then the attestation by primary key) rather than one over
    a join: with the join, Postgres misjudges the semi-join and scans the whole artifact and link
    tables for a digest prefix search (tests/test_query_plans.py).
    """
    links = _SUBJECT_LINKS.filter(artifact_id=OuterRef("pk"))
    if namespaces is not None or namespace:
        attestation = _visible(
            Attestation.objects.filter(pk=OuterRef("attestation_id")), namespaces
        )
        if namespace:
            attestation = attestation.filter(namespace=namespace)
        links = links.filter(Exists(attestation))
    return Exists(links)


def _naming(artifacts: QuerySet[Artifact]) -> Q:
    """Attestations with a subject among ``artifacts``: an ``id IN (subquery)`` on the link table,
    so no join that needs DISTINCT (which made Postgres sort whole tables for a page)."""
    return Q(pk__in=_SUBJECT_LINKS.filter(artifact__in=artifacts).values("attestation_id"))


def _artifact_annotate(qs: QuerySet[Artifact], namespaces: set[str] | None) -> QuerySet[Artifact]:
    counted = Q() if namespaces is None else Q(attestations__namespace__in=namespaces)
    return qs.annotate(
        visible_namespaces=ArrayAgg(
            "attestations__namespace",
            filter=counted,
            distinct=True,
            ordering="attestations__namespace",
            default=[],
        ),
        attestation_count=Count("attestations", filter=counted, distinct=True),
    )


# What the API shows of an artifact (``api.rows.artifact_rows``), with the id it pages by.
ARTIFACT_ROW_FIELDS = ("id", "uri", "algorithm", "hex", "visible_namespaces", "attestation_count")


def artifact_list_rows(
    *, namespaces: set[str] | None, **filters: Any
) -> QuerySet[Artifact, dict[str, Any]]:
    """``artifact_list`` (same arguments) as plain rows of ``ARTIFACT_ROW_FIELDS``."""
    rows: QuerySet[Artifact, dict[str, Any]] = artifact_list(
        namespaces=namespaces, **filters
    ).values(*ARTIFACT_ROW_FIELDS)
    return rows


def _artifact_visible(pk: int, namespaces: set[str] | None) -> QuerySet[Artifact]:
    qs = Artifact.objects.filter(_artifact_seen(namespaces), pk=pk)
    return _artifact_annotate(qs, namespaces)


def artifact_get(*, pk: int, namespaces: set[str] | None) -> Artifact | None:
    """One artifact, if an attestation the caller may see names it."""
    return _artifact_visible(pk, namespaces).first()


def artifact_get_row(*, pk: int, namespaces: set[str] | None) -> dict[str, Any] | None:
    """``artifact_get`` as a plain row of ``ARTIFACT_ROW_FIELDS``."""
    row: dict[str, Any] | None = (
        _artifact_visible(pk, namespaces).values(*ARTIFACT_ROW_FIELDS).first()
    )
    return row


def artifact_attestations(
    *, artifact_id: int, namespaces: set[str] | None
) -> QuerySet[Attestation]:
    """The attestations naming one artifact that the caller may see, newest first."""
    qs = _as_shown(_visible(Attestation.objects.filter(subjects__id=artifact_id), namespaces))
    return qs.order_by("-id")


def artifact_attestation_rows(
    *, artifact_id: int, namespaces: set[str] | None
) -> QuerySet[Attestation, dict[str, Any]]:
    """``artifact_attestations`` as plain rows of ``ATTESTATION_ROW_FIELDS``."""
    return _attestation_rows(artifact_attestations(artifact_id=artifact_id, namespaces=namespaces))


def attestations_for_digest(
    *, namespaces: set[str] | None, digest: str, current: bool | None = None
) -> QuerySet[Attestation]:
    """Every visible attestation whose subjects include the digest (any name), oldest first."""
    algorithm, hex_value = parse_digest_filter(digest, "digest")
    artifacts = Artifact.objects.filter(algorithm=algorithm, hex=hex_value)
    qs = _visible(Attestation.objects.filter(_naming(artifacts)), namespaces)
    if current is not None:
        qs = qs.filter(superseded_by__isnull=current)
    return qs.order_by("id")


# =============================================================================================
# Attestations

_SUBJECT_LINKS = Attestation.subjects.through.objects
# The run's stored record (zlib JSON, up to megabytes) is never shown beside an attestation;
# joined in with select_related("run") it was read for every row of every page.
_RUN_RAW = "run__raw"
# All an attestation read shows or re-checks of its run and chain entry. The rest (the stored
# record above all, then labels and timestamps) would be read and parsed for nothing on every
# row of every page, and so would the attestation's own two internal keys.
_RUN_SHOWN = {"id", "uid", "name", "kind"}
_ENTRY_SHOWN = {"id", "attestation", "seq", "envelope_sha256"}
_NOT_SHOWN = (
    "subject_key",
    "inputs_digest",
    *(f"run__{f.name}" for f in RunRecord._meta.concrete_fields if f.name not in _RUN_SHOWN),
    *(
        f"chain_entry__{f.name}"
        for f in ChainEntry._meta.concrete_fields
        if f.name not in _ENTRY_SHOWN
    ),
)


# Each attestation's subjects, by name then algorithm, fetched with it: one array per row.
_SUBJECT_ROWS = ArraySubquery(
    _SUBJECT_LINKS.filter(attestation_id=OuterRef("pk"))
    .order_by("artifact__uri", "artifact__algorithm")
    .values(
        row=JSONObject(uri="artifact__uri", algorithm="artifact__algorithm", hex="artifact__hex")
    )
)


def _as_shown(qs: QuerySet[Attestation]) -> QuerySet[Attestation]:
    """The attestations joined to their run and chain entry, reading only what is shown, with
    their subjects (``attestation_subjects``)."""
    qs = qs.select_related("run", "chain_entry").defer(*_NOT_SHOWN)
    return qs.annotate(subject_rows=_SUBJECT_ROWS)


def attestation_list(
    *,
    namespaces: set[str] | None,
    subject_digest: str | None = None,
    subject_digest_prefix: str | None = None,
    subject_name: str | None = None,
    namespace: str | None = None,
    pipeline_run: str | None = None,
    format: str | None = None,
    scope: str | None = None,
    status: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    current: bool | None = None,
    verified: bool | None = None,
) -> QuerySet[Attestation]:
    """Attestations visible to the caller, newest first. Bad filters raise ValueError.

    ``verified`` re-checks each candidate's signature and hashes (``attestation_problems``), so
    it costs one signature check per attestation left by the other filters; more than
    ``API_VERIFIED_FILTER_MAX`` candidates is a ValueError asking for narrower filters.
    """
    qs = _as_shown(Attestation.objects.all())
    qs = _visible(qs, namespaces)
    if namespace:
        qs = qs.filter(namespace=namespace)
    if pipeline_run:
        qs = qs.filter(Q(run__name=pipeline_run) | Q(run__uid=pipeline_run))
    if subject_digest:
        algorithm, hex_value = parse_digest_filter(subject_digest)
        artifacts = Artifact.objects.filter(algorithm=algorithm, hex=hex_value)
        qs = qs.filter(_naming(artifacts))
    if subject_digest_prefix:
        algorithm, hex_value = parse_digest_filter(subject_digest_prefix, "subject_digest_prefix")
        if len(hex_value) < 4:
            raise ValueError("a digest prefix needs at least 4 hex characters")
        artifacts = Artifact.objects.filter(algorithm=algorithm, hex__startswith=hex_value)
        qs = qs.filter(_naming(artifacts))
    if subject_name:
        qs = qs.filter(_naming(Artifact.objects.filter(uri=subject_name)))
    if format:
        qs = qs.filter(format=format)
    if scope:
        qs = qs.filter(scope=scope)
    if status is not None:
        qs = qs.filter(run_status=status)
    if created_after:
        qs = qs.filter(created__gte=created_after)
    if created_before:
        qs = qs.filter(created__lte=created_before)
    if current is not None:
        qs = qs.filter(superseded_by__isnull=current)
    if verified is not None:
        qs = qs.filter(pk__in=_verified_ids(qs, want=verified))
    return qs.order_by("-id")


# What the API shows or re-checks of an attestation (``api.rows.attestation_rows``,
# ``attestation_row_problems``): the columns ``_as_shown`` reads, by name.
ATTESTATION_ROW_FIELDS = (
    "id",
    "namespace",
    "run__name",
    "run__uid",
    "run__kind",
    "format",
    "scope",
    "emit",
    "subject_rows",
    "run_status",
    "run_reason",
    "key_id",
    "envelope",
    "statement",
    "envelope_sha256",
    "statement_sha256",
    "created",
    "superseded_by",
    "chain_entry__id",
    "chain_entry__seq",
    "chain_entry__envelope_sha256",
)


def _attestation_rows(qs: QuerySet[Attestation]) -> QuerySet[Attestation, dict[str, Any]]:
    rows: QuerySet[Attestation, dict[str, Any]] = qs.values(*ATTESTATION_ROW_FIELDS)
    return rows


def attestation_list_rows(
    *, namespaces: set[str] | None, **filters: Any
) -> QuerySet[Attestation, dict[str, Any]]:
    """``attestation_list`` (same arguments) as plain rows of ``ATTESTATION_ROW_FIELDS``."""
    return _attestation_rows(attestation_list(namespaces=namespaces, **filters))


def _verified_ids(qs: QuerySet[Attestation], *, want: bool) -> list[int]:
    limit = settings.API_VERIFIED_FILTER_MAX
    candidates = qs.order_by().values_list("pk", flat=True)
    if candidates[: limit + 1].count() > limit:
        raise ValueError(
            f"verified= re-checks every signature and more than {limit} attestations match "
            "the other filters; narrow them (namespace, subject_digest, created_after, ...)"
        )
    ring = key_ring()
    rows = (
        Attestation.objects.filter(pk__in=list(candidates))
        .select_related("chain_entry")
        .only(*_VERIFY_FIELDS)
    )
    return [
        a.pk for a in rows.iterator(chunk_size=500) if (not attestation_problems(a, ring)) == want
    ]


_VERIFY_FIELDS = (
    "id",
    "envelope",
    "statement",
    "envelope_sha256",
    "statement_sha256",
    "key_id",
    "chain_entry__seq",
    "chain_entry__envelope_sha256",
)


def attestation_get(*, pk: int, namespaces: set[str] | None) -> Attestation | None:
    """One visible attestation (None for unknown and invisible alike)."""
    qs = _as_shown(Attestation.objects.filter(pk=pk))
    return _visible(qs, namespaces).first()


def attestation_subjects(attestations: Sequence[Attestation]) -> dict[int, list[dict[str, Any]]]:
    """Each attestation's subjects as in its statement, ``[{"name", "digest": {alg: hex}}]``
    (by name, then algorithm), for rows of ``attestation_list``, ``attestation_get`` or
    ``artifact_attestations``, which fetch them with each row: no query, no Artifact objects."""
    return {a.pk: subjects_shown(a.subject_rows) for a in attestations}  # type: ignore[attr-defined]


def subjects_shown(subject_rows: Sequence[Mapping[str, str]]) -> list[dict[str, Any]]:
    """One attestation's fetched ``subject_rows`` as ``[{"name", "digest": {alg: hex}}]``."""
    by_name: dict[str, dict[str, str]] = {}
    for row in subject_rows:
        by_name.setdefault(row["uri"], {})[row["algorithm"]] = row["hex"]
    return [{"name": n, "digest": d} for n, d in by_name.items()]


def attestation_supersedes(attestation: Attestation) -> list[int]:
    """Ids of the attestations this one replaced (one, normally)."""
    return list(attestation.supersedes.order_by("id").values_list("pk", flat=True))


# =============================================================================================
# Verification: the signature and hashes of one attestation, re-checked on every read


@dataclass(frozen=True, slots=True)
class KeyRing:
    """Registered public keys by id, each loaded once (for every row a request re-checks), and
    the ids whose PEM does not match (a swapped key) or does not load."""

    keys: dict[str, SigningKey]
    mismatched: frozenset[str]
    loaded: dict[str, PublicKey] = field(default_factory=dict)


def key_ring() -> KeyRing:
    keys = {k.key_id: k for k in SigningKey.objects.all()}
    loaded: dict[str, PublicKey] = {}
    mismatched = set()
    for key in keys.values():
        try:
            loaded[key.key_id] = load_public_key(key.public_key_pem)
        except SigningError:
            mismatched.add(key.key_id)
            continue
        if key_id_of(loaded[key.key_id]) != key.key_id:
            mismatched.add(key.key_id)
    return KeyRing(keys=keys, mismatched=frozenset(mismatched), loaded=loaded)


def attestation_problems(attestation: Attestation, ring: KeyRing) -> list[str]:
    """What is wrong with a stored attestation; empty when it verifies.

    The same checks as ``verify_store`` for one row: sha256 of envelope and statement, the
    payload is the statement, the DSSE signature verifies with the registered public key (whose
    id must match its PEM), and the chain entry holds the same envelope hash.
    """
    return _problems(attestation, getattr(attestation, "chain_entry", None), ring)


def attestation_row_problems(rows: Sequence[Mapping[str, Any]]) -> dict[int, list[str]]:
    """``attestation_problems`` of each row of ``ATTESTATION_ROW_FIELDS``, by id (empty: it
    verifies); the key ring is read once, and only when there are rows."""
    if not rows:
        return {}
    ring = key_ring()
    problems = {}
    for row in rows:
        attestation = _SignedRow(
            row["id"],
            row["key_id"],
            row["envelope"],
            row["statement"],
            row["envelope_sha256"],
            row["statement_sha256"],
        )
        entry = None
        if row["chain_entry__id"] is not None:
            entry = _EntryRow(row["chain_entry__seq"], row["chain_entry__envelope_sha256"])
        problems[row["id"]] = _problems(attestation, entry, ring)
    return problems


@dataclass(frozen=True, slots=True)
class _SignedRow:
    """What the checks read of an attestation, from a row (a model instance costs more to make
    than the checks)."""

    pk: int
    key_id: str
    envelope: bytes
    statement: bytes
    envelope_sha256: str
    statement_sha256: str


@dataclass(frozen=True, slots=True)
class _EntryRow:
    """What the checks read of a chain entry, from a row."""

    seq: int
    envelope_sha256: str


def _problems(
    attestation: Attestation | _SignedRow, entry: ChainEntry | _EntryRow | None, ring: KeyRing
) -> list[str]:
    checks = _attestation_problems(attestation, ring.keys, entry, ring.loaded)
    problems = [p.message for p in checks]
    if attestation.key_id in ring.mismatched:
        problems.append(
            f"attestation {attestation.pk}: registered key {attestation.key_id} does not match "
            "its id"
        )
    return problems


# =============================================================================================
# The deployment gate


@dataclass(frozen=True, slots=True)
class GateCandidate:
    attestation: Attestation
    allowed: bool
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class GateDecision:
    digest: str
    allowed: bool
    reasons: tuple[str, ...]
    attestation: int | None
    candidates: tuple[GateCandidate, ...] = ()


def gate_evaluate(
    *,
    namespaces: set[str] | None,
    digest: str,
    namespace: str | None = None,
    require_tasks: Sequence[str] = (),
    scope: str | None = None,
) -> GateDecision:
    """May ``digest`` be deployed? See docs/api.md, "The deployment gate", for the rule.

    The candidates are the caller's visible, current (not superseded) attestations naming the
    digest, newest first, optionally in one namespace and of one scope. The answer is "allowed"
    as soon as one candidate passes every check; otherwise every candidate's reasons are given.
    An unknown digest and one in a namespace the caller cannot see get the same answer.
    """
    algorithm, hex_value = parse_digest_filter(digest, "digest")
    normalized = f"{algorithm}:{hex_value}"
    required = tuple(dict.fromkeys(t for t in require_tasks if t))
    qs = attestations_for_digest(namespaces=namespaces, digest=normalized, current=True)
    if namespace:
        qs = qs.filter(namespace=namespace)
    if scope:
        qs = qs.filter(scope=scope)
    attestations = list(qs.select_related("run", "chain_entry").defer(_RUN_RAW).order_by("-id"))
    if not attestations:
        where = f" in namespace {namespace}" if namespace else ""
        kind = f" {scope}" if scope else ""
        return GateDecision(
            digest=normalized,
            allowed=False,
            reasons=(f"no current{kind} attestation names {normalized}{where}",),
            attestation=None,
        )
    ring = key_ring()
    candidates = []
    for attestation in attestations:
        reasons = _gate_check(attestation, algorithm, hex_value, required, ring)
        allowed = not reasons
        if allowed:
            reasons = [_gate_allowed_reason(attestation, required)]
        candidates.append(GateCandidate(attestation, allowed, tuple(reasons)))
    winner = next((c for c in candidates if c.allowed), None)
    if winner is not None:
        return GateDecision(
            digest=normalized,
            allowed=True,
            reasons=winner.reasons,
            attestation=winner.attestation.pk,
            candidates=tuple(candidates),
        )
    return GateDecision(
        digest=normalized,
        allowed=False,
        reasons=tuple(r for c in candidates for r in c.reasons),
        attestation=None,
        candidates=tuple(candidates),
    )


def _gate_allowed_reason(attestation: Attestation, required: Sequence[str]) -> str:
    text = (
        f"attestation {attestation.pk} ({attestation.namespace}, {attestation.scope}) verifies "
        "and its recorded in-scope tasks all succeeded"
    )
    if required:
        text += f"; required tasks succeeded: {', '.join(required)}"
    return text


def _gate_check(
    attestation: Attestation,
    algorithm: str,
    hex_value: str,
    required: Sequence[str],
    ring: KeyRing,
) -> list[str]:
    """Why this attestation does not allow the deployment (empty: it does)."""
    label = f"attestation {attestation.pk}"
    problems = attestation_problems(attestation, ring)
    if problems:
        return [f"{label} does not verify: {p.removeprefix(label + ': ')}" for p in problems]
    # Everything below reads the signed bytes just verified, never the columns beside them.
    try:
        statement = orjson.loads(bytes(attestation.statement))
    except orjson.JSONDecodeError:
        return [f"{label}: the signed statement is not JSON"]
    if not isinstance(statement, dict) or not isinstance(statement.get("predicate"), dict):
        return [f"{label}: the signed statement has no predicate"]
    if not _names_digest(statement.get("subject"), algorithm, hex_value):
        return [f"{label}: the signed statement does not name {algorithm}:{hex_value}"]
    predicate: dict[str, Any] = statement["predicate"]
    is_v02 = str(statement.get("predicateType", "")).endswith("/v0.2")
    run_state = _run_state(predicate, is_v02)
    if run_state is not None:
        return [f"{label}: {r}" for r in _run_state_reasons(run_state, required)]
    if attestation.scope == "per-artifact" and attestation.run.kind == RunKind.PIPELINE_RUN:
        return [f"{label}: a per-artifact statement without its run state"]
    reasons = []
    if attestation.run_status != "True":
        status = attestation.run_status or "none"
        reasons.append(
            f"the {attestation.run.kind}'s status at signing was {status}, not succeeded (True)"
        )
    if attestation.run.kind == RunKind.PIPELINE_RUN and is_v02:
        reasons.extend(_v02_task_reasons(predicate, required))
    elif attestation.run.kind == RunKind.PIPELINE_RUN:
        reasons.extend(_child_record_reasons(attestation.run, required))
    else:
        task = attestation.run.definition or attestation.run.name
        names = {task, attestation.run.pipeline_task} - {""}
        reasons.extend(
            f"required task {name} is not this TaskRun's task ({task})"
            for name in required
            if name not in names
        )
    return [f"{label}: {r}" for r in reasons]


def _names_digest(subjects: Any, algorithm: str, hex_value: str) -> bool:
    if not isinstance(subjects, list):
        return False
    return any(
        isinstance(s, dict)
        and isinstance(s.get("digest"), dict)
        and str(s["digest"].get(algorithm, "")).lower() == hex_value
        for s in subjects
    )


def _run_state(predicate: dict[str, Any], is_v02: bool) -> dict[str, Any] | None:
    if is_v02:
        holder = predicate.get("metadata")
    else:
        details = predicate.get("runDetails")
        holder = details.get("metadata") if isinstance(details, dict) else None
    state = holder.get(RUN_STATE_KEY) if isinstance(holder, dict) else None
    return state if isinstance(state, dict) else None


def _run_state_reasons(state: dict[str, Any], required: Sequence[str]) -> list[str]:
    """Per-artifact: every in-scope task succeeded, and each required task is recorded (in
    scope or not) as succeeded."""
    in_scope = [t for t in state.get("inScope") or [] if isinstance(t, dict)]
    excluded = [t for t in state.get("excluded") or [] if isinstance(t, dict)]
    if not in_scope:
        return ["the run state records no in-scope tasks"]
    reasons = [
        f"in-scope task {t.get('pipelineTask')} ({t.get('taskRun')}) has status "
        f"{t.get('status') or 'none'}, not succeeded (True)"
        for t in in_scope
        if t.get("status") != "True"
    ]
    for name in required:
        entries = [t for t in in_scope + excluded if t.get("pipelineTask") == name]
        if not entries:
            reasons.append(f"required task {name} is not recorded in the statement")
        elif any(t.get("status") != "True" or not t.get("taskRun") for t in entries):
            statuses = ", ".join(sorted({str(t.get("status") or "none") for t in entries}))
            reasons.append(f"required task {name} did not succeed (status {statuses})")
    return reasons


def _v02_task_reasons(predicate: dict[str, Any], required: Sequence[str]) -> list[str]:
    """Per-run SLSA v0.2: ``buildConfig.tasks[].status`` is Succeeded for every task."""
    config = predicate.get("buildConfig")
    tasks = config.get("tasks") if isinstance(config, dict) else None
    if not isinstance(tasks, list) or not tasks:
        return ["the statement records no tasks (buildConfig.tasks)"]
    entries = [t for t in tasks if isinstance(t, dict)]
    reasons = [
        f"task {t.get('name')} has status {t.get('status') or 'none'}, not Succeeded"
        for t in entries
        if t.get("status") != "Succeeded"
    ]
    names = {t.get("name") for t in entries}
    reasons.extend(
        f"required task {name} is not recorded in the statement"
        for name in required
        if name not in names
    )
    return reasons


def _child_record_reasons(run: RunRecord, required: Sequence[str]) -> list[str]:
    """Per-run SLSA v1.0 has no task status in the statement: the run's status at signing stands
    for its tasks, and required tasks are looked up among the run's stored TaskRuns."""
    if not required:
        return []
    children = list(run_record_children(run).values_list("pipeline_task", "status"))
    reasons = []
    for name in required:
        statuses = [status for task, status in children if task == name]
        if not statuses:
            reasons.append(f"required task {name} has no TaskRun in this PipelineRun")
        elif any(status != "True" for status in statuses):
            shown = ", ".join(sorted({s or "none" for s in statuses}))
            reasons.append(f"required task {name} did not succeed (status {shown})")
    return reasons


def signing_key_list(*, namespaces: set[str] | None) -> QuerySet[SigningKey]:
    qs = SigningKey.objects.all()
    if namespaces is not None:
        qs = qs.filter(Q(namespace__in=namespaces) | Q(namespace=""))
    return qs.order_by("namespace", "id")


def namespace_settings_view(namespace: str) -> dict[str, Any]:
    values, key = namespace_settings_effective(namespace)
    from .models import NamespaceSettings

    return {
        "namespace": namespace,
        **values,
        "signing_key": key.key_id if key else None,
        "configured": NamespaceSettings.objects.filter(namespace=namespace).exists(),
    }


# =============================================================================================
# verify_store


@dataclass
class StoreReport:
    problems: list[chain.Problem] = field(default_factory=list)
    attestations: int = 0
    length: int = 0
    head: str = chain.GENESIS.hex()

    @property
    def ok(self) -> bool:
        return not self.problems


def _key_problems(keys: dict[str, SigningKey]) -> Iterator[chain.Problem]:
    for key in keys.values():
        try:
            public = load_public_key(key.public_key_pem)
        except SigningError as exc:
            yield chain.Problem("modified", None, f"registered key {key.key_id}: {exc}")
            continue
        if key_id_of(public) != key.key_id:
            yield chain.Problem(
                "modified", None, f"registered key {key.key_id}: public key does not match its id"
            )
            continue
        try:
            signer = signer_load(key)
        except SigningError:
            continue  # the private key lives elsewhere (another machine or a Secret): fine
        if signer.public_key_pem.strip() != key.public_key_pem.strip():
            yield chain.Problem(
                "modified", None, f"registered key {key.key_id} does not match its key file"
            )


def _attestation_problems(
    attestation: Attestation | _SignedRow,
    keys: dict[str, SigningKey],
    entry: ChainEntry | _EntryRow | None,
    loaded: dict[str, PublicKey] | None = None,
) -> Iterator[chain.Problem]:
    pk = attestation.pk
    seq = entry.seq if entry else None
    envelope_bytes = bytes(attestation.envelope)
    statement = bytes(attestation.statement)
    if hashlib.sha256(envelope_bytes).hexdigest() != attestation.envelope_sha256:
        yield chain.Problem("modified", seq, f"attestation {pk}: envelope modified")
    if hashlib.sha256(statement).hexdigest() != attestation.statement_sha256:
        yield chain.Problem("modified", seq, f"attestation {pk}: statement modified")
    if entry is None:
        yield chain.Problem(
            "inserted", None, f"attestation {pk} is not in the chain (inserted outside the app)"
        )
    elif entry.envelope_sha256 != attestation.envelope_sha256:
        yield chain.Problem(
            "modified", seq, f"attestation {pk}: envelope differs from chain entry {entry.seq}"
        )
    try:
        envelope = dsse.Envelope.from_json(envelope_bytes)
    except ProvenanceError as exc:
        yield chain.Problem("modified", seq, f"attestation {pk}: envelope unreadable: {exc}")
        return
    if envelope.payload != statement:
        yield chain.Problem("modified", seq, f"attestation {pk}: payload is not the statement")
    key = keys.get(attestation.key_id)
    if key is None:
        yield chain.Problem(
            "modified", seq, f"attestation {pk}: key {attestation.key_id} is not registered"
        )
    elif not dsse.verify(
        envelope, (loaded or {}).get(key.key_id, key.public_key_pem), key_id=key.key_id
    ):
        yield chain.Problem(
            "modified", seq, f"attestation {pk}: signature does not verify with {key.key_id}"
        )


def store_verify(*, checkpoint: chain.Checkpoint | None = None) -> StoreReport:
    """Re-verify every attestation's signature and hashes, the chain, and the checkpoint."""
    report = StoreReport()
    ring = key_ring()
    keys = ring.keys
    report.problems.extend(_key_problems(keys))
    entries = {e.attestation_id: e for e in ChainEntry.objects.all()}
    for attestation in Attestation.objects.order_by("id").iterator(chunk_size=500):
        report.attestations += 1
        entry = entries.get(attestation.pk)
        report.problems.extend(_attestation_problems(attestation, keys, entry, ring.loaded))
    links = {
        e.seq: chain.Link(
            seq=e.seq,
            attestation_id=e.attestation_id,
            envelope_sha256=e.envelope_sha256,
            prev_hash=e.prev_hash,
            entry_hash=e.entry_hash,
        )
        for e in entries.values()
    }
    problems, report.head, report.length = chain.verify_links(links.values())
    report.problems.extend(problems)
    if checkpoint is not None:
        report.problems.extend(chain.checkpoint_compare(checkpoint, links))
    return report
