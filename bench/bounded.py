"""Bounded work (issue 11, finding 3): the two cases the issue measured, before and after.

    .venv/bin/python bench/bounded.py engine [--tasks 500]
    DATABASE_URL=postgres://.../bench .venv/bin/python bench/bounded.py post [--runs 100000]

``engine``: the 500-task chain pipeline (each task runAfter the one before and builds an image)
under per-artifact scope with deep inspection: record size, statements, their total bytes, the
time to plan and serialise them, and the tracemalloc peak. ``post``: a ``kind: List`` of
``--runs`` minimal TaskRuns through ``POST /api/v1/records`` (Django's test client, so no
gunicorn), with Celery on Redis db 8 (flushed; no worker runs): the response time, the
response code, and how many messages were queued. The database (``DATABASE_URL``) is migrated
and its run records are deleted first; use a database of its own.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import tracemalloc
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def engine(tasks: int) -> None:
    from provenance.core import SlsaConfig, load_documents, parse_records
    from provenance.core.intoto import statement_bytes
    from provenance.core.plan import plan_statements
    from tests.core.pipeline_builder import chain_pipeline

    raw = orjson.dumps({"apiVersion": "v1", "kind": "List", "items": chain_pipeline(tasks)})
    cfg = SlsaConfig(format="slsa/v2alpha4", deep_inspection=True)
    started = time.monotonic()
    (run,) = parse_records(load_documents(raw))
    plan = plan_statements(run, cfg, "per-artifact", "on-completion")
    sizes = [len(statement_bytes(p.statement)) for p in plan.statements]
    elapsed = time.monotonic() - started
    tracemalloc.start()
    (run,) = parse_records(load_documents(raw))
    plan = plan_statements(run, cfg, "per-artifact", "on-completion")
    for p in plan.statements:
        statement_bytes(p.statement)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(
        f"{tasks} tasks, record {len(raw):,} B: {len(sizes)} statements, {sum(sizes):,} B "
        f"(largest {max(sizes):,} B), {elapsed:.2f} s, peak {peak / 1e6:.0f} MB"
    )


def post(runs: int) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chainsweb.settings")
    os.environ["CELERY_BROKER_URL"] = "redis://127.0.0.1:6379/8"
    import django

    django.setup()
    import redis
    from django.conf import settings
    from django.core.management import call_command
    from django.test import Client

    from provenance import services
    from provenance.models import ApiToken, RunRecord

    call_command("migrate", verbosity=0)
    RunRecord.objects.all().delete()
    queues = redis.Redis.from_url(os.environ["CELERY_BROKER_URL"])
    queues.flushdb()
    _, token = services.api_token_create(
        name=f"bench-{time.time()}",
        namespaces=("f",),
        all_namespaces=False,
        role=ApiToken.Role.INGESTER,
    )
    items = [
        {
            "kind": "TaskRun",
            "metadata": {"name": f"r{n:05d}", "namespace": "f", "uid": f"u{n:05d}"},
            "status": {"podName": ""},
        }
        for n in range(runs)
    ]
    body = orjson.dumps({"apiVersion": "v1", "kind": "List", "items": items})
    settings.ALLOWED_HOSTS = ["*"]
    settings.API_RATE_LIMIT = None
    started = time.monotonic()
    response = Client().post(
        "/api/v1/records",
        data=body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    elapsed = time.monotonic() - started
    queued = {
        q: queues.llen(q) for q in (settings.CELERY_TASK_DEFAULT_QUEUE, settings.BACKFILL_QUEUE)
    }
    print(
        f"{runs:,} TaskRuns, {len(body):,} B: {response.status_code} in {elapsed:.1f} s; "
        f"messages queued {queued}"
    )
    queues.flushdb()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("case", choices=["engine", "post"])
    parser.add_argument("--tasks", type=int, default=500)
    parser.add_argument("--runs", type=int, default=100_000)
    args = parser.parse_args()
    engine(args.tasks) if args.case == "engine" else post(args.runs)


if __name__ == "__main__":
    main()
