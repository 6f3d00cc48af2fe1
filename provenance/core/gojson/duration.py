"""Go's ``time.ParseDuration`` and ``time.Duration.String``, for ``metav1.Duration``.

Kubernetes writes a Duration as ``Duration.String()`` of the parsed value, so ``1h`` becomes
``1h0m0s`` and ``90s`` becomes ``1m30s`` in anything Chains re-encodes.
"""

from __future__ import annotations

_UNITS = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,  # micro sign
    "\u03bcs": 1_000,  # Greek mu
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_LIMIT = 1 << 63
_DIGITS = "0123456789"


class DurationError(ValueError):
    """Not a duration Go's ``time.ParseDuration`` accepts."""


def parse_duration(text: str) -> int:
    """Nanoseconds, as ``time.ParseDuration``: ``[-+]?([0-9]*(\\.[0-9]*)?[a-zµμ]+)+`` or ``0``."""
    rest = text
    negative = False
    if rest and rest[0] in "+-":
        negative = rest[0] == "-"
        rest = rest[1:]
    if rest == "0":
        return 0
    if not rest:
        raise DurationError(f"invalid duration {text!r}")
    total = 0
    while rest:
        if rest[0] != "." and rest[0] not in _DIGITS:
            raise DurationError(f"invalid duration {text!r}")
        whole, rest, had_whole = _leading_int(rest, text)
        fraction, scale, had_fraction = 0, 1.0, False
        if rest.startswith("."):
            fraction, scale, rest, had_fraction = _leading_fraction(rest[1:])
        if not had_whole and not had_fraction:
            raise DurationError(f"invalid duration {text!r}")
        end = 0
        while end < len(rest) and rest[end] != "." and rest[end] not in _DIGITS:
            end += 1
        if end == 0:
            raise DurationError(f"missing unit in duration {text!r}")
        unit = _UNITS.get(rest[:end])
        if unit is None:
            raise DurationError(f"unknown unit {rest[:end]!r} in duration {text!r}")
        rest = rest[end:]
        if whole > _LIMIT // unit:
            raise DurationError(f"invalid duration {text!r}")
        value = whole * unit
        if fraction > 0:
            # Go: v += uint64(float64(f) * (float64(unit) / scale))
            value += int(float(fraction) * (float(unit) / scale))
            if value > _LIMIT:
                raise DurationError(f"invalid duration {text!r}")
        total += value
        if total > _LIMIT:
            raise DurationError(f"invalid duration {text!r}")
    if negative:
        return -total
    if total > _LIMIT - 1:
        raise DurationError(f"invalid duration {text!r}")
    return total


def _leading_int(text: str, original: str) -> tuple[int, str, bool]:
    end = 0
    value = 0
    while end < len(text) and text[end] in _DIGITS:
        value = value * 10 + ord(text[end]) - 48
        if value > _LIMIT:
            raise DurationError(f"invalid duration {original!r}")
        end += 1
    return value, text[end:], end > 0


def _leading_fraction(text: str) -> tuple[int, float, str, bool]:
    end = 0
    value = 0
    scale = 1.0
    overflow = False
    while end < len(text) and text[end] in _DIGITS:
        if not overflow:
            if value > (_LIMIT - 1) // 10:
                overflow = True
            else:
                candidate = value * 10 + ord(text[end]) - 48
                if candidate > _LIMIT:
                    overflow = True
                else:
                    value = candidate
                    scale *= 10
        end += 1
    return value, scale, text[end:], end > 0


def format_duration(nanoseconds: int) -> str:
    """``time.Duration.String``: ``1h2m3.5s``, ``1.5ms``, ``0s``."""
    negative = nanoseconds < 0
    magnitude = -nanoseconds if negative else nanoseconds
    if magnitude < 1_000_000_000:
        if magnitude == 0:
            return "0s"
        if magnitude < 1_000:
            text = f"{magnitude}ns"
        elif magnitude < 1_000_000:
            text = _with_fraction(magnitude, 3) + "\u00b5s"
        else:
            text = _with_fraction(magnitude, 6) + "ms"
    else:
        seconds, fraction = divmod(magnitude, 1_000_000_000)
        text = f"{seconds % 60}{_fraction(fraction, 9)}s"
        minutes = seconds // 60
        if minutes > 0:
            text = f"{minutes % 60}m{text}"
            hours = minutes // 60
            if hours > 0:
                text = f"{hours}h{text}"
    return "-" + text if negative else text


def _with_fraction(value: int, precision: int) -> str:
    whole, fraction = divmod(value, 10**precision)
    return f"{whole}{_fraction(fraction, precision)}"


def _fraction(fraction: int, precision: int) -> str:
    digits = f"{fraction:0{precision}d}".rstrip("0")
    return "." + digits if digits else ""
