"""The run page: the parsed record, its TaskRuns, the pipeline graph, each artifact's scope,
and per task whether it is in that scope and why.

The graph and the scopes are rebuilt by the engine from the stored records of the run and its
children, under the namespace's effective settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from provenance.config import NamespaceConfig
from provenance.core.digests import read_digest
from provenance.core.errors import ProvenanceError
from provenance.core.graph import RunGraph, build_graph
from provenance.core.scope import ArtifactScope, artifact_scopes
from provenance.core.tekton import PipelineRun, Run, TaskRun
from provenance.models import Attestation, RunRecord

from .attestations import attestations_of_run
from .namespaces import namespace_settings_effective
from .runs import RecordPruned, parse_run, run_children, run_parent


@dataclass
class TaskRow:
    """One pipeline task of a run, for the task table under the graph."""

    pipeline_task: str
    task_run: str | None
    record_id: int | None
    status: str
    reason: str
    is_finally: bool
    start_time: str | None
    completion_time: str | None
    scope: str = ""  # producer | in | out
    why: tuple[str, ...] = ()


@dataclass
class RunDetail:
    record: RunRecord
    run: Run | None
    settings: NamespaceConfig
    error: str = ""
    # Why there is no parsed run, graph or record: it was pruned (reads.runs.pruned_note).
    pruned: str = ""
    children: list[RunRecord] = field(default_factory=list)
    parent: RunRecord | None = None
    graph: RunGraph | None = None
    scopes: list[ArtifactScope] = field(default_factory=list)
    attestations: list[Attestation] = field(default_factory=list)

    @property
    def pipeline_run(self) -> PipelineRun | None:
        return self.run if isinstance(self.run, PipelineRun) else None

    @property
    def task_run(self) -> TaskRun | None:
        return self.run if isinstance(self.run, TaskRun) else None


def run_detail(record: RunRecord, *, namespaces: set[str] | None, deep: bool = False) -> RunDetail:
    """Everything the run page shows; ``deep`` turns deep inspection on for this view only (to
    explore artifacts tasks produced but the pipeline did not re-export)."""
    config, _ = namespace_settings_effective(record.namespace)
    detail = RunDetail(record=record, run=None, settings=config)
    detail.children = list(run_children(record, with_records=True))
    detail.parent = run_parent(record, namespaces)
    top = detail.parent or record
    if top.is_top_level:
        detail.attestations = list(attestations_of_run(top))
    try:
        detail.run = parse_run(record, detail.children)
    except RecordPruned as exc:
        detail.pruned = str(exc)
        return detail
    except (ProvenanceError, StopIteration) as exc:
        detail.error = f"the stored record cannot be read: {exc}"
        return detail
    pr = detail.pipeline_run
    if pr is not None:
        try:
            detail.graph = build_graph(pr)
            if deep:
                config = config.changed({"deep_inspection": True})
            detail.scopes = artifact_scopes(pr, config.slsa, detail.graph)
        except (ProvenanceError, ValueError) as exc:
            detail.error = f"the graph cannot be built: {exc}"
    return detail


def scope_key(scope: ArtifactScope) -> str:
    """``alg:hex`` of an artifact's first digest: its name in URLs (``?artifact=``)."""
    digest = scope.subjects[0].get("digest") or {}
    algorithm, hex_value = sorted(digest.items())[0] if digest else ("", "")
    return f"{algorithm}:{hex_value}"


def scope_for(scopes: list[ArtifactScope], wanted: str) -> ArtifactScope | None:
    pair = read_digest(wanted)
    if pair is None:
        return None
    for scope in scopes:
        for subject in scope.subjects:
            for algorithm, hex_value in (subject.get("digest") or {}).items():
                if (algorithm.lower(), hex_value.lower()) == pair:
                    return scope
    return None


def task_rows(detail: RunDetail, scope: ArtifactScope | None) -> list[TaskRow]:
    """Every pipeline task in graph order, with its TaskRun, status and scope verdict."""
    graph = detail.graph
    if graph is None:
        return []
    ids = {child.name: child.pk for child in detail.children}
    producers = {p.task_run for p in scope.producers} if scope else set()
    included = scope.chains() if scope else {}
    excluded = {(e.pipeline_task, e.task_run): e.why for e in scope.excluded} if scope else {}
    rows = []
    for node in graph.nodes.values():
        mark = ""
        why: tuple[str, ...] = ()
        if scope is not None:
            if node.task_run in included:
                mark = "producer" if node.task_run in producers else "in"
                why = included[node.task_run]
            else:
                mark = "out"
                why = (excluded.get((node.pipeline_task, node.task_run), ""),)
        rows.append(
            TaskRow(
                pipeline_task=node.pipeline_task,
                task_run=node.task_run,
                record_id=ids.get(node.task_run),
                status=node.status,
                reason=node.reason,
                is_finally=node.is_finally,
                start_time=node.start_time,
                completion_time=node.completion_time,
                scope=mark,
                why=tuple(w for w in why if w),
            )
        )
    for task, state in graph.not_run:
        rows.append(
            TaskRow(
                pipeline_task=task,
                task_run=None,
                record_id=None,
                status="",
                reason=state,
                is_finally=False,
                start_time=None,
                completion_time=None,
                scope="out" if scope is not None else "",
                why=(f"did not run ({state})",) if scope is not None else (),
            )
        )
    rows.sort(key=lambda r: (r.is_finally, r.start_time is None, r.start_time or "", r.task_run))
    return rows
