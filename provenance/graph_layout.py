"""Lay out a PipelineRun's executed graph for the dashboard's SVG drawing.

Pure presentation arithmetic: nodes are placed in columns by longest path over runAfter and
result edges (rows ordered by their parents' rows, which keeps most edges straight), finally
tasks in a column of their own to the right inside a labelled group. The template draws the
SVG, so every record-supplied string goes through Django's autoescaping; nothing here builds
markup.

Three drawings share the column placement, so they stay in one module (a little over 500 lines):
wide (columns left to right), tall (columns as rows, for a phone) and, for a run of more than
MAX_DRAWN_TASKS tasks, one box per column (a stage) with its counts. Pipeline tasks with no
TaskRun are placed too, from the declared graph (core.graph.declared_tasks).
"""

from __future__ import annotations

from collections import Counter, defaultdict, deque
from dataclasses import dataclass

from provenance.core.graph import DeclaredTask, RunGraph, overlaps
from provenance.core.scope import ArtifactScope, why_paths
from provenance.core.why import why_text

NODE_WIDTH = 184
NODE_HEIGHT = 58
COLUMN_GAP = 72
ROW_GAP = 20
# The vertical layout (a phone): narrower boxes, two side by side in 390 px, and between its
# rows room for the arrows and the "finally" caption.
TALL_NODE_WIDTH = 148
TALL_LABEL_CHARS = 17
TALL_STATUS_CHARS = 19
TALL_ROW_GAP = 12
VERTICAL_GAP = 44
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

# Past this many tasks a run is drawn by stage (or as the picked artifact's scope alone): a
# browser lays out a few hundred SVG boxes easily, and nobody reads a thousand.
MAX_DRAWN_TASKS = 150
STAGE_WIDTH = 200
STAGE_HEIGHT = 76
# The key of a pipeline task that has no TaskRun (TaskRun names never hold a colon).
NOT_RUN = "not-run:"

STATUS_WORDS = {"True": "Succeeded", "False": "Failed", "Unknown": "Running", "": "Unknown"}
# The glyph repeats the status without colour (the words follow it in the node).
STATUS_GLYPHS = {
    "succeeded": "✓",
    "failed": "✕",
    "running": "●",
    "unknown": "?",
    "waiting": "◌",
    "notrun": "–",
}
STATUS_CHARS = 24
SCOPE_WORDS = {"producer": "Produces the artifact", "in": "In scope", "out": "Out of scope"}
STAGE_WORDS = {
    "succeeded": "succeeded",
    "failed": "failed",
    "running": "running",
    "unknown": "unknown",
    "waiting": "waiting",
    "notrun": "not run",
}
SCOPE_GLYPHS = {"producer": "★", "in": "●", "out": "○"}
EDGE_WORDS = {"runAfter": "runAfter", "result": "uses its results", "workspace": "shared workspace"}


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
    why: str  # its path to the artifact (core.why.why_text), or why it is out
    upstream: tuple[str, ...] = ()  # "clone (uses its results)": what it comes after


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
class Stage:
    """One column of a run too large to draw task by task."""

    number: int  # 1-based
    x: int
    y: int
    count: int
    is_finally: bool
    statuses: tuple[tuple[str, str, int, str], ...]  # (status, glyph, count, words)
    scopes: tuple[tuple[str, str, int, str], ...]  # (scope mark, glyph, count, words)
    first: str  # a task of the stage, to recognise it by


@dataclass(frozen=True, slots=True)
class GraphLayout:
    width: int
    height: int
    nodes: tuple[PlacedNode, ...]
    edges: tuple[PlacedEdge, ...]
    workspace_edges_drawn: bool
    finally_box: Box | None = None
    stages: tuple[Stage, ...] = ()  # set instead of nodes for a run too large to draw
    total: int = 0  # tasks of the run, drawn or not
    node_width: int = NODE_WIDTH
    node_height: int = NODE_HEIGHT

    @property
    def edge_kinds(self) -> tuple[str, ...]:
        """The kinds present, in legend order."""
        present = {e.kind for e in self.edges}
        return tuple(k for k in EDGE_KINDS if k in present)

    @property
    def hidden(self) -> int:
        """Tasks of the run not drawn (outside the picked artifact's scope in a large run)."""
        return 0 if self.stages else self.total - len(self.nodes)


def shorten(text: str, limit: int = LABEL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _columns(
    tasks: dict[str, tuple[str, bool]], links: set[tuple[str, str]]
) -> dict[int, list[str]]:
    """Longest-path columns for DAG tasks (iterative: deep pipelines must not recurse).

    ``tasks``: key -> (pipeline task, is finally); ``links``: (upstream key, downstream key).
    """
    dag = {name for name, (_, is_finally) in tasks.items() if not is_finally}
    children: dict[str, set[str]] = defaultdict(set)
    parents: dict[str, set[str]] = defaultdict(set)
    for source, target in links:
        if source in dag and target in dag and source != target:
            children[source].add(target)
            parents[target].add(source)
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
            return (centre, tasks[name][0], name)

        ordered[index] = sorted(columns[index], key=key)
        rows.update((name, row) for row, name in enumerate(ordered[index]))
    finals = sorted((k for k, (_, f) in tasks.items() if f), key=lambda k: (tasks[k][0], k))
    if finals:
        ordered[max(ordered, default=-1) + 1] = finals
    return ordered


@dataclass(frozen=True, slots=True)
class _Task:
    """A box to place: a TaskRun that ran, or a pipeline task with none (not run or waiting)."""

    key: str  # the TaskRun name, or NOT_RUN + pipeline task
    pipeline_task: str
    task_run: str  # "" when it has not run
    is_finally: bool
    status: str  # succeeded | failed | running | unknown | waiting | notrun
    status_text: str


def _tasks(graph: RunGraph, declared: dict[str, DeclaredTask], waiting: bool) -> list[_Task]:
    found = []
    for name, node in graph.nodes.items():
        word = STATUS_WORDS.get(node.status, "Unknown")
        text = word if not node.reason or node.reason == word else node.reason
        found.append(_Task(name, node.pipeline_task, name, node.is_finally, word.lower(), text))
    for task, why in graph.not_run:
        status = "waiting" if waiting and why != "skipped" else "notrun"
        text = "Waiting" if status == "waiting" else f"Not run: {why}"
        is_finally = task in declared and declared[task].is_finally
        found.append(_Task(NOT_RUN + task, task, "", is_finally, status, text))
    return found


def _links(
    graph: RunGraph, declared: dict[str, DeclaredTask]
) -> dict[tuple[str, str, str], list[str]]:
    """(source key, target key, kind) -> where each relation is written: the executed edges,
    and the declared ones that start or end at a task with no TaskRun."""
    details: dict[tuple[str, str, str], list[str]] = {}
    for e in graph.edges:
        if e.source in graph.nodes and e.target in graph.nodes and e.source != e.target:
            details.setdefault((e.source, e.target, e.kind), []).append(e.detail)
    not_run = {task for task, _ in graph.not_run}

    def keys(task: str) -> list[str]:
        if task in not_run:
            return [NOT_RUN + task]
        return [n.task_run for n in graph.by_task.get(task, ())]

    for task in declared.values():
        for upstream, kind, detail in task.relations:
            if upstream == task.name or (task.name not in not_run and upstream not in not_run):
                continue
            for source in keys(upstream):
                for target in keys(task.name):
                    details.setdefault((source, target, kind), []).append(detail)
    return details


def layout(
    graph: RunGraph,
    scope: ArtifactScope | None = None,
    *,
    declared: dict[str, DeclaredTask] | None = None,
    waiting: bool = False,
    vertical: bool = False,
) -> GraphLayout:
    """Positions for every task and edge; with ``scope``, tasks and edges are marked in/out.

    ``declared`` (core.graph.declared_tasks) places the pipeline tasks that have no TaskRun;
    ``waiting``: the PipelineRun is still running, so those may yet run. ``vertical``: columns
    become rows, read top to bottom (for a phone, where a row of columns shows one and a half
    tasks). A run with more than
    MAX_DRAWN_TASKS tasks is drawn as the scope of the picked artifact alone when that is small
    enough, or else as one box per column (a stage) with its counts.
    """
    tasks = _tasks(graph, declared or {}, waiting)
    details = _links(graph, declared or {})
    included = scope.task_runs if scope is not None else set()
    if len(tasks) > MAX_DRAWN_TASKS:
        if scope is None or len(included) > MAX_DRAWN_TASKS:
            return _stages(tasks, details, scope, total=len(tasks))
        drawn = [t for t in tasks if t.key in included]
        details = {k: v for k, v in details.items() if k[0] in included and k[1] in included}
    else:
        drawn = tasks
    by_key = {t.key: t for t in drawn}
    columns = _columns(
        {t.key: (t.pipeline_task, t.is_finally) for t in drawn},
        {(source, target) for source, target, _ in details},
    )
    has_finally = any(t.is_finally for t in drawn)
    top = MARGIN + (HEADER if has_finally else 0)

    producers = {p.task_run for p in scope.producers} if scope is not None else set()
    paths = why_paths(scope, graph) if scope is not None else {}
    reasons = {name: why_text(path) for name, path in paths.items()}
    excluded = {e.task_run: e.why for e in scope.excluded if e.task_run} if scope else {}
    positions: dict[str, tuple[int, int]] = {}
    placed: list[PlacedNode] = []
    label_chars, status_chars = (
        (TALL_LABEL_CHARS, TALL_STATUS_CHARS) if vertical else (LABEL_CHARS, STATUS_CHARS)
    )
    for index, names in sorted(columns.items()):
        for row, name in enumerate(names):
            task = by_key[name]
            x, y = _place(index, row, top, vertical)
            positions[name] = (x, y)
            mark = "" if scope is None else _mark(name, producers, included)
            placed.append(
                PlacedNode(
                    task_run=task.task_run,
                    pipeline_task=task.pipeline_task,
                    label=shorten(task.pipeline_task or name, label_chars),
                    status=task.status,
                    status_text=shorten(task.status_text, status_chars),
                    glyph=STATUS_GLYPHS[task.status],
                    is_finally=task.is_finally,
                    x=x,
                    y=y,
                    scope=mark,
                    scope_text=SCOPE_WORDS.get(mark, ""),
                    why=reasons.get(name) or excluded.get(name) or "",
                    upstream=_upstream(name, details, by_key),
                )
            )

    draw_workspace = len(graph.nodes) <= MAX_WORKSPACE_EDGE_NODES
    if draw_workspace:
        linked = {(e.source, e.target) for e in graph.edges}
        for source, target, workspace in workspace_pairs(graph):
            if (source, target) not in linked and source in positions and target in positions:
                details.setdefault((source, target, "workspace"), []).append(
                    f"shares writable workspace '{workspace}'"
                )
    edges = [
        _edge(positions, source, target, kind, "; ".join(dict.fromkeys(found)), included, vertical)
        for (source, target, kind), found in details.items()
        if source in positions and target in positions
    ]

    rows = max((len(names) for names in columns.values()), default=1)
    across, down = (rows, max(len(columns), 1)) if vertical else (max(len(columns), 1), rows)
    x_gap, y_gap = (TALL_ROW_GAP, VERTICAL_GAP) if vertical else (COLUMN_GAP, ROW_GAP)
    node_width = TALL_NODE_WIDTH if vertical else NODE_WIDTH
    width = 2 * MARGIN + across * (node_width + x_gap) - x_gap
    height = top + MARGIN + down * (NODE_HEIGHT + y_gap) - y_gap
    finally_box = None
    if has_finally:
        index = max(columns)
        count = len(columns[index])
        x, y = _place(index, 0, top, vertical)
        along = count * (node_width + x_gap if vertical else NODE_HEIGHT + ROW_GAP)
        along -= x_gap if vertical else ROW_GAP
        finally_box = Box(
            x=x - FINALLY_PAD,
            y=y - FINALLY_PAD,
            width=(along if vertical else NODE_WIDTH) + 2 * FINALLY_PAD,
            height=(NODE_HEIGHT if vertical else along) + 2 * FINALLY_PAD,
        )
        width += FINALLY_PAD
    return GraphLayout(
        width=width,
        height=height + FINALLY_PAD,
        nodes=tuple(placed),
        edges=tuple(edges),
        workspace_edges_drawn=draw_workspace,
        finally_box=finally_box,
        total=len(tasks),
        node_width=node_width,
    )


def _place(index: int, row: int, top: int, vertical: bool) -> tuple[int, int]:
    """Top-left corner of the ``row``-th task of column ``index``."""
    if vertical:
        x = MARGIN + row * (TALL_NODE_WIDTH + TALL_ROW_GAP)
        return x, top + index * (NODE_HEIGHT + VERTICAL_GAP)
    return MARGIN + index * (NODE_WIDTH + COLUMN_GAP), top + row * (NODE_HEIGHT + ROW_GAP)


def _mark(key: str, producers: set[str], included: set[str]) -> str:
    if key in producers:
        return "producer"
    return "in" if key in included else "out"


def _upstream(
    key: str, details: dict[tuple[str, str, str], list[str]], tasks: dict[str, _Task]
) -> tuple[str, ...]:
    """The pipeline tasks ``key`` comes after, with how (for the graph's text version)."""
    found: dict[str, list[str]] = {}
    for source, target, kind in details:
        if target == key and source in tasks:
            found.setdefault(tasks[source].pipeline_task, []).append(EDGE_WORDS[kind])
    return tuple(f"{task} ({', '.join(dict.fromkeys(kinds))})" for task, kinds in found.items())


def _stages(
    tasks: list[_Task],
    details: dict[tuple[str, str, str], list[str]],
    scope: ArtifactScope | None,
    *,
    total: int,
) -> GraphLayout:
    """A run too large to draw task by task: one box per column, with its counts."""
    by_key = {t.key: t for t in tasks}
    columns = _columns(
        {t.key: (t.pipeline_task, t.is_finally) for t in tasks},
        {(source, target) for source, target, _ in details},
    )
    producers = {p.task_run for p in scope.producers} if scope is not None else set()
    included = scope.task_runs if scope is not None else set()
    stages = []
    for index, names in sorted(columns.items()):
        members = [by_key[name] for name in names]
        statuses = Counter(t.status for t in members)
        marks = Counter(_mark(t.key, producers, included) for t in members if scope)
        stages.append(
            Stage(
                number=index + 1,
                x=MARGIN + index * (STAGE_WIDTH + COLUMN_GAP),
                y=MARGIN,
                count=len(members),
                is_finally=members[0].is_finally,
                statuses=tuple(
                    (status, STATUS_GLYPHS[status], statuses[status], STAGE_WORDS[status])
                    for status in STATUS_GLYPHS
                    if statuses[status]
                ),
                scopes=tuple(
                    (mark, SCOPE_GLYPHS[mark], marks[mark], SCOPE_WORDS[mark].lower())
                    for mark in SCOPE_GLYPHS
                    if marks[mark]
                ),
                first=shorten(members[0].pipeline_task, LABEL_CHARS),
            )
        )
    edges = tuple(
        PlacedEdge(
            kind="runAfter",
            source=str(a.number),
            target=str(b.number),
            path=f"M{a.x + STAGE_WIDTH},{a.y + STAGE_HEIGHT // 2} L{b.x},{b.y + STAGE_HEIGHT // 2}",
            detail=f"stage {b.number} comes after stage {a.number}",
            in_scope=False,
        )
        for a, b in zip(stages, stages[1:], strict=False)
    )
    return GraphLayout(
        width=2 * MARGIN + len(stages) * (STAGE_WIDTH + COLUMN_GAP) - COLUMN_GAP,
        height=2 * MARGIN + STAGE_HEIGHT,
        nodes=(),
        edges=edges,
        workspace_edges_drawn=False,
        stages=tuple(stages),
        total=total,
        node_width=STAGE_WIDTH,
        node_height=STAGE_HEIGHT,
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
    vertical: bool = False,
) -> PlacedEdge:
    sx, sy = positions[source]
    tx, ty = positions[target]
    offset = KIND_OFFSET.get(kind, 0)
    if vertical:  # the same three cases, turned a quarter: down the page
        x1 = sx + TALL_NODE_WIDTH // 2 + offset
        x2 = tx + TALL_NODE_WIDTH // 2 + offset
        if ty == sy:  # same row: arc below
            y1 = y2 = sy + NODE_HEIGHT
            bend = y1 + VERTICAL_GAP // 2
            path = f"M{x1},{y1} C{x1},{bend} {x2},{bend} {x2},{y2}"
            return _placed(kind, source, target, path, detail, included)
        y1, y2 = (sy, ty + NODE_HEIGHT) if ty < sy else (sy + NODE_HEIGHT, ty)
        mid = (y1 + y2) // 2
        path = f"M{x1},{y1} C{x1},{mid} {x2},{mid} {x2},{y2}"
        return _placed(kind, source, target, path, detail, included)
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
    return _placed(kind, source, target, path, detail, included)


def _placed(
    kind: str, source: str, target: str, path: str, detail: str, included: set[str]
) -> PlacedEdge:
    return PlacedEdge(
        kind=kind,
        source=source,
        target=target,
        path=path,
        detail=detail,
        in_scope=source in included and target in included,
    )
