"""Page-level reads for the dashboard (views stay thin; nothing here writes).

Every function takes the caller's visible namespaces (``Access.visible()``: a set, or None for
all) and never returns rows outside them. List queries are bounded: a fixed number of queries
per page whatever its size, and never the raw run records (``RunRecord.raw``) — only the run
detail page, which shows a record, loads it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import orjson
from django.db.models import (
    Count,
    F,
    Func,
    Max,
    Prefetch,
    Q,
    QuerySet,
    TextField,
    Value,
)
from django.utils import timezone

from provenance.core import dsse
from provenance.core.errors import ProvenanceError
from provenance.core.graph import RunGraph, build_graph
from provenance.core.intoto import statement_bytes
from provenance.core.plan import Plan, plan_statements
from provenance.core.scope import ArtifactScope, artifact_scopes
from provenance.core.slsa.config import PREDICATE_VERSION, SlsaConfig
from provenance.core.statements import RUN_STATE_KEY
from provenance.core.tekton import PipelineRun, Run, TaskRun, parse_records

from .config import SETTINGS_FIELDS
from .models import (
    ApiToken,
    Artifact,
    Attestation,
    ComputeStatus,
    NamespaceGrant,
    NamespaceSettings,
    RunKind,
    RunRecord,
    SettingsAudit,
    SigningKey,
)
from .services import namespace_settings_defaults, namespace_settings_effective

PAGE_SIZES = (25, 50, 100)
DEFAULT_PAGE_SIZE = 25
# Search reads the statements of this many most recent visible attestations for a git commit or
# an image tag (statements are not indexed); older ones are found by digest, name or run.
SEARCH_STATEMENT_WINDOW = 2000
SEARCH_GROUP_LIMIT = 20
# The overview re-verifies this many of the newest attestations; `verify_store` checks them all.
OVERVIEW_VERIFY_LATEST = 50
ATTENTION_LIMIT = 8

PREDICATE_LABELS = {
    "https://slsa.dev/provenance/v0.2": "SLSA v0.2",
    "https://slsa.dev/provenance/v1": "SLSA v1.0",
}
HEX = re.compile(r"[0-9a-f]+")
DIGEST_ALGORITHMS = ("sha256", "sha512", "sha384", "sha1", "gitcommit")


def _in(visible: set[str] | None, field_name: str = "namespace") -> Q:
    """Q limiting a query to the visible namespaces (no condition when all are visible)."""
    return Q() if visible is None else Q(**{f"{field_name}__in": sorted(visible)})


def top_level_q(prefix: str = "") -> Q:
    """PipelineRuns and standalone TaskRuns: the runs that get attestations of their own."""
    return Q(**{f"{prefix}kind": RunKind.PIPELINE_RUN}) | Q(
        **{f"{prefix}parent_uid": "", f"{prefix}parent_name": ""}
    )


def format_label(fmt: str) -> str:
    """What a person reads for a Chains format name: the predicate version."""
    version = PREDICATE_VERSION.get(fmt)
    return f"{version} ({fmt})" if version else fmt


# =============================================================================================
# Namespaces


def namespace_names(visible: set[str] | None) -> list[str]:
    """Namespaces the caller can pick: their grants, or (staff) every namespace with data."""
    if visible is not None:
        return sorted(visible)
    names = set(RunRecord.objects.values_list("namespace", flat=True).distinct())
    names.update(NamespaceSettings.objects.values_list("namespace", flat=True))
    return sorted(names)


def namespace_exists(namespace: str) -> bool:
    """Does anything name this namespace (a run, settings or a grant)?"""
    return (
        RunRecord.objects.filter(namespace=namespace).exists()
        or NamespaceSettings.objects.filter(namespace=namespace).exists()
        or NamespaceGrant.objects.filter(namespace=namespace).exists()
    )


@dataclass
class NamespaceSummary:
    name: str
    role: str
    runs: int = 0
    attestations: int = 0
    artifacts: int = 0
    failed: int = 0
    waiting: int = 0
    pending: int = 0


def namespace_summaries(access: Any) -> list[NamespaceSummary]:
    """Per visible namespace: runs, artifacts, attestations and runs that failed to sign.

    Three grouped queries whatever the number of namespaces.
    """
    visible = access.visible()
    names = namespace_names(visible)
    summaries = {
        name: NamespaceSummary(name=name, role=access.role_in(name) or "") for name in names
    }
    runs = (
        RunRecord.objects.filter(_in(visible))
        .values("namespace")
        .annotate(
            runs=Count("id", filter=top_level_q()),
            failed=Count("id", filter=Q(compute_status=ComputeStatus.FAILED)),
            waiting=Count("id", filter=Q(compute_status=ComputeStatus.WAITING)),
            pending=Count("id", filter=Q(compute_status=ComputeStatus.PENDING)),
        )
    )
    for row in runs:
        summary = summaries.get(row["namespace"])
        if summary is not None:
            summary.runs = row["runs"]
            summary.failed = row["failed"]
            summary.waiting = row["waiting"]
            summary.pending = row["pending"]
    attestations = (
        Attestation.objects.filter(_in(visible))
        .values("namespace")
        .annotate(
            attestations=Count("id", distinct=True),
            artifacts=Count("subjects", distinct=True),
        )
    )
    for counted in attestations:
        summary = summaries.get(counted["namespace"])
        if summary is not None:
            summary.attestations = counted["attestations"]
            summary.artifacts = counted["artifacts"]
    return list(summaries.values())


# =============================================================================================
# Runs


RUN_LIST_FIELDS = (
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
    "compute_status",
    "compute_reason",
)


def runs_light() -> QuerySet[RunRecord]:
    """Run rows without the raw record (and without labels): what list pages need."""
    return RunRecord.objects.only(*RUN_LIST_FIELDS)


@dataclass(frozen=True, slots=True)
class RunFilters:
    namespace: str = ""
    pipeline: str = ""
    status: str = ""  # True | False | Unknown
    signing: str = ""  # a ComputeStatus
    kind: str = ""  # PipelineRun | TaskRun | top (top-level runs only)
    q: str = ""
    started_from: date | None = None
    started_to: date | None = None


def run_list(*, visible: set[str] | None, filters: RunFilters) -> QuerySet[RunRecord]:
    qs = runs_light().filter(_in(visible))
    if filters.namespace:
        qs = qs.filter(namespace=filters.namespace)
    if filters.pipeline:
        qs = qs.filter(definition=filters.pipeline)
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.signing:
        qs = qs.filter(compute_status=filters.signing)
    if filters.kind == "top":
        qs = qs.filter(top_level_q())
    elif filters.kind:
        qs = qs.filter(kind=filters.kind)
    if filters.q:
        text = filters.q.strip()
        qs = qs.filter(
            Q(name__icontains=text)
            | Q(definition__icontains=text)
            | Q(parent_name__icontains=text)
            | Q(uid=text)
        )
    tz = timezone.get_current_timezone()
    if filters.started_from:
        qs = qs.filter(start_time__gte=datetime.combine(filters.started_from, time.min, tz))
    if filters.started_to:
        end = datetime.combine(filters.started_to + timedelta(days=1), time.min, tz)
        qs = qs.filter(start_time__lt=end)
    return qs.order_by(F("start_time").desc(nulls_last=True), "-id")


def pipeline_names(visible: set[str] | None, limit: int = 500) -> list[str]:
    """Pipeline names for the runs filter (one query)."""
    rows = (
        RunRecord.objects.filter(_in(visible), kind=RunKind.PIPELINE_RUN)
        .exclude(definition="")
        .values_list("definition", flat=True)
        .distinct()
        .order_by("definition")[:limit]
    )
    return list(rows)


def run_get(*, pk: int, visible: set[str] | None) -> RunRecord | None:
    """One run with its raw record, or None when it does not exist or is not visible."""
    return RunRecord.objects.filter(_in(visible), pk=pk).first()


@dataclass
class TaskRow:
    """One pipeline task of a run, for the task table under the graph."""

    pipeline_task: str
    task_run: str | None
    record_id: int | None
    status: str
    reason: str
    is_finally: bool
    start_time: str | None
    completion_time: str | None
    scope: str = ""  # producer | in | out
    why: tuple[str, ...] = ()


@dataclass
class RunDetail:
    record: RunRecord
    run: Run | None
    error: str = ""
    children: list[RunRecord] = field(default_factory=list)
    parent: RunRecord | None = None
    graph: RunGraph | None = None
    scopes: list[ArtifactScope] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    attestations: list[Attestation] = field(default_factory=list)

    @property
    def pipeline_run(self) -> PipelineRun | None:
        return self.run if isinstance(self.run, PipelineRun) else None

    @property
    def task_run(self) -> TaskRun | None:
        return self.run if isinstance(self.run, TaskRun) else None


def slsa_config(values: dict[str, Any]) -> SlsaConfig:
    return SlsaConfig(
        format=values["format"],
        builder_id=values["builder_id"],
        build_type=values["build_type"],
        deep_inspection=bool(values["deep_inspection"]),
    )


def _parse_with_children(record: RunRecord, children: list[RunRecord]) -> Run:
    runs = parse_records([record.document, *(child.document for child in children)])
    return next(r for r in runs if r.meta.uid == record.uid and r.meta.kind == record.kind)


def run_detail(record: RunRecord, *, visible: set[str] | None, deep: bool = False) -> RunDetail:
    """Everything the run page shows: the parsed record, its children, graph and artifacts.

    The graph and the per-artifact scopes are rebuilt by the engine from the stored records of
    the run and its children, under the namespace's effective settings; ``deep`` turns deep
    inspection on for this view only (to explore artifacts tasks produced but the pipeline did
    not re-export).
    """
    detail = RunDetail(record=record, run=None)
    top = record
    if record.kind == RunKind.PIPELINE_RUN:
        detail.children = list(
            RunRecord.objects.filter(kind=RunKind.TASK_RUN, parent_uid=record.uid).order_by(
                F("start_time").asc(nulls_last=True), "name"
            )
        )
    elif not record.is_top_level:
        detail.parent = (
            runs_light()
            .filter(_in(visible), kind=RunKind.PIPELINE_RUN)
            .filter(Q(uid=record.parent_uid) if record.parent_uid else Q(name=record.parent_name))
            .filter(namespace=record.namespace)
            .first()
        )
        top = detail.parent or record
    detail.settings, _ = namespace_settings_effective(record.namespace)
    try:
        detail.run = _parse_with_children(record, detail.children)
    except (ProvenanceError, StopIteration) as exc:
        detail.error = f"the stored record cannot be read: {exc}"
        return detail
    pr = detail.pipeline_run
    if pr is not None:
        try:
            detail.graph = build_graph(pr)
            values = {**detail.settings, "deep_inspection": True} if deep else detail.settings
            detail.scopes = artifact_scopes(pr, slsa_config(values), detail.graph)
        except (ProvenanceError, ValueError) as exc:
            detail.error = f"the graph cannot be built: {exc}"
    if top.pk is not None and top.is_top_level:
        detail.attestations = list(
            Attestation.objects.filter(run_id=top.pk)
            .defer("statement", "envelope", "settings")
            .prefetch_related(
                Prefetch("subjects", queryset=Artifact.objects.order_by("uri", "algorithm"))
            )
            .order_by("-id")
        )
    return detail


def scope_key(scope: ArtifactScope) -> str:
    """``alg:hex`` of an artifact's first digest: its name in URLs (``?artifact=``)."""
    digest = scope.subjects[0].get("digest") or {}
    algorithm, hex_value = sorted(digest.items())[0] if digest else ("", "")
    return f"{algorithm}:{hex_value}"


def normalize_digest(text: str) -> tuple[str, str] | None:
    """``sha256:ABC…``, ``ABC…`` (sha256 assumed) → (alg, hex) lower-cased; None if not hex."""
    value = text.strip().lower()
    algorithm, sep, hex_value = value.rpartition(":")
    if not sep:
        algorithm, hex_value = "sha256", value
    if not hex_value or not HEX.fullmatch(hex_value) or not re.fullmatch(r"[a-z0-9]+", algorithm):
        return None
    return algorithm, hex_value


def scope_for(scopes: list[ArtifactScope], wanted: str) -> ArtifactScope | None:
    pair = normalize_digest(wanted)
    if pair is None:
        return None
    for scope in scopes:
        for subject in scope.subjects:
            for algorithm, hex_value in (subject.get("digest") or {}).items():
                if (algorithm.lower(), hex_value.lower()) == pair:
                    return scope
    return None


def task_rows(detail: RunDetail, scope: ArtifactScope | None) -> list[TaskRow]:
    """Every pipeline task in graph order, with its TaskRun, status and scope verdict."""
    graph = detail.graph
    if graph is None:
        return []
    ids = {child.name: child.pk for child in detail.children}
    producers = {p.task_run for p in scope.producers} if scope else set()
    included = {i.task_run: i.why for i in scope.included} if scope else {}
    excluded = {(e.pipeline_task, e.task_run): e.why for e in scope.excluded} if scope else {}
    rows = []
    for node in graph.nodes.values():
        mark = ""
        why: tuple[str, ...] = ()
        if scope is not None:
            if node.task_run in included:
                mark = "producer" if node.task_run in producers else "in"
                why = included[node.task_run]
            else:
                mark = "out"
                why = (excluded.get((node.pipeline_task, node.task_run), ""),)
        rows.append(
            TaskRow(
                pipeline_task=node.pipeline_task,
                task_run=node.task_run,
                record_id=ids.get(node.task_run),
                status=node.status,
                reason=node.reason,
                is_finally=node.is_finally,
                start_time=node.start_time,
                completion_time=node.completion_time,
                scope=mark,
                why=tuple(w for w in why if w),
            )
        )
    for task, state in graph.not_run:
        rows.append(
            TaskRow(
                pipeline_task=task,
                task_run=None,
                record_id=None,
                status="",
                reason=state,
                is_finally=False,
                start_time=None,
                completion_time=None,
                scope="out" if scope is not None else "",
                why=(f"did not run ({state})",) if scope is not None else (),
            )
        )
    rows.sort(key=lambda r: (r.is_finally, r.start_time is None, r.start_time or "", r.task_run))
    return rows


# =============================================================================================
# Artifacts and attestations


def attestations_light() -> QuerySet[Attestation]:
    """Attestation rows without the statement and envelope bytes, with run and subjects."""
    return (
        Attestation.objects.select_related("run")
        .defer("statement", "envelope", "settings", *(f"run__{f}" for f in ("raw", "labels")))
        .prefetch_related(
            Prefetch("subjects", queryset=Artifact.objects.order_by("uri", "algorithm"))
        )
    )


@dataclass(frozen=True, slots=True)
class AttestationFilters:
    namespace: str = ""
    format: str = ""
    scope: str = ""
    current: str = ""  # "" all | "1" current only | "0" superseded only
    run: int | None = None


def attestation_list(
    *, visible: set[str] | None, filters: AttestationFilters
) -> QuerySet[Attestation]:
    qs = attestations_light().filter(_in(visible))
    if filters.namespace:
        qs = qs.filter(namespace=filters.namespace)
    if filters.format:
        qs = qs.filter(format=filters.format)
    if filters.scope:
        qs = qs.filter(scope=filters.scope)
    if filters.current == "1":
        qs = qs.filter(superseded_by__isnull=True)
    elif filters.current == "0":
        qs = qs.filter(superseded_by__isnull=False)
    if filters.run is not None:
        qs = qs.filter(run_id=filters.run)
    return qs.order_by("-id")


@dataclass(frozen=True, slots=True)
class ArtifactFilters:
    q: str = ""
    namespace: str = ""


def artifact_list(*, visible: set[str] | None, filters: ArtifactFilters) -> QuerySet[Artifact]:
    """Artifacts named by at least one visible attestation, most recently attested first."""
    condition = _in(visible, "attestations__namespace")
    if filters.namespace:
        condition &= Q(attestations__namespace=filters.namespace)
    qs = Artifact.objects.all()
    text = filters.q.strip()
    if text:
        pair = normalize_digest(text)
        match = Q(uri__icontains=text)
        if pair is not None and len(pair[1]) >= 4:
            match |= Q(algorithm=pair[0], hex__startswith=pair[1])
        qs = qs.filter(match)
    return (
        qs.annotate(
            attestation_count=Count("attestations", filter=condition, distinct=True),
            current_count=Count(
                "attestations",
                filter=condition & Q(attestations__superseded_by__isnull=True),
                distinct=True,
            ),
            latest=Max("attestations__created", filter=condition),
        )
        .filter(attestation_count__gt=0)
        .order_by(F("latest").desc(nulls_last=True), "uri", "id")
    )


def digest_attestations(
    *, visible: set[str] | None, algorithm: str, hex_value: str
) -> QuerySet[Attestation]:
    """Every visible attestation naming this digest (any URI), newest first, with the bytes
    needed to verify it."""
    return (
        Attestation.objects.filter(id__in=_digest_ids(visible, algorithm, hex_value))
        .select_related("run")
        .defer("settings", "run__raw", "run__labels")
        .prefetch_related(
            Prefetch("subjects", queryset=Artifact.objects.order_by("uri", "algorithm"))
        )
        .order_by("-created", "-id")
    )


def _digest_ids(visible: set[str] | None, algorithm: str, hex_value: str) -> QuerySet[Any]:
    """Subquery: ids of the visible attestations naming the digest (under any URI)."""
    artifacts = Artifact.objects.filter(algorithm=algorithm, hex=hex_value)
    return Attestation.objects.filter(_in(visible), subjects__in=artifacts).values("id")


def digest_envelopes(
    *, visible: set[str] | None, algorithm: str, hex_value: str
) -> Iterator[bytes]:
    """The DSSE envelopes of every visible attestation of a digest, newest first (streamed)."""
    rows = (
        Attestation.objects.filter(id__in=_digest_ids(visible, algorithm, hex_value))
        .order_by("-created", "-id")
        .values_list("envelope", flat=True)
    )
    for envelope in rows.iterator(chunk_size=200):
        yield bytes(envelope)


def attestation_get(*, pk: int, visible: set[str] | None) -> Attestation | None:
    return (
        Attestation.objects.filter(_in(visible), pk=pk)
        .select_related("run", "superseded_by", "chain_entry")
        .defer("run__raw")
        .prefetch_related(
            Prefetch("subjects", queryset=Artifact.objects.order_by("uri", "algorithm"))
        )
        .first()
    )


# --- verification ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Verification:
    ok: bool
    summary: str
    problems: tuple[str, ...] = ()
    algorithm: str = ""


def keys_for(attestations: Iterable[Attestation]) -> dict[str, SigningKey]:
    """The registered keys of these attestations, in one query."""
    ids = {a.key_id for a in attestations}
    return {k.key_id: k for k in SigningKey.objects.filter(key_id__in=ids)}


def attestation_verify(attestation: Attestation, keys: dict[str, SigningKey]) -> Verification:
    """Check the stored envelope again: hashes, payload = statement, and the DSSE signature
    under the registered public key (provenance.core.dsse)."""
    problems: list[str] = []
    envelope_bytes = bytes(attestation.envelope)
    statement = bytes(attestation.statement)
    if hashlib.sha256(envelope_bytes).hexdigest() != attestation.envelope_sha256:
        problems.append("the envelope differs from the one that was stored (sha256 mismatch)")
    if hashlib.sha256(statement).hexdigest() != attestation.statement_sha256:
        problems.append("the statement differs from the one that was signed (sha256 mismatch)")
    key = keys.get(attestation.key_id)
    algorithm = key.algorithm if key else ""
    try:
        envelope = dsse.Envelope.from_json(envelope_bytes)
    except ProvenanceError as exc:
        problems.append(f"the envelope cannot be read: {exc}")
        return Verification(False, "Envelope unreadable", tuple(problems), algorithm)
    if envelope.payload != statement:
        problems.append("the envelope's payload is not the stored statement")
    if key is None:
        problems.append(f"the key {attestation.key_id} is not registered")
        return Verification(False, "Unknown key", tuple(problems), algorithm)
    try:
        signed = dsse.verify(envelope, key.public_key_pem, key_id=key.key_id)
    except ProvenanceError as exc:
        signed = False
        problems.append(f"the registered public key cannot be used: {exc}")
    if not signed:
        problems.append(f"the signature does not verify with key {key.key_id}")
        return Verification(False, "Signature invalid", tuple(problems), algorithm)
    if problems:
        return Verification(False, "Tampered", tuple(problems), algorithm)
    return Verification(True, "Verified", (), algorithm)


def verify_all(attestations: list[Attestation]) -> dict[int, Verification]:
    keys = keys_for(attestations)
    return {a.pk: attestation_verify(a, keys) for a in attestations}


# --- statement decoding ------------------------------------------------------------------------


@dataclass
class DecodedStatement:
    """What a person reads in a statement (any of our two predicate versions)."""

    raw: dict[str, Any]
    predicate_type: str
    predicate_label: str
    subjects: list[dict[str, Any]]
    build_type: str
    builder_id: str
    materials: list[dict[str, Any]]
    parameters: Any
    started: str
    finished: str
    invocation_id: str
    byproducts: list[dict[str, Any]]
    run_state: dict[str, Any] | None
    pretty: str


def _digests(entry: dict[str, Any]) -> list[tuple[str, str]]:
    digest = entry.get("digest")
    return sorted(digest.items()) if isinstance(digest, dict) else []


def statement_decode(payload: bytes) -> DecodedStatement:
    raw = orjson.loads(payload)
    if not isinstance(raw, dict):
        raw = {}
    predicate = raw.get("predicate") if isinstance(raw.get("predicate"), dict) else {}
    assert isinstance(predicate, dict)
    predicate_type = str(raw.get("predicateType", ""))
    subjects = [
        {"name": str(s.get("name", "")), "digests": _digests(s)}
        for s in raw.get("subject") or []
        if isinstance(s, dict)
    ]
    if "buildDefinition" in predicate:  # SLSA v1.0
        definition = predicate.get("buildDefinition") or {}
        details = predicate.get("runDetails") or {}
        metadata = details.get("metadata") or {}
        build_type = str(definition.get("buildType", ""))
        builder_id = str((details.get("builder") or {}).get("id", ""))
        materials_raw = definition.get("resolvedDependencies") or []
        parameters = definition.get("externalParameters")
        started = str(metadata.get("startedOn", ""))
        finished = str(metadata.get("finishedOn", ""))
        invocation_id = str(metadata.get("invocationID", ""))
        byproducts_raw = details.get("byproducts") or []
    else:  # SLSA v0.2
        metadata = predicate.get("metadata") or {}
        build_type = str(predicate.get("buildType", ""))
        builder_id = str((predicate.get("builder") or {}).get("id", ""))
        materials_raw = predicate.get("materials") or []
        parameters = (predicate.get("invocation") or {}).get("parameters")
        started = str(metadata.get("buildStartedOn", ""))
        finished = str(metadata.get("buildFinishedOn", ""))
        invocation_id = ""
        byproducts_raw = []
    materials = [
        {
            "uri": str(m.get("uri") or m.get("name") or ""),
            "name": str(m.get("name", "")),
            "digests": _digests(m),
        }
        for m in materials_raw
        if isinstance(m, dict)
    ]
    byproducts = [
        {"name": str(b.get("name") or b.get("uri") or ""), "digests": _digests(b)}
        for b in byproducts_raw
        if isinstance(b, dict)
    ]
    state = metadata.get(RUN_STATE_KEY) if isinstance(metadata, dict) else None
    return DecodedStatement(
        raw=raw,
        predicate_type=predicate_type,
        predicate_label=PREDICATE_LABELS.get(predicate_type, predicate_type),
        subjects=subjects,
        build_type=build_type,
        builder_id=builder_id,
        materials=materials,
        parameters=parameters,
        started=started,
        finished=finished,
        invocation_id=invocation_id,
        byproducts=byproducts,
        run_state=state if isinstance(state, dict) else None,
        pretty=orjson.dumps(raw, option=orjson.OPT_INDENT_2).decode(),
    )


# =============================================================================================
# Overview


@dataclass
class Attention:
    failed: list[RunRecord]
    failed_count: int
    unsigned: list[RunRecord]
    unsigned_count: int
    broken: list[tuple[Attestation, Verification]]
    checked: int

    @property
    def empty(self) -> bool:
        return not (self.failed_count or self.unsigned_count or self.broken)


def attention(visible: set[str] | None) -> Attention:
    """Runs that failed to sign, finished runs left unsigned, and attestations that no longer
    verify (the newest ``OVERVIEW_VERIFY_LATEST``)."""
    failed_qs = runs_light().filter(_in(visible), compute_status=ComputeStatus.FAILED)
    # Finished runs without a signature: waiting on something, or skipped by the emit policy.
    unsigned_qs = (
        runs_light()
        .filter(_in(visible), top_level_q())
        .filter(compute_status__in=[ComputeStatus.WAITING, ComputeStatus.SKIPPED])
        .exclude(status="Unknown")
        .exclude(status="")
    )
    order = (F("compute_updated").desc(nulls_last=True), "-id")
    latest = list(
        Attestation.objects.filter(_in(visible))
        .select_related("run")
        .defer("settings", "run__raw", "run__labels")
        .order_by("-id")[:OVERVIEW_VERIFY_LATEST]
    )
    results = verify_all(latest)
    return Attention(
        failed=list(failed_qs.order_by(*order)[:ATTENTION_LIMIT]),
        failed_count=failed_qs.count(),
        unsigned=list(unsigned_qs.order_by(*order)[:ATTENTION_LIMIT]),
        unsigned_count=unsigned_qs.count(),
        broken=[(a, results[a.pk]) for a in latest if not results[a.pk].ok],
        checked=len(latest),
    )


def latest_attestations(visible: set[str] | None, limit: int = 10) -> list[Attestation]:
    return list(attestations_light().filter(_in(visible)).order_by("-id")[:limit])


# =============================================================================================
# Search


@dataclass
class DigestHit:
    algorithm: str
    hex: str
    uris: list[str]


@dataclass
class SearchResults:
    query: str
    understood: list[str] = field(default_factory=list)
    digests: list[DigestHit] = field(default_factory=list)
    artifacts: list[Artifact] = field(default_factory=list)
    attestations: list[Attestation] = field(default_factory=list)
    runs: list[RunRecord] = field(default_factory=list)
    pipelines: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return (
            len(self.digests)
            + len(self.artifacts)
            + len(self.attestations)
            + len(self.runs)
            + len(self.pipelines)
        )


IMAGE_DIGEST_REF = re.compile(r"^(?P<name>[^@\s]+)@(?P<alg>[a-z0-9]+):(?P<hex>[0-9a-f]+)$")
IMAGE_TAG_REF = re.compile(r"^(?P<name>[^\s:@]+(?::\d+)?/[^\s:@]+):(?P<tag>[\w][\w.-]{0,127})$")


def _visible_artifacts(visible: set[str] | None) -> QuerySet[Artifact]:
    if visible is None:
        return Artifact.objects.all()
    return Artifact.objects.filter(attestations__namespace__in=sorted(visible))


def _digest_hits(visible: set[str] | None, algorithm: str | None, prefix: str) -> list[DigestHit]:
    if len(prefix) < 4:
        return []
    qs = _visible_artifacts(visible).filter(hex__startswith=prefix)
    if algorithm:
        qs = qs.filter(algorithm=algorithm)
    hits: dict[tuple[str, str], DigestHit] = {}
    for uri, alg, hex_value in (
        qs.values_list("uri", "algorithm", "hex").distinct().order_by("hex", "uri")[:200]
    ):
        hit = hits.setdefault((alg, hex_value), DigestHit(alg, hex_value, []))
        if uri not in hit.uris:
            hit.uris.append(uri)
    return list(hits.values())[:SEARCH_GROUP_LIMIT]


def _statements_containing(
    visible: set[str] | None, text: str, subject_uri: str = ""
) -> list[Attestation]:
    """Recent visible attestations whose statement contains ``text`` (bounded window), and
    with ``subject_uri``, only those naming that subject."""
    recent = Attestation.objects.filter(_in(visible))
    if subject_uri:
        recent = recent.filter(subjects__uri=subject_uri)
    window = recent.order_by("-id").values("id")[:SEARCH_STATEMENT_WINDOW]
    decoded = Func(F("statement"), Value("UTF8"), function="convert_from", output_field=TextField())
    return list(
        attestations_light()
        .filter(id__in=window)
        .annotate(statement_text=decoded)
        .filter(statement_text__contains=text)
        .order_by("-id")[:SEARCH_GROUP_LIMIT]
    )


def search(query: str, *, visible: set[str] | None) -> SearchResults:
    """One box: digests (full or prefix, with or without ``alg:``), image references
    (``name@sha256:…``, ``name:tag``), git commits, run and pipeline names."""
    text = query.strip()[:300]
    results = SearchResults(query=text)
    if not text:
        return results
    lowered = text.lower()
    ref = IMAGE_DIGEST_REF.match(lowered)
    tag_ref = IMAGE_TAG_REF.match(text)
    pair = normalize_digest(lowered)
    if ref is not None:
        results.understood.append("an image reference by digest")
        name = text[: text.index("@")]
        results.digests = _digest_hits(visible, ref["alg"], ref["hex"])
        results.artifacts = list(
            _visible_artifacts(visible)
            .filter(uri=name, algorithm=ref["alg"], hex__startswith=ref["hex"])
            .distinct()
            .order_by("uri")[:SEARCH_GROUP_LIMIT]
        )
    elif pair is not None and len(pair[1]) >= 4:
        explicit = ":" in lowered
        results.understood.append("a digest" + ("" if explicit else " (or a prefix)"))
        results.digests = _digest_hits(visible, pair[0] if explicit else None, pair[1])
        if not explicit and 7 <= len(pair[1]) <= 40:
            results.understood.append("a git commit")
            results.attestations = _statements_containing(visible, pair[1])
            results.notes.append(
                f"Git commits are looked up in the statements of the {SEARCH_STATEMENT_WINDOW} "
                "most recent attestations you can see."
            )
    elif tag_ref is not None:
        results.understood.append("an image reference by tag")
        results.artifacts = list(
            _visible_artifacts(visible)
            .filter(uri=tag_ref["name"])
            .distinct()
            .order_by("uri", "hex")[:SEARCH_GROUP_LIMIT]
        )
        # Statements record digests, not tags: a tag is usually a version or a commit, which
        # the statement does carry (parameters, resolved dependencies), so look for the tag
        # among attestations of that image.
        results.attestations = _statements_containing(
            visible, tag_ref["tag"], subject_uri=tag_ref["name"]
        )
        results.notes.append(
            f"Tags are looked up in the statements of the {SEARCH_STATEMENT_WINDOW} most recent "
            "attestations you can see; a tag can move, the digest is what was signed."
        )
    if len(text) >= 2 and ref is None:
        if not results.artifacts:
            results.artifacts = list(
                _visible_artifacts(visible)
                .filter(uri__icontains=text)
                .distinct()
                .order_by("uri", "hex")[:SEARCH_GROUP_LIMIT]
            )
        results.runs = list(
            runs_light()
            .filter(_in(visible))
            .filter(Q(name__icontains=text) | Q(uid=text))
            .order_by(F("start_time").desc(nulls_last=True), "-id")[:SEARCH_GROUP_LIMIT]
        )
        results.pipelines = [
            dict(row)
            for row in RunRecord.objects.filter(_in(visible), kind=RunKind.PIPELINE_RUN)
            .filter(definition__icontains=text)
            .values("definition", "namespace")
            .annotate(runs=Count("id"), latest=Max("start_time"))
            .order_by("definition", "namespace")[:SEARCH_GROUP_LIMIT]
        ]
        if results.runs or results.pipelines:
            results.understood.append("a run or pipeline name")
    return results


# =============================================================================================
# Namespace settings


def settings_audit(namespace: str) -> QuerySet[SettingsAudit]:
    return SettingsAudit.objects.filter(namespace=namespace).order_by("-changed", "-id")


def audit_changes(entry: SettingsAudit) -> list[tuple[str, Any, Any]]:
    """(field, old, new) for what one audit entry changed.

    The first entry of a namespace has no old values: it is compared with the deployment
    defaults, so it shows what the person actually chose.
    """
    old = entry.old if isinstance(entry.old, dict) else {}
    new = entry.new if isinstance(entry.new, dict) else {}
    if not old:
        old = {**namespace_settings_defaults(), "signing_key": None}
    names = [*SETTINGS_FIELDS, "signing_key"]
    names += sorted(k for k in {*old, *new} if k not in names)
    return [
        (name, old.get(name), new.get(name))
        for name in names
        if old.get(name) != new.get(name) and (name in new or name in old)
    ]


def recompute_progress(namespace: str) -> dict[str, int]:
    """Top-level runs of the namespace by compute status (one grouped query)."""
    counts = dict.fromkeys(ComputeStatus.values, 0)
    rows = (
        RunRecord.objects.filter(top_level_q(), namespace=namespace)
        .values_list("compute_status")
        .annotate(n=Count("id"))
    )
    for status, n in rows:
        counts[status] = n
    counts.pop(ComputeStatus.CHILD, None)
    counts["total"] = sum(counts.values())
    return counts


def namespace_tokens(namespace: str) -> QuerySet[ApiToken]:
    """Tokens that name this namespace (tokens for every namespace are managed by staff)."""
    return ApiToken.objects.filter(namespaces__contains=[namespace]).order_by(
        F("revoked_at").desc(nulls_first=True), "-created", "-id"
    )


@dataclass
class PlanSummary:
    settings: dict[str, Any]
    statements: int
    subjects: list[str]
    scope: str
    predicate: str
    build_type: str
    waiting: list[str]
    scopes: dict[str, tuple[str, ...]]  # per-artifact: subject → in-scope tasks
    digests: list[str] = field(default_factory=list)


@dataclass
class SettingsPreview:
    run: RunRecord | None
    current: PlanSummary | None = None
    proposed: PlanSummary | None = None
    error: str = ""

    @property
    def changes(self) -> list[str]:
        """What a person should notice, in words."""
        if self.current is None or self.proposed is None:
            return []
        a, b = self.current, self.proposed
        found = []
        if a.statements != b.statements:
            found.append(f"statements for this run: {a.statements} → {b.statements}")
        if a.predicate != b.predicate:
            found.append(f"predicate: {a.predicate} → {b.predicate}")
        if a.build_type != b.build_type:
            found.append(f"build type: {a.build_type} → {b.build_type}")
        added = sorted(set(b.subjects) - set(a.subjects))
        removed = sorted(set(a.subjects) - set(b.subjects))
        if added:
            found.append("new subjects: " + ", ".join(added))
        if removed:
            found.append("subjects no longer attested: " + ", ".join(removed))
        if a.scope != b.scope:
            found.append(f"scope: {a.scope} → {b.scope}")
        for subject, tasks in b.scopes.items():
            before = a.scopes.get(subject)
            if before is not None and before != tasks:
                found.append(f"tasks in scope of {subject}: {', '.join(tasks)}")
        if a.waiting != b.waiting:
            found.append("waiting: " + ("; ".join(b.waiting) if b.waiting else "nothing"))
        return found


def _summarize(run: Run, values: dict[str, Any]) -> PlanSummary:
    plan: Plan = plan_statements(run, slsa_config(values), values["scope"], values["emit"])
    subjects: list[str] = []
    digests: list[str] = []
    scopes: dict[str, tuple[str, ...]] = {}
    predicate = ""
    build_type = ""
    for planned in plan.statements:
        decoded = statement_decode(statement_bytes(planned.statement))
        predicate = decoded.predicate_label
        build_type = decoded.build_type
        names = [s["name"] for s in decoded.subjects]
        subjects.extend(names)
        digests.extend(f"{a}:{h}" for s in decoded.subjects for a, h in s["digests"])
        if decoded.run_state is not None and names:
            tasks = tuple(
                str(t.get("pipelineTask", "")) for t in decoded.run_state.get("inScope") or []
            )
            scopes[names[0]] = tasks
    return PlanSummary(
        settings=values,
        statements=len(plan.statements),
        subjects=list(dict.fromkeys(subjects)),
        scope=values["scope"],
        predicate=predicate or "—",
        build_type=build_type or "—",
        waiting=[f"{w.subject}: {w.reason}" if w.subject else w.reason for w in plan.waiting],
        scopes=scopes,
        digests=list(dict.fromkeys(digests)),
    )


def latest_run(namespace: str) -> RunRecord | None:
    """The namespace's most recent top-level run (with its raw record)."""
    return (
        RunRecord.objects.filter(top_level_q(), namespace=namespace)
        .order_by(F("start_time").desc(nulls_last=True), "-id")
        .first()
    )


def settings_preview(namespace: str, proposed: dict[str, Any]) -> SettingsPreview:
    """What the namespace's latest run would be attested as, now and under ``proposed``."""
    record = latest_run(namespace)
    preview = SettingsPreview(run=record)
    if record is None:
        return preview
    current, _ = namespace_settings_effective(namespace)
    children = (
        list(RunRecord.objects.filter(kind=RunKind.TASK_RUN, parent_uid=record.uid))
        if record.kind == RunKind.PIPELINE_RUN
        else []
    )
    try:
        run = _parse_with_children(record, children)
        preview.current = _summarize(run, current)
        preview.proposed = _summarize(run, {**current, **proposed})
    except (ProvenanceError, StopIteration) as exc:
        preview.error = str(exc) or type(exc).__name__
    return preview


PROGRESS_ORDER = (
    (ComputeStatus.SIGNED, "Signed"),
    (ComputeStatus.SKIPPED, "Skipped"),
    (ComputeStatus.WAITING, "Waiting"),
    (ComputeStatus.PENDING, "Pending"),
    (ComputeStatus.FAILED, "Failed"),
)


@dataclass(frozen=True, slots=True)
class Segment:
    status: str
    label: str
    count: int
    x: float  # percent of the bar
    width: float


def progress_segments(progress: dict[str, int]) -> list[Segment]:
    """The recompute progress bar as SVG-ready segments (no inline styles needed)."""
    total = progress.get("total", 0)
    segments = []
    x = 0.0
    for status, label in PROGRESS_ORDER:
        count = progress.get(status, 0)
        width = 100.0 * count / total if total else 0.0
        segments.append(Segment(status, label, count, round(x, 3), round(width, 3)))
        x += width
    return segments
