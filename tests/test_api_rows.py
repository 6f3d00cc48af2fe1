"""``api.rows``: the record list's plain output is what ``RecordOutput`` gives, field for field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.test import RequestFactory, override_settings
from django.utils import timezone as dj_timezone
from rest_framework.request import Request

from provenance import selectors
from provenance.api import rows
from provenance.api.serializers import RecordOutput
from provenance.models import RunRecord

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
    plain = rows.record_rows(selectors.run_record_rows(namespaces=None), request)
    models = list(selectors.run_record_list(namespaces=None))
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
