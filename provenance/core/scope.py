"""Per-artifact scope and statements for PipelineRuns (the seed's goals 2 and 3).

An artifact's *producers* are the TaskRuns whose results (or step results) name it, or, for a
pipeline-level result, the tasks its ``$(tasks.X.results.Y)`` value points to. Its *scope* is the
producers, all their ancestors over ``runAfter`` and result-reference edges, and every TaskRun
that could have written a workspace a contributor mounted before that contributor finished
(with its own ancestors), repeated until nothing changes. When unsure, a task is included, and
every inclusion carries the chain of edges that put it there.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

from .graph import RESULT_REF, RunGraph, build_graph, started_before_finished
from .hints import (
    ARTIFACT_DIGEST,
    ARTIFACT_OUTPUTS,
    IMAGE_DIGEST,
    IMAGES,
    Artifact,
    artifact_uri_pairs,
    images,
    structured_artifacts,
)
from .intoto import Statement
from .slsa import v02, v1
from .slsa._common import pipeline_subjects
from .slsa.config import SlsaConfig
from .statements import RUN_STATE_KEY, run_state_home
from .tekton import PipelineRun, Result

PER_ARTIFACT_BUILD_TYPE_V1 = "https://chainsweb.dev/buildtypes/tekton-per-artifact/v1"
PER_ARTIFACT_BUILD_TYPE_V02 = "https://chainsweb.dev/buildtypes/tekton-per-artifact/v0.2"
_json_of = attrgetter("json")  # map() with it beats a comprehension over every excluded task

DigestPair = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Producer:
    task_run: str
    pipeline_task: str
    result: str  # the result (or "step/result") that names the artifact


@dataclass(frozen=True, slots=True)
class Inclusion:
    task_run: str
    pipeline_task: str
    why: str  # the one edge that put this task in: from it to ``via``
    # The in-scope TaskRun that edge leads to (None for a producer). Each task names only its
    # next step, so a scope costs O(tasks) rather than a whole chain per task (docs/security.md,
    # "Bounded work"); ``ArtifactScope.chain`` follows the links.
    via: str | None = None


@dataclass(frozen=True, slots=True)
class Exclusion:
    pipeline_task: str
    task_run: str | None
    status: str
    reason: str
    why: str
    # The run-state entry, built once: every statement of the run shares the same object.
    json: dict[str, Any] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        entry = {
            "pipelineTask": self.pipeline_task,
            "taskRun": self.task_run,
            "status": self.status,
            "reason": self.reason,
            "why": self.why,
        }
        object.__setattr__(self, "json", entry)


@dataclass(frozen=True, slots=True)
class ArtifactScope:
    """One artifact (all subject entries sharing a digest) and the tasks behind it."""

    subjects: tuple[dict[str, Any], ...]
    producers: tuple[Producer, ...]
    included: tuple[Inclusion, ...]
    excluded: tuple[Exclusion, ...]

    @property
    def multiple_producers(self) -> bool:
        return len({p.task_run for p in self.producers}) > 1

    @property
    def task_runs(self) -> set[str]:
        return {i.task_run for i in self.included}

    def chains(self) -> dict[str, tuple[str, ...]]:
        """Per in-scope TaskRun, the edges from it to the artifact, ending with the producing
        result (for showing one artifact: a chain pipeline makes this quadratic in its tasks)."""
        by_run = {i.task_run: i for i in self.included}
        found: dict[str, tuple[str, ...]] = {}
        for inclusion in self.included:  # breadth-first order: a task's ``via`` came before it
            rest = found.get(inclusion.via, ()) if inclusion.via in by_run else ()
            found[inclusion.task_run] = (inclusion.why, *rest)
        return found


# --- producers ---------------------------------------------------------------------------------


def _hint_pairs(results: Iterable[Result]) -> dict[DigestPair, list[str]]:
    """(alg, hex) -> names of the hint results that name it, for one list of results."""
    listed = list(results)
    artifacts: list[Artifact] = [
        *images(listed),
        *artifact_uri_pairs(listed),
        *structured_artifacts(listed, ARTIFACT_OUTPUTS),
    ]
    found: dict[DigestPair, list[str]] = {}
    for artifact in artifacts:
        names = [r.name for r in listed if _is_digest_hint(r) and artifact.hex in _text(r)]
        found.setdefault((artifact.algorithm.lower(), artifact.hex), []).extend(names or ["?"])
    return found


def _is_digest_hint(result: Result) -> bool:
    name = result.name
    return (
        name.endswith(IMAGE_DIGEST)
        or name.endswith(ARTIFACT_DIGEST)
        or name.endswith(ARTIFACT_OUTPUTS)
        or name == IMAGES
    )


def _text(result: Result) -> str:
    if isinstance(result.value, dict):
        return result.value.get("digest", "")
    if isinstance(result.value, list):
        return " ".join(result.value)
    return result.value


def _producer_index(pr: PipelineRun, graph: RunGraph) -> dict[DigestPair, list[Producer]]:
    index: dict[DigestPair, list[Producer]] = {}
    for tr in pr.task_runs:
        node = graph.nodes.get(tr.name)
        if node is None:
            continue
        sources: list[tuple[str, Iterable[Result]]] = [("", tr.meta.results)]
        sources.extend((f"{step.name}/", step.results) for step in tr.steps)
        for prefix, results in sources:
            for pair, names in _hint_pairs(results).items():
                for name in dict.fromkeys(names):
                    index.setdefault(pair, []).append(
                        Producer(tr.name, node.pipeline_task, prefix + name)
                    )
    return index


@dataclass(frozen=True, slots=True)
class _PipelineHint:
    """A pipeline result that is a digest hint, with the task results its value references."""

    result: Result
    text: str  # where its digests are written
    references: tuple[tuple[str, str], ...]  # (pipeline task, result)


class _PipelineHints:
    """The declared pipeline results worth tracing, read once per run. Their texts are also
    joined, so that finding the ones that name a digest is one ``str.find`` scan rather than a
    test per result for every artifact."""

    __slots__ = ("_joined", "_starts", "hints")

    def __init__(self, pr: PipelineRun) -> None:
        values = {r.name: r for r in pr.meta.results}
        self.hints: list[_PipelineHint] = []
        for declared in (pr.pipeline_spec or {}).get("results") or []:
            if not isinstance(declared, dict):
                continue
            result = values.get(str(declared.get("name", "")))
            if result is None or not _is_digest_hint(result):
                continue
            references = tuple(RESULT_REF.findall(str(declared.get("value", ""))))
            self.hints.append(_PipelineHint(result, _text(result), references))
        self._joined = "\0".join(h.text for h in self.hints)
        self._starts: list[int] = []
        start = 0
        for hint in self.hints:
            self._starts.append(start)
            start += len(hint.text) + 1

    def containing(self, hex_: str) -> list[int]:
        """Positions of the hints whose text contains ``hex_``, in order."""
        if not hex_ or "\0" in hex_:
            # Could match at or across the separators: test each text.
            return [position for position, h in enumerate(self.hints) if hex_ in h.text]
        found = []
        offset = self._joined.find(hex_)
        while offset != -1:
            position = bisect_right(self._starts, offset) - 1
            found.append(position)
            if position + 1 == len(self._starts):
                break
            offset = self._joined.find(hex_, self._starts[position + 1])
        return found


def _pipeline_result_producers(
    graph: RunGraph,
    hints: _PipelineHints,
    pairs: set[DigestPair],
    index: dict[DigestPair, list[Producer]],
) -> list[Producer]:
    """Trace pipeline-level hint results to the tasks their values reference."""
    matching: set[int] = set()
    for _, hex_ in pairs:
        matching.update(hints.containing(hex_))
    found: list[Producer] = []
    for position in sorted(matching):
        hint = hints.hints[position]
        for task, task_result in hint.references:
            runs = graph.by_task.get(task, ())
            direct = {
                p.task_run for pair in pairs for p in index.get(pair, []) if p.pipeline_task == task
            }
            for node in runs:
                if not direct or node.task_run in direct:
                    found.append(
                        Producer(
                            node.task_run,
                            task,
                            f"{task_result} (pipeline result {hint.result.name})",
                        )
                    )
    return found


# --- scope -------------------------------------------------------------------------------------


def artifact_scopes(
    pr: PipelineRun, cfg: SlsaConfig, graph: RunGraph | None = None
) -> list[ArtifactScope]:
    """Every artifact the per-run statement would name under ``cfg``, with its scope."""
    graph = graph or build_graph(pr)
    index = _producer_index(pr, graph)
    hints = _PipelineHints(pr)
    exclusions = _exclusions(graph)
    scopes = []
    walk = [tr for _, tr in pr.executed_task_runs()]
    for subjects in _group_by_digest(pipeline_subjects(pr, cfg, walk).entries):
        pairs = {(alg.lower(), hex_) for s in subjects for alg, hex_ in s["digest"].items()}
        producers = [p for pair in sorted(pairs) for p in index.get(pair, [])]
        producers += _pipeline_result_producers(graph, hints, pairs, index)
        producers = list(dict.fromkeys(producers))
        scopes.append(_close_scope(graph, exclusions, tuple(subjects), tuple(producers)))
    return scopes


def _group_by_digest(subjects: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    groups: list[list[dict[str, Any]]] = []
    by_pair: dict[tuple[str, str], int] = {}
    for subject in subjects:
        pairs = [(a.lower(), h) for a, h in subject["digest"].items()]
        hit = next((by_pair[p] for p in pairs if p in by_pair), None)
        if hit is None:
            hit = len(groups)
            groups.append([])
        groups[hit].append(subject)
        for pair in pairs:
            by_pair.setdefault(pair, hit)
    return groups


@dataclass(frozen=True, slots=True)
class _Exclusions:
    """How each task reads when it is out of a scope; the same for every artifact of a run,
    so it is built once (and shared by every statement's run state)."""

    of_nodes: tuple[Exclusion, ...]  # in graph.nodes order
    positions: dict[str, int]  # TaskRun name -> its place in of_nodes
    not_run: tuple[Exclusion, ...]

    def without(self, included: Iterable[str]) -> tuple[Exclusion, ...]:
        """Every exclusion but the included TaskRuns': slices between the few included ones
        cost far less than testing each of the run's tasks."""
        excluded: list[Exclusion] = []
        start = 0
        for position in sorted(self.positions[name] for name in included):
            excluded += self.of_nodes[start:position]
            start = position + 1
        excluded += self.of_nodes[start:]
        excluded += self.not_run
        return tuple(excluded)


def _exclusions(graph: RunGraph) -> _Exclusions:
    by_node = {
        node.task_run: Exclusion(
            node.pipeline_task,
            node.task_run,
            node.status,
            node.reason,
            "finally task that does not produce the artifact"
            if node.is_finally
            else "no runAfter, result or workspace path to the artifact",
        )
        for node in graph.nodes.values()
    }
    not_run = tuple(
        Exclusion(task, None, "", state, f"did not run ({state})") for task, state in graph.not_run
    )
    return _Exclusions(
        tuple(by_node.values()), {name: i for i, name in enumerate(by_node)}, not_run
    )


def _close_scope(
    graph: RunGraph,
    exclusions: _Exclusions,
    subjects: tuple[dict[str, Any], ...],
    producers: tuple[Producer, ...],
) -> ArtifactScope:
    why: dict[str, tuple[str, str | None]] = {}  # TaskRun -> (its edge, the task it leads to)
    queue: deque[str] = deque()

    def include(task_run: str, step: str, via: str | None = None) -> None:
        if task_run not in why:
            why[task_run] = (step, via)
            queue.append(task_run)

    if producers:
        for producer in producers:
            include(producer.task_run, f"produces the artifact (result {producer.result})")
    else:
        # Nothing names the artifact (a literal pipeline result, a missing child): keep all.
        for node in graph.nodes.values():
            include(node.task_run, "no producing task could be identified: every task is kept")

    # One pass: each contributor is visited once, for its incoming edges and its workspaces.
    # Writers of a workspace are sorted by start time, so for each (workspace, subPath,
    # finally?) view a cursor only moves forward: a writer checked against one contributor's
    # completion time never needs checking again for a later bound. That keeps the closure
    # linear in tasks + edges + mounts for each artifact.
    cursors: dict[tuple[str, str, bool], int] = {}
    while queue:
        current = queue.popleft()
        node = graph.nodes[current]
        for edge in graph.incoming.get(current, ()):
            if edge.kind == "result":
                step = f"feeds {node.pipeline_task}: {edge.detail}"
            else:
                step = f"runs before {node.pipeline_task} (runAfter)"
            include(edge.source, step, current)
        for mount in node.mounts:
            # Only overlapping writers: start times are sorted, so skipping the others does not
            # change where the cursor stops.
            writers = graph.overlapping_writers(mount)
            key = (mount.workspace, mount.sub_path, node.is_finally)
            position = cursors.get(key, 0)
            while position < len(writers):
                writer, _ = writers[position]
                if not started_before_finished(writer, node):
                    break
                position += 1
                if writer.task_run in why:
                    continue
                if writer.is_finally and not node.is_finally:
                    continue  # finally tasks start after every DAG task has finished
                step = (
                    f"may have written workspace '{mount.workspace}' before "
                    f"{node.pipeline_task} finished (shared, writable)"
                )
                include(writer.task_run, step, current)
            cursors[key] = position

    included = tuple(
        Inclusion(name, graph.nodes[name].pipeline_task, step, via)
        for name, (step, via) in why.items()
    )
    return ArtifactScope(subjects, producers, included, exclusions.without(why))


# --- statements --------------------------------------------------------------------------------


def run_state(
    pr: PipelineRun, scope: ArtifactScope, emit: str, graph: RunGraph, source: str | None = None
) -> dict[str, Any]:
    """What the run looked like when the statement was made (documented in
    docs/provenance-format.md); ``source``, when given, is how its records came."""
    succeeded = pr.meta.succeeded
    state: dict[str, Any] = {
        "pipelineRun": {
            "name": pr.name,
            "namespace": pr.meta.namespace,
            "uid": pr.meta.uid,
            "status": succeeded.status if succeeded else "",
            "reason": succeeded.reason if succeeded else "",
        },
        "emit": emit,
        "producers": [
            {"pipelineTask": p.pipeline_task, "taskRun": p.task_run, "result": p.result}
            for p in scope.producers
        ],
        "multipleProducers": scope.multiple_producers,
        "inScope": [
            {
                "pipelineTask": i.pipeline_task,
                "taskRun": i.task_run,
                "status": graph.nodes[i.task_run].status,
                "reason": graph.nodes[i.task_run].reason,
                "why": i.why,
                "via": i.via,
            }
            for i in scope.included
        ],
        "excluded": list(map(_json_of, scope.excluded)),
    }
    if source is not None:
        state["source"] = source
    return state


PipelineStatements = v02.PipelineRunStatements | v1.PipelineRunStatements


def pipeline_statements(pr: PipelineRun, cfg: SlsaConfig) -> PipelineStatements:
    """The statement builder for ``pr`` under ``cfg``: make one per run and pass it to every
    :func:`per_artifact_statement`, so the parts all statements share are built once."""
    return v02.PipelineRunStatements(pr, cfg) if cfg.is_v02 else v1.PipelineRunStatements(pr, cfg)


def per_artifact_statement(
    pr: PipelineRun,
    cfg: SlsaConfig,
    scope: ArtifactScope,
    emit: str,
    graph: RunGraph,
    statements: PipelineStatements | None = None,
    source: str | None = None,
) -> Statement:
    """One statement whose subject is this artifact only, built from its in-scope tasks."""
    state = run_state(pr, scope, emit, graph, source)
    base = (statements or pipeline_statements(pr, cfg)).statement(scope.task_runs)
    predicate = base["predicate"]
    if cfg.is_v02:
        predicate["buildType"] = PER_ARTIFACT_BUILD_TYPE_V02
    else:
        predicate["buildDefinition"]["buildType"] = PER_ARTIFACT_BUILD_TYPE_V1
    run_state_home(predicate, cfg.is_v02)[RUN_STATE_KEY] = state
    return {
        "_type": base["_type"],
        "subject": [dict(s) for s in scope.subjects],
        "predicateType": base["predicateType"],
        "predicate": predicate,
    }


def explain_scopes(pr: PipelineRun, scopes: list[ArtifactScope], graph: RunGraph) -> str:
    """A readable table per artifact: in-scope tasks and why, then the excluded tasks."""
    lines: list[str] = []
    for scope in scopes:
        names = ", ".join(str(s.get("name")) for s in scope.subjects)
        digest = ", ".join(f"{a}:{h}" for a, h in scope.subjects[0]["digest"].items())
        lines.append(f"artifact {names} ({digest}) in PipelineRun {pr.name}")
        if scope.multiple_producers:
            lines.append("  several producers: the scope is the union of theirs")
        lines.append("  in scope:")
        width = max(
            (
                len(t)
                for t in [
                    *(i.pipeline_task for i in scope.included),
                    *(e.pipeline_task for e in scope.excluded),
                ]
            ),
            default=4,
        )
        for inclusion in scope.included:
            node = graph.nodes[inclusion.task_run]
            state = f"{node.status or '?'}/{node.reason or '-'}"
            lines.append(
                f"    {inclusion.pipeline_task:<{width}}  {state:<18}  {inclusion.why}"
                + (f" ← {inclusion.via}" if inclusion.via else "")
            )
        lines.append("  excluded:")
        if not scope.excluded:
            lines.append("    (none)")
        for exclusion in scope.excluded:
            state = f"{exclusion.status or '-'}/{exclusion.reason or '-'}"
            lines.append(f"    {exclusion.pipeline_task:<{width}}  {state:<18}  {exclusion.why}")
    return "\n".join(lines)
