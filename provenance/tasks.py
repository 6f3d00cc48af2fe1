"""Celery tasks: thin, id in, one service call, safe to run twice.

``acks_late`` (plus CELERY_TASK_REJECT_ON_WORKER_LOST) means a worker killed mid-task leaves the
message to be delivered again; the services are idempotent, so a rerun changes nothing that the
first run committed. Database and broker hiccups are retried with exponential backoff; once the
retries are spent the failure is stored on the run instead of disappearing.
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any

from celery import Task, shared_task
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError

from . import metrics, services
from .services.publish import PUBLISH_TASK, PublishDeferred
from .services.queue import (
    COMPUTE_BATCH_TASK,
    COMPUTE_TASK,
    NAMESPACE_RECOMPUTE_TASK,
    RUN_VIEW_TASK,
)

logger = logging.getLogger(__name__)
TRANSIENT_ERRORS = (OperationalError, InterfaceError, ConnectionError, TimeoutError)


class _StoresFailure(Task):  # type: ignore[misc]
    def on_failure(
        self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any
    ) -> None:
        run_id = kwargs.get("run_id") if kwargs else (args[0] if args else None)
        if run_id is None:
            return
        metrics.compute_failed(int(run_id), exc)
        # If the database is what failed, this may fail too: the run then stays visibly pending.
        with contextlib.suppress(DatabaseError):
            services.run_compute_fail(
                run_id=int(run_id),
                reason=f"gave up after {self.request.retries} retries: {type(exc).__name__}: "
                f"{exc}".strip(),
            )


@shared_task(  # type: ignore[untyped-decorator]
    name=COMPUTE_TASK,
    base=_StoresFailure,
    acks_late=True,
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=2,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=8,
)
def attestations_compute(run_id: int) -> str:
    queue = (attestations_compute.request.delivery_info or {}).get("routing_key") or "in-process"
    return _compute(run_id, queue).status


def _compute(run_id: int, queue: str) -> services.ComputeOutcome:
    started = time.monotonic()
    outcome = services.run_compute(run_id=run_id)
    metrics.compute_observed(outcome, time.monotonic() - started, queue)
    for attestation_id in outcome.created:
        logger.info(
            "stored attestation %s", attestation_id, extra={"attestation_id": attestation_id}
        )
    return outcome


@shared_task(name=COMPUTE_BATCH_TASK, acks_late=True)  # type: ignore[untyped-decorator]
def attestations_compute_batch(run_ids: list[int]) -> int:
    """Many runs queued at once (services.queue): computed one after the other. A run that hits
    a transient error is queued again on its own, where it gets the retries with backoff; runs
    left when half the task time limit has passed are queued again as a new batch."""
    queue = (attestations_compute_batch.request.delivery_info or {}).get("routing_key")
    done = 0
    started = time.monotonic()
    for position, run_id in enumerate(run_ids):
        if position and time.monotonic() - started > settings.CELERY_TASK_TIME_LIMIT / 2:
            # Well before the hard time limit would kill the batch: the rest go as a new one.
            services.computes_publish([(queue, run_ids[position:])])
            break
        try:
            _compute(int(run_id), queue or "in-process")
            done += 1
        except TRANSIENT_ERRORS as exc:
            # Back on the queue it came from, without a query: the database may be what failed.
            logger.warning("run %s: %s; queued again on its own", run_id, exc)
            services.computes_publish([(queue, [int(run_id)])])
    return done


@shared_task(  # type: ignore[untyped-decorator]
    name=NAMESPACE_RECOMPUTE_TASK,
    acks_late=True,
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=2,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=8,
)
def namespace_recompute(namespace: str) -> int:
    return services.namespace_runs_recompute(namespace=namespace)


@shared_task(  # type: ignore[untyped-decorator]
    name=PUBLISH_TASK,
    acks_late=True,
    autoretry_for=(PublishDeferred, *TRANSIENT_ERRORS),
    retry_backoff=settings.OCI_PUBLISH_BACKOFF,
    retry_backoff_max=settings.OCI_PUBLISH_BACKOFF_MAX,
    retry_jitter=True,
    max_retries=settings.OCI_PUBLISH_RETRIES,
)
def publication_publish(publication_id: int) -> str:
    """Publish one attestation or image signature (routed to the ``publish`` queue). A registry
    that is down is retried with backoff; once the retries are spent the row stays ``failed``
    with the registry's reason, for ``publish_attestations --failed``."""
    return services.publication_attempt(publication_id=publication_id).status


@shared_task(name=RUN_VIEW_TASK, acks_late=True, autoretry_for=TRANSIENT_ERRORS, max_retries=3)  # type: ignore[untyped-decorator]
def run_view_compute(view_id: int) -> str:
    return services.run_view_compute(view_id=view_id)
