"""The embedded Postgres stops when the process using it gets SIGTERM (README: "stopped when
the last process using it exits"), and the process leaves ``.handle_pids.json``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parent.parent
# Settings without DATABASE_URL (so the embedded-database path, as the demo runs), then a
# server in a folder of the test's own rather than the repository's .pgdata.
# With "reloader", the process serves from a child it waits for, as runserver's autoreloader
# does (subprocess.run, which kills the child outright if the parent stops first).
SCRIPT = """
import os, subprocess, sys, time
from pathlib import Path
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chainsweb.settings")
import django
django.setup()
if sys.argv[2] == "reloader":
    subprocess.run([sys.executable, "-c", sys.argv[3], sys.argv[1], "served", sys.argv[3]])
else:
    from chainsweb.embedded_db.base import embedded_server_address
    print(os.getpid(), embedded_server_address(Path(sys.argv[1]))[0], flush=True)
    time.sleep(120)
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def postmaster_pid(pgdata: Path) -> int | None:
    pid_file = pgdata / "postmaster.pid"
    return int(pid_file.read_text().split()[0]) if pid_file.exists() else None


@pytest.mark.parametrize("mode", ["served", "reloader"])
def test_sigterm_stops_the_embedded_server(tmp_path: Path, mode: str) -> None:
    pgdata = tmp_path / "pgdata"
    os.chmod(tmp_path, 0o777)  # as root, pgserver runs postgres as its own system user
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    process = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(pgdata), mode, SCRIPT],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().split()
        assert line, process.stderr and process.stderr.read()
        server = postmaster_pid(pgdata)
        assert server is not None and alive(server)
        assert json.loads((pgdata / ".handle_pids.json").read_text()) == [int(line[0])]

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 128 + signal.SIGTERM
        deadline = time.monotonic() + 30
        while alive(server) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not alive(server), "postgres still runs after the demo's SIGTERM"
        assert json.loads((pgdata / ".handle_pids.json").read_text()) == []
    finally:
        if process.poll() is None:
            process.kill()
        leftover = postmaster_pid(pgdata)
        if leftover is not None and alive(leftover):
            os.kill(leftover, signal.SIGQUIT)  # the server this test started, by its id
