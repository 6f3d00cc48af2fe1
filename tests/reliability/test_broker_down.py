"""Scenario 3: the broker (Redis) is down for a while.

The records are the source of truth and live in Postgres, so an ingest must still be accepted
(202, stored) while Redis is away; the runs it could not queue must say so, and once Redis is back
the work must catch up without anyone re-sending records. A private redis-server (append-only
file, so a restart keeps what was queued) is stopped and started; the worker runs throughout
and reconnects by itself.
"""

from __future__ import annotations

import time
from typing import Any
from unittest import mock

import pytest
from django.core.management import call_command

from provenance.models import Attestation, ComputeStatus, RunRecord

from .conftest import (
    Ingest,
    RedisServer,
    ReliabilityWorker,
    as_list,
    assert_every_record_accounted_for,
    drained,
    pipeline_records,
    standalone_taskrun,
    uids,
    wait_for,
)

pytestmark = pytest.mark.django_db(transaction=True)
PIPELINES = 5


def _ingest_while_down(
    worker: ReliabilityWorker, broker: RedisServer, ingest: Ingest
) -> tuple[list[list[dict[str, Any]]], list[float]]:
    """Stop Redis, POST ``PIPELINES`` pipelines (4 records each); the records and latencies."""
    worker.wait_ready()
    broker.stop()
    pipelines, seconds = [], []
    for n in range(PIPELINES):
        docs = pipeline_records(f"offline-{n}", tasks=3)
        started = time.monotonic()
        response = ingest.post(as_list(docs))
        seconds.append(time.monotonic() - started)
        assert response.status_code == 202, response.content  # accepted, not a 5xx
        pipelines.append(docs)
    return pipelines, seconds


def _tops(pipelines: list[list[dict[str, Any]]]) -> list[RunRecord]:
    return [RunRecord.objects.get(uid=docs[0]["metadata"]["uid"]) for docs in pipelines]


def _all_uids(pipelines: list[list[dict[str, Any]]]) -> set[str]:
    return set().union(*(uids(docs) for docs in pipelines))


def test_ingest_is_accepted_and_stored_while_the_broker_is_down(
    worker: ReliabilityWorker, broker: RedisServer, ingest: Ingest
) -> None:
    pipelines, seconds = _ingest_while_down(worker, broker, ingest)
    print(f"ingest with the broker down: {max(seconds):.2f} s max per 1-run POST")
    assert max(seconds) < 10  # the failed publish is retried briefly, not forever
    assert RunRecord.objects.count() == PIPELINES * 4  # nothing lost
    assert {r.compute_status for r in _tops(pipelines)} == {ComputeStatus.PENDING}
    assert not Attestation.objects.exists()
    assert_every_record_accounted_for(expected_uids=_all_uids(pipelines), allow_pending=True)


def _assert_caught_up(pipelines: list[list[dict[str, Any]]], broker: RedisServer) -> None:
    """Every run signed once, the queue drained, every record accounted for."""
    wait_for(
        lambda: all(r.compute_status == ComputeStatus.SIGNED for r in _tops(pipelines)),
        "every run to be signed",
        timeout=90,
    )
    wait_for(lambda: drained(broker), "the queue to drain")
    assert Attestation.objects.count() == PIPELINES
    assert_every_record_accounted_for(expected_uids=_all_uids(pipelines))


def test_runs_that_could_not_be_queued_say_so(
    worker: ReliabilityWorker, broker: RedisServer, ingest: Ingest
) -> None:
    pipelines, _ = _ingest_while_down(worker, broker, ingest)
    for run in _tops(pipelines):
        assert run.compute_status == ComputeStatus.PENDING
        assert "broker" in run.compute_reason, (run.name, run.compute_reason)


def test_a_sweep_catches_up_when_the_broker_is_back(
    worker: ReliabilityWorker, broker: RedisServer, ingest: Ingest
) -> None:
    pipelines, _ = _ingest_while_down(worker, broker, ingest)
    broker.start()
    call_command("requeue_pending", "--older-than", "0")
    _assert_caught_up(pipelines, broker)


def test_replaying_the_records_catches_up_when_the_broker_is_back(
    worker: ReliabilityWorker, broker: RedisServer, ingest: Ingest
) -> None:
    """What works today: a pending run is queued again when any copy of it is ingested again
    (docs/backend.md), so re-sending the same bytes catches up."""
    pipelines, _ = _ingest_while_down(worker, broker, ingest)
    broker.start()
    for docs in pipelines:
        outcomes = {r["outcome"] for r in ingest.accepted(as_list(docs))["records"]}
        assert outcomes == {"unchanged"}
    _assert_caught_up(pipelines, broker)


def test_a_many_run_body_is_accepted_promptly_while_the_broker_is_down(
    worker: ReliabilityWorker, broker: RedisServer, ingest: Ingest
) -> None:
    worker.wait_ready()
    broker.stop()
    docs = [standalone_taskrun(f"solo-{n}") for n in range(20)]
    started = time.monotonic()
    response = ingest.post(as_list(docs))
    elapsed = time.monotonic() - started
    print(f"a 20-run body with the broker down: {elapsed:.2f} s")
    assert response.status_code == 202
    assert RunRecord.objects.count() == 20
    # One failed publish (with its short retries) ends the enqueue loop, so the time does not
    # grow with the number of runs; the runs not tried are left pending like the first.
    assert elapsed < 10, f"a 20-run body took {elapsed:.1f} s with the broker down"
    assert RunRecord.objects.filter(compute_status=ComputeStatus.PENDING).count() == 20
    assert_every_record_accounted_for(expected_uids=uids(docs), allow_pending=True)


def test_a_publish_error_leaves_no_run_looking_queued(broker: RedisServer, ingest: Ingest) -> None:
    """A broker blip on the first publish only (a reset connection, a failover): each run of
    the body is then either queued or marked as not queued; which of the two is the service's
    choice (trying every run costs a publish timeout each when the broker is really down)."""
    from kombu.exceptions import OperationalError as BrokerError

    from provenance.tasks import attestations_compute, attestations_compute_batch

    tried: list[list[int]] = []
    queued: set[int] = set()

    def publish(args: tuple[Any], queue: str | None = None, **options: Any) -> None:
        (first,) = args  # one run, or a batch of runs (COMPUTE_BATCH_SIZE)
        run_ids = list(first) if isinstance(first, list) else [first]
        tried.append(run_ids)
        if len(tried) == 1:
            raise BrokerError("connection reset by peer")
        queued.update(run_ids)

    docs = [standalone_taskrun(f"blip-{n}") for n in range(5)]
    with (
        mock.patch.object(attestations_compute, "apply_async", side_effect=publish),
        mock.patch.object(attestations_compute_batch, "apply_async", side_effect=publish),
    ):
        ingest.accepted(as_list(docs))
    unmarked = [
        run.name
        for run in RunRecord.objects.exclude(pk__in=queued)
        if "broker" not in run.compute_reason
    ]
    assert not unmarked, f"neither queued nor marked: {unmarked}"
