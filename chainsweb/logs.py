"""Logs a platform team can ship: plain text, or one JSON object per line (``LOG_FORMAT=json``).

Every line can say what it was about: the request id (from the web request, carried to the Celery
task that signs through the message headers, see ``chainsweb.celery_signals``), the namespace, the
run uid and the attestation id where known. They come from a context variable that
``log_context`` sets for a block of work, or from ``extra=`` on one call.

No secret ever goes into a line from here: the access line names the path without its query
string (an OIDC callback carries the authorization code there) and never a header.
"""

from __future__ import annotations

import logging
import logging.config
import re
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:  # settings.py imports this module: nothing of Django's at import time
    from django.http import HttpRequest, HttpResponseBase

# What a line may say about the work it belongs to, in this order.
CONTEXT_FIELDS = ("request_id", "namespace", "run_uid", "attestation_id")
# Structured fields of particular lines (the access line, the task lines), passed with ``extra=``.
EXTRA_FIELDS = ("method", "path", "status", "duration_ms", "user", "task", "task_id", "outcome")

_context: ContextVar[dict[str, str]] = ContextVar("chainsweb_log_context", default={})  # noqa: B039
# An incoming X-Request-ID is kept when it looks like an id (an ingress or a client set it).
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
REQUEST_ID_HEADER = "X-Request-ID"

access_log = logging.getLogger("chainsweb.request")


@contextmanager
def log_context(**values: Any) -> Iterator[None]:
    """Within the block, log lines carry these fields (empty values are left out)."""
    merged = {**_context.get(), **{k: str(v) for k, v in values.items() if v not in (None, "")}}
    token = _context.set(merged)
    try:
        yield
    finally:
        _context.reset(token)


def current(name: str) -> str | None:
    """A field of the current log context (``request_id`` ...), if set."""
    return _context.get().get(name)


class ContextFilter(logging.Filter):
    """Copies the log context onto each record (on the handler, so every logger gets it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in _context.get().items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, RFC 3339), level, logger, message, then the context
    and extra fields that are set, then the exception, if any."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in (*CONTEXT_FIELDS, *EXTRA_FIELDS):
            value = getattr(record, name, None)
            if value is not None and value != "":
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(entry, default=str).decode()


def logging_config(log_format: str, level: str) -> dict[str, Any]:
    """The LOGGING dict of settings.py."""
    formatter = {"()": JsonFormatter} if log_format == "json" else {"format": PLAIN_FORMAT}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": ContextFilter}},
        "formatters": {"main": formatter},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "main",
                "filters": ["context"],
            },
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
            # pgserver logs every postgres command it runs at INFO.
            "pgserver": {"level": "WARNING"},
        },
    }


PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure(config: dict[str, Any]) -> None:
    """Django's LOGGING_CONFIG: apply LOGGING, and send Python warnings (a library's
    deprecation, a missing static folder) through it too, so a JSON log stays JSON."""
    logging.config.dictConfig(config)
    logging.captureWarnings(True)


# Probes and scrapes come every few seconds: their access lines are DEBUG, not INFO.
_QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class RequestIdMiddleware:
    """Gives each request an id (its ``X-Request-ID`` when it has a sane one), puts it in the log
    context and on the response, and writes one access line when the response is ready."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = incoming if _REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        started = time.monotonic()
        with log_context(request_id=request_id):
            response = self.get_response(request)
            response[REQUEST_ID_HEADER] = request_id
            user = getattr(request, "user", None)
            if user is not None and not getattr(user, "is_authenticated", False):
                user = None
            access_log.log(
                logging.DEBUG if request.path in _QUIET_PATHS else logging.INFO,
                "%s %s %s",
                request.method,
                request.path,
                response.status_code,
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round((time.monotonic() - started) * 1000, 1),
                    # A person's username, or "token:<name>" for an API token.
                    "user": None if user is None else str(user),
                },
            )
        return response
