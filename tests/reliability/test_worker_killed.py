"""Scenario 2: a real worker SIGKILLed before, during and after signing.

``acks_late`` keeps the message unacknowledged in Redis until the task has returned; a killed
worker's message comes back after the visibility timeout (3 s here, through
``CELERY_VISIBILITY_TIMEOUT``), and a restarted worker runs it again. Whatever the moment of the
kill, the attestation must then exist exactly once, with its one chain entry.

* before: the task was received but has not started. A message with an ETA (what a retry after
  a transient error is) sits in the worker's memory, unacknowledged, until it is due.
* during: the task is inside its transaction, its envelope signed, waiting for the chain lock.
* after: the transaction has committed, and the worker dies before it acknowledges the message
  (a ``task_postrun`` hook, ``worker_hooks.py``, holds it there).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from unittest import mock

import psycopg
import pytest

from provenance import services
from provenance.models import Attestation, ChainEntry, ComputeStatus, RunRecord
from provenance.tasks import attestations_compute

from .conftest import (
    Ingest,
    RedisServer,
    ReliabilityWorker,
    _db_url,
    as_list,
    assert_every_record_accounted_for,
    compute_status,
    drained,
    pipeline_records,
    uids,
    wait_for,
)

pytestmark = pytest.mark.django_db(transaction=True)
VISIBILITY = 3  # seconds (ReliabilityWorker's default)


def _settle_and_check(worker: ReliabilityWorker, broker: RedisServer, docs: list, task_id: str):
    """The killed task ran again to the end; nothing else is in flight; exactly once."""
    wait_for(lambda: worker.succeeded(task_id), "the redelivered task to finish", timeout=90)
    wait_for(lambda: drained(broker), "the queue to drain")
    time.sleep(VISIBILITY + 2)  # past the visibility timeout: a second delivery had its chance
    assert Attestation.objects.count() == 1
    assert ChainEntry.objects.count() == 1
    assert compute_status(docs[0]["metadata"]["uid"])[0] == ComputeStatus.SIGNED
    assert_every_record_accounted_for(expected_uids=uids(docs))


def _not_queued(messages: object) -> None:
    pass


def test_killed_before_signing_task_received_not_started(
    worker: ReliabilityWorker, broker: RedisServer, ingest: Ingest
) -> None:
    services.signing_key_create(namespace="", algorithm="ecdsa-p256", actor="test")
    docs = pipeline_records("before", tasks=3)
    # Stored, not queued: the test queues it below, with an ETA.
    with mock.patch("provenance.services.queue.computes_publish", new=_not_queued):
        ingest.accepted(as_list(docs))
    run = RunRecord.objects.get(uid=docs[0]["metadata"]["uid"])
    assert run.compute_status == ComputeStatus.PENDING
    worker.wait_ready()
    task = attestations_compute.apply_async(args=[run.pk], countdown=5)
    wait_for(lambda: task.id in worker.received(), "the worker to receive the task")
    worker.kill()
    assert not Attestation.objects.exists()
    assert compute_status(run.uid)[0] == ComputeStatus.PENDING  # visibly queued, not lost
    assert broker.unacked() == 1  # held for redelivery

    worker.start()
    _settle_and_check(worker, broker, docs, task.id)


def test_killed_during_signing_mid_transaction(
    worker: ReliabilityWorker, broker: RedisServer, ingest: Ingest
) -> None:
    services.signing_key_create(namespace="", algorithm="ecdsa-p256", actor="test")
    docs = pipeline_records("during", tasks=3)
    with psycopg.connect(_db_url().replace("postgres://", "postgresql://"), autocommit=True) as db:
        # Hold the chain lock: the task blocks inside its transaction with the envelope signed.
        db.execute("SELECT pg_advisory_lock(%s)", [services.CHAIN_LOCK])
        ingest.accepted(as_list(docs))
        wait_for(
            lambda: db.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                "AND objid = %s",
                [services.CHAIN_LOCK],
            ).fetchone()[0],  # type: ignore[index]
            "the worker to block inside the task",
        )
        worker.kill()
        db.execute("SELECT pg_advisory_unlock(%s)", [services.CHAIN_LOCK])
    assert not Attestation.objects.exists() and not ChainEntry.objects.exists()
    assert compute_status(docs[0]["metadata"]["uid"])[0] == ComputeStatus.PENDING
    [task_id] = worker.received()

    worker.start()
    _settle_and_check(worker, broker, docs, task_id)


def test_killed_after_signing_before_the_ack(
    worker_factory: Callable[..., ReliabilityWorker],
    broker: RedisServer,
    ingest: Ingest,
    tmp_path: Path,
) -> None:
    marker = tmp_path / "paused-after-task"
    worker = worker_factory(extra_env={"RELIABILITY_PAUSE_AFTER_TASK": str(marker)})
    worker.start()
    services.signing_key_create(namespace="", algorithm="ecdsa-p256", actor="test")
    docs = pipeline_records("after", tasks=3)
    ingest.accepted(as_list(docs))
    wait_for(marker.exists, "the task to commit and pause before its ack")
    task_id = marker.read_text()
    assert Attestation.objects.count() == 1 and ChainEntry.objects.count() == 1
    assert compute_status(docs[0]["metadata"]["uid"])[0] == ComputeStatus.SIGNED
    assert broker.unacked() == 1  # committed, but the message is not acknowledged
    worker.kill()

    worker.start()  # the marker exists: this worker does not pause
    wait_for(lambda: worker.received().count(task_id) >= 2, "the task to be delivered again")
    _settle_and_check(worker, broker, docs, task_id)
