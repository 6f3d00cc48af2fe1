"""GET /api/v1/records (filters, pagination), /records/{uid} and /records/{uid}/raw."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from provenance.models import RunRecord
from tests.apidata import (
    Caller,
    caller_with_token,
    ingest_and_sign,
    signed_pipeline,
    signed_taskrun,
    staff_session,
    token,
)
from tests.factories import pipeline_docs, taskrun_doc

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _keys(settings, tmp_path):
    settings.KEYS_DIR = tmp_path / "keys"


@pytest.fixture
def viewer() -> Caller:
    return caller_with_token(token(role="viewer", namespaces=("team-a", "team-b")))


def names(response: Any) -> list[tuple[str, str]]:
    assert response.status_code == 200, response.content
    return [(r["kind"], r["name"]) for r in response.json()["results"]]


def test_list_is_newest_first_with_stable_fields(viewer) -> None:
    docs, _, _ = signed_pipeline()
    response = viewer.get("/api/v1/records")
    body = response.json()
    assert body["next"] is None and body["previous"] is None
    rows = body["results"]
    assert len(rows) == 3
    assert [r["uid"] for r in rows] == list(
        RunRecord.objects.order_by("-id").values_list("uid", flat=True)
    )
    pr = next(r for r in rows if r["kind"] == "PipelineRun")
    assert set(pr) == {
        "uid", "kind", "namespace", "name", "pipeline", "task", "pipeline_task", "parent_uid",
        "parent_name", "status", "reason", "start_time", "completion_time", "labels",
        "resource_version", "first_seen", "updated", "compute_status", "compute_reason",
        "source", "url", "raw_url", "raw_sha256", "pruned_at", "pruned_retention_days",
    }  # fmt: skip
    assert pr["source"] == {"kind": "watch", "cluster": "test", "watcher": "tests"}
    assert pr["pipeline"] == "test-pipeline" and pr["compute_status"] == "signed"
    assert pr["url"] == f"http://testserver/api/v1/records/{pr['uid']}"
    build = next(r for r in rows if r["pipeline_task"] == "build")
    assert build["parent_uid"] == pr["uid"] and build["parent_name"] == "build-1"
    assert build["task"] == "build" and build["compute_status"] == "child"


def test_filters(viewer) -> None:
    signed_pipeline(namespace="team-a", name="build-1")
    signed_pipeline(namespace="team-b", name="build-2", pr_status="False")
    signed_taskrun(namespace="team-a", name="solo-1")
    get = viewer.get
    assert len(names(get("/api/v1/records"))) == 7
    assert {n for _, n in names(get("/api/v1/records", namespace="team-b"))} == {
        "build-2",
        "git-clone",
        "taskrun-build",
    }
    assert names(get("/api/v1/records", kind="PipelineRun")) == [
        ("PipelineRun", "build-2"),
        ("PipelineRun", "build-1"),
    ]
    assert names(get("/api/v1/records", pipeline="test-pipeline")) == [
        ("PipelineRun", "build-2"),
        ("PipelineRun", "build-1"),
    ]
    assert names(get("/api/v1/records", pipeline="nope")) == []
    assert names(get("/api/v1/records", status="False")) == [("PipelineRun", "build-2")]
    assert names(get("/api/v1/records", kind="TaskRun", task="build")) == [
        ("TaskRun", "solo-1"),
        ("TaskRun", "taskrun-build"),
        ("TaskRun", "taskrun-build"),
    ]
    children = names(get("/api/v1/records", pipeline_run="build-1"))
    assert sorted(children) == [("TaskRun", "git-clone"), ("TaskRun", "taskrun-build")]
    assert names(get("/api/v1/records", name="solo-1")) == [("TaskRun", "solo-1")]
    assert len(names(get("/api/v1/records", compute_status="signed"))) == 3
    # Time range: the fixtures ran on 2021-03-29 between 09:50:00 and 09:50:15 (Z).
    assert len(names(get("/api/v1/records", started_after="2021-03-29T09:49:00Z"))) == 7
    assert names(get("/api/v1/records", started_after="2021-03-29T09:51:00Z")) == []
    assert len(names(get("/api/v1/records", started_before="2021-03-30T00:00:00Z"))) == 7
    assert names(get("/api/v1/records", completed_before="2021-03-29T09:00:00Z")) == []
    assert len(names(get("/api/v1/records", completed_after="2021-01-01T00:00:00+01:00"))) == 7


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("kind", "Pod"),
        ("status", "maybe"),
        ("started_after", "yesterday"),
        ("compute_status", "done"),
        ("page_size", "0"),
        ("page_size", "ten"),
    ],
)
def test_bad_filters_are_400_naming_the_parameter(viewer, param, value) -> None:
    response = viewer.get("/api/v1/records", **{param: value})
    assert response.status_code == 400
    assert param in response.json()["error"]


def test_pagination_walks_every_record_once_across_pages(viewer, settings) -> None:
    settings.API_PAGE_SIZE = 3
    ingest_and_sign([taskrun_doc(name=f"tr-{n}", namespace="team-a") for n in range(8)])
    seen: list[str] = []
    url: str | None = "/api/v1/records"
    pages = 0
    while url:
        body = viewer.client.get(url, **viewer.headers).json()
        assert len(body["results"]) <= 3
        seen.extend(r["uid"] for r in body["results"])
        url = body["next"]
        pages += 1
    assert pages == 3
    assert seen == list(RunRecord.objects.order_by("-id").values_list("uid", flat=True))
    # The previous link of the last page leads back.
    assert body["previous"]


def test_page_size_is_capped(viewer, settings) -> None:
    settings.API_MAX_PAGE_SIZE = 4
    ingest_and_sign([taskrun_doc(name=f"tr-{n}") for n in range(6)])
    body = viewer.get("/api/v1/records", page_size=1000).json()
    assert len(body["results"]) == 4 and body["next"]


def test_tampered_cursor_is_404_not_500(viewer) -> None:
    import base64

    ingest_and_sign([taskrun_doc(name=f"tr-{n}") for n in range(3)])
    for position in ("abc", "1" * 40):
        cursor = base64.b64encode(f"p={position}".encode()).decode()
        response = viewer.get("/api/v1/records", cursor=cursor)
        assert response.status_code == 404
        assert response.json() == {"error": "Invalid cursor"}


def test_detail_lists_children_and_attestations(viewer) -> None:
    docs, (attestation,), _ = signed_pipeline()
    uid = docs[0]["metadata"]["uid"]
    body = viewer.get(f"/api/v1/records/{uid}").json()
    assert body["uid"] == uid and body["kind"] == "PipelineRun"
    assert sorted(c["pipeline_task"] for c in body["children"]) == ["build", "git-clone"]
    (brief,) = body["attestations"]
    assert brief["id"] == attestation.pk and brief["scope"] == "per-run"
    assert brief["url"].endswith(f"/api/v1/attestations/{attestation.pk}")
    child = body["children"][0]["uid"]
    child_body = viewer.get(f"/api/v1/records/{child}").json()
    assert child_body["children"] == [] and child_body["attestations"] == []


def test_raw_returns_the_record_as_received() -> None:
    docs = pipeline_docs()
    sent = orjson.dumps(docs[1])
    ingest_and_sign(docs)
    caller = caller_with_token(token())
    response = caller.get(f"/api/v1/records/{docs[1]['metadata']['uid']}/raw")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.content == sent
    assert orjson.loads(response.content) == docs[1]
    assert (
        response["ETag"].strip('"')
        == RunRecord.objects.get(uid=docs[1]["metadata"]["uid"]).raw_sha256
    )


def test_other_namespaces_records_are_absent_or_404() -> None:
    docs, _, _ = signed_pipeline(namespace="team-b")
    caller = caller_with_token(token(namespaces=("team-a",)))
    assert caller.get("/api/v1/records").json()["results"] == []
    assert caller.get("/api/v1/records", namespace="team-b").json()["results"] == []
    uid = docs[0]["metadata"]["uid"]
    for url in (f"/api/v1/records/{uid}", f"/api/v1/records/{uid}/raw"):
        response = caller.get(url)
        assert response.status_code == 404 and response.json() == {"error": "no such record"}
    unknown = caller.get("/api/v1/records/does-not-exist")
    assert unknown.status_code == 404 and unknown.json() == {"error": "no such record"}


def test_session_user_sees_their_granted_namespaces() -> None:
    from django.contrib.auth.models import User
    from django.test import Client

    from provenance.models import NamespaceGrant

    signed_pipeline(namespace="team-a")
    signed_pipeline(namespace="team-b")
    user = User.objects.create_user("ada")
    NamespaceGrant.objects.create(user=user, namespace="team-b", role="viewer")
    client = Client()
    client.force_login(user)
    rows = client.get("/api/v1/records").json()["results"]
    assert {r["namespace"] for r in rows} == {"team-b"}
    staff_rows = staff_session().get("/api/v1/records").json()["results"]
    assert {r["namespace"] for r in staff_rows} == {"team-a", "team-b"}


def test_time_filters_accept_offsets() -> None:
    signed_taskrun()
    caller = caller_with_token(token())
    moment = datetime(2021, 3, 29, 10, 50, tzinfo=UTC).isoformat()  # 09:50 at +01:00 below
    assert len(caller.get("/api/v1/records", started_before=moment).json()["results"]) == 1
    shifted = "2021-03-29T10:49:00+01:00"
    assert caller.get("/api/v1/records", started_before=shifted).json()["results"] == []
