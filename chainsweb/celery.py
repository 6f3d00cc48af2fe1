from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chainsweb.settings")

app = Celery("chainsweb")
# All Celery settings live in chainsweb/settings.py as CELERY_* names.
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Logs, request ids, metrics and probes of the worker (docs/operations.md).
from chainsweb import celery_signals  # noqa: E402, F401
