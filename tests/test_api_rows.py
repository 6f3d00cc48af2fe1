"""``api.rows``: the plain output of the record, attestation and artifact lists and the artifact
detail is what ``RecordOutput``, ``AttestationOutput``, ``ArtifactOutput`` and
``ArtifactDetailOutput`` give, field for field and in the same key order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.test import RequestFactory, override_settings
from django.utils import timezone as dj_timezone
from rest_framework.request import Request

from provenance import services
from provenance.api import rows
from provenance.api.serializers import (
    ArtifactDetailOutput,
    ArtifactOutput,
    AttestationOutput,
    RecordOutput,
)
from provenance.models import Attestation, RunRecord
from provenance.reads import artifacts, attestations, runs
from provenance.reads.verify import verify_many, verify_rows
from tests.apidata import signed_pipeline, signed_taskrun, tamper

pytestmark = pytest.mark.django_db


def _record(**fields: object) -> RunRecord:
    n = RunRecord.objects.count()
    defaults: dict[str, object] = {
        "uid": f"uid-{n}",
        "kind": "TaskRun",
        "namespace": "team-a",
        "name": f"run-{n}",
        "raw": b"x",
        "raw_sha256": "0" * 64,
    }
    return RunRecord.objects.create(**{**defaults, **fields})


@pytest.fixture
def records() -> None:
    _record(kind="PipelineRun", definition="build-and-test", status="True")
    _record(
        definition="scan",
        pipeline_task="scan",
        parent_uid="uid-0",
        parent_name="pr ä",
        labels={"tekton.dev/pipeline": "build-and-test", "ü": "\u2028"},
        start_time=datetime(2024, 2, 29, 23, 59, 59, 123456, tzinfo=UTC),
        completion_time=datetime(2024, 3, 1, 1, 0, tzinfo=timezone(timedelta(hours=5))),
        compute_reason="odd <&> text",
    )
    _record(uid="needs quoting ü?%", labels={"tekton.dev/pipeline": 7})
    _record(kind="TaskRun", labels={})


def _both(path: str = "/api/v1/records") -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    request = Request(RequestFactory().get(path))
    plain = rows.record_rows(runs.run_record_rows(namespaces=None), request)
    models = list(runs.run_record_list(namespaces=None))
    drf = RecordOutput(models, many=True, context={"request": request}).data
    return plain, [dict(r) for r in drf]


def test_plain_rows_equal_the_serializer(records) -> None:
    plain, drf = _both()
    assert len(plain) == 4
    assert plain == drf
    assert [list(r) for r in plain] == [list(r) for r in drf]  # same key order


def test_plain_rows_follow_the_active_time_zone(records) -> None:
    with dj_timezone.override("Europe/Berlin"):
        plain, drf = _both()
    assert plain == drf
    assert any(str(r["start_time"]).endswith("+01:00") for r in plain)


@override_settings(USE_TZ=False)
def test_plain_rows_without_time_zones(records) -> None:
    request = Request(RequestFactory().get("/api/v1/records"))
    aware = datetime(2024, 3, 1, 1, 0, tzinfo=timezone(timedelta(hours=5)))
    assert rows.datetime_text(aware, rows.output_zone()) == "2024-02-29T20:00:00"
    assert RecordOutput(context={"request": request}).fields["start_time"].to_representation(
        aware
    ) == rows.datetime_text(aware, rows.output_zone())


# =============================================================================================
# Attestations and artifacts: real signed rows, one superseded, one tampered, one off the chain


@pytest.fixture
def attested(settings, tmp_path) -> dict[str, Attestation]:
    settings.KEYS_DIR = tmp_path / "keys"
    _, (first,), _ = signed_pipeline(namespace="team-a")
    services.namespace_settings_update(namespace="team-a", changes={"format": "slsa/v1"}, actor="t")
    services.attestations_generate(run_id=first.run_id)
    _, (other,), _ = signed_pipeline(namespace="team-b", name="build-2")
    _, (solo,), _ = signed_taskrun(namespace="team-b")
    _, (shared,), _ = signed_pipeline(namespace="team-c", label="team-a/build-1")
    tamper(
        "UPDATE provenance_attestation SET statement = %s, statement_sha256 = %s WHERE id = %s",
        [b"{}", "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", other.pk],
    )
    tamper("DELETE FROM provenance_chainentry WHERE attestation_id = %s", [solo.pk])
    return {"first": first, "other": other, "solo": solo, "shared": shared}


def _request() -> Request:
    return Request(RequestFactory().get("/api/v1/attestations"))


def _same(plain: object, drf: object) -> None:
    assert plain == drf
    assert repr(plain) == repr(drf)  # same key order, same types


def _checked(models: list[Attestation]) -> dict[str, object]:
    return {
        "subjects": attestations.attestation_subjects(models),
        "verdicts": verify_many(models),
    }


@pytest.mark.parametrize("namespaces", [None, {"team-a", "team-b"}])
def test_attestation_rows_equal_the_serializer(attested, namespaces) -> None:
    request = _request()
    found = list(attestations.attestation_list_rows(namespaces=namespaces))
    verdicts = verify_rows(found)
    plain = rows.attestation_rows(found, request, verdicts)
    models = list(attestations.attestation_list(namespaces=namespaces))
    context = {"request": request, **_checked(models)}
    assert verdicts == context["verdicts"]
    _same(plain, [dict(r) for r in AttestationOutput(models, many=True, context=context).data])
    shown = {r["id"]: r for r in plain}
    assert len(shown) == (5 if namespaces is None else 4)
    assert shown[attested["other"].pk]["verified"] is False
    assert shown[attested["solo"].pk]["verified"] is False
    assert shown[attested["solo"].pk]["chain_seq"] is None
    assert shown[attested["first"].pk]["verified"] is True
    assert shown[attested["first"].pk]["superseded_by"] is not None


def test_attestation_rows_follow_the_active_time_zone(attested) -> None:
    with dj_timezone.override("Asia/Kolkata"):
        request = _request()
        found = list(attestations.attestation_list_rows(namespaces=None))
        plain = rows.attestation_rows(found, request, verify_rows(found))
        models = list(attestations.attestation_list(namespaces=None))
        context = {"request": request, **_checked(models)}
        _same(plain, [dict(r) for r in AttestationOutput(models, many=True, context=context).data])
    assert all(str(r["created"]).endswith("+05:30") for r in plain)


@pytest.mark.parametrize("namespaces", [None, {"team-a"}, {"team-c"}])
def test_artifact_rows_and_detail_equal_the_serializers(attested, namespaces) -> None:
    request = _request()
    plain = rows.artifact_rows(artifacts.artifact_list_rows(namespaces=namespaces), request)
    models = list(artifacts.artifact_list(namespaces=namespaces))
    _same(
        plain,
        [dict(r) for r in ArtifactOutput(models, many=True, context={"request": request}).data],
    )
    assert plain
    for artifact in models:
        found = list(
            attestations.attestation_rows(
                attestations.artifact_attestations(artifact_id=artifact.pk, namespaces=namespaces)
            )
        )
        detail = rows.artifact_detail(
            artifacts.artifact_get_row(pk=artifact.pk, namespaces=namespaces) or {},
            found,
            request,
            verify_rows(found),
        )
        shown = list(
            attestations.artifact_attestations(artifact_id=artifact.pk, namespaces=namespaces)
        )
        context = {"request": request, **_checked(shown), "attestations": shown}
        drf = dict(ArtifactDetailOutput(artifact, context=context).data)
        drf["attestations"] = [dict(r) for r in drf["attestations"]]
        _same(detail, drf)
    assert any(len(r["namespaces"]) > 1 for r in plain) == (namespaces is None)
