"""Celery's side of logs, metrics and probes (docs/operations.md), connected when chainsweb's
Celery app is loaded.

- The request id travels in the task message's headers (``before_task_publish``) and is put back
  in the log context for the task's lines (``task_prerun``), with the namespace and run uid of
  the run the task computes. Task signatures stay as they are.
- ``LOG_FORMAT=json``: Celery's log handlers write chainsweb's JSON lines.
- The garbage collector leaves what a worker process loaded at start-up alone (``gc.freeze``).
- Database connections follow ``DB_CONN_MAX_AGE`` around each task, as around a web request.
- Metrics: pool processes mark their files dead on exit (prometheus_client multiprocess mode),
  and the main worker process serves /metrics, /healthz and /readyz on ``OPS_HTTP_PORT``.

Nothing here imports models at import time: Celery loads this before Django is set up.
"""

from __future__ import annotations

import gc
import logging
import os
from contextlib import ExitStack
from typing import Any

from celery import signals
from django.conf import settings

from chainsweb.logs import ContextFilter, JsonFormatter, current, log_context

REQUEST_ID_HEADER = "chainsweb_request_id"
# The header of a one-run compute message that names its run (``{"namespace", "uid"}``, set by
# provenance.services.queue), so the task's log lines say which run without reading it.
RUN_HEADER = "chainsweb_run"
# The positional argument of each task that says what it works on.
_TASK_SUBJECT = {
    "provenance.tasks.attestations_compute": "run_id",
    "provenance.tasks.namespace_recompute": "namespace",
}

logger = logging.getLogger("chainsweb.worker")
# One context per running task id: set in task_prerun, left in task_postrun.
_task_contexts: dict[str, ExitStack] = {}


def _log_format(logger: logging.Logger | None = None, **kwargs: Any) -> None:
    """Celery set up its handlers; with LOG_FORMAT=json they write chainsweb's JSON lines."""
    if logger is None or settings.LOG_FORMAT != "json":
        return
    for handler in logger.handlers:
        handler.setFormatter(JsonFormatter())
        handler.addFilter(ContextFilter())


def _send_request_id(headers: dict[str, Any] | None = None, **kwargs: Any) -> None:
    request_id = current("request_id")
    if request_id and headers is not None:
        headers.setdefault(REQUEST_ID_HEADER, request_id)


def _task_fields(task: Any, args: Any, kwargs: Any) -> dict[str, Any]:
    """The log context of a task: its request id, and what it works on."""
    fields: dict[str, Any] = {"request_id": getattr(task.request, REQUEST_ID_HEADER, None)}
    arguments = dict(kwargs or {})
    subject = _TASK_SUBJECT.get(task.name)
    if subject and args:
        arguments.setdefault(subject, args[0])
    if arguments.get("namespace"):
        fields["namespace"] = arguments["namespace"]
    named = getattr(task.request, RUN_HEADER, None)  # put there by the ingest that queued it
    if isinstance(named, dict) and {"namespace", "uid"} <= named.keys():
        fields["namespace"], fields["run_uid"] = named["namespace"], named["uid"]
    elif arguments.get("run_id") is not None:
        from provenance.models import RunRecord

        row = (
            RunRecord.objects.filter(pk=arguments["run_id"]).values_list("namespace", "uid").first()
        )
        if row is not None:
            fields["namespace"], fields["run_uid"] = row
    return fields


def _enter_task_context(
    task_id: str = "", task: Any = None, args: Any = None, kwargs: Any = None, **rest: Any
) -> None:
    if task is None:
        return
    stack = ExitStack()
    try:
        stack.enter_context(log_context(**_task_fields(task, args, kwargs)))
    except Exception:  # the task itself reports a database that is down; its logs go on
        logger.debug("no log context for task %s", task_id, exc_info=True)
    _task_contexts[task_id] = stack


def _leave_task_context(task_id: str = "", **kwargs: Any) -> None:
    stack = _task_contexts.pop(task_id, None)
    if stack is not None:
        stack.close()


def _database_connections_tidy(task: Any = None, **kwargs: Any) -> None:
    """Before and after each task, as Django does around a request: close a connection that is
    broken or older than ``DB_CONN_MAX_AGE``, keep the others. Celery's own Django fix-up would
    close every connection around every task (``CELERY_DB_REUSE_MAX`` in settings turns that
    off): a new Postgres session per task cost the database more CPU than the task's queries."""
    if task is None or getattr(task.request, "is_eager", False):
        return  # run in the caller's process, inside its transaction: not ours to close
    from django.db import close_old_connections

    close_old_connections()


def _collector_spares_startup(**kwargs: Any) -> None:
    """A worker process is set up: what it has loaded lives as long as it does, so the cyclic
    garbage collector need not walk it again on every full collection (chainsweb/wsgi.py does
    the same in the web)."""
    gc.freeze()


def _pool_process_exits(**kwargs: Any) -> None:
    from provenance.metrics import process_exited

    process_exited(os.getpid())


def _serve_ops_endpoints(**kwargs: Any) -> None:
    if settings.OPS_HTTP_PORT:
        from provenance.ops import serve_in_thread

        serve_in_thread(settings.OPS_HTTP_PORT, role="worker")


signals.after_setup_logger.connect(_log_format)
signals.after_setup_task_logger.connect(_log_format)
signals.before_task_publish.connect(_send_request_id)
signals.task_prerun.connect(_database_connections_tidy)
signals.task_prerun.connect(_enter_task_context)
signals.task_postrun.connect(_database_connections_tidy)
signals.task_postrun.connect(_leave_task_context)
signals.worker_process_init.connect(_collector_spares_startup)
signals.worker_ready.connect(_collector_spares_startup)
signals.worker_process_shutdown.connect(_pool_process_exits)
signals.worker_ready.connect(_serve_ops_endpoints)
