"""Soak: steady ingest for N minutes with the memory of the web and worker processes sampled.

    .venv/bin/python bench/soak.py                     # 30 minutes at 5 runs/s (by hand)
    .venv/bin/python bench/soak.py --minutes 3 --rate 5

Same stack as bench/ingest.py (gunicorn 2 workers + celery prefork 2, Redis, a fresh database
``chainsweb_soak``). Every ``--every`` seconds prints VmRSS (from /proc/<pid>/status, summed over
each process tree: master + forked workers) of web and worker, and how many runs are signed;
at the end the growth from the first sample after warm-up (the first minute, or a third of the
run if shorter) to the last, in MB and MB per hour.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from bench.ingest import SIZES, Load, Records, Stack, pct, wait_signed  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=5.0, help="POSTs per second")
    parser.add_argument("--every", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--database", default="chainsweb_soak")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/10")
    args = parser.parse_args()

    server = os.environ.get("BENCH_DATABASE_SERVER", "postgres://postgres@127.0.0.1:5432")
    workdir = Path(tempfile.mkdtemp(prefix="chainsweb-soak-"))
    stack = Stack(args.database, args.redis, server, workdir)
    stack.start()
    try:
        load = Load(stack, stack.token(), Records(SIZES))
        load.post(10**9)
        wait_signed(stack.url, list(load.sent), 120)
        load.sent.clear()
        duration = args.minutes * 60
        sender = threading.Thread(target=load.run, args=(args.rate, duration), daemon=True)
        t0 = time.monotonic()
        sender.start()
        samples: list[tuple[float, dict[str, int]]] = []
        print(f"{'t s':>6} {'web MB':>8} {'worker MB':>10} {'sent':>6} {'signed':>7}", flush=True)
        while sender.is_alive():
            rss = stack.rss()
            elapsed = time.monotonic() - t0
            signed = len(wait_signed(stack.url, list(load.sent), timeout=0))  # one look
            samples.append((elapsed, rss))
            print(
                f"{elapsed:6.0f} {rss['web'] / 1024:8.1f} {rss['worker'] / 1024:10.1f} "
                f"{len(load.sent):6} {signed:7}",
                flush=True,
            )
            time.sleep(max(0.0, args.every - (time.monotonic() - t0 - elapsed)))
        done = wait_signed(stack.url, list(load.sent), 300)
        lat = [done[u] - t for u, t in load.sent.items() if u in done]
        print(
            f"\n{len(load.sent)} POSTed, {len(done)} signed, {len(load.errors)} errors; "
            f"latency p50 {pct(lat, 50):.2f} s p99 {pct(lat, 99):.2f} s"
        )
        warm = min(60.0, duration / 3)
        base = next((s for s in samples if s[0] >= warm), samples[0])
        last = samples[-1]
        hours = max(last[0] - base[0], 1e-9) / 3600
        for name in ("web", "worker"):
            grow = (last[1][name] - base[1][name]) / 1024
            print(
                f"{name:7} RSS {base[1][name] / 1024:7.1f} MB at {base[0]:.0f} s -> "
                f"{last[1][name] / 1024:7.1f} MB at {last[0]:.0f} s: {grow:+.1f} MB "
                f"({grow / hours:+.1f} MB/h)"
            )
    finally:
        stack.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
