"""The hostile-input corpus (tests/data/hostile, issue 7) through every ingest path.

Each case is posted to ``POST /api/v1/records`` with an ingester token for every namespace,
fed to the engine (``load_documents`` + ``parse_records`` + ``generate`` for each format), and a
sample of the cases is also imported with ``manage.py import_records``. Whatever the input:

* never a 5xx (or, outside HTTP, an exception other than the engine's ``ProvenanceError``);
* never a hang: a ``SIGALRM`` guard turns a case still running after ``HANG_SECONDS`` into a
  failure instead of a stuck CI run (how fast cases are is bench/'s business, not a timed test);
* ``reject`` cases: the 4xx named in INDEX.json, a JSON body ``{"error": "..."}`` whose message
  names the problem, and no row written;
* ``store`` cases: 202, each posted object stored exactly as posted (``RunRecord.document``),
  the row's columns mirroring it, and every record settled after the eager compute: signed, or
  skipped / waiting / failed with a stored reason, never left pending;
* hostile strings (HTML/JS, formulas, unicode tricks) come back verbatim from the API: never
  HTML-escaped or rewritten. Escaping is the dashboard's and any export's job.

Known bugs are listed in ``KNOWN_BUGS`` and run as strict xfails: fixing one turns its cases
into failures until the entry is removed.
"""

from __future__ import annotations

import base64
import contextlib
import html
import importlib.util
import io
import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.management import CommandError, call_command
from django.test import Client

from provenance.core import (
    FORMATS,
    ProvenanceError,
    SlsaConfig,
    generate,
    load_documents,
    parse_records,
)
from provenance.core.intoto import statement_bytes
from provenance.models import Artifact, Attestation, ChainEntry, ComputeStatus, RunRecord
from tests.alarm import raise_after
from tests.factories import NamespaceSettingsFactory, make_token

HOSTILE = Path(__file__).resolve().parent / "data" / "hostile"
RECORDS = "/api/v1/records"
ATTESTATIONS = "/api/v1/attestations"
# A case still running after this is a hang: SIGALRM interrupts it and the test fails. The
# slowest cases (200k-element bodies) take 2-5 s on an idle 2-core machine and 10 s or more
# when other jobs share it, so this bounds hangs, not speed.
HANG_SECONDS = 60


def _load_corpus_module() -> Any:
    spec = importlib.util.spec_from_file_location("make_corpus", HOSTILE / "make_corpus.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


corpus = _load_corpus_module()
CASES: list[dict[str, Any]] = json.loads((HOSTILE / "INDEX.json").read_text())["cases"]


def case_id(case: dict[str, Any]) -> str:
    return Path(case["file"]).name.split(".")[0]


# ---------------------------------------------------------------------------------------------
# Known bugs: case id -> {path: reason}. Paths: "api", "engine", "import".

# None open at the moment; add a reason constant and a _bug(...) call for a new one.
KNOWN_BUGS: dict[str, dict[str, str]] = {}


def _bug(ids: list[str], reason: str, paths: tuple[str, ...] = ("api", "import")) -> None:
    for cid in ids:
        for path in paths:
            KNOWN_BUGS.setdefault(cid, {})[path] = reason


def _params(path: str, cases: list[dict[str, Any]]) -> list[Any]:
    params = []
    for case in cases:
        reason = KNOWN_BUGS.get(case_id(case), {}).get(path)
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        params.append(pytest.param(case, id=case_id(case), marks=marks))
    return params


# ---------------------------------------------------------------------------------------------
# Helpers


class CaseHung(Exception):
    pass


def deadline(seconds: int) -> contextlib.AbstractContextManager[None]:
    """Interrupt the block with CaseHung after ``seconds``."""
    return raise_after(seconds, lambda: CaseHung(f"still running after {seconds} s"))


def case_body(case: dict[str, Any], max_bytes: int) -> tuple[bytes, str]:
    path = HOSTILE / case["file"]
    if path.name.endswith(".gen.json"):
        body, ctype = corpus.generated_body(json.loads(path.read_text()), max_bytes)
        return bytes(body), str(ctype)
    ctype = "application/yaml" if path.suffix == ".yaml" else "application/json"
    return path.read_bytes(), ctype


def row_counts() -> tuple[int, int, int, int]:
    return (
        RunRecord.objects.count(),
        Artifact.objects.count(),
        Attestation.objects.count(),
        ChainEntry.objects.count(),
    )


class _KubeYamlLoader(yaml.SafeLoader):
    """Reference YAML reader: SafeLoader, timestamps kept as strings (as kubectl does)."""


_KubeYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def posted_objects(body: bytes, ctype: str) -> list[dict[str, Any]]:
    """The objects a client meant to send, read with the standard library / plain PyYAML
    (not the engine's reader), Lists and arrays flattened."""
    text = body.decode("utf-8-sig")
    stripped = text.lstrip()
    docs: list[Any]
    if stripped[:1] in ("{", "["):
        parsed = json.loads(text.lstrip("\ufeff"))
        docs = parsed if isinstance(parsed, list) else [parsed]
    else:
        docs = []
        for doc in yaml.load_all(text, Loader=_KubeYamlLoader):  # noqa: S506 - safe subclass
            docs.extend(doc if isinstance(doc, list) else [] if doc is None else [doc])
    flat: list[dict[str, Any]] = []

    def expand(doc: Any) -> None:
        kind = doc.get("kind")
        if isinstance(kind, str) and kind.endswith("List") and "items" in doc:
            for item in doc["items"]:
                expand(item)
        else:
            flat.append(doc)

    for doc in docs:
        expand(doc)
    return flat


def same(a: Any, b: Any, where: str = "$") -> None:
    """Exact equality: same types (1 is not 1.0 is not True), same key order, same values."""
    assert type(a) is type(b), f"{where}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, dict):
        assert list(a) == list(b), f"{where}: keys {list(a)[:20]} != {list(b)[:20]}"
        for key in a:
            same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list):
        assert len(a) == len(b), f"{where}: length {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            same(x, y, f"{where}[{i}]")
    else:
        assert a == b, f"{where}: {a!r:.200} != {b!r:.200}"


def strings_in(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)


SETTLED = {
    ComputeStatus.SIGNED,
    ComputeStatus.SKIPPED,
    ComputeStatus.WAITING,
    ComputeStatus.FAILED,
    ComputeStatus.CHILD,
}


def assert_stored_exactly(posted: list[dict[str, Any]]) -> list[RunRecord]:
    """Each posted object is a row whose raw record is the object, columns mirroring it."""
    by_uid: dict[str, dict[str, Any]] = {}
    for obj in posted:
        by_uid[str(obj["metadata"]["uid"])] = obj
    records = list(RunRecord.objects.filter(uid__in=list(by_uid)))
    assert sorted(r.uid for r in records) == sorted(by_uid), "every object stored once"
    assert RunRecord.objects.count() == len(by_uid), "nothing else stored"
    for record in records:
        obj = by_uid[record.uid]
        same(record.document, obj)
        meta = obj["metadata"]
        assert record.kind == obj["kind"]
        assert record.name == meta["name"], "name column verbatim"
        assert record.namespace == meta["namespace"], "namespace column verbatim"
        labels = meta.get("labels") or {}
        assert record.labels == {k: "" if v is None else str(v) for k, v in labels.items()}
    return records


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    mapping = dict(pairs)
    if len(mapping) != len(pairs):
        seen: set[str] = set()
        twice = sorted({key for key, _ in pairs if key in seen or seen.add(key)})
        raise AssertionError(f"keys given twice: {twice}")
    return mapping


def _at(document: Any, path: str) -> Any:
    for part in path.split("."):
        document = document[int(part)] if isinstance(document, list) else document[part]
    return document


def assert_last_wins(case: dict[str, Any], body: bytes, records: list[RunRecord]) -> None:
    """A key given twice in a JSON object: the last value is the one stored (as Go's
    encoding/json, which Chains decodes with, reads it), and the stored raw record holds the
    key once: nothing later can read the other value."""
    if not case.get("last_wins"):
        return
    with pytest.raises(AssertionError, match="keys given twice"):
        json.loads(body, object_pairs_hook=_refuse_duplicates)  # the case really has some
    assert len(records) == 1, [r.uid for r in records]
    record = records[0]
    for path, value in case["last_wins"].items():
        assert _at(record.document, path) == value, path
    raw = zlib.decompress(bytes(record.raw))
    json.loads(raw, object_pairs_hook=_refuse_duplicates)


def assert_settled(records: list[RunRecord]) -> None:
    """The reliability rule: signed, or not signed with a stored reason; never pending."""
    for record in records:
        record.refresh_from_db()
        what = f"{record.kind} {record.name!r:.80}: {record.compute_status}"
        assert record.compute_status in SETTLED, f"{what} (never settled)"
        if record.compute_status == ComputeStatus.SIGNED:
            assert record.attestations.exists(), f"{what} without an attestation"
        elif record.compute_status == ComputeStatus.CHILD:
            parent = RunRecord.objects.filter(uid=record.parent_uid).first()
            assert parent is not None, f"{what} with no parent row"
            assert parent.compute_status in SETTLED - {ComputeStatus.CHILD}, what
        else:
            assert record.compute_reason.strip(), f"{what} without a reason"


def assert_artifacts_canonical() -> None:
    """Digest search relies on canonical rows: a known algorithm, lower-case hex of its size."""
    sizes = {"sha1": 40, "sha256": 64, "sha384": 96, "sha512": 128}
    for artifact in Artifact.objects.all():
        assert artifact.algorithm in sizes, f"algorithm {artifact.algorithm!r} in the index"
        assert len(artifact.hex) == sizes[artifact.algorithm], artifact.hex
        assert all(ch in "0123456789abcdef" for ch in artifact.hex), artifact.hex


def apply_settings(case: dict[str, Any]) -> None:
    """Cases that need another statement format (e.g. slsa/v1 for ARTIFACT_URI subjects)."""
    if case.get("format"):
        NamespaceSettingsFactory(namespace=corpus.NS, format=case["format"])


def assert_compute(case: dict[str, Any], records: list[RunRecord]) -> None:
    if case.get("compute"):
        top = [r for r in records if r.compute_status != ComputeStatus.CHILD]
        assert top and {r.compute_status for r in top} == {case["compute"]}, [
            (r.name, r.compute_status, r.compute_reason[:100]) for r in top
        ]


def assert_rejected(case: dict[str, Any], response: Any, before: tuple[int, ...]) -> None:
    assert response.status_code == case["status"], response.content[:500]
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert list(body) == ["error"], body
    message = body["error"]
    assert isinstance(message, str) and message.strip(), body
    wanted = case["error"]
    assert any(w.lower() in message.lower() for w in wanted), (
        f"the error {message[:300]!r} names none of {wanted}"
    )
    assert row_counts() == before, "a rejected body wrote rows"


# ---------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(autouse=True)
def _keys(settings, tmp_path):
    settings.KEYS_DIR = tmp_path / "keys"


@pytest.fixture
def token(db) -> str:
    # An ingester for every namespace: the widest ingest right, as import_records has.
    return make_token(role="ingester", namespaces=())


def test_the_corpus_is_big_and_reproducible(tmp_path) -> None:
    """At least 200 cases in every category of the issue, INDEX.json matching make_corpus.py."""
    assert len(CASES) >= 200
    assert {c["category"] for c in CASES} >= {
        "malformed-json", "truncated", "malformed-yaml", "yaml-alias", "yaml-tags",
        "duplicate-keys", "case-variant-keys", "nul-bytes", "surrogates-utf8", "deep-nesting",
        "huge-arrays", "oversized", "digests", "names", "html-js", "csv-formula",
        "wrong-types", "kinds",
    }  # fmt: skip
    built = corpus.build()
    assert built.cases == CASES, "INDEX.json is stale: run tests/data/hostile/make_corpus.py"
    on_disk = {p.name for p in (HOSTILE / "cases").iterdir()}
    assert on_disk == set(built.files), "cases/ is stale: run tests/data/hostile/make_corpus.py"
    for name, data in built.files.items():
        assert (HOSTILE / "cases" / name).read_bytes() == data, f"{name} is stale"
    assert sum(len(d) for d in built.files.values()) < 2 * 2**20, "keep the corpus small"


# ---------------------------------------------------------------------------------------------
# POST /api/v1/records


@pytest.mark.django_db
@pytest.mark.parametrize("case", _params("api", CASES))
def test_api(case, token, settings, django_capture_on_commit_callbacks) -> None:
    body, ctype = case_body(case, settings.INGEST_MAX_BYTES)
    apply_settings(case)
    client = Client(raise_request_exception=False)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    before = row_counts()
    with deadline(HANG_SECONDS), django_capture_on_commit_callbacks(execute=True):
        response = client.post(RECORDS, data=body, content_type=ctype, **auth)
    assert response.status_code < 500, response.content[:500]
    if case["expect"] == "reject":
        assert_rejected(case, response, before)
        return
    assert response.status_code == 202, response.content[:500]
    posted = posted_objects(body, ctype)
    records = assert_stored_exactly(posted)
    answered = response.json()["records"]
    for item, obj in zip(answered, posted, strict=True):
        assert item["name"] == obj["metadata"]["name"], "names come back verbatim"
        assert item["namespace"] == obj["metadata"]["namespace"]
    assert_last_wins(case, body, records)
    assert_settled(records)
    assert_compute(case, records)
    assert_artifacts_canonical()
    if case.get("payloads"):
        assert_verbatim_from_api(case, client, auth, response)


def assert_verbatim_from_api(case: dict[str, Any], client: Client, auth: dict[str, str],
                             response: Any) -> None:  # fmt: skip
    """Hostile strings come back from the API exactly: never escaped, never rewritten."""
    texts = list(strings_in(response.json()))
    listing = client.get(ATTESTATIONS, {"page_size": 500}, **auth)
    assert listing.status_code == 200, listing.content[:500]
    texts += strings_in(listing.json())
    for attestation in listing.json()["results"]:
        envelope = client.get(attestation["envelope_url"], **auth)
        assert envelope.status_code == 200
        payload = base64.b64decode(json.loads(envelope.content)["payload"])
        texts += strings_in(json.loads(payload))
    for payload in case["payloads"]:
        escaped = html.escape(payload)
        if escaped != payload:
            assert not any(escaped in text for text in texts), f"{payload!r} came back escaped"
    for payload in case.get("echo", []):
        assert any(payload in text for text in texts), f"{payload!r} did not come back verbatim"


# ---------------------------------------------------------------------------------------------
# The engine: load_documents + parse_records + generate (every format) + statement bytes


@pytest.mark.parametrize("case", _params("engine", CASES))
def test_engine(case, settings) -> None:
    body, ctype = case_body(case, settings.INGEST_MAX_BYTES)
    with deadline(HANG_SECONDS):
        try:
            runs = parse_records(load_documents(body))
        except ProvenanceError:
            assert case["expect"] == "reject", "a case the service must store failed to parse"
            runs = []
        for fmt in FORMATS:
            for run in runs:
                with contextlib.suppress(ProvenanceError):
                    statement_bytes(generate(run, SlsaConfig(format=fmt)))


# ---------------------------------------------------------------------------------------------
# manage.py import_records, on a sample: the first case of each category and every fourth case


def _import_sample() -> list[dict[str, Any]]:
    seen: set[str] = set()
    sample = []
    for index, case in enumerate(CASES):
        if case["category"] == "oversized":
            continue  # import_records reads operator-chosen files; it has no size limit
        if case["category"] not in seen or index % 4 == 0:
            sample.append(case)
        seen.add(case["category"])
    return sample


IMPORT_SAMPLE = _import_sample()


@pytest.mark.django_db
@pytest.mark.parametrize("case", _params("import", IMPORT_SAMPLE))
def test_import_records(case, settings, tmp_path, django_capture_on_commit_callbacks) -> None:
    body, ctype = case_body(case, settings.INGEST_MAX_BYTES)
    path = tmp_path / ("case.yaml" if ctype == "application/yaml" else "case.json")
    path.write_bytes(body)
    apply_settings(case)
    before = row_counts()
    out = io.StringIO()
    with deadline(HANG_SECONDS), django_capture_on_commit_callbacks(execute=True):
        try:
            call_command("import_records", str(path), "--no-progress", stdout=out, stderr=out)
            failed = None
        except CommandError as exc:
            failed = exc
    if case["expect"] == "reject":
        assert failed is not None, out.getvalue()
        assert row_counts() == before, "a rejected file wrote rows"
        assert any(w.lower() in out.getvalue().lower() for w in case["error"]), out.getvalue()
        return
    assert failed is None, out.getvalue()
    records = assert_stored_exactly(posted_objects(body, ctype))
    assert_last_wins(case, body, records)
    assert_settled(records)
    assert_compute(case, records)


# ---------------------------------------------------------------------------------------------
# A crash inside compute (any exception the engine did not mean) must not leave a run pending


@pytest.mark.django_db
def test_unexpected_compute_error_is_stored_on_the_run(
    token, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    from provenance.services import attest

    def crash(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom: an engine bug")

    monkeypatch.setattr(attest, "plan_statements", crash)
    body = (HOSTILE / "cases" / "csv-formula--f5-name-and-result.json").read_bytes()
    client = Client(raise_request_exception=False)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            RECORDS, data=body, content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )  # fmt: skip
    assert response.status_code == 202
    record = RunRecord.objects.get()
    assert record.compute_status == ComputeStatus.FAILED, record.compute_status
    assert "boom" in record.compute_reason
