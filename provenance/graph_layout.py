"""Lay out a PipelineRun's executed graph for the dashboard's SVG drawing.

Pure presentation arithmetic: nodes are placed in columns by longest path over runAfter and
result edges (rows ordered by their parents' rows, which keeps most edges straight), finally
tasks in a column of their own to the right inside a labelled group. The template draws the
SVG, so every record-supplied string goes through Django's autoescaping; nothing here builds
markup.
"""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass

from provenance.core.graph import RunGraph, overlaps
from provenance.core.scope import ArtifactScope

NODE_WIDTH = 184
NODE_HEIGHT = 58
COLUMN_GAP = 72
ROW_GAP = 20
MARGIN = 16
# Room above the nodes for the "finally" caption of the finally group.
HEADER = 22
FINALLY_PAD = 8
# Characters of a task name that fit in a node at the CSS font size; the full name is in <title>.
LABEL_CHARS = 22
# Drawing every shared-workspace pair is quadratic; past this size only data edges are drawn.
MAX_WORKSPACE_EDGE_NODES = 80
# Edges of different kinds between the same two tasks are drawn side by side, not on top.
KIND_OFFSET = {"runAfter": -9, "result": 0, "workspace": 9}
EDGE_KINDS = ("runAfter", "result", "workspace")

STATUS_WORDS = {"True": "Succeeded", "False": "Failed", "Unknown": "Running", "": "Unknown"}
# The glyph repeats the status without colour (the words follow it in the node).
STATUS_GLYPHS = {"succeeded": "✓", "failed": "✕", "running": "●", "unknown": "?"}
STATUS_CHARS = 24
SCOPE_WORDS = {"producer": "Produces the artifact", "in": "In scope", "out": "Out of scope"}


@dataclass(frozen=True, slots=True)
class PlacedNode:
    task_run: str
    pipeline_task: str
    label: str  # pipeline_task, shortened to fit the box
    status: str  # CSS-friendly: succeeded | failed | running | unknown
    status_text: str
    glyph: str
    is_finally: bool
    x: int
    y: int
    scope: str  # "" (no artifact chosen) | "producer" | "in" | "out"
    scope_text: str
    why: tuple[str, ...]  # the chain of edges that put it in scope, or why it is out


@dataclass(frozen=True, slots=True)
class PlacedEdge:
    kind: str  # runAfter | result | workspace
    source: str
    target: str
    path: str  # SVG path data
    detail: str
    in_scope: bool


@dataclass(frozen=True, slots=True)
class Box:
    x: int
    y: int
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class GraphLayout:
    width: int
    height: int
    nodes: tuple[PlacedNode, ...]
    edges: tuple[PlacedEdge, ...]
    workspace_edges_drawn: bool
    finally_box: Box | None = None
    node_width: int = NODE_WIDTH
    node_height: int = NODE_HEIGHT

    @property
    def edge_kinds(self) -> tuple[str, ...]:
        """The kinds present, in legend order."""
        present = {e.kind for e in self.edges}
        return tuple(k for k in EDGE_KINDS if k in present)


def shorten(text: str, limit: int = LABEL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _columns(graph: RunGraph) -> dict[int, list[str]]:
    """Longest-path columns for DAG tasks (iterative: deep pipelines must not recurse)."""
    dag = {name for name, n in graph.nodes.items() if not n.is_finally}
    children: dict[str, set[str]] = defaultdict(set)
    parents: dict[str, set[str]] = defaultdict(set)
    for edge in graph.edges:
        if edge.source in dag and edge.target in dag and edge.source != edge.target:
            children[edge.source].add(edge.target)
            parents[edge.target].add(edge.source)
    pending = {name: len(parents[name]) for name in dag}
    depth = dict.fromkeys(dag, 0)
    queue = deque(sorted(n for n in dag if pending[n] == 0))
    done: set[str] = set()
    while queue:
        name = queue.popleft()
        done.add(name)
        for child in sorted(children[name]):
            depth[child] = max(depth[child], depth[name] + 1)
            pending[child] -= 1
            if pending[child] == 0:
                queue.append(child)
    # A cycle (a malformed record) leaves nodes unprocessed: put them after their known parents.
    for name in sorted(dag - done):
        depth[name] = 1 + max((depth[p] for p in parents[name] if p in done), default=-1)

    columns: dict[int, list[str]] = defaultdict(list)
    for name in dag:
        columns[depth[name]].append(name)
    rows: dict[str, int] = {}
    ordered: dict[int, list[str]] = {}
    for index in sorted(columns):

        def key(name: str) -> tuple[float, str, str]:
            known = [rows[p] for p in parents[name] if p in rows]
            centre = sum(known) / len(known) if known else float("inf")
            return (centre, graph.nodes[name].pipeline_task, name)

        ordered[index] = sorted(columns[index], key=key)
        rows.update((name, row) for row, name in enumerate(ordered[index]))
    finals = sorted(
        (n for n in graph.nodes.values() if n.is_finally),
        key=lambda n: (n.pipeline_task, n.task_run),
    )
    if finals:
        ordered[max(ordered, default=-1) + 1] = [n.task_run for n in finals]
    return ordered


def layout(graph: RunGraph, scope: ArtifactScope | None = None) -> GraphLayout:
    """Positions for every node and edge; with ``scope``, nodes and edges are marked in/out."""
    columns = _columns(graph)
    has_finally = any(n.is_finally for n in graph.nodes.values())
    top = MARGIN + (HEADER if has_finally else 0)

    included = scope.task_runs if scope is not None else set()
    producers = {p.task_run for p in scope.producers} if scope is not None else set()
    reasons = scope.chains() if scope else {}
    excluded = {e.task_run: (e.why,) for e in scope.excluded if e.task_run} if scope else {}
    positions: dict[str, tuple[int, int]] = {}
    placed: list[PlacedNode] = []
    for index, names in sorted(columns.items()):
        for row, name in enumerate(names):
            node = graph.nodes[name]
            x = MARGIN + index * (NODE_WIDTH + COLUMN_GAP)
            y = top + row * (NODE_HEIGHT + ROW_GAP)
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
                    label=shorten(node.pipeline_task or name),
                    status=word.lower(),
                    status_text=shorten(
                        word if not node.reason or node.reason == word else node.reason,
                        STATUS_CHARS,
                    ),
                    glyph=STATUS_GLYPHS[word.lower()],
                    is_finally=node.is_finally,
                    x=x,
                    y=y,
                    scope=mark,
                    scope_text=SCOPE_WORDS.get(mark, ""),
                    why=reasons.get(name) or excluded.get(name) or (),
                )
            )

    # One drawn edge per (source, target, kind); its detail lists every place it is written.
    details: dict[tuple[str, str, str], list[str]] = {}
    for e in graph.edges:
        if e.source in positions and e.target in positions and e.source != e.target:
            details.setdefault((e.source, e.target, e.kind), []).append(e.detail)
    draw_workspace = len(graph.nodes) <= MAX_WORKSPACE_EDGE_NODES
    if draw_workspace:
        linked = {(e.source, e.target) for e in graph.edges}
        for source, target, workspace in workspace_pairs(graph):
            if (source, target) not in linked and source in positions and target in positions:
                details.setdefault((source, target, "workspace"), []).append(
                    f"shares writable workspace '{workspace}'"
                )
    edges = [
        _edge(positions, source, target, kind, "; ".join(dict.fromkeys(found)), included)
        for (source, target, kind), found in details.items()
    ]

    rows = max((len(names) for names in columns.values()), default=1)
    width = 2 * MARGIN + max(len(columns), 1) * (NODE_WIDTH + COLUMN_GAP) - COLUMN_GAP
    height = top + MARGIN + rows * (NODE_HEIGHT + ROW_GAP) - ROW_GAP
    finally_box = None
    if has_finally:
        index = max(columns)
        count = len(columns[index])
        finally_box = Box(
            x=MARGIN + index * (NODE_WIDTH + COLUMN_GAP) - FINALLY_PAD,
            y=top - FINALLY_PAD,
            width=NODE_WIDTH + 2 * FINALLY_PAD,
            height=count * (NODE_HEIGHT + ROW_GAP) - ROW_GAP + 2 * FINALLY_PAD,
        )
        width += FINALLY_PAD
    return GraphLayout(
        width=width,
        height=height + FINALLY_PAD,
        nodes=tuple(placed),
        edges=tuple(edges),
        workspace_edges_drawn=draw_workspace,
        finally_box=finally_box,
    )


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
    offset = KIND_OFFSET.get(kind, 0)
    y1 = sy + NODE_HEIGHT // 2 + offset
    y2 = ty + NODE_HEIGHT // 2 + offset
    if tx == sx:  # same column (workspace edge between parallel tasks): arc on the right
        x1 = x2 = sx + NODE_WIDTH
        bend = x1 + COLUMN_GAP // 2
        path = f"M{x1},{y1} C{bend},{y1} {bend},{y2} {x2},{y2}"
    elif tx < sx:  # backwards (a later starter wrote first): leave left, enter right
        x1, x2 = sx, tx + NODE_WIDTH
        mid = (x1 + x2) // 2
        path = f"M{x1},{y1} C{mid},{y1} {mid},{y2} {x2},{y2}"
    else:
        x1, x2 = sx + NODE_WIDTH, tx
        mid = (x1 + x2) // 2
        path = f"M{x1},{y1} C{mid},{y1} {mid},{y2} {x2},{y2}"
    return PlacedEdge(
        kind=kind,
        source=source,
        target=target,
        path=path,
        detail=detail,
        in_scope=source in included and target in included,
    )
