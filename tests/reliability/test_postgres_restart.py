"""Scenario 1: Postgres restarted while ~1,000 records are in flight.

Everything is real and out of process: a private Postgres cluster (``initdb`` in a temporary
folder, as in tests/test_commands.py, so the machine's shared cluster that parallel tests use is
never touched), a private redis-server, a gunicorn web app and a celery worker on them. Four
client threads POST 250 generated pipelines (a PipelineRun and 3 TaskRuns each: 1,000 records;
per pipeline the TaskRuns first, then the PipelineRun) while the cluster is restarted
(``pg_ctl stop -m fast``, which cuts every connection, 2 s down, ``pg_ctl start``). Then:

* every call that failed during the restart answered with an error a client retries on (5xx or
  a refused connection), never a 2xx for something not stored and never a 4xx;
* every record a 202 acknowledged is stored; retrying the failed calls converges;
* once the queue has drained, every record is accounted for: 250 PipelineRuns signed once each,
  750 TaskRuns attested as their children, each envelope verified, the chain intact.
"""

from __future__ import annotations

import concurrent.futures
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests

from .conftest import (
    BASE_DIR,
    Cluster,
    RedisServer,
    ReliabilityWorker,
    _free_port,
    _pg_bindir,
    accounting_in_subprocess,
    as_list,
    pipeline_records,
    uids,
    wait_for,
)

PIPELINES = 250
TASKS = 3
CLIENTS = 4
RESTART_AT = 300  # stored records when the cluster is restarted (of 1,000)
OUTAGE = 2.0  # seconds the cluster stays down between its stop and its start
DRAIN_TIMEOUT = 180.0


@pytest.fixture
def pg_cluster() -> Iterator[Cluster]:
    bindir = _pg_bindir()
    if bindir is None:
        pytest.skip("needs the PostgreSQL server binaries (initdb, pg_ctl)")
    cluster = Cluster(bindir)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()


class Web:
    """gunicorn serving chainsweb on a free port."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env, self.log = env, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        cmd = [
            sys.executable, "-m", "gunicorn", "chainsweb.wsgi:application",
            "--bind", f"127.0.0.1:{self.port}", "--workers", "2", "--timeout", "60",
        ]  # fmt: skip
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                cmd, cwd=BASE_DIR, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip

        def up() -> bool:
            try:
                return requests.get(f"{self.url}/api/v1/records", timeout=2).status_code < 500
            except requests.RequestException:
                return False

        wait_for(up, "gunicorn to answer", timeout=60)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=20)


def _connect(cluster: Cluster) -> psycopg.Connection[Any]:
    return psycopg.connect(cluster.url.replace("postgres://", "postgresql://"), autocommit=True)


def _scalar(cluster: Cluster, sql: str, params: Any = None) -> Any:
    with _connect(cluster) as db:
        row = db.execute(sql, params).fetchone()
        return row[0] if row else None


def _post(session: requests.Session, url: str, token: str, body: bytes) -> int | str:
    """The status code, or the name of the connection error."""
    try:
        response = session.post(
            f"{url}/api/v1/records",
            data=body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            timeout=60,
        )
    except requests.RequestException as exc:
        return type(exc).__name__
    return response.status_code


def test_postgres_restart_with_1000_records_in_flight(
    pg_cluster: Cluster, private_redis: RedisServer, tmp_path: Path
) -> None:
    keys = tmp_path / "keys"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "chainsweb.settings",
        "DATABASE_URL": pg_cluster.url,
        "CELERY_BROKER_URL": private_redis.url(),
        "KEYS_DIR": str(keys),
        "API_RATE_LIMIT": "",
        "DEBUG": "false",
        "SECRET_KEY": "reliability-test-only",
    }
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], cwd=BASE_DIR, env=env, check=True, timeout=120)
    token = subprocess.run(
        [*manage, "create_token", "--user", "reliability", "--namespace", "team-a",
         "--role", "ingester"],
        cwd=BASE_DIR, env=env, check=True, capture_output=True, text=True, timeout=60,
    ).stdout.strip()  # fmt: skip
    worker = ReliabilityWorker(
        private_redis.url(),
        keys,
        tmp_path / "worker.log",
        database_url=pg_cluster.url,
        visibility_timeout=120,  # nobody is killed here; no early redelivery
    )
    web = Web(env, tmp_path / "web.log")
    worker.start()
    web.start()
    try:
        _run_scenario(pg_cluster, private_redis, worker, web.url, token, keys)
    finally:
        web.stop()
        worker.stop()
        print(worker.tail())
        print((tmp_path / "web.log").read_text(errors="replace")[-3000:])


def _run_scenario(
    cluster: Cluster, redis_server: RedisServer, worker: ReliabilityWorker, url: str,
    token: str, keys: Path,
) -> None:  # fmt: skip
    pipelines = [pipeline_records(f"load-{n:03d}", tasks=TASKS) for n in range(PIPELINES)]
    expected = set().union(*(uids(docs) for docs in pipelines))
    assert len(expected) == PIPELINES * (TASKS + 1) == 1000
    bodies = [(as_list(docs[1:]), as_list(docs[:1])) for docs in pipelines]
    restart: dict[str, float] = {}

    def restart_when_busy() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if _scalar(cluster, "SELECT count(*) FROM provenance_runrecord") >= RESTART_AT:
                    break
            except psycopg.OperationalError:
                pass
            time.sleep(0.05)
        started = time.monotonic()
        cluster.ctl("stop")  # -m fast: every session is cut, open transactions roll back
        time.sleep(OUTAGE)
        cluster.ctl("start")
        restart["seconds"] = time.monotonic() - started

    sessions = threading.local()

    def session() -> requests.Session:
        sessions.s = getattr(sessions, "s", None) or requests.Session()
        return sessions.s  # type: ignore[no-any-return]

    def send(pair: tuple[bytes, bytes]) -> list[tuple[bytes, int | str]]:
        return [(body, _post(session(), url, token, body)) for body in pair]  # children, parent

    def resend(pair: list[bytes]) -> None:
        """Retry one pipeline's failed calls, in their order, until each is accepted."""
        for body in pair:
            deadline = time.monotonic() + 60
            while (status := _post(session(), url, token, body)) != 202:
                assert time.monotonic() < deadline, f"retry still failing: {status}"
                time.sleep(0.5)

    restarter = threading.Thread(target=restart_when_busy, daemon=True)
    started = time.monotonic()
    restarter.start()
    with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
        calls = [call for result in pool.map(send, bodies) for call in result]
    ingest_seconds = time.monotonic() - started
    restarter.join(timeout=120)
    assert "seconds" in restart, "the cluster was not restarted"

    outcomes = Counter(str(status) for _, status in calls)
    failed = {body for body, status in calls if status != 202}
    print(f"ingest: {len(calls)} calls in {ingest_seconds:.1f} s, outcomes {dict(outcomes)}; ")
    print(f"restart: stop, {OUTAGE:.0f} s down, start: {restart['seconds']:.2f} s unavailable")
    assert failed, "the restart did not hit the ingest (nothing to prove)"
    # A failure is something a client retries: a 503 (the API says the database is unavailable)
    # or no connection; never a 4xx, and never a bare 500.
    assert all(
        not isinstance(status, int) or status == 503 for _, status in calls if status != 202
    ), outcomes
    # Nothing a 202 acknowledged was lost.
    acknowledged = set().union(*(uids(_items(body)) for body, status in calls if status == 202))
    with _connect(cluster) as db:
        stored = {row[0] for row in db.execute("SELECT uid FROM provenance_runrecord")}
    assert acknowledged <= stored, f"{len(acknowledged - stored)} acknowledged records lost"

    # The clients retry what failed (each pipeline's calls in their order) until accepted.
    retry_started = time.monotonic()
    again = [[b for b in pair if b in failed] for pair in bodies]
    with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(resend, [pair for pair in again if pair]))
    print(f"retries: {len(failed)} calls re-sent in {time.monotonic() - retry_started:.1f} s")

    drain_started = time.monotonic()

    def drained() -> bool:
        pending = _scalar(
            cluster, "SELECT count(*) FROM provenance_runrecord WHERE compute_status = 'pending'"
        )
        return pending == 0 and redis_server.queued() == 0 and redis_server.unacked() == 0

    wait_for(drained, "the queue to drain", timeout=DRAIN_TIMEOUT)
    total = time.monotonic() - started
    print(f"drain: {time.monotonic() - drain_started:.1f} s after the retries; {total:.1f} s total")

    accounting = accounting_in_subprocess(cluster.url, keys_dir=keys, expected_uids=expected)
    assert not accounting["problems"], "\n".join(accounting["problems"][:40])
    assert accounting["counts"] == {"signed": PIPELINES, "child": PIPELINES * TASKS}
    assert accounting["attestations"] == PIPELINES == accounting["chain_entries"]
    retried = worker.log_text().count("retry: Retry in")
    print(f"worker: {retried} compute retries after database errors")


def _items(body: bytes) -> list[dict[str, Any]]:
    import orjson

    items: list[dict[str, Any]] = orjson.loads(body)["items"]
    return items
