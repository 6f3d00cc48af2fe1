"""Go's ``encoding/json`` view of Tekton objects: what Chains writes when it re-encodes them.

Chains decodes a run into Tekton's Go types and encodes parts of it again (``runSpec``, the
``slsa-tekton`` child TaskRuns, v0.2 parameters and task refs). ``go_value`` gives that JSON for
a value and a Go type of ``tekton_v1.json``; ``go_json`` gives its bytes as ``json.Marshal``
writes them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson

from ..errors import FormatError, RecordError
from .codec import DecodeError, GoTypes, UnencodableError

SCHEMA: dict[str, Any] = json.loads(Path(__file__).with_name("tekton_v1.json").read_text())
TYPES = GoTypes(SCHEMA["types"])

# json.Marshal escapes these inside strings (HTML safety); orjson writes them as they are. None
# of them can occur outside a string in JSON text, so replacing bytes is exact.
_GO_ESCAPES = (
    (b"<", b"\\u003c"),
    (b">", b"\\u003e"),
    (b"&", b"\\u0026"),
    ("\u2028".encode(), b"\\u2028"),
    ("\u2029".encode(), b"\\u2029"),
)


def go_value(type_name: str, raw: Any, what: str) -> Any:
    """``raw`` decoded into the Go type and encoded again, as a JSON value.

    RecordError when Go's decoder refuses the value (naming ``what`` and the path inside it);
    FormatError when Go's encoder would (Chains then writes no statement).
    """
    try:
        return TYPES.decoder(type_name)(raw)
    except DecodeError as exc:
        where = exc.where()
        raise RecordError(f"{what}{'.' + where if where else ''}: {exc.problem}") from None
    except UnencodableError as exc:
        raise FormatError(f"{what}: Chains cannot encode it: {exc}") from None


def go_json(value: Any, *, sort_keys: bool = False) -> bytes:
    """The bytes ``json.Marshal`` writes for a JSON value whose object keys are in Go's order
    (or, with ``sort_keys``, a value made of Go maps, whose keys Go writes sorted)."""
    data = orjson.dumps(value, option=orjson.OPT_SORT_KEYS if sort_keys else None)
    for plain, escaped in _GO_ESCAPES:
        if plain in data:
            data = data.replace(plain, escaped)
    return data


__all__ = ["SCHEMA", "TYPES", "go_json", "go_value"]
