"""Reads at scale: API latency versus a bare SQL lookup of the same rows (issue 7).

    .venv/bin/python bench/reads.py                    # 1,000,000 attestations, 100,000 runs
    .venv/bin/python bench/reads.py --attestations 200000 --runs 20000 --requests 100

Creates (or reuses, when already seeded to the asked size) the database ``chainsweb_bench`` on
the server of DATABASE_URL (default postgres://postgres@127.0.0.1:5432), migrates it, seeds it
with bench/seed.py (generate_series in SQL, foreign-key triggers off while loading), then for
each endpoint times ``--requests`` calls through Django's test Client (the whole DRF stack, a
token for every namespace, DEBUG off) and the same rows fetched with one psycopg query, and
prints p50/p95 of both and the p95 ratio (target: within 10x).
"""

from __future__ import annotations

import argparse
import base64
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--attestations", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200, help="per endpoint")
    parser.add_argument("--database", default="chainsweb_bench")
    parser.add_argument("--reseed", action="store_true", help="drop and recreate the database")
    parser.add_argument("--max-seconds", type=float, default=60.0, help="per endpoint")
    args = parser.parse_args()

    server = os.environ.get("BENCH_DATABASE_SERVER", "postgres://postgres@127.0.0.1:5432")
    url = f"{server.rstrip('/')}/{args.database}"
    import psycopg

    admin = psycopg.connect(f"{server.rstrip('/')}/postgres", autocommit=True)
    exists = admin.execute(
        "SELECT 1 FROM pg_database WHERE datname = %s", [args.database]
    ).fetchone()
    if exists and args.reseed:
        admin.execute(f'DROP DATABASE "{args.database}" WITH (FORCE)')
        exists = None
    if not exists:
        admin.execute(f'CREATE DATABASE "{args.database}"')
    admin.close()

    # API_RATE_LIMIT empty: no per-caller throttle (the bench is one caller at full speed).
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DEBUG": "0",
        "SECRET_KEY": "bench-only",
        "API_RATE_LIMIT": "",
    }
    os.environ.update(
        {k: env[k] for k in ("DATABASE_URL", "DEBUG", "SECRET_KEY", "API_RATE_LIMIT")}
    )
    os.environ.pop("CELERY_BROKER_URL", None)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0"], cwd=BASE_DIR, env=env, check=True
    )

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chainsweb.settings")
    import django

    django.setup()
    from django.db import connection
    from django.test import Client

    from bench.seed import artifact_hex, seed
    from provenance import services

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM provenance_attestation")
        have = cursor.fetchone()[0]
    if have < args.attestations:
        print(f"seeding {args.attestations:,} attestations, {args.runs:,} runs ...", flush=True)
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("SET session_replication_role = replica")  # no FK triggers
            cursor.execute("SET synchronous_commit = off")
            cursor.execute("SET maintenance_work_mem = '256MB'")
            bases = seed(cursor, attestations=args.attestations, runs=args.runs)
            cursor.execute("SET session_replication_role = origin")
        print(f"seeded in {time.perf_counter() - started:.1f} s", flush=True)
    else:
        bases = {"run0": 0, "artifact0": 0, "attestation0": 0}
        print(f"reusing {have:,} attestations in {args.database}")
    att0, art0 = bases["attestation0"], bases["artifact0"]
    n = args.attestations

    _, token = services.api_token_create(
        name=f"bench-{time.time()}", namespaces=(), all_namespaces=True, role="viewer"
    )
    client = Client()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    # No server-side prepared statements: the same one-shot queries Django sends.
    bare = psycopg.connect(url, autocommit=True, prepare_threshold=None)
    rng = random.Random(7)
    page = 50

    def cursor_for(position: int) -> str:
        return base64.b64encode(f"p={position}".encode()).decode()

    attestation_cols = (
        "a.*, r.id, r.uid, r.kind, r.namespace, r.name, r.status, c.seq, c.entry_hash"
    )
    joined = (
        "provenance_attestation a JOIN provenance_runrecord r ON r.id = a.run_id "
        "LEFT JOIN provenance_chainentry c ON c.attestation_id = a.id"
    )
    by_digest = (
        f"SELECT {attestation_cols} FROM {joined} WHERE a.id IN (SELECT s.attestation_id "
        "FROM provenance_attestation_subjects s JOIN provenance_artifact f ON f.id = s.artifact_id "
        "WHERE f.algorithm = 'sha256' AND f.hex = %s){extra} ORDER BY a.id DESC LIMIT 51"
    )

    def own_artifact() -> int:
        return art0 + rng.randint(1, n)

    cases: list[tuple[str, Callable[[], tuple[str, str, list[object]]]]] = [
        (
            "digest search (attestations?subject_digest=)",
            lambda: (
                lambda h: (
                    f"/api/v1/attestations?subject_digest=sha256:{h}",
                    by_digest.format(extra=""),
                    [h],
                )
            )(artifact_hex(own_artifact())),
        ),
        (
            "digest prefix (artifacts?digest_prefix=, 8 hex)",
            lambda: (
                lambda h: (
                    f"/api/v1/artifacts?digest_prefix=sha256:{h[:8]}",
                    "SELECT f.*, count(s.attestation_id) FROM provenance_artifact f "
                    "JOIN provenance_attestation_subjects s ON s.artifact_id = f.id "
                    "WHERE f.algorithm = 'sha256' AND f.hex LIKE %s GROUP BY f.id "
                    "ORDER BY f.id DESC LIMIT 51",
                    [h[:8] + "%"],
                )
            )(artifact_hex(own_artifact())),
        ),
        (
            "list page deep in the cursor (attestations?cursor=)",
            lambda: (
                lambda p: (
                    f"/api/v1/attestations?cursor={cursor_for(p)}",
                    f"SELECT {attestation_cols} FROM {joined} WHERE a.id < %s "
                    f"ORDER BY a.id DESC LIMIT {page + 1}",
                    [p],
                )
            )(att0 + rng.randint(n // 10, n // 2)),
        ),
        (
            "artifact detail (artifacts/{id})",
            lambda: (
                lambda i: (
                    f"/api/v1/artifacts/{i}",
                    f"SELECT f.*, {attestation_cols} FROM provenance_artifact f "
                    "JOIN provenance_attestation_subjects s ON s.artifact_id = f.id "
                    f"JOIN {joined} ON a.id = s.attestation_id WHERE f.id = %s ORDER BY a.id DESC",
                    [i],
                )
            )(own_artifact()),
        ),
        (
            "gate answer (gate?digest=)",
            lambda: (
                lambda h: (
                    f"/api/v1/gate?digest=sha256:{h}",
                    by_digest.format(extra=" AND a.superseded_by_id IS NULL"),
                    [h],
                )
            )(artifact_hex(own_artifact())),
        ),
        (
            "records list page deep (records?cursor=)",
            lambda: (
                lambda p: (
                    f"/api/v1/records?cursor={cursor_for(p)}",
                    "SELECT id, uid, kind, namespace, name, definition, status, start_time "
                    f"FROM provenance_runrecord WHERE id < %s ORDER BY id DESC LIMIT {page + 1}",
                    [p],
                )
            )(bases["run0"] + rng.randint(args.runs // 10, args.runs // 2)),
        ),
    ]

    print(
        f"\n{args.database}: {n:,} attestations, {args.runs:,} runs; {args.requests} requests "
        "per endpoint (Django test Client, DEBUG off) vs psycopg, times in ms\n"
    )
    print(
        f"{'endpoint':52} {'API p50':>8} {'API p95':>8} {'SQL p50':>8} {'SQL p95':>8} {'p95 x':>6}"
    )
    for label, make in cases:
        api: list[float] = []
        sql: list[float] = []
        for _ in range(3):  # warm both paths
            path, query, params = make()
            client.get(path, **headers)
            bare.execute(query, params).fetchall()
        deadline = time.monotonic() + args.max_seconds
        for _ in range(args.requests):
            path, query, params = make()
            t0 = time.perf_counter()
            response = client.get(path, **headers)
            t1 = time.perf_counter()
            assert response.status_code in (200, 404), (path, response.status_code)
            bare.execute(query, params).fetchall()
            t2 = time.perf_counter()
            api.append((t1 - t0) * 1000)
            sql.append((t2 - t1) * 1000)
            if time.monotonic() > deadline:
                break
        ratio = pct(api, 95) / pct(sql, 95)
        print(
            f"{label:52} {pct(api, 50):8.2f} {pct(api, 95):8.2f} {pct(sql, 50):8.2f} "
            f"{pct(sql, 95):8.2f} {ratio:6.1f}",
            flush=True,
        )
    bare.close()


if __name__ == "__main__":
    main()
