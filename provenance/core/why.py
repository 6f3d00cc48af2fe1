"""Why a task is in an artifact's scope, as a path a reader can follow.

A run state (docs/provenance-format.md) gives each in-scope task one step — its own edge
towards the artifact — and ``leadsTo``, the TaskRun that edge leads to (none for a producer).
Following ``leadsTo`` from a task gives its path to the artifact; each step after the first is
said of the task it is about, so ``clone`` reads "feeds build-push: … → build-push produces
the artifact (result IMAGE_DIGEST)" and never looks like the producer. The CLI's ``--explain``,
the run page and the attestation page all print paths through :func:`why_text`.

Statements signed before ``leadsTo`` existed (run state v1) hold the whole chain as a list of
steps without the tasks they are about; the task each later step is about is the one the step
before it names, which is how we wrote those steps, so they read the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# The three edges a v1 chain step can be, naming the pipeline task it leads to (scope.py wrote
# them in these words).
_V1_NEXT_TASK = re.compile(
    r"^(?:feeds (?P<result>[^\s:]+):"
    r"|runs before (?P<order>\S+) \(runAfter\)"
    r"|may have written workspace '.*' before (?P<workspace>\S+) finished)"
)


@dataclass(frozen=True, slots=True)
class WhyStep:
    """One edge of a path: ``task`` (the pipeline task it is said of) ``reason``."""

    task: str
    reason: str


def why_path(entry: Mapping[str, Any], in_scope: Iterable[Any]) -> tuple[WhyStep, ...]:
    """The path from the in-scope ``entry`` to the artifact, through the other ``in_scope``
    entries of the same run state (either shape; anything malformed ends the path)."""
    return _follow(entry, _by_task_run(in_scope))


def paths_by_task_run(in_scope: Iterable[Any]) -> dict[str, tuple[WhyStep, ...]]:
    """Every in-scope entry's path, by its TaskRun (the entries indexed once, not per entry)."""
    entries = [e for e in in_scope if isinstance(e, Mapping) and e.get("taskRun")]
    index = _by_task_run(entries)
    return {str(e["taskRun"]): _follow(e, index) for e in entries}


def _by_task_run(in_scope: Iterable[Any]) -> dict[str, Mapping[str, Any]]:
    return {
        str(other.get("taskRun")): other
        for other in in_scope
        if isinstance(other, Mapping) and other.get("taskRun")
    }


def _follow(
    entry: Mapping[str, Any], by_task_run: Mapping[str, Mapping[str, Any]]
) -> tuple[WhyStep, ...]:
    task = str(entry.get("pipelineTask") or "")
    why = entry.get("why")
    if isinstance(why, list):
        return _v1_path(task, [str(step) for step in why])
    steps = [WhyStep(task, str(why or ""))]
    seen = {str(entry.get("taskRun"))}
    following = entry.get("leadsTo")
    while isinstance(following, str) and following in by_task_run and following not in seen:
        seen.add(following)
        other = by_task_run[following]
        steps.append(WhyStep(str(other.get("pipelineTask") or ""), str(other.get("why") or "")))
        following = other.get("leadsTo")
    return tuple(steps)


def _v1_path(task: str, chain: list[str]) -> tuple[WhyStep, ...]:
    steps = []
    for reason in chain:
        steps.append(WhyStep(task, reason))
        named = _V1_NEXT_TASK.match(reason)
        task = next((t for t in named.groups() if t), "") if named else ""
    return tuple(steps)


def why_text(path: Iterable[WhyStep]) -> str:
    """The path in one line: the task's own step, then "→ <task> <step>" for each next one."""
    steps = list(path)
    if not steps:
        return ""
    first, rest = steps[0], steps[1:]
    return " → ".join([first.reason, *(f"{s.task} {s.reason}".strip() for s in rest)])


@dataclass(frozen=True, slots=True)
class ProducerRead:
    """A producing TaskRun of a run state and every result it names the artifact through."""

    task: str
    task_run: str
    results: tuple[str, ...]


def read_producers(producers: Any) -> tuple[ProducerRead, ...]:
    """A run state's ``producers``, each TaskRun once: v2 lists ``results``; v1 (statements
    signed before) repeated the TaskRun once per ``result``, so those are merged here."""
    merged: dict[str, ProducerRead] = {}
    for entry in producers if isinstance(producers, list) else ():
        if not isinstance(entry, Mapping):
            continue
        task_run = str(entry.get("taskRun") or "")
        found = entry.get("results")
        results = [str(r) for r in found] if isinstance(found, list) else [str(entry.get("result"))]
        known = merged.get(task_run)
        if known is not None:
            results = list(dict.fromkeys((*known.results, *results)))
        task = known.task if known else str(entry.get("pipelineTask") or "")
        merged[task_run] = ProducerRead(task, task_run, tuple(results))
    return tuple(merged.values())
