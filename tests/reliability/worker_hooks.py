"""Test-only hooks loaded into a real ``celery worker`` with ``--include``.

``RELIABILITY_PAUSE_AFTER_TASK=<marker file>``: the first task to finish writes its id to the
marker file and then sleeps inside ``task_postrun``. Celery sends that signal from inside the
task's trace, after the task function returned (so its transaction has committed) and before the
worker acknowledges the message (``acks_late``): a SIGKILL then is "signed, not acknowledged".
Later tasks (the marker exists) run normally, so a restarted worker is not paused again.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from celery.signals import task_postrun

PAUSE_SECONDS = 300.0


@task_postrun.connect
def _pause_after_first_task(task_id: str | None = None, **_: Any) -> None:
    marker = os.environ.get("RELIABILITY_PAUSE_AFTER_TASK")
    if not marker or Path(marker).exists():
        return
    Path(marker).write_text(task_id or "")
    time.sleep(PAUSE_SECONDS)
