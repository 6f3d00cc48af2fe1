"""parse_records: kinds, child joining, v1beta1 normalisation, times, flags (spec §5, §7.1)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from provenance.core import (
    PipelineRun,
    RecordError,
    SlsaConfig,
    TaskRun,
    generate,
    load_documents,
    parse_records,
)
from provenance.core.tekton import Result, to_utc

from .builders import (
    V1BETA1,
    child,
    pipeline_run,
    pipeline_task,
    result,
    results,
    task_run,
)


def only_pipeline_run(objects: list[dict[str, object]]) -> PipelineRun:
    runs = parse_records(objects)
    assert len(runs) == 1
    assert isinstance(runs[0], PipelineRun)
    return runs[0]


def only_task_run(obj: dict[str, object]) -> TaskRun:
    runs = parse_records([obj])
    assert len(runs) == 1
    assert isinstance(runs[0], TaskRun)
    return runs[0]


def run_spec(run: TaskRun | PipelineRun) -> dict[str, Any]:
    """``externalParameters.runSpec`` of the run's SLSA v1.0 statement: the spec as Chains
    re-encodes it from Tekton's Go type."""
    statement = generate(run, SlsaConfig(format="slsa/v2alpha4"))
    spec: dict[str, Any] = statement["predicate"]["buildDefinition"]["externalParameters"][
        "runSpec"
    ]
    return spec


def param_list(name: str, values: list[str]) -> dict[str, object]:
    return {"name": name, "value": values}


def child_names(pr: PipelineRun) -> list[str]:
    return [tr.name for tr in pr.task_runs]


# --- kinds and required fields -----------------------------------------------------------------


def test_config_map_is_rejected_with_a_message_naming_it() -> None:
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "chains-config"}}
    with pytest.raises(RecordError, match="ConfigMap 'chains-config'") as info:
        parse_records([config_map])
    assert "not a Tekton TaskRun or PipelineRun" in str(info.value)


def test_rejected_object_is_identified_by_its_position() -> None:
    with pytest.raises(RecordError, match="object 2 "):
        parse_records([task_run(), {"kind": "Pod", "metadata": {"name": "p"}}])


def test_object_without_kind_is_rejected() -> None:
    with pytest.raises(RecordError, match="kind: None"):
        parse_records([{"metadata": {"name": "x"}, "status": {}}])


def test_custom_run_is_rejected() -> None:
    with pytest.raises(RecordError, match="CustomRun"):
        parse_records([{"apiVersion": "tekton.dev/v1beta1", "kind": "CustomRun", "status": {}}])


@pytest.mark.parametrize("api_version", ["tekton.dev/v1alpha1", "v1", "tekton.dev/v2"])
def test_unsupported_api_version_is_rejected(api_version: str) -> None:
    with pytest.raises(RecordError, match=f"unsupported apiVersion '{api_version}'"):
        parse_records([task_run(api_version=api_version)])


def test_missing_api_version_is_read_as_v1() -> None:
    tr = only_task_run(task_run(api_version=None, status_results=results(a="1")))
    assert [r.name for r in tr.meta.results] == ["a"]


def test_run_without_status_is_rejected_as_not_run_yet() -> None:
    obj = task_run("pending")
    del obj["status"]
    with pytest.raises(RecordError, match="TaskRun 'pending' has no status"):
        parse_records([obj])


def test_pipeline_run_with_null_status_is_rejected() -> None:
    obj = pipeline_run("queued")
    obj["status"] = None
    with pytest.raises(RecordError, match="PipelineRun 'queued' has no status"):
        parse_records([obj])


def test_result_without_a_name_is_rejected() -> None:
    with pytest.raises(RecordError, match="has no name"):
        parse_records([task_run(status_results=[{"value": "x"}])])


def test_result_with_a_number_value_is_rejected() -> None:
    with pytest.raises(RecordError, match="'count'"):
        parse_records([task_run(status_results=[result("count", 3)])])


def test_result_values_keep_string_array_and_object_shapes() -> None:
    tr = only_task_run(
        task_run(
            status_results=[
                result("s", "text"),
                result("a", ["x", "y"]),
                result("o", {"uri": "u", "digest": "d"}),
                result("n", None),
            ]
        )
    )
    assert [r.value for r in tr.meta.results] == [
        "text",
        ["x", "y"],
        {"uri": "u", "digest": "d"},
        "",
    ]
    assert tr.meta.results[1].string_value == ""
    assert tr.meta.results[2].object_value == {"uri": "u", "digest": "d"}


def test_steps_that_are_not_objects_are_rejected() -> None:
    with pytest.raises(RecordError, match="status.steps must be a list of objects"):
        parse_records([task_run(status_extra={"steps": ["step-a"]})])


def test_task_spec_steps_that_are_not_a_list_are_rejected() -> None:
    # Found by test_fuzz_documents: `taskSpec.steps: true` crashed the SLSA v0.2 format.
    spec = {"taskSpec": {"steps": True}}
    with pytest.raises(RecordError, match="status.taskSpec.steps must be a list of objects"):
        parse_records([task_run(status_extra=spec)])


def test_labels_that_are_not_an_object_are_rejected() -> None:
    obj = task_run()
    obj["metadata"]["labels"] = ["a"]
    with pytest.raises(RecordError, match="metadata.labels"):
        parse_records([obj])


def test_succeeded_condition_is_found_by_type_not_position() -> None:
    obj = task_run(succeeded="False")
    obj["status"]["conditions"].insert(0, {"type": "Ready", "status": "True"})
    tr = only_task_run(obj)
    assert tr.meta.succeeded is not None
    assert tr.meta.succeeded.status == "False"
    assert tr.meta.is_done


def test_run_with_unknown_succeeded_condition_is_not_done() -> None:
    assert not only_task_run(task_run(succeeded="Unknown")).meta.is_done


def test_step_provenance_ref_source_is_parsed() -> None:
    obj = task_run()
    obj["status"]["steps"][0]["provenance"] = {
        "refSource": {
            "uri": "git+https://g/sa.git",
            "digest": {"sha1": "ab"},
            "entryPoint": "a.yaml",
        }
    }
    step_ref = only_task_run(obj).steps[0].ref_source
    assert step_ref is not None
    assert (step_ref.uri, step_ref.digest, step_ref.entry_point) == (
        "git+https://g/sa.git",
        {"sha1": "ab"},
        "a.yaml",
    )


# --- joining children ----------------------------------------------------------------------


def test_task_runs_are_joined_by_child_references_in_their_order() -> None:
    # No labels naming the PR, no owner: only childReferences link them.
    first = task_run("tr-b", labels={"tekton.dev/pipelineTask": "b"})
    second = task_run("tr-a", labels={"tekton.dev/pipelineTask": "a"})
    pr = pipeline_run(child_refs=["tr-a", "tr-b"])
    joined = only_pipeline_run([first, second, pr])
    assert child_names(joined) == ["tr-a", "tr-b"]
    assert [c.name for c in joined.child_references] == ["tr-a", "tr-b"]


def test_child_reference_order_comes_from_the_yaml_record(tekton_data: Path) -> None:
    objects = load_documents((tekton_data / "pipelinerun-multidoc.yaml").read_bytes())
    pr = only_pipeline_run(objects)
    assert child_names(pr) == ["build-push-run-clone", "build-push-run-build"]


def test_with_child_references_only_the_children_they_name_are_used() -> None:
    # Chains' controller fetches exactly the TaskRuns childReferences name; others it never sees.
    pr = pipeline_run("pr", child_refs=["pr-named"])
    objects = [
        child("x", "pr-extra-1"),
        pr,
        child("y", "pr-extra-2"),
        child("named", "pr-named"),
    ]
    assert child_names(only_pipeline_run(objects)) == ["pr-named"]


def test_without_child_references_every_joined_child_is_used_in_input_order() -> None:
    # Chains' own test data has no childReferences: its tests append every TaskRun given.
    pr = pipeline_run("pr")
    objects = [pr, child("y", "pr-b"), child("x", "pr-a")]
    assert child_names(only_pipeline_run(objects)) == ["pr-b", "pr-a"]


def test_a_name_shared_by_two_task_runs_gives_the_first_for_every_reference() -> None:
    pr = pipeline_run("pr", child_refs=["pr-a", "pr-dup", "pr-dup"])
    first, second = child("x", "pr-dup"), child("y", "pr-dup")
    objects = [pr, child("a", "pr-a"), first, second]
    run = only_pipeline_run(objects)
    assert child_names(run) == ["pr-a", "pr-dup"]
    assert [tr.pipeline_task for tr in run.task_runs_for("x")] == ["x", "x"]
    assert run.task_runs_for("y") == ()


def test_task_run_is_joined_by_owner_reference_uid() -> None:
    owned = task_run("renamed", owner_uid="uid-1234")
    pr = pipeline_run("pr", uid="uid-1234")
    assert child_names(only_pipeline_run([pr, owned])) == ["renamed"]


def test_task_run_is_joined_by_pipeline_run_label() -> None:
    labelled = task_run("renamed", labels={"tekton.dev/pipelineRun": "pr"})
    assert child_names(only_pipeline_run([labelled, pipeline_run("pr")])) == ["renamed"]


def test_child_listed_before_its_pipeline_run_is_still_joined() -> None:
    runs = parse_records([child("build"), pipeline_run("pr")])
    assert len(runs) == 1
    assert isinstance(runs[0], PipelineRun)


def test_labelled_task_run_without_link_joins_nearest_preceding_pipeline_run() -> None:
    objects = [
        pipeline_run("first"),
        task_run("a", labels={"tekton.dev/pipelineTask": "build"}),
        pipeline_run("second"),
        task_run("b", labels={"tekton.dev/pipelineTask": "build"}),
        task_run("c", labels={"tekton.dev/pipelineTask": "test"}),
    ]
    runs = parse_records(objects)
    assert [(type(r).__name__, r.name) for r in runs] == [
        ("PipelineRun", "first"),
        ("PipelineRun", "second"),
    ]
    first, second = runs
    assert isinstance(first, PipelineRun)
    assert isinstance(second, PipelineRun)
    assert child_names(first) == ["a"]
    assert child_names(second) == ["b", "c"]


def test_labelled_task_run_before_any_pipeline_run_stands_alone() -> None:
    objects = [task_run("early", labels={"tekton.dev/pipelineTask": "build"}), pipeline_run("pr")]
    runs = parse_records(objects)
    assert [r.name for r in runs] == ["early", "pr"]
    assert isinstance(runs[0], TaskRun)


def test_task_run_without_pipeline_task_label_stands_alone() -> None:
    runs = parse_records([pipeline_run("pr"), task_run("standalone")])
    assert [(type(r).__name__, r.name) for r in runs] == [
        ("PipelineRun", "pr"),
        ("TaskRun", "standalone"),
    ]
    pr = runs[0]
    assert isinstance(pr, PipelineRun)
    assert pr.task_runs == ()


def test_task_run_labelled_with_an_absent_pipeline_run_stands_alone() -> None:
    orphan = child("build", "orphan", pr="gone")
    runs = parse_records([pipeline_run("pr"), orphan])
    assert [r.name for r in runs] == ["pr", "orphan"]


def test_task_run_owned_by_an_absent_pipeline_run_stands_alone() -> None:
    orphan = task_run("orphan", owner_uid="uid-gone", labels={"tekton.dev/pipelineTask": "build"})
    runs = parse_records([pipeline_run("pr"), orphan])
    assert [r.name for r in runs] == ["pr", "orphan"]


def test_runs_come_back_in_input_order() -> None:
    objects = [task_run("one"), pipeline_run("two"), child("build", pr="two"), task_run("three")]
    assert [r.name for r in parse_records(objects)] == ["one", "two", "three"]


def test_same_names_in_two_namespaces_stay_apart() -> None:
    objects = [
        pipeline_run("pr", namespace="team-a", uid="uid-a", child_refs=["pr-build"]),
        pipeline_run("pr", namespace="team-b", uid="uid-b", child_refs=["pr-build"]),
        child("build", namespace="team-b", status_results=results(who="b")),
        child("build", namespace="team-a", status_results=results(who="a")),
    ]
    runs = parse_records(objects)
    assert len(runs) == 2
    for run, expected in zip(runs, ["a", "b"], strict=True):
        assert isinstance(run, PipelineRun)
        assert [tr.meta.namespace for tr in run.task_runs] == [f"team-{expected}"]
        assert run.task_runs[0].meta.results[0].value == expected


def test_owner_uid_does_not_cross_namespaces() -> None:
    objects = [
        pipeline_run("pr", namespace="team-a", uid="uid-shared"),
        task_run("stray", namespace="team-b", owner_uid="uid-shared"),
    ]
    assert [type(r).__name__ for r in parse_records(objects)] == ["PipelineRun", "TaskRun"]


def test_fallback_join_does_not_cross_namespaces() -> None:
    objects = [
        pipeline_run("pr", namespace="team-a"),
        task_run("stray", namespace="team-b", labels={"tekton.dev/pipelineTask": "build"}),
    ]
    assert [type(r).__name__ for r in parse_records(objects)] == ["PipelineRun", "TaskRun"]


# --- executed_task_runs (spec §7.1) --------------------------------------------------------


def test_walk_visits_tasks_then_finally_in_spec_order() -> None:
    pr = pipeline_run(
        tasks=[pipeline_task("clone"), pipeline_task("build")],
        finally_=[pipeline_task("notify")],
    )
    objects = [pr, child("notify"), child("build"), child("clone")]
    walk = only_pipeline_run(objects).executed_task_runs()
    assert [(task["name"], tr.name) for task, tr in walk] == [
        ("clone", "pr-clone"),
        ("build", "pr-build"),
        ("notify", "pr-notify"),
    ]


def test_walk_skips_children_without_completion_time() -> None:
    pr = pipeline_run(tasks=[pipeline_task("clone"), pipeline_task("build")])
    objects = [pr, child("clone"), child("build", completion=None, succeeded="Unknown")]
    walk = only_pipeline_run(objects).executed_task_runs()
    assert [tr.name for _, tr in walk] == ["pr-clone"]


def test_walk_keeps_failed_children() -> None:
    pr = pipeline_run(tasks=[pipeline_task("build")])
    walk = only_pipeline_run([pr, child("build", succeeded="False")]).executed_task_runs()
    assert [tr.name for _, tr in walk] == ["pr-build"]


def test_matrix_fan_out_gives_every_child_in_child_reference_order() -> None:
    pr = pipeline_run(
        tasks=[pipeline_task("build", matrix={"params": [param_list("arch", ["amd64", "arm64"])]})],
        child_refs=["pr-build-0", "pr-build-1"],
    )
    objects = [pr, child("build", "pr-build-1"), child("build", "pr-build-0")]
    walk = only_pipeline_run(objects).executed_task_runs()
    assert [(task["name"], tr.name) for task, tr in walk] == [
        ("build", "pr-build-0"),
        ("build", "pr-build-1"),
    ]


def test_walk_ignores_children_whose_label_names_no_task() -> None:
    pr = pipeline_run(tasks=[pipeline_task("build")])
    pipeline = only_pipeline_run([pr, child("build"), child("lint")])
    assert child_names(pipeline) == ["pr-build", "pr-lint"]
    assert [tr.name for _, tr in pipeline.executed_task_runs()] == ["pr-build"]


def test_walk_is_empty_without_pipeline_spec() -> None:
    pr = pipeline_run(with_pipeline_spec=False)
    pipeline = only_pipeline_run([pr, child("build")])
    assert pipeline.pipeline_spec is None
    assert pipeline.executed_task_runs() == ()


# --- v1beta1 normalisation (spec §5.2) -----------------------------------------------------


def test_v1beta1_task_results_become_results() -> None:
    obj = task_run(api_version=V1BETA1, status_extra={"taskResults": results(IMAGE_URL="x")})
    assert [r.name for r in only_task_run(obj).meta.results] == ["IMAGE_URL"]


def test_v1_task_run_ignores_task_results() -> None:
    obj = task_run(status_extra={"taskResults": results(IMAGE_URL="x")})
    assert only_task_run(obj).meta.results == ()


def test_v1beta1_pipeline_results_become_results() -> None:
    obj = pipeline_run(api_version=V1BETA1, status_extra={"pipelineResults": results(a="1")})
    assert only_pipeline_run([obj]).meta.results == (Result("a", "1"),)


def test_v1_pipeline_run_ignores_pipeline_results() -> None:
    obj = pipeline_run(status_extra={"pipelineResults": results(a="1")})
    assert only_pipeline_run([obj]).meta.results == ()


def test_v1beta1_service_account_moves_to_task_run_template() -> None:
    obj = pipeline_run(api_version=V1BETA1)
    del obj["spec"]["taskRunTemplate"]
    obj["spec"]["serviceAccountName"] = "builder"
    spec = only_pipeline_run([obj]).meta.spec
    assert spec["taskRunTemplate"] == {"serviceAccountName": "builder"}
    assert "serviceAccountName" not in spec


def test_v1beta1_pod_template_moves_to_task_run_template() -> None:
    obj = pipeline_run(api_version=V1BETA1)
    del obj["spec"]["taskRunTemplate"]
    obj["spec"]["podTemplate"] = {"nodeSelector": {"arch": "arm64"}}
    spec = only_pipeline_run([obj]).meta.spec
    assert spec["taskRunTemplate"] == {"podTemplate": {"nodeSelector": {"arch": "arm64"}}}


def test_v1_pipeline_run_drops_service_account_name_like_chains() -> None:
    obj = pipeline_run()
    del obj["spec"]["taskRunTemplate"]
    obj["spec"]["serviceAccountName"] = "builder"
    spec = run_spec(only_pipeline_run([obj]))
    assert "serviceAccountName" not in spec
    assert spec["taskRunTemplate"] == {}


def test_v1beta1_timeout_becomes_timeouts_pipeline() -> None:
    obj = pipeline_run(api_version=V1BETA1)
    del obj["spec"]["timeouts"]
    obj["spec"]["timeout"] = "2h0m0s"
    spec = only_pipeline_run([obj]).meta.spec
    assert spec["timeouts"] == {"pipeline": "2h0m0s"}
    assert "timeout" not in spec


def test_v1_pipeline_run_ignores_timeout() -> None:
    obj = pipeline_run()
    obj["spec"]["timeout"] = "2h0m0s"
    spec = run_spec(only_pipeline_run([obj]))
    assert "timeout" not in spec
    assert spec["timeouts"] == {"pipeline": "1h0m0s"}


def test_v1beta1_config_source_becomes_ref_source() -> None:
    source = {"uri": "git+https://g/t.git", "digest": {"sha1": "ab12"}, "entryPoint": "t.yaml"}
    obj = task_run(api_version=V1BETA1, status_extra={"provenance": {"configSource": source}})
    ref = only_task_run(obj).meta.ref_source
    assert ref is not None
    assert (ref.uri, ref.digest, ref.entry_point) == (
        "git+https://g/t.git",
        {"sha1": "ab12"},
        "t.yaml",
    )


def test_v1beta1_pipeline_run_config_source_becomes_ref_source(tekton_data: Path) -> None:
    objects = load_documents((tekton_data / "pipelinerun-v1beta1.json").read_bytes())
    ref = only_pipeline_run(objects).meta.ref_source
    assert ref is not None
    assert ref.entry_point == "pipelines/build-push.yaml"


def test_v1_config_source_is_ignored() -> None:
    source = {"uri": "git+https://g/t.git", "digest": {"sha1": "ab12"}}
    obj = task_run(status_extra={"provenance": {"configSource": source}})
    assert only_task_run(obj).meta.ref_source is None


def test_v1beta1_ref_source_wins_over_config_source() -> None:
    provenance = {
        "configSource": {"uri": "old", "digest": {"sha1": "1"}},
        "refSource": {"uri": "new", "digest": {"sha1": "2"}},
    }
    obj = task_run(api_version=V1BETA1, status_extra={"provenance": provenance})
    ref = only_task_run(obj).meta.ref_source
    assert ref is not None
    assert ref.uri == "new"


def test_v1beta1_task_ref_bundle_becomes_bundles_resolver() -> None:
    obj = task_run(
        api_version=V1BETA1, task_ref={"name": "kaniko", "bundle": "gcr.io/cat/kaniko:0.6"}
    )
    ref = only_task_run(obj).meta.spec["taskRef"]
    assert ref["resolver"] == "bundles"
    assert "bundle" not in ref
    assert {"name": "bundle", "value": "gcr.io/cat/kaniko:0.6"} in ref["params"]
    assert {"name": "name", "value": "kaniko"} in ref["params"]


@pytest.mark.parametrize(
    ("kind", "ref_key"), [("TaskRun", "taskRef"), ("PipelineRun", "pipelineRef")]
)
def test_v1beta1_bundle_conversion_matches_tekton(kind: str, ref_key: str) -> None:
    if kind == "TaskRun":
        obj = task_run(api_version=V1BETA1, task_ref={"name": "x", "bundle": "gcr.io/b:1"})
        run = parse_records([obj])[0]
    else:
        obj = pipeline_run(api_version=V1BETA1, pipeline_ref={"name": "x", "bundle": "gcr.io/b:1"})
        run = parse_records([obj])[0]
    expected_kind = "Task" if kind == "TaskRun" else "Pipeline"
    assert run.meta.spec[ref_key] == {
        "resolver": "bundles",
        "params": [
            {"name": "bundle", "value": "gcr.io/b:1"},
            {"name": "name", "value": "x"},
            {"name": "kind", "value": expected_kind},
        ],
    }


def test_v1_task_ref_bundle_is_left_alone() -> None:
    obj = task_run(task_ref={"name": "kaniko", "bundle": "gcr.io/cat/kaniko:0.6"})
    assert only_task_run(obj).meta.spec["taskRef"] == {
        "name": "kaniko",
        "bundle": "gcr.io/cat/kaniko:0.6",
    }


def test_unknown_spec_fields_are_dropped() -> None:
    obj = task_run(spec_extra={"resources": {"inputs": []}, "timeout": "1h"})
    spec = run_spec(only_task_run(obj))
    assert "resources" not in spec
    assert spec["timeout"] == "1h0m0s"


def test_v1beta1_embedded_task_runs_are_rebuilt_as_children(tekton_data: Path) -> None:
    objects = load_documents((tekton_data / "pipelinerun-v1beta1.json").read_bytes())
    pr = only_pipeline_run(objects)
    assert child_names(pr) == ["legacy-run-build", "legacy-run-clone"]
    assert [c.pipeline_task_name for c in pr.child_references] == ["build", "clone"]
    build = pr.task_runs_for("build")
    assert len(build) == 1
    assert build[0].meta.namespace == "ci"
    assert [r.name for r in build[0].meta.results] == ["IMAGE_URL", "IMAGE_DIGEST"]
    # The walk follows the pipeline spec, not the map order.
    assert [tr.name for _, tr in pr.executed_task_runs()] == [
        "legacy-run-clone",
        "legacy-run-build",
    ]


def test_v1beta1_pipeline_run_fields_are_normalised(tekton_data: Path) -> None:
    objects = load_documents((tekton_data / "pipelinerun-v1beta1.json").read_bytes())
    pr = only_pipeline_run(objects)
    assert pr.meta.spec["taskRunTemplate"] == {"serviceAccountName": "builder"}
    assert pr.meta.spec["timeouts"] == {"pipeline": "1h0m0s"}
    assert [r.name for r in pr.meta.results] == ["IMAGE_URL", "IMAGE_DIGEST"]


def test_embedded_child_given_as_an_object_too_is_not_duplicated(tekton_data: Path) -> None:
    objects = load_documents((tekton_data / "pipelinerun-v1beta1.json").read_bytes())
    real = child("clone", "legacy-run-clone", pr="legacy-run", status_results=results(real="yes"))
    pr = only_pipeline_run([*objects, real])
    clones = pr.task_runs_for("clone")
    assert [tr.meta.results[0].name for tr in clones] == ["real"]


def test_v1_pipeline_run_ignores_embedded_task_runs(tekton_data: Path) -> None:
    objects = load_documents((tekton_data / "pipelinerun-v1beta1.json").read_bytes())
    as_v1 = copy.deepcopy(objects[0])
    as_v1["apiVersion"] = "tekton.dev/v1"
    pr = only_pipeline_run([as_v1])
    assert pr.task_runs == ()
    assert pr.child_references == ()
    assert pr.meta.results == ()
    assert pr.meta.ref_source is None


def test_v1beta1_child_references_are_kept_when_present() -> None:
    obj = pipeline_run(api_version=V1BETA1, child_refs=["pr-a"])
    obj["status"]["taskRuns"] = {"pr-b": {"pipelineTaskName": "b"}}
    pr = only_pipeline_run([obj])
    assert [c.name for c in pr.child_references] == ["pr-a"]


# --- times -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-05-02T10:00:00Z", "2024-05-02T10:00:00Z"),
        ("2024-05-02T12:30:00+02:30", "2024-05-02T10:00:00Z"),
        ("2024-05-02T01:00:00-09:00", "2024-05-02T10:00:00Z"),
        ("2024-05-01T23:30:00-11:00", "2024-05-02T10:30:00Z"),
        ("2024-05-02T10:00:00.5Z", "2024-05-02T10:00:00.5Z"),
        ("2024-05-02T10:00:00.250000Z", "2024-05-02T10:00:00.25Z"),
        ("2024-05-02T10:00:00.000Z", "2024-05-02T10:00:00Z"),
        ("2024-05-02T12:00:00.123+02:00", "2024-05-02T10:00:00.123Z"),
    ],
)
def test_times_are_converted_to_utc(raw: str, expected: str) -> None:
    assert to_utc(raw, "t") == expected


def test_run_times_are_read_in_utc() -> None:
    tr = only_task_run(
        task_run(start="2024-05-02T12:00:00+02:00", completion="2024-05-02T12:01:00+02:00")
    )
    assert (tr.meta.start_time, tr.meta.completion_time) == (
        "2024-05-02T10:00:00Z",
        "2024-05-02T10:01:00Z",
    )


def test_missing_and_empty_times_are_none() -> None:
    tr = only_task_run(task_run(start=None, completion=""))
    assert (tr.meta.start_time, tr.meta.completion_time) == (None, None)


@pytest.mark.parametrize("raw", ["2024-05-02T10:00:00", "yesterday", "2024-13-02T10:00:00Z"])
def test_bad_times_are_record_errors(raw: str) -> None:
    with pytest.raises(RecordError, match="status.startTime"):
        parse_records([task_run(start=raw)])


@pytest.mark.parametrize("text", ["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00"])
def test_times_outside_the_years_utc_can_hold_are_record_errors(text: str) -> None:
    # Year 10000 and year 0 once in UTC: Chains cannot write them either.
    with pytest.raises(RecordError, match=r"status\.startTime is out of range"):
        to_utc(text, "status.startTime")
    obj = task_run()
    obj["status"]["completionTime"] = text
    with pytest.raises(RecordError, match=r"status\.completionTime is out of range"):
        parse_records([obj])


def test_nanosecond_times_keep_their_precision() -> None:
    assert to_utc("2024-05-02T10:00:00.123456789Z", "t") == "2024-05-02T10:00:00.123456789Z"


def test_unquoted_yaml_timestamps_are_accepted(tekton_data: Path) -> None:
    text = (
        (tekton_data / "taskrun.yaml")
        .read_text()
        .replace('"2024-05-02T10:00:21Z"', "2024-05-02T10:00:21Z")
    )
    tr = parse_records(load_documents(text))[0]
    assert tr.meta.start_time == "2024-05-02T10:00:21Z"


# --- feature flags ---------------------------------------------------------------------------


def test_feature_flag_keys_are_camel_cased() -> None:
    flags = {"EnableAPIFields": "beta", "ResultExtractionMethod": "termination-message"}
    tr = only_task_run(task_run(feature_flags=flags))
    assert tr.meta.feature_flags == {
        "enableAPIFields": "beta",
        "resultExtractionMethod": "termination-message",
    }


def test_feature_flags_drop_false_and_empty_values() -> None:
    flags = {
        "enableAPIFields": "stable",
        "enableProvenanceInStatus": True,
        "disableCredsInit": False,
        "coschedule": "",
        "maxResultSize": 0,
        "enforceNonfalsifiability": None,
    }
    tr = only_task_run(task_run(feature_flags=flags))
    assert tr.meta.feature_flags == {"enableAPIFields": "stable", "enableProvenanceInStatus": True}


def test_feature_flags_keep_non_zero_numbers() -> None:
    tr = only_task_run(task_run(feature_flags={"MaxResultSize": 4096}))
    assert tr.meta.feature_flags == {"maxResultSize": 4096}


def test_absent_feature_flags_are_none_and_empty_ones_are_empty() -> None:
    assert only_task_run(task_run()).meta.feature_flags is None
    assert only_task_run(task_run(feature_flags={})).meta.feature_flags == {}


def test_feature_flag_keys_match_case_insensitively() -> None:
    tr = only_task_run(task_run(feature_flags={"enableapifields": "beta"}))
    assert tr.meta.feature_flags == {"enableAPIFields": "beta"}


def test_parse_records_does_not_modify_its_input(tekton_data: Path) -> None:
    objects = load_documents((tekton_data / "pipelinerun-v1beta1.json").read_bytes())
    before = json.dumps(objects, sort_keys=True)
    parse_records(objects)
    assert json.dumps(objects, sort_keys=True) == before


@pytest.mark.parametrize(
    "obj",
    [
        {"kind": "TaskRun", "metadata": "x", "status": {}},
        {"kind": "TaskRun", "spec": [], "status": {}},
        {"kind": "TaskRun", "status": {"steps": [{"name": "s", "provenance": "x"}]}},
        {"kind": "PipelineRun", "status": {"pipelineSpec": {"tasks": "x"}}},
        {"kind": "PipelineRun", "spec": {"taskRunTemplate": "x"}, "status": {"pipelineSpec": {}}},
        {"kind": "TaskRun", "status": {"results": [{"name": "r", "value": {"a": {"b": 1}}}]}},
    ],
)
def test_fields_of_the_wrong_type_are_record_errors_not_crashes(obj: dict[str, Any]) -> None:
    from provenance.core import SlsaConfig, generate

    with pytest.raises(RecordError):
        for run in parse_records([obj]):
            generate(run, SlsaConfig(format="slsa/v1"))
