"""in-toto statement pieces: resource descriptors with Chains' merge rule, statement envelopes.

Statements are plain dicts ready for ``orjson.dumps``; the exact bytes that get signed are
produced once by :func:`statement_bytes` and kept.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from typing import Any

import orjson

STATEMENT_V01 = "https://in-toto.io/Statement/v0.1"
STATEMENT_V1 = "https://in-toto.io/Statement/v1"
PAYLOAD_TYPE = "application/vnd.in-toto+json"

Statement = dict[str, Any]


class DescriptorList:
    """Ordered subjects or materials with Chains' merge rule (spec §6.4).

    An addition with the same name (or uri) as an earlier entry that shares at least one
    (algorithm, hex) pair is merged into it, digest maps unioned; otherwise it is appended.
    Entries are indexed by name so that adding n descriptors costs O(n), not O(n²).
    """

    __slots__ = ("_by_key", "_key", "entries")

    def __init__(self, key: str = "name") -> None:
        self._key = key
        self.entries: list[dict[str, Any]] = []
        self._by_key: dict[str, list[dict[str, str]]] = {}

    def add(self, name: str, digest: dict[str, str]) -> None:
        candidates = self._by_key.setdefault(name, [])
        for current in candidates:
            if any(current.get(alg) == hex_ for alg, hex_ in digest.items()):
                current.update(digest)
                return
        entry_digest = dict(digest)
        candidates.append(entry_digest)
        self.entries.append({self._key: name, "digest": entry_digest})

    def extend(self, items: Iterable[tuple[str, dict[str, str]]]) -> None:
        for name, digest in items:
            self.add(name, digest)


def json_content(value: Any) -> str:
    """Base64 of the compact JSON of a result value, object keys sorted (spec §9.5)."""
    return base64.b64encode(orjson.dumps(value, option=orjson.OPT_SORT_KEYS)).decode()


def statement_bytes(statement: Statement) -> bytes:
    """The exact payload bytes we sign and store: compact JSON, keys in insertion order."""
    return orjson.dumps(statement)
