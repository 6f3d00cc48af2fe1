"""watch_records with the real kubernetes client against a local list/watch HTTP server.

The server speaks the parts of the Kubernetes API the watcher uses: list (with resourceVersion)
and watch (a chunked stream of JSON events, ERROR 410 for a version that is too old).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection

from provenance.management.commands.watch_records import Watcher, api_client_for
from provenance.models import RunRecord, WatchState
from provenance.services import RecordSource
from tests.factories import pipeline_docs

pytestmark = pytest.mark.django_db(transaction=True)

BASE_DIR = Path(__file__).resolve().parent.parent
WAIT = 30.0
# What watch_records would record for the cluster fixture's kubeconfig (context local, user
# watcher).
WATCH_SOURCE = RecordSource.watch(cluster="local", watcher="watcher")


def wait_for(condition: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


class FakeCluster:
    """Objects per plural, a list resourceVersion, and scripted watch responses."""

    def __init__(self) -> None:
        self.items: dict[str, list[dict[str, Any]]] = {"pipelineruns": [], "taskruns": []}
        self.list_version = "100"
        # Per plural: batches of events, one batch per watch request; then the stream idles.
        self.watch_batches: dict[str, list[list[dict[str, Any]]]] = {
            "pipelineruns": [],
            "taskruns": [],
        }
        self.gone_below = 0  # watch requests for a version below this get 410 Gone
        self.fail_lists = 0  # the next N list requests answer 500
        self.requests: list[tuple[str, str, dict[str, str]]] = []  # (kind, path, query)
        self.closing = threading.Event()
        self.lock = threading.Lock()


def _handler(cluster: FakeCluster) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            segments = parts.path.strip("/").split("/")
            if segments[:3] != ["apis", "tekton.dev", "v1"] or segments[-1] not in cluster.items:
                return self._json(404, {"kind": "Status", "code": 404})
            plural = segments[-1]
            namespace = segments[4] if segments[3:4] == ["namespaces"] else None
            watching = query.get("watch") in ("true", "1", "True")
            with cluster.lock:
                cluster.requests.append(("watch" if watching else "list", parts.path, query))
            if watching:
                return self._watch(plural, query)
            with cluster.lock:
                if cluster.fail_lists > 0:
                    cluster.fail_lists -= 1
                    return self._json(500, {"kind": "Status", "code": 500, "message": "boom"})
            items = [
                o
                for o in cluster.items[plural]
                if namespace is None or o["metadata"]["namespace"] == namespace
            ]
            kind = "PipelineRunList" if plural == "pipelineruns" else "TaskRunList"
            self._json(
                200,
                {
                    "apiVersion": "tekton.dev/v1",
                    "kind": kind,
                    "metadata": {"resourceVersion": cluster.list_version},
                    "items": items,
                },
            )

        def _json(self, code: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _chunk(self, data: bytes) -> None:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        def _watch(self, plural: str, query: dict[str, str]) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            version = query.get("resourceVersion", "")
            if version.isdigit() and int(version) < cluster.gone_below:
                gone = {
                    "type": "ERROR",
                    "object": {
                        "kind": "Status",
                        "apiVersion": "v1",
                        "status": "Failure",
                        "message": f"too old resource version: {version}",
                        "reason": "Expired",
                        "code": 410,
                    },
                }
                self._chunk(json.dumps(gone).encode() + b"\n")
                self._chunk(b"")
                return
            with cluster.lock:
                batch = (
                    cluster.watch_batches[plural].pop(0) if cluster.watch_batches[plural] else []
                )
            for event in batch:
                self._chunk(json.dumps(event).encode() + b"\n")
            # Then stay open, quiet, until the server-side timeout (or the test ends).
            timeout = float(query.get("timeoutSeconds", "1"))
            cluster.closing.wait(timeout)
            with contextlib.suppress(OSError):  # the client may have gone
                self._chunk(b"")

    return Handler


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients hanging up on a watch (shutdown, timeouts) are expected here


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[FakeCluster, Path]]:
    fake = FakeCluster()
    server = _QuietServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {
                        "name": "local",
                        "cluster": {"server": f"http://127.0.0.1:{server.server_port}"},
                    }
                ],
                "users": [{"name": "watcher", "user": {"token": "not-a-secret"}}],
                "contexts": [{"name": "local", "context": {"cluster": "local", "user": "watcher"}}],
                "current-context": "local",
            }
        )
    )
    try:
        yield fake, kubeconfig
    finally:
        fake.closing.set()
        server.shutdown()
        server.server_close()


@pytest.fixture
def run_watcher(cluster, settings, tmp_path) -> Iterator[Callable[..., Watcher]]:
    settings.KEYS_DIR = tmp_path / "keys"
    started: list[Watcher] = []

    def start(namespaces: tuple[str, ...] = ()) -> Watcher:
        watcher = Watcher(
            api_client_for(str(cluster[1])),
            list(namespaces),
            timeout_seconds=1,
            read_timeout=5,
            backoff_max=0.5,
            backoff_base=0.05,
            source=WATCH_SOURCE,
        )
        watcher.start()
        started.append(watcher)
        return watcher

    yield start
    for watcher in started:
        assert watcher.shutdown()
    connection.close()


def event(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    return {"type": kind, "object": obj}


def test_lists_then_watches_and_stores_everything(cluster, run_watcher) -> None:
    fake, _ = cluster
    pr, build, clone = pipeline_docs(resource_version=90)
    fake.items["pipelineruns"] = [pr]
    fake.items["taskruns"] = [build]
    clone["metadata"]["resourceVersion"] = "101"
    fake.watch_batches["taskruns"] = [[event("ADDED", clone)]]
    done = json.loads(json.dumps(pr))
    done["metadata"]["resourceVersion"] = "102"
    done["metadata"]["annotations"] = {"chains": "seen"}
    bookmark = {"kind": "PipelineRun", "metadata": {"resourceVersion": "110"}}
    fake.watch_batches["pipelineruns"] = [[event("MODIFIED", done), event("BOOKMARK", bookmark)]]
    run_watcher()
    wait_for(lambda: RunRecord.objects.count() == 3, "all three runs")
    wait_for(
        lambda: RunRecord.objects.get(uid=pr["metadata"]["uid"]).resource_version == "102",
        "the MODIFIED PipelineRun",
    )
    wait_for(
        lambda: WatchState.objects.filter(key="pipelineruns/*", resource_version="110").exists(),
        "the bookmark's version to be stored",
    )
    kinds = [(k, q.get("resourceVersion")) for k, p, q in fake.requests if "pipelineruns" in p]
    assert kinds[0] == ("list", None)
    assert kinds[1] == ("watch", "100")
    record = RunRecord.objects.get(uid=pr["metadata"]["uid"])
    assert record.source == {"kind": "watch", "cluster": "local", "watcher": "watcher"}
    # Compute runs after each ingest commits, in the watcher's threads: wait for it.
    wait_for(
        lambda: RunRecord.objects.get(uid=pr["metadata"]["uid"]).compute_status == "signed",
        "the PipelineRun to be signed",
    )


def test_resumes_from_the_stored_resource_version(cluster, run_watcher) -> None:
    fake, _ = cluster
    WatchState.objects.create(key="pipelineruns/*", resource_version="150")
    WatchState.objects.create(key="taskruns/*", resource_version="151")
    run_watcher()
    wait_for(lambda: len(fake.requests) >= 2, "both streams to connect")
    first = {}
    for kind, path, query in fake.requests:
        first.setdefault(path.rsplit("/", 1)[-1], (kind, query.get("resourceVersion")))
    assert first == {"pipelineruns": ("watch", "150"), "taskruns": ("watch", "151")}


def test_relists_on_410_gone(cluster, run_watcher) -> None:
    fake, _ = cluster
    WatchState.objects.create(key="pipelineruns/*", resource_version="5")
    WatchState.objects.create(key="taskruns/*", resource_version="5")
    fake.gone_below = 50
    docs = pipeline_docs()
    fake.items["pipelineruns"] = docs[:1]
    fake.items["taskruns"] = docs[1:]
    run_watcher()
    wait_for(lambda: RunRecord.objects.count() == 3, "the relisted runs")

    def sequence() -> list[tuple[str, str | None]]:
        return [(k, q.get("resourceVersion")) for k, p, q in fake.requests if "taskruns" in p]

    wait_for(lambda: len(sequence()) >= 3, "the watch after the new list")
    assert sequence()[:3] == [("watch", "5"), ("list", None), ("watch", "100")]
    wait_for(
        lambda: WatchState.objects.get(key="taskruns/*").resource_version == "100",
        "the new list version",
    )


def test_backs_off_and_recovers_from_api_errors(cluster, run_watcher) -> None:
    fake, _ = cluster
    fake.fail_lists = 4
    fake.items["taskruns"] = pipeline_docs()[1:2]
    run_watcher()
    wait_for(lambda: RunRecord.objects.count() == 1, "the run after the errors")
    lists = [r for r in fake.requests if r[0] == "list"]
    assert len(lists) >= 5


def test_namespaces_use_namespaced_paths(cluster, run_watcher) -> None:
    fake, _ = cluster
    docs = pipeline_docs(namespace="team-a")
    fake.items["pipelineruns"] = docs[:1] + pipeline_docs(namespace="team-b")[:1]
    run_watcher(("team-a",))
    wait_for(lambda: RunRecord.objects.exists(), "the run")
    time.sleep(0.3)
    assert set(RunRecord.objects.values_list("namespace", flat=True)) == {"team-a"}
    paths = {p for _, p, _ in fake.requests}
    assert paths == {
        "/apis/tekton.dev/v1/namespaces/team-a/pipelineruns",
        "/apis/tekton.dev/v1/namespaces/team-a/taskruns",
    }
    assert WatchState.objects.filter(key="pipelineruns/team-a").exists()


def test_unattestable_objects_are_skipped_not_fatal(cluster, run_watcher) -> None:
    fake, _ = cluster
    pending = pipeline_docs()[0]
    del pending["status"]  # created, not started: no status yet
    fake.items["pipelineruns"] = [pending]
    fake.items["taskruns"] = pipeline_docs()[1:2]
    run_watcher()
    wait_for(lambda: RunRecord.objects.count() == 1, "the valid run")
    wait_for(
        lambda: WatchState.objects.filter(key="pipelineruns/*", resource_version="100").exists(),
        "the stream to move past the pending run",
    )


def _db_url() -> str:
    s = connection.settings_dict
    return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def test_sigterm_stops_the_command_cleanly(cluster, tmp_path) -> None:
    fake, kubeconfig = cluster
    fake.items["taskruns"] = pipeline_docs()[1:2]
    env = {
        **{k: v for k, v in os.environ.items() if k != "CELERY_BROKER_URL"},
        "DATABASE_URL": _db_url(),
        "KEYS_DIR": str(tmp_path / "keys"),
        "WATCH_TIMEOUT_SECONDS": "30",
        "WATCH_CLUSTER_NAME": "overridden by --cluster-name",
    }
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "watch_records", "--kubeconfig", str(kubeconfig)]
        + ["--cluster-name", "prod-eu-1"],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: RunRecord.objects.exists(), "the watcher to store a run")
        wait_for(lambda: any(k == "watch" for k, _, _ in fake.requests), "a watch to open")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out + err
    assert "in all namespaces of cluster prod-eu-1 as watcher" in out
    assert RunRecord.objects.get().source == {
        "kind": "watch",
        "cluster": "prod-eu-1",
        "watcher": "watcher",
    }
    assert "stopped (1 objects stored)" in out
    assert "Traceback" not in err
    assert "WARNING" not in err  # shutting down is not an error


def test_bad_kubeconfig_is_a_clean_error(tmp_path) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "watch_records", "--kubeconfig", str(tmp_path / "none")],
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "cannot load the Kubernetes configuration" in result.stderr
    assert "Traceback" not in result.stderr
