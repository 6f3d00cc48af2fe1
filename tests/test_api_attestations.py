"""Attestation search, detail and downloads; artifacts and the per-digest JSON Lines bundle.

Downloads are verified with securesystemslib (an independent DSSE implementation) against the
public key the API itself serves at /api/v1/keys.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import orjson
import pytest
from django.utils import timezone

from provenance import services
from provenance.models import Attestation
from tests.apidata import (
    Caller,
    caller_with_token,
    signed_pipeline,
    signed_taskrun,
    tamper,
    token,
)
from tests.core.test_dsse import sslib_verify

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _keys(settings, tmp_path):
    settings.KEYS_DIR = tmp_path / "keys"


@pytest.fixture
def viewer() -> Caller:
    return caller_with_token(token(role="viewer", namespaces=("team-a", "team-b")))


def ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.content
    return [r["id"] for r in response.json()["results"]]


def served_key(caller: Caller, key_id: str) -> str:
    keys = caller.get("/api/v1/keys").json()["results"]
    pem: str = next(k["public_key"] for k in keys if k["key_id"] == key_id)
    return pem


@pytest.fixture
def corpus() -> dict[str, Any]:
    """Per-run v1.0 (team-a), per-artifact v0.2 (team-b, failed run), a standalone TaskRun."""
    _, (a1,), digest_a = signed_pipeline(namespace="team-a", name="build-1")
    _, (b1,), digest_b = signed_pipeline(
        namespace="team-b",
        name="build-2",
        pr_status="False",
        settings={"format": "slsa/v1", "scope": "per-artifact", "emit": "on-completion"},
    )
    _, (t1,), digest_t = signed_taskrun(namespace="team-a", name="solo-1")
    return {"a1": a1, "b1": b1, "t1": t1, "digest_a": digest_a, "digest_b": digest_b}


def test_every_filter(viewer, corpus) -> None:
    a1, b1, t1 = corpus["a1"], corpus["b1"], corpus["t1"]
    get = viewer.get
    url = "/api/v1/attestations"
    assert ids(get(url)) == [t1.pk, b1.pk, a1.pk]
    assert ids(get(url, subject_digest=corpus["digest_a"])) == [a1.pk]
    assert ids(get(url, subject_digest=corpus["digest_a"].upper().replace("SHA", "sha"))) == [a1.pk]
    assert ids(get(url, subject_digest_prefix=corpus["digest_b"][:11])) == [b1.pk]
    assert ids(get(url, subject_name="gcr.io/my/image")) == [t1.pk]
    assert ids(get(url, subject_name="test.io/test/image")) == [b1.pk, a1.pk]
    assert ids(get(url, namespace="team-b")) == [b1.pk]
    assert ids(get(url, pipeline_run="build-1")) == [a1.pk]
    assert ids(get(url, pipeline_run=a1.run.uid)) == [a1.pk]
    assert ids(get(url, format="slsa/v1")) == [b1.pk]
    assert ids(get(url, format="slsa/v2alpha4")) == [t1.pk, a1.pk]
    assert ids(get(url, scope="per-artifact")) == [b1.pk]
    assert ids(get(url, status="False")) == [b1.pk]
    assert ids(get(url, status="True")) == [t1.pk, a1.pk]
    created = Attestation.objects.get(pk=b1.pk).created
    after = (created - timedelta(microseconds=1)).isoformat()
    assert ids(get(url, created_after=after)) == [t1.pk, b1.pk]
    assert ids(get(url, created_before=created.isoformat())) == [b1.pk, a1.pk]
    future = (timezone.now() + timedelta(days=1)).isoformat()
    assert ids(get(url, created_after=future)) == []
    assert ids(get(url, current="true")) == [t1.pk, b1.pk, a1.pk]
    assert ids(get(url, current="false")) == []
    assert ids(get(url, verified="true")) == [t1.pk, b1.pk, a1.pk]
    assert ids(get(url, verified="false")) == []
    # Filters combine.
    assert ids(get(url, namespace="team-a", scope="per-run", status="True")) == [t1.pk, a1.pk]


@pytest.mark.parametrize(
    ("param", "value", "message"),
    [
        ("subject_digest", "nothex", "sha256:<hex>"),
        ("subject_digest_prefix", "sha256:ab", "at least 4 hex"),
        ("format", "slsa/v9", "format"),
        ("scope", "everything", "scope"),
        ("status", "ok", "status"),
        ("created_after", "last week", "created_after"),
        ("verified", "perhaps", "verified"),
    ],
)
def test_bad_filters_are_400(viewer, param, value, message) -> None:
    response = viewer.get("/api/v1/attestations", **{param: value})
    assert response.status_code == 400
    assert message in response.json()["error"]


def test_superseded_and_current(viewer) -> None:
    _, (first,), _ = signed_pipeline(namespace="team-a")
    services.namespace_settings_update(namespace="team-a", changes={"format": "slsa/v1"}, actor="t")
    services.attestations_generate(run_id=first.run_id)
    second = Attestation.objects.exclude(pk=first.pk).get()
    url = "/api/v1/attestations"
    assert ids(viewer.get(url, current="true")) == [second.pk]
    assert ids(viewer.get(url, current="false")) == [first.pk]
    detail = viewer.get(f"{url}/{second.pk}").json()
    assert detail["supersedes"] == [first.pk] and detail["superseded_by"] is None
    assert viewer.get(f"{url}/{first.pk}").json()["superseded_by"] == second.pk


def test_verified_filter_and_flag_follow_a_tampered_row(viewer, corpus) -> None:
    a1, b1, t1 = corpus["a1"], corpus["b1"], corpus["t1"]
    statement = orjson.loads(bytes(a1.statement))
    statement["predicate"]["buildDefinition"]["externalParameters"]["tampered"] = True
    forged = orjson.dumps(statement)
    tamper(
        "UPDATE provenance_attestation SET statement = %s, statement_sha256 = %s WHERE id = %s",
        [forged, hashlib.sha256(forged).hexdigest(), a1.pk],
    )
    url = "/api/v1/attestations"
    assert ids(viewer.get(url, verified="true")) == [t1.pk, b1.pk]
    assert ids(viewer.get(url, verified="false")) == [a1.pk]
    rows = {r["id"]: r["verified"] for r in viewer.get(url).json()["results"]}
    assert rows == {t1.pk: True, b1.pk: True, a1.pk: False}
    detail = viewer.get(f"{url}/{a1.pk}").json()
    assert detail["verified"] is False
    assert any("payload is not the statement" in p for p in detail["problems"])


def test_verified_filter_refuses_unbounded_scans(viewer, corpus, settings) -> None:
    settings.API_VERIFIED_FILTER_MAX = 2
    response = viewer.get("/api/v1/attestations", verified="true")
    assert response.status_code == 400 and "narrow" in response.json()["error"]
    assert ids(viewer.get("/api/v1/attestations", verified="true", namespace="team-a")) == [
        corpus["t1"].pk,
        corpus["a1"].pk,
    ]


def test_detail_fields(viewer, corpus) -> None:
    a1 = corpus["a1"]
    body = viewer.get(f"/api/v1/attestations/{a1.pk}").json()
    assert body["id"] == a1.pk and body["namespace"] == "team-a"
    assert body["predicate"] == "SLSA v1.0" and body["verified"] is True and body["problems"] == []
    assert body["settings"]["format"] == "slsa/v2alpha4"
    assert body["envelope_url"].endswith(f"/attestations/{a1.pk}/envelope")
    assert body["statement_url"].endswith(f"/attestations/{a1.pk}/statement")
    assert body["run_url"].endswith(f"/records/{a1.run.uid}")
    assert body["chain_seq"] == a1.chain_entry.seq
    assert body["statement_sha256"] == a1.statement_sha256


def test_envelope_and_statement_downloads_verify_with_securesystemslib(viewer, corpus) -> None:
    for name in ("a1", "b1", "t1"):
        attestation = corpus[name]
        envelope = viewer.get(f"/api/v1/attestations/{attestation.pk}/envelope")
        assert envelope.status_code == 200
        assert envelope["Content-Type"] == "application/vnd.dsse.envelope.v1+json"
        assert envelope["Content-Disposition"] == (
            f'attachment; filename="attestation-{attestation.pk}.dsse.json"'
        )
        statement = viewer.get(f"/api/v1/attestations/{attestation.pk}/statement")
        assert statement.status_code == 200
        assert statement["Content-Type"] == "application/vnd.in-toto+json"
        assert statement["Content-Disposition"] == (
            f'attachment; filename="attestation-{attestation.pk}.intoto.json"'
        )
        pem = served_key(viewer, attestation.key_id)
        # The envelope verifies, and its payload is byte for byte the statement download.
        assert sslib_verify(envelope.content, pem, attestation.key_id) == statement.content
        assert hashlib.sha256(statement.content).hexdigest() == attestation.statement_sha256


def test_other_namespaces_attestations_are_404(corpus) -> None:
    outsider = caller_with_token(token(namespaces=("team-b",)))
    a1 = corpus["a1"]
    for suffix in ("", "/envelope", "/statement"):
        response = outsider.get(f"/api/v1/attestations/{a1.pk}{suffix}")
        assert response.status_code == 404
        assert response.json() == {"error": "no such attestation"}
    assert ids(outsider.get("/api/v1/attestations")) == [corpus["b1"].pk]
    assert ids(outsider.get("/api/v1/attestations", subject_digest=corpus["digest_a"])) == []
    assert outsider.get("/api/v1/attestations/999999999").status_code == 404
    # An id too large for the database is an ordinary 404 (JSON), not an error.
    huge = outsider.get("/api/v1/attestations/99999999999999999999999")
    assert huge.status_code == 404 and huge.json() == {"error": "not found"}


def test_attestation_list_paginates_across_pages(viewer, settings) -> None:
    settings.API_PAGE_SIZE = 2
    made = [signed_taskrun(name=f"solo-{n}")[1][0].pk for n in range(5)]
    seen: list[int] = []
    url: str | None = "/api/v1/attestations"
    while url:
        body = viewer.client.get(url, **viewer.headers).json()
        seen.extend(r["id"] for r in body["results"])
        url = body["next"]
    assert seen == sorted(made, reverse=True)


# =============================================================================================
# Artifacts


def test_artifact_search(viewer, corpus) -> None:
    url = "/api/v1/artifacts"
    everything = viewer.get(url).json()["results"]
    digest_a, digest_b = corpus["digest_a"], corpus["digest_b"]
    by_digest = viewer.get(url, digest=digest_a).json()["results"]
    assert [(r["uri"], r["digest"]) for r in by_digest] == [("test.io/test/image", digest_a)]
    (row,) = by_digest
    assert row["namespaces"] == ["team-a"] and row["attestation_count"] == 1
    assert row["algorithm"] == "sha256" and row["hex"] == digest_a.split(":")[1]
    assert row["url"].endswith(f"/api/v1/artifacts/{row['id']}")
    assert row["attestations_url"].endswith(f"/api/v1/artifacts/{digest_a}/attestations.jsonl")
    prefix = viewer.get(url, digest_prefix=digest_b[:12]).json()["results"]
    assert [r["digest"] for r in prefix] == [digest_b]
    named = viewer.get(url, uri="test.io/test/image").json()["results"]
    assert {r["digest"] for r in named} == {digest_a, digest_b}
    in_b = viewer.get(url, namespace="team-b").json()["results"]
    assert {r["digest"] for r in in_b} == {digest_b}
    assert {r["digest"] for r in everything} >= {digest_a, digest_b}
    assert viewer.get(url, digest="sha256:" + "0" * 64).json()["results"] == []


def test_artifact_counts_and_namespaces_only_count_what_the_caller_sees(corpus) -> None:
    # One digest attested in two namespaces.
    shared = "shared"
    _, _, digest = signed_pipeline(namespace="team-a", name="x-1", label=shared)
    signed_pipeline(namespace="team-b", name="x-2", label=shared)
    both = caller_with_token(token(namespaces=("team-a", "team-b")))
    only_a = caller_with_token(token(namespaces=("team-a",)))
    (row_both,) = both.get("/api/v1/artifacts", digest=digest).json()["results"]
    (row_a,) = only_a.get("/api/v1/artifacts", digest=digest).json()["results"]
    assert row_both["namespaces"] == ["team-a", "team-b"] and row_both["attestation_count"] == 2
    assert row_a["namespaces"] == ["team-a"] and row_a["attestation_count"] == 1
    detail = only_a.get(f"/api/v1/artifacts/{row_a['id']}").json()
    assert [a["namespace"] for a in detail["attestations"]] == ["team-a"]
    lines = only_a.get(f"/api/v1/artifacts/{digest}/attestations.jsonl").content.splitlines()
    assert len(lines) == 1


def test_artifact_detail_lists_its_attestations(viewer, corpus) -> None:
    artifact = corpus["a1"].subjects.get(hex=corpus["digest_a"].split(":")[1])
    body = viewer.get(f"/api/v1/artifacts/{artifact.pk}").json()
    assert body["uri"] == "test.io/test/image" and body["digest"] == corpus["digest_a"]
    assert [a["id"] for a in body["attestations"]] == [corpus["a1"].pk]
    assert body["attestations"][0]["verified"] is True
    outsider = caller_with_token(token(namespaces=("team-b",)))
    assert outsider.get(f"/api/v1/artifacts/{artifact.pk}").status_code == 404


def test_attestations_jsonl_has_every_envelope_and_each_verifies(viewer) -> None:
    label = "bundle"
    _, (first,), digest = signed_pipeline(namespace="team-a", name="b-1", label=label)
    _, (second,), _ = signed_pipeline(namespace="team-b", name="b-2", label=label)
    response = viewer.get(f"/api/v1/artifacts/{digest}/attestations.jsonl")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/jsonl"
    assert "attachment" in response["Content-Disposition"]
    assert response.content.endswith(b"\n")
    lines = response.content.split(b"\n")[:-1]
    assert lines == [bytes(first.envelope), bytes(second.envelope)]
    for line, attestation in zip(lines, (first, second), strict=True):
        pem = served_key(viewer, attestation.key_id)
        payload = sslib_verify(line, pem, attestation.key_id)
        assert payload == bytes(attestation.statement)
        subjects = orjson.loads(payload)["subject"]
        assert any(s["digest"].get("sha256") == digest.split(":")[1] for s in subjects)


def test_attestations_jsonl_unknown_or_invisible_digest_is_404(corpus) -> None:
    outsider = caller_with_token(token(namespaces=("team-b",)))
    for digest in (corpus["digest_a"], "sha256:" + "0" * 64):
        response = outsider.get(f"/api/v1/artifacts/{digest}/attestations.jsonl")
        assert response.status_code == 404
        assert response.json() == {"error": "no attestation names this digest"}


def test_keys_are_scoped_to_visible_namespaces() -> None:
    key_a = services.signing_key_create(namespace="team-a", algorithm="ed25519", actor="t")
    services.signing_key_create(namespace="team-b", algorithm="ed25519", actor="t")
    default = services.signing_key_create(namespace="", algorithm="ecdsa-p256", actor="t")
    only_a = caller_with_token(token(namespaces=("team-a",)))
    got = {k["key_id"] for k in only_a.get("/api/v1/keys").json()["results"]}
    assert got == {key_a.key_id, default.key_id}
    everyone = caller_with_token(token(namespaces=()))
    assert len(everyone.get("/api/v1/keys").json()["results"]) == 3
