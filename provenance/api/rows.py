"""Plain output for the busiest list endpoint: rows from the selector's ``values()`` query to the
JSON objects ``RecordOutput`` describes, without DRF's per-field machinery.

The DRF serializer stays the description (drf-spectacular reads the schema from it) and the
output of the detail views; ``tests/test_api_rows.py`` checks both give the same objects.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, tzinfo
from typing import Any

from django.utils import timezone

from .serializers import _Links, output_zone, record_pipeline, record_task


def datetime_text(value: datetime | None, zone: tzinfo | None) -> str | None:
    """A time as DRF's ``DateTimeField`` writes it (ISO 8601, ``Z`` for UTC)."""
    if not value:
        return None
    if value.tzinfo is not zone:
        if zone is not None:
            aware = timezone.is_aware(value)
            value = value.astimezone(zone) if aware else value.replace(tzinfo=zone)
        elif timezone.is_aware(value):
            value = value.astimezone(UTC).replace(tzinfo=None)
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def record_rows(rows: Iterable[Mapping[str, Any]], request: Any) -> list[dict[str, Any]]:
    """``RecordOutput(many=True)`` of ``selectors.run_record_rows`` rows."""
    links = _Links({"request": request})
    zone = output_zone()
    out = []
    for row in rows:
        kind, definition, uid = row["kind"], row["definition"], row["uid"]
        out.append(
            {
                "uid": uid,
                "kind": kind,
                "namespace": row["namespace"],
                "name": row["name"],
                "pipeline": record_pipeline(kind, definition, row["labels"]),
                "task": record_task(kind, definition),
                "pipeline_task": row["pipeline_task"],
                "parent_uid": row["parent_uid"],
                "parent_name": row["parent_name"],
                "status": row["status"],
                "reason": row["reason"],
                "start_time": datetime_text(row["start_time"], zone),
                "completion_time": datetime_text(row["completion_time"], zone),
                "labels": row["labels"],
                "resource_version": row["resource_version"],
                "first_seen": datetime_text(row["first_seen"], zone),
                "updated": datetime_text(row["updated"], zone),
                "compute_status": row["compute_status"],
                "compute_reason": row["compute_reason"],
                "url": links.url("api:record-detail", uid),
                "raw_url": links.url("api:record-raw", uid),
            }
        )
    return out
