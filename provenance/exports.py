"""The audit exports, the same from a page and from the API: the attestations and artifacts
lists as CSV or JSON Lines, streamed (``StreamingHttpResponse``) from the chunked rows of
``reads.exports``, so nothing holds the whole list.

- CSV: a header row, then one row per object; lists (subjects, namespaces, problems) are joined
  with ``; ``. A cell a spreadsheet would run as a formula (one starting with ``=``, ``+``,
  ``-``, ``@``, a tab or a carriage return, OWASP's list) gets a leading ``'``, so it shows as
  text: run names, labels and subject names come from the records, which their authors write.
- JSON Lines (``application/jsonl``): one JSON object per line, the same fields, lists as
  lists.

The file is named ``<list>-<namespace or all>-<UTC date>.<csv|jsonl>``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import orjson
from django.http import StreamingHttpResponse
from django.utils import timezone

from provenance.reads.exports import chunk_rows

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
JSONL_MEDIA_TYPE = "application/jsonl"
FORMATS = ("csv", "jsonl")
# What a spreadsheet reads as the start of a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> str:
    """One CSV cell: lists joined, subjects as ``name@alg:hex``, formulas defused."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        value = "; ".join(_item_text(item) for item in value)
    text = str(value)
    if text.startswith(_FORMULA_START):
        return "'" + text
    return text


def _item_text(item: Any) -> str:
    if isinstance(item, Mapping) and "name" in item and "digest" in item:
        digests = ", ".join(f"{a}:{h}" for a, h in sorted(item["digest"].items()))
        return f"{item['name']}@{digests}"
    return str(item)


def _csv_chunks(rows: Iterable[Mapping[str, Any]], fields: Sequence[str]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(fields)
    pending = 1
    for row in rows:
        writer.writerow([csv_cell(row[f]) for f in fields])
        pending += 1
        if pending >= chunk_rows():
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    if pending:
        yield buffer.getvalue().encode()


def _jsonl_chunks(rows: Iterable[Mapping[str, Any]]) -> Iterator[bytes]:
    lines: list[bytes] = []
    for row in rows:
        lines.append(orjson.dumps(row) + b"\n")
        if len(lines) >= chunk_rows():
            yield b"".join(lines)
            lines = []
    if lines:
        yield b"".join(lines)


def export_response(
    rows: Iterable[Mapping[str, Any]],
    *,
    fields: Sequence[str],
    kind: str,
    namespace: str | None,
    file_format: str,
) -> StreamingHttpResponse:
    """Stream ``rows`` (read lazily, chunk by chunk) as ``file_format`` (csv or jsonl)."""
    if file_format == "csv":
        body, media = _csv_chunks(rows, fields), CSV_MEDIA_TYPE
    else:
        body, media = _jsonl_chunks(rows), JSONL_MEDIA_TYPE
    response = StreamingHttpResponse(body, content_type=media)
    name = f"{kind}-{_safe(namespace or 'all')}-{timezone.now():%Y%m%d}.{file_format}"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)[:100]
