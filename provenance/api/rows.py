"""Plain output for the busiest reads: rows from the selectors' ``values()`` queries to the JSON
objects ``RecordOutput``, ``AttestationOutput``, ``ArtifactOutput`` and ``ArtifactDetailOutput``
describe, without DRF's per-field machinery.

The DRF serializers stay the description (drf-spectacular reads the schema from them) and the
output of the other views; ``tests/test_api_rows.py`` checks both give the same objects.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, tzinfo
from typing import Any

from django.utils import timezone

from provenance.core.slsa.config import PREDICATE_VERSION
from provenance.reads.attestations import subjects_shown
from provenance.reads.verify import Verdict

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
    """``RecordOutput(many=True)`` of ``reads.run_record_rows`` rows."""
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


def attestation_rows(
    rows: Iterable[Mapping[str, Any]],
    request: Any,
    verdicts: Mapping[int, Verdict],
    links: _Links | None = None,
) -> list[dict[str, Any]]:
    """``AttestationOutput(many=True)`` of ``reads.attestations.ATTESTATION_ROW_FIELDS`` rows,
    each ``verified`` when its verdict (``reads.verify.verify_rows``) passes."""
    links = links or _Links({"request": request})
    zone = output_zone()
    out = []
    for row in rows:
        pk, format_ = row["id"], row["format"]
        out.append(
            {
                "id": pk,
                "namespace": row["namespace"],
                "pipeline_run": row["run__name"],
                "run_uid": row["run__uid"],
                "run_kind": row["run__kind"],
                "format": format_,
                "predicate": PREDICATE_VERSION.get(format_, ""),
                "scope": row["scope"],
                "emit": row["emit"],
                "subjects": subjects_shown(row["subject_rows"]),
                "status": row["run_status"],
                "reason": row["run_reason"],
                "key_id": row["key_id"],
                "envelope_sha256": row["envelope_sha256"],
                "statement_sha256": row["statement_sha256"],
                "created": datetime_text(row["created"], zone),
                "superseded_by": row["superseded_by"],
                "chain_seq": row["chain_entry__seq"] if row["chain_entry__id"] else None,
                "verified": _verified(verdicts, pk),
                "url": links.url("api:attestation-detail", pk),
                "envelope_url": links.url("api:attestation-envelope", pk),
                "statement_url": links.url("api:attestation-statement", pk),
                "run_url": links.url("api:record-detail", row["run__uid"]),
            }
        )
    return out


def artifact_rows(
    rows: Iterable[Mapping[str, Any]], request: Any, links: _Links | None = None
) -> list[dict[str, Any]]:
    """``ArtifactOutput(many=True)`` of ``reads.ARTIFACT_ROW_FIELDS`` rows."""
    links = links or _Links({"request": request})
    out = []
    for row in rows:
        pk = row["id"]
        digest = f"{row['algorithm']}:{row['hex']}"
        out.append(
            {
                "id": pk,
                "uri": row["uri"],
                "algorithm": row["algorithm"],
                "hex": row["hex"],
                "digest": digest,
                "namespaces": list(row["visible_namespaces"]),
                "attestation_count": row["attestation_count"],
                "url": links.url("api:artifact-detail", pk),
                "attestations_url": links.url("api:artifact-attestations-jsonl", digest),
            }
        )
    return out


def artifact_detail(
    artifact: Mapping[str, Any],
    attestations: Iterable[Mapping[str, Any]],
    request: Any,
    verdicts: Mapping[int, Verdict],
) -> dict[str, Any]:
    """``ArtifactDetailOutput`` of ``reads.artifact_get_row`` and the artifact's
    ``reads.artifact_attestation_rows``."""
    links = _Links({"request": request})
    (out,) = artifact_rows([artifact], request, links)
    out["attestations"] = attestation_rows(attestations, request, verdicts, links)
    return out


def _verified(verdicts: Mapping[int, Verdict], pk: int) -> bool:
    verdict = verdicts.get(pk)
    return verdict is not None and verdict.ok
