"""Graph layout for the run page: columns, finally group, merged edges, scope marks (no DB)."""

from __future__ import annotations

from provenance.core import SlsaConfig, parse_records
from provenance.core.graph import build_graph, declared_tasks
from provenance.core.scope import artifact_scopes
from provenance.core.tekton import PipelineRun
from provenance.graph_layout import (
    COLUMN_GAP,
    LABEL_CHARS,
    MAX_DRAWN_TASKS,
    MAX_WORKSPACE_EDGE_NODES,
    NODE_HEIGHT,
    NODE_WIDTH,
    GraphLayout,
    layout,
)
from tests.core.pipeline_builder import Task, digest, pipeline_run

DEEP = SlsaConfig(deep_inspection=True)


def _pr(tasks: list[Task], **kwargs: object) -> PipelineRun:
    (run,) = parse_records(pipeline_run(tasks, **kwargs))  # type: ignore[arg-type]
    assert isinstance(run, PipelineRun)
    return run


def _image(seed: str) -> dict[str, str]:
    return {"IMAGE_URL": f"registry.example/{seed}", "IMAGE_DIGEST": f"sha256:{digest(seed)}"}


def _columns(result: GraphLayout) -> dict[str, int]:
    return {n.pipeline_task: (n.x - 16) // (NODE_WIDTH + COLUMN_GAP) for n in result.nodes}


def test_columns_follow_the_longest_path_and_finally_tasks_stand_apart() -> None:
    pr = _pr(
        [
            Task("clone", results={"commit": "abc"}),
            Task("lint", run_after=["clone"]),
            Task("build", params={"C": "$(tasks.clone.results.commit)"}, results=_image("a")),
            Task("push", run_after=["build", "lint"]),
            Task("notify", is_finally=True, status="False"),
        ]
    )
    result = layout(build_graph(pr))
    assert _columns(result) == {"clone": 0, "lint": 1, "build": 1, "push": 2, "notify": 3}
    assert result.finally_box is not None
    notify = next(n for n in result.nodes if n.pipeline_task == "notify")
    box = result.finally_box
    assert box.x < notify.x and notify.x + NODE_WIDTH < box.x + box.width
    assert box.y < notify.y and notify.y + NODE_HEIGHT < box.y + box.height
    assert notify.status == "failed" and notify.status_text == "Failed" and notify.glyph == "✕"
    # Everything fits in the drawing.
    for node in result.nodes:
        assert node.x + NODE_WIDTH <= result.width and node.y + NODE_HEIGHT <= result.height


def test_no_finally_box_without_finally_tasks() -> None:
    result = layout(build_graph(_pr([Task("a"), Task("b", run_after=["a"])])))
    assert result.finally_box is None
    assert [n.y for n in result.nodes] == [16, 16]


def test_edges_of_one_kind_between_two_tasks_are_drawn_once_with_every_detail() -> None:
    pr = _pr(
        [
            Task("clone", results={"url": "u", "commit": "c"}),
            Task(
                "build",
                run_after=["clone"],
                params={"URL": "$(tasks.clone.results.url)", "C": "$(tasks.clone.results.commit)"},
            ),
        ]
    )
    result = layout(build_graph(pr))
    kinds = sorted(e.kind for e in result.edges)
    assert kinds == ["result", "runAfter"]
    result_edge = next(e for e in result.edges if e.kind == "result")
    assert "$(tasks.clone.results.url)" in result_edge.detail
    assert "$(tasks.clone.results.commit)" in result_edge.detail
    # Side by side, not on top of each other.
    assert len({e.path for e in result.edges}) == 2
    assert result.edge_kinds == ("runAfter", "result")


def test_shared_writable_workspace_gives_a_workspace_edge() -> None:
    pr = _pr(
        [
            Task("clone", workspaces=["src"], start="2026-01-01T10:00:00Z"),
            Task("scan", workspaces=["src"], start="2026-01-01T10:00:30Z"),
        ]
    )
    result = layout(build_graph(pr))
    (edge,) = result.edges
    assert edge.kind == "workspace" and "'src'" in edge.detail
    assert (edge.source, edge.target) == ("demo-clone", "demo-scan")
    # Parallel tasks share a column: the edge arcs on their right-hand side.
    assert edge.path.startswith(f"M{16 + NODE_WIDTH},")


def test_workspace_edges_are_skipped_for_very_large_graphs() -> None:
    tasks = [Task(f"t{i}", workspaces=["src"]) for i in range(MAX_WORKSPACE_EDGE_NODES + 1)]
    result = layout(build_graph(_pr(tasks)))
    assert not result.workspace_edges_drawn
    assert all(e.kind != "workspace" for e in result.edges)


def test_scope_marks_producer_in_and_out_with_reasons() -> None:
    pr = _pr(
        [
            Task("clone", results={"commit": "abc"}),
            Task("build", params={"C": "$(tasks.clone.results.commit)"}, results=_image("app")),
            Task("docs"),
            Task("notify", run_after=["build"], is_finally=True),
        ]
    )
    graph = build_graph(pr)
    (scope,) = artifact_scopes(pr, DEEP, graph)
    result = layout(graph, scope)
    marks = {n.pipeline_task: n.scope for n in result.nodes}
    assert marks == {"clone": "in", "build": "producer", "docs": "out", "notify": "out"}
    clone = next(n for n in result.nodes if n.pipeline_task == "clone")
    assert clone.scope_text == "In scope"
    assert clone.why.startswith("feeds build: ")
    assert clone.why.endswith(" → build produces the artifact (result IMAGE_DIGEST)")
    docs = next(n for n in result.nodes if n.pipeline_task == "docs")
    assert docs.why == "no runAfter, result or workspace path to the artifact"
    hot = {(e.source, e.target): e.in_scope for e in result.edges}
    assert hot[("demo-clone", "demo-build")] is True
    assert hot[("demo-build", "demo-notify")] is False
    # Without a scope nothing is marked.
    assert {n.scope for n in layout(graph).nodes} == {""}


def test_long_names_are_shortened_for_the_box_only() -> None:
    long_name = "a-really-long-pipeline-task-name-that-does-not-fit"
    result = layout(build_graph(_pr([Task(long_name)])))
    (node,) = result.nodes
    assert len(node.label) == LABEL_CHARS and node.label.endswith("…")
    assert node.pipeline_task == long_name


def test_a_deep_pipeline_does_not_recurse() -> None:
    tasks = [Task("t0")] + [Task(f"t{i}", run_after=[f"t{i - 1}"]) for i in range(1, 1500)]
    result = layout(build_graph(_pr(tasks)))
    # Too many to draw one by one: one stage per column, each holding one task.
    assert [s.number for s in result.stages] == list(range(1, 1501))
    assert all(s.count == 1 for s in result.stages) and result.nodes == ()


def test_rows_follow_their_parents() -> None:
    pr = _pr(
        [
            Task("z-clone"),
            Task("a-clone"),
            Task("z-build", run_after=["z-clone"]),
            Task("a-build", run_after=["a-clone"]),
        ]
    )
    rows = {n.pipeline_task: n.y for n in layout(build_graph(pr)).nodes}
    assert rows["a-build"] == rows["a-clone"] and rows["z-build"] == rows["z-clone"]


def test_tasks_that_have_not_run_are_drawn_where_the_pipeline_puts_them() -> None:
    tasks = [
        Task("clone"),
        Task("build", run_after=["clone"], status="Unknown", end=None),
        Task("push", run_after=["build"], status=None),
        Task("scan", run_after=["clone"], status=None),
        Task("notify", is_finally=True, status=None),
    ]
    running = _pr(tasks, status="Unknown")
    result = layout(build_graph(running), declared=declared_tasks(running), waiting=True)
    nodes = {n.pipeline_task: n for n in result.nodes}
    assert set(nodes) == {"clone", "build", "push", "scan", "notify"}
    assert (nodes["push"].status, nodes["push"].status_text) == ("waiting", "Waiting")
    assert nodes["push"].task_run == "" and nodes["push"].glyph == "◌"
    assert _columns(result) == {"clone": 0, "build": 1, "scan": 1, "push": 2, "notify": 3}
    assert nodes["notify"].is_finally and result.finally_box is not None
    edges = {(e.source, e.target) for e in result.edges}
    assert ("demo-build", "not-run:push") in edges and ("demo-clone", "not-run:scan") in edges
    assert nodes["push"].upstream == ("build (runAfter)",)

    # Once the PipelineRun is done, a task with no TaskRun did not run (skipped or not).
    done = _pr(tasks[:1] + [Task("scan", run_after=["clone"], status=None)], skipped=["scan"])
    (_, scan) = layout(build_graph(done), declared=declared_tasks(done)).nodes
    assert (scan.status, scan.status_text, scan.glyph) == ("notrun", "Not run: skipped", "–")


def _fan_out(count: int) -> PipelineRun:
    """clone, then ``count`` builds after it, one of them producing an image."""
    tasks = [Task("clone", results={"commit": "c"})]
    tasks += [Task(f"b{i}", params={"C": "$(tasks.clone.results.commit)"}) for i in range(count)]
    tasks[1] = Task("b0", params={"C": "$(tasks.clone.results.commit)"}, results=_image("app"))
    return _pr(tasks)


def test_a_large_run_is_drawn_by_stage_with_its_counts() -> None:
    pr = _fan_out(MAX_DRAWN_TASKS + 50)
    graph = build_graph(pr)
    result = layout(graph)
    assert result.nodes == () and result.total == MAX_DRAWN_TASKS + 51
    first, second = result.stages
    assert (first.count, second.count) == (1, MAX_DRAWN_TASKS + 50)
    assert second.statuses == (("succeeded", "✓", MAX_DRAWN_TASKS + 50, "succeeded"),)
    assert [e.detail for e in result.edges] == ["stage 2 comes after stage 1"]


def test_a_large_run_with_an_artifact_picked_draws_only_its_scope() -> None:
    pr = _fan_out(MAX_DRAWN_TASKS + 50)
    graph = build_graph(pr)
    (scope,) = artifact_scopes(pr, DEEP, graph)
    result = layout(graph, scope)
    assert {n.pipeline_task: n.scope for n in result.nodes} == {"clone": "in", "b0": "producer"}
    assert result.hidden == MAX_DRAWN_TASKS + 49
    assert [(e.source, e.target) for e in result.edges] == [("demo-clone", "demo-b0")]


def test_the_vertical_layout_reads_top_to_bottom_two_tasks_to_a_phone_width() -> None:
    pr = _pr(
        [
            Task("clone-a"),
            Task("clone-b"),
            Task("build", run_after=["clone-a", "clone-b"]),
            Task("notify", is_finally=True),
        ]
    )
    result = layout(build_graph(pr), vertical=True)
    boxes = {n.pipeline_task: (n.x, n.y) for n in result.nodes}
    assert boxes["clone-a"][1] == boxes["clone-b"][1] < boxes["build"][1] < boxes["notify"][1]
    assert boxes["clone-a"][0] < boxes["clone-b"][0]
    # Two boxes side by side fit in a 390 px phone's graph box (about 328 px inside the card).
    assert boxes["clone-b"][0] + result.node_width <= 328
    edge = next(e for e in result.edges if e.target == "demo-build")
    assert edge.path.startswith("M") and f",{boxes['build'][1]}" in edge.path  # enters the top
    box = result.finally_box
    assert box is not None and box.y < boxes["notify"][1] and box.y + box.height <= result.height
