"""``api.outputs``: each record, attestation and artifact output is defined once (a Shape), and
what the API answers is what the OpenAPI schema generated from that definition describes: the
same fields in the same order, of the schema's types, whether a row comes from ``values()``
(lists) or from a model instance (details)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import jsonschema
import pytest
from django.test import RequestFactory, override_settings
from django.utils import timezone as dj_timezone
from drf_spectacular.generators import SchemaGenerator
from rest_framework import serializers
from rest_framework.request import Request

from provenance import services
from provenance.api import outputs
from provenance.api.outputs import ARTIFACT, ATTESTATION, ATTESTATION_DETAIL, RECORD, Context
from provenance.models import Attestation, RunRecord
from provenance.reads import artifacts, attestations, runs
from provenance.reads.verify import verify_many, verify_rows
from tests.apidata import signed_pipeline, signed_taskrun, tamper

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def components() -> dict[str, Any]:
    """The schema's components as JSON Schema (OpenAPI 3.0's ``nullable`` as a null type)."""

    def convert(node: Any) -> Any:
        if isinstance(node, list):
            return [convert(n) for n in node]
        if not isinstance(node, dict):
            return node
        out = {k: convert(v) for k, v in node.items() if k not in ("nullable", "readOnly")}
        if "$ref" in out:
            out["$ref"] = out["$ref"].replace("#/components/schemas/", "#/$defs/")
        if node.get("nullable"):
            out = {"anyOf": [out, {"type": "null"}]}
        return out

    schema = SchemaGenerator().get_schema(request=None, public=True)
    return convert(schema["components"]["schemas"])  # type: ignore[no-any-return]


def conforms(objects: list[dict[str, Any]], component: str, defs: dict[str, Any]) -> None:
    """Every object has the component's properties, in its order, each of its type."""
    schema = {**defs[component], "$defs": defs, "additionalProperties": False}
    for obj in objects:
        jsonschema.validate(obj, schema)
        assert list(obj) == list(defs[component]["properties"])


def _request() -> Request:
    return Request(RequestFactory().get("/api/v1/attestations"))


# =============================================================================================
# Records


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


def _records() -> list[dict[str, Any]]:
    rows = runs.run_record_list(namespaces=None).values(*RECORD.columns)
    return RECORD.render(rows, Context.of(_request()))


def test_record_rows_are_what_the_schema_describes(records, components) -> None:
    shown = _records()
    assert len(shown) == 4
    conforms(shown, "RecordOutput", components)
    by_name = {r["name"]: r for r in shown}
    assert by_name["run-1"]["pipeline"] == "build-and-test" and by_name["run-1"]["task"] == "scan"
    assert by_name["run-0"]["pipeline"] == "build-and-test" and by_name["run-0"]["task"] == ""
    assert by_name["run-1"]["start_time"] == "2024-02-29T23:59:59.123456Z"
    assert by_name["run-2"]["url"].endswith("/api/v1/records/needs%20quoting%20%C3%BC%3F%25")


def test_a_record_instance_renders_as_its_row(records) -> None:
    ctx = Context.of(_request())
    for record in RunRecord.objects.all():
        (row,) = RunRecord.objects.filter(pk=record.pk).values(*RECORD.columns)
        assert RECORD.render_one(RECORD.row_of(record), ctx) == RECORD.render_one(row, ctx)


def test_times_follow_the_active_time_zone_as_drf_writes_them(records) -> None:
    drf = serializers.DateTimeField()
    with dj_timezone.override("Europe/Berlin"):
        shown = _records()
        stored = RunRecord.objects.get(name="run-1").start_time
        assert shown[2]["start_time"] == drf.to_representation(stored)
    assert shown[2]["start_time"].endswith("+01:00")


@override_settings(USE_TZ=False)
def test_times_without_time_zones() -> None:
    aware = datetime(2024, 3, 1, 1, 0, tzinfo=timezone(timedelta(hours=5)))
    assert outputs.datetime_text(aware, outputs.output_zone()) == "2024-02-29T20:00:00"
    assert serializers.DateTimeField().to_representation(aware) == outputs.datetime_text(
        aware, outputs.output_zone()
    )


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


@pytest.mark.parametrize("namespaces", [None, {"team-a", "team-b"}])
def test_attestation_rows_are_what_the_schema_describes(attested, namespaces, components) -> None:
    found = list(attestations.attestation_list(namespaces=namespaces).values(*ATTESTATION.columns))
    verdicts = verify_rows(found)
    shown = ATTESTATION.render(found, Context.of(_request(), verdicts=verdicts))
    conforms(shown, "AttestationOutput", components)
    with pytest.raises(jsonschema.ValidationError):  # the check has teeth
        conforms([{**shown[0], "verified": "yes"}], "AttestationOutput", components)
    by_id = {r["id"]: r for r in shown}
    assert len(by_id) == (5 if namespaces is None else 4)
    assert by_id[attested["other"].pk]["verified"] is False
    assert by_id[attested["solo"].pk]["verified"] is False
    assert by_id[attested["solo"].pk]["chain_seq"] is None
    assert by_id[attested["first"].pk]["verified"] is True
    assert by_id[attested["first"].pk]["superseded_by"] is not None
    # The same verdicts from rows as from model instances (the details' path).
    instances = list(attestations.attestation_list(namespaces=namespaces))
    assert verify_many(instances) == verdicts


def test_an_attestation_instance_renders_as_its_row(attested, components) -> None:
    """The detail (from an instance) repeats the list's fields (from a row), value for value."""
    for pk in (a.pk for a in attested.values()):
        instance = attestations.attestation_get(pk=pk, namespaces=None)
        assert instance is not None
        (row,) = attestations.shown(Attestation.objects.filter(pk=pk)).values(*ATTESTATION.columns)
        ctx = Context.of(_request(), verdicts=verify_rows([row]), supersedes={pk: [1, 2]})
        detail = ATTESTATION_DETAIL.render_one(ATTESTATION_DETAIL.row_of(instance), ctx)
        conforms([detail], "AttestationDetailOutput", components)
        listed = ATTESTATION.render_one(row, ctx)
        assert {k: detail[k] for k in listed} == listed
        assert detail["supersedes"] == [1, 2]
        assert detail["problems"] == [r["message"] for r in detail["reasons"]]
        assert detail["verified"] is (not detail["problems"])


def test_attestation_times_follow_the_active_time_zone(attested) -> None:
    with dj_timezone.override("Asia/Kolkata"):
        rows = attestations.attestation_list(namespaces=None).values(*ATTESTATION.columns)
        shown = ATTESTATION.render(rows, Context.of(_request()))
    assert all(str(r["created"]).endswith("+05:30") for r in shown)


@pytest.mark.parametrize("namespaces", [None, {"team-a"}, {"team-c"}])
def test_artifact_rows_and_detail_are_what_the_schema_describes(
    attested, namespaces, components
) -> None:
    ctx = Context.of(_request())
    shown = ARTIFACT.render(
        artifacts.artifact_list(namespaces=namespaces).values(*ARTIFACT.columns), ctx
    )
    assert shown
    conforms(shown, "ArtifactOutput", components)
    assert any(len(r["namespaces"]) > 1 for r in shown) == (namespaces is None)
    for artifact in shown:
        (row,) = artifacts.artifact_get(pk=artifact["id"], namespaces=namespaces).values(
            *ARTIFACT.columns
        )
        naming = attestations.artifact_attestations(artifact_id=row["id"], namespaces=namespaces)
        found = list(naming.values(*ATTESTATION.columns))
        detail = outputs.artifact_detail(row, found, Context.of(_request(), verdicts={}))
        conforms([detail], "ArtifactDetailOutput", components)
        assert {k: detail[k] for k in artifact} == artifact
        assert {a["namespace"] for a in detail["attestations"]} <= set(artifact["namespaces"])
