"""Comparing two signed statements (provenance.core.statement_diff): what a reader sees change,
in both predicates, per run and per artifact, with the raw JSON diff."""

from __future__ import annotations

import orjson
import pytest

from provenance.core import SlsaConfig, parse_records
from provenance.core.intoto import statement_bytes
from provenance.core.plan import plan_statements
from provenance.core.statement_diff import ADDED, CHANGED, REMOVED, statement_diff
from provenance.core.statements import StatementError
from provenance.core.tekton import PipelineRun

from .pipeline_builder import Task, digest, pipeline_run

IMAGE = "registry.example/team/app"


def _statement(
    *, fmt: str = "slsa/v2alpha4", scope: str = "per-run", scan: str = "True", build: str = "app"
) -> bytes:
    image_hex = digest(build)
    docs = pipeline_run(
        [
            Task("clone", results={"commit": "abc"}),
            Task(
                "build",
                params={"C": "$(tasks.clone.results.commit)"},
                results={"IMAGE_URL": IMAGE, "IMAGE_DIGEST": f"sha256:{image_hex}"},
            ),
            Task("scan", run_after=["build"], status=scan),
        ],
        pipeline_results={"IMAGE_URL": "$(tasks.build.results.IMAGE_URL)",
                          "IMAGE_DIGEST": "$(tasks.build.results.IMAGE_DIGEST)"},
        run_results={"IMAGE_URL": IMAGE, "IMAGE_DIGEST": f"sha256:{image_hex}"},
    )  # fmt: skip
    (run,) = parse_records(docs)
    assert isinstance(run, PipelineRun)
    (planned,) = plan_statements(run, SlsaConfig(format=fmt), scope).statements
    return statement_bytes(planned.statement)


def _section(diff, key):  # type: ignore[no-untyped-def]
    return next(s for s in diff.sections if s.key == key)


def test_the_same_statement_has_no_change() -> None:
    statement = _statement()
    diff = statement_diff(statement, statement)
    assert not diff.changed
    assert diff.raw == ()


def test_a_new_build_changes_the_subject_digest() -> None:
    diff = statement_diff(_statement(build="app"), _statement(build="app-2"))
    (change,) = _section(diff, "subjects").changes
    assert change.item == IMAGE and change.kind == CHANGED
    assert change.before == f"sha256:{digest('app')}"
    assert change.after == f"sha256:{digest('app-2')}"
    assert any(digest("app-2") in line for line in diff.raw if line.startswith("+"))


def test_a_format_change_names_the_predicate_and_the_setting() -> None:
    diff = statement_diff(
        _statement(fmt="slsa/v1"),
        _statement(fmt="slsa/v2alpha4"),
        before_settings={"format": "slsa/v1", "scope": "per-run"},
        after_settings={"format": "slsa/v2alpha4", "scope": "per-run"},
    )
    changes = {c.item: c for c in _section(diff, "format").changes}
    assert (changes["predicate"].before, changes["predicate"].after) == ("SLSA v0.2", "SLSA v1.0")
    assert changes["setting format"].after == "slsa/v2alpha4"
    assert "setting scope" not in changes
    # The same sources at the same digests: v1.0 names its dependencies, v0.2 does not.
    assert _section(diff, "materials").changes == ()
    tasks = _section(diff, "tasks")
    # v0.2 lists every task; v1.0 per-run lists none: the reader is told, not shown removals
    # as if the tasks had gone.
    assert "Only one of the statements lists its tasks" in tasks.note
    assert {c.kind for c in tasks.changes} == {REMOVED}


def test_per_artifact_statements_show_a_task_status_change() -> None:
    diff = statement_diff(
        _statement(scope="per-artifact", scan="False"),
        _statement(scope="per-artifact", scan="True"),
    )
    changes = {c.item: c for c in _section(diff, "tasks").changes}
    assert set(changes) == {"scan"}
    assert changes["scan"].before.startswith("failed")
    assert "not in scope" in changes["scan"].before
    assert changes["scan"].after.startswith("succeeded")


def test_parameters_are_compared_by_name_and_materials_by_uri() -> None:
    before = orjson.loads(_statement(fmt="slsa/v1"))
    after = orjson.loads(_statement(fmt="slsa/v1"))
    after["predicate"]["invocation"]["parameters"] = {"IMAGE": "x", "extra": [1, 2]}
    before["predicate"]["invocation"]["parameters"] = {"IMAGE": "y"}
    after["predicate"]["materials"].append({"uri": "git+https://x.test/r", "digest": {"sha1": "a"}})
    diff = statement_diff(orjson.dumps(before), orjson.dumps(after))
    params = {c.item: c for c in _section(diff, "parameters").changes}
    assert (params["IMAGE"].kind, params["IMAGE"].before, params["IMAGE"].after) == (
        CHANGED,
        "y",
        "x",
    )
    assert params["extra[0]"].kind == ADDED
    (material,) = _section(diff, "materials").changes
    assert material.item == "git+https://x.test/r" and material.after == "sha1:a"


def test_as_json_and_bad_bytes() -> None:
    out = statement_diff(_statement(build="a"), _statement(build="b"), labels=("#1", "#2"))
    body = out.as_json()
    assert body["changed"] is True
    assert body["raw_diff"].startswith("--- #1\n+++ #2\n")
    assert [s["key"] for s in body["sections"]] == [
        "format",
        "builder",
        "run",
        "subjects",
        "tasks",
        "materials",
        "parameters",
    ]
    with pytest.raises(StatementError):
        statement_diff(b"not json", _statement())
