"""The dependency graph of a PipelineRun, as executed (issue: per-artifact provenance).

Nodes are the child TaskRuns that ran (a matrix fan-out gives one node per TaskRun). Each edge
keeps its kind and where it came from so that every inclusion in an artifact's scope can be
explained: ``runAfter`` ordering, ``$(tasks.X.results.Y)`` result references anywhere in a
pipeline task, and writable workspaces shared between tasks (spec §10).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from .tekton import PipelineRun, TaskRun

EdgeKind = Literal["runAfter", "result", "workspace"]
RESULT_REF = re.compile(r"\$\(tasks\.([^.\s()]+)\.results\.([^.\s()\[]+)")
# Volume sources a pipeline workspace can be bound to that never carry data between two pods
# (emptyDir: one volume per pod) or cannot be written (configMap, secret, projected).
_NOT_SHARED = ("emptyDir",)
_READ_ONLY_SOURCES = ("configMap", "secret", "projected")


@dataclass(frozen=True, slots=True)
class Mount:
    """A pipeline workspace as one task sees it."""

    workspace: str  # the pipeline-level workspace name
    sub_path: str
    writable: bool


@dataclass(frozen=True, slots=True)
class Node:
    """One executed TaskRun."""

    task_run: str
    pipeline_task: str
    is_finally: bool
    status: str  # Succeeded condition: "True" | "False" | "Unknown" | ""
    reason: str
    start_time: str | None
    completion_time: str | None
    mounts: tuple[Mount, ...]
    started_at: datetime | None
    completed_at: datetime | None


@dataclass(frozen=True, slots=True)
class Edge:
    """``source`` ran before or fed ``target``; ``detail`` says where the relation is written."""

    source: str  # TaskRun name upstream
    target: str  # TaskRun name downstream
    kind: EdgeKind
    detail: str


@dataclass(frozen=True, slots=True)
class RunGraph:
    nodes: dict[str, Node]
    edges: tuple[Edge, ...]
    incoming: dict[str, tuple[Edge, ...]]
    # pipeline tasks with no TaskRun: skipped (``status.skippedTasks``) or never started
    not_run: tuple[tuple[str, str], ...]  # (pipeline task, why)
    # workspace -> its writable mounts, earliest start first (unknown start first of all)
    writers: dict[str, tuple[tuple[Node, Mount], ...]]
    by_task: dict[str, tuple[Node, ...]]  # pipeline task -> its nodes (several for a matrix)
    # (workspace, subPath) -> writers_of() narrowed to the mounts that overlap it, and each
    # workspace's writers indexed by path: filled on demand, since every artifact's scope
    # closure asks for the same few views again.
    _overlapping: dict[tuple[str, str], tuple[tuple[Node, Mount], ...]] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )
    _writer_paths: dict[str, _WriterPaths] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )

    def writers_of(self, workspace: str) -> tuple[tuple[Node, Mount], ...]:
        return self.writers.get(workspace, ())

    def overlapping_writers(self, mount: Mount) -> tuple[tuple[Node, Mount], ...]:
        """The writable mounts of ``mount``'s workspace that overlap it, earliest start first."""
        key = (mount.workspace, mount.sub_path)
        found = self._overlapping.get(key)
        if found is None:
            writers = self.writers_of(mount.workspace)
            paths = self._writer_paths.get(mount.workspace)
            if paths is None:
                paths = self._writer_paths[mount.workspace] = _WriterPaths(writers)
            found = tuple(writers[position] for position in paths.overlapping(mount.sub_path))
            self._overlapping[key] = found
        return found


class _WriterPaths:
    """A workspace's writers indexed by subPath, so that finding the ones overlapping a path
    looks up its ancestors and descendants instead of testing every writer (see overlaps())."""

    __slots__ = ("anywhere", "at", "below", "count")

    def __init__(self, writers: tuple[tuple[Node, Mount], ...]) -> None:
        self.count = len(writers)
        self.anywhere: list[int] = []  # positions whose path overlaps every path
        self.at: dict[str, list[int]] = {}  # trimmed path -> positions
        self.below: dict[str, list[str]] = {}  # trimmed path -> deeper paths written under it
        for position, (_, mount) in enumerate(writers):
            path = mount.sub_path.strip("/")
            if _overlaps_any(path):
                self.anywhere.append(position)
                continue
            if path not in self.at:
                self.at[path] = []
                for ancestor in _ancestors(path):
                    self.below.setdefault(ancestor, []).append(path)
            self.at[path].append(position)

    def overlapping(self, sub_path: str) -> list[int]:
        """Positions of the writers whose path overlaps ``sub_path``, in order."""
        path = sub_path.strip("/")
        if _overlaps_any(path):
            return list(range(self.count))
        found = list(self.anywhere)
        for related in (path, *_ancestors(path), *self.below.get(path, ())):
            found.extend(self.at.get(related, ()))
        return sorted(found)


def _ancestors(path: str) -> Iterator[str]:
    """The prefixes of ``path`` that end just before a slash."""
    return (path[:i] for i, char in enumerate(path) if char == "/")


def build_graph(pr: PipelineRun) -> RunGraph:
    """Rebuild the executed graph from ``status.pipelineSpec`` and the gathered children."""
    tasks = {str(t.get("name", "")): t for t in pr.pipeline_tasks() if isinstance(t, dict)}
    finally_names = {
        str(t.get("name", ""))
        for t in ((pr.pipeline_spec or {}).get("finally") or [])
        if isinstance(t, dict)
    }
    bindings = _workspace_bindings(pr)
    runs_by_task: dict[str, tuple[TaskRun, ...]] = {}
    nodes: dict[str, Node] = {}
    for name, task in tasks.items():
        runs = pr.task_runs_for(name)
        runs_by_task[name] = runs
        for tr in runs:
            nodes[tr.name] = Node(
                task_run=tr.name,
                pipeline_task=name,
                is_finally=name in finally_names,
                status=tr.meta.succeeded.status if tr.meta.succeeded else "",
                reason=tr.meta.succeeded.reason if tr.meta.succeeded else "",
                start_time=tr.meta.start_time,
                completion_time=tr.meta.completion_time,
                mounts=_mounts(task, tr, bindings),
                started_at=_instant(tr.meta.start_time),
                completed_at=_instant(tr.meta.completion_time),
            )

    edges: list[Edge] = []
    for name, task in tasks.items():
        for upstream, kind, detail in _task_relations(task):
            if upstream == name:
                continue
            for source in runs_by_task.get(upstream, []):
                for target in runs_by_task[name]:
                    edges.append(Edge(source.name, target.name, kind, detail))
    incoming: dict[str, list[Edge]] = {name: [] for name in nodes}
    # Result edges first: they say what data flowed, so they make the better explanation.
    for edge in sorted(edges, key=lambda e: e.kind != "result"):
        incoming[edge.target].append(edge)

    skipped = set(pr.skipped_tasks)
    not_run = tuple(
        (name, "skipped" if name in skipped else "no TaskRun")
        for name, runs in runs_by_task.items()
        if not runs
    )
    writers: dict[str, list[tuple[Node, Mount]]] = {}
    for node in nodes.values():
        for mount in node.mounts:
            if mount.writable:
                writers.setdefault(mount.workspace, []).append((node, mount))
    return RunGraph(
        nodes=nodes,
        edges=tuple(edges),
        incoming={name: tuple(found) for name, found in incoming.items()},
        not_run=not_run,
        writers={ws: tuple(sorted(found, key=_start_key)) for ws, found in writers.items()},
        by_task={
            task: tuple(nodes[tr.name] for tr in runs)
            for task, runs in runs_by_task.items()
            if runs
        },
    )


def _start_key(entry: tuple[Node, Mount]) -> tuple[int, datetime]:
    started = entry[0].started_at
    return (0, datetime.min.replace(tzinfo=UTC)) if started is None else (1, started)


@dataclass(frozen=True, slots=True)
class DeclaredTask:
    """A pipeline task as the pipeline declares it, whether or not a TaskRun ran for it."""

    name: str
    is_finally: bool
    relations: tuple[tuple[str, EdgeKind, str], ...]  # (upstream pipeline task, kind, detail)


def declared_tasks(pr: PipelineRun) -> dict[str, DeclaredTask]:
    """Every pipeline task of ``status.pipelineSpec`` with its declared relations: the run page
    draws the tasks that have not run (yet) where the pipeline puts them."""
    finally_names = {
        str(t.get("name", ""))
        for t in ((pr.pipeline_spec or {}).get("finally") or [])
        if isinstance(t, dict)
    }
    declared = {}
    for task in pr.pipeline_tasks():
        if isinstance(task, dict):
            name = str(task.get("name", ""))
            declared[name] = DeclaredTask(name, name in finally_names, tuple(_task_relations(task)))
    return declared


def _task_relations(task: dict[str, Any]) -> Iterator[tuple[str, EdgeKind, str]]:
    for upstream in task.get("runAfter") or []:
        yield str(upstream), "runAfter", f"runAfter: {upstream}"
    seen: set[tuple[str, str]] = set()
    for path, upstream, result in _result_references(task, ""):
        if (upstream, path) in seen:
            continue
        seen.add((upstream, path))
        yield upstream, "result", f"{path} uses $(tasks.{upstream}.results.{result})"


def _result_references(value: Any, path: str) -> Iterator[tuple[str, str, str]]:
    """(path, task, result) for every result reference anywhere in a pipeline task."""
    if isinstance(value, str):
        if "$(tasks." in value:
            for upstream, result in RESULT_REF.findall(value):
                yield path or "value", upstream, result
    elif isinstance(value, dict):
        for key, item in value.items():
            if key in ("name", "runAfter") and not path:
                continue
            yield from _result_references(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            label = item.get("name") if isinstance(item, dict) else None
            yield from _result_references(item, f"{path}[{label if label else index}]")


def _workspace_bindings(pr: PipelineRun) -> dict[str, str]:
    """Pipeline workspace name -> the kind of volume the PipelineRun bound it to."""
    bound: dict[str, str] = {}
    for binding in pr.meta.spec.get("workspaces") or []:
        if not isinstance(binding, dict):
            continue
        kinds = [k for k in binding if k not in ("name", "subPath")]
        bound[str(binding.get("name", ""))] = kinds[0] if kinds else ""
    return bound


def _mounts(task: dict[str, Any], tr: TaskRun, bindings: dict[str, str]) -> tuple[Mount, ...]:
    declared = {
        str(w.get("name", "")): bool(w.get("readOnly"))
        for w in ((tr.task_spec or {}).get("workspaces") or [])
        if isinstance(w, dict)
    }
    mounts = []
    for binding in task.get("workspaces") or []:
        if not isinstance(binding, dict):
            continue
        workspace = str(binding.get("workspace") or binding.get("name") or "")
        source = bindings.get(workspace, "")
        if source in _NOT_SHARED:
            continue
        # When the TaskRun's spec is unknown we cannot see readOnly: assume it can write.
        read_only = declared.get(str(binding.get("name", "")), False)
        writable = not read_only and source not in _READ_ONLY_SOURCES
        mounts.append(Mount(workspace, str(binding.get("subPath") or ""), writable))
    return tuple(mounts)


def overlaps(a: Mount, b: Mount) -> bool:
    """Two mounts of one workspace overlap unless their subPaths are disjoint directories.

    An unresolved variable in a subPath could be anything, so it overlaps everything.
    """
    return a.workspace == b.workspace and _paths_overlap(a.sub_path, b.sub_path)


def _paths_overlap(a: str, b: str) -> bool:
    pa, pb = a.strip("/"), b.strip("/")
    if _overlaps_any(pa) or _overlaps_any(pb):
        return True
    return pa == pb or pa.startswith(pb + "/") or pb.startswith(pa + "/")


def _overlaps_any(path: str) -> bool:
    """The whole workspace (no subPath) or an unresolved variable, which could be anything."""
    return not path or "$(" in path


def started_before_finished(writer: Node, contributor: Node) -> bool:
    """Could ``writer`` have touched the workspace before ``contributor`` finished?

    "Did not start after the contributor finished" counts as yes, and so do unknown times
    (conservative: when unsure, include).
    """
    if writer.started_at is None or contributor.completed_at is None:
        return True
    return writer.started_at <= contributor.completed_at


def _instant(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text.replace("Z", "+00:00"))
