"""Which statements to produce for a run, and when (issue: scope and emit policy).

``plan_statements`` is the engine's main entry point for the service and the CLI. The default
(per-run scope, ``on-completion``) yields exactly the statement Tekton Chains would write.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from .documents import paused_gc
from .errors import FormatError
from .graph import RunGraph, build_graph
from .intoto import Statement, statement_bytes
from .limits import Limits, StatementBudget
from .scope import (
    ArtifactScope,
    artifact_scopes,
    explain_scopes,
    per_artifact_statement,
    pipeline_statements,
)
from .slsa import generate
from .slsa.config import SlsaConfig
from .tekton import PipelineRun, Run

Scope = Literal["per-run", "per-artifact"]
Emit = Literal["on-completion", "on-success", "on-artifact"]
SCOPES: tuple[Scope, ...] = ("per-run", "per-artifact")
EMIT_POLICIES: tuple[Emit, ...] = ("on-completion", "on-success", "on-artifact")


@dataclass(frozen=True, slots=True)
class PlannedStatement:
    """One statement to sign, with what the service needs to file it."""

    statement: Statement
    scope: Scope
    subjects: tuple[tuple[str, tuple[tuple[str, str], ...]], ...]
    run_status: str  # the run's Succeeded condition status when the statement was made
    run_reason: str


@dataclass(frozen=True, slots=True)
class Waiting:
    """An artifact (or the whole run) not attested yet, and why."""

    subject: str | None
    reason: str
    final: bool = False  # True when waiting longer cannot help (a failed task, on-success)


@dataclass(frozen=True, slots=True)
class Plan:
    statements: tuple[PlannedStatement, ...] = ()
    waiting: tuple[Waiting, ...] = field(default_factory=tuple)
    explanation: str = ""  # per-artifact mode: the --explain table


def validate_policy(scope: str, emit: str) -> None:
    """Reject unknown values and ``on-artifact`` without per-artifact scope."""
    if scope not in SCOPES:
        raise FormatError(f"unknown scope {scope!r}; expected one of {', '.join(SCOPES)}")
    if emit not in EMIT_POLICIES:
        raise FormatError(
            f"unknown emit policy {emit!r}; expected one of {', '.join(EMIT_POLICIES)}"
        )
    if emit == "on-artifact" and scope != "per-artifact":
        raise FormatError("emit policy on-artifact needs per-artifact scope")


def subjects_of(statement: Statement) -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
    entries: list[dict[str, Any]] = statement.get("subject") or []
    return tuple(
        (str(s.get("name", "")), tuple(sorted((s.get("digest") or {}).items()))) for s in entries
    )


def plan_statements(
    run: Run,
    cfg: SlsaConfig,
    scope: str = "per-run",
    emit: str = "on-completion",
    *,
    explain: bool = False,
    source: str | None = None,
    limits: Limits | None = None,
) -> Plan:
    """The statements to sign now for ``run`` under a namespace's settings.

    ``explain`` also fills ``Plan.explanation`` (per-artifact scope only): the --explain table.
    ``source``: how the records came (the service's record source), written into the run state
    of per-artifact statements; None leaves it out. ``limits``: over one, :class:`TooLarge`.
    """
    limits = limits or Limits()
    if isinstance(run, PipelineRun):
        limits.check_tasks(len(run.task_runs), f"PipelineRun {run.name}")
    with paused_gc():  # statements are large trees of fresh, acyclic objects
        return _plan(run, cfg, scope, emit, explain, source, limits)


def _plan(
    run: Run,
    cfg: SlsaConfig,
    scope: str,
    emit: str,
    explain: bool,
    source: str | None,
    limits: Limits,
) -> Plan:
    validate_policy(scope, emit)
    status = run.meta.succeeded.status if run.meta.succeeded else ""
    reason = run.meta.succeeded.reason if run.meta.succeeded else ""
    if scope == "per-artifact" and isinstance(run, PipelineRun):
        return plan_per_artifact(
            run, cfg, emit, explain=explain, source=source, budget=StatementBudget(limits)
        )
    done = run.meta.is_done
    if emit == "on-completion":
        ready, why = done, "the run is not done"
    elif done or emit == "on-success":
        # A standalone TaskRun is its own scope, so on-artifact means: once it has succeeded.
        ready = status == "True"
        why = "the run did not succeed" if done else "the run is not done"
    else:
        ready, why = False, "the run is not done"
    if not ready:
        return Plan(waiting=(Waiting(None, why, final=done),))
    held = chains_holds(run)
    if held is not None:
        return Plan(waiting=(held,))
    statement = generate(run, cfg)
    StatementBudget(limits).add(len(statement_bytes(statement)), f"{run.meta.kind} {run.name}")
    return Plan(
        statements=(
            PlannedStatement(
                statement=statement,
                scope="per-run",
                subjects=subjects_of(statement),
                run_status=status,
                run_reason=reason,
            ),
        )
    )


def chains_holds(run: Run) -> Waiting | None:
    """Why Chains' controller would not sign this finished PipelineRun yet, or None.

    Chains signs a PipelineRun only once every TaskRun its ``childReferences`` name exists and
    has completed. It gives up for good on a child that does not exist; a record store may simply
    not have received it yet, so that is a wait here, like an unfinished child.
    """
    if isinstance(run, PipelineRun):
        children = {tr.name: tr for tr in run.task_runs}
        for ref in run.child_references:
            child = children.get(ref.name)
            if child is None:
                return Waiting(None, f"child TaskRun {ref.name} (in childReferences) is missing")
            if child.meta.completion_time is None:
                return Waiting(None, f"child TaskRun {ref.name} has not completed")
    return None


def plan_per_artifact(
    pr: PipelineRun,
    cfg: SlsaConfig,
    emit: str,
    *,
    explain: bool,
    source: str | None = None,
    budget: StatementBudget | None = None,
) -> Plan:
    """Per-artifact statements for ``pr`` that the emit policy allows now; ``budget`` counts
    their bytes as each is made."""
    graph = build_graph(pr)
    scopes = artifact_scopes(pr, cfg, graph)
    status = pr.meta.succeeded.status if pr.meta.succeeded else ""
    reason = pr.meta.succeeded.reason if pr.meta.succeeded else ""
    builder = pipeline_statements(pr, cfg)
    statements: list[PlannedStatement] = []
    waiting: list[Waiting] = []
    for scope in scopes:
        name = str(scope.subjects[0].get("name", ""))
        blocked = blocker(pr, scope, emit, graph)
        if blocked is not None:
            waiting.append(Waiting(name, blocked[0], final=blocked[1]))
            continue
        statement = per_artifact_statement(pr, cfg, scope, emit, graph, builder, source)
        if budget is not None:
            budget.add(len(statement_bytes(statement)), f"artifact {name}")
        statements.append(
            PlannedStatement(
                statement=statement,
                scope="per-artifact",
                subjects=subjects_of(statement),
                run_status=status,
                run_reason=reason,
            )
        )
    if not scopes:
        done = pr.meta.is_done
        waiting.append(Waiting(None, "no artifact found" + ("" if done else " yet"), final=done))
    return Plan(
        statements=tuple(statements),
        waiting=tuple(waiting),
        explanation=explain_scopes(pr, scopes, graph) if explain else "",
    )


def blocker(
    pr: PipelineRun, scope: ArtifactScope, emit: str, graph: RunGraph
) -> tuple[str, bool] | None:
    """Why this artifact cannot be attested yet (and whether that is final), or None."""
    if emit == "on-completion":
        return None if pr.meta.is_done else ("the PipelineRun is not done", False)
    if emit == "on-success":
        if not pr.meta.is_done:
            return ("the PipelineRun is not done", False)
        if pr.meta.succeeded is None or pr.meta.succeeded.status != "True":
            return ("the PipelineRun did not succeed (on-success)", True)
        return None
    for inclusion in scope.included:
        node = graph.nodes[inclusion.task_run]
        if node.status == "False":
            return (f"in-scope task {node.pipeline_task} ({node.task_run}) failed", True)
        if node.status != "True":
            final = pr.meta.is_done
            return (f"in-scope task {node.pipeline_task} ({node.task_run}) has not finished", final)
    return None
