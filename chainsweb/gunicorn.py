"""gunicorn's settings for chainsweb's web app (``gunicorn -c python:chainsweb.gunicorn ...``).

- Access lines come from chainsweb's own middleware (with the request id), not from gunicorn.
- ``LOG_FORMAT=json``: gunicorn's own lines (start, workers booting and exiting) are JSON too.
- Metrics (PROMETHEUS_MULTIPROC_DIR): the files of processes gone before this start are dropped,
  and a worker that exits is marked dead, so its gauges stop counting; its counters stay.
"""

from __future__ import annotations

import os
from typing import Any

from chainsweb.logs import logging_config
from provenance.metrics import clean_multiprocess_dir, process_exited

accesslog = None

if os.environ.get("LOG_FORMAT", "").strip().lower() == "json":
    _config = logging_config("json", os.environ.get("LOG_LEVEL", "INFO"))
    _config["loggers"] = {
        "gunicorn.error": {"handlers": ["console"], "level": "INFO", "propagate": False},
        # chainsweb's middleware writes the access lines.
        "gunicorn.access": {"handlers": [], "propagate": False},
    }
    logconfig_dict = _config


def on_starting(server: Any) -> None:
    clean_multiprocess_dir()


def child_exit(server: Any, worker: Any) -> None:
    process_exited(worker.pid)
