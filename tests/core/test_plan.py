"""When statements are emitted (emit policy) and what per-artifact statements contain."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from provenance.core import FormatError, SlsaConfig, generate, parse_records
from provenance.core.plan import plan_statements
from provenance.core.scope import (
    PER_ARTIFACT_BUILD_TYPE_V02,
    PER_ARTIFACT_BUILD_TYPE_V1,
    RUN_STATE_KEY,
)
from provenance.core.tekton import PipelineRun

from .pipeline_builder import Task, digest, pipeline_run

V1 = SlsaConfig(format="slsa/v2alpha4", deep_inspection=True)
V02 = SlsaConfig(format="slsa/v1", deep_inspection=True)
IMAGE = "registry.example/team/app"


def _seed_pipeline(
    notify: str = "False", pipeline: str = "False", build: str = "True"
) -> PipelineRun:
    docs = pipeline_run(
        [
            Task("clone", results={"commit": "abc"}),
            Task(
                "build-push",
                params={"C": "$(tasks.clone.results.commit)"},
                results={"IMAGE_URL": IMAGE, "IMAGE_DIGEST": f"sha256:{digest('app')}"},
                status=build,
            ),
            Task("slack-notify", run_after=["build-push"], status=notify),
        ],
        status=pipeline,
    )
    (run,) = parse_records(docs)
    assert isinstance(run, PipelineRun)
    return run


def _state(statement: dict[str, Any]) -> dict[str, Any]:
    predicate = statement["predicate"]
    if "runDetails" in predicate:
        return predicate["runDetails"]["metadata"][RUN_STATE_KEY]  # type: ignore[no-any-return]
    return predicate["metadata"][RUN_STATE_KEY]  # type: ignore[no-any-return]


def test_default_policy_gives_exactly_the_chains_statement() -> None:
    pr = _seed_pipeline()
    plan = plan_statements(pr, V1)
    assert [p.statement for p in plan.statements] == [generate(pr, V1)]
    assert plan.statements[0].scope == "per-run"


def test_on_completion_waits_for_a_running_pipeline() -> None:
    plan = plan_statements(_seed_pipeline(notify="Unknown", pipeline="Unknown"), V1)
    assert plan.statements == ()
    assert plan.waiting[0].reason == "the run is not done"
    assert not plan.waiting[0].final


def test_on_success_skips_a_failed_pipeline_for_good() -> None:
    plan = plan_statements(_seed_pipeline(), V1, emit="on-success")
    assert plan.statements == ()
    assert plan.waiting[0].final


def test_on_artifact_attests_while_a_later_task_still_runs() -> None:
    pr = _seed_pipeline(notify="Unknown", pipeline="Unknown")
    plan = plan_statements(pr, V1, scope="per-artifact", emit="on-artifact")
    (planned,) = plan.statements
    state = _state(planned.statement)
    assert state["pipelineRun"]["status"] == "Unknown"
    assert state["emit"] == "on-artifact"
    assert {t["pipelineTask"]: t["status"] for t in state["inScope"]} == {
        "clone": "True",
        "build-push": "True",
    }
    assert {t["pipelineTask"]: t["status"] for t in state["excluded"]} == {
        "slack-notify": "Unknown"
    }


def test_on_artifact_attests_after_an_unrelated_task_failed_and_records_it() -> None:
    plan = plan_statements(_seed_pipeline(), V02, scope="per-artifact", emit="on-artifact")
    (planned,) = plan.statements
    assert planned.run_status == "False"
    state = _state(planned.statement)
    assert state["pipelineRun"]["reason"] == "Failed"
    assert state["excluded"][0]["reason"] == "Failed"
    tasks = [t["name"] for t in planned.statement["predicate"]["buildConfig"]["tasks"]]
    assert tasks == ["clone", "build-push"]


def test_on_artifact_gives_nothing_when_the_producer_failed() -> None:
    plan = plan_statements(
        _seed_pipeline(build="False", notify="True"), V1, scope="per-artifact", emit="on-artifact"
    )
    assert plan.statements == ()
    assert plan.waiting[0].reason == "in-scope task build-push (demo-build-push) failed"
    assert plan.waiting[0].final


def test_on_artifact_waits_while_an_in_scope_task_runs() -> None:
    docs = pipeline_run(
        [
            Task("clone", status="Unknown"),
            Task(
                "build",
                run_after=["clone"],
                results={"IMAGE_URL": IMAGE, "IMAGE_DIGEST": f"sha256:{digest('a')}"},
            ),
        ],
        status="Unknown",
    )
    (pr,) = parse_records(docs)
    plan = plan_statements(pr, V1, scope="per-artifact", emit="on-artifact")
    assert plan.statements == ()
    assert "has not finished" in plan.waiting[0].reason
    assert not plan.waiting[0].final


def test_on_artifact_needs_per_artifact_scope() -> None:
    with pytest.raises(FormatError, match="needs per-artifact scope"):
        plan_statements(_seed_pipeline(), V1, emit="on-artifact")


def test_unknown_policy_values_are_rejected() -> None:
    with pytest.raises(FormatError, match="unknown scope"):
        plan_statements(_seed_pipeline(), V1, scope="per-task")
    with pytest.raises(FormatError, match="unknown emit policy"):
        plan_statements(_seed_pipeline(), V1, emit="whenever")


def test_per_artifact_v1_statement_names_one_subject_and_only_in_scope_dependencies() -> None:
    pr = _seed_pipeline()
    (planned,) = plan_statements(pr, V1, scope="per-artifact").statements
    statement = planned.statement
    assert statement["subject"] == [{"name": IMAGE, "digest": {"sha256": digest("app")}}]
    definition = statement["predicate"]["buildDefinition"]
    assert definition["buildType"] == PER_ARTIFACT_BUILD_TYPE_V1
    per_run = generate(pr, V1)["predicate"]["buildDefinition"]
    assert definition["externalParameters"] == per_run["externalParameters"]
    uris = {d["uri"] for d in definition["resolvedDependencies"]}
    assert "oci://registry.example/slack-notify" not in uris
    assert "oci://registry.example/build-push" in uris
    byproducts = statement["predicate"]["runDetails"].get("byproducts", [])
    assert all("slack-notify" not in b["name"] for b in byproducts)
    assert any(json.loads(base64.b64decode(b["content"])) == "abc" for b in byproducts)


def test_per_artifact_v02_statement_uses_our_build_type() -> None:
    (planned,) = plan_statements(_seed_pipeline(), V02, scope="per-artifact").statements
    assert planned.statement["predicate"]["buildType"] == PER_ARTIFACT_BUILD_TYPE_V02
    materials = {m["uri"] for m in planned.statement["predicate"]["materials"]}
    assert "oci://registry.example/slack-notify" not in materials


def test_explanation_lists_in_scope_tasks_with_reasons_and_the_excluded_ones() -> None:
    assert plan_statements(_seed_pipeline(), V1, scope="per-artifact").explanation == ""
    plan = plan_statements(_seed_pipeline(), V1, scope="per-artifact", explain=True)
    text = plan.explanation
    assert f"artifact {IMAGE}" in text
    assert "clone" in text and "$(tasks.clone.results.commit)" in text
    assert "slack-notify" in text.split("excluded:")[1]


def test_standalone_task_run_on_artifact_waits_until_it_succeeded() -> None:
    docs = pipeline_run([Task("build", status="Unknown")], status="Unknown")
    task_run = docs[1]
    task_run["metadata"].pop("ownerReferences")
    task_run["metadata"]["labels"] = {}
    (tr,) = parse_records([task_run])
    plan = plan_statements(tr, V1, scope="per-artifact", emit="on-artifact")
    assert plan.statements == ()
    assert plan.waiting[0].reason == "the run is not done"


def test_recorded_run_state_matches_the_documented_json_schema() -> None:
    import jsonschema

    from .conftest import REPO

    schema = json.loads((REPO / "docs" / "run-state.schema.json").read_text())
    for cfg in (V1, V02):
        for emit in ("on-completion", "on-artifact"):
            for planned in plan_statements(
                _seed_pipeline(), cfg, scope="per-artifact", emit=emit
            ).statements:
                jsonschema.validate(_state(planned.statement), schema)
