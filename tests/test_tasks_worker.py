"""The worker path end to end: a real Celery worker process on the local Redis, real Postgres.

The test process POSTs records through the API with Celery pointed at Redis; a separate
``celery worker`` process (solo pool, so SIGKILL really kills the task) computes, signs and stores.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
from django.core.management import call_command
from django.db import connection

from chainsweb.celery import app as celery_app
from provenance import services
from provenance.models import Attestation, ChainEntry, ComputeStatus, RunRecord, SigningKey
from provenance.reads.store import store_verify
from tests.core.test_dsse import sslib_verify
from tests.factories import as_list, pipeline_docs, taskrun_doc

pytestmark = pytest.mark.django_db(transaction=True)

BASE_DIR = Path(__file__).resolve().parent.parent
WAIT = 60.0  # generous bound for a loaded CI machine; not a timing assertion


def wait_for(condition: Callable[[], Any], what: str, timeout: float = WAIT) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _db_url() -> str:
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@contextlib.contextmanager
def redis_database(worker_id: str, first: int) -> Iterator[str]:
    """The URL of Redis database ``first`` + 0..3, one per xdist worker, emptied before and
    after (each file of worker tests takes its own four, so they never share a queue)."""
    index = int(worker_id[2:]) if worker_id.startswith("gw") else 0
    url = f"redis://127.0.0.1:6379/{first + index % 4}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    try:
        yield url
    finally:
        client.flushdb()
        client.close()


@pytest.fixture
def redis_url(worker_id: str) -> Iterator[str]:
    with redis_database(worker_id, 12) as url:
        yield url


def _reset_producers() -> None:
    # Celery acquires a producer even in eager mode, so this process may hold a pool for the
    # default (unset) broker; drop the cached pools so the next publish uses the new URL.
    celery_app._pool = None
    amqp = celery_app.__dict__.get("amqp")
    if amqp is not None:
        amqp._producer_pool = None


@contextlib.contextmanager
def celery_pointed_at(broker_url: str) -> Iterator[None]:
    """This process's Celery publishes to ``broker_url`` (it is eager by default in tests)."""
    conf = celery_app.conf
    saved = {"broker_url": conf.broker_url, "task_always_eager": conf.task_always_eager}
    conf.update(broker_url=broker_url, task_always_eager=False)
    _reset_producers()
    try:
        yield
    finally:
        conf.update(saved)
        _reset_producers()


@pytest.fixture
def broker(redis_url: str) -> Iterator[str]:
    """Point this process's Celery at Redis (``redis_url`` of the test's own module)."""
    with celery_pointed_at(redis_url):
        yield redis_url


class Worker:
    def __init__(self, broker_url: str, keys_dir: Path, log: Path) -> None:
        self.env = {
            **os.environ,
            "DATABASE_URL": _db_url(),
            "CELERY_BROKER_URL": broker_url,
            "KEYS_DIR": str(keys_dir),
            # A killed worker's message comes back quickly (visibility timeout), and the sweep
            # that brings it back runs every second.
            "CELERY_VISIBILITY_TIMEOUT": "3",
            "CELERY_UNACKED_RESTORE_INTERVAL": "1",
            "CELERY_UNACKED_RESTORE_THROTTLE": "1",
        }
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def extra_args(self) -> list[str]:
        """More `celery worker` arguments (subclasses: queues, test hooks)."""
        return []

    def start(self) -> None:
        cmd = [
            sys.executable, "-m", "celery", "-A", "chainsweb", "worker", "--pool=solo",
            "--loglevel=INFO", "--without-gossip", "--without-mingle", "--without-heartbeat",
            "-n", f"test-{uuid.uuid4().hex[:8]}@%h", *self.extra_args(),
        ]  # fmt: skip
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                cmd, cwd=BASE_DIR, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""


@pytest.fixture
def worker(broker: str, tmp_path: Path, settings) -> Iterator[Worker]:
    settings.KEYS_DIR = tmp_path / "keys"
    w = Worker(broker, settings.KEYS_DIR, tmp_path / "worker.log")
    w.start()
    try:
        yield w
    except BaseException:
        raise
    finally:
        w.stop()
        print(w.tail())  # shown by pytest when the test failed


def test_worker_signs_pipeline_posted_in_pieces(worker: Worker, post) -> None:
    docs = pipeline_docs()
    post(as_list(docs[1:]))  # the TaskRuns first,
    post(as_list(docs[:1]))  # then their PipelineRun
    pr_uid = docs[0]["metadata"]["uid"]
    attestation = wait_for(
        lambda: Attestation.objects.filter(run__uid=pr_uid).first(), "the attestation"
    )
    key = SigningKey.objects.get(key_id=attestation.key_id)
    assert sslib_verify(bytes(attestation.envelope), key.public_key_pem, key.key_id) == bytes(
        attestation.statement
    )
    wait_for(
        lambda: RunRecord.objects.get(uid=pr_uid).compute_status == ComputeStatus.SIGNED,
        "the run to be marked signed",
    )
    assert store_verify().ok


def test_duplicate_deliveries_sign_once(worker: Worker, post) -> None:
    doc = taskrun_doc()
    post(as_list([doc]))
    run = wait_for(lambda: RunRecord.objects.filter(uid=doc["metadata"]["uid"]).first(), "run")
    from provenance.tasks import attestations_compute

    for _ in range(3):
        attestations_compute.delay(run.pk)
    wait_for(lambda: Attestation.objects.exists(), "the attestation")
    time.sleep(2)  # let the duplicates run
    assert Attestation.objects.count() == 1 and ChainEntry.objects.count() == 1


def test_worker_killed_mid_task_signs_exactly_once_after_restart(worker: Worker, post) -> None:
    # The default key exists up front, so the task under test goes straight to signing.
    services.signing_key_create(namespace="", algorithm="ecdsa-p256", actor="test")
    with psycopg.connect(_db_url().replace("postgres://", "postgresql://"), autocommit=True) as db:
        # Hold the chain lock: the worker will block inside its transaction, mid-task.
        db.execute("SELECT pg_advisory_lock(%s)", [services.CHAIN_LOCK])
        doc = taskrun_doc()
        post(as_list([doc]))
        wait_for(
            lambda: db.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                "AND objid = %s",
                [services.CHAIN_LOCK],
            ).fetchone()[0],
            "the worker to block inside the task",
        )
        worker.kill()
        assert not Attestation.objects.exists()
        db.execute("SELECT pg_advisory_unlock(%s)", [services.CHAIN_LOCK])
    killed_task = re.search(r"attestations_compute\[([0-9a-f-]+)\] received", worker.tail())
    assert killed_task, worker.tail()
    worker.start()
    wait_for(lambda: Attestation.objects.exists(), "the redelivered task to sign")
    wait_for(
        lambda: f"attestations_compute[{killed_task[1]}] succeeded" in worker.tail(),
        "the killed task to be delivered again and finish",
    )
    time.sleep(5)  # past the visibility timeout: any second delivery has had its chance
    assert Attestation.objects.count() == 1
    assert ChainEntry.objects.count() == 1
    assert RunRecord.objects.get().compute_status == ComputeStatus.SIGNED
    assert store_verify().ok


def test_a_live_run_is_not_queued_behind_an_import(broker: str, post, tmp_path, settings) -> None:
    """import_records queues its computes on the backfill queue; a live POST goes to the live
    queue, and a worker started with no -Q serves both, so the live run is signed first or
    second, not after the whole import."""
    folder = tmp_path / "backfill"
    folder.mkdir()
    for n in range(10):
        (folder / f"run-{n}.json").write_bytes(as_list([taskrun_doc(name=f"old-{n}")]))
    call_command("import_records", str(folder), "--no-progress", stdout=io.StringIO())
    live = taskrun_doc(name="live")
    post(as_list([live]))
    queues = redis.Redis.from_url(broker)
    assert queues.llen(settings.BACKFILL_QUEUE) == 10
    assert queues.llen(settings.CELERY_TASK_DEFAULT_QUEUE) == 1

    settings.KEYS_DIR = tmp_path / "keys"
    w = Worker(broker, settings.KEYS_DIR, tmp_path / "worker.log")
    w.start()
    try:
        wait_for(lambda: Attestation.objects.count() == 11, "every run to be signed")
    finally:
        w.stop()
        print(w.tail())
    order = list(Attestation.objects.order_by("id").values_list("run__name", flat=True))
    assert "live" in order[:2], order
