"""Settings that shape a statement, named after Chains' own config keys (spec §3)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from ..errors import FormatError

DEFAULT_BUILDER_ID = "https://tekton.dev/chains/v2"
BUILD_TYPE_SLSA = "https://tekton.dev/chains/v2/slsa"
BUILD_TYPE_SLSA_TEKTON = "https://tekton.dev/chains/v2/slsa-tekton"
BUILD_TYPES = (BUILD_TYPE_SLSA, BUILD_TYPE_SLSA_TEKTON)

# Chains format names (``artifacts.*.format``) -> our predicate module. ``in-toto`` is an alias of
# ``slsa/v1``, and ``slsa/v1`` is Chains' name for the SLSA *v0.2* predicate.
FORMAT_NAMES = ("slsa/v1", "in-toto", "slsa/v2alpha3", "slsa/v2alpha4")
PREDICATE_VERSION = {
    "slsa/v1": "SLSA v0.2",
    "in-toto": "SLSA v0.2",
    "slsa/v2alpha3": "SLSA v1.0",
    "slsa/v2alpha4": "SLSA v1.0",
}

# RFC 3986 ``scheme ":" hier-part``, without white space or control characters.
_ABSOLUTE_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[^\s\x00-\x1f\x7f]+")


def check_absolute_uri(value: str, what: str) -> None:
    """FormatError unless ``value`` is an absolute URI (SLSA's TypeURI, as a builder id is);
    an http(s) URI must also name a host."""
    if not value:
        raise FormatError(f"the {what} must not be empty")
    if not _ABSOLUTE_URI.fullmatch(value):
        raise FormatError(
            f"the {what} {value!r} is not an absolute URI (e.g. https://example.com/builder)"
        )
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError as exc:  # a malformed authority, e.g. an unclosed "[" of an IPv6 host
        raise FormatError(f"the {what} {value!r} is not a valid URI: {exc}") from None
    if parts.scheme.lower() in ("http", "https") and not host:
        raise FormatError(f"the {what} {value!r} names no host")


@dataclass(frozen=True, slots=True)
class SlsaConfig:
    """``artifacts.*.format``, ``builder.id``, ``builddefinition.buildtype`` and
    ``artifacts.pipelinerun.enable-deep-inspection``."""

    format: str = "slsa/v2alpha4"
    builder_id: str = DEFAULT_BUILDER_ID
    build_type: str = BUILD_TYPE_SLSA
    deep_inspection: bool = False

    def __post_init__(self) -> None:
        if self.format not in FORMAT_NAMES:
            raise FormatError(
                f"unknown format {self.format!r}; expected one of {', '.join(FORMAT_NAMES)}"
            )
        if self.build_type not in BUILD_TYPES:
            raise FormatError(
                f"unsupported build type {self.build_type!r}; expected one of "
                f"{', '.join(BUILD_TYPES)}"
            )
        if self.build_type != BUILD_TYPE_SLSA and self.is_v02:
            # SLSA v0.2 has no buildDefinition: the setting would be ignored without a word.
            raise FormatError(
                f"the build type {self.build_type} applies to SLSA v1.0 only: format "
                f"{self.format!r} is SLSA v0.2; choose slsa/v2alpha3 or slsa/v2alpha4, or the "
                f"build type {BUILD_TYPE_SLSA}"
            )
        check_absolute_uri(self.builder_id, "builder id")

    @property
    def is_v02(self) -> bool:
        return self.format in ("slsa/v1", "in-toto")

    @property
    def is_v2alpha4(self) -> bool:
        return self.format == "slsa/v2alpha4"
