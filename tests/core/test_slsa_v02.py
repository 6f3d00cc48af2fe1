"""SLSA v0.2 statements (Chains format ``slsa/v1`` / ``in-toto``), spec §7, §8, §11."""

from __future__ import annotations

from typing import Any

import pytest

from provenance.core import FormatError

from .builders import (
    child,
    hex64,
    image_id,
    param,
    pipeline_run,
    pipeline_task,
    provenance,
    ref_source,
    result,
    results,
    sha256,
    step,
    subject_names,
    task_run,
)

SHA1 = "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567"
PIPELINES_REPO = "git+https://git.example.com/ci/pipelines.git"
CATALOG_REPO = "git+https://git.example.com/ci/catalog.git"


def v02(*objects: dict[str, Any], deep: bool = False) -> dict[str, Any]:
    return provenance(*objects, fmt="slsa/v1", deep=deep)


def image_results(url: str, char: str, marker: str = "") -> list[dict[str, Any]]:
    return [result(f"{marker}IMAGE_URL", url), result(f"{marker}IMAGE_DIGEST", sha256(char))]


def material_uris(statement: dict[str, Any]) -> list[str]:
    return [m["uri"] for m in statement["predicate"]["materials"]]


def tasks_of(statement: dict[str, Any]) -> Any:
    return statement["predicate"]["buildConfig"]["tasks"]


# --- skeleton ----------------------------------------------------------------------------------


def test_task_run_statement_has_v02_skeleton() -> None:
    statement = v02(task_run(status_results=image_results("gcr.io/team/app", "a")))
    assert statement["_type"] == "https://in-toto.io/Statement/v0.1"
    assert statement["predicateType"] == "https://slsa.dev/provenance/v0.2"
    assert statement["subject"] == [{"name": "gcr.io/team/app", "digest": {"sha256": hex64("a")}}]
    predicate = statement["predicate"]
    assert predicate["builder"] == {"id": "https://tekton.dev/chains/v2"}
    assert predicate["buildType"] == "tekton.dev/v1/TaskRun"
    assert predicate["metadata"] == {
        "buildStartedOn": "2024-05-02T10:00:00Z",
        "buildFinishedOn": "2024-05-02T10:02:00Z",
        "completeness": {"parameters": False, "environment": False, "materials": False},
        "reproducible": False,
    }


def test_pipeline_run_statement_has_pipeline_run_build_type() -> None:
    assert v02(pipeline_run())["predicate"]["buildType"] == "tekton.dev/v1/PipelineRun"


def test_subject_is_omitted_without_hints() -> None:
    assert "subject" not in v02(task_run(status_results=results(other="x")))


def test_in_toto_alias_gives_the_same_statement_as_slsa_v1() -> None:
    objects = [
        pipeline_run(
            tasks=[pipeline_task("build")], status_results=image_results("gcr.io/a/b", "a")
        ),
        child("build", status_results=image_results("gcr.io/a/c", "b")),
    ]
    for deep in (False, True):
        assert provenance(*objects, fmt="in-toto", deep=deep) == v02(*objects, deep=deep)


def test_metadata_times_are_omitted_when_missing() -> None:
    metadata = v02(task_run(start=None, completion=None))["predicate"]["metadata"]
    assert "buildStartedOn" not in metadata
    assert "buildFinishedOn" not in metadata


def test_metadata_times_are_converted_to_utc() -> None:
    statement = v02(
        task_run(start="2024-05-02T12:00:00+02:00", completion="2024-05-02T03:00:00-07:00")
    )
    metadata = statement["predicate"]["metadata"]
    assert (metadata["buildStartedOn"], metadata["buildFinishedOn"]) == (
        "2024-05-02T10:00:00Z",
        "2024-05-02T10:00:00Z",
    )


# --- reproducible (spec §11.19) ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("labels", "annotations", "reproducible"),
    [
        ({"chains.tekton.dev/reproducible": "true"}, None, True),
        ({"chains.tekton.dev/reproducible": "false"}, None, False),
        ({"chains.tekton.dev/reproducible": "True"}, None, False),
        (None, {"chains.tekton.dev/reproducible": "true"}, False),
    ],
)
def test_reproducible_comes_from_the_label_only(
    labels: dict[str, str] | None, annotations: dict[str, str] | None, reproducible: bool
) -> None:
    statement = v02(task_run(labels=labels, annotations=annotations))
    assert statement["predicate"]["metadata"]["reproducible"] is reproducible


# --- invocation --------------------------------------------------------------------------------


def test_parameters_overlay_run_params_on_declared_defaults() -> None:
    tr = task_run(
        spec_params=[
            {"name": "IMAGE", "type": "string"},
            {"name": "CONTEXT", "type": "string", "default": "."},
            {"name": "FLAGS", "type": "array", "default": ["--a"]},
            {"name": "DOCKERFILE", "type": "string", "default": "Dockerfile"},
            {"name": "UNSET", "type": "string"},
        ],
        params=[param("IMAGE", "gcr.io/a/b"), param("DOCKERFILE", "build/Dockerfile")],
    )
    assert v02(tr)["predicate"]["invocation"]["parameters"] == {
        "CONTEXT": ".",
        "FLAGS": ["--a"],
        "DOCKERFILE": "build/Dockerfile",
        "IMAGE": "gcr.io/a/b",
    }


def test_parameters_keep_array_and_object_values() -> None:
    tr = task_run(params=[param("list", ["a", "b"]), param("obj", {"k": "v"})])
    assert v02(tr)["predicate"]["invocation"]["parameters"] == {
        "list": ["a", "b"],
        "obj": {"k": "v"},
    }


def test_parameters_are_empty_object_when_nothing_is_set() -> None:
    assert v02(task_run())["predicate"]["invocation"]["parameters"] == {}


def test_pipeline_run_parameters_use_pipeline_spec_defaults() -> None:
    pr = pipeline_run(
        spec_params=[{"name": "image", "default": "gcr.io/a/b"}, {"name": "repo"}],
        params=[param("revision", "main")],
    )
    assert v02(pr)["predicate"]["invocation"]["parameters"] == {
        "image": "gcr.io/a/b",
        "revision": "main",
    }


def test_environment_drops_last_applied_and_chains_annotations() -> None:
    tr = task_run(
        labels={"app": "web"},
        annotations={
            "kubectl.kubernetes.io/last-applied-configuration": "{...}",
            "chains.tekton.dev/signed": "true",
            "chains.tekton.dev/transparency": "https://rekor/x",
            "team": "core",
            "chains.tekton.dev.example/keep": "yes",
        },
    )
    assert v02(tr)["predicate"]["invocation"]["environment"] == {
        "annotations": {"team": "core", "chains.tekton.dev.example/keep": "yes"},
        "labels": {"app": "web"},
    }


def test_environment_omits_annotations_when_all_are_filtered() -> None:
    tr = task_run(labels={"app": "web"}, annotations={"chains.tekton.dev/signed": "true"})
    assert v02(tr)["predicate"]["invocation"]["environment"] == {"labels": {"app": "web"}}


def test_environment_is_omitted_when_empty() -> None:
    tr = task_run(annotations={"kubectl.kubernetes.io/last-applied-configuration": "{}"})
    assert "environment" not in v02(tr)["predicate"]["invocation"]


def test_config_source_comes_from_ref_source_and_is_empty_without_it() -> None:
    with_ref = task_run(ref=ref_source(CATALOG_REPO, SHA1, "task/kaniko.yaml"))
    assert v02(with_ref)["predicate"]["invocation"]["configSource"] == {
        "uri": CATALOG_REPO,
        "digest": {"sha1": SHA1},
        "entryPoint": "task/kaniko.yaml",
    }
    assert v02(task_run())["predicate"]["invocation"]["configSource"] == {}


# --- TaskRun steps and materials (spec §8.1) ---------------------------------------------------


def test_task_run_steps_are_matched_to_spec_steps_by_name() -> None:
    tr = task_run(
        steps=[step("second", "gcr.io/t/two", "2"), step("first", "gcr.io/t/one", "1")],
        spec_steps=[
            {"name": "first", "command": ["/bin/sh", "-c"], "args": ["echo hi"]},
            {"name": "second", "script": "#!/bin/sh\nmake", "command": ["ignored"]},
        ],
    )
    assert v02(tr)["predicate"]["buildConfig"]["steps"] == [
        {
            "entryPoint": "#!/bin/sh\nmake",
            "arguments": None,
            "environment": {"image": f"oci://gcr.io/t/two@{sha256('2')}", "container": "second"},
            "annotations": None,
        },
        {
            "entryPoint": "/bin/sh -c",
            "arguments": ["echo hi"],
            "environment": {"image": f"oci://gcr.io/t/one@{sha256('1')}", "container": "first"},
            "annotations": None,
        },
    ]


def test_task_run_step_without_spec_match_has_empty_entry_point() -> None:
    tr = task_run(steps=[step("unnamed-0")], spec_steps=[{"name": "step1", "command": ["x"]}])
    steps = v02(tr)["predicate"]["buildConfig"]["steps"]
    assert [(s["entryPoint"], s["environment"]["container"]) for s in steps] == [("", "unnamed-0")]


def test_task_run_materials_are_steps_sidecars_git_then_inputs() -> None:
    tr = task_run(
        steps=[step("a", "gcr.io/t/one", "1"), step("b", "gcr.io/t/two", "2")],
        sidecars=[image_id("gcr.io/t/side", "3")],
        params=[
            param("CHAINS-GIT_URL", "https://github.com/org/app"),
            param("CHAINS-GIT_COMMIT", SHA1),
        ],
        status_results=[result("src-ARTIFACT_INPUTS", {"uri": "pkg:dep", "digest": sha256("4")})],
        ref=ref_source(CATALOG_REPO, SHA1),
    )
    assert v02(tr)["predicate"]["materials"] == [
        {"uri": "oci://gcr.io/t/one", "digest": {"sha256": hex64("1")}},
        {"uri": "oci://gcr.io/t/two", "digest": {"sha256": hex64("2")}},
        {"uri": "oci://gcr.io/t/side", "digest": {"sha256": hex64("3")}},
        {"uri": "git+https://github.com/org/app.git", "digest": {"sha1": SHA1}},
        {"uri": "pkg:dep", "digest": {"sha256": hex64("4")}},
    ]


def test_task_run_materials_merge_the_same_image_used_twice() -> None:
    tr = task_run(steps=[step("a", "gcr.io/t/one", "1"), step("b", "gcr.io/t/one", "1")])
    assert v02(tr)["predicate"]["materials"] == [
        {"uri": "oci://gcr.io/t/one", "digest": {"sha256": hex64("1")}}
    ]


def test_task_run_git_commit_without_url_gives_the_git_dot_git_material() -> None:
    tr = task_run(params=[param("CHAINS-GIT_COMMIT", SHA1)])
    assert {"uri": "git+.git", "digest": {"sha1": SHA1}} in v02(tr)["predicate"]["materials"]


def test_task_run_git_url_without_commit_gives_no_material() -> None:
    tr = task_run(params=[param("CHAINS-GIT_URL", "https://github.com/org/app")])
    assert material_uris(v02(tr)) == ["oci://gcr.io/tools/builder"]


def test_pipeline_run_git_commit_without_url_gives_no_material() -> None:
    pr = pipeline_run(params=[param("CHAINS-GIT_COMMIT", SHA1)])
    # No material at all: predicate.materials is omitempty in Chains' Go type.
    assert "materials" not in v02(pr)["predicate"]


def test_deep_inspection_child_git_commit_without_url_gives_git_dot_git_material() -> None:
    pr = pipeline_run(tasks=[pipeline_task("clone")])
    clone = child("clone", status_results=[result("CHAINS-GIT_COMMIT", SHA1)])
    materials = v02(pr, clone, deep=True)["predicate"]["materials"]
    assert {"uri": "git+.git", "digest": {"sha1": SHA1}} in materials


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/org/app.git",
        "git+https://github.com/org/app",
        "git+https://github.com/org/app.git",
    ],
)
@pytest.mark.parametrize("kind", ["TaskRun", "PipelineRun"])
def test_git_url_already_in_spdx_form_is_not_rewritten_twice(url: str, kind: str) -> None:
    params = [param("CHAINS-GIT_URL", url), param("CHAINS-GIT_COMMIT", SHA1)]
    run = task_run(params=params) if kind == "TaskRun" else pipeline_run(params=params)
    assert "git+https://github.com/org/app.git" in material_uris(v02(run))


def test_artifact_inputs_material_uses_the_parsed_digest() -> None:
    digest = f"SHA256: {hex64('4')}"
    tr = task_run(status_results=[result("ARTIFACT_INPUTS", {"uri": "pkg:dep", "digest": digest})])
    assert v02(tr)["predicate"]["materials"][-1] == {
        "uri": "pkg:dep",
        "digest": {"sha256": hex64("4")},
    }


@pytest.mark.parametrize(
    "bad",
    [
        "gcr.io/t/one:latest",
        "gcr.io/t/one@sha256",
        f"gcr.io/t/one@{sha256('1')}@{sha256('2')}",
        f"gcr.io/t/one@sha256:{hex64('1')}:x",
    ],
)
def test_bad_step_image_id_raises_format_error(bad: str) -> None:
    tr = task_run()
    tr["status"]["steps"][0]["imageID"] = bad
    with pytest.raises(FormatError, match="image id"):
        v02(tr)


def test_bad_sidecar_image_id_raises_format_error() -> None:
    with pytest.raises(FormatError):
        v02(task_run(sidecars=["gcr.io/t/side:1.0"]))


def test_bad_child_image_id_fails_the_pipeline_run_statement() -> None:
    bad = child("build")
    bad["status"]["steps"][0]["imageID"] = "gcr.io/t/one"
    with pytest.raises(FormatError):
        v02(pipeline_run(tasks=[pipeline_task("build")]), bad)


# --- PipelineRun subjects and materials, deep inspection (spec §7.2, §8.2) --------------------


def deep_fixture() -> list[dict[str, Any]]:
    pr = pipeline_run(
        tasks=[pipeline_task("clone"), pipeline_task("build", run_after=["clone"])],
        status_results=image_results("gcr.io/team/app", "a"),
        ref=ref_source(PIPELINES_REPO, SHA1, "pipelines/build.yaml"),
        params=[
            param("CHAINS-GIT_URL", "https://github.com/org/app"),
            param("CHAINS-GIT_COMMIT", SHA1),
        ],
    )
    clone = child(
        "clone",
        steps=[step("clone", "gcr.io/t/git", "1")],
        status_results=[
            result("CHAINS-GIT_URL", "https://github.com/org/lib"),
            result("CHAINS-GIT_COMMIT", "c" * 40),
            result("dep-ARTIFACT_INPUTS", {"uri": "pkg:dep", "digest": sha256("5")}),
        ],
        ref=ref_source(CATALOG_REPO, "d" * 40),
    )
    build = child(
        "build",
        steps=[step("build", "gcr.io/t/kaniko", "2")],
        sidecars=[image_id("gcr.io/t/dind", "3")],
        status_results=[
            *image_results("gcr.io/team/app", "a"),
            *image_results("gcr.io/team/lib", "b", "lib-"),
        ],
    )
    return [pr, build, clone]


def test_subjects_without_deep_inspection_are_pipeline_results_only() -> None:
    assert subject_names(v02(*deep_fixture())) == ["gcr.io/team/app"]


def test_deep_inspection_puts_children_subjects_first() -> None:
    statement = v02(*deep_fixture(), deep=True)
    assert statement["subject"] == [
        {"name": "gcr.io/team/app", "digest": {"sha256": hex64("a")}},
        {"name": "gcr.io/team/lib", "digest": {"sha256": hex64("b")}},
    ]


def test_deep_inspection_does_not_read_step_results() -> None:
    pr = pipeline_run(tasks=[pipeline_task("build")])
    build = child("build", steps=[step("s", step_results=image_results("gcr.io/team/app", "a"))])
    assert "subject" not in v02(pr, build, deep=True)


def test_pipeline_run_materials_without_deep_inspection() -> None:
    assert v02(*deep_fixture())["predicate"]["materials"] == [
        {"uri": PIPELINES_REPO, "digest": {"sha1": SHA1}},
        {"uri": "oci://gcr.io/t/git", "digest": {"sha256": hex64("1")}},
        {"uri": CATALOG_REPO, "digest": {"sha1": "d" * 40}},
        {"uri": "oci://gcr.io/t/kaniko", "digest": {"sha256": hex64("2")}},
        {"uri": "oci://gcr.io/t/dind", "digest": {"sha256": hex64("3")}},
        {"uri": "git+https://github.com/org/app.git", "digest": {"sha1": SHA1}},
    ]


def test_deep_inspection_adds_children_git_and_inputs_before_pipeline_git() -> None:
    assert material_uris(v02(*deep_fixture(), deep=True)) == [
        PIPELINES_REPO,
        "oci://gcr.io/t/git",
        CATALOG_REPO,
        "oci://gcr.io/t/kaniko",
        "oci://gcr.io/t/dind",
        "git+https://github.com/org/lib.git",
        "pkg:dep",
        "git+https://github.com/org/app.git",
    ]


def test_pipeline_ref_source_material_keeps_its_raw_uri() -> None:
    pr = pipeline_run(ref=ref_source("https://github.com/org/pipelines", SHA1))
    assert material_uris(v02(pr)) == ["https://github.com/org/pipelines"]


def test_children_without_completion_time_add_nothing() -> None:
    pr = pipeline_run(tasks=[pipeline_task("build")])
    running = child(
        "build",
        completion=None,
        succeeded="Unknown",
        status_results=image_results("gcr.io/team/app", "a"),
    )
    statement = v02(pr, running, deep=True)
    assert "subject" not in statement
    assert "materials" not in statement["predicate"]
    assert tasks_of(statement) == []


# --- buildConfig.tasks (spec §8.2) -------------------------------------------------------------


def test_task_attestation_fields() -> None:
    pr = pipeline_run(
        tasks=[
            pipeline_task(
                "build",
                task_ref={
                    "name": "kaniko",
                    "kind": "Task",
                    "resolver": "",
                    "params": [],
                },
            )
        ]
    )
    build = child(
        "build",
        params=[param("IMAGE", "gcr.io/a/b")],
        status_results=[result("IMAGE_URL", "gcr.io/a/b", "string"), result("note", ["x"])],
        ref=ref_source(CATALOG_REPO, SHA1),
        start="2024-05-02T12:00:01+02:00",
        completion="2024-05-02T10:01:00Z",
    )
    [task] = tasks_of(v02(pr, build))
    assert list(task) == [
        "name",
        "ref",
        "startedOn",
        "finishedOn",
        "serviceAccountName",
        "status",
        "steps",
        "invocation",
        "results",
    ]
    assert task["name"] == "build"
    assert task["ref"] == {"name": "kaniko", "kind": "Task"}
    assert (task["startedOn"], task["finishedOn"]) == (
        "2024-05-02T10:00:01Z",
        "2024-05-02T10:01:00Z",
    )
    assert task["status"] == "Succeeded"
    assert task["invocation"]["configSource"]["uri"] == CATALOG_REPO
    assert task["invocation"]["parameters"] == {"IMAGE": "gcr.io/a/b"}
    assert task["invocation"]["environment"]["labels"]["tekton.dev/pipelineTask"] == "build"
    assert task["results"] == [
        {"name": "IMAGE_URL", "type": "string", "value": "gcr.io/a/b"},
        {"name": "note", "value": ["x"]},
    ]


def test_task_attestation_ref_is_empty_for_inline_task_spec() -> None:
    pr = pipeline_run(tasks=[pipeline_task("inline", taskSpec={"steps": [{"name": "s"}]})])
    [task] = tasks_of(v02(pr, child("inline")))
    assert task["ref"] == {}


def test_task_attestation_results_are_omitted_when_empty() -> None:
    pr = pipeline_run(tasks=[pipeline_task("build")])
    [task] = tasks_of(v02(pr, child("build")))
    assert "results" not in task


@pytest.mark.parametrize(
    ("first_status", "word"), [("True", "Succeeded"), ("False", "Failed"), ("Unknown", "Running")]
)
def test_task_status_is_the_first_conditions_status(first_status: str, word: str) -> None:
    tr = child("build", succeeded="True")
    tr["status"]["conditions"].insert(0, {"type": "Other", "status": first_status})
    pr = pipeline_run(tasks=[pipeline_task("build")])
    assert tasks_of(v02(pr, tr))[0]["status"] == word


def test_service_account_comes_from_task_run_template_for_every_task() -> None:
    pr = pipeline_run(
        tasks=[pipeline_task("a"), pipeline_task("b")],
        spec_extra={
            "taskRunTemplate": {"serviceAccountName": "builder"},
            "taskRunSpecs": [{"pipelineTaskName": "b", "serviceAccountName": "special"}],
        },
    )
    tasks = tasks_of(v02(pr, child("a"), child("b")))
    assert [t["serviceAccountName"] for t in tasks] == ["builder", "builder"]


def test_service_account_is_omitted_without_task_run_template() -> None:
    pr = pipeline_run(tasks=[pipeline_task("a")])
    del pr["spec"]["taskRunTemplate"]
    assert "serviceAccountName" not in tasks_of(v02(pr, child("a")))[0]


def test_tasks_are_null_without_pipeline_spec() -> None:
    statement = v02(pipeline_run(with_pipeline_spec=False), child("build"))
    assert statement["predicate"]["buildConfig"] == {"tasks": None}
    assert "materials" not in statement["predicate"]


def test_tasks_are_empty_without_children() -> None:
    assert v02(pipeline_run(tasks=[pipeline_task("build")]))["predicate"]["buildConfig"] == {
        "tasks": []
    }


def test_child_with_step_count_mismatch_is_dropped_from_tasks_but_not_materials() -> None:
    pr = pipeline_run(tasks=[pipeline_task("ok"), pipeline_task("short")])
    short = child(
        "short",
        steps=[step("one", "gcr.io/t/short", "4")],
        spec_steps=[{"name": "one"}, {"name": "two"}],
    )
    statement = v02(pr, child("ok"), short)
    assert [t["name"] for t in tasks_of(statement)] == ["ok"]
    assert "oci://gcr.io/t/short" in material_uris(statement)


def test_child_with_unnamed_step_against_a_named_spec_step_is_dropped() -> None:
    pr = pipeline_run(tasks=[pipeline_task("a")])
    unnamed = child("a", steps=[step("unnamed-0")], spec_steps=[{"name": "step1"}])
    assert tasks_of(v02(pr, unnamed)) == []


def test_child_with_unnamed_step_against_an_unnamed_spec_step_is_kept() -> None:
    pr = pipeline_run(tasks=[pipeline_task("a")])
    unnamed = child("a", steps=[step("unnamed-0")], spec_steps=[{"command": ["make"]}])
    [task] = tasks_of(v02(pr, unnamed))
    assert task["steps"][0]["entryPoint"] == "make"


def test_child_without_task_spec_is_dropped_from_tasks() -> None:
    pr = pipeline_run(tasks=[pipeline_task("a")])
    no_spec = child("a")
    del no_spec["status"]["taskSpec"]
    assert tasks_of(v02(pr, no_spec)) == []


def test_pipeline_run_task_steps_are_paired_by_index() -> None:
    pr = pipeline_run(tasks=[pipeline_task("a")])
    tr = child(
        "a",
        steps=[step("x", "gcr.io/t/x", "1"), step("y", "gcr.io/t/y", "2")],
        spec_steps=[{"name": "y", "command": ["why"]}, {"name": "x", "command": ["ex"]}],
    )
    steps = tasks_of(v02(pr, tr))[0]["steps"]
    assert [(s["entryPoint"], s["environment"]["container"]) for s in steps] == [
        ("why", "x"),
        ("ex", "y"),
    ]


def test_matrix_children_give_one_task_entry_each() -> None:
    pr = pipeline_run(
        tasks=[pipeline_task("build", matrix={"params": [param("arch", ["amd64", "arm64"])]})],
        child_refs=["pr-build-0", "pr-build-1"],
    )
    children = [
        child("build", "pr-build-1", params=[param("arch", "arm64")]),
        child("build", "pr-build-0", params=[param("arch", "amd64")]),
    ]
    tasks = tasks_of(v02(pr, *children))
    assert [(t["name"], t["invocation"]["parameters"]["arch"]) for t in tasks] == [
        ("build", "amd64"),
        ("build", "arm64"),
    ]


# --- after (spec §8.2, §11.11) -------------------------------------------------------------


def after_of(
    tasks: list[dict[str, Any]], finally_: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    names = [t["name"] for t in tasks + (finally_ or [])]
    pr = pipeline_run(tasks=tasks, finally_=finally_)
    statement = v02(pr, *[child(n) for n in names])
    return {t["name"]: t.get("after") for t in tasks_of(statement)}


def test_after_is_run_after_then_result_references_without_duplicates() -> None:
    tasks = [
        pipeline_task("a"),
        pipeline_task("b"),
        pipeline_task("c"),
        pipeline_task(
            "d",
            run_after=["b"],
            params=[
                param("x", "$(tasks.c.results.out)"),
                param("y", ["$(tasks.a.results.list[*])", "$(tasks.b.results.z)"]),
                param("o", {"k": "$(tasks.a.results.obj.key)"}),
            ],
        ),
    ]
    assert after_of(tasks) == {"a": None, "b": None, "c": None, "d": ["b", "c", "a"]}


def test_after_includes_when_expression_references() -> None:
    tasks = [
        pipeline_task("check"),
        pipeline_task("gate"),
        pipeline_task(
            "deploy",
            when=[
                {"input": "$(tasks.check.results.ok)", "operator": "in", "values": ["true"]},
                {"input": "x", "operator": "in", "values": ["$(tasks.gate.results.v)"]},
            ],
        ),
    ]
    assert after_of(tasks)["deploy"] == ["check", "gate"]


def test_after_includes_references_in_a_cel_when_expression() -> None:
    tasks = [
        pipeline_task("scan"),
        pipeline_task("release", when=[{"cel": "'$(tasks.scan.results.verdict)' == 'clean'"}]),
    ]
    assert after_of(tasks)["release"] == ["scan"]


def test_after_keeps_run_after_as_written_and_skips_six_part_references() -> None:
    tasks = [
        pipeline_task("a"),
        pipeline_task(
            "b",
            run_after=["a", "a"],
            params=[
                param("deep", "$(tasks.x.results.obj.key.more)"),
                param("f", "$(finally.z.results.r)"),
            ],
        ),
    ]
    assert after_of(tasks)["b"] == ["a", "a", "z"]


def test_after_includes_matrix_and_matrix_include_references() -> None:
    tasks = [
        pipeline_task("platforms"),
        pipeline_task("extra"),
        pipeline_task(
            "build",
            matrix={
                "params": [param("arch", "$(tasks.platforms.results.list[*])")],
                "include": [
                    {"name": "special", "params": [param("v", "$(tasks.extra.results.v)")]}
                ],
            },
        ),
    ]
    assert after_of(tasks)["build"] == ["platforms", "extra"]


def test_after_includes_references_in_inline_task_spec_steps() -> None:
    inline = {
        "steps": [{"name": "s", "image": "alpine", "script": "echo $(tasks.gen.results.msg)"}],
        "sidecars": [
            {"name": "db", "image": "pg", "env": [{"name": "V", "value": "$(tasks.ver.results.v)"}]}
        ],
    }
    tasks = [pipeline_task("gen"), pipeline_task("ver"), pipeline_task("use", taskSpec=inline)]
    assert after_of(tasks)["use"] == ["gen", "ver"]


def test_after_ignores_status_references() -> None:
    tasks = [pipeline_task("a"), pipeline_task("b", params=[param("s", "$(tasks.a.status)")])]
    assert after_of(tasks)["b"] is None


def test_finally_task_without_references_follows_last_dag_task_in_spec_order() -> None:
    tasks = [
        pipeline_task("build"),
        pipeline_task("test", run_after=["build"]),
        pipeline_task("lint"),
    ]
    assert after_of(tasks, [pipeline_task("notify")])["notify"] == ["lint"]


def test_finally_task_heuristic_skips_dag_tasks_without_children() -> None:
    pr = pipeline_run(
        tasks=[pipeline_task("build"), pipeline_task("skipped")],
        finally_=[pipeline_task("notify")],
    )
    tasks = tasks_of(v02(pr, child("build"), child("notify")))
    assert [(t["name"], t.get("after")) for t in tasks] == [("build", None), ("notify", ["build"])]


def test_finally_task_with_references_uses_them() -> None:
    tasks = [pipeline_task("build"), pipeline_task("lint")]
    finally_ = [pipeline_task("report", params=[param("d", "$(tasks.build.results.IMAGE_DIGEST)")])]
    assert after_of(tasks, finally_)["report"] == ["build"]


def test_dag_task_without_dependencies_has_no_after() -> None:
    assert "after" not in tasks_of(v02(pipeline_run(tasks=[pipeline_task("a")]), child("a")))[0]
