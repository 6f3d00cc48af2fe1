"""Watch state: where each ``watch_records`` stream left off, stored with its events."""

from __future__ import annotations

from typing import Any

import orjson
from django.db import transaction

from provenance.models import WatchState

from .ingest import IngestResult, RecordSource, records_ingest


def watch_state_save(*, key: str, resource_version: str) -> None:
    WatchState.objects.update_or_create(key=key, defaults={"resource_version": resource_version})


def watch_event_ingest(
    *, key: str, obj: dict[str, Any] | None, resource_version: str, source: RecordSource
) -> IngestResult | None:
    """Store one watched object and the stream's new position in one transaction, so a restart
    resumes exactly after the last stored event. ``source``: the cluster and the watcher."""
    with transaction.atomic():
        result = None
        if obj is not None:
            result = records_ingest(data=orjson.dumps(obj), namespaces_allowed=None, source=source)
        if resource_version:
            watch_state_save(key=key, resource_version=resource_version)
    return result
