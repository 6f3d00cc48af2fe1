"""The deployment gate: may this digest be deployed? (docs/api.md, "The deployment gate").

Each candidate is verified by ``verify`` first; everything after reads the signed statement
bytes just verified (``provenance.core.statements``), never the columns beside them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from provenance.config import WATCHED, NamespaceConfig
from provenance.core.digests import parse_query
from provenance.core.errors import FormatError
from provenance.core.statements import StatementError, StatementView, read_statement
from provenance.models import Attestation, RunKind, RunRecord

from .applies import APPLIES, SUPERSEDED, Standing, coverage
from .runs import run_children
from .verify import KeyRing, key_ring, verify, with_chain_link

# What ``require_source`` accepts: the one source a statement can show it came from.
GATE_SOURCES = (WATCHED,)


# What the gate relies on, said in every answer (``reads.applies`` is the rule).
GATE_RULE = (
    "In each namespace the gate relies on the one attestation that applies there: the newest "
    "current attestation of the namespace's scope (or of the scope asked for), its format "
    "first; the artifact and attestation pages name the same one. Other current attestations "
    "are set aside."
)


@dataclass(frozen=True, slots=True)
class GateCandidate:
    attestation: Attestation
    allowed: bool
    reasons: tuple[str, ...]
    # Why this one was relied on: the sentence of ``reads.applies.coverage``.
    chosen_because: str = ""


@dataclass(frozen=True, slots=True)
class GateDecision:
    digest: str
    allowed: bool
    reasons: tuple[str, ...]
    attestation: int | None
    candidates: tuple[GateCandidate, ...] = ()
    # Current attestations naming the digest that the rule did not choose, and what they are.
    set_aside: tuple[Standing, ...] = ()
    rule: str = GATE_RULE


def gate_evaluate(
    *,
    namespaces: set[str] | None,
    digest: str,
    namespace: str | None = None,
    require_tasks: Sequence[str] = (),
    scope: str | None = None,
    require_source: str | None = None,
) -> GateDecision:
    """May ``digest`` be deployed?

    The candidates are, in each of the caller's visible namespaces (or in ``namespace``), the
    attestation that applies to the digest (``reads.applies.coverage``, with ``scope`` when
    given), newest first. The answer is "allowed" as soon as one candidate passes every check;
    otherwise every candidate's reasons are given. The other current attestations naming the
    digest are set aside, each with what it is.
    An unknown digest and one in a namespace the caller cannot see get the same answer.
    ``require_source`` (``watch``): only a candidate whose statement shows its run was watched
    passes (``_source_check``).
    """
    if require_source is not None and require_source not in GATE_SOURCES:
        raise ValueError(f"require_source: expected one of {', '.join(GATE_SOURCES)}")
    algorithm, hex_value = parse_query(digest, "digest")
    normalized = f"{algorithm}:{hex_value}"
    required = tuple(dict.fromkeys(t for t in require_tasks if t))
    found = coverage(namespaces=namespaces, digest=normalized, namespace=namespace, scope=scope)
    chosen = {c.applies: c.sentence for c in found if c.applies is not None}
    set_aside = tuple(s for c in found for s in c.standings if s.role not in (APPLIES, SUPERSEDED))
    qs = Attestation.objects.filter(pk__in=list(chosen))
    attestations = list(with_chain_link(qs.select_related("run").defer("run__raw")).order_by("-id"))
    if not attestations:
        where = f" in namespace {namespace}" if namespace else ""
        kind = f" {scope}" if scope else ""
        return GateDecision(
            digest=normalized,
            allowed=False,
            reasons=(f"no current{kind} attestation names {normalized}{where}",),
            attestation=None,
            set_aside=set_aside,
        )
    ring = key_ring()
    candidates = []
    for attestation in attestations:
        reasons = _gate_check(attestation, algorithm, hex_value, required, ring, require_source)
        allowed = not reasons
        if allowed:
            reasons = [_allowed_reason(attestation, required, require_source)]
        candidates.append(
            GateCandidate(attestation, allowed, tuple(reasons), chosen[attestation.pk])
        )
    winner = next((c for c in candidates if c.allowed), None)
    if winner is not None:
        return GateDecision(
            digest=normalized,
            allowed=True,
            reasons=winner.reasons,
            attestation=winner.attestation.pk,
            candidates=tuple(candidates),
            set_aside=set_aside,
        )
    return GateDecision(
        digest=normalized,
        allowed=False,
        reasons=tuple(r for c in candidates for r in c.reasons),
        attestation=None,
        candidates=tuple(candidates),
        set_aside=set_aside,
    )


def _allowed_reason(
    attestation: Attestation, required: Sequence[str], require_source: str | None
) -> str:
    text = (
        f"attestation {attestation.pk} ({attestation.namespace}, {attestation.scope}) verifies "
        "and its recorded in-scope tasks all succeeded"
    )
    if required:
        text += f"; required tasks succeeded: {', '.join(required)}"
    if require_source:
        statement = read_statement(bytes(attestation.statement))
        text += f"; its run was watched ({_source_check(attestation, statement)[1]})"
    return text


def _gate_check(
    attestation: Attestation,
    algorithm: str,
    hex_value: str,
    required: Sequence[str],
    ring: KeyRing,
    require_source: str | None = None,
) -> list[str]:
    """Why this attestation does not allow the deployment (empty: it does)."""
    label = f"attestation {attestation.pk}"
    verdict = verify(attestation, ring)
    if not verdict.ok:
        return [
            f"{label} does not verify: {m.removeprefix(label + ': ')}" for m in verdict.messages
        ]
    try:
        statement = read_statement(bytes(attestation.statement))
    except StatementError as exc:
        return [f"{label}: {exc}"]
    if not statement.has_predicate:
        return [f"{label}: the signed statement has no predicate"]
    if not statement.names_digest(algorithm, hex_value):
        return [f"{label}: the signed statement does not name {algorithm}:{hex_value}"]
    if require_source:
        problems, _ = _source_check(attestation, statement)
        if problems:
            return [f"{label}: {p}" for p in problems]
    if statement.run_state is not None:
        return [f"{label}: {r}" for r in _run_state_reasons(statement.run_state, required)]
    run = attestation.run
    if attestation.scope == "per-artifact" and run.kind == RunKind.PIPELINE_RUN:
        return [f"{label}: a per-artifact statement without its run state"]
    reasons = []
    if attestation.run_status != "True":
        status = attestation.run_status or "none"
        reasons.append(f"the {run.kind}'s status at signing was {status}, not succeeded (True)")
    if run.kind == RunKind.PIPELINE_RUN and statement.is_v02:
        reasons.extend(_v02_task_reasons(statement, required))
    elif run.kind == RunKind.PIPELINE_RUN:
        reasons.extend(_child_record_reasons(run, required))
    else:
        task = run.definition or run.name
        names = {task, run.pipeline_task} - {""}
        reasons.extend(
            f"required task {name} is not this TaskRun's task ({task})"
            for name in required
            if name not in names
        )
    return [f"{label}: {r}" for r in reasons]


def _source_check(attestation: Attestation, statement: StatementView) -> tuple[list[str], str]:
    """Was the attestation's run watched (read from the cluster by watch_records)? Why not, and
    what says so. Only the signed statement is read for the answer, never the run's stored
    source (a database column):

    - a run state that records its ``source`` (per-artifact statements) answers directly;
    - otherwise the signed builder id does, when the namespace's settings the attestation was
      made under (its ``settings``) gave uploaded records a builder id of their own.
    """
    state_source = (statement.run_state or {}).get("source")
    if state_source is not None:
        if state_source != WATCHED:
            return [f"its signed run state records its source as {state_source!r}, not 'watch'"], ""
        return [], "its signed run state says so"
    made_under = attestation.settings if isinstance(attestation.settings, dict) else {}
    if "upload_builder_id" not in made_under:
        return [
            "it was signed before chainsweb told sources apart, and its statement does not say "
            "where its run came from"
        ], ""
    try:
        config = NamespaceConfig.from_values(made_under)
    except FormatError as exc:
        return [f"the settings it was made under cannot be read: {exc}"], ""
    if not config.sources_distinct:
        return [
            "its namespace signed uploaded records with the same builder id "
            f"({config.builder_id}), so its statement does not tell where its run came from"
        ], ""
    if statement.builder_id == config.upload_builder_id:
        return [
            f"it is signed with the upload builder id {statement.builder_id}: its run was "
            "uploaded or imported, not watched"
        ], ""
    if statement.builder_id != config.builder_id:
        return [
            f"its builder id {statement.builder_id!r} is not the one its namespace gave watched "
            f"records ({config.builder_id})"
        ], ""
    return [], f"its signed builder id {config.builder_id} is the one of watched records"


def _run_state_reasons(state: Mapping[str, Any], required: Sequence[str]) -> list[str]:
    """Per-artifact: every in-scope task succeeded, and each required task is recorded (in
    scope or not) as succeeded."""
    in_scope = [t for t in state.get("inScope") or [] if isinstance(t, dict)]
    excluded = [t for t in state.get("excluded") or [] if isinstance(t, dict)]
    if not in_scope:
        return ["the run state records no in-scope tasks"]
    reasons = [
        f"in-scope task {t.get('pipelineTask')} ({t.get('taskRun')}) has status "
        f"{t.get('status') or 'none'}, not succeeded (True)"
        for t in in_scope
        if t.get("status") != "True"
    ]
    for name in required:
        entries = [t for t in in_scope + excluded if t.get("pipelineTask") == name]
        if not entries:
            reasons.append(f"required task {name} is not recorded in the statement")
        elif any(t.get("status") != "True" or not t.get("taskRun") for t in entries):
            statuses = ", ".join(sorted({str(t.get("status") or "none") for t in entries}))
            reasons.append(f"required task {name} did not succeed (status {statuses})")
    return reasons


def _v02_task_reasons(statement: StatementView, required: Sequence[str]) -> list[str]:
    """Per-run SLSA v0.2: ``buildConfig.tasks[].status`` is Succeeded for every task."""
    if not statement.tasks:
        return ["the statement records no tasks (buildConfig.tasks)"]
    reasons = [
        f"task {t.name} has status {t.status or 'none'}, not Succeeded"
        for t in statement.tasks
        if t.status != "Succeeded"
    ]
    names = {t.name for t in statement.tasks}
    reasons.extend(
        f"required task {name} is not recorded in the statement"
        for name in required
        if name not in names
    )
    return reasons


def _child_record_reasons(run: RunRecord, required: Sequence[str]) -> list[str]:
    """Per-run SLSA v1.0 has no task status in the statement: the run's status at signing stands
    for its tasks, and required tasks are looked up among the run's stored TaskRuns."""
    if not required:
        return []
    children = list(run_children(run).values_list("pipeline_task", "status"))
    reasons = []
    for name in required:
        statuses = [status for task, status in children if task == name]
        if not statuses:
            reasons.append(f"required task {name} has no TaskRun in this PipelineRun")
        elif any(status != "True" for status in statuses):
            shown = ", ".join(sorted({s or "none" for s in statuses}))
            reasons.append(f"required task {name} did not succeed (status {shown})")
    return reasons
