"""Stop the embedded Postgres when a process using it gets SIGTERM.

pgserver stops the server from an ``atexit`` hook when the last process holding it exits. The
default action of SIGTERM ends a process without running ``atexit`` hooks, which left the server
running and the dead process in ``.pgdata/.handle_pids.json``. Turning SIGTERM into a normal
exit (``SystemExit``) lets the hook run. Installed from the settings, which every process loads
in its main thread (where Python lets a handler be set), and only over the default action: a
program that handles SIGTERM itself (Celery, a watcher) keeps its own handler.

``runserver`` serves from a child process it restarts on code changes; its parent, told to stop,
would kill that child outright (SIGKILL, no exit hooks) on the way out. So the parent first
passes SIGTERM on to its children and waits for them to exit cleanly.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType


def exit_on_sigterm() -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _exit)


# How long a parent waits for its children to stop their handle on the server.
CHILD_EXIT_SECONDS = 20


def _exit(signum: int, frame: FrameType | None) -> None:
    import psutil  # type: ignore[import-untyped]

    children = psutil.Process().children()
    for child in children:
        try:
            child.send_signal(signal.SIGTERM)
        except psutil.NoSuchProcess:
            continue
    psutil.wait_procs(children, timeout=CHILD_EXIT_SECONDS)
    raise SystemExit(128 + signum)
