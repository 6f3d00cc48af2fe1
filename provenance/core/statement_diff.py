"""What changed between two signed statements, as a reader sees it.

Both statements are read with :func:`.statements.read_statement` (SLSA v0.2 or v1.0, per-run
or per-artifact, in any pair), and compared section by section: format and settings, builder,
run, subjects, tasks in scope and their status, materials (v0.2) or resolved dependencies
(v1.0), parameters. The raw JSON diff (a unified diff of the two documents, keys sorted) comes
with it, for what the sections leave out. Pure: the caller passes each statement's bytes and
the settings it was made under.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from .statements import Descriptor, StatementView, read_statement

ADDED = "added"
REMOVED = "removed"
CHANGED = "changed"


@dataclass(frozen=True, slots=True)
class Change:
    """One item that differs: its value before and after ("" when absent)."""

    item: str
    kind: str
    before: str
    after: str


@dataclass(frozen=True, slots=True)
class Section:
    """One part of the statements as a reader sees it; ``note`` says what it cannot compare."""

    key: str
    title: str
    changes: tuple[Change, ...]
    note: str = ""


@dataclass(frozen=True, slots=True)
class StatementDiff:
    sections: tuple[Section, ...]
    raw: tuple[str, ...]

    @property
    def changed(self) -> bool:
        return any(section.changes for section in self.sections)

    @property
    def unchanged(self) -> list[str]:
        """Titles of the sections with nothing to say (no change, no note)."""
        return [s.title for s in self.sections if not s.changes and not s.note]

    def as_json(self) -> dict[str, Any]:
        return {
            "changed": self.changed,
            "sections": [
                {
                    "key": s.key,
                    "title": s.title,
                    "note": s.note,
                    "changes": [
                        {"item": c.item, "kind": c.kind, "before": c.before, "after": c.after}
                        for c in s.changes
                    ],
                }
                for s in self.sections
            ],
            "raw_diff": "".join(self.raw),
        }


def statement_diff(
    before: bytes,
    after: bytes,
    *,
    before_settings: Mapping[str, Any] | None = None,
    after_settings: Mapping[str, Any] | None = None,
    labels: tuple[str, str] = ("before", "after"),
) -> StatementDiff:
    """The differences from ``before`` to ``after`` (each the exact signed statement bytes);
    StatementError when either is not JSON."""
    old, new = read_statement(before), read_statement(after)
    sections = (
        Section(
            "format",
            "Format and settings",
            _compare(
                {"predicate": old.predicate_label, **_settings(before_settings)},
                {"predicate": new.predicate_label, **_settings(after_settings)},
            ),
        ),
        Section(
            "builder",
            "Builder",
            _compare(
                {"builder id": old.builder_id, "build type": old.build_type},
                {"builder id": new.builder_id, "build type": new.build_type},
            ),
        ),
        Section("run", "Run", _compare(_run(old), _run(new))),
        Section("subjects", "Subjects", _compare(_named(old.subjects), _named(new.subjects))),
        _tasks_section(old, new),
        Section(
            "materials",
            "Materials and resolved dependencies",
            _compare(_named(old.materials, by_uri=True), _named(new.materials, by_uri=True)),
        ),
        Section(
            "parameters",
            "Parameters",
            _compare(_flatten(old.parameters), _flatten(new.parameters)),
        ),
    )
    return StatementDiff(sections, tuple(_raw_diff(old, new, labels)))


def _compare(before: Mapping[str, str], after: Mapping[str, str]) -> tuple[Change, ...]:
    changes = []
    for item in sorted({*before, *after}):
        old, new = before.get(item), after.get(item)
        if old == new:
            continue
        if old is None:
            changes.append(Change(item, ADDED, "", str(new)))
        elif new is None:
            changes.append(Change(item, REMOVED, old, ""))
        else:
            changes.append(Change(item, CHANGED, old, new))
    return tuple(changes)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def _settings(settings: Mapping[str, Any] | None) -> dict[str, str]:
    return {f"setting {name}": _text(value) for name, value in (settings or {}).items()}


def _run(view: StatementView) -> dict[str, str]:
    found = {
        "invocation id": view.invocation_id,
        "started": view.started,
        "finished": view.finished,
    }
    state = view.run_state or {}
    run = state.get("pipelineRun")
    if isinstance(run, dict):
        found["run status when signed"] = _status(run.get("status"), run.get("reason"))
    if state.get("emit"):
        found["emit"] = _text(state.get("emit"))
    return {k: v for k, v in found.items() if v}


def _status(status: Any, reason: Any) -> str:
    text = {"True": "succeeded", "False": "failed", "Unknown": "running"}.get(
        str(status), str(status or "none")
    )
    return f"{text} ({reason})" if reason else text


def _digests(descriptor: Descriptor) -> str:
    return ", ".join(f"{a}:{h}" for a, h in descriptor.digests) or "no digest"


def _named(descriptors: Iterable[Descriptor], *, by_uri: bool = False) -> dict[str, str]:
    """Name (or, for materials, URI) → its digests; entries of one key are merged. Materials go
    by URI alone: SLSA v1.0 names its dependencies (``pipelineTask``, ``inputs/result``) where
    v0.2 does not, and the same source at the same digest is no change."""
    found: dict[str, set[str]] = {}
    for d in descriptors:
        key = d.uri if by_uri else d.name
        found.setdefault(key, set()).add(_digests(d))
    return {key: "; ".join(sorted(values)) for key, values in found.items()}


def _tasks(view: StatementView) -> dict[str, str] | None:
    """Task → its status and whether it is in scope, as the statement records them (None: it
    records no task list)."""
    state = view.run_state
    if state is not None:
        found = {}
        for entry in state.get("inScope") or []:
            if isinstance(entry, dict):
                found[str(entry.get("pipelineTask"))] = (
                    f"{_status(entry.get('status'), entry.get('reason'))}, in scope"
                )
        for entry in state.get("excluded") or []:
            if isinstance(entry, dict):
                status = (
                    _status(entry.get("status"), entry.get("reason"))
                    if entry.get("taskRun")
                    else str(entry.get("reason") or "not run")
                )
                found[str(entry.get("pipelineTask"))] = f"{status}, not in scope"
        return found
    if view.tasks is not None:
        return {t.name: f"{t.status or 'none'}, in scope" for t in view.tasks}
    return None


def _tasks_section(old: StatementView, new: StatementView) -> Section:
    before, after = _tasks(old), _tasks(new)
    title = "Tasks in scope and their status"
    if before is None and after is None:
        note = (
            "Neither statement records its tasks (a SLSA v1.0 per-run statement covers every "
            "task of its run without listing them)."
        )
        return Section("tasks", title, (), note)
    note = ""
    if before is None or after is None:
        note = (
            "Only one of the statements lists its tasks; the other (SLSA v1.0 per-run) covers "
            "every task of its run without listing them."
        )
    return Section("tasks", title, _compare(before or {}, after or {}), note)


def _flatten(value: Any, path: str = "") -> dict[str, str]:
    """A JSON value as path → leaf text; lists of ``{"name": ...}`` objects (Tekton params)
    are keyed by name, so a reordering is no change."""
    if isinstance(value, dict) and value:
        found: dict[str, str] = {}
        for key in sorted(value):
            found.update(_flatten(value[key], f"{path}.{key}" if path else str(key)))
        return found
    if isinstance(value, list) and value:
        named = all(isinstance(v, dict) and isinstance(v.get("name"), str) for v in value)
        names = [v["name"] for v in value] if named else []
        found = {}
        for index, item in enumerate(value):
            if named and names.count(item["name"]) == 1:
                rest = {k: v for k, v in item.items() if k != "name"}
                inner = rest["value"] if set(rest) == {"value"} else rest
                found.update(_flatten(inner, f"{path}[{item['name']}]"))
            else:
                found.update(_flatten(item, f"{path}[{index}]"))
        return found
    if value is None and not path:
        return {}
    return {path or "(value)": _text(value)}


def _raw_diff(old: StatementView, new: StatementView, labels: tuple[str, str]) -> list[str]:
    def lines(view: StatementView) -> list[str]:
        text = orjson.dumps(view.document, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
        return [line + "\n" for line in text.decode().splitlines()]

    return list(difflib.unified_diff(lines(old), lines(new), labels[0], labels[1], n=3))
