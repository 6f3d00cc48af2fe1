"""The executed graph of a PipelineRun: nodes, edge kinds and where each edge is written."""

from __future__ import annotations

from provenance.core import parse_records
from provenance.core.graph import Mount, build_graph, overlaps
from provenance.core.tekton import PipelineRun

from .pipeline_builder import Task, pipeline_run


def _graph_edges(tasks: list[Task]) -> set[tuple[str, str, str]]:
    (pr,) = parse_records(pipeline_run(tasks))
    assert isinstance(pr, PipelineRun)
    return {(e.source, e.target, e.kind) for e in build_graph(pr).edges}


def test_run_after_and_result_references_become_typed_edges() -> None:
    edges = _graph_edges(
        [
            Task("a", results={"x": "1"}),
            Task("b", run_after=["a"]),
            Task("c", params={"p": "$(tasks.a.results.x)"}),
        ]
    )
    assert edges == {("demo-a", "demo-b", "runAfter"), ("demo-a", "demo-c", "result")}


def test_array_object_when_and_matrix_references_are_found() -> None:
    edges = _graph_edges(
        [
            Task("a"),
            Task("b"),
            Task("c"),
            Task("d"),
            Task(
                "t",
                params={"all": "$(tasks.a.results.list[*])", "one": "$(tasks.b.results.obj.key)"},
                when=[{"input": "$(tasks.c.results.flag)", "operator": "in", "values": ["y"]}],
                matrix={"params": [{"name": "m", "value": ["$(tasks.d.results.v)"]}]},
            ),
        ]
    )
    assert {(s, k) for s, t, k in edges if t == "demo-t"} == {
        ("demo-a", "result"),
        ("demo-b", "result"),
        ("demo-c", "result"),
        ("demo-d", "result"),
    }


def test_status_references_are_not_data_edges() -> None:
    edges = _graph_edges(
        [Task("a"), Task("report", is_finally=True, params={"s": "$(tasks.a.status)"})]
    )
    assert edges == set()


def test_edge_detail_says_where_the_reference_is_written() -> None:
    (pr,) = parse_records(
        pipeline_run([Task("clone"), Task("build", params={"REV": "$(tasks.clone.results.sha)"})])
    )
    assert isinstance(pr, PipelineRun)
    (edge,) = build_graph(pr).edges
    assert edge.detail == "params[REV].value uses $(tasks.clone.results.sha)"


def test_sub_path_overlap_rules() -> None:
    def mount(sub: str) -> Mount:
        return Mount("ws", sub, True)

    assert overlaps(mount(""), mount("a"))
    assert overlaps(mount("a"), mount("a/b"))
    assert not overlaps(mount("a"), mount("b"))
    assert not overlaps(mount("ab"), mount("a"))
    assert overlaps(mount("$(params.dir)"), mount("b"))
    assert not overlaps(Mount("ws", "", True), Mount("other", "", True))


def test_overlapping_writers_match_the_overlap_rule() -> None:
    # The indexed lookup must pick exactly the writers overlaps() accepts, in writer order.
    paths = ["", "/", "a", "a/", "/a", "a/b", "a//b", "a/b/c", "ab", "b", "$(params.d)", "a/$(x)"]
    (pr,) = parse_records(
        pipeline_run([Task(f"t{i}", workspaces=[f"ws:{p}"]) for i, p in enumerate(paths)])
    )
    assert isinstance(pr, PipelineRun)
    graph = build_graph(pr)
    writers = graph.writers_of("ws")
    assert len(writers) == len(paths)
    for path in [*paths, "c", "a/b/c/d", "$(y)/a"]:
        probe = Mount("ws", path, True)
        expected = [w for w in writers if overlaps(probe, w[1])]
        assert list(graph.overlapping_writers(probe)) == expected, path
