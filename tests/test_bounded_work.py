"""Issue 11, finding 3 (limits): a small record could ask for unbounded work. Over a limit, the
API answers 413 naming it, ``import_records`` rejects the file (exit 2, the other files go on),
and a run whose statements would be too large is recorded as failed "too large" instead of
taking the worker down."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from provenance import services
from provenance.core.intoto import statement_bytes
from provenance.models import Attestation, ComputeStatus, RunRecord
from tests.apidata import caller_with_token, ingest_and_sign, token
from tests.core.pipeline_builder import chain_pipeline
from tests.factories import as_list, taskrun_doc

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _keys(settings, tmp_path):
    settings.KEYS_DIR = tmp_path / "keys"


def _per_artifact(namespace: str = "ci") -> None:
    services.namespace_settings_update(
        namespace=namespace,
        changes={"scope": "per-artifact", "deep_inspection": True},
        actor="test",
    )


def _pipeline(row: str) -> RunRecord:
    return RunRecord.objects.get(kind="PipelineRun", name=row)


def test_a_request_with_too_many_objects_is_a_413_naming_the_limit(settings) -> None:
    settings.INGEST_MAX_OBJECTS = 3
    ingester = caller_with_token(token(role="ingester"))
    docs = [taskrun_doc(name=f"solo-{n}") for n in range(4)]
    response = ingester.post("/api/v1/records", as_list(docs))
    assert response.status_code == 413, response.content
    error = response.json()["error"]
    assert "INGEST_MAX_OBJECTS" in error and "(4)" in error and "3" in error
    assert not RunRecord.objects.exists()
    assert ingester.post("/api/v1/records", as_list(docs[:3])).status_code == 202


def test_a_pipeline_run_naming_too_many_task_runs_is_a_413(settings) -> None:
    settings.PROVENANCE_MAX_TASKS = 5
    ingester = caller_with_token(token(role="ingester", namespaces=("ci",)))
    response = ingester.post("/api/v1/records", as_list(chain_pipeline(6)))
    assert response.status_code == 413, response.content
    assert "PROVENANCE_MAX_TASKS" in response.json()["error"]
    assert not RunRecord.objects.exists()


def test_import_rejects_the_file_over_a_limit_and_imports_the_others(
    settings, tmp_path: Path, capsys
) -> None:
    settings.INGEST_MAX_OBJECTS = 2
    (tmp_path / "a.json").write_bytes(as_list([taskrun_doc(name=f"big-{n}") for n in range(3)]))
    (tmp_path / "b.json").write_bytes(orjson.dumps(taskrun_doc(name="small")))
    with pytest.raises(CommandError, match="1 of 2 files were rejected") as raised:
        call_command("import_records", str(tmp_path), "--no-progress")
    assert raised.value.returncode == 2
    out = capsys.readouterr().out
    assert "a.json: too large: objects in one request or file (3)" in out
    assert "INGEST_MAX_OBJECTS" in out
    assert list(RunRecord.objects.values_list("name", flat=True)) == ["small"]


def test_statements_over_the_run_limit_are_a_recorded_too_large_failure(settings) -> None:
    _per_artifact()
    settings.PROVENANCE_MAX_RUN_STATEMENT_BYTES = 200_000
    assert ingest_and_sign(chain_pipeline(40)) == []
    run = _pipeline("chain")
    assert run.compute_status == ComputeStatus.FAILED
    assert run.compute_reason.startswith("too large: the run's statements, in bytes")
    assert "PROVENANCE_MAX_RUN_STATEMENT_BYTES" in run.compute_reason
    assert not Attestation.objects.exists()


def test_one_statement_over_its_limit_is_a_recorded_failure(settings) -> None:
    settings.PROVENANCE_MAX_STATEMENT_BYTES = 500  # the per-run statement: 853
    ingest_and_sign(chain_pipeline(3))
    run = _pipeline("chain")
    assert run.compute_status == ComputeStatus.FAILED
    assert "PROVENANCE_MAX_STATEMENT_BYTES" in run.compute_reason


def test_task_runs_stored_one_by_one_are_counted_when_computing(settings) -> None:
    docs = chain_pipeline(6)
    pipeline_run, children = docs[0], docs[1:]
    pipeline_run["status"]["childReferences"] = []  # names none: passes the ingest check
    settings.PROVENANCE_MAX_TASKS = 5
    ingest_and_sign([pipeline_run])
    for child in children:
        ingest_and_sign([child])
    run = _pipeline("chain")
    assert run.compute_status == ComputeStatus.FAILED
    assert "TaskRuns of PipelineRun chain (6)" in run.compute_reason
    assert "PROVENANCE_MAX_TASKS" in run.compute_reason


def test_a_chain_pipeline_is_signed_within_the_default_limits() -> None:
    # The case at a fifth of its size (bench/bounded.py measures the 500-task one):
    # a statement per task, each naming its predecessors once.
    _per_artifact()
    created = ingest_and_sign(chain_pipeline(100))
    assert len(created) == 100
    sizes = [len(a.statement) for a in created]
    assert max(sizes) < 100_000 and sum(sizes) < 5_000_000
    last: dict[str, Any] = orjson.loads(max(created, key=lambda a: len(a.statement)).statement)
    state = last["predicate"]["runDetails"]["metadata"]["chainsweb.dev/runState"]
    assert len(state["inScope"]) == 100
    assert all(isinstance(t["why"], str) for t in state["inScope"])
    assert statement_bytes(last)  # still a valid statement


def test_a_run_over_the_task_limit_is_not_laid_out_on_its_page(settings, django_user_model) -> None:
    from django.test import Client

    ingest_and_sign(chain_pipeline(6))
    settings.PROVENANCE_MAX_TASKS = 5
    staff = Client()
    staff.force_login(django_user_model.objects.create_user("staff", is_staff=True))
    for query in ({}, {"deep": "1"}):
        page = staff.get(f"/runs/{_pipeline('chain').pk}/", query)
        assert page.status_code == 200
        body = page.content.decode()
        assert "too large: TaskRuns of PipelineRun chain (6)" in body
        assert "PROVENANCE_MAX_TASKS" in body


def test_a_deep_view_over_its_byte_limit_is_a_recorded_failure(settings) -> None:
    from provenance.models import RunView
    from provenance.reads.namespaces import namespace_settings_effective
    from provenance.reads.rundetail import run_view_inputs
    from provenance.reads.runs import run_children

    ingest_and_sign(chain_pipeline(20))
    run = _pipeline("chain")
    config, _ = namespace_settings_effective(run.namespace)
    inputs = run_view_inputs(run, list(run_children(run, with_records=True)), config)
    settings.PROVENANCE_MAX_RUN_STATEMENT_BYTES = 100
    view = RunView.objects.create(run=run, inputs=inputs)
    assert services.run_view_compute(view_id=view.pk) == "failed"
    view.refresh_from_db()
    assert view.error.startswith("too large: the deep view, in bytes")


def test_runs_queued_together_go_as_batches_and_are_all_signed(
    settings, django_capture_on_commit_callbacks
) -> None:
    # Eager mode (no broker): the batch task runs in-process. With no time to spare, each
    # batch signs one run and queues the rest as a new batch, so none is left behind.
    settings.COMPUTE_BATCH_SIZE = 4
    settings.CELERY_TASK_TIME_LIMIT = 0
    docs = [taskrun_doc(name=f"many-{n}") for n in range(6)]
    with django_capture_on_commit_callbacks(execute=True):
        services.records_ingest(
            data=as_list(docs), namespaces_allowed=None, source=services.RecordSource.api(token="t")
        )
    statuses = set(RunRecord.objects.values_list("compute_status", flat=True))
    assert statuses == {ComputeStatus.SIGNED}
    assert Attestation.objects.count() == 6
    assert set(RunRecord.objects.values_list("compute_attempts", flat=True)) == {0}
