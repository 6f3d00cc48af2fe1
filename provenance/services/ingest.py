"""Ingest: validate run records with the engine and store them, one transaction per batch.

See docs/backend.md, "Ingest", for the order of the steps and the resourceVersion rule, and
docs/security.md, "Namespace identity and record source", for why a run is identified by its
namespace and uid and why every stored version records how it came.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import zlib
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from datetime import UTC, datetime
from typing import Any

import orjson
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import JSONField, Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from psycopg.types.json import Jsonb

from provenance.config import MAX_NAMESPACE, NAMESPACE_NAME
from provenance.core.documents import load_documents
from provenance.core.errors import ProvenanceError, RecordError
from provenance.core.limits import TooLarge
from provenance.core.tekton import PipelineRun, parse_records
from provenance.models import ComputeStatus, RunKind, RunRecord, SourceKind

from . import queue
from .limits import engine_limits
from .linking import Stored, link

PIPELINE_RUN_LABEL = "tekton.dev/pipelineRun"
PIPELINE_TASK_LABEL = "tekton.dev/pipelineTask"
# metadata.name: a DNS subdomain's length, the RunRecord.name column's size.
MAX_NAME = 253


class NamespaceForbidden(Exception):
    """A record (or request) names a namespace the caller may not write to."""

    def __init__(self, namespace: str) -> None:
        super().__init__(f"this token may not write to namespace {namespace!r}")
        self.namespace = namespace


class UidConflict(ProvenanceError):
    """A record whose uid is stored for a run of another namespace: refused, whole request.

    The message names the record and its uid as the caller sent them, never the other
    namespace or anything of its run."""

    def __init__(self, kind: str, name: str, uid: str) -> None:
        super().__init__(
            f"{kind} {name!r}: uid {uid} is already stored for a run of another namespace; "
            "a run is identified by its namespace and uid, and one uid cannot be stored twice"
        )
        self.uid = uid


def _os_user() -> str:
    """The operating-system user of this process (its uid when it has no name)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}"


# What a source's details may hold, each value a string of at most this many characters.
MAX_SOURCE_DETAIL = 300


@dataclass(frozen=True, slots=True)
class RecordSource:
    """How a batch of records came: ``kind`` (``models.SourceKind``) and who or what sent it.

    Stored on every row the batch writes (``source_kind``, ``source_detail``) and shown on run
    pages and in the API as ``{"kind": ..., **details}``. Make one with ``watch``, ``api`` or
    ``imported``.
    """

    kind: str
    details: tuple[tuple[str, str], ...] = ()

    @classmethod
    def watch(cls, *, cluster: str, watcher: str) -> RecordSource:
        """Read from a cluster by ``watch_records``: the cluster's name, the watcher's identity
        (its ServiceAccount or kubeconfig user)."""
        return cls._of(SourceKind.WATCH, cluster=cluster, watcher=watcher)

    @classmethod
    def api(cls, *, token: str | None = None, user: str | None = None) -> RecordSource:
        """Posted to the API with a token (its name) or a signed-in session (the user)."""
        return cls._of(SourceKind.API, token=token, user=user)

    @classmethod
    def imported(
        cls, *, file: str, command: str = "import_records", user: str | None = None
    ) -> RecordSource:
        """Read from a file by a command run on the server; ``user``: who ran it (default: this
        process's operating-system user)."""
        return cls._of(SourceKind.IMPORT, user=user or _os_user(), file=file, command=command)

    @classmethod
    def _of(cls, kind: str, **details: str | None) -> RecordSource:
        kept = tuple(
            (name, str(value)[:MAX_SOURCE_DETAIL]) for name, value in details.items() if value
        )
        return cls(kind=str(kind), details=kept)

    def detail(self) -> dict[str, str]:
        return dict(self.details)


@dataclass(frozen=True, slots=True)
class IngestedRecord:
    kind: str
    namespace: str
    name: str
    uid: str
    # created | updated | unchanged | pruned (a run whose raw record was pruned, or a TaskRun
    # of one: not stored, nothing recomputed; docs/operations.md, "Retention")
    outcome: str


@dataclass(frozen=True, slots=True)
class IngestResult:
    records: tuple[IngestedRecord, ...]
    enqueued: tuple[int, ...] = ()

    def count(self, outcome: str) -> int:
        return sum(1 for r in self.records if r.outcome == outcome)


@dataclass(frozen=True, slots=True)
class _Prepared:
    kind: str
    uid: str
    namespace: str
    name: str
    resource_version: str
    raw_json: bytes
    raw_sha256: str
    status: str
    reason: str
    start_time: datetime | None
    completion_time: datetime | None
    labels: dict[str, str]
    definition: str
    pipeline_task: str
    parent_uid: str
    parent_name: str


def _label(obj: dict[str, Any], index: int) -> str:
    """How an error names an object: its position, kind and name (cut short)."""
    metadata = obj.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    if not isinstance(name, str) or not name:
        return f"object {index + 1}"
    shown = name if len(name) <= 80 else name[:80] + "…"
    return f"object {index + 1} ({obj.get('kind')} {shown!r})"


def _utc_time(value: str | None, field: str, label: str) -> datetime | None:
    """A record's time as the row stores it (UTC). A time whose offset takes it out of the
    years a datetime holds (``9999-12-31T23:59:59-05:00``) is a RecordError naming the field,
    as the engine reports it, never an OverflowError."""
    if not value:
        return None
    try:
        parsed = parse_datetime(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None:
        return None  # not a time: the engine refuses it, naming the field
    try:
        return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except OverflowError:
        raise RecordError(
            f"{label}: {field} is out of range once converted to UTC: {value!r}"
        ) from None


def _prepare(obj: dict[str, Any], index: int) -> _Prepared:
    """Validate one object with the engine and pull out what the row stores."""
    label = _label(obj, index)
    status = obj.get("status")
    if isinstance(status, dict):
        # Checked before the engine parses them, so the error names the field.
        for field in ("startTime", "completionTime"):
            _utc_time(status.get(field) or "", f"status.{field}", label)
    runs = parse_records([obj])  # RecordError names the problem
    kind = str(obj.get("kind"))
    run = next(r for r in runs if r.meta.kind == kind)
    if isinstance(run, PipelineRun):
        engine_limits().check_tasks(len(run.child_references), f"{label}: childReferences")
    meta = run.meta
    for field_name, value in (("name", meta.name), ("namespace", meta.namespace)):
        if not value:
            raise RecordError(f"{label}: metadata.{field_name} is missing")
    if len(meta.name) > MAX_NAME:
        raise RecordError(
            f"{label}: metadata.name is too long ({len(meta.name)} characters; "
            f"a Kubernetes name has at most {MAX_NAME})"
        )
    _check_namespace(meta.namespace, label)
    if not meta.uid:
        raise RecordError(f"{label}: metadata.uid is missing (records are keyed by uid)")
    if len(meta.uid) > 128 or len(meta.resource_version) > 64:
        raise RecordError(f"{label}: metadata.uid or resourceVersion is too long")
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    assert isinstance(spec, dict)
    ref_key, label_key = (
        ("pipelineRef", "tekton.dev/pipeline")
        if kind == "PipelineRun"
        else ("taskRef", "tekton.dev/task")
    )
    ref = spec.get(ref_key)
    definition = (ref.get("name") if isinstance(ref, dict) else None) or meta.labels.get(
        label_key, ""
    )
    parent_uid = ""
    parent_name = ""
    if kind == "TaskRun":
        owners = [
            o
            for o in ((obj.get("metadata") or {}).get("ownerReferences") or [])
            if isinstance(o, dict) and o.get("kind") == "PipelineRun" and o.get("uid")
        ]
        if owners:
            parent_uid = str(owners[0]["uid"])
            parent_name = str(owners[0].get("name") or "")
        parent_name = meta.labels.get(PIPELINE_RUN_LABEL, "") or parent_name
    raw_json = orjson.dumps(obj)
    succeeded = meta.succeeded
    return _Prepared(
        kind=kind,
        uid=meta.uid,
        namespace=meta.namespace,
        name=meta.name,
        resource_version=meta.resource_version,
        raw_json=raw_json,
        raw_sha256=hashlib.sha256(raw_json).hexdigest(),
        status=succeeded.status if succeeded else "",
        reason=(succeeded.reason if succeeded else "")[:253],
        start_time=_utc_time(meta.start_time, "status.startTime", label),
        completion_time=_utc_time(meta.completion_time, "status.completionTime", label),
        labels=meta.labels,
        definition=str(definition)[:253],
        pipeline_task=meta.labels.get(PIPELINE_TASK_LABEL, "")[:253],
        parent_uid=parent_uid,
        parent_name=parent_name[:253],
    )


def _check_namespace(namespace: str, label: str) -> None:
    """Namespaces are identities (tokens, grants, settings are per namespace): only what
    Kubernetes accepts as a namespace name, an RFC 1123 label, is stored."""
    if len(namespace) > MAX_NAMESPACE:
        raise RecordError(
            f"{label}: metadata.namespace is too long ({len(namespace)} characters; "
            f"a Kubernetes namespace name has at most {MAX_NAMESPACE})"
        )
    if not NAMESPACE_NAME.fullmatch(namespace):
        raise RecordError(
            f"{label}: metadata.namespace {namespace!r} is not a Kubernetes namespace name "
            "(an RFC 1123 label: lower-case letters, digits and '-', starting and ending "
            "with a letter or digit)"
        )


def is_newer(incoming: str, stored: str, incoming_sha: str, stored_sha: str) -> bool:
    """The resourceVersion rule: compare as integers when both are (etcd's are); otherwise an
    equal version is the same object and a different one wins only if its content differs."""
    if incoming.isdigit() and stored.isdigit():
        return int(incoming) > int(stored)
    if incoming == stored:
        return False
    return incoming_sha != stored_sha


def records_ingest(
    *,
    data: bytes,
    namespaces_allowed: set[str] | None,
    source: RecordSource,
    background: bool = False,
) -> IngestResult:
    """Parse, validate and store run records; enqueue compute for what changed.

    ``source``: how these records came; every row written records it. ``background``: bulk
    work (an import): its computes go to the backfill queue, so they never sit in front of live
    ingests.

    Every object is validated before anything is written, and all of them are stored in one
    transaction: a bad record, a forbidden namespace, a uid stored in another namespace or a
    batch over a limit (``TooLarge``: too many objects, a PipelineRun naming too many TaskRuns)
    stores nothing. RecordError, NamespaceForbidden, UidConflict and TooLarge carry the message
    for the caller.
    """
    objects = load_documents(data)
    if len(objects) > settings.INGEST_MAX_OBJECTS:
        raise TooLarge(
            "objects in one request or file",
            len(objects),
            settings.INGEST_MAX_OBJECTS,
            "INGEST_MAX_OBJECTS",
        )
    prepared = [_prepare(obj, index) for index, obj in enumerate(objects)]
    if namespaces_allowed is not None:
        for item in prepared:
            if item.namespace not in namespaces_allowed:
                raise NamespaceForbidden(item.namespace)
    return _records_store(prepared, source=source, background=background)


def _lock_rows(prepared: list[_Prepared]) -> set[tuple[str, str]]:
    """Lock the PipelineRuns this batch touches, before any TaskRun row (see _records_write).

    Global order: PipelineRuns, then TaskRuns, each by uid. Compute locks a PipelineRun before
    reading its children, so with this order two ingests (or an ingest and a compute) never
    wait on each other in a cycle.

    First, one advisory lock per PipelineRun identity (namespace/name and uid) the batch touches,
    for the PipelineRuns themselves and for the TaskRuns' parents: a PipelineRun and its child
    arriving in two concurrent transactions then run one after the other, so the second sees the
    first's row instead of both waiting for each other forever. Sorted, so they never deadlock.

    Returns the pruned PipelineRuns among them, as ``("uid", uid)`` and, for the newest of a
    name (the one a label names, as ``linking.parents_of`` picks it), ``("name", ns/name)``.
    """
    keys: set[str] = set()
    # The PipelineRun rows to lock, per namespace: by uid, and by name for a TaskRun that
    # names its PipelineRun only by label.
    uids: dict[str, set[str]] = {}
    names: dict[str, set[str]] = {}
    for item in prepared:
        if item.kind == "PipelineRun":
            keys.add(f"pr-name:{item.namespace}/{item.name}")
            keys.add(f"pr-uid:{item.uid}")
            uids.setdefault(item.namespace, set()).add(item.uid)
        if item.parent_name:
            keys.add(f"pr-name:{item.namespace}/{item.parent_name}")
        if item.parent_uid:
            keys.add(f"pr-uid:{item.parent_uid}")
            uids.setdefault(item.namespace, set()).add(item.parent_uid)
        elif item.parent_name:
            names.setdefault(item.namespace, set()).add(item.parent_name)
    with connection.cursor() as cursor:  # one statement, taken in the sorted order
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(key, 0)) "
            "FROM unnest(%s::text[]) WITH ORDINALITY AS keys(key, position) ORDER BY position",
            [sorted(keys)],
        )
    parents = Q(pk__in=[])
    for namespace, wanted in uids.items():
        parents |= Q(namespace=namespace, uid__in=wanted)
    for namespace, wanted in names.items():
        parents |= Q(namespace=namespace, name__in=wanted)
    locked = (
        RunRecord.objects.select_for_update()
        .filter(parents, kind=RunKind.PIPELINE_RUN)
        .order_by("uid")
        .values_list("uid", "namespace", "name", "first_seen", "pk", "pruned_at")
    )
    pruned: set[tuple[str, str]] = set()
    newest: dict[str, tuple[Any, int, bool]] = {}
    for uid, namespace, name, first_seen, pk, pruned_at in locked:
        if pruned_at is not None:
            pruned.add(("uid", uid))
        key = f"{namespace}/{name}"
        if key not in newest or (first_seen, pk) > newest[key][:2]:
            newest[key] = (first_seen, pk, pruned_at is not None)
    # A PipelineRun of that name in this batch is the newer one.
    arriving = {f"{p.namespace}/{p.name}" for p in prepared if p.kind == "PipelineRun"}
    pruned.update(
        ("name", key) for key, (_, _, gone) in newest.items() if gone and key not in arriving
    )
    return pruned


@transaction.atomic
def _records_store(
    prepared: list[_Prepared], *, source: RecordSource, background: bool
) -> IngestResult:
    pruned = _lock_rows(prepared)
    for attempt in range(1, 4):
        try:
            # A savepoint: if a concurrent ingest inserts one of these uids between our read and
            # our INSERT, only this attempt is rolled back and the next one sees its row.
            with transaction.atomic():
                outcomes, touched, created = _records_write(prepared, source, pruned)
            break
        except IntegrityError:
            if attempt == 3:
                raise
    to_compute = link(touched)
    results = [
        IngestedRecord(
            kind=item.kind,
            namespace=item.namespace,
            name=item.name,
            uid=item.uid,
            outcome=outcomes[index],
        )
        for index, item in enumerate(prepared)
    ]
    ids = tuple(sorted(to_compute))
    if ids:
        # New rows were inserted pending: only the others need the UPDATE (one for 100,000
        # new runs cost seconds).
        RunRecord.objects.filter(pk__in=[pk for pk in ids if pk not in created]).update(
            compute_status=ComputeStatus.PENDING, compute_reason="", compute_updated=timezone.now()
        )
        known = {row.pk: (row.namespace, row.uid) for row in touched}  # not a linked parent
        messages = queue.compute_messages(
            ids, background, {pk: namespace for pk, (namespace, _) in known.items()}
        )
        queue.on_commit(queue.computes_publish, messages, known)
    return IngestResult(records=tuple(results), enqueued=ids)


_STORED_FIELDS = tuple(f.name for f in dataclass_fields(Stored))
# What deciding created / updated / unchanged needs of a stored row.
_ROW_STATE = (*_STORED_FIELDS, "resource_version", "raw_sha256", "compute_status", "pruned_at")


def _row_fields(item: _Prepared, source: RecordSource) -> dict[str, Any]:
    return {
        "kind": item.kind,
        "namespace": item.namespace,
        "name": item.name,
        "definition": item.definition,
        "pipeline_task": item.pipeline_task,
        "status": item.status,
        "reason": item.reason,
        "start_time": item.start_time,
        "completion_time": item.completion_time,
        "labels": item.labels,
        "resource_version": item.resource_version,
        # Level 1: a third less of the web's compress time than level 6, for 5 % more bytes.
        "raw": zlib.compress(item.raw_json, 1),
        "raw_sha256": item.raw_sha256,
        "source_kind": source.kind,
        "source_detail": source.detail(),
    }


def _of_pruned_run(item: _Prepared, pruned: set[tuple[str, str]]) -> bool:
    """A TaskRun of a pruned PipelineRun (by its owner's uid, else by the label's name)."""
    if item.parent_uid:
        return ("uid", item.parent_uid) in pruned
    return bool(item.parent_name) and ("name", f"{item.namespace}/{item.parent_name}") in pruned


def _stored_rows(uids: set[str]) -> dict[str, dict[str, Any]]:
    """The stored rows of these uids, locked, in the global lock order (PipelineRun < TaskRun,
    then uid). One array parameter: an IN list of 100,000 placeholders took seconds to build."""
    columns = ["id" if name == "pk" else name for name in _ROW_STATE]  # plain fields: name = column
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(columns)} FROM provenance_runrecord WHERE uid = ANY(%s) "
            "ORDER BY kind, uid FOR UPDATE",
            [list(uids)],
        )
        rows = [dict(zip(_ROW_STATE, row, strict=True)) for row in cursor.fetchall()]
    return {row["uid"]: row for row in rows}


def _insert(rows: list[dict[str, Any]]) -> dict[str, int]:
    """Insert new rows (column values by field name; the model's defaults fill the rest) with
    COPY, and return their ids by uid: 100,000 rows in seconds, where one ``INSERT … UNNEST``
    through the ORM took a minute (docs/security.md, "Bounded work").

    Each value goes as psycopg adapts it, without model instances or Django's per-field
    preparation (5 ms of a 33-row record, a third of the web's CPU for it; bench/README.md,
    issue 16): the time of this insert in the auto_now fields, JSON columns as jsonb."""
    if not rows:
        return {}
    fields = [f for f in RunRecord._meta.concrete_fields if not f.primary_key]
    names = ", ".join(connection.ops.quote_name(str(f.column)) for f in fields)
    now = timezone.now()
    defaults = {f.attname: f.get_default() for f in fields}
    for f in fields:
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            defaults[f.attname] = now
    json_columns = {f.attname for f in fields if isinstance(f, JSONField)}
    order = [f.attname for f in fields]
    with connection.cursor() as cursor:
        # The raw psycopg cursor: its errors (a concurrent insert of the same uid) are turned
        # into Django's, so the caller's IntegrityError retry sees them.
        with (
            connection.wrap_database_errors,
            cursor.cursor.copy(f"COPY provenance_runrecord ({names}) FROM STDIN") as copy,
        ):
            for row in rows:
                values = {**defaults, **row}
                copy.write_row(
                    [
                        Jsonb(values[name], dumps=orjson.dumps)
                        if name in json_columns and values[name] is not None
                        else values[name]
                        for name in order
                    ]
                )
        cursor.execute(
            "SELECT uid, id FROM provenance_runrecord WHERE uid = ANY(%s)",
            [[row["uid"] for row in rows]],
        )
        return dict(cursor.fetchall())


def _records_write(
    prepared: list[_Prepared], source: RecordSource, pruned: set[tuple[str, str]]
) -> tuple[dict[int, str], list[Stored], set[int]]:
    """Insert the new records and update the newer ones: one SELECT, one INSERT for all new
    rows and one UPDATE per changed row. Returns each object's outcome (by input position),
    the rows that need linking and compute, and the ids of the rows inserted (pending).

    A run is its (namespace, uid): an object whose uid is stored (or comes earlier in the
    batch) in another namespace raises UidConflict before anything is written. The SELECT
    reads by uid alone for that check only; the unique index on uid makes a concurrent insert
    of the same uid elsewhere fail, and the retry then sees its row and refuses.

    A run whose raw record was pruned is closed (``pruned``: the locked PipelineRuns that
    were): a record of it, or a new TaskRun of it, is not stored, so nothing un-prunes it or
    signs it again; its attestations stay the evidence.
    """
    stored = _stored_rows({item.uid for item in prepared})
    first_namespace: dict[str, str] = {}
    for item in prepared:
        namespace = stored[item.uid]["namespace"] if item.uid in stored else None
        namespace = namespace or first_namespace.setdefault(item.uid, item.namespace)
        if namespace != item.namespace:
            raise UidConflict(item.kind, item.name, item.uid)
    outcomes: dict[int, str] = {}
    now = timezone.now()
    created: dict[str, dict[str, Any]] = {}  # new rows' values, by uid
    changed: dict[str, dict[str, Any]] = {}
    parents_here = {
        (item.namespace, item.uid) for item in prepared if item.kind == RunKind.PIPELINE_RUN
    }
    # Duplicates of one uid are applied in input order, each against the one before it.
    for index, item in enumerate(prepared):
        row = stored.get(item.uid)
        if (row is not None and row["pruned_at"] is not None) or (
            row is None and _of_pruned_run(item, pruned)
        ):
            outcomes[index] = "pruned"
            continue
        if row is None:
            created[item.uid] = {
                "uid": item.uid,
                "parent_uid": item.parent_uid,
                "parent_name": item.parent_name,
                # A TaskRun that comes with its PipelineRun is a child from the start: linking
                # then has no row to update.
                "compute_status": ComputeStatus.CHILD
                if (item.namespace, item.parent_uid) in parents_here
                else ComputeStatus.PENDING,
                "compute_updated": now,
                "pruned_at": None,
                **_row_fields(item, source),
            }
            stored[item.uid] = row = {
                name: created[item.uid][name] for name in _ROW_STATE if name != "pk"
            }
            outcomes[index] = "created"
            continue
        if row["kind"] != item.kind:
            raise RecordError(
                f"{item.kind} {item.name!r}: uid {item.uid} is already stored as a {row['kind']}"
            )
        if not is_newer(
            item.resource_version, row["resource_version"], item.raw_sha256, row["raw_sha256"]
        ):
            outcomes[index] = "unchanged"
            continue
        fields = _row_fields(item, source)
        # A parent link, once resolved, is kept: a later version cannot change its owner.
        fields["parent_uid"] = row["parent_uid"] or item.parent_uid
        fields["parent_name"] = item.parent_name or row["parent_name"]
        row.update(fields)
        if item.uid in created:
            created[item.uid].update(fields)
        else:
            changed[item.uid] = fields
        outcomes[index] = "updated"
    # Inserts wait on each other's unique-index entries: the same global order as the locks.
    ids = _insert(sorted(created.values(), key=lambda r: (r["kind"], r["uid"])))
    for uid in sorted(changed):
        RunRecord.objects.filter(pk=stored[uid]["pk"]).update(**changed[uid], updated=now)
    for uid in created:
        stored[uid]["pk"] = ids[uid]
    touched = [
        Stored(**{name: row[name] for name in _STORED_FIELDS})
        for uid, row in stored.items()
        if uid in created
        or uid in changed
        or row["compute_status"] in (ComputeStatus.PENDING, ComputeStatus.FAILED)
    ]
    return outcomes, touched, {ids[uid] for uid in created}
