"""Kubernetes ``resource.Quantity`` as it parses and re-encodes (k8s.io/apimachinery).

A quantity is an exact decimal, rounded away from zero to nanounits, with the format its suffix
implies (decimal SI ``k M G …``, binary SI ``Ki Mi Gi …``, or a decimal exponent ``e3``). Its
JSON is the input text when that is already canonical, else the canonical form: ``0.5`` ->
``500m``, ``1000m`` -> ``1``, ``1024Mi`` -> ``1Gi``, ``0.5Gi`` -> ``512Mi``.
"""

from __future__ import annotations

import re
from fractions import Fraction

_DECIMAL_SUFFIXES = {
    "n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18,
}  # fmt: skip
_BINARY_SUFFIXES = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL_BY_EXPONENT = {exponent: suffix for suffix, exponent in _DECIMAL_SUFFIXES.items()}
_BINARY_BY_EXPONENT = {exponent: suffix for suffix, exponent in _BINARY_SUFFIXES.items()}
_SUFFIX_CHARS = "eEinumkKMGTP"
_MAX_INT64 = (1 << 63) - 1
_NANO = 10**9
_MAX_EXPONENT = 1000
_EXPONENT = re.compile(r"[+-]?[0-9]+")

DECIMAL_SI, BINARY_SI, DECIMAL_EXPONENT = "DecimalSI", "BinarySI", "DecimalExponent"


class QuantityError(ValueError):
    """Not a quantity Kubernetes accepts."""


def canonical_quantity(text: str) -> str:
    """The JSON string Go writes for ``resource.MustParse(text)``."""
    if text == "":
        raise QuantityError("quantities must match the regular expression")
    if text == "0":
        return "0"
    positive, number, whole, fraction, suffix = _split(text)
    base, exponent, form = _interpret(suffix)
    if _keeps_text(whole, fraction, base, exponent, form):
        return text
    value = Fraction(int(whole + fraction), 10 ** len(fraction))
    value *= Fraction(10) ** exponent if base == 10 else Fraction(2) ** exponent
    # Rounded up (away from zero) to nanounits.
    value = Fraction(-((-value.numerator * _NANO) // value.denominator), _NANO)
    if form == BINARY_SI and value > _MAX_INT64:
        value = Fraction(_MAX_INT64)
    if form == BINARY_SI and 0 < value < 1:
        form = DECIMAL_SI
    return _canonical(value if positive else -value, form)


def _split(text: str) -> tuple[bool, str, str, str, str]:
    """``parseQuantityString``: sign, the numeric text, its whole and fraction digits, suffix."""
    position = 0
    positive = True
    if text[0] in "+-":
        positive = text[0] == "+"
        position = 1
    while position < len(text) and text[position] == "0":
        position += 1
    start = position
    while position < len(text) and text[position].isdigit() and text[position].isascii():
        position += 1
    whole = text[start:position] or "0"
    fraction = ""
    if position < len(text) and text[position] == ".":
        position += 1
        start = position
        while position < len(text) and text[position] in "0123456789":
            position += 1
        fraction = text[start:position]
    number = text[:position]
    suffix = text[position:]
    letters = 0
    while letters < len(suffix) and suffix[letters] in _SUFFIX_CHARS:
        letters += 1
    tail = suffix[letters:]
    if tail and not _EXPONENT.fullmatch(tail):
        raise QuantityError(f"quantities must match the regular expression: {text!r}")
    return positive, number, whole, fraction, suffix


def _interpret(suffix: str) -> tuple[int, int, str]:
    if suffix in _DECIMAL_SUFFIXES:
        return 10, _DECIMAL_SUFFIXES[suffix], DECIMAL_SI
    if suffix in _BINARY_SUFFIXES:
        return 2, _BINARY_SUFFIXES[suffix], BINARY_SI
    if len(suffix) > 1 and suffix[0] in "eE" and re.fullmatch(r"[+-]?[0-9]+", suffix[1:]):
        exponent = int(suffix[1:])
        # Go keeps any int32; past a few hundred no resource means anything, and the exact
        # arithmetic below would take forever.
        if abs(exponent) <= _MAX_EXPONENT:
            return 10, exponent, DECIMAL_EXPONENT
    raise QuantityError(f"unable to parse quantity's suffix {suffix!r}")


def _keeps_text(whole: str, fraction: str, base: int, exponent: int, form: str) -> bool:
    """``ParseQuantity``'s fast path: small exact values already written canonically keep the
    text they were given (its ``s`` cache)."""
    if form == BINARY_SI:
        if exponent < 0 or fraction:
            return False
        precision = 15 - len(whole) - int(exponent * 3 / 10) - 1
        scale = 0
    else:
        precision = 18 - len(whole) - len(fraction)
        scale = exponent
    if precision < 0:
        return False
    scale -= len(fraction)
    if scale < -9:
        return False
    shifted = whole + fraction
    parsed = int(shifted)
    if parsed > _MAX_INT64:
        return False
    mantissa = 1 << exponent if form == BINARY_SI else 1
    if parsed * mantissa > _MAX_INT64:
        return False
    if form == BINARY_SI:
        return exponent % 10 == 0 and parsed & 7 != 0
    return scale % 3 == 0 and not shifted.endswith("000") and shifted[0] != "0"


def _canonical(value: Fraction, form: str) -> str:
    """``CanonicalizeBytes``: mantissa and suffix for the value in its format."""
    if value == 0:
        return "0"
    if form == BINARY_SI and (-1024 < value < 1024 or value.denominator != 1):
        form = DECIMAL_SI
    if form == BINARY_SI:
        amount, times = int(value), 0
        while abs(amount) >= 1024 and amount % 1024 == 0:
            amount //= 1024
            times += 1
        return f"{amount}{_BINARY_BY_EXPONENT.get(times * 10, '')}"
    # value = mantissa * 10**exponent with no trailing zeros, then the exponent is lowered to a
    # multiple of three.
    exponent = 0
    numerator, denominator = value.numerator, value.denominator
    while denominator != 1:
        numerator *= 10
        exponent -= 1
        if numerator % denominator == 0:
            numerator //= denominator
            denominator = 1
    while numerator % 10 == 0:
        numerator //= 10
        exponent += 1
    while exponent % 3:
        numerator *= 10
        exponent -= 1
    if form == DECIMAL_EXPONENT:
        suffix = f"e{exponent}" if exponent else ""
    else:
        suffix = _DECIMAL_BY_EXPONENT.get(exponent, "")
    return f"{numerator}{suffix}"
