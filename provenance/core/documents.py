"""Turn bytes into Kubernetes objects: JSON or YAML, one object, a `kind: List` or multi-doc.

This is the only place that parses input text; everything after it works on plain dicts.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
import yaml

from .errors import RecordError

JsonObject = dict[str, Any]


class _NoAliasComposer:
    """Mixin: fail on the first alias instead of sharing (and multiplying) the anchored node."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):  # type: ignore[attr-defined]
            event = self.peek_event()  # type: ignore[attr-defined]
            raise RecordError(
                f"YAML aliases are not accepted (line {event.start_mark.line + 1}): Kubernetes "
                "never writes them, and they can expand a small file into a huge one"
            )
        return super().compose_node(parent, index)  # type: ignore[misc]


class _StrictLoader(_NoAliasComposer, yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (a record with two `status` keys is ambiguous) and
    keeps timestamps as the strings Kubernetes wrote, as JSON input would."""


# Drop the implicit timestamp resolver: `startTime: 2024-05-02T10:00:00Z` stays a string.
_StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if not isinstance(key, str | int | float | bool) and key is not None:
            raise RecordError(f"unsupported mapping key at line {key_node.start_mark.line + 1}")
        if key in seen:
            raise RecordError(f"duplicate key {key!r} at line {key_node.start_mark.line + 1}")
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,
)


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while building a large tree of fresh objects.

    Parsed JSON holds no reference cycles, yet every few thousand allocations the collector
    walks the whole young heap: for a 15 MB record that made parsing grow faster than the input.
    The previous state is restored on exit.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def load_documents(data: bytes | str) -> list[JsonObject]:
    """Parse JSON or YAML text into a flat list of Kubernetes objects.

    A ``kind: List`` (what ``kubectl get ... -o json`` writes) is expanded into its items, and
    multi-document YAML gives one entry per document. Empty documents are skipped.
    """
    with paused_gc():
        return _load_documents(data)


def _load_documents(data: bytes | str) -> list[JsonObject]:
    raw = data.encode() if isinstance(data, str) else data
    stripped = raw.lstrip()
    if not stripped:
        raise RecordError("the input is empty")
    docs: list[Any]
    if stripped[:1] in (b"{", b"["):
        try:
            parsed = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise RecordError(f"invalid JSON: {exc}") from None
        docs = parsed if isinstance(parsed, list) else [parsed]
    else:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise RecordError(f"the input is not UTF-8 text: {exc}") from None
        try:
            docs = []
            for doc in yaml.load_all(text, Loader=_StrictLoader):
                # A top-level sequence is read like a JSON array: one object per item.
                docs.extend(doc if isinstance(doc, list) else [doc] if doc is not None else [])
        except yaml.YAMLError as exc:
            raise RecordError(f"invalid YAML: {_yaml_problem(exc)}") from None
        except RecursionError:
            raise RecordError("invalid YAML: nested too deeply") from None
    objects: list[JsonObject] = []
    for doc in docs:
        objects.extend(_expand(doc))
    if not objects:
        raise RecordError("the input holds no objects")
    return objects


def _expand(doc: Any) -> list[JsonObject]:
    if not isinstance(doc, dict):
        raise RecordError(f"expected an object, found {type(doc).__name__}")
    kind = doc.get("kind")
    if kind is not None and not isinstance(kind, str):
        raise RecordError(f"`kind` must be a string, found {type(kind).__name__}")
    if kind == "List" or (kind is not None and kind.endswith("List") and "items" in doc):
        items = doc.get("items")
        if not isinstance(items, list):
            raise RecordError("a List must have an `items` array")
        expanded: list[JsonObject] = []
        for item in items:
            expanded.extend(_expand(item))
        return expanded
    return [doc]


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    if mark is not None:
        return f"{problem} (line {mark.line + 1}, column {mark.column + 1})"
    return str(problem)
