"""Pruning raw records at scale: ``prune_records``' dry run, the prune itself, and the daily run
that finds nothing left (docs/operations.md, "Retention").

    .venv/bin/python bench/prune.py                    # 100,000 runs with 100,000 attestations
    .venv/bin/python bench/prune.py --runs 20000

Creates the database ``chainsweb_bench_prune`` afresh on the server of BENCH_DATABASE_SERVER
(default postgres://postgres@127.0.0.1:5432), migrates it, seeds it with bench/seed.py, gives
every run a raw record of 2,560 incompressible bytes (a real one is 1-3 KB compressed) and a
completion time from 1 to 200 days ago, sets a 90-day retention on the four namespaces, then
times ``records_prune`` (the service behind the command): a dry run, the prune, and a second
prune with nothing left to do; last, the table's size before and after ``VACUUM FULL``.
Everything happens in that database; it is dropped at the end (``--keep`` keeps it).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--database", default="chainsweb_bench_prune")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()

    server = os.environ.get("BENCH_DATABASE_SERVER", "postgres://postgres@127.0.0.1:5432")
    import psycopg

    admin = psycopg.connect(f"{server.rstrip('/')}/postgres", autocommit=True)
    admin.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
    admin.execute(f'CREATE DATABASE "{args.database}"')
    env = {
        **os.environ,
        "DATABASE_URL": f"{server.rstrip('/')}/{args.database}",
        "DEBUG": "0",
        "SECRET_KEY": "bench-only",
    }
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "DEBUG", "SECRET_KEY")})
    os.environ.pop("CELERY_BROKER_URL", None)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0"], cwd=BASE_DIR, env=env, check=True
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chainsweb.settings")
    import django

    django.setup()
    from django.db import connection

    from bench.seed import NAMESPACES, seed
    from provenance import services

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")  # no FK triggers while loading
        seed(cursor, attestations=args.runs, runs=args.runs)
        cursor.execute(
            """
            UPDATE provenance_runrecord SET
                raw = decode((SELECT string_agg(md5(id::text || '/' || i), '')
                              FROM generate_series(1, 160) AS i), 'hex'),
                completion_time = now() - ((1 + id % 200) || ' days')::interval
            """
        )
        cursor.execute("SET session_replication_role = DEFAULT")
        cursor.execute("VACUUM ANALYZE provenance_runrecord")
        cursor.execute("SELECT pg_total_relation_size('provenance_runrecord')")
        table_before = int(cursor.fetchone()[0])
    print(f"seeded {args.runs:,} runs in {time.perf_counter() - started:.1f} s")
    for namespace in NAMESPACES:
        services.namespace_settings_update(
            namespace=namespace, changes={"retention_days": 90}, actor="bench"
        )

    def timed(label: str, **kwargs: object) -> None:
        began = time.perf_counter()
        results = services.records_prune(**kwargs)  # type: ignore[arg-type]
        seconds = time.perf_counter() - began
        runs = sum(r.runs for r in results)
        size = sum(r.bytes for r in results)
        print(f"{label:<28} {seconds:8.2f} s   {runs:>8,} runs   {size / 1e6:8.1f} MB")

    timed("dry run", dry_run=True)
    timed("prune")
    timed("prune again (nothing left)")
    timed("dry run again", dry_run=True)
    with connection.cursor() as cursor:
        began = time.perf_counter()
        cursor.execute("VACUUM FULL provenance_runrecord")
        full = time.perf_counter() - began
        cursor.execute("SELECT pg_total_relation_size('provenance_runrecord')")
        table_after = int(cursor.fetchone()[0])
    print(
        f"provenance_runrecord with its TOAST and indexes: {table_before / 1e6:.1f} MB before, "
        f"{table_after / 1e6:.1f} MB after pruning and VACUUM FULL ({full:.1f} s)"
    )
    connection.close()
    if not args.keep:
        admin.execute(f'DROP DATABASE "{args.database}" WITH (FORCE)')
    admin.close()


if __name__ == "__main__":
    main()
