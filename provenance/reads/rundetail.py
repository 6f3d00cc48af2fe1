"""The run page: the parsed record, its TaskRuns, the pipeline graph, each artifact's scope,
and per task whether it is in that scope and why.

The graph and the scopes are rebuilt by the engine from the stored records of the run and its
children, under the namespace's effective settings.
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass, field
from typing import Any

import orjson
from django.conf import settings

from provenance.config import NamespaceConfig
from provenance.core.digests import read_digest
from provenance.core.documents import paused_gc
from provenance.core.errors import ProvenanceError
from provenance.core.graph import DeclaredTask, RunGraph, build_graph, declared_tasks
from provenance.core.limits import TooLarge
from provenance.core.scope import (
    ArtifactScope,
    Exclusion,
    Inclusion,
    Producer,
    artifact_scopes,
    why_paths,
)
from provenance.core.tekton import PipelineRun, Run, TaskRun
from provenance.core.why import WhyStep
from provenance.models import Attestation, RunRecord, RunView

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
    # In scope: its path to the artifact; out: one step saying why not.
    why: tuple[WhyStep, ...] = ()
    waiting: bool = False  # no TaskRun yet, and the PipelineRun is still running


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
    declared: dict[str, DeclaredTask] = field(default_factory=dict)
    scopes: list[ArtifactScope] = field(default_factory=list)
    attestations: list[Attestation] = field(default_factory=list)
    # The deep inspection view: computed by a worker (``run_view_inputs`` names the one this
    # page needs); None until asked for, then pending, ready or failed.
    view: RunView | None = None
    view_inputs: str = ""

    @property
    def pipeline_run(self) -> PipelineRun | None:
        return self.run if isinstance(self.run, PipelineRun) else None

    @property
    def waiting(self) -> bool:
        """A PipelineRun still running: its tasks without a TaskRun may yet run."""
        return self.run is not None and not self.run.meta.is_done

    @property
    def task_run(self) -> TaskRun | None:
        return self.run if isinstance(self.run, TaskRun) else None


def run_detail(record: RunRecord, *, namespaces: set[str] | None, deep: bool = False) -> RunDetail:
    """Everything the run page shows; ``deep`` turns deep inspection on for this view only (to
    explore artifacts tasks produced but the pipeline did not re-export)."""
    # The stored records, parsed, and the graph and scopes built from them are large trees of
    # fresh acyclic objects: the cyclic collector walking them again and again cost a quarter
    # of a 1,000-task run's page (bench/run_page.py).
    with paused_gc():
        return _run_detail(record, namespaces=namespaces, deep=deep)


def _run_detail(record: RunRecord, *, namespaces: set[str] | None, deep: bool) -> RunDetail:
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
            limit = settings.PROVENANCE_MAX_TASKS
            if len(pr.task_runs) > limit:
                raise TooLarge(
                    f"TaskRuns of PipelineRun {pr.name}",
                    len(pr.task_runs),
                    limit,
                    "PROVENANCE_MAX_TASKS",
                )
            detail.graph = build_graph(pr)
            # Only the tasks with no TaskRun need the declared graph (to be placed in it).
            detail.declared = declared_tasks(pr) if detail.graph.not_run else {}
            if deep:
                # Never in the web request: a worker computes it (services.runviews).
                detail.view_inputs = run_view_inputs(record, detail.children, config)
                detail.view = RunView.objects.filter(run=record, inputs=detail.view_inputs).first()
                if detail.view is not None and detail.view.status == RunView.Status.READY:
                    detail.scopes = scopes_decode(detail.view.payload)
            else:
                detail.scopes = artifact_scopes(pr, config.slsa, detail.graph)
        except (ProvenanceError, ValueError) as exc:
            detail.error = f"the graph cannot be built: {exc}"
    return detail


def deep_config(config: NamespaceConfig) -> NamespaceConfig:
    return config.changed({"deep_inspection": True})


def run_view_inputs(record: RunRecord, children: list[RunRecord], config: NamespaceConfig) -> str:
    """What a run's deep view is made from: the stored records and the settings it uses."""
    parts = [record.raw_sha256, *sorted(f"{c.uid}:{c.raw_sha256}" for c in children)]
    parts.append(repr(deep_config(config).slsa))
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def scopes_encode(scopes: list[ArtifactScope]) -> bytes:
    """The scopes as compact JSON, zlib-compressed (a ``RunView`` payload)."""
    data = [
        {
            "subjects": list(scope.subjects),
            "producers": [[p.task_run, p.pipeline_task, p.results] for p in scope.producers],
            "included": [[i.task_run, i.pipeline_task, i.why, i.leads_to] for i in scope.included],
            "excluded": [
                [e.pipeline_task, e.task_run, e.status, e.reason, e.why] for e in scope.excluded
            ],
        }
        for scope in scopes
    ]
    return zlib.compress(orjson.dumps(data), 6)


def scopes_decode(payload: bytes | memoryview) -> list[ArtifactScope]:
    data: list[dict[str, Any]] = orjson.loads(zlib.decompress(bytes(payload)))
    return [
        ArtifactScope(
            subjects=tuple(item["subjects"]),
            producers=tuple(Producer(p[0], p[1], tuple(p[2])) for p in item["producers"]),
            included=tuple(Inclusion(*i) for i in item["included"]),
            excluded=tuple(Exclusion(*e) for e in item["excluded"]),
        )
        for item in data
    ]


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
    included = why_paths(scope, graph) if scope else {}
    excluded = {(e.pipeline_task, e.task_run): e.why for e in scope.excluded} if scope else {}
    rows = []
    for node in graph.nodes.values():
        mark = ""
        why: tuple[WhyStep, ...] = ()
        if scope is not None:
            if node.task_run in included:
                mark = "producer" if node.task_run in producers else "in"
                why = included[node.task_run]
            else:
                mark = "out"
                reason = excluded.get((node.pipeline_task, node.task_run), "")
                why = (WhyStep(node.pipeline_task, reason),) if reason else ()
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
                why=why,
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
                is_finally=task in detail.declared and detail.declared[task].is_finally,
                start_time=None,
                completion_time=None,
                scope="out" if scope is not None else "",
                why=(WhyStep(task, f"did not run ({state})"),) if scope is not None else (),
                waiting=detail.waiting and state != "skipped",
            )
        )
    rows.sort(key=lambda r: (r.is_finally, r.start_time is None, r.start_time or "", r.task_run))
    return rows
