"""The Go types with their own ``MarshalJSON``/``UnmarshalJSON``, written by hand.

Each codec takes the decoded JSON value of the field (``None`` for ``null``) and returns the JSON
value Go writes for it after a decode/encode round trip. ``ZERO`` is what Go writes for the
type's zero value, when the field is absent. The schema lists these types as ``"custom"``; the
generator refuses a custom type that has no codec here.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from .duration import DurationError, format_duration, parse_duration
from .quantity import QuantityError, canonical_quantity

Codec = Callable[[Any], Any]


class CodecError(ValueError):
    """The value does not decode into the Go type (Go's Unmarshal would fail)."""


class Unencodable:
    """A value Go decodes but cannot encode again: ``json.Marshal`` fails on it.

    ``ParamValue{}`` (a param or result without ``value``) has no type, and its ``MarshalJSON``
    returns an error, so Chains writes no statement for a run that holds one.
    """

    __slots__ = ("problem",)

    def __init__(self, problem: str) -> None:
        self.problem = problem


NO_PARAM_TYPE = Unencodable("a param or result has no value (Go: impossible ParamValues.Type)")

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:(Z)|([+-])(\d{2}):(\d{2}))"
)
_ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)


def time_codec(raw: Any) -> Any:
    """``metav1.Time``: RFC 3339 in, UTC to the second out; the zero time is ``null``."""
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise CodecError("must be an RFC 3339 time string")
    return _time_text(raw)


@functools.lru_cache(maxsize=4096)
def _time_text(raw: str) -> str | None:
    # Records repeat their times (a step's start is its TaskRun's start): parse each once.
    match = _RFC3339.fullmatch(raw)
    if match is None:
        raise CodecError(f"is not an RFC 3339 time: {raw!r}")
    year, month, day, hour, minute, second = (int(g) for g in match.group(1, 2, 3, 4, 5, 6))
    try:
        moment = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
        if not match.group(8):
            offset = timedelta(hours=int(match.group(10)), minutes=int(match.group(11)))
            if int(match.group(10)) > 23 or int(match.group(11)) > 59:
                raise ValueError
            moment = moment - offset if match.group(9) == "+" else moment + offset
    except (ValueError, OverflowError):
        raise CodecError(f"is not a time that can be written in UTC: {raw!r}") from None
    fraction = (match.group(7) or "").rstrip("0")
    if moment == _ZERO_TIME and not fraction:
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def duration_codec(raw: Any) -> Any:
    """``metav1.Duration``: a Go duration string, written back by ``Duration.String()``."""
    if not isinstance(raw, str):
        raise CodecError("must be a duration string such as 1h30m")
    return _duration_text(raw)


@functools.lru_cache(maxsize=1024)
def _duration_text(raw: str) -> str:
    try:
        return format_duration(parse_duration(raw))
    except DurationError as exc:
        raise CodecError(str(exc)) from None


def quantity_codec(raw: Any) -> Any:
    """``resource.Quantity``: a string or a number, written back canonically."""
    if raw is None:
        return "0"
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise CodecError("must be a quantity such as 500m or 1Gi")
    text = raw.strip() if isinstance(raw, str) else orjson.dumps(raw).decode()
    return _quantity_text(text)


@functools.lru_cache(maxsize=1024)
def _quantity_text(text: str) -> str:
    try:
        return canonical_quantity(text)
    except QuantityError as exc:
        raise CodecError(str(exc)) from None


def int_or_string_codec(raw: Any) -> Any:
    """``intstr.IntOrString``: a string stays a string, anything else must be an int32."""
    if isinstance(raw, str):
        return raw
    if raw is None:
        return 0
    if isinstance(raw, bool) or not isinstance(raw, int) or not -(2**31) <= raw < 2**31:
        raise CodecError("must be a string or a 32-bit integer")
    return raw


def param_value_codec(raw: Any) -> Any:
    """``v1.ParamValue``: a string, an array of strings or an object of strings.

    Anything else is kept as its JSON text in a string, as Tekton's ``UnmarshalJSON`` does
    (``5`` -> ``"5"``); ``null`` elements of an array or object read as ``""``.
    """
    if isinstance(raw, str):
        return raw
    if raw is None:
        return ""
    if isinstance(raw, list) and all(item is None or isinstance(item, str) for item in raw):
        return ["" if item is None else item for item in raw]
    if isinstance(raw, dict) and all(
        item is None or isinstance(item, str) for item in raw.values()
    ):
        return {key: "" if raw[key] is None else raw[key] for key in sorted(raw)}
    return orjson.dumps(raw).decode()


def raw_codec(raw: Any) -> Any:
    """``runtime.RawExtension`` and ``metav1.FieldsV1``: the JSON as it was, compacted."""
    return raw


# Schema name -> (codec, the JSON of the zero value when the field is absent). A codec also takes
# None: on a value field Go hands ``null`` to UnmarshalJSON (a pointer field just stays nil).
CODECS: dict[str, tuple[Codec, Any]] = {
    "metav1.Time": (time_codec, None),
    "apis.VolatileTime": (time_codec, None),
    "metav1.Duration": (duration_codec, "0s"),
    "resource.Quantity": (quantity_codec, "0"),
    "intstr.IntOrString": (int_or_string_codec, 0),
    "v1.ParamValue": (param_value_codec, NO_PARAM_TYPE),
    "runtime.RawExtension": (raw_codec, None),
    "metav1.FieldsV1": (raw_codec, None),
}
