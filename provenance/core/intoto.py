"""in-toto statement pieces: resource descriptors with Chains' merge rule, statement envelopes.

Statements are plain dicts; the exact bytes that get signed, Chains' own, are produced once by
:func:`statement_bytes` and kept.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from typing import Any

import orjson

from .gojson import go_json

STATEMENT_V01 = "https://in-toto.io/Statement/v0.1"
STATEMENT_V1 = "https://in-toto.io/Statement/v1"
PAYLOAD_TYPE = "application/vnd.in-toto+json"

Statement = dict[str, Any]


class DescriptorList:
    """Ordered subjects or materials with Chains' merge rule (spec §6.4).

    An addition with the same name (or uri) as an earlier entry that shares at least one
    (algorithm, hex) pair is merged into the first such entry, digest maps unioned; otherwise
    it is appended. Each (name, algorithm, hex) points at the first entry holding it, so adding
    n descriptors costs O(n) even when they all share one name (one repository, many digests).
    """

    __slots__ = ("_first", "_key", "entries")

    def __init__(self, key: str = "name") -> None:
        self._key = key
        self.entries: list[dict[str, Any]] = []
        # (name, algorithm, hex) -> position of the first entry that holds the pair
        self._first: dict[tuple[str, str, str], int] = {}

    def add(self, name: str, digest: dict[str, str]) -> None:
        first = self._first
        found = -1
        for alg, hex_ in digest.items():
            position = first.get((name, alg, hex_), -1)
            if position >= 0 and (found < 0 or position < found):
                found = position
        if found < 0:
            found = len(self.entries)
            self.entries.append({self._key: name, "digest": dict(digest)})
        else:
            current = self.entries[found]["digest"]
            replaced = [
                (alg, current[alg])
                for alg in digest
                if current.get(alg, digest[alg]) != digest[alg]
            ]
            current.update(digest)
            for alg, old in replaced:
                self._reindex(name, alg, old)
        for alg, hex_ in digest.items():
            position = first.get((name, alg, hex_), -1)
            if position < 0 or found < position:
                first[(name, alg, hex_)] = found

    def _reindex(self, name: str, alg: str, hex_: str) -> None:
        """A merge replaced a pair's hex: point the pair at the next entry still holding it
        (rare: the same name with two hexes for one algorithm)."""
        key = (name, alg, hex_)
        self._first.pop(key, None)
        for position, entry in enumerate(self.entries):
            if entry[self._key] == name and entry["digest"].get(alg) == hex_:
                self._first[key] = position
                return

    def extend(self, items: Iterable[tuple[str, dict[str, str]]]) -> None:
        for name, digest in items:
            self.add(name, digest)


def json_content(value: Any) -> str:
    """Base64 of ``json.Marshal`` of a result value: compact, object keys sorted, ``<>&``
    escaped (spec §9.5)."""
    return base64.b64encode(go_json(value, sort_keys=True)).decode()


def statement_bytes(statement: Statement) -> bytes:
    """The exact payload bytes Chains signs: ``protojson.Marshal`` of an in-toto Statement.

    The Statement's fields come in their protobuf order (``_type``, ``subject``,
    ``predicateType``, ``predicate``), each subject's as ``ResourceDescriptor`` declares them
    (``name``, ``uri``, ``digest``) with its digest map sorted, and the predicate, a
    ``structpb.Struct``, with every object's keys sorted. protojson escapes strings as orjson
    does (control characters only, in lowercase hex) and writes integral numbers without a
    fraction, so orjson gives the same bytes.
    """
    parts = [b'{"_type":', orjson.dumps(statement["_type"])]
    subjects = statement.get("subject")
    if subjects:
        parts += [b',"subject":', orjson.dumps([_descriptor(s) for s in subjects])]
    parts += [b',"predicateType":', orjson.dumps(statement["predicateType"])]
    if "predicate" in statement:
        parts += [b',"predicate":', orjson.dumps(statement["predicate"], option=_SORTED)]
    parts.append(b"}")
    return b"".join(parts)


_SORTED = orjson.OPT_SORT_KEYS
_DESCRIPTOR_FIELDS = ("name", "uri", "digest", "content", "downloadLocation", "mediaType")


def _descriptor(subject: dict[str, Any]) -> dict[str, Any]:
    """A ResourceDescriptor in protobuf field order, empty fields left out (proto3)."""
    out: dict[str, Any] = {}
    for key in _DESCRIPTOR_FIELDS:
        value = subject.get(key)
        if value:
            out[key] = dict(sorted(value.items())) if key == "digest" else value
    return out
