"""Linking: which PipelineRun a TaskRun belongs to, whatever order they arrive in.

A TaskRun's parent is the PipelineRun of its own namespace named by its ``ownerReferences`` uid,
else by its ``tekton.dev/pipelineRun`` label (docs/backend.md). Every lookup names the namespace:
a TaskRun never joins a run of another namespace, whatever uid or name it gives.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from django.db import connection
from django.db.models import Q
from django.utils import timezone

from provenance.models import ComputeStatus, RunKind, RunRecord


@dataclass(frozen=True, slots=True)
class Stored:
    """What linking needs to know of a row this ingest wrote or found needing compute."""

    pk: int
    kind: str
    uid: str
    namespace: str
    name: str
    parent_uid: str
    parent_name: str


_ADOPT_CHILDREN = """
WITH by_uid AS (
    UPDATE provenance_runrecord SET compute_status = %(child)s, compute_reason = ''
    WHERE namespace = %(namespace)s AND parent_uid = %(uid)s AND kind = %(task_run)s
    AND compute_status <> %(child)s
    RETURNING 1
), by_label AS (
    UPDATE provenance_runrecord
    SET parent_uid = %(uid)s, compute_status = %(child)s, compute_reason = ''
    WHERE namespace = %(namespace)s AND parent_uid = '' AND parent_name = %(name)s
    AND kind = %(task_run)s
    RETURNING 1
)
SELECT 1  -- both UPDATEs run to completion whether or not their rows are read
"""


def link(touched: list[Stored]) -> set[int]:
    """Link parents and orphans; return the top-level runs to (re)compute."""
    to_compute: set[int] = set()
    children: list[Stored] = []
    # A TaskRun naming one of these PipelineRuns by uid is linked by that PipelineRun's UPDATE.
    linked_here = {(run.namespace, run.uid) for run in touched if run.kind == RunKind.PIPELINE_RUN}
    for run in touched:
        if run.kind == RunKind.PIPELINE_RUN:
            # Its children not yet marked as such (those inserted with it already are), and the
            # TaskRuns that arrived first naming it only by label: one statement, each UPDATE on
            # its own index. One UPDATE with an OR took a namespace-wide scan whenever the
            # planner's statistics lagged behind a growing table (bench/README.md, issue 16).
            with connection.cursor() as cursor:
                cursor.execute(
                    _ADOPT_CHILDREN,
                    {"namespace": run.namespace, "uid": run.uid, "name": run.name,
                     "task_run": RunKind.TASK_RUN, "child": ComputeStatus.CHILD},
                )  # fmt: skip
            to_compute.add(run.pk)
        elif (run.namespace, run.parent_uid) in linked_here:
            continue
        elif run.parent_uid or run.parent_name:
            children.append(run)
        else:
            to_compute.add(run.pk)  # a standalone TaskRun is its own top-level run
    parents = parents_of(children)
    adopted: dict[tuple[int, str], list[int]] = {}
    waiting: dict[str, list[int]] = {}
    for child in children:
        parent = parents.get(_parent_key(child))
        if parent is None:
            wanted = (
                f"PipelineRun {child.parent_name!r}"
                if child.parent_name
                else f"PipelineRun uid {child.parent_uid}"
            )
            waiting.setdefault(f"waiting for its {wanted} to be received", []).append(child.pk)
        else:
            adopted.setdefault((parent.pk, parent.uid), []).append(child.pk)
    for (parent_pk, parent_uid), pks in adopted.items():
        RunRecord.objects.filter(pk__in=pks).update(
            parent_uid=parent_uid, compute_status=ComputeStatus.CHILD, compute_reason=""
        )
        to_compute.add(parent_pk)
    now = timezone.now()
    for reason, pks in waiting.items():
        RunRecord.objects.filter(pk__in=pks).update(
            compute_status=ComputeStatus.WAITING, compute_reason=reason, compute_updated=now
        )
    return to_compute


class _ChildRow(Protocol):
    @property
    def namespace(self) -> str: ...
    @property
    def parent_uid(self) -> str: ...
    @property
    def parent_name(self) -> str: ...


def _parent_key(child: _ChildRow) -> tuple[str, str, str]:
    """A TaskRun's parent is the PipelineRun of its namespace with its parent's uid when known,
    else with its parent's name (the label)."""
    if child.parent_uid:
        return ("uid", child.namespace, child.parent_uid)
    return ("name", child.namespace, child.parent_name)


def parents_of(children: Iterable[_ChildRow]) -> dict[tuple[str, str, str], RunRecord]:
    """The stored PipelineRun of each child, by _parent_key, in at most two queries: by uid,
    and by name (the newest PipelineRun of that name, as a re-created run replaces the old);
    both in the child's namespace."""
    wanted: dict[tuple[str, str], set[str]] = {}
    for by, namespace, value in {_parent_key(child) for child in children}:
        wanted.setdefault((by, namespace), set()).add(value)
    runs = RunRecord.objects.filter(kind=RunKind.PIPELINE_RUN).defer("raw")
    found: dict[tuple[str, str, str], RunRecord] = {}
    by_uid = Q()
    names = Q()
    for (by, namespace), values in wanted.items():
        if by == "uid":
            by_uid |= Q(namespace=namespace, uid__in=values)
        else:
            names |= Q(namespace=namespace, name__in=values)
    if by_uid:
        found.update((("uid", run.namespace, run.uid), run) for run in runs.filter(by_uid))
    if names:
        newest = runs.filter(names).order_by("namespace", "name", "-first_seen", "-id")
        found.update(
            (("name", run.namespace, run.name), run) for run in newest.distinct("namespace", "name")
        )
    return found


def parent_of(record: RunRecord) -> RunRecord | None:
    return parents_of([record]).get(_parent_key(record))
