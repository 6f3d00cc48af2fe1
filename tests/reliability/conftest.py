"""Shared helpers for the reliability scenarios (issue 7, docs/reliability.md).

Every scenario ends with :func:`assert_every_record_accounted_for`: each accepted record is
exactly one of signed, rejected/failed/skipped/waiting with a stored (and true) reason, or
pending (queued) — nothing lost, nothing duplicated, no partial rows.

The real ``celery worker`` subprocess comes from ``tests/test_tasks_worker.py`` (``Worker``),
extended here to load test-only hooks; the private Postgres cluster comes from
``tests/test_commands.py`` (``Cluster``). The broker is a private ``redis-server`` per test on its
own port, so a test can stop and start it without touching the machine's shared Redis (or another
xdist worker's database on it).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis
from django.conf import settings

from chainsweb.celery import app as celery_app
from provenance.models import (
    Artifact,
    Attestation,
    ChainEntry,
    ComputeStatus,
    RunKind,
    RunRecord,
    SigningKey,
)
from provenance.reads.store import store_verify
from tests.core.pipeline_builder import Task, digest
from tests.core.pipeline_builder import pipeline_run as build_pipeline_run
from tests.core.test_dsse import sslib_verify
from tests.factories import make_token
from tests.test_commands import Cluster, _free_port, _pg_bindir
from tests.test_tasks_worker import Worker, _db_url, celery_pointed_at, wait_for

__all__ = [
    "BASE_DIR",
    "NAMESPACE",
    "Accounting",
    "Cluster",
    "Ingest",
    "RedisServer",
    "ReliabilityWorker",
    "_db_url",
    "_free_port",
    "_pg_bindir",
    "account_for_records",
    "accounting_in_subprocess",
    "as_list",
    "assert_every_record_accounted_for",
    "celery_pointed_at",
    "compute_status",
    "drained",
    "pipeline_records",
    "standalone_taskrun",
    "uids",
    "wait_for",
]

BASE_DIR = Path(__file__).resolve().parents[2]
NAMESPACE = "team-a"


# =============================================================================================
# Records


def pipeline_records(
    name: str,
    *,
    tasks: int = 3,
    namespace: str = NAMESPACE,
    rv: int = 100,
    status: str = "True",
    task_statuses: list[str | None] | None = None,
) -> list[dict[str, Any]]:
    """A small PipelineRun (first) and its TaskRuns ``<name>-t0`` … in a chain, each naming one
    image. ``task_statuses``: Succeeded status per task ("True", "Unknown", …; None: not started,
    so neither a TaskRun nor a childReference).

    Cluster metadata as Kubernetes sets it: unique uids, resourceVersions, the pipelineRun label
    and ownerReferences. About 1.2 KB per TaskRun and 0.8 KB for the PipelineRun.
    """
    statuses = task_statuses or ["True"] * tasks
    specs = [
        Task(
            name=f"t{i}",
            status=statuses[i],
            end=None if statuses[i] == "Unknown" else "2026-01-01T10:01:00Z",
            run_after=[f"t{i - 1}"] if i else [],
            results={
                "IMAGE_URL": f"registry.example/{namespace}/{name}/t{i}",
                "IMAGE_DIGEST": f"sha256:{digest(f'{namespace}/{name}/t{i}/{rv}')}",
            },
        )
        for i in range(len(statuses))
    ]
    pr, *children = build_pipeline_run(specs, name=name, status=status)
    pr_uid = str(uuid.uuid4())
    pr["metadata"] = {
        "name": name,
        "namespace": namespace,
        "uid": pr_uid,
        "resourceVersion": str(rv),
        "labels": {"tekton.dev/pipeline": name},
    }
    for offset, child in enumerate(children, start=1):
        meta = child["metadata"]
        meta["namespace"] = namespace
        meta["uid"] = str(uuid.uuid4())
        meta["resourceVersion"] = str(rv + offset)
        meta["ownerReferences"] = [
            {"apiVersion": "tekton.dev/v1", "kind": "PipelineRun", "name": name, "uid": pr_uid}
        ]
    return [pr, *children]


def standalone_taskrun(
    name: str, *, namespace: str = NAMESPACE, rv: int = 50, image_seed: str = ""
) -> dict[str, Any]:
    """A succeeded TaskRun outside any pipeline, naming one image (its own top-level run)."""
    (pr, child) = pipeline_records(name, tasks=1, namespace=namespace, rv=rv)
    del pr
    child["metadata"] = {
        "name": name,
        "namespace": namespace,
        "uid": str(uuid.uuid4()),
        "resourceVersion": str(rv),
    }
    seed = image_seed or f"{namespace}/{name}/{rv}"
    child["status"]["results"] = [
        {"name": "IMAGE_URL", "value": f"registry.example/{namespace}/{name}"},
        {"name": "IMAGE_DIGEST", "value": f"sha256:{digest(seed)}"},
    ]
    return child


def as_list(docs: Iterable[dict[str, Any]]) -> bytes:
    return orjson.dumps({"apiVersion": "v1", "kind": "List", "items": list(docs)})


def uids(docs: Iterable[dict[str, Any]]) -> set[str]:
    return {str(d["metadata"]["uid"]) for d in docs}


# =============================================================================================
# The invariant


@dataclass
class Accounting:
    """Where every stored record stands, and everything that breaks the invariant."""

    counts: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    records: int = 0
    attestations: int = 0
    chain_entries: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "counts": dict(self.counts),
            "problems": self.problems,
            "records": self.records,
            "attestations": self.attestations,
            "chain_entries": self.chain_entries,
        }


_WAITS_FOR_PARENT = "waiting for its PipelineRun"
_WAITS_FOR_CHILDREN = re.compile(r"^waiting for TaskRuns: (?P<names>.+)$")


def account_for_records(
    *, expected_uids: Iterable[str] | None = None, allow_pending: bool = False
) -> Accounting:
    """Check every RunRecord against the invariant; returns the counts and the problems.

    A record is exactly one of:

    * ``signed``: a top-level run with at least one current (not superseded) attestation;
    * ``failed`` / ``skipped`` / ``waiting`` with a non-empty ``compute_reason``. A waiting
      reason must be true: a TaskRun may not wait for a PipelineRun that is stored, and a
      PipelineRun may not wait for a TaskRun of its own that is stored (that wait would never
      end: nothing would compute the run again);
    * ``child``: a TaskRun attested as part of its stored PipelineRun;
    * ``pending`` (queued), only when ``allow_pending`` (the queue has not been drained).

    And over the whole store: every attestation has its chain entry with the same envelope hash,
    its envelope verifies with securesystemslib against the registered key and carries the stored
    statement, belongs to a top-level run, and no two attestations sign the same inputs (at most
    one current attestation per run, scope and subject set; never the same statement twice under
    one key). No artifact without an attestation (no half-written subject links), and
    ``store_verify`` finds the chain intact. With ``expected_uids``, nothing is lost (every
    accepted uid is stored) and nothing appears that was not accepted.
    """
    acc = Accounting()
    records = list(RunRecord.objects.all())
    acc.records = len(records)
    by_uid = {r.uid: r for r in records}
    by_name = {(r.namespace, r.name): r for r in records if r.kind == RunKind.PIPELINE_RUN}
    if len(by_uid) != len(records):
        acc.problems.append("duplicate uids among stored records")
    if expected_uids is not None:
        expected = set(expected_uids)
        lost = expected - set(by_uid)
        extra = set(by_uid) - expected
        acc.problems += [f"lost: accepted record {uid} is not stored" for uid in sorted(lost)]
        acc.problems += [f"unexpected: record {uid} was never accepted" for uid in sorted(extra)]

    attestations = list(Attestation.objects.all())
    acc.attestations = len(attestations)
    current_by_run: dict[int, list[Attestation]] = defaultdict(list)
    for attestation in attestations:
        if attestation.superseded_by_id is None:
            current_by_run[attestation.run_id].append(attestation)
    children_of: dict[str, set[str]] = defaultdict(set)
    for r in records:
        if r.kind == RunKind.TASK_RUN and r.parent_uid:
            children_of[r.parent_uid].add(r.name)
        if r.kind == RunKind.TASK_RUN and r.parent_name:
            children_of[f"{r.namespace}/{r.parent_name}"].add(r.name)

    for r in records:
        status, reason = r.compute_status, r.compute_reason.strip()
        acc.counts[status] += 1
        label = f"{r.kind} {r.namespace}/{r.name} ({r.uid}): {status}"
        if status == ComputeStatus.SIGNED:
            if not r.is_top_level:
                acc.problems.append(f"{label}, but it is a child TaskRun")
            if not current_by_run.get(r.pk):
                acc.problems.append(f"{label} without a current attestation")
        elif status in (ComputeStatus.FAILED, ComputeStatus.SKIPPED, ComputeStatus.WAITING):
            if not reason:
                acc.problems.append(f"{label} without a reason")
            elif status == ComputeStatus.WAITING:
                acc.problems += _untrue_wait(r, label, reason, by_uid, by_name, children_of)
        elif status == ComputeStatus.CHILD:
            if not r.parent_uid or r.parent_uid not in by_uid:
                acc.problems.append(f"{label} of a PipelineRun that is not stored")
        elif status == ComputeStatus.PENDING:
            if not allow_pending:
                acc.problems.append(f"{label}: still pending after the queue drained")
        else:
            acc.problems.append(f"{label}: unknown status")

    acc.problems += _attestation_problems(attestations, by_uid)
    acc.chain_entries = ChainEntry.objects.count()
    orphans = Artifact.objects.filter(attestations__isnull=True).count()
    if orphans:
        acc.problems.append(f"{orphans} artifact(s) linked to no attestation (partial rows)")
    report = store_verify()
    acc.problems += [f"verify_store: {p}" for p in report.problems]
    return acc


def _untrue_wait(
    r: RunRecord,
    label: str,
    reason: str,
    by_uid: dict[str, RunRecord],
    by_name: dict[tuple[str, str], RunRecord],
    children_of: dict[str, set[str]],
) -> list[str]:
    if r.kind == RunKind.TASK_RUN and reason.startswith(_WAITS_FOR_PARENT):
        parent = by_uid.get(r.parent_uid) if r.parent_uid else None
        parent = parent or by_name.get((r.namespace, r.parent_name))
        if parent is not None:
            return [f"{label} ({reason!r}), but {parent} is stored: this wait never ends"]
    match = _WAITS_FOR_CHILDREN.match(reason)
    if r.kind == RunKind.PIPELINE_RUN and match:
        have = children_of.get(r.uid, set()) | children_of.get(f"{r.namespace}/{r.name}", set())
        stored = sorted(set(n.strip() for n in match["names"].split(",")) & have)
        if stored:
            names = ", ".join(stored)
            return [f"{label} ({reason!r}), but {names} is stored: this wait never ends"]
    return []


def _attestation_problems(
    attestations: list[Attestation], by_uid: dict[str, RunRecord]
) -> list[str]:
    problems: list[str] = []
    runs = {r.pk: r for r in by_uid.values()}
    keys = {k.key_id: k for k in SigningKey.objects.all()}
    entries = {e.attestation_id: e for e in ChainEntry.objects.all()}
    current: Counter[tuple[int, str, str]] = Counter()
    signed: Counter[tuple[int, str, str, str, str]] = Counter()
    for a in attestations:
        label = f"attestation {a.pk} of run {a.run_id}"
        run = runs.get(a.run_id)
        if run is None or not run.is_top_level:
            problems.append(f"{label}: not a top-level run")
        entry = entries.get(a.pk)
        if entry is None:
            problems.append(f"{label}: no chain entry (partial rows)")
        elif entry.envelope_sha256 != a.envelope_sha256:
            problems.append(f"{label}: chain entry has another envelope hash")
        envelope = bytes(a.envelope)
        if hashlib.sha256(envelope).hexdigest() != a.envelope_sha256:
            problems.append(f"{label}: envelope does not match its sha256")
        key = keys.get(a.key_id)
        if key is None:
            problems.append(f"{label}: key {a.key_id} is not registered")
        else:
            try:
                payload = sslib_verify(envelope, key.public_key_pem, key.key_id)
            except Exception as exc:  # securesystemslib raises its own error types
                problems.append(f"{label}: envelope does not verify: {exc}")
            else:
                if payload != bytes(a.statement):
                    problems.append(f"{label}: envelope payload is not the stored statement")
        if a.superseded_by_id is None:
            current[(a.run_id, a.scope, a.subject_key)] += 1
        signed[(a.run_id, a.scope, a.subject_key, a.key_id, a.statement_sha256)] += 1
    problems += [
        f"duplicate: {n} current attestations for run {run_id} ({scope} {subjects[:60]})"
        for (run_id, scope, subjects), n in current.items()
        if n > 1
    ]
    problems += [
        f"duplicate: the same statement signed {n} times for run {key[0]} ({key[1]})"
        for key, n in signed.items()
        if n > 1
    ]
    return problems


def assert_every_record_accounted_for(
    *, expected_uids: Iterable[str] | None = None, allow_pending: bool = False
) -> Accounting:
    acc = account_for_records(expected_uids=expected_uids, allow_pending=allow_pending)
    assert not acc.problems, (
        f"{len(acc.problems)} problem(s), counts {dict(acc.counts)}:\n"
        + "\n".join(acc.problems[:40])
    )
    return acc


def accounting_in_subprocess(
    database_url: str,
    *,
    keys_dir: Path,
    expected_uids: Iterable[str] | None = None,
    allow_pending: bool = False,
    timeout: float = 120,
) -> dict[str, Any]:
    """:func:`account_for_records` against another database (e.g. a private cluster)."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as spec:
        json.dump(
            {
                "expected_uids": sorted(expected_uids) if expected_uids is not None else None,
                "allow_pending": allow_pending,
            },
            spec,
        )
    try:
        result = subprocess.run(
            [sys.executable, "-c", _SUBPROCESS_MAIN, spec.name],
            cwd=BASE_DIR,
            env={
                **os.environ,
                "DJANGO_SETTINGS_MODULE": "chainsweb.settings",
                "DATABASE_URL": database_url,
                "KEYS_DIR": str(keys_dir),
            },
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    finally:
        os.unlink(spec.name)
    assert result.returncode == 0, result.stdout + result.stderr
    loaded: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return loaded


_SUBPROCESS_MAIN = """
import json, sys
import django
django.setup()
from tests.reliability.conftest import account_for_records
spec = json.load(open(sys.argv[1]))
print(json.dumps(account_for_records(**spec).as_dict()))
"""


# =============================================================================================
# Broker: a private redis-server per test


class RedisServer:
    """``redis-server`` on a free port, with an append-only file so a stop/start keeps the queue
    (a broker that is down for a while, not one that lost its data)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        cmd = [
            "redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.folder),
            "--logfile", str(self.folder / "redis.log"),
        ]  # fmt: skip
        self.proc = subprocess.Popen(cmd, start_new_session=True)
        client = redis.Redis(port=self.port, socket_connect_timeout=1)
        try:
            wait_for(lambda: _ping(client), "redis-server to start", timeout=20)
        finally:
            client.close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=20)
        self.proc = None

    def queued(self) -> int:
        """Messages waiting on the live and the backfill queue."""
        client = redis.Redis(port=self.port)
        try:
            return sum(
                int(client.llen(queue))  # type: ignore[arg-type]
                for queue in (settings.CELERY_TASK_DEFAULT_QUEUE, settings.BACKFILL_QUEUE)
            )
        finally:
            client.close()

    def unacked(self) -> int:
        client = redis.Redis(port=self.port)
        try:
            return int(client.hlen("unacked"))  # type: ignore[arg-type]
        finally:
            client.close()


def _ping(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        pytest.skip("needs redis-server")
    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def broker(private_redis: RedisServer) -> Iterator[RedisServer]:
    with celery_pointed_at(private_redis.url()):
        yield private_redis


@pytest.fixture
def eager() -> Iterator[None]:
    """Tasks run in-process at commit (the embedded single-process mode), whatever the env."""
    conf = celery_app.conf
    saved = {"broker_url": conf.broker_url, "task_always_eager": conf.task_always_eager}
    conf.update(task_always_eager=True)
    try:
        yield
    finally:
        conf.update(saved)


# =============================================================================================
# Worker


class ReliabilityWorker(Worker):
    """``tests.test_tasks_worker.Worker`` plus the test hooks (``worker_hooks``), another
    database, another visibility timeout and extra environment."""

    def __init__(
        self,
        broker_url: str,
        keys_dir: Path,
        log: Path,
        *,
        database_url: str | None = None,
        visibility_timeout: int = 3,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        super().__init__(broker_url, keys_dir, log)
        if database_url:
            self.env["DATABASE_URL"] = database_url
        self.env["CELERY_VISIBILITY_TIMEOUT"] = str(visibility_timeout)
        self.env.update(extra_env or {})
        self._ready_before = 0

    def extra_args(self) -> list[str]:
        return ["--include", "tests.reliability.worker_hooks"]

    def start(self) -> None:
        self._ready_before = self.log_text().count(" ready.")
        super().start()

    def wait_ready(self, timeout: float = 60) -> None:
        """Until this start's worker is consuming (its " ready." line)."""
        wait_for(
            lambda: self.log_text().count(" ready.") > self._ready_before,
            "the worker to be ready",
            timeout,
        )

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def received(self) -> list[str]:
        return re.findall(r"attestations_compute\[([0-9a-f-]+)\] received", self.log_text())

    def succeeded(self, task_id: str) -> bool:
        return f"attestations_compute[{task_id}] succeeded" in self.log_text()


@pytest.fixture
def worker_factory(
    broker: RedisServer, tmp_path: Path, settings: Any
) -> Iterator[Callable[..., ReliabilityWorker]]:
    """Workers on the test database and the private broker (not started); stopped at the end."""
    settings.KEYS_DIR = tmp_path / "keys"
    made: list[ReliabilityWorker] = []

    def make(**options: Any) -> ReliabilityWorker:
        log = tmp_path / f"worker-{len(made)}.log"
        made.append(ReliabilityWorker(broker.url(), settings.KEYS_DIR, log, **options))
        return made[-1]

    try:
        yield make
    finally:
        for w in made:
            w.stop()
            print(w.tail())  # shown by pytest when the test failed


@pytest.fixture
def worker(worker_factory: Callable[..., ReliabilityWorker]) -> ReliabilityWorker:
    w = worker_factory()
    w.start()
    return w


def drained(server: RedisServer) -> bool:
    """Nothing queued and nothing delivered but unacknowledged."""
    return server.queued() == 0 and server.unacked() == 0


# =============================================================================================
# Ingest through the API (in-process Django test client)


@dataclass
class Ingest:
    token: str
    make_client: Callable[[], Any]
    client: Any = None

    def post(self, body: bytes, client: Any = None) -> Any:
        return (client or self.client).post(
            "/api/v1/records",
            data=body,
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {self.token}",
        )

    def accepted(self, body: bytes) -> dict[str, Any]:
        response = self.post(body)
        assert response.status_code == 202, response.content
        result: dict[str, Any] = response.json()
        return result


@pytest.fixture
def ingest(client: Any, settings: Any) -> Ingest:
    from django.test import Client

    settings.API_RATE_LIMIT = None
    return Ingest(token=make_token(role="ingester"), make_client=Client, client=client)


def compute_status(uid: str) -> tuple[str, str]:
    record = RunRecord.objects.get(uid=uid)
    return record.compute_status, record.compute_reason
