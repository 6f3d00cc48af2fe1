"""chainsweb's engine against real Tekton Chains, on generated realistic records (issue 12).

``tests/data/differential/`` holds records from a seeded generator and, for each record and
configuration, what Chains' own formatter code did with it (see its README.md): the exact payload
bytes it signs, no statement (and why), a formatter error, or a panic. The engine must do the same:

- ``statement``: ``statement_bytes(generate(run, cfg))`` equals Chains' bytes exactly. Where
  Chains is nondeterministic (Go map order), the index names the unstable places: a list whose
  order varies is compared as a multiset, a value that varies must be one Chains produced; the
  rest of the statement is compared as decoded JSON with every list in order.
- ``none``: under the default policy the engine plans no statement, except for a run Chains
  skips because it has already signed it (``chains.tekton.dev/signed``), which chainsweb attests
  (a documented difference).
- ``error``: the engine refuses the record with a ProvenanceError.
- ``panic``: Chains crashes; the engine must not (a statement or a ProvenanceError).
"""

from __future__ import annotations

import functools
import json
import lzma
from typing import Any

import pytest

from provenance.core import ProvenanceError, SlsaConfig, generate, load_documents, parse_records
from provenance.core.intoto import statement_bytes
from provenance.core.plan import plan_statements

from .conftest import DATA

DIFFERENTIAL = DATA / "differential"
RECONCILED = "has been reconciled (chains.tekton.dev/signed)"
INDEX: list[dict[str, Any]] = json.loads((DIFFERENTIAL / "index.json").read_text())["entries"]


@functools.cache
def documents() -> dict[str, bytes]:
    with lzma.open(DIFFERENTIAL / "records.jsonl.xz", "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    return {r["case"]: r["document"].encode() for r in rows}


@functools.cache
def chains_payloads() -> dict[tuple[str, str], bytes]:
    with lzma.open(DIFFERENTIAL / "statements.jsonl.xz", "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    return {(r["case"], r["config"]): r["payload"].encode() for r in rows}


def _config(entry: dict[str, Any]) -> SlsaConfig:
    return SlsaConfig(
        format=entry["format"],
        builder_id=entry["builder_id"],
        build_type=entry["build_type"],
        deep_inspection=entry["deep_inspection"],
    )


def _run(entry: dict[str, Any]) -> Any:
    runs = parse_records(load_documents(documents()[entry["case"]]))
    tops = [r for r in runs if type(r).__name__ == entry["kind"]]
    assert len(runs) == 1 and tops, f"the case is one {entry['kind']}; parsed {len(runs)} runs"
    return runs[0]


def first_difference(want: Any, got: Any, path: str = "", *, key_order: bool = False) -> str | None:
    """The JSON path of the first place where two decoded statements differ, with both values;
    with ``key_order``, also where an object's keys come in another order."""
    if type(want) is not type(got):
        return f"{path or '/'}: Chains {_short(want)} | chainsweb {_short(got)}"
    if isinstance(want, dict):
        for k in want:
            if k not in got:
                return f"{path}/{k}: missing in chainsweb (Chains {_short(want[k])})"
            d = first_difference(want[k], got[k], f"{path}/{k}", key_order=key_order)
            if d:
                return d
        for k in got:
            if k not in want:
                return f"{path}/{k}: only in chainsweb ({_short(got[k])})"
        if key_order and list(want) != list(got):
            return f"{path or '/'}: key order Chains {list(want)} | chainsweb {list(got)}"
        return None
    if isinstance(want, list):
        for i, (w, g) in enumerate(zip(want, got, strict=False)):
            d = first_difference(w, g, f"{path}/{i}", key_order=key_order)
            if d:
                return d
        if len(want) != len(got):
            return f"{path}: {len(want)} items in Chains, {len(got)} in chainsweb"
        return None
    if want != got:
        return f"{path or '/'}: Chains {_short(want)} | chainsweb {_short(got)}"
    return None


def _short(v: Any) -> str:
    text = json.dumps(v, ensure_ascii=False)
    return text if len(text) < 300 else text[:300] + "..."


def _first_byte_difference(want: bytes, got: bytes) -> str:
    i = next(
        (n for n, (a, b) in enumerate(zip(want, got, strict=False)) if a != b),
        min(len(want), len(got)),
    )
    lo, hi = max(0, i - 60), i + 60
    return f"byte {i}: Chains {want[lo:hi]!r} | chainsweb {got[lo:hi]!r}"


def _pointer_get(doc: Any, path: str) -> Any:
    for part in path.split("/")[1:]:
        doc = doc[int(part)] if isinstance(doc, list) else doc[part]
    return doc


def _pointer_set(doc: Any, path: str, value: Any) -> None:
    *parents, last = path.split("/")[1:]
    for part in parents:
        doc = doc[int(part)] if isinstance(doc, list) else doc[part]
    doc[int(last) if isinstance(doc, list) else last] = value


def _settle(doc: Any, unstable: dict[str, Any], reference: Any) -> None:
    """Put the places Chains leaves to Go's map order in a comparable form, in place."""
    for path, how in unstable.items():
        value = _pointer_get(doc, path)
        if how.get("order"):
            _pointer_set(doc, path, sorted(value, key=lambda v: json.dumps(v, sort_keys=True)))
        else:
            assert value in how["choice"], f"{path}: {value!r} is none of Chains' {how['choice']!r}"
            _pointer_set(doc, path, _pointer_get(reference, path))


@pytest.mark.parametrize("entry", INDEX, ids=[f"{e['case']}:{e['config']}" for e in INDEX])
def test_engine_does_what_chains_does(entry: dict[str, Any]) -> None:
    outcome = entry["outcome"]
    cfg = _config(entry)
    if outcome == "statement":
        produced = generate(_run(entry), cfg)
        expected = chains_payloads()[(entry["case"], entry["config"])]
        unstable = entry.get("nondeterministic")
        if not unstable:
            got = statement_bytes(produced)
            if got != expected:
                want_doc, got_doc = json.loads(expected), json.loads(got)
                diff = first_difference(want_doc, got_doc) or first_difference(
                    want_doc, got_doc, key_order=True
                )
                pytest.fail(
                    diff or f"same JSON, different bytes: {_first_byte_difference(expected, got)}"
                )
            return
        want_doc, got_doc = json.loads(expected), json.loads(json.dumps(produced))
        _settle(want_doc, unstable, want_doc)
        _settle(got_doc, unstable, want_doc)
        diff = first_difference(want_doc, got_doc)
        assert diff is None, diff
    elif outcome == "none" and RECONCILED in entry["reason"]:
        # Chains' controller skips a run it has annotated as signed: it signed it before. That
        # annotation is Chains' bookkeeping, which chainsweb does not read (a record store fed by
        # a cluster that runs Chains still attests its runs): docs/chains-compatibility.md.
        plan = plan_statements(_run(entry), cfg)
        assert len(plan.statements) == 1
    elif outcome == "none":
        plan = plan_statements(_run(entry), cfg)
        assert not plan.statements, (
            f"Chains writes no statement ({entry['reason']}); chainsweb planned one"
        )
    elif outcome == "error":
        with pytest.raises(ProvenanceError):
            generate(_run(entry), cfg)
    else:
        assert outcome == "panic", outcome
        try:
            statement = generate(_run(entry), cfg)
        except ProvenanceError:
            return
        assert statement["_type"].startswith("https://in-toto.io/Statement/")


def test_corpus_is_large_and_covers_every_configuration() -> None:
    statements = [e for e in INDEX if e["outcome"] == "statement"]
    assert len(statements) >= 1000
    configs = {(e["kind"], e["format"], e["build_type"], e["deep_inspection"]) for e in statements}
    assert len(configs) == 5 + 10  # TaskRun: 5 configurations, PipelineRun: 10
    assert len(chains_payloads()) == len(statements)
