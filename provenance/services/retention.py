"""Retention: the raw records of runs completed longer ago than their namespace's retention
period are pruned; the attestations, their statements and envelopes, and the hash chain are
kept for ever (docs/operations.md, "Retention").

A pruned run keeps its row (attestations point at it, ``PROTECT``): ``raw`` is emptied, and
``pruned_at`` and the retention it was pruned under are set; ``raw_sha256`` stays. A run is
pruned with all its TaskRuns, and only when it is safe to: its namespace has no legal hold,
it completed before the cut-off, its compute ended ``signed`` (nothing pending, waiting or
failed) and every attestation of it is in the hash chain.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Count, Exists, F, Func, IntegerField, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from provenance.config import defaults
from provenance.models import (
    Attestation,
    ComputeStatus,
    NamespaceSettings,
    RunKind,
    RunRecord,
    SettingsAudit,
    top_level_q,
)
from provenance.reads.namespaces import namespace_names, namespace_retention

# Top-level runs pruned per transaction (with their TaskRuns), and per audit entry.
BATCH = 1000


@dataclass(frozen=True, slots=True)
class NamespacePruning:
    """What pruning did (or, in a dry run or under a legal hold, would do) in one namespace.

    ``runs`` counts top-level runs; ``records`` the rows emptied (the runs and their TaskRuns);
    ``bytes`` the stored (compressed) bytes of their raw records."""

    namespace: str
    retention_days: int | None
    legal_hold: bool
    completed_before: datetime | None = None
    runs: int = 0
    records: int = 0
    bytes: int = 0
    # The counts were pruned (not a dry run, not held before it began); with ``legal_hold``
    # too, a hold was set while it ran and stopped it after them.
    pruned: bool = False


def _raw_size() -> Func:
    return Func(F("raw"), function="octet_length", output_field=IntegerField())


def prunable_runs(namespace: str, completed_before: datetime) -> QuerySet[RunRecord]:
    """The namespace's top-level runs whose raw records may go: completed before the cut-off,
    signed, every attestation in the chain, not pruned yet (a legal hold is checked apart)."""
    attested = Attestation.objects.filter(run=OuterRef("pk"))
    return (
        RunRecord.objects.filter(
            top_level_q(),
            namespace=namespace,
            pruned_at__isnull=True,
            completion_time__lt=completed_before,
            compute_status=ComputeStatus.SIGNED,
        )
        .filter(Exists(attested))
        .exclude(Exists(attested.filter(chain_entry__isnull=True)))
    )


def _with_task_runs(namespace: str, pks: Any, uids: Any) -> QuerySet[RunRecord]:
    """These top-level runs and their TaskRuns, those not pruned yet."""
    return RunRecord.objects.filter(
        Q(pk__in=pks) | Q(kind=RunKind.TASK_RUN, namespace=namespace, parent_uid__in=uids),
        pruned_at__isnull=True,
    )


def _sizes(rows: QuerySet[RunRecord]) -> tuple[int, int]:
    found = rows.aggregate(records=Count("id"), bytes=Coalesce(Sum(_raw_size()), 0))
    return int(found["records"]), int(found["bytes"])


def records_prune(
    *,
    namespace: str | None = None,
    older_than_days: int | None = None,
    dry_run: bool = False,
    actor: str = "command:prune_records",
    now: datetime | None = None,
) -> list[NamespacePruning]:
    """Prune (or, with ``dry_run``, count) the raw records each namespace's retention lets go,
    in every namespace or in ``namespace``. ``older_than_days`` only narrows: a run goes when
    it completed more than both its namespace's retention and that many days ago; a namespace
    kept for ever stays so. Each transaction of a real run writes one audit entry."""
    now = now or timezone.now()
    names = [namespace] if namespace else namespace_names(None)
    configs = namespace_retention(names)
    results = []
    for name in names:
        config = configs[name]
        days = config.retention_days
        if days is None:
            results.append(NamespacePruning(name, None, config.legal_hold))
            continue
        cutoff = now - timedelta(days=max(days, older_than_days or 0))
        if dry_run or config.legal_hold:
            candidates = prunable_runs(name, cutoff)
            records, size = _sizes(
                _with_task_runs(name, candidates.values("pk"), candidates.values("uid"))
            )
            results.append(
                NamespacePruning(
                    name, days, config.legal_hold, cutoff, candidates.count(), records, size
                )
            )
            continue
        total = NamespacePruning(name, days, False, cutoff, pruned=True)
        # Listed once, then locked and checked again batch by batch: each batch's query
        # costs its own size, not the namespace's.
        listed = list(prunable_runs(name, cutoff).order_by("kind", "uid").values_list("pk"))
        for start in range(0, len(listed), BATCH):
            batch = _prune_batch(
                name, [pk for (pk,) in listed[start : start + BATCH]], older_than_days, now, actor
            )
            total = replace(
                total,
                legal_hold=batch.legal_hold,
                runs=total.runs + batch.runs,
                records=total.records + batch.records,
                bytes=total.bytes + batch.bytes,
            )
            if batch.legal_hold or batch.retention_days is None:
                break
        results.append(total)
    return results


@transaction.atomic
def _prune_batch(
    namespace: str, pks: list[int], older_than_days: int | None, now: datetime, actor: str
) -> NamespacePruning:
    """Prune these top-level runs with their TaskRuns, those still prunable once locked, and
    audit it, in one transaction."""
    # The settings row is read under its lock: a legal hold (or a longer retention) being
    # saved right now is waited for, and wins.
    row = NamespaceSettings.objects.select_for_update(of=("self",)).filter(namespace=namespace)
    locked = row.values("retention_days", "legal_hold").first()
    days = locked["retention_days"] if locked else defaults().retention_days
    if days is None or (locked and locked["legal_hold"]):
        return NamespacePruning(namespace, days, bool(locked and locked["legal_hold"]))
    cutoff = now - timedelta(days=max(days, older_than_days or 0))
    # Locked as ingest and compute lock runs (PipelineRuns, then TaskRuns, each by uid), and
    # checked again once locked: a run an ingest or a compute just changed is left alone.
    top = list(
        prunable_runs(namespace, cutoff)
        .filter(pk__in=pks)
        .order_by("kind", "uid")
        .select_for_update(of=("self",))
        .values_list("pk", "uid")
    )
    if not top:
        return NamespacePruning(namespace, days, False, cutoff)
    rows = _with_task_runs(namespace, [pk for pk, _ in top], [uid for _, uid in top])
    records, size = _sizes(rows)
    rows.update(raw=b"", pruned_at=now, pruned_retention_days=days)
    SettingsAudit.objects.create(
        namespace=namespace,
        actor=actor[:300],
        old={SettingsAudit.PRUNED: None},
        new={
            SettingsAudit.PRUNED: {
                "runs": len(top),
                "records": records,
                "bytes": size,
                "retention_days": days,
                "completed_before": cutoff.isoformat(),
            }
        },
    )
    return NamespacePruning(namespace, days, False, cutoff, len(top), records, size, True)
