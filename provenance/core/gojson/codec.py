"""The schema in ``tekton_v1.json`` compiled into decoders that give the JSON Go writes.

``GoTypes.decoder(name)`` returns a function from a decoded JSON value to the JSON value that
Go's ``json.Marshal`` writes after ``json.Unmarshal`` of it into that type: unknown fields
dropped (keys matched exactly, else case-insensitively), fields in declaration order, embedded
structs inlined, ``omitempty`` and ``omitzero`` applied, ``nil`` slices and maps ``null`` where
they are not omitted, map keys sorted, and the custom marshallers of ``custom.py``. Each type is
compiled once into a closure; nothing is interpreted per value.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from .custom import CODECS, CodecError, Unencodable

Decoder = Callable[[Any], Any]
Omit = Literal["never", "nil", "empty"]
_INTS = {
    "int": 64, "int64": 64, "int32": 32, "int16": 16, "int8": 8,
    "uint": -64, "uint64": -64, "uint32": -32, "uint16": -16, "uint8": -8, "byte": -8,
}  # fmt: skip


class DecodeError(CodecError):
    """A value does not decode into its Go type; ``path`` grows as it propagates up."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.path: list[str] = []

    def where(self) -> str:
        text = ""
        for part in reversed(self.path):
            text += part if part.startswith("[") or not text else "." + part
        return text


class UnencodableError(CodecError):
    """Go decodes the value but ``json.Marshal`` fails on it."""


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    type: str
    omit: Omit
    depth: int
    tagged: bool
    order: tuple[int, ...]


class GoTypes:
    """Decoders for the named types of one schema, compiled on first use and kept."""

    def __init__(self, types: dict[str, Any]) -> None:
        self._types = types
        self._decoders: dict[str, Decoder] = {}
        unknown = [name for name, kind in types.items() if kind == "custom" and name not in CODECS]
        if unknown:
            raise ValueError(f"custom Go types without a codec: {', '.join(unknown)}")

    def decoder(self, expression: str) -> Decoder:
        found = self._decoders.get(expression)
        if found is None:
            # A placeholder first, so that a recursive type (PipelineSpec -> PipelineTask ->
            # PipelineSpec) finds itself while it is being compiled.
            cell: list[Decoder] = []
            self._decoders[expression] = lambda raw: cell[0](raw)
            found = self._compile(expression)
            cell.append(found)
            self._decoders[expression] = found
        return found

    def _compile(self, expression: str) -> Decoder:
        if expression.startswith("*"):
            return _pointer(self.decoder(expression[1:]))
        if expression.startswith("[]"):
            return _slice(self.decoder(expression[2:]))
        if expression.startswith("map["):
            key, _, value = expression[4:].partition("]")
            if self._underlying(key) != "string":
                raise ValueError(f"map keys must be strings: {expression}")
            return _map(self.decoder(value))
        if expression == "string":
            return _string
        if expression == "bool":
            return _bool
        if expression in _INTS:
            return _integer(_INTS[expression])
        if expression in ("float64", "float32"):
            return _float
        if expression == "time.Duration":
            return _integer(64)
        definition = self._types.get(expression)
        if definition is None:
            raise ValueError(f"type {expression} is not in the schema")
        if definition == "custom":
            return _custom(*CODECS[expression])
        if isinstance(definition, str):
            return self.decoder(definition)
        return self._struct(expression)

    def _merged(
        self,
        type_: str,
        raw: dict[str, Any],
        upto: str,
        index: int,
        exact: dict[str, int],
        folded: dict[str, int],
    ) -> Any:
        """The raw values of every key of ``raw`` up to ``upto`` that name field ``index``,
        combined the way Go decodes them one after the other into the same field."""
        combined: Any = _MISSING
        for key, item in raw.items():
            if _field_index(key, exact, folded) == index:
                combined = item if combined is _MISSING else self._merge(type_, combined, item)
            if key == upto:
                break
        return combined

    def _merge(self, type_: str, first: Any, second: Any) -> Any:
        """Go's decode of ``second`` into the value decoded from ``first``: structs (also behind
        a pointer) keep the fields the second leaves out, maps keep their other keys; anything
        else is replaced."""
        underlying = self._underlying(type_)
        if underlying.startswith("*"):
            return None if second is None else self._merge(underlying[1:], first, second)
        if not (isinstance(first, dict) and isinstance(second, dict)):
            return second
        if underlying.startswith("map["):
            return {**first, **second}
        definition = self._types.get(underlying)
        if not isinstance(definition, list):
            return second
        fields = self.fields(underlying)
        exact = {f.name: i for i, f in enumerate(fields)}
        folded: dict[str, int] = {}
        for i, f in enumerate(fields):
            folded.setdefault(f.name.lower(), i)
        merged: dict[str, Any] = {}
        key_of: dict[int, str] = {}
        for key, item in (*first.items(), *second.items()):
            index = _field_index(key, exact, folded)
            if index is None:
                continue
            if index in key_of:
                earlier = key_of[index]
                merged[earlier] = self._merge(fields[index].type, merged[earlier], item)
            else:
                key_of[index] = key
                merged[key] = item
        return merged

    def _underlying(self, expression: str) -> str:
        while True:
            definition = self._types.get(expression)
            if not isinstance(definition, str) or definition == "custom":
                return expression
            expression = definition

    def omit_mode(self, expression: str) -> Omit:
        """When ``omitempty`` leaves a field out: nil pointers; empty strings, numbers, bools,
        slices and maps; never a struct (custom marshallers included)."""
        underlying = self._underlying(expression)
        if underlying.startswith("*"):
            return "nil"
        if underlying.startswith(("[]", "map[")) or underlying in _INTS:
            return "empty"
        if underlying in ("string", "bool", "float64", "float32", "time.Duration"):
            return "empty"
        return "never"

    def fields(self, name: str) -> list[_Field]:
        """The JSON fields of a struct as Go's ``typeFields`` resolves them: embedded structs
        without a JSON name inlined, the shallowest (then the tagged) of clashing names kept."""
        found: list[_Field] = []
        self._collect(name, 0, (), found)
        by_name: dict[str, list[_Field]] = {}
        for field in found:
            by_name.setdefault(field.name, []).append(field)
        kept = []
        for clashing in by_name.values():
            depth = min(f.depth for f in clashing)
            shallow = [f for f in clashing if f.depth == depth]
            tagged = [f for f in shallow if f.tagged]
            if len(shallow) == 1:
                kept.append(shallow[0])
            elif len(tagged) == 1:
                kept.append(tagged[0])
        return sorted(kept, key=lambda f: f.order)

    def _collect(self, name: str, depth: int, order: tuple[int, ...], out: list[_Field]) -> None:
        definition = self._types[name]
        for index, (go_name, type_, tag) in enumerate(definition):
            json_name, *options = tag.split(",")
            if not go_name and not json_name:
                embedded = self._underlying(type_)
                if not isinstance(self._types.get(embedded), list):
                    raise ValueError(f"{name}: embedded {type_} is not a plain struct")
                self._collect(embedded, depth + 1, (*order, index), out)
                continue
            omit: Omit = "never"
            if "omitempty" in options:
                omit = self.omit_mode(type_)
            if "omitzero" in options:
                if self._underlying(type_) != "metav1.Time":
                    raise ValueError(f"{name}.{go_name}: omitzero is only known for metav1.Time")
                omit = "nil"  # a zero Time encodes as null
            out.append(
                _Field(
                    name=json_name or go_name,
                    type=type_,
                    omit=omit,
                    depth=depth,
                    tagged=bool(json_name),
                    order=(*order, index),
                )
            )

    def _struct(self, name: str) -> Decoder:
        fields = self.fields(name)
        names = [f.name for f in fields]
        modes = [f.omit for f in fields]
        decoders = [self.decoder(f.type) for f in fields]
        types_ = [f.type for f in fields]
        exact = {f.name: i for i, f in enumerate(fields)}
        folded: dict[str, int] = {}
        for i, f in enumerate(fields):
            folded.setdefault(f.name.lower(), i)
        always = frozenset(i for i, mode in enumerate(modes) if mode == "never")
        zeros: dict[int, Any] = {}

        def zero_of(index: int) -> Any:
            value = zeros.get(index, _MISSING)
            if value is _MISSING:
                value = zeros[index] = _zero(decoders[index])
            if isinstance(value, Unencodable):
                raise UnencodableError(f"{names[index]}: {value.problem}")
            return value

        # Per field: 0 never omitted, 1 omitted when nil, 2 omitted when empty (omitempty).
        omit = [{"never": 0, "nil": 1, "empty": 2}[mode] for mode in modes]
        # A field whose Go type is string takes a JSON string as it is, without a call.
        plain = [decoder is _string for decoder in decoders]

        def decode(raw: Any) -> Any:
            if raw is None:
                raw = {}
            elif type(raw) is not dict:
                raise DecodeError(f"must be an object, not {_json_type(raw)}")
            got: dict[int, Any] = {}
            for key, item in raw.items():
                index = exact.get(key)
                if index is None:
                    index = folded.get(key.lower())
                    if index is None:
                        continue  # unknown field: Go drops it
                if index in got:
                    # "status" and "Status": Go decodes the second into what the first built.
                    item = self._merged(types_[index], raw, key, index, exact, folded)
                elif plain[index] and type(item) is str:
                    got[index] = item
                    continue
                try:
                    got[index] = decoders[index](item)
                except DecodeError as exc:
                    exc.path.append(key)
                    raise
            out: dict[str, Any] = {}
            for index in sorted(got.keys() | always if always else got):
                value = got[index] if index in got else zero_of(index)
                rule = omit[index]
                if rule and (not value if rule == 2 else value is None):
                    continue
                out[names[index]] = value
            return out

        return decode


def _field_index(key: str, exact: dict[str, int], folded: dict[str, int]) -> int | None:
    index = exact.get(key)
    return folded.get(key.lower()) if index is None else index


def _zero(decoder: Decoder) -> Any:
    """What Go writes for a field that was never set: the decoder's answer to ``null`` for
    every kind but custom types, whose zero value the codec table gives."""
    zero = getattr(decoder, "zero", _MISSING)
    return decoder(None) if zero is _MISSING else zero


_MISSING = object()


def _json_type(raw: Any) -> str:
    if isinstance(raw, bool):
        return "a boolean"
    if isinstance(raw, int | float):
        return "a number"
    if isinstance(raw, str):
        return "a string"
    if isinstance(raw, list):
        return "an array"
    if isinstance(raw, dict):
        return "an object"
    return "null"


def _pointer(elem: Decoder) -> Decoder:
    def decode(raw: Any) -> Any:
        return None if raw is None else elem(raw)

    decode.zero = None  # type: ignore[attr-defined]
    return decode


def _slice(elem: Decoder) -> Decoder:
    def decode(raw: Any) -> Any:
        if raw is None:
            return None
        if type(raw) is not list:
            raise DecodeError(f"must be an array, not {_json_type(raw)}")
        try:
            return [elem(item) for item in raw]
        except DecodeError as exc:
            for index, item in enumerate(raw):
                try:
                    elem(item)
                except DecodeError:
                    exc.path.append(f"[{index}]")
                    break
            raise

    return decode


def _map(elem: Decoder) -> Decoder:
    def decode(raw: Any) -> Any:
        if raw is None:
            return None
        if type(raw) is not dict:
            raise DecodeError(f"must be an object, not {_json_type(raw)}")
        out = {}
        for key in sorted(raw):
            try:
                out[key] = elem(raw[key])
            except DecodeError as exc:
                exc.path.append(key)
                raise
        return out

    return decode


def _string(raw: Any) -> Any:
    if type(raw) is str:
        return raw
    if raw is None:
        return ""
    raise DecodeError(f"must be a string, not {_json_type(raw)}")


def _bool(raw: Any) -> Any:
    if raw is None:
        return False
    if type(raw) is not bool:
        raise DecodeError(f"must be a boolean, not {_json_type(raw)}")
    return raw


def _integer(bits: int) -> Decoder:
    low, high = (-(2 ** (bits - 1)), 2 ** (bits - 1)) if bits > 0 else (0, 2 ** (-bits))

    def decode(raw: Any) -> Any:
        if raw is None:
            return 0
        if type(raw) is not int or not low <= raw < high:
            raise DecodeError(f"must be an integer that fits {abs(bits)} bits")
        return raw

    return decode


def _float(raw: Any) -> Any:
    if raw is None:
        return 0
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise DecodeError(f"must be a number, not {_json_type(raw)}")
    return raw


def _custom(codec: Callable[[Any], Any], zero: Any) -> Decoder:
    def decode(raw: Any) -> Any:
        try:
            return codec(raw)
        except DecodeError:
            raise
        except CodecError as exc:
            raise DecodeError(str(exc)) from None

    decode.zero = zero  # type: ignore[attr-defined]
    return decode
