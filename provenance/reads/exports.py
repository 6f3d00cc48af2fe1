"""The rows of the audit exports (attestations and artifacts lists, CSV and JSON Lines), read
with a server-side cursor in chunks so a year of a namespace's attestations never sits in
memory: at most ``EXPORT_CHUNK_ROWS`` rows (and their signed bytes) at a time.

Each attestation row carries its verdict, made as the row is read (``verify.check``), and the
``verified`` filter is applied there too: unlike the API list's ``verified=``, an export has no
cap on how many it checks. Encoding (CSV, JSON Lines) is ``provenance.exports``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from django.conf import settings
from django.db.models import QuerySet

from provenance.core.slsa.config import PREDICATE_VERSION
from provenance.models import Artifact, Attestation

from .attestations import subjects_shown
from .verify import VERIFY_COLUMNS, KeyRing, check, key_ring, signed_of_row, subject_links

ATTESTATION_FIELDS = (
    "id",
    "namespace",
    "pipeline_run",
    "run_uid",
    "run_kind",
    "format",
    "predicate",
    "scope",
    "emit",
    "status",
    "reason",
    "subjects",
    "key_id",
    "envelope_sha256",
    "statement_sha256",
    "created",
    "superseded_by",
    "chain_seq",
    "verified",
    "problems",
)
ARTIFACT_FIELDS = (
    "id",
    "uri",
    "digest",
    "namespaces",
    "attestation_count",
    "current_count",
    "last_attested",
)

_ATTESTATION_COLUMNS = (
    *VERIFY_COLUMNS,
    "run__name",
    "run__uid",
    "run__kind",
    "format",
    "scope",
    "emit",
    "run_status",
    "run_reason",
    "subject_rows",
    "created",
    "superseded_by_id",
)


def chunk_rows() -> int:
    return int(settings.EXPORT_CHUNK_ROWS)


def attestation_rows(
    qs: QuerySet[Attestation], *, verified: bool | None = None
) -> Iterator[dict[str, Any]]:
    """``qs`` (an ``attestation_list(with_bytes=True)`` queryset, without its ``verified``
    filter) as export rows, in its order, each verified now; ``verified`` keeps only those
    whose verdict is that."""
    ring = key_ring()
    size = chunk_rows()
    chunk: list[dict[str, Any]] = []
    for row in qs.values(*_ATTESTATION_COLUMNS).iterator(chunk_size=size):
        chunk.append(row)
        if len(chunk) == size:
            yield from _verified_rows(chunk, ring, verified)
            chunk = []
    yield from _verified_rows(chunk, ring, verified)


def _verified_rows(
    chunk: list[dict[str, Any]], ring: KeyRing, verified: bool | None
) -> Iterator[dict[str, Any]]:
    """One chunk's export rows, verified with its subject links read in one query."""
    links = subject_links(row["id"] for row in chunk) if chunk else {}
    for row in chunk:
        verdict = check(signed_of_row(row, links), ring)
        if verified is None or verdict.ok == verified:
            yield _attestation_row(row, verdict.ok, verdict.messages)


def _attestation_row(row: Mapping[str, Any], ok: bool, problems: list[str]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "namespace": row["namespace"],
        "pipeline_run": row["run__name"],
        "run_uid": row["run__uid"],
        "run_kind": row["run__kind"],
        "format": row["format"],
        "predicate": PREDICATE_VERSION.get(row["format"], ""),
        "scope": row["scope"],
        "emit": row["emit"],
        "status": row["run_status"],
        "reason": row["run_reason"],
        "subjects": subjects_shown(row["subject_rows"]),
        "key_id": row["key_id"],
        "envelope_sha256": row["envelope_sha256"],
        "statement_sha256": row["statement_sha256"],
        "created": row["created"].isoformat(),
        "superseded_by": row["superseded_by_id"],
        "chain_seq": row["chain_entry__seq"] if row["chain_entry__id"] else None,
        "verified": ok,
        "problems": problems,
    }


def artifact_rows(qs: QuerySet[Artifact]) -> Iterator[dict[str, Any]]:
    """``qs`` (``artifacts.artifact_search``, annotated with its counts) as export rows."""
    columns = ("id", "uri", "algorithm", "hex", "attestation_count", "current_count", "latest")
    for row in qs.values(*columns, "visible_namespaces").iterator(chunk_size=chunk_rows()):
        latest = row["latest"]
        yield {
            "id": row["id"],
            "uri": row["uri"],
            "digest": f"{row['algorithm']}:{row['hex']}",
            "namespaces": list(row["visible_namespaces"]),
            "attestation_count": row["attestation_count"],
            "current_count": row["current_count"],
            "last_attested": latest.isoformat() if latest else None,
        }
