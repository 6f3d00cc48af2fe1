"""Queueing: computes go to Celery after commit, on the live or the backfill queue.

Tasks are dispatched by name from Celery's registry, so this module never imports
``provenance.tasks`` (which imports the services): no import circle between tasks and writes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from datetime import timedelta
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from kombu.exceptions import OperationalError as KombuOperationalError

from chainsweb.celery_signals import RUN_HEADER
from provenance.models import ComputeStatus, RunRecord, RunView, top_level_q

logger = logging.getLogger(__name__)

COMPUTE_TASK = "provenance.tasks.attestations_compute"
COMPUTE_BATCH_TASK = "provenance.tasks.attestations_compute_batch"
RUN_VIEW_TASK = "provenance.tasks.run_view_compute"
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
    """Queue the computes of these runs now (``compute_messages`` then ``computes_publish``)."""
    computes_publish(compute_messages(run_ids, background))


ComputeMessages = list[tuple[str | None, list[int]]]  # (queue, None: the live one; run ids)


def compute_messages(
    run_ids: Iterable[int], background: bool = False, namespaces: dict[int, str] | None = None
) -> ComputeMessages:
    """The messages that queue these runs' computes: bulk work on the backfill queue, live work
    on the live one, except a namespace with more than ``LIVE_QUEUE_SHARE`` runs already waiting
    (a flood), whose computes go to backfill too so that it cannot hold up other namespaces'
    live runs. One message per run when there are few, else one batch message per
    ``COMPUTE_BATCH_SIZE`` runs. ``namespaces``: the runs' namespaces the caller knows (the
    others are read).

    This reads the database, so ingest calls it inside its transaction and publishes after the
    commit without another query: Postgres going away right after a commit must not leave a
    stored run without its message."""
    ids = list(run_ids)
    if not ids:
        return []
    by_queue: dict[str | None, list[int]] = {}
    if background:
        by_queue[settings.BACKFILL_QUEUE] = ids
    else:
        namespaces = dict(namespaces or {})
        unknown = [run_id for run_id in ids if run_id not in namespaces]
        if unknown:
            namespaces.update(_namespaces_of(unknown))
        flooding = namespaces_flooding(set(namespaces.values()))
        for run_id in ids:
            queue = settings.BACKFILL_QUEUE if namespaces.get(run_id) in flooding else None
            by_queue.setdefault(queue, []).append(run_id)  # None: the live queue
    return [
        (queue, chunk)
        for queue, queued in by_queue.items()
        for chunk in _chunks(queued, settings.COMPUTE_BATCH_SIZE)
    ]


def computes_publish(
    messages: ComputeMessages, runs: dict[int, tuple[str, str]] | None = None
) -> None:
    """Publish compute messages, all on one broker connection (100,000 runs are 2,000 batch
    messages, queued in well under a second); no database query unless the broker fails: then
    the runs not queued stay pending with a reason saying so, for ``requeue_pending``.
    ``runs``: the (namespace, uid) of runs the caller knows, put in their messages' header."""
    sent = 0
    runs = runs or {}
    try:
        with current_app.producer_or_acquire() as producer:  # one connection for them all
            for queue, chunk in messages:
                args: tuple[Any, ...]
                headers = {}
                if len(chunk) == 1:
                    task, args = COMPUTE_TASK, (chunk[0],)
                    if chunk[0] in runs:
                        namespace, uid = runs[chunk[0]]
                        headers[RUN_HEADER] = {"namespace": namespace, "uid": uid}
                else:
                    task, args = COMPUTE_BATCH_TASK, (chunk,)
                current_app.tasks[task].apply_async(
                    args, queue=queue, producer=producer, headers=headers
                )
                sent += 1
    except (KombuOperationalError, OSError) as exc:
        left = [run_id for _, chunk in messages[sent:] for run_id in chunk]
        logger.warning("broker unavailable, %d run(s) not queued: %s", len(left), exc)
        RunRecord.objects.filter(pk__in=left, compute_status=ComputeStatus.PENDING).update(
            compute_reason=f"not queued: broker unavailable ({type(exc).__name__}: {exc})",
            compute_updated=timezone.now(),
        )


def enqueue_view(view_id: int) -> None:
    """Queue the computation of a run page's deep view on the live queue (someone is waiting
    for the page); if the broker cannot take it, the view says so."""
    try:
        current_app.tasks[RUN_VIEW_TASK].apply_async((view_id,))
    except (KombuOperationalError, OSError) as exc:
        logger.warning("broker unavailable, view %d not queued: %s", view_id, exc)
        RunView.objects.filter(pk=view_id).update(
            status=RunView.Status.FAILED,
            error=f"not queued: broker unavailable ({type(exc).__name__}); reload to try again",
        )


def _chunks(ids: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(ids), max(1, size)):
        yield ids[start : start + size]


def _namespaces_of(ids: list[int]) -> dict[int, str]:
    # One array parameter rather than an IN list of 100,000 placeholders.
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, namespace FROM provenance_runrecord WHERE id = ANY(%s)", [ids])
        return dict(cursor.fetchall())


def namespaces_flooding(namespaces: set[str]) -> set[str]:
    """The namespaces with more than ``LIVE_QUEUE_SHARE`` top-level runs waiting to be
    computed: each count stops at the share (on the runrecord_pending index), so it costs
    little even for a namespace with 100,000 waiting."""
    share = settings.LIVE_QUEUE_SHARE
    flooding = set()
    with connection.cursor() as cursor:
        for namespace in sorted(namespaces):
            cursor.execute(
                "SELECT count(*) FROM (SELECT 1 FROM provenance_runrecord WHERE namespace = %s "
                "AND compute_status = %s LIMIT %s) AS waiting",
                [namespace, ComputeStatus.PENDING, share + 1],
            )
            (waiting,) = cursor.fetchone()
            if waiting > share:
                flooding.add(namespace)
    return flooding


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
        on_commit(computes_publish, compute_messages(ids, True))  # a whole namespace: bulk work
    return len(ids)
