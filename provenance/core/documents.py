"""Turn bytes into Kubernetes objects: JSON or YAML, one object, a `kind: List` or multi-doc.

This is the only place that parses input text; everything after it works on plain dicts.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
import yaml

from .errors import RecordError

JsonObject = dict[str, Any]


# libyaml's parser when present (about 8x faster); the constructor stays in Python, where the
# checks below live.
_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _StrictLoader(_BaseLoader):  # type: ignore[misc]
    """Safe YAML loading with three extra refusals: aliases (Kubernetes never writes them, and
    they turn a small file into a huge one), duplicate keys (a record with two `status` keys is
    ambiguous), and implicit timestamps (kept as the strings Kubernetes wrote, as in JSON)."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        # An alias is the same node met a second time.
        if node in self.constructed_objects or node in self.recursive_objects:
            raise RecordError(
                f"YAML aliases are not accepted (line {node.start_mark.line + 1}): Kubernetes "
                "never writes them, and they can expand a small file into a huge one"
            )
        return super().construct_object(node, deep=deep)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> Any:
        mapping: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise RecordError(
                    f"YAML merge keys and aliases are not accepted (line "
                    f"{key_node.start_mark.line + 1})"
                )
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, str):
                raise RecordError(
                    f"unsupported mapping key {key!r} (line {key_node.start_mark.line + 1}): "
                    "keys must be strings, as in JSON"
                )
            if key in mapping:
                raise RecordError(f"duplicate key {key!r} at line {key_node.start_mark.line + 1}")
            mapping[key] = self.construct_object(value_node, deep=deep)
        return mapping


_StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

# Deeper than this, orjson can write no statement or stored record (it reads 1024 levels but
# writes 254), so such a record is refused at the door.
MAX_DEPTH = 250
# A \u0000 escape preceded by an even number of backslashes (an odd count escapes the "\u").
_NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


def _check_json_document(raw: bytes, parsed: Any) -> None:
    """JSON input: refuse NUL characters (Postgres text cannot hold them) and extreme nesting."""
    # The substring test first: the regex alone costs ~80 ms per MB of clean input.
    if b"\\u0000" in raw and _NUL_ESCAPE.search(raw):
        raise RecordError("a string contains a NUL character (\\u0000)")
    try:
        orjson.dumps(parsed)
    except orjson.JSONEncodeError:
        raise RecordError(
            f"the input is nested too deeply (more than {MAX_DEPTH} levels)"
        ) from None


def _check_json_types(value: Any, depth: int = 0) -> None:
    """YAML input: only what JSON can hold, as in a Kubernetes object."""
    if depth > MAX_DEPTH:
        raise RecordError(f"the input is nested too deeply (more than {MAX_DEPTH} levels)")
    if isinstance(value, str):
        _check_text(value)
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int):
        if not -(2**63) <= value < 2**64:
            raise RecordError(f"the integer {value} is too large: not a JSON value")
    elif isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise RecordError("NaN and infinity are not JSON values")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key)
            _check_json_types(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_json_types(item, depth + 1)
    else:
        raise RecordError(f"a YAML value of type {type(value).__name__} is not a JSON value")


def _check_text(text: str) -> None:
    if "\x00" in text:
        raise RecordError("a string contains a NUL character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise RecordError("a string contains a lone surrogate (not valid Unicode text)") from None


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
        # A key given twice in one JSON object: the last value wins, as in Go's encoding/json
        # that Chains decodes with, so the statement is the one Chains writes for these bytes.
        # Nothing keeps the original text: the stored record is re-serialised from this dict.
        try:
            parsed = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise RecordError(f"invalid JSON: {exc}") from None
        _check_json_document(raw, parsed)
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
            raise RecordError(f"invalid YAML: {_yaml_problem(exc, text)}") from None
        except RecursionError:
            raise RecordError("invalid YAML: nested too deeply") from None
        _check_json_types(docs)
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


def _yaml_problem(exc: yaml.YAMLError, text: str) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    if mark is None:
        return str(problem)
    # The parser's marks count a line past the last newline: a problem found at the end of a
    # one-line input (an unclosed bracket) is on that line, not on a line 2 that is not there.
    lines = text.count("\n") + (0 if text.endswith("\n") or not text else 1)
    if mark.line + 1 > max(lines, 1):
        where = f"at the end of the input (line {max(lines, 1)})"
    else:
        where = f"(line {mark.line + 1}, column {mark.column + 1})"
    context = getattr(exc, "context", None)
    opened = getattr(exc, "context_mark", None)
    if context and opened is not None and opened.line != mark.line:
        where += f", {context} from line {opened.line + 1}, column {opened.column + 1}"
    return f"{problem} {where}"
