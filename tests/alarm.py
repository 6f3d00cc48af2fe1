"""A wall-clock bound for a block of test code: a hang becomes a failure, not a stuck CI run."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Callable, Iterator
from typing import Any


@contextlib.contextmanager
def raise_after(seconds: float, error: Callable[[], BaseException]) -> Iterator[None]:
    """Raise ``error()`` inside the block once it has run for ``seconds`` (SIGALRM: main thread
    only, as under xdist); the previous handler is restored on exit."""

    def alarm(signum: int, frame: Any) -> None:
        raise error()

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
