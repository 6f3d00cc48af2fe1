"""The overview page: per namespace counts, what needs attention, the latest attestations."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import Count, F, Q

from provenance.config import NamespaceConfig
from provenance.models import Attestation, ComputeStatus, RunRecord, top_level_q

from .attestations import shown
from .namespaces import namespace_names, namespace_retention
from .runs import RUN_LIST_FIELDS
from .verify import Verdict, verify_many
from .visibility import visible

# The overview re-verifies this many of the newest attestations; `verify_store` checks them all.
OVERVIEW_VERIFY_LATEST = 50
ATTENTION_LIMIT = 8


@dataclass
class NamespaceSummary:
    name: str
    role: str
    retention: NamespaceConfig | None = None  # its effective settings, for retention and hold
    runs: int = 0
    attestations: int = 0
    artifacts: int = 0
    failed: int = 0
    waiting: int = 0
    pending: int = 0


def namespace_summaries(
    namespaces: set[str] | None, role_in: Callable[[str], str | None]
) -> list[NamespaceSummary]:
    """Per visible namespace (with the caller's role in it): its retention and legal hold, runs,
    artifacts, attestations and runs that failed to sign. Four queries whatever the number of
    namespaces."""
    names = namespace_names(namespaces)
    configs = namespace_retention(names)
    summaries = {
        name: NamespaceSummary(name=name, role=role_in(name) or "", retention=configs[name])
        for name in names
    }
    runs = (
        visible(RunRecord.objects.all(), namespaces)
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
        visible(Attestation.objects.all(), namespaces)
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


@dataclass
class Attention:
    failed: list[RunRecord]
    failed_count: int
    unsigned: list[RunRecord]
    unsigned_count: int
    broken: list[tuple[Attestation, Verdict]]
    checked: int

    @property
    def empty(self) -> bool:
        return not (self.failed_count or self.unsigned_count or self.broken)


def attention(namespaces: set[str] | None) -> Attention:
    """Runs that failed to sign, finished runs left unsigned, and attestations that no longer
    verify (the newest ``OVERVIEW_VERIFY_LATEST``)."""
    runs = visible(RunRecord.objects.only(*RUN_LIST_FIELDS), namespaces)
    failed_qs = runs.filter(compute_status=ComputeStatus.FAILED)
    # Finished runs without a signature: waiting on something, or skipped by the emit policy.
    unsigned_qs = (
        runs.filter(top_level_q())
        .filter(compute_status__in=[ComputeStatus.WAITING, ComputeStatus.SKIPPED])
        .exclude(status="Unknown")
        .exclude(status="")
    )
    order = (F("compute_updated").desc(nulls_last=True), "-id")
    latest = list(
        shown(visible(Attestation.objects.all(), namespaces)).order_by("-id")[
            :OVERVIEW_VERIFY_LATEST
        ]
    )
    verdicts = verify_many(latest)
    return Attention(
        failed=list(failed_qs.order_by(*order)[:ATTENTION_LIMIT]),
        failed_count=failed_qs.count(),
        unsigned=list(unsigned_qs.order_by(*order)[:ATTENTION_LIMIT]),
        unsigned_count=unsigned_qs.count(),
        broken=[(a, verdicts[a.pk]) for a in latest if not verdicts[a.pk].ok],
        checked=len(latest),
    )
