"""The one digest grammar (provenance.core.digests) in its three readings."""

from __future__ import annotations

import re

import pytest

from provenance.core.digests import (
    DIGEST_PATTERN,
    DIGEST_PREFIX_PATTERN,
    DigestError,
    index_form,
    parse_digest,
    parse_query,
    read_digest,
)

HEX = "ab" * 32


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"sha256:{HEX}", ("sha256", HEX)),
        (f"SHA256:{HEX.upper()}", ("sha256", HEX)),
        (f"  md5:{HEX[:32]} ", ("md5", HEX[:32])),
        ("sha256:abcd", ("sha256", "abcd")),
    ],
)
def test_a_query_digest_is_lower_cased(text: str, expected: tuple[str, str]) -> None:
    assert parse_query(text) == expected
    assert re.fullmatch(DIGEST_PATTERN, text.strip())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (HEX, "subject_digest must look like sha256:<hex>"),
        ("sha256:", "subject_digest must look like sha256:<hex>"),
        ("sha256:xyz", "the digest must be hexadecimal"),
        (f"sha-256:{HEX}", "the digest algorithm must be a short name"),
        (f"{'a' * 17}:{HEX}", "the digest algorithm must be a short name"),
        (f"sha256:{'a' * 129}", "the digest is too long"),
    ],
)
def test_a_bad_query_digest_names_the_problem(text: str, message: str) -> None:
    with pytest.raises(DigestError, match=message):
        parse_query(text, "subject_digest")
    assert not re.fullmatch(DIGEST_PATTERN, text)


def test_a_prefix_needs_four_hex_digits_in_both_readings() -> None:
    assert parse_query("sha256:abcd", prefix=True) == ("sha256", "abcd")
    with pytest.raises(DigestError, match="at least 4 hex characters"):
        parse_query("sha256:abc", prefix=True)
    assert re.fullmatch(DIGEST_PREFIX_PATTERN, "sha256:abcd")
    assert not re.fullmatch(DIGEST_PREFIX_PATTERN, "sha256:abc")


def test_the_search_box_reading_takes_bare_hex_as_sha256() -> None:
    assert read_digest(HEX.upper()) == ("sha256", HEX)
    assert read_digest(f" sha512:{HEX} ") == ("sha512", HEX)
    assert read_digest("not-hex") is None
    assert read_digest("a:b:c") is None
    assert read_digest(f"{'a' * 17}:{HEX}") is None


def test_chains_reading_needs_a_known_algorithm_and_its_exact_length() -> None:
    assert parse_digest(f"sha256:{HEX}") == ("sha256", HEX)
    assert parse_digest(f" SHA256 :{HEX}") == ("sha256", HEX)
    assert parse_digest(f"sha256:{HEX.upper()}") is None
    assert parse_digest("sha256:abcd") is None
    assert parse_digest(f"md5:{HEX[:32]}") is None


def test_the_index_form_trims_and_lower_cases_both_parts() -> None:
    assert index_form(" SHA256 ", f" {HEX.upper()} ") == ("sha256", HEX)
