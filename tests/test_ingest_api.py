"""The v1 API over HTTP: ingest, attestations, envelopes, settings and keys."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson
import pytest
import yaml
from django.utils import timezone

from provenance import services
from provenance.models import ApiToken, Attestation, RunRecord, SettingsAudit, SigningKey
from tests.core.test_dsse import sslib_verify
from tests.factories import as_list, make_token, pipeline_docs, taskrun_doc

pytestmark = pytest.mark.django_db

RECORDS = "/api/v1/records"


@pytest.fixture(autouse=True)
def _keys(settings, tmp_path):
    settings.KEYS_DIR = tmp_path / "keys"


@pytest.fixture
def api(client, django_capture_on_commit_callbacks):
    class Api:
        def __init__(self) -> None:
            self.token = make_token(role="ingester")

        def _auth(self, token: str | None) -> dict[str, str]:
            token = self.token if token is None else token
            return {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}

        def post(self, body: bytes, *, token: str | None = None, ctype="application/json"):
            with django_capture_on_commit_callbacks(execute=True):
                return client.post(RECORDS, data=body, content_type=ctype, **self._auth(token))

        def get(self, url: str, *, token: str | None = None, **params: Any):
            return client.get(url, params, **self._auth(token))

        def patch(self, url: str, body: Any, *, token: str | None = None):
            with django_capture_on_commit_callbacks(execute=True):
                return client.patch(
                    url, data=orjson.dumps(body), content_type="application/json",
                    **self._auth(token),
                )  # fmt: skip

    return Api()


def test_post_list_returns_202_with_the_records(api) -> None:
    docs = pipeline_docs()
    response = api.post(as_list(docs))
    assert response.status_code == 202, response.content
    records = response.json()["records"]
    assert [(r["kind"], r["namespace"], r["name"], r["uid"]) for r in records] == [
        (d["kind"], "team-a", d["metadata"]["name"], d["metadata"]["uid"]) for d in docs
    ]
    assert Attestation.objects.count() == 1


def test_post_multi_document_yaml(api) -> None:
    docs = pipeline_docs()
    body = yaml.safe_dump_all(docs).encode()
    response = api.post(body, ctype="application/yaml")
    assert response.status_code == 202, response.content
    assert RunRecord.objects.count() == 3


def test_post_single_object(api) -> None:
    response = api.post(orjson.dumps(taskrun_doc()))
    assert response.status_code == 202
    assert response.json()["records"][0]["outcome"] == "created"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "invalid JSON"),
        (b"", "empty"),
        (b'{"kind": "Pod", "metadata": {"name": "p"}}', "not a Tekton TaskRun"),
        (b"a: [1\n", "invalid YAML"),
    ],
)
def test_bad_body_is_400_naming_the_problem(api, body, message) -> None:
    response = api.post(body)
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert not RunRecord.objects.exists()


def test_one_bad_record_rejects_the_whole_request(api) -> None:
    bad = taskrun_doc(name="broken")
    bad["status"]["steps"] = "nope"
    response = api.post(as_list([taskrun_doc(), bad]))
    assert response.status_code == 400
    assert "status.steps" in response.json()["error"]
    assert not RunRecord.objects.exists()


@pytest.mark.parametrize("when", ["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00"])
def test_a_time_that_overflows_in_utc_is_400_naming_the_field(api, when) -> None:
    bad = taskrun_doc()
    bad["status"]["startTime"] = when
    response = api.post(orjson.dumps(bad))
    assert response.status_code == 400
    assert "status.startTime is out of range" in response.json()["error"]
    assert not RunRecord.objects.exists()


def test_body_over_the_limit_is_413(api, settings) -> None:
    settings.INGEST_MAX_BYTES = 1000
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = api.post(as_list(pipeline_docs()))
    assert response.status_code == 413
    assert "larger than 1000 bytes" in response.json()["error"]
    assert not RunRecord.objects.exists()


def test_missing_or_bad_tokens_are_401(api) -> None:
    body = orjson.dumps(taskrun_doc())
    assert api.post(body, token="").status_code == 401
    response = api.post(body, token="cwt_wrong")
    assert response.status_code == 401
    assert "invalid" in response.json()["error"]
    row = ApiToken.objects.get()
    row.expires_at = timezone.now() - timedelta(seconds=1)
    row.save()
    assert api.post(body).status_code == 401
    row.expires_at, row.revoked_at = None, timezone.now()
    row.save()
    assert api.post(body).status_code == 401
    assert not RunRecord.objects.exists()


def test_viewer_cannot_ingest(api) -> None:
    response = api.post(orjson.dumps(taskrun_doc()), token=make_token(role="viewer"))
    assert response.status_code == 403
    assert "error" in response.json()


def test_record_in_another_namespace_is_403_and_nothing_is_stored(api) -> None:
    response = api.post(as_list([taskrun_doc(), taskrun_doc(namespace="team-b")]))
    assert response.status_code == 403
    assert "team-b" in response.json()["error"]
    assert not RunRecord.objects.exists()


def test_tokens_are_stored_hashed() -> None:
    row, token = services.api_token_create(name="ci", namespaces=["team-a"], role="ingester")
    assert token not in str(ApiToken.objects.filter(pk=row.pk).values().get())


def _signed_pipeline(api) -> tuple[list[dict[str, Any]], Attestation]:
    docs = pipeline_docs()
    assert api.post(as_list(docs)).status_code == 202
    return docs, Attestation.objects.get()


def test_attestations_by_subject_digest(api) -> None:
    docs, attestation = _signed_pipeline(api)
    subject = attestation.subjects.first()
    digest = f"{subject.algorithm}:{subject.hex}"
    response = api.get("/api/v1/attestations", subject_digest=digest)
    assert response.status_code == 200
    body = response.json()
    assert body["next"] is None
    (result,) = body["results"]
    assert result["id"] == attestation.pk
    assert result["namespace"] == "team-a"
    assert result["pipeline_run"] == docs[0]["metadata"]["name"]
    assert result["format"] == "slsa/v2alpha4" and result["scope"] == "per-run"
    assert result["status"] == "True"
    assert {"name": subject.uri, "digest": {subject.algorithm: subject.hex}} in result["subjects"]
    prefix = api.get("/api/v1/attestations", subject_digest_prefix=digest[:12]).json()
    assert [r["id"] for r in prefix["results"]] == [attestation.pk]
    other = api.get("/api/v1/attestations", subject_digest="sha256:" + "0" * 64).json()
    assert other["results"] == []
    by_run = api.get("/api/v1/attestations", pipeline_run=docs[0]["metadata"]["name"]).json()
    assert len(by_run["results"]) == 1


def test_bad_digest_filter_is_400(api) -> None:
    response = api.get("/api/v1/attestations", subject_digest="nothex")
    assert response.status_code == 400
    assert "sha256:<hex>" in response.json()["error"]


def test_attestation_list_is_cursor_paginated(api) -> None:
    for n in range(3):
        assert api.post(orjson.dumps(taskrun_doc(name=f"tr-{n}"))).status_code == 202
    first = api.get("/api/v1/attestations", page_size=2).json()
    assert len(first["results"]) == 2 and first["next"]
    second = api.get(first["next"]).json()
    assert len(second["results"]) == 1 and second["next"] is None
    ids = [r["id"] for r in first["results"] + second["results"]]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 3


def test_envelope_download_verifies(api) -> None:
    _, attestation = _signed_pipeline(api)
    response = api.get(f"/api/v1/attestations/{attestation.pk}/envelope")
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    key = SigningKey.objects.get(key_id=attestation.key_id)
    assert sslib_verify(response.content, key.public_key_pem, key.key_id) == bytes(
        attestation.statement
    )


def test_other_namespaces_attestations_are_404(api) -> None:
    _, attestation = _signed_pipeline(api)
    outsider = make_token(role="admin", namespaces=("team-b",))
    response = api.get(f"/api/v1/attestations/{attestation.pk}/envelope", token=outsider)
    assert response.status_code == 404
    assert "error" in response.json()
    assert api.get("/api/v1/attestations", token=outsider).json()["results"] == []
    assert api.get("/api/v1/namespaces/team-a/settings", token=outsider).status_code == 404
    patch = api.patch("/api/v1/namespaces/team-a/settings", {"format": "slsa/v1"}, token=outsider)
    assert patch.status_code == 403 and "team-a" in patch.json()["error"]


def test_settings_get_and_patch(api) -> None:
    _, first = _signed_pipeline(api)
    viewer = make_token(role="viewer")
    url = "/api/v1/namespaces/team-a/settings"
    got = api.get(url, token=viewer).json()
    assert got["format"] == "slsa/v2alpha4" and got["configured"] is False
    assert got["predicate"] == "SLSA v1.0"
    assert api.patch(url, {"format": "slsa/v1"}, token=viewer).status_code == 403
    admin = make_token(role="admin")
    response = api.patch(url, {"format": "slsa/v1", "deep_inspection": True}, token=admin)
    assert response.status_code == 200, response.content
    assert response.json()["format"] == "slsa/v1" and response.json()["configured"] is True
    audit = SettingsAudit.objects.get()
    assert audit.actor == "token:test-admin"
    assert audit.new["format"] == "slsa/v1" and audit.new["deep_inspection"] is True
    newest = Attestation.objects.latest("id")
    assert newest.format == "slsa/v1" and newest.pk != first.pk
    assert Attestation.objects.get(pk=first.pk).superseded_by == newest


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"format": "slsa/v9"}, "format"),
        ({"scope": "per-run", "emit": "on-artifact"}, "on-artifact needs per-artifact"),
        ({"colour": "blue"}, "unknown field(s): colour"),
        ({"deep_inspection": "maybe"}, "deep_inspection"),
    ],
)
def test_bad_settings_are_400(api, body, message) -> None:
    admin = make_token(role="admin")
    response = api.patch("/api/v1/namespaces/team-a/settings", body, token=admin)
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert not SettingsAudit.objects.exists()


def test_bad_namespace_name_is_400(api) -> None:
    response = api.get(
        "/api/v1/namespaces/Not_A_Namespace/settings", token=make_token(namespaces=())
    )
    assert response.status_code == 400


def test_keys_list_public_keys_only(api) -> None:
    key = services.signing_key_create(namespace="team-a", algorithm="ed25519", actor="t")
    services.signing_key_create(namespace="team-b", algorithm="ed25519", actor="t")
    response = api.get("/api/v1/keys")
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["key_id"] for r in results] == [key.key_id]
    assert results[0]["public_key"].startswith("-----BEGIN PUBLIC KEY-----")
    assert "PRIVATE" not in response.content.decode()


def test_database_unavailable_is_a_503_to_retry(client, monkeypatch) -> None:
    """What a client sees while Postgres restarts (tests/reliability/test_postgres_restart.py
    does it for real): a 503 with Retry-After and a JSON error, not a bare 500."""
    from django.db import OperationalError

    def down(**kwargs: Any) -> None:
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(services, "records_ingest", down)
    token = make_token(role="ingester")
    response = client.post(
        RECORDS,
        data=as_list([taskrun_doc()]),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json() == {"error": "the database is unavailable; retry shortly"}
    assert "closed the connection" not in response.content.decode()  # no internals leak
