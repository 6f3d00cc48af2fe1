"""/metrics, /readyz and /healthz of the web app, in process: who may read the metrics, what
the counters say after real ingests and signatures, the broker's queues, readiness checks, and
the JSON log lines with their request id."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import redis
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client

from chainsweb.logs import ContextFilter, JsonFormatter, log_context
from provenance import services
from provenance.models import Attestation, SigningKey
from provenance.ops import serve_in_thread
from tests.factories import TEST_SOURCE, as_list, make_token, pipeline_docs
from tests.test_commands import _free_port

from .stack import BASE_DIR, answers, chainsweb_env
from .test_metrics_processes import promtool_check, value

pytestmark = pytest.mark.django_db(transaction=True)


def scrape(client: Client | None = None, **extra: str) -> Any:
    return (client or Client()).get("/metrics", **extra)


def test_metrics_are_for_allowed_addresses_and_staff_only(settings: Any) -> None:
    assert scrape().status_code == 200  # loopback, the default
    outside = {"REMOTE_ADDR": "192.0.2.10"}
    assert scrape(**outside).status_code == 403
    viewer = get_user_model().objects.create_user("viewer", password="pw-viewer-1234")
    staff = get_user_model().objects.create_user("ops", password="pw-ops-1234", is_staff=True)
    client = Client()
    client.force_login(viewer)
    assert scrape(client, **outside).status_code == 403
    client.force_login(staff)
    assert scrape(client, **outside).status_code == 200
    settings.METRICS_ALLOWED_NETWORKS = ["192.0.2.0/24"]
    assert scrape(**outside).status_code == 200
    assert scrape().status_code == 403  # loopback is no longer listed
    # An ingress address is no allowed host, yet probes and scrapes still get through.
    assert scrape(HTTP_HOST="10.244.3.7:8000", **outside).status_code == 200
    assert Client().get("/readyz", HTTP_HOST="10.244.3.7:8000").status_code == 200


def test_counters_follow_ingests_signatures_and_failures(settings: Any, tmp_path: Path) -> None:
    settings.KEYS_DIR = tmp_path / "keys"
    before = scrape().content.decode()
    token = make_token(role="ingester")
    body = as_list(pipeline_docs(name="metrics-1"))
    response = Client().post(
        "/api/v1/records", body, content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )  # fmt: skip
    assert response.status_code == 202  # signed in-process (no broker in tests)
    bad = Client().post(
        "/api/v1/records", b"{}", content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )  # fmt: skip
    assert bad.status_code == 400
    # A namespace whose key file is gone: Chains' signing failure, error_type="signing".
    services.signing_key_create(namespace="team-b", algorithm="ed25519", actor="test")
    key = SigningKey.objects.get(namespace="team-b")
    (Path(settings.KEYS_DIR) / key.private_key_path).unlink()
    services.records_ingest(
        data=as_list(pipeline_docs(namespace="team-b", name="metrics-2")),
        namespaces_allowed=None,
        source=TEST_SOURCE,
    )
    after = scrape().content.decode()

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("chainsweb_records_ingested_total", source="api", outcome="created") == 3
    assert delta("chainsweb_records_ingested_total", source="api", outcome="rejected") == 1
    assert delta("watcher_pipelinerun_sign_created_total") == 1
    assert delta("watcher_pipelinerun_payload_stored_total") == 1
    assert delta("watcher_pipelinerun_marked_signed_total") == 1
    assert delta("watcher_pipelinerun_signing_failures_total", error_type="signing") == 1
    assert delta("chainsweb_ingest_to_signed_seconds_count", queue="in-process") == 1
    assert delta("chainsweb_compute_duration_seconds_count", outcome="failed") == 1
    assert value(after, "watcher_pipelinerun_payload_uploaded_total") == 0
    promtool_check(after)

    # A stored attestation that no longer verifies (its key replaced under it) is counted when
    # someone opens it.
    attestation = Attestation.objects.get(run__name="metrics-1")
    other = services.signing_key_create(namespace="team-c", algorithm="ed25519", actor="test")
    SigningKey.objects.filter(key_id=attestation.key_id).update(public_key_pem=other.public_key_pem)
    staff = get_user_model().objects.create_user("ops", password="pw-ops-1234", is_staff=True)
    client = Client()
    client.force_login(staff)
    assert client.get(f"/attestations/{attestation.pk}/").status_code == 200
    client.get(f"/api/v1/attestations/{attestation.pk}")
    final = scrape().content.decode()
    assert (
        value(final, "chainsweb_verification_failures_total", where="dashboard")
        - value(after, "chainsweb_verification_failures_total", where="dashboard")
        == 1
    )
    assert (
        value(final, "chainsweb_verification_failures_total", where="api")
        - value(after, "chainsweb_verification_failures_total", where="api")
        >= 1
    )


def test_queue_depth_is_read_from_the_broker(settings: Any, redis_url: str) -> None:
    settings.CELERY_BROKER_URL = redis_url
    client = redis.Redis.from_url(redis_url)
    client.rpush("celery", b"m1", b"m2")
    client.rpush("backfill", b"m3")
    client.rpush("backfill\x06\x163", b"m4")  # kombu's list for priority 3
    client.rpush("publish", b"m5")
    text = scrape().content.decode()
    assert value(text, "chainsweb_broker_up") == 1
    assert value(text, "chainsweb_queue_depth", queue="celery") == 2
    assert value(text, "chainsweb_queue_depth", queue="backfill") == 2
    assert value(text, "chainsweb_queue_depth", queue="publish") == 1
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{_free_port()}/0"  # nothing listens
    text = scrape().content.decode()
    assert value(text, "chainsweb_broker_up") == 0
    assert "chainsweb_queue_depth" not in text
    promtool_check(text)


def test_readyz_names_the_failing_check_and_nothing_more(settings: Any) -> None:
    ready = Client().get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {
        "ready": True,
        "checks": {"database": "ok", "migrations": "ok", "signing_keys": "ok"},
    }
    port = _free_port()
    settings.CELERY_BROKER_URL = f"redis://:s3cret-broker-pw@127.0.0.1:{port}/0"
    down = Client().get("/readyz")
    assert down.status_code == 503
    assert down.json()["checks"]["broker"] == "failing"
    assert "s3cret" not in down.content.decode() and str(port) not in down.content.decode()
    assert Client().get("/healthz").content == b"ok"


def _readyz_in(database_url: str, tmp_path: Path) -> Any:
    code = (
        "import django, json; django.setup(); from django.test import Client; "
        "r = Client().get('/readyz'); print(r.status_code, r.content.decode())"
    )
    env = chainsweb_env(tmp_path, DATABASE_URL=database_url)
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=BASE_DIR, env={**env, "DJANGO_SETTINGS_MODULE":
        "chainsweb.settings"}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    status, body = result.stdout.strip().splitlines()[-1].split(" ", 1)
    return int(status), json.loads(body)


def test_readyz_fails_without_migrations_or_database(tmp_path: Path) -> None:
    name = f"{connection.settings_dict['NAME']}_empty"
    base = connection.settings_dict
    url = f"postgres://{base['USER']}@{base['HOST'] or '127.0.0.1'}:{base['PORT'] or 5432}"
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        status, body = _readyz_in(f"{url}/{name}", tmp_path)
        assert status == 503 and body["checks"]["migrations"] == "failing"
        assert body["checks"]["database"] == "ok"
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
    status, body = _readyz_in(f"postgres://postgres@127.0.0.1:{_free_port()}/x", tmp_path)
    assert status == 503 and body["checks"]["database"] == "failing"


def test_the_worker_port_is_ready_only_when_its_keys_load(settings: Any, tmp_path: Path) -> None:
    settings.KEYS_DIR = tmp_path / "keys"
    settings.SIGNING_DEFAULT_KEY_AUTOCREATE = False
    port = _free_port()
    server = serve_in_thread(port, role="worker")
    try:
        url = f"http://127.0.0.1:{port}"
        assert answers(f"{url}/healthz", 200)()
        assert answers(f"{url}/readyz", 503)()  # no default key, none may be created
        key = services.signing_key_create(namespace="", algorithm="ed25519", actor="test")
        assert answers(f"{url}/readyz", 200)()
        (Path(settings.KEYS_DIR) / key.private_key_path).unlink()
        assert answers(f"{url}/readyz", 503)()
        assert answers(f"{url}/metrics", 200)()
    finally:
        server.shutdown()
        server.server_close()


def test_json_lines_carry_the_request_id_and_context() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    access = logging.getLogger("chainsweb.request")
    access.addHandler(handler)
    try:
        response = Client().get("/no-such-page", HTTP_X_REQUEST_ID="ingress-4f2a")
        forged = Client().get("/no-such-page", HTTP_X_REQUEST_ID="bad id\nwith a newline")
        with log_context(namespace="team-a", run_uid="u-1", attestation_id=7):
            try:
                raise ValueError("boom")
            except ValueError:
                logging.getLogger("provenance.test").addHandler(handler)
                logging.getLogger("provenance.test").exception("it failed")
    finally:
        access.removeHandler(handler)
        logging.getLogger("provenance.test").removeHandler(handler)
    assert response["X-Request-ID"] == "ingress-4f2a"
    assert len(forged["X-Request-ID"]) == 32 and "\n" not in forged["X-Request-ID"]
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    first = lines[0]
    assert first["request_id"] == "ingress-4f2a" and first["logger"] == "chainsweb.request"
    assert (first["method"], first["path"], first["status"]) == ("GET", "/no-such-page", 404)
    assert {"time", "level", "message", "duration_ms"} <= set(first)
    last = lines[-1]
    assert (last["namespace"], last["run_uid"], last["attestation_id"]) == ("team-a", "u-1", "7")
    assert last["level"] == "error" and "ValueError: boom" in last["exception"]
