"""Metrics across processes, as deployed: gunicorn (2 workers, recycled every few requests) and a
Celery worker (prefork pool of 2, recycled every 2 tasks) share one PROMETHEUS_MULTIPROC_DIR;
records go in through the API, concurrently so both web workers take some. The web app's
/metrics must count every record and every signature exactly once, whichever process (living or
gone) handled it; a real Prometheus scrapes it and the worker's own port; promtool accepts the
exposition."""

from __future__ import annotations

import concurrent.futures
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from provenance.models import ComputeStatus, RunRecord
from tests.factories import as_list, make_token, taskrun_doc
from tests.test_tasks_worker import wait_for

from .stack import CeleryWorker, Prometheus, Web, chainsweb_env

pytestmark = pytest.mark.django_db(transaction=True)

RUNS = 8


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    values = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return values


def value(text: str, name: str, **labels: str) -> float:
    return samples(text).get((name, tuple(sorted(labels.items()))), 0.0)


def promtool_check(text: str) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: run `make prometheus` (apt-get install prometheus)"
    result = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture
def stack(tmp_path: Path, redis_url: str, settings: Any) -> Any:
    multiproc = tmp_path / "metrics"
    multiproc.mkdir()
    env = chainsweb_env(
        tmp_path,
        CELERY_BROKER_URL=redis_url,
        PROMETHEUS_MULTIPROC_DIR=str(multiproc),
        LOG_FORMAT="json",
    )
    settings.KEYS_DIR = tmp_path / "keys"
    web = Web(tmp_path, env, 2, "--max-requests", "4")
    worker = CeleryWorker(tmp_path, env, "--concurrency=2", "--max-tasks-per-child=2")
    started = []
    try:
        for process in (web, worker):
            process.start()
            started.append(process)
        yield web, worker, multiproc
    finally:
        for process in reversed(started):
            process.stop()
        print(web.text()[-3000:], worker.text()[-3000:])


def test_counts_add_up_across_processes_and_prometheus_scrapes_them(
    stack: Any, tmp_path: Path
) -> None:
    web, worker, multiproc = stack
    token = make_token(role="ingester")
    docs = [taskrun_doc(name=f"solo-{i}") for i in range(RUNS)]

    def post(doc: dict[str, Any]) -> int:
        response = requests.post(
            f"{web.url}/api/v1/records",
            data=as_list([doc]),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            timeout=30,
        )
        return response.status_code

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        assert list(pool.map(post, docs)) == [202] * RUNS
    bad = requests.post(
        f"{web.url}/api/v1/records",
        data=b'{"kind": "TaskRun"}',
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        timeout=30,
    )
    assert bad.status_code == 400
    wait_for(
        lambda: RunRecord.objects.filter(compute_status=ComputeStatus.SIGNED).count() == RUNS,
        "every run to be signed",
        timeout=120,
    )

    # Several processes wrote metrics, and some of them are gone already (max-requests,
    # max-tasks-per-child): the sums must still be exact.
    pids = {path.stem.rsplit("_", 1)[-1] for path in multiproc.glob("counter_*.db")}
    assert len(pids) >= 3, pids

    def scrape() -> str:
        response = requests.get(f"{web.url}/metrics", timeout=10)
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=")
        return response.text

    def counted() -> str | None:
        text = scrape()
        return text if value(text, "watcher_taskrun_sign_created_total") == RUNS else None

    text = wait_for(counted, "the signatures to be counted")
    assert value(text, "chainsweb_records_ingested_total", source="api", outcome="created") == RUNS
    assert value(text, "chainsweb_records_ingested_total", source="api", outcome="rejected") == 1
    assert value(text, "watcher_taskrun_payload_stored_total") == RUNS
    assert value(text, "watcher_taskrun_marked_signed_total") == RUNS
    assert value(text, "watcher_pipelinerun_sign_created_total") == 0
    assert value(text, "chainsweb_ingest_to_signed_seconds_count", queue="celery") == RUNS
    assert value(text, "chainsweb_compute_duration_seconds_count", outcome="signed") == RUNS
    assert value(text, "chainsweb_signing_duration_seconds_count", algorithm="ecdsa-p256") == RUNS
    assert value(text, "chainsweb_broker_up") == 1
    assert value(text, "chainsweb_queue_depth", queue="celery") == 0
    promtool_check(text)

    # The worker's own port serves the same counts (the shared folder) and its readiness.
    from_worker = requests.get(f"{worker.ops_url}/metrics", timeout=10)
    assert value(from_worker.text, "watcher_taskrun_sign_created_total") == RUNS
    ready = requests.get(f"{worker.ops_url}/readyz", timeout=10)
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {
        "database": "ok",
        "migrations": "ok",
        "broker": "ok",
        "signing_keys": "ok",
    }

    prometheus = Prometheus(tmp_path, [f"127.0.0.1:{web.port}", f"127.0.0.1:{worker.ops_port}"])
    prometheus.start()
    try:

        def both_scraped() -> list[dict[str, Any]] | None:
            found = prometheus.query('watcher_taskrun_sign_created_total{job="chainsweb"}')
            return found if len(found) == 2 else None  # the web app and the worker

        result = wait_for(both_scraped, "Prometheus to scrape the web app and the worker")
        assert {float(r["value"][1]) for r in result} == {RUNS}
        up = prometheus.query("up")
        assert {float(r["value"][1]) for r in up} == {1.0}
        instance = f"127.0.0.1:{web.port}"
        total = prometheus.query(f'sum(chainsweb_records_ingested_total{{instance="{instance}"}})')
        assert float(total[0]["value"][1]) == RUNS + 1
    finally:
        prometheus.stop()
