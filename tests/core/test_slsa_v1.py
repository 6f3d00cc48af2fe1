"""SLSA v1.0 statements (Chains formats ``slsa/v2alpha3``, ``slsa/v2alpha4``), spec §7, §9, §11."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from provenance.core import FormatError, RecordError, SlsaConfig, generate, parse_records

from .builders import (
    child,
    decode,
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
STEPACTIONS_REPO = "git+https://git.example.com/ci/stepactions.git"
SLSA_TEKTON = "https://tekton.dev/chains/v2/slsa-tekton"
ALPHA3, ALPHA4 = "slsa/v2alpha3", "slsa/v2alpha4"


def image_results(url: str, char: str, marker: str = "") -> list[dict[str, Any]]:
    return [result(f"{marker}IMAGE_URL", url), result(f"{marker}IMAGE_DIGEST", sha256(char))]


def output(uri: str, digest: str, build: str | None = None) -> dict[str, str]:
    obj = {"uri": uri, "digest": digest}
    if build is not None:
        obj["isBuildArtifact"] = build
    return obj


def deps(statement: dict[str, Any]) -> list[dict[str, Any]]:
    resolved: list[dict[str, Any]] = statement["predicate"]["buildDefinition"].get(
        "resolvedDependencies", []
    )
    return resolved


def dep_keys(statement: dict[str, Any]) -> list[tuple[str, str]]:
    return [(d.get("name", ""), d.get("uri", "")) for d in deps(statement)]


def byproducts(statement: dict[str, Any]) -> dict[str, Any]:
    """Byproduct name -> decoded content (insertion order is the statement's order)."""
    return {
        b["name"]: decode(b["content"])
        for b in statement["predicate"]["runDetails"].get("byproducts", [])
    }


def assert_byproducts(statement: dict[str, Any], expected: dict[str, Any]) -> None:
    """Byproducts are exactly ``expected``, names in the same order."""
    assert list(byproducts(statement).items()) == list(expected.items())


def external(statement: dict[str, Any]) -> dict[str, Any]:
    params: dict[str, Any] = statement["predicate"]["buildDefinition"]["externalParameters"]
    return params


def internal(statement: dict[str, Any]) -> dict[str, Any]:
    params: dict[str, Any] = statement["predicate"]["buildDefinition"]["internalParameters"]
    return params


# --- skeleton and configuration ------------------------------------------------------------


@pytest.mark.parametrize("fmt", [ALPHA3, ALPHA4])
def test_task_run_statement_has_v1_skeleton(fmt: str) -> None:
    statement = provenance(task_run(uid="uid-1"), fmt=fmt)
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["predicateType"] == "https://slsa.dev/provenance/v1"
    predicate = statement["predicate"]
    assert predicate["buildDefinition"]["buildType"] == "https://tekton.dev/chains/v2/slsa"
    assert predicate["buildDefinition"]["internalParameters"] == {}
    assert predicate["runDetails"]["builder"] == {"id": "https://tekton.dev/chains/v2"}
    assert predicate["runDetails"]["metadata"] == {
        "invocationId": "uid-1",
        "startedOn": "2024-05-02T10:00:00Z",
        "finishedOn": "2024-05-02T10:02:00Z",
    }
    assert "subject" not in statement
    assert "byproducts" not in predicate["runDetails"]


def test_run_metadata_may_be_empty() -> None:
    tr = task_run(uid="", start=None, completion=None)
    assert provenance(tr)["predicate"]["runDetails"]["metadata"] == {}


def test_run_metadata_times_are_utc() -> None:
    tr = task_run(start="2024-05-02T11:00:00+01:00", completion="2024-05-02T03:00:30-07:00")
    metadata = provenance(tr)["predicate"]["runDetails"]["metadata"]
    assert (metadata["startedOn"], metadata["finishedOn"]) == (
        "2024-05-02T10:00:00Z",
        "2024-05-02T10:00:30Z",
    )


def test_run_metadata_fractional_seconds_use_protojson_digits() -> None:
    tr = task_run(completion="2024-05-02T10:00:30.5Z")
    metadata = provenance(tr)["predicate"]["runDetails"]["metadata"]
    assert metadata["finishedOn"] == "2024-05-02T10:00:30.500Z"


def test_builder_id_comes_from_config() -> None:
    run = parse_records([task_run()])[0]
    statement = generate(run, SlsaConfig(format=ALPHA4, builder_id="https://ci.example.com/b"))
    assert statement["predicate"]["runDetails"]["builder"] == {"id": "https://ci.example.com/b"}


@pytest.mark.parametrize("fmt", ["slsa/v2alpha2", "slsa/v2", "tekton", "simplesigning", ""])
def test_unknown_format_raises_format_error(fmt: str) -> None:
    with pytest.raises(FormatError, match="unknown format"):
        SlsaConfig(format=fmt)


@pytest.mark.parametrize(
    "build_type", ["https://tekton.dev/chains/v2/other", "https://slsa.dev/provenance/v1", ""]
)
def test_unknown_build_type_raises_format_error(build_type: str) -> None:
    with pytest.raises(FormatError, match="build type"):
        SlsaConfig(format=ALPHA4, build_type=build_type)


def test_empty_builder_id_raises_format_error() -> None:
    with pytest.raises(FormatError, match="builder id"):
        SlsaConfig(builder_id="")


def test_bad_step_image_id_raises_format_error() -> None:
    tr = task_run()
    tr["status"]["steps"][0]["imageID"] = "docker-pullable://gcr.io/t/one:latest"
    with pytest.raises(FormatError, match="image id"):
        provenance(tr)


def test_image_id_without_digest_separator_raises_format_error() -> None:
    with pytest.raises(FormatError):
        provenance(task_run(sidecars=[f"gcr.io/t/side@{hex64('1')}"]), fmt=ALPHA3)


# --- TaskRun subjects (spec §6.5) ------------------------------------------------------------


def test_v2alpha3_task_run_subjects_include_artifact_pairs_and_unmarked_outputs() -> None:
    tr = task_run(
        status_results=[
            *image_results("gcr.io/team/app", "a"),
            result("jar-ARTIFACT_URI", "App.jar"),
            result("jar-ARTIFACT_DIGEST", sha256("b")),
            result("pkg-ARTIFACT_OUTPUTS", output("Pkg-1.0.tgz", sha256("c"))),
        ]
    )
    assert subject_names(provenance(tr, fmt=ALPHA3)) == [
        "gcr.io/team/app",
        "App.jar",
        "Pkg-1.0.tgz",
    ]


def test_v2alpha4_artifact_uri_pair_is_not_a_subject_but_a_byproduct() -> None:
    tr = task_run(
        name="tr",
        status_results=[result("ARTIFACT_URI", "App.jar"), result("ARTIFACT_DIGEST", sha256("b"))],
    )
    statement = provenance(tr, fmt=ALPHA4)
    assert "subject" not in statement
    assert_byproducts(
        statement,
        {
            "taskRunResults/tr/ARTIFACT_URI": "App.jar",
            "taskRunResults/tr/ARTIFACT_DIGEST": sha256("b"),
        },
    )


def test_byproduct_content_is_go_json_of_the_value() -> None:
    # json.Marshal: compact, map keys sorted, <, > and & escaped.
    tr = task_run(
        name="tr",
        status_results=[result("report", {"z": "a<b", "a": "x&y"}), result("note", "1 > 0")],
    )
    contents = [
        b["content"] for b in provenance(tr, fmt=ALPHA4)["predicate"]["runDetails"]["byproducts"]
    ]
    assert [base64.b64decode(c) for c in contents] == [
        b'{"a":"x\\u0026y","z":"a\\u003cb"}',
        b'"1 \\u003e 0"',
    ]


def test_v2alpha4_output_without_build_marker_is_only_a_byproduct() -> None:
    value = output("Pkg-1.0.tgz", sha256("c"))
    tr = task_run(name="tr", status_results=[result("pkg-ARTIFACT_OUTPUTS", value)])
    statement = provenance(tr, fmt=ALPHA4)
    assert "subject" not in statement
    assert_byproducts(statement, {"taskRunResults/tr/pkg-ARTIFACT_OUTPUTS": value})


def test_v2alpha4_build_artifact_is_a_subject_and_not_a_byproduct() -> None:
    tr = task_run(
        status_results=[result("pkg-ARTIFACT_OUTPUTS", output("Pkg-1.0.tgz", sha256("c"), "true"))]
    )
    statement = provenance(tr, fmt=ALPHA4)
    assert statement["subject"] == [{"name": "Pkg-1.0.tgz", "digest": {"sha256": hex64("c")}}]
    assert_byproducts(statement, {})


def test_v2alpha4_build_artifact_that_parses_as_image_gives_two_subjects() -> None:
    tr = task_run(status_results=[result("ARTIFACT_OUTPUTS", output("abc", sha256("c"), "true"))])
    assert subject_names(provenance(tr, fmt=ALPHA4)) == ["abc", "index.docker.io/library/abc"]


@pytest.mark.parametrize(
    "bad",
    [
        {"uri": "Pkg.tgz", "digest": "sha256:", "isBuildArtifact": "true"},
        {"uri": "Pkg.tgz", "digest": "", "isBuildArtifact": "true"},
        {"uri": "Pkg.tgz", "digest": "md5:" + "a" * 32, "isBuildArtifact": "true"},
        {"digest": sha256("c"), "isBuildArtifact": "true"},
        {"uri": "", "digest": sha256("c"), "isBuildArtifact": "true"},
    ],
)
def test_v2alpha4_invalid_build_artifact_vanishes_from_subjects_and_byproducts(
    bad: dict[str, str],
) -> None:
    tr = task_run(status_results=[result("bad-ARTIFACT_OUTPUTS", bad), result("keep", "x")])
    statement = provenance(tr, fmt=ALPHA4)
    assert "subject" not in statement
    assert list(byproducts(statement)) == ["taskRunResults/build-run/keep"]


def test_v2alpha4_invalid_output_without_marker_stays_a_byproduct() -> None:
    bad = {"uri": "Pkg.tgz", "digest": "sha256:"}
    statement = provenance(task_run(status_results=[result("x-ARTIFACT_OUTPUTS", bad)]))
    assert_byproducts(statement, {"taskRunResults/build-run/x-ARTIFACT_OUTPUTS": bad})


def test_v2alpha4_step_results_give_subjects_before_task_run_results() -> None:
    tr = task_run(
        steps=[
            step("a", step_results=image_results("gcr.io/team/from-step", "a")),
            step(
                "b",
                step_results=[result("o-ARTIFACT_OUTPUTS", output("Bin.tgz", sha256("b"), "true"))],
            ),
        ],
        status_results=image_results("gcr.io/team/from-task", "c"),
    )
    assert subject_names(provenance(tr, fmt=ALPHA4)) == [
        "gcr.io/team/from-step",
        "Bin.tgz",
        "gcr.io/team/from-task",
    ]


def test_v2alpha3_ignores_step_results() -> None:
    tr = task_run(steps=[step("a", step_results=image_results("gcr.io/team/app", "a"))])
    statement = provenance(tr, fmt=ALPHA3)
    assert "subject" not in statement
    assert_byproducts(statement, {})


def test_subjects_shared_by_step_and_task_results_are_merged() -> None:
    tr = task_run(
        steps=[step("a", step_results=image_results("gcr.io/team/app", "a"))],
        status_results=[result("IMAGES", f"gcr.io/team/app@{sha256('a')}")],
    )
    assert provenance(tr, fmt=ALPHA4)["subject"] == [
        {"name": "gcr.io/team/app", "digest": {"sha256": hex64("a")}}
    ]


# --- byproducts (spec §9.5) ----------------------------------------------------------------


def test_v2alpha3_byproducts_are_every_task_run_result() -> None:
    tr = task_run(
        status_results=[
            *image_results("gcr.io/team/app", "a"),
            result("ARTIFACT_INPUTS", {"uri": "pkg:dep", "digest": sha256("b")}),
            result("list", ["a", "b"]),
        ]
    )
    assert_byproducts(
        provenance(tr, fmt=ALPHA3),
        {
            "taskRunResults/IMAGE_URL": "gcr.io/team/app",
            "taskRunResults/IMAGE_DIGEST": sha256("a"),
            "taskRunResults/ARTIFACT_INPUTS": {"uri": "pkg:dep", "digest": sha256("b")},
            "taskRunResults/list": ["a", "b"],
        },
    )


def test_v2alpha4_byproducts_are_named_per_run_and_skip_subject_like_results() -> None:
    tr = task_run(
        name="kaniko-run",
        steps=[step("s", step_results=[result("IMAGE_URL", "x"), result("log", "done")])],
        status_results=[
            result("IMAGE_URL", "not a valid image"),
            result("bad-IMAGE_DIGEST", "nope"),
            result("IMAGES", ""),
            result("note", "hello"),
        ],
    )
    assert_byproducts(
        provenance(tr, fmt=ALPHA4),
        {
            "taskRunResults/kaniko-run/note": "hello",
            "stepResults/kaniko-run/log": "done",
        },
    )


def test_byproduct_content_is_base64_of_compact_json_with_sorted_keys() -> None:
    tr = task_run(
        name="tr",
        status_results=[
            result("s", "abcd"),
            result("o", {"z": "1", "a": "2"}),
            result("l", ["x", "y"]),
        ],
    )
    entries = provenance(tr, fmt=ALPHA4)["predicate"]["runDetails"]["byproducts"]
    assert entries == [
        {"name": "taskRunResults/tr/s", "mediaType": "application/json", "content": "ImFiY2Qi"},
        {
            "name": "taskRunResults/tr/o",
            "mediaType": "application/json",
            "content": "eyJhIjoiMiIsInoiOiIxIn0=",
        },
        {"name": "taskRunResults/tr/l", "mediaType": "application/json", "content": "WyJ4IiwieSJd"},
    ]


def test_pipeline_run_byproducts_v2alpha3_use_pipeline_run_results_prefix() -> None:
    pr = pipeline_run(tasks=[pipeline_task("a")], status_results=results(out="1"))
    statement = provenance(
        pr, child("a", status_results=results(child_out="2")), fmt=ALPHA3, deep=True
    )
    assert_byproducts(statement, {"pipelineRunResults/out": "1"})


def test_pipeline_run_byproducts_v2alpha4_include_children_only_with_deep_inspection() -> None:
    pr = pipeline_run("pr", tasks=[pipeline_task("a")], status_results=results(out="1"))
    tr = child(
        "a",
        "pr-a",
        steps=[step("s", step_results=results(step_out="3"))],
        status_results=[*results(child_out="2"), *image_results("gcr.io/team/app", "a")],
    )
    assert_byproducts(provenance(pr, tr, fmt=ALPHA4), {"pipelineRunResults/pr/out": "1"})
    assert_byproducts(
        provenance(pr, tr, fmt=ALPHA4, deep=True),
        {
            "pipelineRunResults/pr/out": "1",
            "taskRunResults/pr-a/child_out": "2",
            "stepResults/pr-a/step_out": "3",
        },
    )


# --- PipelineRun subjects and deep inspection (spec §7.2) ----------------------------------


def deep_fixture() -> list[dict[str, Any]]:
    pr = pipeline_run(
        tasks=[pipeline_task("clone"), pipeline_task("build", run_after=["clone"])],
        status_results=image_results("gcr.io/team/app", "a"),
    )
    clone = child(
        "clone",
        steps=[
            step(
                "fetch",
                "gcr.io/t/git",
                "1",
                step_results=[
                    result("CHAINS-GIT_URL", "https://github.com/org/step"),
                    result("CHAINS-GIT_COMMIT", "e" * 40),
                ],
            )
        ],
        status_results=[
            result("CHAINS-GIT_URL", "https://github.com/org/lib"),
            result("CHAINS-GIT_COMMIT", "c" * 40),
            result("dep-ARTIFACT_INPUTS", {"uri": "pkg:dep", "digest": sha256("5")}),
        ],
    )
    build = child(
        "build",
        steps=[
            step(
                "build", "gcr.io/t/kaniko", "2", step_results=image_results("gcr.io/team/step", "c")
            )
        ],
        status_results=[
            *image_results("gcr.io/team/app", "a"),
            *image_results("gcr.io/team/lib", "b", "lib-"),
        ],
    )
    return [pr, build, clone]


@pytest.mark.parametrize("fmt", [ALPHA3, ALPHA4])
def test_subjects_without_deep_inspection_are_pipeline_results_only(fmt: str) -> None:
    assert subject_names(provenance(*deep_fixture(), fmt=fmt)) == ["gcr.io/team/app"]


def test_v2alpha3_deep_inspection_puts_children_first_and_ignores_step_results() -> None:
    assert subject_names(provenance(*deep_fixture(), fmt=ALPHA3, deep=True)) == [
        "gcr.io/team/app",
        "gcr.io/team/lib",
    ]
    pr = pipeline_run(
        tasks=[pipeline_task("a")], status_results=image_results("gcr.io/team/pr", "d")
    )
    tr = child("a", status_results=image_results("gcr.io/team/child", "e"))
    assert subject_names(provenance(pr, tr, fmt=ALPHA3, deep=True)) == [
        "gcr.io/team/child",
        "gcr.io/team/pr",
    ]


def test_v2alpha4_deep_inspection_puts_pipeline_first_then_step_and_task_results() -> None:
    pr = pipeline_run(
        tasks=[pipeline_task("a")], status_results=image_results("gcr.io/team/pr", "d")
    )
    tr = child(
        "a",
        steps=[step("s", step_results=image_results("gcr.io/team/step", "f"))],
        status_results=image_results("gcr.io/team/child", "e"),
    )
    assert subject_names(provenance(pr, tr, fmt=ALPHA4, deep=True)) == [
        "gcr.io/team/pr",
        "gcr.io/team/step",
        "gcr.io/team/child",
    ]


def test_deep_inspection_merges_the_same_subject_from_pipeline_and_child() -> None:
    statement = provenance(*deep_fixture(), fmt=ALPHA4, deep=True)
    assert subject_names(statement) == ["gcr.io/team/app", "gcr.io/team/step", "gcr.io/team/lib"]


def test_deep_inspection_skips_children_without_completion_time() -> None:
    pr = pipeline_run(tasks=[pipeline_task("a")])
    tr = child("a", completion=None, status_results=image_results("gcr.io/team/app", "a"))
    statement = provenance(pr, tr, fmt=ALPHA4, deep=True)
    assert "subject" not in statement
    assert deps(statement) == []


def test_resolved_dependencies_without_deep_inspection() -> None:
    assert dep_keys(provenance(*deep_fixture(), fmt=ALPHA4)) == [
        ("", "oci://gcr.io/t/git"),
        ("", "oci://gcr.io/t/kaniko"),
    ]


def test_v2alpha4_deep_inspection_adds_step_inputs_then_child_inputs() -> None:
    assert dep_keys(provenance(*deep_fixture(), fmt=ALPHA4, deep=True)) == [
        ("", "oci://gcr.io/t/git"),
        ("", "oci://gcr.io/t/kaniko"),
        ("inputs/result", "git+https://github.com/org/step.git"),
        ("inputs/result", "git+https://github.com/org/lib.git"),
        ("inputs/result", "pkg:dep"),
    ]


@pytest.mark.parametrize("url", [None, ""])
def test_step_result_commit_without_url_gives_git_dot_git(url: str | None) -> None:
    # Chains' FromStepActionsResults builds the URL before it checks it, as for TaskRun hints.
    step_results = [result("CHAINS-GIT_COMMIT", "e" * 40)]
    if url is not None:
        step_results.append(result("CHAINS-GIT_URL", url))
    pr = pipeline_run(tasks=[pipeline_task("clone")])
    clone = child("clone", steps=[step("fetch", "gcr.io/t/git", "1", step_results=step_results)])
    found = [d for d in deps(provenance(pr, clone, fmt=ALPHA4, deep=True)) if d.get("name")]
    assert found == [{"name": "inputs/result", "uri": "git+.git", "digest": {"sha1": "e" * 40}}]


def test_v2alpha3_deep_inspection_adds_child_inputs_but_not_step_inputs() -> None:
    assert dep_keys(provenance(*deep_fixture(), fmt=ALPHA3, deep=True)) == [
        ("", "oci://gcr.io/t/git"),
        ("", "oci://gcr.io/t/kaniko"),
        ("inputs/result", "git+https://github.com/org/lib.git"),
        ("inputs/result", "pkg:dep"),
    ]


# --- resolvedDependencies order and dedupe (spec §9.4) -------------------------------------


def test_task_run_dependency_order() -> None:
    tr = task_run(
        steps=[
            step(
                "fetch",
                "gcr.io/t/git",
                "1",
                step_results=[
                    result("in-ARTIFACT_INPUTS", {"uri": "pkg:step-in", "digest": sha256("7")})
                ],
                step_ref_source=ref_source(STEPACTIONS_REPO, "b" * 40),
            ),
        ],
        sidecars=[image_id("gcr.io/t/side", "3")],
        params=[
            param("CHAINS-GIT_URL", "https://github.com/org/app"),
            param("CHAINS-GIT_COMMIT", SHA1),
        ],
        status_results=[result("src-ARTIFACT_INPUTS", {"uri": "pkg:dep", "digest": sha256("4")})],
        ref=ref_source(CATALOG_REPO, "d" * 40),
    )
    assert deps(provenance(tr, fmt=ALPHA4)) == [
        {"name": "task", "uri": CATALOG_REPO, "digest": {"sha1": "d" * 40}},
        {"uri": "oci://gcr.io/t/git", "digest": {"sha256": hex64("1")}},
        {"uri": "oci://gcr.io/t/side", "digest": {"sha256": hex64("3")}},
        {"name": "inputs/result", "uri": "pkg:step-in", "digest": {"sha256": hex64("7")}},
        {"name": "stepAction/fetch", "uri": STEPACTIONS_REPO, "digest": {"sha1": "b" * 40}},
        {
            "name": "inputs/result",
            "uri": "git+https://github.com/org/app.git",
            "digest": {"sha1": SHA1},
        },
        {"name": "inputs/result", "uri": "pkg:dep", "digest": {"sha256": hex64("4")}},
    ]


def test_v2alpha3_has_no_step_action_or_step_input_dependencies() -> None:
    tr = task_run(
        steps=[
            step(
                "fetch",
                step_results=[
                    result("in-ARTIFACT_INPUTS", {"uri": "pkg:step-in", "digest": sha256("7")})
                ],
                step_ref_source=ref_source(STEPACTIONS_REPO, "b" * 40),
            )
        ]
    )
    assert dep_keys(provenance(tr, fmt=ALPHA3)) == [("", "oci://gcr.io/tools/builder")]


def test_task_dependency_does_not_need_a_remote_ref() -> None:
    tr = task_run(ref=ref_source(CATALOG_REPO, SHA1))
    assert dep_keys(provenance(tr))[0] == ("task", CATALOG_REPO)
    assert "buildConfigSource" not in external(provenance(tr))


def test_task_run_git_url_without_commit_gives_no_input() -> None:
    tr = task_run(params=[param("CHAINS-GIT_URL", "https://github.com/org/app")])
    assert dep_keys(provenance(tr)) == [("", "oci://gcr.io/tools/builder")]


@pytest.mark.parametrize("fmt", [ALPHA3, ALPHA4])
def test_task_run_git_commit_without_url_gives_git_dot_git_input(fmt: str) -> None:
    tr = task_run(params=[param("CHAINS-GIT_COMMIT", SHA1)])
    assert deps(provenance(tr, fmt=fmt))[-1] == {
        "name": "inputs/result",
        "uri": "git+.git",
        "digest": {"sha1": SHA1},
    }


def test_deep_inspection_child_git_commit_without_url_gives_git_dot_git_input() -> None:
    pr = pipeline_run(tasks=[pipeline_task("clone")])
    clone = child("clone", status_results=[result("CHAINS-GIT_COMMIT", SHA1)])
    assert ("inputs/result", "git+.git") in dep_keys(provenance(pr, clone, deep=True))


@pytest.mark.parametrize(
    "url", ["https://github.com/org/app.git", "git+https://github.com/org/app"]
)
def test_git_input_uri_is_not_rewritten_twice(url: str) -> None:
    tr = task_run(params=[param("CHAINS-GIT_URL", url), param("CHAINS-GIT_COMMIT", SHA1)])
    assert ("inputs/result", "git+https://github.com/org/app.git") in dep_keys(provenance(tr))


def test_pipeline_run_dependency_order() -> None:
    pr = pipeline_run(
        tasks=[pipeline_task("a"), pipeline_task("b")],
        ref=ref_source(PIPELINES_REPO, SHA1),
        params=[
            param("CHAINS-GIT_URL", "https://github.com/org/app"),
            param("CHAINS-GIT_COMMIT", SHA1),
        ],
        status_results=[result("src-ARTIFACT_INPUTS", {"uri": "pkg:dep", "digest": sha256("4")})],
    )
    a = child(
        "a",
        steps=[
            step("s", "gcr.io/t/one", "1", step_ref_source=ref_source(STEPACTIONS_REPO, "b" * 40))
        ],
        ref=ref_source(CATALOG_REPO, "c" * 40),
    )
    b = child(
        "b", steps=[step("s", "gcr.io/t/two", "2")], sidecars=[image_id("gcr.io/t/side", "3")]
    )
    assert dep_keys(provenance(pr, b, a, fmt=ALPHA4)) == [
        ("pipeline", PIPELINES_REPO),
        ("pipelineTask", CATALOG_REPO),
        ("stepAction/s", STEPACTIONS_REPO),
        ("", "oci://gcr.io/t/one"),
        ("", "oci://gcr.io/t/two"),
        ("", "oci://gcr.io/t/side"),
        ("inputs/result", "pkg:dep"),
        ("inputs/result", "git+https://github.com/org/app.git"),
    ]


def test_pipeline_run_git_needs_both_url_and_commit() -> None:
    pr = pipeline_run(params=[param("CHAINS-GIT_COMMIT", SHA1)])
    assert deps(provenance(pr)) == []
    assert "resolvedDependencies" not in provenance(pr)["predicate"]["buildDefinition"]


def test_pipeline_task_with_the_pipeline_ref_source_is_dropped() -> None:
    pr = pipeline_run(tasks=[pipeline_task("a")], ref=ref_source(PIPELINES_REPO, SHA1))
    tr = child("a", ref=ref_source(PIPELINES_REPO, SHA1))
    assert dep_keys(provenance(pr, tr)) == [
        ("pipeline", PIPELINES_REPO),
        ("", "oci://gcr.io/tools/builder"),
    ]


def test_pipeline_task_from_another_commit_is_kept() -> None:
    pr = pipeline_run(tasks=[pipeline_task("a")], ref=ref_source(PIPELINES_REPO, SHA1))
    tr = child("a", ref=ref_source(PIPELINES_REPO, "f" * 40))
    assert [n for n, _ in dep_keys(provenance(pr, tr))] == ["pipeline", "pipelineTask", ""]


def test_second_child_from_the_same_task_source_loses_its_pipeline_task_entry() -> None:
    pr = pipeline_run(tasks=[pipeline_task("a"), pipeline_task("b")])
    a = child("a", steps=[step("s", "gcr.io/t/one", "1")], ref=ref_source(CATALOG_REPO, SHA1))
    b = child("b", steps=[step("s", "gcr.io/t/two", "2")], ref=ref_source(CATALOG_REPO, SHA1))
    assert dep_keys(provenance(pr, a, b)) == [
        ("pipelineTask", CATALOG_REPO),
        ("", "oci://gcr.io/t/one"),
        ("", "oci://gcr.io/t/two"),
    ]


def test_repeated_image_across_children_is_dropped() -> None:
    pr = pipeline_run(tasks=[pipeline_task("a"), pipeline_task("b")])
    a = child("a", steps=[step("s", "gcr.io/t/same", "1")])
    b = child("b", steps=[step("s", "gcr.io/t/same", "1"), step("t", "gcr.io/t/other", "2")])
    assert dep_keys(provenance(pr, a, b)) == [
        ("", "oci://gcr.io/t/same"),
        ("", "oci://gcr.io/t/other"),
    ]


def test_same_image_with_another_digest_is_kept() -> None:
    pr = pipeline_run(tasks=[pipeline_task("a"), pipeline_task("b")])
    a = child("a", steps=[step("s", "gcr.io/t/same", "1")])
    b = child("b", steps=[step("s", "gcr.io/t/same", "2")])
    assert len(deps(provenance(pr, a, b))) == 2


def test_step_actions_are_always_kept_even_when_repeated() -> None:
    same = ref_source(STEPACTIONS_REPO, "b" * 40)
    tr = task_run(
        steps=[step("one", step_ref_source=same), step("two", step_ref_source=same)],
        ref=ref_source(STEPACTIONS_REPO, "b" * 40),
    )
    assert dep_keys(provenance(tr)) == [
        ("task", STEPACTIONS_REPO),
        ("", "oci://gcr.io/tools/builder"),
        ("stepAction/one", STEPACTIONS_REPO),
        ("stepAction/two", STEPACTIONS_REPO),
    ]


def test_inputs_with_same_uri_and_different_digests_are_all_kept() -> None:
    tr = task_run(
        status_results=[
            result("a-ARTIFACT_INPUTS", {"uri": "pkg:dep", "digest": sha256("4")}),
            result("b-ARTIFACT_INPUTS", {"uri": "pkg:dep", "digest": sha256("5")}),
            result("c-ARTIFACT_INPUTS", {"uri": "pkg:dep", "digest": sha256("4")}),
        ]
    )
    inputs = [d for d in deps(provenance(tr)) if d.get("name") == "inputs/result"]
    assert [d["digest"]["sha256"] for d in inputs] == [hex64("4"), hex64("5")]


def test_artifact_inputs_dependency_uses_the_parsed_digest() -> None:
    tr = task_run(
        status_results=[
            result("ARTIFACT_INPUTS", {"uri": "pkg:dep", "digest": "SHA256:" + hex64("4")})
        ]
    )
    assert deps(provenance(tr))[-1] == {
        "name": "inputs/result",
        "uri": "pkg:dep",
        "digest": {"sha256": hex64("4")},
    }


# --- externalParameters (spec §9.2) ----------------------------------------------------------


def test_task_run_run_spec_prunes_empty_fields_and_keeps_service_account() -> None:
    tr = task_run(params=[], spec_extra={"serviceAccountName": "", "workspaces": [], "retries": 0})
    assert external(provenance(tr))["runSpec"] == {
        "serviceAccountName": "",
        "taskRef": {"name": "build", "kind": "Task"},
    }


def test_an_empty_timeout_is_refused_as_chains_decoder_refuses_it() -> None:
    # metav1.Duration parses "" with time.ParseDuration, which fails: Chains gets no TaskRun.
    tr = task_run(spec_extra={"timeout": ""})
    with pytest.raises(RecordError, match=r"spec\.timeout: invalid duration"):
        provenance(tr)


def test_task_run_run_spec_gets_service_account_when_missing() -> None:
    tr = task_run()
    del tr["spec"]["serviceAccountName"]
    assert external(provenance(tr))["runSpec"]["serviceAccountName"] == ""


def test_run_spec_keeps_empty_param_values() -> None:
    tr = task_run(params=[param("empty", ""), param("list", [])])
    assert external(provenance(tr))["runSpec"]["params"] == [
        {"name": "empty", "value": ""},
        {"name": "list", "value": []},
    ]


def test_pipeline_run_run_spec_always_has_task_run_template() -> None:
    pr = pipeline_run(params=[])
    del pr["spec"]["taskRunTemplate"]
    assert external(provenance(pr))["runSpec"] == {
        "pipelineRef": {"name": "build-push"},
        "taskRunTemplate": {},
        "timeouts": {"pipeline": "1h0m0s"},
    }


def test_pipeline_run_run_spec_prunes_empty_task_run_template_fields() -> None:
    pr = pipeline_run(spec_extra={"taskRunTemplate": {"serviceAccountName": ""}})
    assert external(provenance(pr))["runSpec"]["taskRunTemplate"] == {}


def test_run_spec_is_the_v1beta1_spec_normalised() -> None:
    pr = pipeline_run(api_version="tekton.dev/v1beta1")
    del pr["spec"]["taskRunTemplate"]
    del pr["spec"]["timeouts"]
    pr["spec"].update({"serviceAccountName": "builder", "timeout": "2h0m0s"})
    assert external(provenance(pr))["runSpec"] == {
        "pipelineRef": {"name": "build-push"},
        "taskRunTemplate": {"serviceAccountName": "builder"},
        "timeouts": {"pipeline": "2h0m0s"},
    }


def test_run_spec_drops_zero_retries() -> None:
    tr = task_run(spec_extra={"retries": 0})
    assert "retries" not in external(provenance(tr))["runSpec"]


@pytest.mark.parametrize("fmt", [ALPHA3, ALPHA4])
def test_build_config_source_for_a_remote_task_ref(fmt: str) -> None:
    tr = task_run(
        task_ref={
            "resolver": "git",
            "params": [param("url", "https://git.example.com/ci/catalog")],
        },
        ref=ref_source(CATALOG_REPO, SHA1, "task/kaniko.yaml"),
    )
    assert external(provenance(tr, fmt=fmt))["buildConfigSource"] == {
        "repository": CATALOG_REPO,
        "ref": f"sha1:{SHA1}",
        "path": "task/kaniko.yaml",
    }


def test_build_config_source_for_a_remote_pipeline_ref() -> None:
    pr = pipeline_run(
        pipeline_ref={"resolver": "bundles", "params": [param("bundle", "gcr.io/p:1")]},
        ref=ref_source(PIPELINES_REPO, SHA1),
    )
    # Chains writes a map[string]string with all three keys: no entryPoint is "path": "".
    assert external(provenance(pr))["buildConfigSource"] == {
        "repository": PIPELINES_REPO,
        "ref": f"sha1:{SHA1}",
        "path": "",
    }


@pytest.mark.parametrize(
    "task_ref",
    [
        {"name": "kaniko", "kind": "Task"},
        {"resolver": "Cluster", "params": [param("name", "kaniko")]},
        {"resolver": "", "name": "kaniko"},
    ],
)
def test_no_build_config_source_for_local_refs(task_ref: dict[str, Any]) -> None:
    tr = task_run(task_ref=task_ref, ref=ref_source(CATALOG_REPO, SHA1))
    assert "buildConfigSource" not in external(provenance(tr))


def test_no_build_config_source_without_ref_source() -> None:
    tr = task_run(task_ref={"resolver": "git", "params": []})
    assert "buildConfigSource" not in external(provenance(tr))


# --- internalParameters and slsa-tekton (spec §9.3, §9.4) ----------------------------------


def test_internal_parameters_hold_camel_cased_feature_flags() -> None:
    tr = task_run(
        feature_flags={"EnableAPIFields": "beta", "EnableStepActions": False, "MaxResultSize": 4096}
    )
    assert internal(provenance(tr)) == {
        "tekton-pipelines-feature-flags": {"enableAPIFields": "beta", "maxResultSize": 4096}
    }


def test_slsa_tekton_internal_parameters_are_null_without_labels_and_annotations() -> None:
    statement = provenance(task_run(), build_type=SLSA_TEKTON)
    assert internal(statement) == {"labels": None, "annotations": None}
    assert statement["predicate"]["buildDefinition"]["buildType"] == SLSA_TEKTON


def test_slsa_tekton_internal_parameters_keep_chains_annotations() -> None:
    annotations = {
        "chains.tekton.dev/signed": "true",
        "kubectl.kubernetes.io/last-applied-configuration": "{}",
    }
    tr = task_run(
        labels={"app": "web"}, annotations=annotations, feature_flags={"EnableAPIFields": "beta"}
    )
    assert internal(provenance(tr, build_type=SLSA_TEKTON)) == {
        "tekton-pipelines-feature-flags": {"enableAPIFields": "beta"},
        "labels": {"app": "web"},
        "annotations": annotations,
    }


def test_slsa_tekton_always_emits_pipeline_task_with_content() -> None:
    pr = pipeline_run(tasks=[pipeline_task("a"), pipeline_task("b")])
    a = child("a", steps=[step("s", "gcr.io/t/one", "1")])
    b = child("b", steps=[step("s", "gcr.io/t/two", "2")], ref=ref_source(CATALOG_REPO, SHA1))
    resolved = deps(provenance(pr, a, b, build_type=SLSA_TEKTON))
    assert [(d.get("name", ""), d.get("uri", "")) for d in resolved] == [
        ("pipelineTask", ""),
        ("", "oci://gcr.io/t/one"),
        ("pipelineTask", CATALOG_REPO),
        ("", "oci://gcr.io/t/two"),
    ]
    assert resolved[0].keys() == {"name", "content"}
    assert resolved[2]["digest"] == {"sha1": SHA1}
    # The child TaskRun as Go encodes v1.TaskRun: TypeMeta, metadata, spec, status, in the
    # type's field order, with its non-omitempty fields (podName) even when the record has none.
    content = decode(resolved[0]["content"])
    assert list(content) == ["kind", "apiVersion", "metadata", "spec", "status"]
    assert content["metadata"]["name"] == a["metadata"]["name"]
    assert content["status"]["podName"] == ""
    assert content["status"]["steps"][0]["imageID"] == a["status"]["steps"][0]["imageID"]
    assert decode(resolved[2]["content"])["metadata"]["name"] == b["metadata"]["name"]


def test_slsa_tekton_skips_a_child_go_cannot_encode_with_its_images() -> None:
    # A param without a value: json.Marshal of the TaskRun fails, Chains logs it and skips the
    # task (its pipelineTask entry and its step images); the statement is still written.
    pr = pipeline_run(tasks=[pipeline_task("a"), pipeline_task("b")])
    a = child("a", steps=[step("s", "gcr.io/t/one", "1")])
    a["spec"]["params"] = [{"name": "broken"}]
    b = child("b", steps=[step("s", "gcr.io/t/two", "2")])
    resolved = deps(provenance(pr, a, b, build_type=SLSA_TEKTON))
    assert [(d.get("name", ""), d.get("uri", "")) for d in resolved] == [
        ("pipelineTask", ""),
        ("", "oci://gcr.io/t/two"),
    ]


def test_slsa_tekton_pipeline_task_is_not_deduped_against_the_pipeline() -> None:
    pr = pipeline_run(tasks=[pipeline_task("a")], ref=ref_source(PIPELINES_REPO, SHA1))
    tr = child("a", ref=ref_source(PIPELINES_REPO, SHA1))
    names = [n for n, _ in dep_keys(provenance(pr, tr, build_type=SLSA_TEKTON))]
    assert names == ["pipeline", "pipelineTask", ""]
