"""How a digest is written, ``<algorithm>:<hex>``: the one grammar the engine, the API's inputs
and URLs, the reads and the dashboard all use.

Three readings of the same text:

- :func:`parse_digest` is Tekton Chains' ``ParseDigest`` (type hinting, spec §6): a known
  algorithm and lowercase hex of that algorithm's exact length. Hints are validated with it.
- :func:`parse_query` reads a digest a client typed into a query or a URL: any short algorithm
  name and up to 128 hex digits (at least :data:`MIN_PREFIX` for a prefix), in any case.
  :data:`DIGEST_PATTERN` and :data:`DIGEST_PREFIX_PATTERN` are the same rule as regular
  expressions, for the API schema and the URL converter.
- :func:`read_digest` is the lenient reading of a search box or a page URL: also a bare hex
  string, taken as sha256.

:func:`index_form` is how the artifact index stores a subject's digest (the statement keeps the
digest exactly as written), and so how every lookup must spell it.
"""

from __future__ import annotations

import re

# An algorithm name as a client writes it: letters and digits, at most 16 (Artifact.algorithm).
ALGORITHM = "[A-Za-z0-9]{1,16}"
HEX_DIGIT = "[0-9A-Fa-f]"
MAX_HEX = 128  # sha512; the longest hex the artifact index holds
MIN_PREFIX = 4  # shorter prefixes would match too much to be a search
DIGEST_REGEX = f"{ALGORITHM}:{HEX_DIGIT}{{1,{MAX_HEX}}}"
DIGEST_PATTERN = f"^{DIGEST_REGEX}$"
DIGEST_PREFIX_PATTERN = f"^{ALGORITHM}:{HEX_DIGIT}{{{MIN_PREFIX},{MAX_HEX}}}$"
DEFAULT_ALGORITHM = "sha256"

# Chains' ParseDigest: the algorithms it knows and the exact length of each one's hex.
CHAINS_HEX = {
    "sha256": re.compile(r"[a-f0-9]{64}"),
    "sha384": re.compile(r"[a-f0-9]{96}"),
    "sha512": re.compile(r"[a-f0-9]{128}"),
    "sha1": re.compile(r"[a-f0-9]{40}"),
}
# The digest of an image reference (go-containerregistry's ``name.NewDigest``): sha256 only.
IMAGE_REFERENCE_DIGEST = re.compile(r"sha256:[a-f0-9]{64}")

_ALGORITHM = re.compile(ALGORITHM)
_HEX = re.compile(f"{HEX_DIGIT}{{1,{MAX_HEX}}}")


class DigestError(ValueError):
    """A digest a client wrote that is not ``<algorithm>:<hex>``; the message names the field."""


def parse_digest(value: str) -> tuple[str, str] | None:
    """``<alg>:<hex>`` as Chains' ``ParseDigest`` accepts it, or None.

    sha256/sha384/sha512 (go-digest) and sha1 need lowercase hex of the right length; the
    algorithm is trimmed and lower-cased for the check only.
    """
    parts = value.split(":")
    if len(parts) != 2:
        return None
    algorithm = parts[0].strip().lower()
    hex_part = parts[1].strip()
    pattern = CHAINS_HEX.get(algorithm)
    if pattern is None or not pattern.fullmatch(hex_part):
        return None
    return algorithm, hex_part


def parse_query(value: str, what: str = "digest", *, prefix: bool = False) -> tuple[str, str]:
    """``alg:hex`` (or a prefix of the hex) → (alg, hex), lower-cased; DigestError otherwise."""
    algorithm, sep, hex_value = value.strip().partition(":")
    if not sep or not algorithm or not hex_value:
        raise DigestError(f"{what} must look like sha256:<hex>")
    hex_value = hex_value.lower()
    if any(c not in "0123456789abcdef" for c in hex_value):
        raise DigestError("the digest must be hexadecimal")
    if not algorithm.isascii() or not _ALGORITHM.fullmatch(algorithm):
        raise DigestError("the digest algorithm must be a short name such as sha256")
    if len(hex_value) > MAX_HEX:
        raise DigestError("the digest is too long")
    if prefix and len(hex_value) < MIN_PREFIX:
        raise DigestError(f"a digest prefix needs at least {MIN_PREFIX} hex characters")
    return algorithm.lower(), hex_value


def read_digest(text: str) -> tuple[str, str] | None:
    """``sha256:ABC…`` or a bare ``ABC…`` (sha256 assumed) → (alg, hex) lower-cased, or None."""
    value = text.strip().lower()
    algorithm, sep, hex_value = value.rpartition(":")
    if not sep:
        algorithm = DEFAULT_ALGORITHM
    if not _ALGORITHM.fullmatch(algorithm) or not _HEX.fullmatch(hex_value):
        return None
    return algorithm, hex_value


def index_form(algorithm: str, hex_value: str) -> tuple[str, str]:
    """A subject digest as the artifact index stores it: trimmed and lower-cased.

    A statement keeps each digest as Chains wrote it (an ``ARTIFACT_DIGEST`` of ``SHA256:…``
    or ``sha256 : …`` is signed with that algorithm key and hex); lookups go through this form.
    """
    return algorithm.strip().lower(), hex_value.strip().lower()
