"""Writes: ingest, compute and sign, settings, keys, tokens, watch state.

Every function takes keyword arguments and is the only way its rows get written. The core engine
(``provenance.core``) does the parsing, planning and signing; this module stores the results.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import secrets
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from dataclasses import fields as dataclass_fields
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import orjson
from django.conf import settings
from django.db import IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from kombu.exceptions import OperationalError as KombuOperationalError

from provenance import metrics
from provenance.core.chain import GENESIS, entry_hash
from provenance.core.documents import load_documents
from provenance.core.errors import FormatError, ProvenanceError, RecordError, SigningError
from provenance.core.intoto import statement_bytes
from provenance.core.plan import PlannedStatement, plan_statements, validate_policy
from provenance.core.signing import (
    ALGORITHMS,
    KeySigner,
    generate_private_key_pem,
    load_file_signer,
)
from provenance.core.slsa.config import SlsaConfig
from provenance.core.tekton import PipelineRun, Run, parse_records

from .models import (
    ApiToken,
    Artifact,
    Attestation,
    ChainEntry,
    ComputeStatus,
    NamespaceSettings,
    RunKind,
    RunRecord,
    SettingsAudit,
    SigningKey,
    WatchState,
)

logger = logging.getLogger(__name__)

PIPELINE_RUN_LABEL = "tekton.dev/pipelineRun"
PIPELINE_TASK_LABEL = "tekton.dev/pipelineTask"
SETTINGS_FIELDS = ("format", "deep_inspection", "scope", "emit", "builder_id", "build_type")
# RFC 1123 label: what Kubernetes accepts as a namespace name.
NAMESPACE_NAME = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
MAX_NAMESPACE = 63
# metadata.name: a DNS subdomain's length, the RunRecord.name column's size.
MAX_NAME = 253
# pg_advisory_xact_lock keys: one writer at a time appends to the chain / creates default keys.
CHAIN_LOCK = 7_411_001
KEY_LOCK = 7_411_002


class NamespaceForbidden(Exception):
    """A record (or request) names a namespace the caller may not write to."""

    def __init__(self, namespace: str) -> None:
        super().__init__(f"this token may not write to namespace {namespace!r}")
        self.namespace = namespace


def canonical_json(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# =============================================================================================
# Ingest


@dataclass(frozen=True, slots=True)
class IngestedRecord:
    kind: str
    namespace: str
    name: str
    uid: str
    outcome: str  # created | updated | unchanged


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


def _prepare(obj: dict[str, Any], index: int) -> _Prepared:
    """Validate one object with the engine and pull out what the row stores."""
    runs = parse_records([obj])  # RecordError names the problem
    kind = str(obj.get("kind"))
    run = next(r for r in runs if r.meta.kind == kind)
    meta = run.meta
    shown = meta.name if len(meta.name) <= 80 else meta.name[:80] + "…"
    label = f"object {index + 1} ({kind} {shown!r})" if meta.name else f"object {index + 1}"
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
        raw_sha256=sha256_hex(raw_json),
        status=succeeded.status if succeeded else "",
        reason=(succeeded.reason if succeeded else "")[:253],
        start_time=parse_datetime(meta.start_time) if meta.start_time else None,
        completion_time=parse_datetime(meta.completion_time) if meta.completion_time else None,
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
    *, data: bytes, namespaces_allowed: set[str] | None, source: str, background: bool = False
) -> IngestResult:
    """Parse, validate and store run records; enqueue compute for what changed.

    ``background``: bulk work (an import): its computes go to the backfill queue, so they never
    sit in front of live ingests.

    Every object is validated before anything is written, and all of them are stored in one
    transaction: a bad record or a forbidden namespace stores nothing. RecordError and
    NamespaceForbidden carry the message for the caller.
    """
    objects = load_documents(data)
    prepared = [_prepare(obj, index) for index, obj in enumerate(objects)]
    if namespaces_allowed is not None:
        for item in prepared:
            if item.namespace not in namespaces_allowed:
                raise NamespaceForbidden(item.namespace)
    return _records_store(prepared, source=source[:300], background=background)


def _lock_rows(prepared: list[_Prepared]) -> None:
    """Lock the PipelineRuns this batch touches, before any TaskRun row (see _records_write).

    Global order: PipelineRuns, then TaskRuns, each by uid. Compute locks a PipelineRun before
    reading its children, so with this order two ingests (or an ingest and a compute) never
    wait on each other in a cycle.

    First, one advisory lock per PipelineRun identity (namespace/name and uid) the batch touches,
    for the PipelineRuns themselves and for the TaskRuns' parents: a PipelineRun and its child
    arriving in two concurrent transactions then run one after the other, so the second sees the
    first's row instead of both waiting for each other forever. Sorted, so they never deadlock.
    """
    keys: set[str] = set()
    for item in prepared:
        if item.kind == "PipelineRun":
            keys.add(f"pr-name:{item.namespace}/{item.name}")
            keys.add(f"pr-uid:{item.uid}")
        if item.parent_name:
            keys.add(f"pr-name:{item.namespace}/{item.parent_name}")
        if item.parent_uid:
            keys.add(f"pr-uid:{item.parent_uid}")
    with connection.cursor() as cursor:
        for key in sorted(keys):
            cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [key])
    parents = Q(uid__in={p.uid for p in prepared if p.kind == "PipelineRun"})
    parents |= Q(uid__in={p.parent_uid for p in prepared if p.parent_uid})
    for item in prepared:
        if item.parent_name and not item.parent_uid:
            parents |= Q(namespace=item.namespace, name=item.parent_name)
    list(
        RunRecord.objects.select_for_update()
        .filter(parents, kind=RunKind.PIPELINE_RUN)
        .order_by("uid")
        .values_list("pk", flat=True)
    )


@transaction.atomic
def _records_store(prepared: list[_Prepared], *, source: str, background: bool) -> IngestResult:
    _lock_rows(prepared)
    for attempt in range(1, 4):
        try:
            # A savepoint: if a concurrent ingest inserts one of these uids between our read and
            # our INSERT, only this attempt is rolled back and the next one sees its row.
            with transaction.atomic():
                outcomes, touched = _records_write(prepared, source)
            break
        except IntegrityError:
            if attempt == 3:
                raise
    to_compute = _link(touched)
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
        RunRecord.objects.filter(pk__in=ids).update(
            compute_status=ComputeStatus.PENDING, compute_reason="", compute_updated=timezone.now()
        )
        _on_commit(_enqueue_compute, ids, background)
    return IngestResult(records=tuple(results), enqueued=ids)


@dataclass(frozen=True, slots=True)
class _Stored:
    """What linking needs to know of a row this ingest wrote or found needing compute."""

    pk: int
    kind: str
    uid: str
    namespace: str
    name: str
    parent_uid: str
    parent_name: str


_STORED_FIELDS = tuple(f.name for f in dataclass_fields(_Stored))
# What deciding created / updated / unchanged needs of a stored row.
_ROW_STATE = (*_STORED_FIELDS, "resource_version", "raw_sha256", "compute_status")


def _row_fields(item: _Prepared, source: str) -> dict[str, Any]:
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
        "raw": zlib.compress(item.raw_json, 6),
        "raw_sha256": item.raw_sha256,
        "source": source,
    }


def _records_write(prepared: list[_Prepared], source: str) -> tuple[dict[int, str], list[_Stored]]:
    """Insert the new records and update the newer ones: one SELECT, one INSERT for all new
    rows and one UPDATE per changed row. Returns each object's outcome (by input position) and
    the rows that need linking and compute."""
    stored = {
        row["uid"]: row
        for row in RunRecord.objects.select_for_update()
        .filter(uid__in={item.uid for item in prepared})
        .order_by("kind", "uid")  # PipelineRun < TaskRun: the global lock order
        .values(*_ROW_STATE)
    }
    outcomes: dict[int, str] = {}
    created: dict[str, RunRecord] = {}
    changed: dict[str, dict[str, Any]] = {}
    # Duplicates of one uid are applied in input order, each against the one before it.
    for index, item in enumerate(prepared):
        row = stored.get(item.uid)
        if row is None:
            created[item.uid] = RunRecord(
                uid=item.uid,
                parent_uid=item.parent_uid,
                parent_name=item.parent_name,
                **_row_fields(item, source),
            )
            stored[item.uid] = row = {name: getattr(created[item.uid], name) for name in _ROW_STATE}
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
            for name, value in fields.items():
                setattr(created[item.uid], name, value)
        else:
            changed[item.uid] = fields
        outcomes[index] = "updated"
    # Inserts wait on each other's unique-index entries: the same global order as the locks.
    RunRecord.objects.bulk_create(sorted(created.values(), key=lambda r: (r.kind, r.uid)))
    now = timezone.now()
    for uid in sorted(changed):
        RunRecord.objects.filter(pk=stored[uid]["pk"]).update(**changed[uid], updated=now)
    for uid, record in created.items():
        stored[uid]["pk"] = record.pk
    touched = [
        _Stored(**{name: row[name] for name in _STORED_FIELDS})
        for uid, row in stored.items()
        if uid in created
        or uid in changed
        or row["compute_status"] in (ComputeStatus.PENDING, ComputeStatus.FAILED)
    ]
    return outcomes, touched


def _link(touched: list[_Stored]) -> set[int]:
    """Link parents and orphans; return the top-level runs to (re)compute."""
    to_compute: set[int] = set()
    children: list[_Stored] = []
    # A TaskRun naming one of these PipelineRuns by uid is linked by that PipelineRun's UPDATE.
    linked_here = {run.uid for run in touched if run.kind == RunKind.PIPELINE_RUN}
    for run in touched:
        if run.kind == RunKind.PIPELINE_RUN:
            # Its children, and the TaskRuns that arrived first naming it only by label.
            RunRecord.objects.filter(
                Q(parent_uid=run.uid)
                | Q(namespace=run.namespace, parent_uid="", parent_name=run.name),
                kind=RunKind.TASK_RUN,
            ).update(parent_uid=run.uid, compute_status=ComputeStatus.CHILD, compute_reason="")
            to_compute.add(run.pk)
        elif run.parent_uid in linked_here:
            continue
        elif run.parent_uid or run.parent_name:
            children.append(run)
        else:
            to_compute.add(run.pk)  # a standalone TaskRun is its own top-level run
    parents = _parents_of(children)
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
    """A TaskRun's parent is its PipelineRun's uid when known, else its name (the label)."""
    if child.parent_uid:
        return ("uid", "", child.parent_uid)
    return ("name", child.namespace, child.parent_name)


def _parents_of(children: Iterable[_ChildRow]) -> dict[tuple[str, str, str], RunRecord]:
    """The stored PipelineRun of each child, by _parent_key, in at most two queries: by uid,
    and by name (the newest PipelineRun of that name, as a re-created run replaces the old)."""
    keys = {_parent_key(child) for child in children}
    runs = RunRecord.objects.filter(kind=RunKind.PIPELINE_RUN).defer("raw")
    found: dict[tuple[str, str, str], RunRecord] = {}
    uids = {uid for by, _, uid in keys if by == "uid"}
    if uids:
        found.update((("uid", "", run.uid), run) for run in runs.filter(uid__in=uids))
    names = Q()
    for by, namespace, name in keys:
        if by == "name":
            names |= Q(namespace=namespace, name=name)
    if names:
        newest = runs.filter(names).order_by("namespace", "name", "-first_seen", "-id")
        found.update(
            (("name", run.namespace, run.name), run) for run in newest.distinct("namespace", "name")
        )
    return found


def _parent_of(record: RunRecord) -> RunRecord | None:
    return _parents_of([record]).get(_parent_key(record))


def _on_commit(func: Callable[..., None], *args: Any) -> None:
    """Run ``func(*args)`` after the outermost transaction commits.

    ``robust``: a broker outage must not turn a committed ingest into an error response; the
    runs stay visibly ``pending`` and any later ingest or settings change re-queues them.
    """

    def callback() -> None:
        func(*args)

    callback.__qualname__ = f"enqueue:{func.__name__}"
    transaction.on_commit(callback, robust=True)


def _enqueue_compute(run_ids: Iterable[int], background: bool = False) -> None:
    """Queue a compute per run, on the backfill queue for bulk work. If the broker cannot take a
    message, that run and every run not tried yet stay pending with a reason saying so, for
    ``requeue_pending`` to pick up."""
    from .tasks import attestations_compute

    queue = settings.BACKFILL_QUEUE if background else None  # None: the default (live) queue
    ids = list(run_ids)
    for position, run_id in enumerate(ids):
        try:
            attestations_compute.apply_async((run_id,), queue=queue)
        except (KombuOperationalError, OSError) as exc:
            logger.warning("broker unavailable, %d run(s) not queued: %s", len(ids) - position, exc)
            RunRecord.objects.filter(
                pk__in=ids[position:], compute_status=ComputeStatus.PENDING
            ).update(
                compute_reason=f"not queued: broker unavailable ({type(exc).__name__}: {exc})",
                compute_updated=timezone.now(),
            )
            return


def runs_requeue_pending(*, older_than: timedelta, include_failed: bool = False) -> int:
    """Queue again the top-level runs still pending (or failed) for longer than ``older_than``:
    the sweep that catches up after a broker outage or a restored signing key. Safe to run at
    any time, since computing a run twice gives no second attestation."""
    statuses = [ComputeStatus.PENDING] + ([ComputeStatus.FAILED] if include_failed else [])
    cutoff = timezone.now() - older_than
    ids = list(
        top_level_runs()
        .filter(compute_status__in=statuses)
        .filter(Q(compute_updated__isnull=True) | Q(compute_updated__lte=cutoff))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if ids:
        RunRecord.objects.filter(pk__in=ids).update(
            compute_status=ComputeStatus.PENDING, compute_reason="", compute_updated=timezone.now()
        )
        _enqueue_compute(ids, background=True)
    return len(ids)


def top_level_runs() -> Any:
    """Runs that get attestations of their own: PipelineRuns and standalone TaskRuns."""
    return RunRecord.objects.filter(
        Q(kind=RunKind.PIPELINE_RUN) | Q(kind=RunKind.TASK_RUN, parent_uid="", parent_name="")
    )


# =============================================================================================
# Namespace settings


def namespace_settings_defaults() -> dict[str, Any]:
    defaults: dict[str, Any] = dict(settings.PROVENANCE_DEFAULTS)
    return {name: defaults[name] for name in SETTINGS_FIELDS}


def namespace_settings_effective(namespace: str) -> tuple[dict[str, Any], SigningKey | None]:
    """The settings a namespace's runs are attested under, and its own key (or None)."""
    row = (
        NamespaceSettings.objects.filter(namespace=namespace).select_related("signing_key").first()
    )
    if row is None:
        return namespace_settings_defaults(), None
    return {name: getattr(row, name) for name in SETTINGS_FIELDS}, row.signing_key


def validate_settings(values: dict[str, Any]) -> None:
    """FormatError naming the first bad value."""
    SlsaConfig(
        format=values["format"],
        builder_id=values["builder_id"],
        build_type=values["build_type"],
        deep_inspection=bool(values["deep_inspection"]),
    )
    validate_policy(values["scope"], values["emit"])


def _settings_snapshot(row: NamespaceSettings) -> dict[str, Any]:
    snapshot = {name: getattr(row, name) for name in SETTINGS_FIELDS}
    snapshot["signing_key"] = row.signing_key.key_id if row.signing_key else None
    return snapshot


def namespace_settings_update(
    *,
    namespace: str,
    changes: dict[str, Any],
    actor: str,
    signing_key: SigningKey | None = None,
) -> NamespaceSettings:
    """Change a namespace's settings; audit the change and recompute its runs after commit."""
    unknown = set(changes) - set(SETTINGS_FIELDS)
    if unknown:
        raise FormatError(f"unknown settings field(s): {', '.join(sorted(unknown))}")
    with transaction.atomic():
        row = (
            NamespaceSettings.objects.select_for_update(of=("self",))
            .select_related("signing_key")
            .filter(namespace=namespace)
            .first()
        )
        if row is None:
            row = NamespaceSettings(namespace=namespace, **namespace_settings_defaults())
            old: dict[str, Any] = {}
        else:
            old = _settings_snapshot(row)
        for name, value in changes.items():
            setattr(row, name, value)
        if signing_key is not None:
            row.signing_key = signing_key
        validate_settings({name: getattr(row, name) for name in SETTINGS_FIELDS})
        new = _settings_snapshot(row)
        if new == old:
            return row
        row.save()
        SettingsAudit.objects.create(namespace=namespace, actor=actor[:300], old=old, new=new)
        _on_commit(_enqueue_namespace_recompute, namespace)
    return row


def _enqueue_namespace_recompute(namespace: str) -> None:
    from .tasks import namespace_recompute

    namespace_recompute.delay(namespace)


def namespace_runs_recompute(*, namespace: str) -> int:
    """Queue a compute for every top-level run of the namespace; returns how many."""
    with transaction.atomic():
        runs = top_level_runs().filter(namespace=namespace)
        ids = list(runs.values_list("pk", flat=True))
        runs.update(
            compute_status=ComputeStatus.PENDING, compute_reason="", compute_updated=timezone.now()
        )
        _on_commit(_enqueue_compute, ids, True)  # a whole namespace: bulk work
    return len(ids)


# =============================================================================================
# Signing keys


def _keys_dir() -> Path:
    return Path(settings.KEYS_DIR)


def _write_private_key(pem: bytes, file_name: str) -> Path:
    folder = _keys_dir()
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / file_name
    # O_EXCL: never overwrite a key; 0600 from creation, so the key is never readable by others.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, pem)
        os.fsync(fd)
    finally:
        os.close(fd)
    return path


def signing_key_create(
    *,
    namespace: str,
    algorithm: str,
    actor: str,
    purpose: str = SigningKey.Purpose.ATTESTATION,
) -> SigningKey:
    """Generate a key pair: the private key to a 0600 file under KEYS_DIR, the public key to
    the database. A namespace key becomes that namespace's signing key (an audited change)."""
    if algorithm not in ALGORITHMS:
        raise SigningError(
            f"unknown signing algorithm {algorithm!r}; expected one of {', '.join(ALGORITHMS)}"
        )
    pem = generate_private_key_pem(algorithm)
    signer = KeySigner.from_private_pem(pem)
    safe_id = signer.key_id.removeprefix("SHA256:").replace("/", "_").replace("+", "-")
    label = namespace or ("checkpoint" if purpose == SigningKey.Purpose.CHECKPOINT else "default")
    file_name = f"{label}-{algorithm}-{safe_id[:16]}.pem"
    path = _write_private_key(pem, file_name)
    try:
        with transaction.atomic():
            key = SigningKey.objects.create(
                key_id=signer.key_id,
                algorithm=signer.algorithm,
                public_key_pem=signer.public_key_pem,
                namespace=namespace,
                purpose=purpose,
                private_key_path=file_name,
            )
            if namespace:
                namespace_settings_update(
                    namespace=namespace, changes={}, actor=actor, signing_key=key
                )
    except BaseException:
        path.unlink(missing_ok=True)  # no orphan private key without its registration
        raise
    logger.info("created %s signing key %s for %s", algorithm, key.key_id, label)
    return key


def _default_key(purpose: str) -> SigningKey:
    """The deployment-wide key of this purpose, created on first use if allowed."""
    keys = SigningKey.objects.filter(namespace="", purpose=purpose).order_by("-id")
    key = keys.first()
    if key is not None:
        return key
    if purpose == SigningKey.Purpose.ATTESTATION and not settings.SIGNING_DEFAULT_KEY_AUTOCREATE:
        raise SigningError(
            "no signing key for this namespace and no default key: run "
            "`manage.py create_signing_key` (SIGNING_DEFAULT_KEY_AUTOCREATE is off)"
        )
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [KEY_LOCK])
        key = keys.first()
        if key is None:
            algorithm = (
                "ed25519"
                if purpose == SigningKey.Purpose.CHECKPOINT
                else settings.SIGNING_DEFAULT_ALGORITHM
            )
            try:
                key = signing_key_create(
                    namespace="", algorithm=algorithm, actor="system", purpose=purpose
                )
            except OSError as exc:
                raise SigningError(
                    f"cannot create the default {purpose} key in {_keys_dir()}: {exc.strerror}"
                ) from None
    return key


def signer_load(key: SigningKey) -> KeySigner:
    """The signer for a registered key; SigningError if the file is missing or does not match."""
    signer = load_file_signer(_keys_dir() / key.private_key_path)
    if signer.key_id != key.key_id:
        raise SigningError(
            f"key file {key.private_key_path} does not hold the registered key {key.key_id}"
        )
    return signer


def checkpoint_signer() -> KeySigner:
    return signer_load(_default_key(SigningKey.Purpose.CHECKPOINT))


# =============================================================================================
# Compute and sign


@dataclass(frozen=True, slots=True)
class ComputeOutcome:
    status: str
    reason: str = ""
    created: tuple[int, ...] = field(default_factory=tuple)


def attestations_generate(*, run_id: int) -> ComputeOutcome:
    """Compute, sign and store what the namespace's settings ask for this run (idempotent).

    Transient database errors propagate (the task retries them); engine and key errors are
    permanent and stored on the run with their reason.
    """
    try:
        namespace = RunRecord.objects.filter(pk=run_id).values_list("namespace", flat=True).first()
        if namespace is None:
            return ComputeOutcome(status="missing", reason=f"run {run_id} does not exist")
        values, own_key = namespace_settings_effective(namespace)
        # Outside the compute transaction: a key file must not outlive a rolled-back row.
        key = own_key or _default_key(SigningKey.Purpose.ATTESTATION)
        with transaction.atomic():
            return _generate(run_id, values, key)
    except ProvenanceError as exc:
        metrics.compute_failed(run_id, exc)
        reason = str(exc) or type(exc).__name__
        run_compute_fail(run_id=run_id, reason=reason)
        return ComputeOutcome(status=ComputeStatus.FAILED, reason=reason)
    except (OperationalError, InterfaceError, ConnectionError, TimeoutError):
        raise  # transient: the task retries with backoff
    except Exception as exc:
        # Anything else will fail the same way next time: store it on the run rather than
        # leave it pending (in eager mode Celery re-raises before the task's on_failure runs).
        logger.exception("computing run %s failed", run_id)
        metrics.compute_failed(run_id, exc)
        reason = f"unexpected error: {type(exc).__name__}: {exc}"
        run_compute_fail(run_id=run_id, reason=reason)
        return ComputeOutcome(status=ComputeStatus.FAILED, reason=reason)


def run_compute_fail(*, run_id: int, reason: str) -> None:
    """Record a permanent failure on the run (visible in the API, admin and dashboard)."""
    logger.warning("computing run %s failed: %s", run_id, reason)
    RunRecord.objects.filter(pk=run_id).update(
        compute_status=ComputeStatus.FAILED,
        compute_reason=reason[:2000],
        compute_updated=timezone.now(),
    )


def _set_status(record: RunRecord, status: str, reason: str) -> ComputeOutcome:
    RunRecord.objects.filter(pk=record.pk).update(
        compute_status=status, compute_reason=reason, compute_updated=timezone.now()
    )
    return ComputeOutcome(status=status, reason=reason)


def _children_of(record: RunRecord) -> list[RunRecord]:
    children = list(RunRecord.objects.filter(kind=RunKind.TASK_RUN, parent_uid=record.uid))
    # Independent of arrival order, so replays give the same statement bytes. The engine then
    # puts the children named in childReferences in that order, as Chains does.
    far_future = timezone.now().replace(year=9999)
    children.sort(key=lambda c: (c.start_time or far_future, c.name, c.uid))
    return children


def _generate(run_id: int, values: dict[str, Any], key: SigningKey) -> ComputeOutcome:
    """``values`` and ``key``: the namespace's effective settings and attestation key (a
    TaskRun's parent is in its namespace)."""
    record = RunRecord.objects.filter(pk=run_id).first()
    if record is None:
        return ComputeOutcome(status="missing", reason=f"run {run_id} does not exist")
    if not record.is_top_level:
        parent = _parent_of(record)
        if parent is None:
            return ComputeOutcome(status=ComputeStatus.WAITING, reason="no parent yet")
        record = parent
    # Only the top-level row is locked (see _lock_rows for the order): one compute per run.
    record = RunRecord.objects.select_for_update().get(pk=record.pk)
    children = _children_of(record) if record.kind == RunKind.PIPELINE_RUN else []
    runs = parse_records([record.document, *(child.document for child in children)])
    run = next(r for r in runs if r.meta.uid == record.uid and r.meta.kind == record.kind)
    if isinstance(run, PipelineRun):
        have = {tr.name for tr in run.task_runs}
        missing = [
            ref.name
            for ref in run.child_references
            if ref.kind == "TaskRun" and ref.name not in have
        ]
        if missing:
            return _set_status(
                record, ComputeStatus.WAITING, f"waiting for TaskRuns: {', '.join(missing)}"
            )
    cfg = SlsaConfig(
        format=values["format"],
        builder_id=values["builder_id"],
        build_type=values["build_type"],
        deep_inspection=bool(values["deep_inspection"]),
    )
    plan = plan_statements(run, cfg, values["scope"], values["emit"])
    created: list[int] = []
    if plan.statements:
        signer = signer_load(key)
        for planned in plan.statements:
            attestation = _attestation_store(record, run, planned, values, signer)
            if attestation is not None:
                created.append(attestation.pk)
    pending = [w for w in plan.waiting if not w.final]
    final = [w for w in plan.waiting if w.final]

    def describe(items: list[Any]) -> str:
        return "; ".join(f"{w.subject}: {w.reason}" if w.subject else w.reason for w in items)

    if pending:
        outcome = _set_status(record, ComputeStatus.WAITING, describe(pending))
    elif plan.statements or record.attestations.exists():
        outcome = _set_status(record, ComputeStatus.SIGNED, describe(final))
    else:
        outcome = _set_status(record, ComputeStatus.SKIPPED, describe(final) or "nothing to sign")
    return ComputeOutcome(status=outcome.status, reason=outcome.reason, created=tuple(created))


def _subject_key(planned: PlannedStatement) -> str:
    if planned.scope == "per-run":
        return ""
    return canonical_json(
        [[name, list(map(list, digest))] for name, digest in planned.subjects]
    ).decode()


def inputs_digest(
    *,
    run_uid: str,
    scope: str,
    subject_key: str,
    settings_values: dict[str, Any],
    key_id: str,
    statement_sha256: str,
    supersedes: int | None,
) -> str:
    """The idempotency key of an attestation: the same inputs never give a second one.

    The statement is a pure function of the stored records and the settings, so its sha256
    stands for the records' content; the attestation it would replace is part of the key so that
    going back to an earlier statement (settings A → B → A) is a new attestation, not a clash.
    """
    return sha256_hex(
        canonical_json(
            {
                "run": run_uid,
                "scope": scope,
                "subjects": subject_key,
                "settings": {name: settings_values[name] for name in SETTINGS_FIELDS},
                "key": key_id,
                "statement": statement_sha256,
                "supersedes": supersedes,
            }
        )
    )


def _attestation_store(
    record: RunRecord,
    run: Run,
    planned: PlannedStatement,
    values: dict[str, Any],
    signer: KeySigner,
) -> Attestation | None:
    payload = statement_bytes(planned.statement)
    statement_sha = sha256_hex(payload)
    subject_key = _subject_key(planned)
    current = (
        Attestation.objects.filter(
            run=record, scope=planned.scope, subject_key=subject_key, superseded_by__isnull=True
        )
        .order_by("-id")
        .first()
    )
    if current is not None and (current.statement_sha256, current.key_id) == (
        statement_sha,
        signer.key_id,
    ):
        return None  # already signed: same statement, same key
    digest = inputs_digest(
        run_uid=record.uid,
        scope=planned.scope,
        subject_key=subject_key,
        settings_values=values,
        key_id=signer.key_id,
        statement_sha256=statement_sha,
        supersedes=current.pk if current else None,
    )
    if Attestation.objects.filter(inputs_digest=digest).exists():
        return None
    envelope = metrics.sign(payload, signer).to_json()
    attestation = Attestation.objects.create(
        run=record,
        namespace=record.namespace,
        format=values["format"],
        scope=planned.scope,
        emit=values["emit"],
        subject_key=subject_key,
        run_status=planned.run_status[:16],
        run_reason=planned.run_reason[:253],
        statement=payload,
        statement_sha256=statement_sha,
        envelope=envelope,
        envelope_sha256=sha256_hex(envelope),
        key_id=signer.key_id,
        settings={name: values[name] for name in SETTINGS_FIELDS},
        inputs_digest=digest,
    )
    attestation.subjects.add(*_artifacts_for(planned))
    _chain_append(attestation)
    if current is not None:
        # The one column the application ever changes on an attestation (docs/backend.md).
        Attestation.objects.filter(pk=current.pk, superseded_by__isnull=True).update(
            superseded_by=attestation
        )
    return attestation


def _artifacts_for(planned: PlannedStatement) -> list[Artifact]:
    """The index rows of a statement's subjects, digests in the form digest search looks up.

    The statement keeps each digest as Chains writes it (an ``ARTIFACT_DIGEST`` of
    ``SHA256:…`` or ``sha256 : …`` is signed with that algorithm key and hex); the index holds
    the algorithm trimmed and lower-cased and the hex trimmed and lower-cased, as
    ``selectors.parse_digest_filter`` reads a search. Two spellings of one digest are one row
    (the set drops the second before ``bulk_create``).
    """
    wanted = {
        (name, algorithm.strip().lower(), hex_value.strip().lower())
        for name, digest in planned.subjects
        for algorithm, hex_value in digest
    }
    if not wanted:
        return []
    Artifact.objects.bulk_create(
        [Artifact(uri=u, algorithm=a, hex=h) for u, a, h in sorted(wanted)],
        ignore_conflicts=True,
    )
    # One plain IN on the digest index, the exact triples picked here: an OR of one Q per
    # subject cost more to build in the ORM than the query took to run.
    candidates = Artifact.objects.filter(
        uri__in={u for u, _, _ in wanted}, hex__in={h for _, _, h in wanted}
    )
    return [a for a in candidates if (a.uri, a.algorithm, a.hex) in wanted]


def _chain_append(attestation: Attestation) -> ChainEntry:
    with connection.cursor() as cursor:
        # Held until this transaction ends: appends are serialized across workers.
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CHAIN_LOCK])
    last = ChainEntry.objects.order_by("-seq").first()
    prev = bytes.fromhex(last.entry_hash) if last else GENESIS
    digest = entry_hash(prev, bytes.fromhex(attestation.envelope_sha256), attestation.pk)
    return ChainEntry.objects.create(
        seq=(last.seq + 1) if last else 1,
        attestation=attestation,
        envelope_sha256=attestation.envelope_sha256,
        prev_hash=prev.hex(),
        entry_hash=digest.hex(),
    )


# =============================================================================================
# API tokens

TOKEN_PREFIX = "cwt_"


def token_hash(token: str) -> str:
    return sha256_hex(token.encode())


def api_token_create(
    *,
    name: str,
    namespaces: Iterable[str] = (),
    all_namespaces: bool = False,
    role: str = ApiToken.Role.VIEWER,
    expires_at: datetime | None = None,
) -> tuple[ApiToken, str]:
    """Create a token; returns the row and the token itself, which is never stored.

    A token names its namespaces, or says ``all_namespaces=True``: an empty list is an error,
    never a silent "everything".
    """
    if role not in ApiToken.Role.values:
        raise ValueError(
            f"unknown role {role!r}; expected one of {', '.join(ApiToken.Role.values)}"
        )
    if not name.strip():
        raise ValueError("the token needs a user name")
    wanted = sorted({ns.strip() for ns in namespaces})
    if all_namespaces and wanted:
        raise ValueError("a token is either for all namespaces or for a list of them, not both")
    if not all_namespaces and not wanted:
        raise ValueError("name at least one namespace, or ask for all namespaces explicitly")
    for namespace in wanted:
        if not NAMESPACE_NAME.fullmatch(namespace):
            raise ValueError(f"{namespace!r} is not a Kubernetes namespace name")
    if expires_at is not None and expires_at <= timezone.now():
        raise ValueError("the expiry time is in the past")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken.objects.create(
        name=name.strip(),
        token_hash=token_hash(token),
        prefix=token[:12],
        namespaces=wanted,
        all_namespaces=all_namespaces,
        role=role,
        expires_at=expires_at,
    )
    return row, token


def api_token_revoke(*, token_id: int) -> ApiToken:
    """Revoke a token now (idempotent: an already revoked token keeps its revocation time)."""
    row = ApiToken.objects.get(pk=token_id)
    if row.revoked_at is None:
        ApiToken.objects.filter(pk=token_id, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        row.refresh_from_db()
    return row


# =============================================================================================
# Watch state


def watch_state_save(*, key: str, resource_version: str) -> None:
    WatchState.objects.update_or_create(key=key, defaults={"resource_version": resource_version})


def watch_event_ingest(
    *, key: str, obj: dict[str, Any] | None, resource_version: str
) -> IngestResult | None:
    """Store one watched object and the stream's new position in one transaction, so a restart
    resumes exactly after the last stored event."""
    with transaction.atomic():
        result = None
        if obj is not None:
            result = records_ingest(data=orjson.dumps(obj), namespaces_allowed=None, source="watch")
        if resource_version:
            watch_state_save(key=key, resource_version=resource_version)
    return result
