"""The run page of a large PipelineRun: server time and page weight (issue 16).

    .venv/bin/python bench/run_page.py                   # 1,000 tasks, 200 artifacts
    .venv/bin/python bench/run_page.py --tasks 3000 --artifacts 600 --requests 5
    .venv/bin/python bench/run_page.py --profile       # also the top of a cProfile of one page

Creates (or reuses) the database ``chainsweb_bench_runpage`` on the server of
BENCH_DATABASE_SERVER (default postgres://postgres@127.0.0.1:5432), migrates it, ingests
bench/engine.py's synthetic PipelineRun (a new copy each time, eager signing with a key in a
temporary folder), then requests its run page ``--requests`` times through Django's test Client
(DEBUG off, a signed-in staff user) and prints the median server time (wall clock, and the CPU
time of this process: the figure that holds up on a loaded machine; the database's own time is
in the wall clock only) and the HTML size of

- the page as it opens (``/runs/<id>/``),
- the page with an artifact picked (``?artifact=``: the scope marked on every task),
- the htmx fragment the artifact picker swaps in (``HX-Target: run-graph``).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--artifacts", type=int, default=200)
    parser.add_argument("--requests", type=int, default=7, help="per page")
    parser.add_argument("--database", default="chainsweb_bench_runpage")
    parser.add_argument("--profile", action="store_true", help="cProfile the page as it opens")
    args = parser.parse_args()

    server = os.environ.get("BENCH_DATABASE_SERVER", "postgres://postgres@127.0.0.1:5432")
    import psycopg

    admin = psycopg.connect(f"{server.rstrip('/')}/postgres", autocommit=True)
    if not admin.execute(
        "SELECT 1 FROM pg_database WHERE datname = %s", [args.database]
    ).fetchone():
        admin.execute(f'CREATE DATABASE "{args.database}"')
    admin.close()
    settings = {
        "DATABASE_URL": f"{server.rstrip('/')}/{args.database}",
        "DEBUG": "0",
        "SECRET_KEY": "bench-only",
        # Kept between bench runs: the database remembers the key it signed with.
        "KEYS_DIR": str(Path(tempfile.gettempdir()) / f"{args.database}-keys"),
        "LOG_LEVEL": "WARNING",
        "ALLOWED_HOSTS": "testserver",
        "STATIC_ROOT": tempfile.mkdtemp(prefix="bench-static-"),
    }
    os.environ.update(settings)
    os.environ.pop("CELERY_BROKER_URL", None)  # sign in-process
    for command in (["migrate"], ["collectstatic", "--noinput"]):  # DEBUG off: hashed statics
        subprocess.run([sys.executable, "manage.py", *command, "-v0"], cwd=BASE_DIR, check=True)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chainsweb.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.test import Client

    from bench.engine import synthetic_input
    from provenance import services
    from provenance.models import RunRecord

    data = synthetic_input(args.tasks, args.artifacts)
    # A fresh uid per bench run, so each run ingests (and signs) a new PipelineRun.
    data = data.replace(b'"uid": "', f'"uid": "{time.time_ns()}-'.encode())
    data = data.replace(b'"uid":"', f'"uid":"{time.time_ns()}-'.encode())
    started = time.perf_counter()
    services.records_ingest(
        data=data,
        namespaces_allowed=None,
        source=services.RecordSource.imported(file="bench/engine.py", command="bench"),
    )
    print(f"ingested and signed {len(data) / 1e6:.1f} MB in {time.perf_counter() - started:.1f} s")
    record = RunRecord.objects.filter(kind="PipelineRun").order_by("-pk").first()
    assert record is not None
    user, _ = get_user_model().objects.get_or_create(
        username="bench", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(user)
    url = f"/runs/{record.pk}/"
    from provenance.reads import rundetail

    detail = rundetail.run_detail(record, namespaces=None)
    key = rundetail.scope_key(detail.scopes[len(detail.scopes) // 2]) if detail.scopes else ""
    cases = [
        ("page as it opens", url, {}),
        ("artifact picked", f"{url}?artifact={key}", {}),
        (
            "htmx graph fragment",
            f"{url}?artifact={key}",
            {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "run-graph"},
        ),
    ]
    print(f"{args.tasks:,} tasks, {args.artifacts:,} artifacts, median of {args.requests}")
    print(f"{'page':<24}{'wall ms':>10}{'CPU ms':>10}{'HTML KB':>10}")
    for label, path, headers in cases:
        times, cpu = [], []
        size = 0
        for _ in range(args.requests):
            t0, c0 = time.perf_counter(), time.process_time()
            response = client.get(path, **headers)  # type: ignore[arg-type]
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
            assert response.status_code == 200, response.status_code
            size = len(response.content)
        wall, used = statistics.median(times) * 1000, statistics.median(cpu) * 1000
        print(f"{label:<24}{wall:>10.0f}{used:>10.0f}{size / 1024:>10.0f}")
    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(client.get, url)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)


if __name__ == "__main__":
    main()
