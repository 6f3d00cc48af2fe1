"""Run records: the filtered lists of the runs page and the API, one run, its TaskRuns.

Lists never read the stored record (``RunRecord.raw``, compressed JSON up to megabytes); only
``run_get`` (the run page, which shows and parses it) and ``run_record_raw`` do. A run whose
raw record was pruned under its namespace's retention has none: ``RecordPruned`` says so.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db.models import F, Q, QuerySet

from provenance.core.errors import ProvenanceError
from provenance.core.tekton import Run, parse_records
from provenance.models import RunKind, RunRecord, top_level_q

from .visibility import visible

# What the runs page shows of a run.
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


def run_record_list(
    *,
    namespaces: set[str] | None,
    namespace: str | None = None,
    kind: str | None = None,
    top_level: bool = False,
    pipeline: str | None = None,
    definition: str | None = None,
    task: str | None = None,
    name: str | None = None,
    pipeline_run: str | None = None,
    status: str | None = None,
    compute_status: str | None = None,
    text: str | None = None,
    started_after: datetime | None = None,
    started_before: datetime | None = None,
    completed_after: datetime | None = None,
    completed_before: datetime | None = None,
) -> QuerySet[RunRecord]:
    """PipelineRuns and TaskRuns the caller may see, newest first (by arrival).

    ``pipeline`` matches a PipelineRun's pipeline name and a TaskRun's ``tekton.dev/pipeline``
    label; ``definition`` is a run's own pipelineRef or taskRef name (the runs page's pipeline
    filter); ``task`` a TaskRun's task name or pipeline task; ``pipeline_run`` a TaskRun's
    PipelineRun (name or uid); ``top_level`` keeps runs attested on their own; ``text`` (the
    runs page's search box) a part of the name, pipeline or parent name, or the exact uid. The
    time bounds are inclusive.
    """
    qs = visible(RunRecord.objects.defer("raw"), namespaces)
    if namespace:
        qs = qs.filter(namespace=namespace)
    if kind:
        qs = qs.filter(kind=kind)
    if top_level:
        qs = qs.filter(top_level_q())
    if pipeline:
        qs = qs.filter(
            Q(kind=RunKind.PIPELINE_RUN, definition=pipeline)
            | Q(kind=RunKind.TASK_RUN, labels__contains={"tekton.dev/pipeline": pipeline})
        )
    if definition:
        qs = qs.filter(definition=definition)
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
    if text:
        qs = qs.filter(
            Q(name__icontains=text)
            | Q(definition__icontains=text)
            | Q(parent_name__icontains=text)
            | Q(uid=text)
        )
    if started_after:
        qs = qs.filter(start_time__gte=started_after)
    if started_before:
        qs = qs.filter(start_time__lte=started_before)
    if completed_after:
        qs = qs.filter(completion_time__gte=completed_after)
    if completed_before:
        qs = qs.filter(completion_time__lte=completed_before)
    return qs.order_by("-id")


def run_list(*, namespaces: set[str] | None, **filters: Any) -> QuerySet[RunRecord]:
    """The runs page: ``run_record_list`` (same arguments) by start time, newest first, with
    only the columns the page shows."""
    qs = run_record_list(namespaces=namespaces, **filters).only(*RUN_LIST_FIELDS)
    return qs.order_by(F("start_time").desc(nulls_last=True), "-id")


def pipeline_names(namespaces: set[str] | None, limit: int = 500) -> list[str]:
    """Pipeline names for the runs filter (one query)."""
    rows = (
        visible(RunRecord.objects.filter(kind=RunKind.PIPELINE_RUN), namespaces)
        .exclude(definition="")
        .values_list("definition", flat=True)
        .distinct()
        .order_by("definition")[:limit]
    )
    return list(rows)


def run_get(*, pk: int, namespaces: set[str] | None) -> RunRecord | None:
    """One visible run with its stored record, by id (None for unknown and invisible alike)."""
    return visible(RunRecord.objects.filter(pk=pk), namespaces).first()


def run_record_get(*, uid: str, namespaces: set[str] | None) -> RunRecord | None:
    """One visible run by its Kubernetes uid (None for unknown and invisible alike)."""
    if not uid or len(uid) > 128 or "\x00" in uid:
        return None
    return visible(RunRecord.objects.filter(uid=uid), namespaces).first()


def run_parent(record: RunRecord, namespaces: set[str] | None) -> RunRecord | None:
    """A TaskRun's visible PipelineRun (by uid once linked, else by name), without its record."""
    if record.kind != RunKind.TASK_RUN or record.is_top_level:
        return None
    by = Q(uid=record.parent_uid) if record.parent_uid else Q(name=record.parent_name)
    qs = RunRecord.objects.only(*RUN_LIST_FIELDS).filter(
        by, kind=RunKind.PIPELINE_RUN, namespace=record.namespace
    )
    return visible(qs, namespaces).first()


def run_children(record: RunRecord, *, with_records: bool = False) -> QuerySet[RunRecord]:
    """A PipelineRun's stored TaskRuns (same namespace), by start time; their stored records
    only when asked for (to parse them)."""
    if record.kind != RunKind.PIPELINE_RUN:
        return RunRecord.objects.none()
    qs = RunRecord.objects.filter(
        kind=RunKind.TASK_RUN, parent_uid=record.uid, namespace=record.namespace
    )
    if not with_records:
        qs = qs.defer("raw")
    return qs.order_by("start_time", "name", "id")


class RecordPruned(ProvenanceError):
    """What needs a run's raw record, asked of a run whose raw record was pruned."""

    def __init__(self, record: RunRecord) -> None:
        super().__init__(pruned_note(record))


def pruned_note(record: RunRecord) -> str:
    """Why a run has no raw record, for a person: "the raw record was pruned on 2026-01-31
    under the namespace's 30-day retention" (empty when it has one)."""
    if record.pruned_at is None:
        return ""
    days = record.pruned_retention_days
    under = f"under the namespace's {days}-day retention" if days else "under its retention"
    return f"the raw record was pruned on {record.pruned_at:%Y-%m-%d} {under}"


def run_record_raw(record: RunRecord) -> bytes:
    """The record as received: the compact JSON of the object, decompressed (RecordPruned)."""
    if record.is_pruned:
        raise RecordPruned(record)
    return zlib.decompress(bytes(record.raw))


def latest_run(namespace: str) -> RunRecord | None:
    """The namespace's most recent top-level run whose raw record is kept (with it)."""
    return (
        RunRecord.objects.filter(top_level_q(), namespace=namespace, pruned_at__isnull=True)
        .order_by(F("start_time").desc(nulls_last=True), "-id")
        .first()
    )


# The source of a statement made from records that came in different ways.
MIXED_SOURCES = "mixed"


def records_source(records: Iterable[RunRecord]) -> str:
    """How the records a statement is made from came: their ``source_kind`` when they all
    came one way, else ``mixed`` (a watched PipelineRun with an uploaded TaskRun is not a
    watched run)."""
    kinds = {record.source_kind for record in records}
    return kinds.pop() if len(kinds) == 1 else MIXED_SOURCES


def parse_run(record: RunRecord, children: list[RunRecord]) -> Run:
    """The engine's view of a stored run with its stored TaskRuns (RecordPruned, another
    ProvenanceError, or StopIteration when the record is not the run it claims to be)."""
    pruned = next((r for r in (record, *children) if r.is_pruned), None)
    if pruned is not None:
        raise RecordPruned(pruned)
    runs = parse_records([record.document, *(child.document for child in children)])
    return next(r for r in runs if r.meta.uid == record.uid and r.meta.kind == record.kind)
