"""Issue 11, finding 5: a time whose offset takes it out of the years a datetime holds once in
UTC (``9999-12-31T23:59:59-05:00`` is year 10000 in UTC, ``0001-01-01T00:00:00+05:00`` year 0)
used to be a 500 from the API and stopped ``import_records``. Now it is a 400 naming the field,
and an import reports the file, imports the others and exits 2."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from provenance.models import RunRecord
from tests.apidata import caller_with_token, token
from tests.factories import taskrun_doc

pytestmark = pytest.mark.django_db

TIMES = ["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00"]
FIELDS = ["startTime", "completionTime"]


@pytest.fixture(autouse=True)
def _keys(settings, tmp_path):
    settings.KEYS_DIR = tmp_path / "keys"


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("when", TIMES)
def test_the_api_answers_400_naming_the_field(field: str, when: str) -> None:
    bad = taskrun_doc(name="far-future")
    bad["status"][field] = when
    ingester = caller_with_token(token(role="ingester"))
    response = ingester.post("/api/v1/records", orjson.dumps([taskrun_doc(), bad]))
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert f"status.{field} is out of range once converted to UTC: '{when}'" in error
    assert "far-future" in error
    assert not RunRecord.objects.exists()


@pytest.mark.parametrize("when", TIMES)
def test_import_reports_the_file_and_imports_the_others(tmp_path: Path, capsys, when) -> None:
    good = [taskrun_doc(name=f"good-{n}") for n in range(2)]
    bad = taskrun_doc(name="far-future")
    bad["status"]["startTime"] = when
    (tmp_path / "a.json").write_bytes(orjson.dumps(good[0]))
    (tmp_path / "b.json").write_bytes(orjson.dumps(bad))
    (tmp_path / "c.json").write_bytes(orjson.dumps(good[1]))
    with pytest.raises(CommandError, match="1 of 3 files were rejected") as raised:
        call_command("import_records", str(tmp_path), "--no-progress")
    assert raised.value.returncode == 2
    out = capsys.readouterr().out
    assert "imported 2 of 3 files: 2 records created" in out
    assert "b.json: object 1 (TaskRun 'far-future'): status.startTime is out of range" in out
    assert set(RunRecord.objects.values_list("name", flat=True)) == {"good-0", "good-1"}
