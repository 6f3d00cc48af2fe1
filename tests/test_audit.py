"""For the compliance reader (issue 17): which statement applies, comparing two attestations, and
the audit exports, on the pages and in the API, with the namespace rule everywhere.

Every attestation here is real: records go through ``records_ingest`` and are signed by
``attestations_generate`` (tests/apidata.py).
"""

from __future__ import annotations

import csv
import html
import io
import itertools
from typing import Any

import orjson
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from provenance import services
from provenance.config import NamespaceConfig, defaults
from provenance.exports import csv_cell
from provenance.models import ApiToken, Attestation
from provenance.reads.applies import choose
from tests.apidata import (
    Caller,
    caller_with_token,
    hex_for,
    ingest_and_sign,
    signed_pipeline,
    staff_session,
    tamper,
    token,
    with_digest,
)
from tests.factories import pipeline_docs

pytestmark = pytest.mark.django_db

PER_ARTIFACT = {"scope": "per-artifact", "emit": "on-completion"}
IMAGE = "test.io/test/image"


@pytest.fixture(autouse=True)
def _keys(settings: Any, tmp_path: Any) -> None:
    settings.KEYS_DIR = tmp_path / "keys"


_USERS = itertools.count()


def viewer_session(django_user_model: Any, *namespaces: str) -> Caller:
    from django.test import Client

    from provenance.models import NamespaceGrant

    user = django_user_model.objects.create_user(f"viewer-{next(_USERS)}")
    for namespace in namespaces:
        NamespaceGrant.objects.create(user=user, namespace=namespace, role=ApiToken.Role.VIEWER)
    client = Client()
    client.force_login(user)
    return Caller(client=client)


def page(caller: Caller, url: str, **params: Any) -> str:
    """The page's HTML, entities decoded and white space collapsed."""
    response = caller.get(url, **params)
    assert response.status_code == 200, (url, response.status_code)
    return " ".join(html.unescape(response.content.decode()).split())


def both_scopes() -> tuple[Attestation, Attestation, str]:
    """A per-run statement, then the namespace switches to per-artifact: both stay current."""
    _, (per_run,), digest = signed_pipeline()
    services.namespace_settings_update(namespace="team-a", changes=PER_ARTIFACT, actor="t")
    services.attestations_generate(run_id=per_run.run_id)
    per_artifact = Attestation.objects.get(scope="per-artifact", run=per_run.run)
    return per_run, per_artifact, digest


def later_build(name: str, label: str, day: int) -> tuple[Attestation, str]:
    """Another run of the same pipeline building the same image name with a new digest."""
    docs = with_digest(pipeline_docs(name=name), hex_for(label))
    docs[0]["status"]["startTime"] = f"2021-04-{day:02d}T09:50:00Z"
    docs[0]["status"]["completionTime"] = f"2021-04-{day:02d}T09:59:00Z"
    (attestation,) = ingest_and_sign(docs)
    return attestation, f"sha256:{hex_for(label)}"


# --- which statement applies -----------------------------------------------------------------


def test_the_artifact_page_says_which_current_statement_applies_and_what_the_other_is() -> None:
    per_run, per_artifact, digest = both_scopes()
    body = page(staff_session(), f"/artifacts/{digest}/")
    assert (
        "Under team-a's settings (per-artifact, SLSA v1.0 (slsa/v2alpha4)), attestation "
        f"#{per_artifact.pk} covers this artifact: it is the newest current per-artifact "
        "statement naming it (run build-1)."
    ) in body
    assert (
        f"#{per_run.pk}</a> is a per-run statement of run build-1, still current because each "
        "scope is superseded on its own, but team-a signs per-artifact statements."
    ) in body
    assert "current · applies" in body


def test_the_attestation_pages_say_which_one_applies() -> None:
    per_run, per_artifact, _ = both_scopes()
    staff = staff_session()
    assert "This attestation applies</strong> to test.io/test/image" in page(
        staff, f"/attestations/{per_artifact.pk}/"
    )
    body = page(staff, f"/attestations/{per_run.pk}/")
    assert f"#{per_artifact.pk}</a> applies, not this one." in body
    assert "This one is a per-run statement of run build-1" in body


def test_other_namespaces_are_named_only_to_those_who_see_them(django_user_model: Any) -> None:
    _, (mine,), digest = signed_pipeline(namespace="team-a", label="shared")
    _, (theirs,), _ = signed_pipeline(namespace="team-b", label="shared")
    both = page(viewer_session(django_user_model, "team-a", "team-b"), f"/attestations/{mine.pk}/")
    assert f'In namespace team-b, <a href="/attestations/{theirs.pk}/">#{theirs.pk}</a>' in both
    alone = page(viewer_session(django_user_model, "team-a"), f"/attestations/{mine.pk}/")
    assert "team-b" not in alone and "This attestation applies" in alone
    artifact = page(viewer_session(django_user_model, "team-a"), f"/artifacts/{digest}/")
    assert f"#{theirs.pk}" not in artifact


# --- compare ---------------------------------------------------------------------------------


def test_a_superseded_attestation_links_to_what_the_settings_change_did() -> None:
    _, (first,), digest = signed_pipeline()
    services.namespace_settings_update(namespace="team-a", changes={"format": "slsa/v1"}, actor="t")
    services.attestations_generate(run_id=first.run_id)
    second = Attestation.objects.get(superseded_by__isnull=True, run=first.run)
    staff = staff_session()
    link = f"/attestations/{second.pk}/compare/{first.pk}/"
    body = page(staff, f"/attestations/{first.pk}/")
    assert f'href="{link}">See what the settings change did' in body
    assert f'href="{link}">Compare with #{first.pk}, which this one superseded' in page(
        staff, f"/attestations/{second.pk}/"
    )
    assert f'href="{link}">What changed</a>' in page(staff, f"/artifacts/{digest}/")
    compared = page(staff, link)
    assert f"What changed from #{first.pk} to #{second.pk}" in compared
    assert "The namespace's settings differ between the two." in compared
    assert "SLSA v1.0" in compared and "SLSA v0.2" in compared
    assert "setting format" in compared and "slsa/v2alpha4" in compared
    assert 'class="diff-line-add"' in compared  # the raw JSON diff

    api = caller_with_token(token()).get(f"/api/v1/attestations/{second.pk}/diff", other=first.pk)
    assert api.status_code == 200
    out = api.json()
    assert out["settings_changed"] is True and out["changed"] is True
    sections = {s["key"]: s for s in out["sections"]}
    predicate = next(c for c in sections["format"]["changes"] if c["item"] == "predicate")
    assert (predicate["before"], predicate["after"]) == ("SLSA v1.0", "SLSA v0.2")
    assert out["raw_diff"].startswith(f"--- attestation #{first.pk}\n+++ attestation #{second.pk}")
    assert out["other_url"].endswith(f"/api/v1/attestations/{first.pk}")
    assert sections["subjects"]["changes"] == []


def test_the_artifact_history_compares_with_the_previous_build_of_the_image() -> None:
    _, (old,), _ = signed_pipeline(label="build-1")
    new, digest = later_build("build-2", "build-2", day=2)
    staff = staff_session()
    link = f"/attestations/{new.pk}/compare/{old.pk}/"
    assert f'href="{link}">Compare with the previous build of this image' in page(
        staff, f"/artifacts/{digest}/"
    )
    assert f'href="{link}">Compare with the previous build' in page(
        staff, f"/attestations/{new.pk}/"
    )
    compared = page(staff, link)
    assert f"sha256:{hex_for('build-1')}" in compared and f"sha256:{hex_for('build-2')}" in compared
    assert "Both were made under the same settings." in compared
    # The oldest build has no previous one.
    assert "previous build" not in page(staff, f"/attestations/{old.pk}/")


def test_compare_respects_namespaces(django_user_model: Any) -> None:
    _, (mine,), _ = signed_pipeline(namespace="team-a")
    _, (theirs,), _ = signed_pipeline(namespace="team-b")
    viewer = viewer_session(django_user_model, "team-a")
    assert viewer.get(f"/attestations/{mine.pk}/compare/{mine.pk}/").status_code == 200
    for head, base in ((mine.pk, theirs.pk), (theirs.pk, mine.pk), (mine.pk, 999999)):
        assert viewer.get(f"/attestations/{head}/compare/{base}/").status_code == 404
    api = caller_with_token(token(namespaces=("team-a",)))
    hidden = api.get(f"/api/v1/attestations/{mine.pk}/diff", other=theirs.pk)
    unknown = api.get(f"/api/v1/attestations/{mine.pk}/diff", other=999999)
    assert hidden.status_code == unknown.status_code == 404
    assert hidden.json() == unknown.json() == {"error": "no such attestation"}
    same = api.get(f"/api/v1/attestations/{mine.pk}/diff", other=mine.pk).json()
    assert same["changed"] is False and same["raw_diff"] == ""
    missing = api.get(f"/api/v1/attestations/{mine.pk}/diff")
    assert missing.status_code == 400 and "other" in missing.json()["error"]


# --- exports ---------------------------------------------------------------------------------


def read_csv(body: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body.decode())))


def streamed(response: Any) -> tuple[list[bytes], bytes]:
    assert response.status_code == 200
    assert response.streaming, "an export is streamed, never built in memory"
    chunks = list(response.streaming_content)
    return chunks, b"".join(chunks)


def test_csv_cells_cannot_run_as_spreadsheet_formulas() -> None:
    for hostile in ("=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1"):
        assert csv_cell(hostile) == "'" + hostile
    assert csv_cell("build-1") == "build-1"
    assert csv_cell([{"name": "=x", "digest": {"sha256": "ab"}}]) == "'=x@sha256:ab"
    assert csv_cell(None) == "" and csv_cell(True) == "true" and csv_cell(3) == "3"


def test_a_hostile_run_reason_is_defused_in_the_csv_and_kept_in_jsonl() -> None:
    # A run's condition reason is free text written by whoever runs the pipeline.
    docs = with_digest(pipeline_docs(name="evil"), hex_for("evil"))
    hostile = '=HYPERLINK("https://evil.test","Succeeded")'
    for condition in docs[0]["status"]["conditions"]:
        condition["reason"] = hostile
    ingest_and_sign(docs)
    staff = staff_session()
    _, body = streamed(staff.get("/attestations/export.csv"))
    (row,) = read_csv(body)
    assert row["reason"] == "'" + hostile
    assert row["subjects"] == f"{IMAGE}@sha256:{hex_for('evil')}"
    _, lines = streamed(staff.get("/attestations/export.jsonl"))
    (line,) = [orjson.loads(x) for x in lines.splitlines()]
    assert line["reason"] == hostile


def test_the_attestations_export_keeps_the_page_filters(django_user_model: Any) -> None:
    _, (a_run,), _ = signed_pipeline(namespace="team-a", name="build-1")
    _, (a_art,), _ = signed_pipeline(namespace="team-a", name="build-2", settings=PER_ARTIFACT)
    _, (b_run,), _ = signed_pipeline(namespace="team-b")
    staff = staff_session()
    listing = page(staff, "/attestations/", namespace="team-a", scope="per-artifact", page=1)
    assert 'href="/attestations/export.csv?namespace=team-a&scope=per-artifact"' in listing
    response = staff.get("/attestations/export.csv", namespace="team-a", scope="per-artifact")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="attestations-team-a-' in response["Content-Disposition"]
    _, body = streamed(response)
    rows = read_csv(body)
    assert [int(r["id"]) for r in rows] == [a_art.pk]
    assert rows[0]["verified"] == "true" and rows[0]["problems"] == ""
    _, body = streamed(staff.get("/attestations/export.jsonl", namespace="team-a"))
    assert [orjson.loads(x)["id"] for x in body.splitlines()] == [a_art.pk, a_run.pk]
    # A viewer of team-a never gets team-b's rows, whatever it asks for.
    viewer = viewer_session(django_user_model, "team-a")
    _, body = streamed(viewer.get("/attestations/export.jsonl"))
    assert b_run.pk not in [orjson.loads(x)["id"] for x in body.splitlines()]
    _, body = streamed(viewer.get("/attestations/export.jsonl", namespace="team-b"))
    assert b_run.pk not in [orjson.loads(x)["id"] for x in body.splitlines()]


def test_the_verified_filter_is_applied_as_rows_stream() -> None:
    _, (good,), _ = signed_pipeline(name="build-1")
    _, (bad,), _ = signed_pipeline(name="build-2")
    tamper(
        "UPDATE provenance_attestation SET statement_sha256 = %s WHERE id = %s", ["0" * 64, bad.pk]
    )
    staff = staff_session()
    listing = page(staff, "/attestations/", verified="0")
    assert f'href="/attestations/{bad.pk}/"' in listing
    assert f'href="/attestations/{good.pk}/"' not in listing
    assert 'href="/attestations/export.csv?verified=0"' in listing
    _, body = streamed(staff.get("/attestations/export.csv", verified="0"))
    (row,) = read_csv(body)
    assert int(row["id"]) == bad.pk and row["verified"] == "false" and row["problems"]
    _, body = streamed(staff.get("/attestations/export.csv", verified="1"))
    assert [int(r["id"]) for r in read_csv(body)] == [good.pk]
    api = caller_with_token(token(namespaces=("team-a",)))
    _, body = streamed(api.get("/api/v1/attestations.jsonl", verified="false"))
    assert [orjson.loads(x)["id"] for x in body.splitlines()] == [bad.pk]


def test_exports_stream_in_chunks_with_a_query_count_that_does_not_grow(settings: Any) -> None:
    settings.EXPORT_CHUNK_ROWS = 2
    staff = staff_session()

    def export_queries(path: str) -> tuple[int, int]:
        with CaptureQueriesContext(connection) as queries:
            chunks, body = streamed(staff.get(path))
        return len(queries), len(chunks)

    signed_pipeline(name="build-1")
    signed_pipeline(name="build-2")
    small = export_queries("/attestations/export.jsonl")
    small_artifacts = export_queries("/artifacts/export.csv")
    for n in range(3, 8):
        signed_pipeline(name=f"build-{n}")
    large = export_queries("/attestations/export.jsonl")
    large_artifacts = export_queries("/artifacts/export.csv")
    # One server-side cursor read in chunks: the same queries for 2 rows or 7, but for the
    # subject links each chunk of attestations is verified with (one query per chunk).
    assert small_artifacts[0] == large_artifacts[0]
    assert large[0] - small[0] <= large[1] - small[1]
    assert large[1] >= 4 and large_artifacts[1] >= 4, "the rows come in chunks of two"

    # Half-way through, the rows still to come are in Postgres, behind an open cursor.
    def open_cursors() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_cursors")
            (count,) = cursor.fetchone()
        return int(count)

    for path in ("/attestations/export.csv", "/artifacts/export.jsonl"):
        chunks = iter(staff.get(path).streaming_content)
        next(chunks)
        assert open_cursors() == 1, path
        rest = list(chunks)
        assert rest and open_cursors() == 0, path


def test_the_artifacts_export_and_its_api(django_user_model: Any) -> None:
    _, _, digest_a = signed_pipeline(namespace="team-a")
    signed_pipeline(namespace="team-b")
    staff = staff_session()
    listing = page(staff, "/artifacts/", namespace="team-a")
    assert 'href="/artifacts/export.jsonl?namespace=team-a"' in listing
    _, body = streamed(staff.get("/artifacts/export.csv", namespace="team-a"))
    (row,) = read_csv(body)
    assert row["digest"] == digest_a and row["namespaces"] == "team-a"
    assert row["attestation_count"] == "1" and row["current_count"] == "1"
    assert row["last_attested"]
    _, body = streamed(staff.get("/artifacts/export.csv", attested_from="2000-01-01"))
    assert len(read_csv(body)) == 2
    _, body = streamed(staff.get("/artifacts/export.csv", attested_to="2000-01-01"))
    assert read_csv(body) == []
    assert "No artifact matches" in page(staff, "/artifacts/", attested_to="2000-01-01")
    api = caller_with_token(token(namespaces=("team-a",)))
    response = api.get("/api/v1/artifacts.jsonl")
    assert response["Content-Type"] == "application/jsonl"
    _, body = streamed(response)
    assert [orjson.loads(x)["digest"] for x in body.splitlines()] == [digest_a]
    bad = api.get("/api/v1/attestations.csv", created_after="yesterday")
    assert bad.status_code == 400 and "created_after" in bad.json()["error"]


def test_the_new_pages_need_sign_in(client: Any) -> None:
    _, (attestation,), _ = signed_pipeline()
    for url in [
        f"/attestations/{attestation.pk}/compare/{attestation.pk}/",
        "/attestations/export.csv",
        "/attestations/export.jsonl",
        "/artifacts/export.csv",
        "/artifacts/export.jsonl",
    ]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/login/?next="), url


# --- the rule on its own (reads.applies.choose) ----------------------------------------------


def _row(pk: int, scope: str, fmt: str = "slsa/v2alpha4", superseded: int | None = None) -> Any:
    return {
        "id": pk,
        "namespace": "team-a",
        "scope": scope,
        "format": fmt,
        "superseded_by_id": superseded,
        "run__name": f"build-{pk}",
    }


def test_the_rule_prefers_scope_then_format_then_the_newest() -> None:
    config = NamespaceConfig.from_values({**defaults().values(), **PER_ARTIFACT})
    rows = [
        _row(1, "per-artifact", superseded=4),
        _row(2, "per-run"),
        _row(3, "per-artifact", fmt="slsa/v1"),
        _row(4, "per-artifact"),
        _row(5, "per-run"),
    ]
    chosen = choose("team-a", rows, config)
    assert chosen.applies == 4
    roles = {s.attestation: s.role for s in chosen.standings}
    assert roles == {
        4: "applies",
        1: "superseded",
        2: "other-scope",
        3: "earlier",
        5: "other-scope",
    }
    assert [s.attestation for s in chosen.standings][:1] == [4]
    # Only an older format left: it applies, and the sentence says why it is of another format.
    only_old_format = choose("team-a", [_row(3, "per-artifact", fmt="slsa/v1")], config)
    assert only_old_format.applies == 3
    assert "before the namespace's format changed" in only_old_format.sentence
    # No statement of the namespace's scope yet: the newest other one stands in, and says so.
    stand_in = choose("team-a", [_row(2, "per-run"), _row(5, "per-run")], config)
    assert stand_in.applies == 5 and "stands in" in stand_in.sentence
    # A scope asked for (the gate's scope=) has no stand-in.
    asked = choose("team-a", [_row(2, "per-run")], config, scope="per-artifact")
    assert asked.applies is None
    assert asked.sentence == "No current per-artifact attestation names this artifact in team-a."
    nothing_current = choose("team-a", [_row(1, "per-artifact", superseded=9)], config)
    assert nothing_current.applies is None
