"""Property-based checks of per-artifact scope over random pipelines (hypothesis)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from provenance.core import SlsaConfig, parse_records
from provenance.core.graph import build_graph, overlaps, started_before_finished
from provenance.core.plan import plan_statements
from provenance.core.scope import artifact_scopes
from provenance.core.slsa import generate
from provenance.core.tekton import PipelineRun

from .pipeline_builder import Task, digest, pipeline_run

CFG = SlsaConfig(format="slsa/v1", deep_inspection=True)


@st.composite
def pipelines(draw: st.DrawFn) -> PipelineRun:
    count = draw(st.integers(min_value=1, max_value=9))
    tasks = []
    for index in range(count):
        name = f"t{index}"
        earlier = [f"t{i}" for i in range(index)]
        after = draw(st.lists(st.sampled_from(earlier), unique=True, max_size=2)) if earlier else []
        refs = draw(st.lists(st.sampled_from(earlier), unique=True, max_size=2)) if earlier else []
        workspaces = draw(st.lists(st.sampled_from(["src", "src:a", "src:b", "cache"]), max_size=2))
        produces = draw(st.sampled_from([None, "x", "y", name]))
        start_minute = draw(st.integers(min_value=0, max_value=50))
        results = {"out": "v"}
        if produces is not None:
            results |= {
                "IMAGE_URL": f"registry.example/{produces}",
                "IMAGE_DIGEST": f"sha256:{digest(produces)}",
            }
        tasks.append(
            Task(
                name,
                run_after=after,
                params={f"p{i}": f"$(tasks.{ref}.results.out)" for i, ref in enumerate(refs)},
                results=results,
                workspaces=list(dict.fromkeys(workspaces)),
                read_only=[w for w in workspaces if draw(st.booleans())],
                start=f"2026-01-01T10:{start_minute:02d}:00Z",
                end=f"2026-01-01T10:{start_minute + 5:02d}:00Z",
                is_finally=index == count - 1 and draw(st.booleans()),
            )
        )
    (run,) = parse_records(pipeline_run(tasks))
    assert isinstance(run, PipelineRun)
    return run


PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(pipelines())
def test_every_scope_is_closed_under_ancestors(pr: PipelineRun) -> None:
    graph = build_graph(pr)
    for scope in artifact_scopes(pr, CFG):
        included = scope.task_runs
        for task_run in included:
            for edge in graph.incoming[task_run]:
                assert edge.source in included, (task_run, edge)


@PROPERTY
@given(pipelines())
def test_producers_are_in_their_artifacts_scope(pr: PipelineRun) -> None:
    for scope in artifact_scopes(pr, CFG):
        assert scope.producers
        assert {p.task_run for p in scope.producers} <= scope.task_runs


@PROPERTY
@given(pipelines())
def test_no_writer_that_could_have_touched_a_contributors_workspace_is_left_out(
    pr: PipelineRun,
) -> None:
    graph = build_graph(pr)
    for scope in artifact_scopes(pr, CFG):
        included = scope.task_runs
        for name in included:
            node = graph.nodes[name]
            for mount in node.mounts:
                for writer, writer_mount in graph.writers_of(mount.workspace):
                    if writer.task_run in included or not overlaps(mount, writer_mount):
                        continue
                    assert not started_before_finished(writer, node) or (
                        writer.is_finally and not node.is_finally
                    )


@PROPERTY
@given(pipelines())
def test_included_and_excluded_partition_the_executed_tasks(pr: PipelineRun) -> None:
    nodes = set(build_graph(pr).nodes)
    for scope in artifact_scopes(pr, CFG):
        excluded = {e.task_run for e in scope.excluded if e.task_run is not None}
        assert scope.task_runs | excluded == nodes
        assert not scope.task_runs & excluded


@PROPERTY
@given(pipelines())
def test_per_run_tasks_equal_union_of_scopes_plus_tasks_in_no_scope(pr: PipelineRun) -> None:
    def task_names(statement: dict) -> list[str]:  # type: ignore[type-arg]
        return [t["name"] for t in statement["predicate"]["buildConfig"]["tasks"]]

    per_run = task_names(generate(pr, CFG))
    plan = plan_statements(pr, CFG, scope="per-artifact")
    in_some_scope: set[str] = set()
    for planned in plan.statements:
        in_some_scope.update(task_names(planned.statement))
    scoped = {r for s in artifact_scopes(pr, CFG) for r in s.task_runs}
    in_no_scope = {
        node.pipeline_task for node in build_graph(pr).nodes.values() if node.task_run not in scoped
    }
    assert set(per_run) == in_some_scope | in_no_scope
    assert not in_some_scope & in_no_scope
