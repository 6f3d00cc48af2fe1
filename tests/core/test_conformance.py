"""Every statement in the Chains conformance set is reproduced exactly (lists in order)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from provenance.core import SlsaConfig, generate, load_documents, parse_records

from .conftest import CONFORMANCE

ENTRIES = json.loads((CONFORMANCE / "index.json").read_text())


@pytest.mark.parametrize(
    "entry",
    ENTRIES,
    ids=[
        f"{e['case']}:{e['format']}:{'deep' if e['deep_inspection'] else 'shallow'}"
        for e in ENTRIES
    ],
)
def test_statement_equals_chains_output(entry: dict[str, Any]) -> None:
    runs = parse_records(load_documents((CONFORMANCE / entry["input"]).read_bytes()))
    assert len(runs) == 1, "each conformance input holds one run to attest"
    cfg = SlsaConfig(
        format=entry["format"],
        builder_id=entry["builder_id"],
        build_type=entry["build_type"],
        deep_inspection=entry["deep_inspection"],
    )
    produced = json.loads(json.dumps(generate(runs[0], cfg)))
    expected = json.loads((CONFORMANCE / entry["expected"]).read_text())
    assert produced == expected


def test_every_index_entry_is_exercised() -> None:
    assert len(ENTRIES) == 55
