"""Queueing: computes go to Celery after commit, on the live or the backfill queue.

Tasks are dispatched by name from Celery's registry, so this module never imports
``provenance.tasks`` (which imports the services): no import circle between tasks and writes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from kombu.exceptions import OperationalError as KombuOperationalError

from provenance.models import ComputeStatus, RunRecord, top_level_q

logger = logging.getLogger(__name__)

COMPUTE_TASK = "provenance.tasks.attestations_compute"
NAMESPACE_RECOMPUTE_TASK = "provenance.tasks.namespace_recompute"


def on_commit(func: Callable[..., None], *args: Any) -> None:
    """Run ``func(*args)`` after the outermost transaction commits.

    ``robust``: a broker outage must not turn a committed ingest into an error response; the
    runs stay visibly ``pending`` and any later ingest or settings change re-queues them.
    """

    def callback() -> None:
        func(*args)

    callback.__qualname__ = f"enqueue:{func.__name__}"
    transaction.on_commit(callback, robust=True)


def enqueue_compute(run_ids: Iterable[int], background: bool = False) -> None:
    """Queue a compute per run, on the backfill queue for bulk work. If the broker cannot take a
    message, that run and every run not tried yet stay pending with a reason saying so, for
    ``requeue_pending`` to pick up."""
    queue = settings.BACKFILL_QUEUE if background else None  # None: the default (live) queue
    ids = list(run_ids)
    for position, run_id in enumerate(ids):
        try:
            current_app.tasks[COMPUTE_TASK].apply_async((run_id,), queue=queue)
        except (KombuOperationalError, OSError) as exc:
            logger.warning("broker unavailable, %d run(s) not queued: %s", len(ids) - position, exc)
            RunRecord.objects.filter(
                pk__in=ids[position:], compute_status=ComputeStatus.PENDING
            ).update(
                compute_reason=f"not queued: broker unavailable ({type(exc).__name__}: {exc})",
                compute_updated=timezone.now(),
            )
            return


def runs_requeue_pending(*, older_than: timedelta, include_failed: bool = False) -> int:
    """Queue again the top-level runs still pending (or failed) for longer than ``older_than``:
    the sweep that catches up after a broker outage or a restored signing key. Safe to run at
    any time, since computing a run twice gives no second attestation."""
    statuses = [ComputeStatus.PENDING] + ([ComputeStatus.FAILED] if include_failed else [])
    cutoff = timezone.now() - older_than
    ids = list(
        RunRecord.objects.filter(top_level_q())
        .filter(compute_status__in=statuses)
        .filter(Q(compute_updated__isnull=True) | Q(compute_updated__lte=cutoff))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if ids:
        RunRecord.objects.filter(pk__in=ids).update(
            compute_status=ComputeStatus.PENDING, compute_reason="", compute_updated=timezone.now()
        )
        enqueue_compute(ids, background=True)
    return len(ids)


def namespace_runs_recompute(*, namespace: str) -> int:
    """Queue a compute for every top-level run of the namespace whose raw record is kept (a
    pruned run keeps the attestations it has); returns how many."""
    with transaction.atomic():
        runs = RunRecord.objects.filter(top_level_q()).filter(
            namespace=namespace, pruned_at__isnull=True
        )
        ids = list(runs.values_list("pk", flat=True))
        runs.update(
            compute_status=ComputeStatus.PENDING, compute_reason="", compute_updated=timezone.now()
        )
        on_commit(enqueue_compute, ids, True)  # a whole namespace: bulk work
    return len(ids)
