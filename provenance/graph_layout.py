"""Lay out a PipelineRun's executed graph for the dashboard's SVG drawing.

Pure presentation arithmetic: nodes are placed in columns by longest path over runAfter and
result edges, finally tasks in a column of their own to the right. The template draws the SVG,
so every record-supplied string goes through Django's autoescaping.
"""

from __future__ import annotations

from dataclasses import dataclass

from provenance.core.graph import RunGraph, overlaps
from provenance.core.scope import ArtifactScope

NODE_WIDTH = 168
NODE_HEIGHT = 46
COLUMN_GAP = 64
ROW_GAP = 22
MARGIN = 16
# Drawing every shared-workspace pair is quadratic; past this size only data edges are drawn.
MAX_WORKSPACE_EDGE_NODES = 80

STATUS_WORDS = {"True": "Succeeded", "False": "Failed", "Unknown": "Running", "": "Unknown"}


@dataclass(frozen=True, slots=True)
class PlacedNode:
    task_run: str
    pipeline_task: str
    status: str  # CSS-friendly: succeeded | failed | running | unknown
    status_text: str
    is_finally: bool
    x: int
    y: int
    scope: str  # "" (no artifact chosen) | "producer" | "in" | "out"
    why: str


@dataclass(frozen=True, slots=True)
class PlacedEdge:
    kind: str  # runAfter | result | workspace
    path: str  # SVG path data
    detail: str
    in_scope: bool


@dataclass(frozen=True, slots=True)
class GraphLayout:
    width: int
    height: int
    nodes: tuple[PlacedNode, ...]
    edges: tuple[PlacedEdge, ...]
    workspace_edges_drawn: bool


def layout(graph: RunGraph, scope: ArtifactScope | None = None) -> GraphLayout:
    """Positions for every node and edge; with ``scope``, nodes and edges are marked in/out."""
    dag = [n for n in graph.nodes.values() if not n.is_finally]
    finals = [n for n in graph.nodes.values() if n.is_finally]
    depth: dict[str, int] = {}

    def column(name: str, seen: frozenset[str] = frozenset()) -> int:
        if name not in depth:
            parents = [
                e.source
                for e in graph.incoming.get(name, ())
                if e.source in graph.nodes and e.source not in seen
            ]
            depth[name] = 1 + max((column(p, seen | {name}) for p in parents), default=-1)
        return depth[name]

    columns: dict[int, list[str]] = {}
    for node in sorted(dag, key=lambda n: (n.pipeline_task, n.task_run)):
        columns.setdefault(column(node.task_run), []).append(node.task_run)
    last = max(columns, default=-1) + 1
    if finals:
        columns[last] = [n.task_run for n in sorted(finals, key=lambda n: n.task_run)]

    included = scope.task_runs if scope is not None else set()
    producers = {p.task_run for p in scope.producers} if scope is not None else set()
    reasons = {i.task_run: " ← ".join(i.why) for i in scope.included} if scope else {}
    excluded = {e.task_run: e.why for e in scope.excluded if e.task_run} if scope else {}
    positions: dict[str, tuple[int, int]] = {}
    placed: list[PlacedNode] = []
    for index, names in sorted(columns.items()):
        for row, name in enumerate(names):
            node = graph.nodes[name]
            x = MARGIN + index * (NODE_WIDTH + COLUMN_GAP)
            y = MARGIN + row * (NODE_HEIGHT + ROW_GAP)
            positions[name] = (x, y)
            if scope is None:
                mark = ""
            elif name in producers:
                mark = "producer"
            else:
                mark = "in" if name in included else "out"
            word = STATUS_WORDS.get(node.status, "Unknown")
            placed.append(
                PlacedNode(
                    task_run=name,
                    pipeline_task=node.pipeline_task,
                    status=word.lower(),
                    status_text=word if not node.reason or node.reason == word else node.reason,
                    is_finally=node.is_finally,
                    x=x,
                    y=y,
                    scope=mark,
                    why=reasons.get(name) or excluded.get(name, ""),
                )
            )

    edges = [
        _edge(positions, e.source, e.target, e.kind, e.detail, included)
        for e in graph.edges
        if e.source in positions and e.target in positions
    ]
    draw_workspace = len(graph.nodes) <= MAX_WORKSPACE_EDGE_NODES
    if draw_workspace:
        linked = {(e.source, e.target) for e in graph.edges}
        for source, target, workspace in workspace_pairs(graph):
            if (source, target) not in linked:
                detail = f"shares writable workspace '{workspace}'"
                edges.append(_edge(positions, source, target, "workspace", detail, included))
    rows = max((len(names) for names in columns.values()), default=1)
    width = 2 * MARGIN + max(len(columns), 1) * (NODE_WIDTH + COLUMN_GAP) - COLUMN_GAP
    height = 2 * MARGIN + rows * (NODE_HEIGHT + ROW_GAP) - ROW_GAP
    return GraphLayout(width, height, tuple(placed), tuple(edges), draw_workspace)


def workspace_pairs(graph: RunGraph) -> list[tuple[str, str, str]]:
    """(writer, reader, workspace): the writer may have changed what the reader saw."""
    pairs = []
    for reader in graph.nodes.values():
        for mount in reader.mounts:
            for writer, writer_mount in graph.writers_of(mount.workspace):
                if writer.task_run == reader.task_run or not overlaps(mount, writer_mount):
                    continue
                if writer.is_finally and not reader.is_finally:
                    continue
                if (
                    writer.started_at is not None
                    and reader.started_at is not None
                    and writer.started_at > reader.started_at
                ):
                    continue  # draw one direction: earlier starter → later starter
                pairs.append((writer.task_run, reader.task_run, mount.workspace))
    return pairs


def _edge(
    positions: dict[str, tuple[int, int]],
    source: str,
    target: str,
    kind: str,
    detail: str,
    included: set[str],
) -> PlacedEdge:
    sx, sy = positions[source]
    tx, ty = positions[target]
    x1, y1 = sx + NODE_WIDTH, sy + NODE_HEIGHT // 2
    x2, y2 = tx, ty + NODE_HEIGHT // 2
    if x2 <= x1:  # same column (workspace edge between parallel tasks): arc on the right
        x2, y2 = tx + NODE_WIDTH, ty + NODE_HEIGHT // 2
        bend = x1 + COLUMN_GAP // 2
        path = f"M{x1},{y1} C{bend},{y1} {bend},{y2} {x2},{y2}"
    else:
        mid = (x1 + x2) // 2
        path = f"M{x1},{y1} C{mid},{y1} {mid},{y2} {x2},{y2}"
    return PlacedEdge(kind, path, detail, source in included and target in included)
