"""Issue 11, finding 3 (the queue), with a real Celery worker on Redis: one tenant's flood
used to sit on the live queue in front of every other tenant's runs (a live run waited 164 s),
computes were queued one message per run, and a record that crashed its worker came back for
ever (late acks). Now a flooding namespace queues on backfill, many runs go as batch messages,
and a run whose compute keeps killing its worker is failed with a reason."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import orjson
import psycopg
import pytest
import redis

from provenance import services
from provenance.models import Attestation, ComputeStatus, RunRecord
from tests.apidata import bearer, token
from tests.factories import as_list, taskrun_doc
from tests.test_tasks_worker import Worker, _db_url, celery_pointed_at, redis_database, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def broker(worker_id: str) -> Iterator[str]:
    """This process's Celery on Redis db 8-11 (one per xdist worker), emptied around the test."""
    with redis_database(worker_id, 8) as url, celery_pointed_at(url):
        yield url


@pytest.fixture
def post(client):
    ingester = token(role="ingester", namespaces=("team-a", "team-b"))

    def send(docs: list[dict]) -> None:
        response = client.post(
            "/api/v1/records", as_list(docs), content_type="application/json", **bearer(ingester)
        )
        assert response.status_code == 202, response.content

    return send


def test_a_flooding_tenant_does_not_hold_up_another_tenants_live_run(
    broker: str, post, settings, tmp_path: Path
) -> None:
    settings.COMPUTE_BATCH_SIZE = 10
    settings.LIVE_QUEUE_SHARE = 5
    post([taskrun_doc(namespace="team-a", name=f"flood-{n}") for n in range(60)])
    for n in range(20):  # and then one run per request
        post([taskrun_doc(namespace="team-a", name=f"drip-{n}")])
    post([taskrun_doc(namespace="team-b", name="live")])
    queues = redis.Redis.from_url(broker)
    # The flood is on backfill, in batches: 6 messages for the 60-run request, 20 for the rest;
    # the other tenant's run is alone on the live queue.
    assert queues.llen(settings.BACKFILL_QUEUE) == 6 + 20
    assert queues.llen(settings.CELERY_TASK_DEFAULT_QUEUE) == 1

    settings.KEYS_DIR = tmp_path / "keys"
    worker = Worker(broker, settings.KEYS_DIR, tmp_path / "worker.log")
    worker.start()
    try:
        live = wait_for(
            lambda: Attestation.objects.filter(run__name="live").first(), "the live run", 120
        )
        # Ids follow the order of signing (one chain writer at a time); counting by the clock
        # instead would count what the worker signed while this test was polling.
        signed_first = Attestation.objects.filter(run__namespace="team-a", pk__lt=live.pk).count()
    finally:
        worker.stop()
        print(worker.tail())
    # At most one batch of the flood went before it (the live queue was served in turn).
    assert signed_first <= settings.COMPUTE_BATCH_SIZE, signed_first


def test_a_run_stored_just_before_postgres_goes_away_is_still_queued(broker: str, settings) -> None:
    """Postgres stopping right after an ingest commits used to lose the run's message: the
    after-commit callback read the database (the flood check) before publishing, failed, and
    the run stayed pending with nothing queued while the client had its 202 (the reliability
    test's restart found it). The messages are now decided inside the transaction."""
    from django.db import connection, transaction

    from provenance.services.ingest import RecordSource, records_ingest

    saved = dict(connection.settings_dict)

    def postgres_gone() -> None:  # runs first of the commit's callbacks
        connection.close()
        connection.settings_dict["PORT"] = str(_closed_port())

    try:
        with transaction.atomic():
            transaction.on_commit(postgres_gone)
            records_ingest(
                data=orjson.dumps(taskrun_doc(namespace="team-a", name="last-before-stop")),
                namespaces_allowed=None,
                source=RecordSource.api(token="test"),
            )
    finally:
        connection.close()
        connection.settings_dict.update(saved)
    queued = redis.Redis.from_url(broker).llen(settings.CELERY_TASK_DEFAULT_QUEUE)
    assert queued == 1
    assert RunRecord.objects.get(name="last-before-stop").compute_status == ComputeStatus.PENDING


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # nothing listens once the probe is closed


def test_a_run_that_keeps_killing_its_worker_is_failed_with_a_reason(
    broker: str, post, settings, tmp_path: Path
) -> None:
    settings.KEYS_DIR = tmp_path / "keys"
    services.signing_key_create(namespace="", algorithm="ecdsa-p256", actor="test")
    worker = Worker(broker, settings.KEYS_DIR, tmp_path / "worker.log")
    worker.env["COMPUTE_MAX_ATTEMPTS"] = "2"
    url = _db_url().replace("postgres://", "postgresql://")
    try:
        with psycopg.connect(url, autocommit=True) as db:
            # The compute blocks inside its transaction on the chain lock; killing the worker
            # there is what an out-of-memory kill does: the message comes back (late ack).
            db.execute("SELECT pg_advisory_lock(%s)", [services.CHAIN_LOCK])
            post([taskrun_doc(namespace="team-a", name="crasher")])
            for _ in range(2):
                worker.start()
                wait_for(
                    lambda: db.execute(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                        "AND NOT granted AND objid = %s",
                        [services.CHAIN_LOCK],
                    ).fetchone()[0],
                    "the worker to block inside the task",
                )
                worker.kill()
                # Its database session dies with it, as when the kernel kills a worker out of
                # memory (a session blocked on a lock would otherwise outlive its client).
                db.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
                    "AND NOT granted AND objid = %s",
                    [services.CHAIN_LOCK],
                )
            worker.start()  # the third delivery gives up
            run = wait_for(
                lambda: RunRecord.objects.filter(
                    name="crasher", compute_status=ComputeStatus.FAILED
                ).first(),
                "the run to be failed",
            )
            db.execute("SELECT pg_advisory_unlock(%s)", [services.CHAIN_LOCK])
    finally:
        worker.stop()
        print(worker.tail())
    assert "stopped its worker 2 times" in run.compute_reason
    assert "COMPUTE_MAX_ATTEMPTS=2" in run.compute_reason
    assert not Attestation.objects.exists()


def test_the_deep_view_is_computed_by_a_worker_not_in_the_web_request(
    broker: str, settings, tmp_path: Path, django_user_model
) -> None:
    from django.test import Client

    from provenance.models import RunView
    from tests.apidata import ingest_and_sign
    from tests.core.pipeline_builder import chain_pipeline

    settings.KEYS_DIR = tmp_path / "keys"
    ingest_and_sign(chain_pipeline(30))
    run = RunRecord.objects.get(kind="PipelineRun", name="chain")
    staff = Client()
    staff.force_login(django_user_model.objects.create_user("staff", is_staff=True))
    queues = redis.Redis.from_url(broker)
    queues.flushdb()

    page = staff.get(f"/runs/{run.pk}/", {"deep": "1"}).content.decode()
    assert "being computed by a worker" in page
    assert "registry.example/chain/img7" not in page  # no scope was computed here
    view = RunView.objects.get(run=run)
    assert view.status == RunView.Status.PENDING
    assert queues.llen(settings.CELERY_TASK_DEFAULT_QUEUE) == 1
    staff.get(f"/runs/{run.pk}/", {"deep": "1"})  # asking again queues nothing more
    assert queues.llen(settings.CELERY_TASK_DEFAULT_QUEUE) == 1

    worker = Worker(broker, settings.KEYS_DIR, tmp_path / "worker.log")
    worker.start()
    try:
        wait_for(
            lambda: RunView.objects.filter(pk=view.pk, status=RunView.Status.READY).exists(),
            "the worker to compute the view",
        )
    finally:
        worker.stop()
        print(worker.tail())
    page = staff.get(f"/runs/{run.pk}/", {"deep": "1"}).content.decode()
    assert "being computed" not in page
    assert "registry.example/chain/img7" in page
