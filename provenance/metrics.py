"""Prometheus metrics (docs/operations.md lists them).

Tekton Chains' own names for what Chains counts, so existing dashboards and alerts keep working,
and chainsweb's for the rest. Counters and histograms are prometheus_client's: with
``PROMETHEUS_MULTIPROC_DIR`` set, each process (gunicorn worker, Celery pool process) writes its
own file there and ``exposition`` adds them up. The queue depth and the broker's state are read
from the broker when scraped.

The ``*_observed`` functions are the hooks the rest of the code calls; nothing here writes to the
database or raises on a metrics problem. The pruned totals are read from the database at scrape
time.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import redis
from django.conf import settings
from django.db.models import BigIntegerField, Sum
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Coalesce
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from provenance.core import dsse
from provenance.core.dsse import Envelope
from provenance.core.errors import ProvenanceError, SigningError
from provenance.core.signing import Signer

logger = logging.getLogger(__name__)

__all__ = ["CONTENT_TYPE_LATEST", "exposition"]


@dataclass(frozen=True, slots=True)
class _ChainsCounters:
    """The counters Chains keeps per kind of run (pkg/pipelinerunmetrics, pkg/taskrunmetrics)."""

    sign_created: Counter
    payload_uploaded: Counter
    payload_stored: Counter
    marked_signed: Counter
    signing_failures: Counter


def _chains_counters(kind: str, plural: str, title: str) -> _ChainsCounters:
    # prometheus_client adds the _total suffix: the exposed names are exactly Chains'.
    return _ChainsCounters(
        sign_created=Counter(
            f"watcher_{kind}_sign_created", f"Total number of signed messages for {plural}"
        ),
        payload_uploaded=Counter(
            f"watcher_{kind}_payload_uploaded",
            f"Total number of uploaded payloads for {plural} (chainsweb uploads to no "
            "transparency log: always 0)",
        ),
        payload_stored=Counter(
            f"watcher_{kind}_payload_stored", f"Total number of stored payloads for {plural}"
        ),
        marked_signed=Counter(
            f"watcher_{kind}_marked_signed",
            f"Total number of objects marked as signed for {plural}",
        ),
        signing_failures=Counter(
            f"watcher_{kind}_signing_failures",
            f"Total number of {title} signing failures",
            ["error_type"],
        ),
    )


CHAINS = {
    "PipelineRun": _chains_counters("pipelinerun", "pipelineruns", "PipelineRun"),
    "TaskRun": _chains_counters("taskrun", "taskruns", "TaskRun"),
}
# Chains' error types (pkg/metrics/common.go) that chainsweb can have.
PAYLOAD_CREATION, SIGNING, STORAGE = "payload_creation", "signing", "storage"

RECORDS_INGESTED = Counter(
    "chainsweb_records_ingested",
    "Run records received, by source (api, import, watch) and outcome (created, updated, "
    "unchanged, rejected)",
    ["source", "outcome"],
)
INGEST_TO_SIGNED = Histogram(
    "chainsweb_ingest_to_signed_seconds",
    "From the newest record of a run being stored to its attestation being stored, by queue",
    ["queue"],
    buckets=(0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 3600, 14400),
)
COMPUTE_DURATION = Histogram(
    "chainsweb_compute_duration_seconds",
    "Time a compute task took (plan, sign, store), by outcome",
    ["outcome"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
SIGNING_DURATION = Histogram(
    "chainsweb_signing_duration_seconds",
    "Time one DSSE signature took, by algorithm",
    ["algorithm"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1),
)
VERIFICATION_FAILURES = Counter(
    "chainsweb_verification_failures",
    "Stored attestations found not to verify when read again, by where (dashboard, api)",
    ["where"],
)
WATCH_RECONNECTS = Counter(
    "chainsweb_watch_reconnects",
    "Watch streams opened again, by stream and reason (ended, timeout, error, gone)",
    ["stream", "reason"],
)
WATCH_RELISTS = Counter(
    "chainsweb_watch_relists", "Full lists of a stream (first start or 410 Gone)", ["stream"]
)


def _safe(hook: Callable[..., None]) -> Callable[..., None]:
    """A metrics problem is logged, never raised into the work being measured."""

    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            hook(*args, **kwargs)
        except Exception:
            logger.warning("metrics hook %s failed", hook.__name__, exc_info=True)

    wrapper.__name__ = hook.__name__
    wrapper.__doc__ = hook.__doc__
    return wrapper


# --- hooks -----------------------------------------------------------------------------------


@_safe
def records_observed(source: str, outcomes: Iterable[str]) -> None:
    """Records a caller of ``records_ingest`` stored (each one's outcome)."""
    for outcome in outcomes:
        RECORDS_INGESTED.labels(source, outcome).inc()


@_safe
def records_rejected(source: str, count: int = 1) -> None:
    RECORDS_INGESTED.labels(source, "rejected").inc(count)


@_safe
def compute_observed(outcome: Any, seconds: float, queue: str) -> None:
    """A compute task's outcome (``services.ComputeOutcome``): Chains' counters for what was
    signed and stored, the compute time, and the ingest-to-signed latency."""
    COMPUTE_DURATION.labels(outcome.status).observe(seconds)
    if not outcome.created:
        return
    counters = CHAINS[outcome.kind]
    counters.sign_created.inc(len(outcome.created))
    counters.payload_stored.inc(len(outcome.created))
    if outcome.status == "signed":
        counters.marked_signed.inc()
    if outcome.stored is not None:
        latency = max(0.0, time.time() - outcome.stored.timestamp())
        INGEST_TO_SIGNED.labels(queue).observe(latency)


def _error_type(exc: BaseException) -> str:
    if isinstance(exc, SigningError):
        return SIGNING
    if isinstance(exc, ProvenanceError):
        return PAYLOAD_CREATION
    return STORAGE


@_safe
def compute_failed(run_id: int, exc: BaseException) -> None:
    """A permanent compute failure, counted under Chains' ``error_type`` for it."""
    from provenance.models import RunKind, RunRecord

    record = RunRecord.objects.filter(pk=run_id).values("kind", "parent_uid").first()
    kind = RunKind.PIPELINE_RUN if record is None or record["parent_uid"] else record["kind"]
    CHAINS[kind].signing_failures.labels(_error_type(exc)).inc()


def sign(payload: bytes, signer: Signer) -> Envelope:
    """``dsse.sign``, timed."""
    started = time.perf_counter()
    envelope = dsse.sign(payload, signer)
    SIGNING_DURATION.labels(signer.algorithm).observe(time.perf_counter() - started)
    return envelope


@_safe
def verifications_observed(where: str, results: Iterable[bool]) -> None:
    """Stored attestations checked again on a read: True verified, False did not."""
    failures = sum(1 for ok in results if not ok)
    if failures:
        VERIFICATION_FAILURES.labels(where).inc(failures)


@_safe
def watch_reconnected(stream: str, reason: str) -> None:
    WATCH_RECONNECTS.labels(stream, reason).inc()


@_safe
def watch_relisted(stream: str) -> None:
    WATCH_RELISTS.labels(stream).inc()


# --- exposition ------------------------------------------------------------------------------


class BrokerCollector(Collector):
    """Read at scrape time: messages waiting per queue, and whether the broker answers."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        url = settings.CELERY_BROKER_URL
        if not url:
            return  # tasks run in-process: no queue to measure
        up = GaugeMetricFamily("chainsweb_broker_up", "1 when the broker answered this scrape")
        depth = GaugeMetricFamily(
            "chainsweb_queue_depth", "Messages waiting in a Celery queue", labels=["queue"]
        )
        queues = (
            settings.CELERY_TASK_DEFAULT_QUEUE,
            settings.BACKFILL_QUEUE,
            settings.PUBLISH_QUEUE,
        )
        try:
            for queue, size in queue_sizes(url, queues).items():
                depth.add_metric([queue], size)
        except Exception as exc:  # any broker problem: report it down, never fail the scrape
            logger.warning("queue depth: broker unavailable: %s", type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield depth


class PrunedCollector(Collector):
    """Read at scrape time: runs and bytes of raw records pruned so far, summed from the audit
    entries each pruning writes (``prune_records`` runs in a CronJob that nobody scrapes), so
    every process reports the whole deployment's totals."""

    def collect(self) -> Iterator[CounterMetricFamily]:
        try:
            runs, size = pruned_totals()
        except Exception as exc:  # the database is down: leave the series out of this scrape
            logger.warning("pruned totals: database unavailable: %s", type(exc).__name__)
            return
        yield CounterMetricFamily(
            "chainsweb_pruned_runs",
            "Runs whose raw record was pruned under their namespace's retention",
            value=runs,
        )
        yield CounterMetricFamily(
            "chainsweb_pruned_bytes",
            "Stored (compressed) bytes of the raw records pruned",
            value=size,
        )


def pruned_totals() -> tuple[int, int]:
    """(runs, bytes) pruned, from the audit history: one query on a small table."""
    from provenance.models import SettingsAudit

    def total(name: str) -> Coalesce:
        value = Cast(KT(f"new__{SettingsAudit.PRUNED}__{name}"), BigIntegerField())
        return Coalesce(Sum(value), 0)

    found = SettingsAudit.objects.filter(new__has_key=SettingsAudit.PRUNED).aggregate(
        runs=total("runs"), bytes=total("bytes")
    )
    return int(found["runs"]), int(found["bytes"])


# kombu's Redis transport keeps a queue as a list named after it, plus one list per priority
# step other than 0, named queue + "\x06\x16" + step.
_KOMBU_PRIORITY_SEP = "\x06\x16"
_KOMBU_PRIORITY_STEPS = (3, 6, 9)


def queue_sizes(broker_url: str, queues: Iterable[str], timeout: float = 2.0) -> dict[str, int]:
    """Messages waiting in each queue (delivered but unacknowledged ones not included)."""
    if urlsplit(broker_url).scheme in {"redis", "rediss"}:
        client = redis.Redis.from_url(
            broker_url, socket_timeout=timeout, socket_connect_timeout=timeout
        )
        try:
            sizes = {}
            for queue in queues:
                steps = (f"{queue}{_KOMBU_PRIORITY_SEP}{p}" for p in _KOMBU_PRIORITY_STEPS)
                names = [queue, *steps]
                pipe = client.pipeline()
                for name in names:
                    pipe.llen(name)
                sizes[queue] = sum(int(n) for n in pipe.execute())
            return sizes
        finally:
            client.close()
    from kombu.connection import Connection

    with Connection(broker_url, connect_timeout=timeout) as connection:  # type: ignore[no-untyped-call]
        channel = connection.channel()
        try:
            return {q: int(channel.queue_declare(q, passive=True).message_count) for q in queues}
        finally:
            channel.close()


class _Collectors:
    def __init__(self, *collectors: Any) -> None:
        self.collectors = collectors

    def collect(self) -> Iterator[Any]:
        for collector in self.collectors:
            yield from collector.collect()


def exposition() -> bytes:
    """The text exposition: every process's metrics (multiprocess mode) or this process's, the
    broker's queues, and the pruned totals from the database."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        source: Any = registry
    else:
        source = REGISTRY
    return generate_latest(_Collectors(source, BrokerCollector(), PrunedCollector()))


def process_exited(pid: int) -> None:
    """A process that wrote metrics has ended (a gunicorn worker, a Celery pool process)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


def clean_multiprocess_dir() -> None:
    """At a server's start: drop the files of processes that no longer run, so a restarted
    container does not add the last run's gauges (counters restart from 0, as after any
    restart; Prometheus' rate() handles that)."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not folder:
        return
    for path in Path(folder).glob("*.db"):
        pid = path.stem.rsplit("_", 1)[-1]
        if pid.isdigit() and not _running(int(pid)):
            path.unlink(missing_ok=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
