"""Ingest to signed: sustained POSTs against gunicorn + a Celery worker, POST → attestation stored.

    .venv/bin/python bench/ingest.py --rate 20 --duration 60
    .venv/bin/python bench/ingest.py --rate 10 --duration 120 --backfill 20000

Starts, on this machine, gunicorn (2 workers, 127.0.0.1, a free port) and ``celery worker``
(prefork, concurrency 2) on Redis (``--redis``, default redis://127.0.0.1:6379/9, flushed) and a
dedicated database (``chainsweb_ingest``, recreated and migrated). Records are bench/engine.py's
synthetic PipelineRuns (a ``kind: List`` of the PipelineRun and its TaskRuns), 5 to 200 tasks
(about 30 KB to 1 MB), small ones more frequent, each with fresh names and uids. They are POSTed
at ``--rate`` per second (open loop, 8 sender threads) for ``--duration`` seconds; the database is
polled for each run's first attestation (``created``, stamped by Postgres on this host). Reports
runs/s signed and p50/p95/p99 of POST-sent → attestation stored.

``--backfill N`` writes N more runs (small and medium sizes) as files in a temporary folder and
runs ``manage.py import_records`` on it while the live load runs; live latency is then also
reported for the POSTs sent while the import was running. ``--soak-rss`` (used by bench/soak.py)
samples VmRSS of the web and worker processes.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from bench.engine import synthetic_input  # noqa: E402

SIZES = [(5, 30), (10, 25), (20, 20), (50, 12), (100, 8), (200, 5)]  # (tasks, weight)
UID = re.compile(rb'"uid":"([0-9a-f]{32})"')


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


class Records:
    """Fresh copies of a few templates: new names and uids per copy (bytes substitution)."""

    def __init__(self, sizes: list[tuple[int, int]], seed: int = 7) -> None:
        self.templates = {t: synthetic_input(t, max(1, t // 5)) for t, _ in sizes}
        self.tasks = [t for t, _ in sizes]
        self.weights = [w for _, w in sizes]
        self.rng = random.Random(seed)
        self.lock = threading.Lock()

    def make(self, n: int) -> tuple[str, bytes]:
        with self.lock:
            tasks = self.rng.choices(self.tasks, self.weights)[0]
        tag = f"{n:010x}"
        body = self.templates[tasks].replace(b"bench-run", f"bench-run-{tag}".encode())
        body = UID.sub(lambda m: b'"uid":"' + tag.encode() + m[1][10:] + b'"', body)
        pr_uid = UID.search(body)[1].decode()  # the PipelineRun comes first in the List
        return pr_uid, body


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_ticks(pid: int) -> int:
    """utime + stime of one process, in clock ticks (0 if it is gone)."""
    try:
        fields = (Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1]).split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


def pids_named(name: str) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == name:
                    out.append(int(entry.name))
            except OSError:
                continue
    return out


def tree_pids(root: int) -> list[int]:
    """root and its descendants (gunicorn/celery masters and their forked workers)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


@dataclass
class Stack:
    database: str
    redis: str
    server: str
    workdir: Path
    web_workers: int = 2
    worker_concurrency: int = 2
    port: int = 0
    web: subprocess.Popen[bytes] | None = None
    worker: subprocess.Popen[bytes] | None = None
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"{self.server.rstrip('/')}/{self.database}"

    def start(self) -> None:
        import psycopg
        import redis

        admin = psycopg.connect(f"{self.server.rstrip('/')}/postgres", autocommit=True)
        admin.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{self.database}"')
        admin.close()
        redis.Redis.from_url(self.redis).flushdb()
        self.env = {
            **os.environ,
            "DATABASE_URL": self.url,
            "CELERY_BROKER_URL": self.redis,
            "KEYS_DIR": str(self.workdir / "keys"),
            "DEBUG": "0",
            "SECRET_KEY": "bench-only",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DB_CONN_MAX_AGE": "60",
            "API_RATE_LIMIT": "",  # one bench caller sends far more than a person would
        }
        py = sys.executable
        subprocess.run([py, "manage.py", "migrate", "-v0"], cwd=BASE_DIR, env=self.env, check=True)
        self.port = free_port()
        log = (self.workdir / "web.log").open("ab")
        self.web = subprocess.Popen(
            [py, "-m", "gunicorn", "chainsweb.wsgi", "-w", str(self.web_workers),
             "-b", f"127.0.0.1:{self.port}", "--timeout", "120"],
            cwd=BASE_DIR, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        log = (self.workdir / "worker.log").open("ab")
        self.worker = subprocess.Popen(
            [py, "-m", "celery", "-A", "chainsweb", "worker",
             "--concurrency", str(self.worker_concurrency), "--loglevel=WARNING",
             "--without-gossip", "--without-mingle", "--without-heartbeat",
             "-n", f"bench-{os.getpid()}@%h"],
            cwd=BASE_DIR, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/api/v1/keys", timeout=2)
            except urllib.error.HTTPError:
                return  # up (401 without a token)
            except OSError:
                time.sleep(0.3)
        raise RuntimeError("gunicorn did not start; see " + str(self.workdir / "web.log"))

    def stop(self) -> None:
        for proc in (self.web, self.worker):
            if proc is not None and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in (self.web, self.worker):
            if proc is not None:
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)

    def token(self) -> str:
        out = subprocess.run(
            [sys.executable, "manage.py", "create_token", "--user", "bench", "--role", "ingester",
             "--all-namespaces"],
            cwd=BASE_DIR, env=self.env, check=True, capture_output=True, text=True,
        )  # fmt: skip
        found = re.search(r"cwt_\S+", out.stdout)
        if not found:
            raise RuntimeError(f"no token in: {out.stdout} {out.stderr}")
        return found[0]

    def cpu(self) -> dict[str, dict[int, int]]:
        """CPU clock ticks per process of each part of the stack and of this load generator."""
        parts = {
            "web": tree_pids(self.web.pid) if self.web else [],
            "worker": tree_pids(self.worker.pid) if self.worker else [],
            "postgres": pids_named("postgres"),
            "redis": pids_named("redis-server"),
            "bench client": [os.getpid()],
        }
        return {name: {pid: cpu_ticks(pid) for pid in pids} for name, pids in parts.items()}

    def rss(self) -> dict[str, int]:
        """VmRSS in kB of the web and worker process trees (master + forked workers)."""
        out = {}
        for name, proc in (("web", self.web), ("worker", self.worker)):
            if proc is not None:
                out[name] = sum(rss_kb(p) for p in tree_pids(proc.pid))
        return out


class Load:
    """Open-loop POSTs at a fixed rate; remembers when each run's POST was sent."""

    def __init__(self, stack: Stack, token: str, records: Records) -> None:
        self.stack, self.token, self.records = stack, token, records
        self.sent: dict[str, float] = {}  # uid → wall-clock time.time() when sent
        self.errors: list[str] = []
        self.count = 0
        self.lock = threading.Lock()

    def post(self, n: int) -> None:
        uid, body = self.records.make(n)
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.stack.port}/api/v1/records",
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.token}"},
        )
        sent = time.time()
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                response.read()
                ok = response.status == 202
        except (OSError, urllib.error.HTTPError) as exc:
            ok, error = False, str(exc)
        with self.lock:
            if ok:
                self.sent[uid] = sent
            else:
                self.errors.append(error)

    def run(self, rate: float, duration: float, start_n: int = 0) -> float:
        """POST for ``duration`` s; returns the wall-clock start."""
        started = time.time()
        t0 = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            i = 0
            while True:
                due = t0 + i / rate
                now = time.monotonic()
                if due - t0 >= duration:
                    break
                if due > now:
                    time.sleep(due - now)
                pool.submit(self.post, start_n + i)
                i += 1
        self.count = i
        return started


def wait_signed(url: str, uids: list[str], timeout: float) -> dict[str, float]:
    """Each run's first attestation time (epoch seconds), polled once a second on one connection
    for the runs not yet signed, until all are or ``timeout`` passes."""
    import psycopg

    deadline = time.monotonic() + timeout
    done: dict[str, float] = {}
    with psycopg.connect(url, autocommit=True) as conn:
        while True:
            left = [uid for uid in uids if uid not in done]
            rows = conn.execute(
                "SELECT r.uid, extract(epoch FROM min(a.created)) FROM provenance_runrecord r "
                "JOIN provenance_attestation a ON a.run_id = r.id WHERE r.uid = ANY(%s) "
                "GROUP BY r.uid",
                [left],
            ).fetchall()
            done.update((uid, float(t)) for uid, t in rows)
            if len(done) == len(uids) or time.monotonic() > deadline:
                return done
            time.sleep(1.0)


def loop_seconds() -> float:
    """CPU seconds of a fixed 5-million-step Python loop: how fast a core of this shared machine
    is just now (it varies by a third from minute to minute here), printed with each result."""
    started = time.process_time()
    total = 0
    for step in range(5_000_000):
        total += step
    return time.process_time() - started


def machine_cpu_seconds() -> float:
    """CPU time the whole machine has used since boot (every process, counted or not)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def postgres_sessions(url: str) -> int:
    """Sessions ever opened on the bench's database (Postgres 14+)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
    return int(row[0]) if row else 0


def report(label: str, load: Load, done: dict[str, float], since: float = 0, until: float = 1e18):
    lat = [done[u] - t for u, t in load.sent.items() if u in done and since <= t <= until]
    sent = [u for u, t in load.sent.items() if since <= t <= until]
    print(
        f"{label:34} sent {len(sent):6}  signed {len(lat):6}  latency s: p50 {pct(lat, 50):6.2f}"
        f"  p95 {pct(lat, 95):6.2f}  p99 {pct(lat, 99):6.2f}"
        f"  max {max(lat, default=float('nan')):6.2f}",
        flush=True,
    )
    return lat


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=20.0, help="POSTs per second")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    parser.add_argument("--backfill", type=int, default=0, help="runs imported meanwhile")
    parser.add_argument("--drain", type=float, default=300.0, help="max wait for the tail (s)")
    parser.add_argument("--database", default="chainsweb_ingest")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/9")
    parser.add_argument("--keep", action="store_true", help="leave the work folder")
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument("--concurrency", type=int, default=2, help="celery prefork children")
    args = parser.parse_args()

    server = os.environ.get("BENCH_DATABASE_SERVER", "postgres://postgres@127.0.0.1:5432")
    workdir = Path(tempfile.mkdtemp(prefix="chainsweb-ingest-"))
    stack = Stack(args.database, args.redis, server, workdir, args.web_workers, args.concurrency)
    records = Records(SIZES)
    sizes = sorted(len(t) for t in records.templates.values())
    print(
        f"record sizes {sizes[0] / 1024:.0f} KB .. {sizes[-1] / 1024:.0f} KB; work folder {workdir}"
    )
    stack.start()
    try:
        token = stack.token()
        load = Load(stack, token, records)
        # Warm up: the default signing key is created by the first signature.
        load.post(10**9)
        wait_signed(stack.url, list(load.sent), 120)
        load.sent.clear()

        importer = None
        if args.backfill:
            folder = workdir / "backfill"
            folder.mkdir()
            small = Records(SIZES[:4], seed=11)
            for i in range(args.backfill):
                _, body = small.make(2 * 10**9 + i)
                (folder / f"run-{i:06}.json").write_bytes(body)
            print(f"backfill: {args.backfill} runs written to {folder}", flush=True)
            importer = subprocess.Popen(
                [sys.executable, "manage.py", "import_records", str(folder), "--no-progress"],
                cwd=BASE_DIR, env=stack.env, stdout=subprocess.DEVNULL,
                stderr=(workdir / "import.log").open("ab"),
            )  # fmt: skip
            import_started = time.time()
        speed_before = loop_seconds()
        rss_before = stack.rss()
        sessions_before = postgres_sessions(stack.url)
        machine_before = machine_cpu_seconds()
        cpu_before = stack.cpu()
        started = load.run(args.rate, args.duration)
        load_seconds = time.time() - started
        import_ended = None
        if importer is not None and importer.poll() is not None:
            import_ended = time.time()
        done = wait_signed(stack.url, list(load.sent), args.drain)
        finished = max(done.values(), default=started)
        print(
            f"\nPOSTed {load.count} at {args.rate}/s for {load_seconds:.0f} s; "
            f"{len(load.errors)} errors; last signed {finished - started:.0f} s after the start"
        )
        if load.errors:
            print("  first error:", load.errors[0])
        print(f"signed throughput: {len(done) / max(finished - started, 1e-9):.1f} runs/s")
        report("live POSTs, all", load, done)
        if importer is not None:
            if importer.poll() is None:
                report("live POSTs during the backfill", load, done, since=import_started)
                print("backfill still importing at the end of the live load; waiting for it")
                importer.wait()
            else:
                end = import_ended or time.time()
                report("live POSTs during the backfill", load, done, import_started, end)
            import psycopg

            with psycopg.connect(stack.url) as conn:
                n = conn.execute(
                    "SELECT count(*) FROM provenance_runrecord WHERE source_kind = 'import' "
                    "AND kind = 'PipelineRun'"
                ).fetchone()[0]
            print(
                f"backfill: {n} PipelineRuns imported, "
                f"import took {time.time() - import_started:.0f} s"
            )
            deadline = time.monotonic() + args.drain
            signed = 0
            while time.monotonic() < deadline:
                with psycopg.connect(stack.url) as conn:
                    signed = conn.execute(
                        "SELECT count(*) FROM provenance_runrecord WHERE source_kind = 'import' "
                        "AND kind = 'PipelineRun' AND compute_status = 'signed'"
                    ).fetchone()[0]
                if signed >= n:
                    break
                time.sleep(2)
            print(
                f"backfill: {signed} of {n} signed {time.time() - import_started:.0f} s "
                f"after the import started ({signed / (time.time() - import_started):.1f} runs/s)"
            )
        cpu_after = stack.cpu()
        machine = machine_cpu_seconds() - machine_before
        sessions = postgres_sessions(stack.url) - sessions_before - 1  # not this query's own
        tick = os.sysconf("SC_CLK_TCK")
        used = {
            name: sum(t - cpu_before[name].get(pid, 0) for pid, t in ticks.items()) / tick
            for name, ticks in cpu_after.items()
        }
        runs = len(done) + (args.backfill if importer is not None else 0)
        print(
            f"CPU seconds over the run ({runs} runs signed; import process not counted): "
            + ", ".join(f"{name} {sec:.0f} s ({1000 * sec / max(runs, 1):.0f} ms/run)"
                        for name, sec in used.items())
        )  # fmt: skip
        # Processes that started and ended during the run (a Postgres session per connection)
        # are in no part above; the machine's own counter has them.
        print(
            f"CPU seconds of the whole machine: {machine:.0f} s "
            f"({1000 * machine / max(runs, 1):.0f} ms/run), "
            f"{machine - sum(used.values()):.0f} s in no part above; "
            f"{sessions} Postgres sessions opened ({sessions / max(runs, 1):.2f} per run)"
        )
        print(
            f"core speed check (5M-step loop, CPU s; lower is faster): {speed_before:.2f} before "
            f"the load, {loop_seconds():.2f} after"
        )
        rss_after = stack.rss()
        print(f"RSS kB before/after: {rss_before} -> {rss_after}")
    finally:
        stack.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
