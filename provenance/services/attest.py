"""Compute, sign and store: the statements a run's namespace settings ask for, each signed
(DSSE), stored with its subjects and appended to the hash chain in one transaction."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from provenance import metrics
from provenance.config import SETTINGS_FIELDS, NamespaceConfig
from provenance.core.chain import GENESIS, entry_hash
from provenance.core.digests import index_form
from provenance.core.errors import ProvenanceError, SigningError
from provenance.core.intoto import statement_bytes
from provenance.core.plan import PlannedStatement, plan_statements
from provenance.core.signing import KeySigner
from provenance.core.slsa.config import SlsaConfig
from provenance.core.tekton import PipelineRun, Run
from provenance.core.trust import chain_entry_sign
from provenance.models import (
    Attestation,
    ChainEntry,
    ComputeStatus,
    RunKind,
    RunRecord,
    SigningKey,
    top_level_q,
)
from provenance.reads.namespaces import namespace_settings_effective
from provenance.reads.runs import parse_run, pruned_note, records_source

from .keys import checkpoint_signer, default_key, default_keys, signer_load
from .limits import engine_limits
from .linking import parent_of
from .publish import publications_plan

logger = logging.getLogger(__name__)

# pg_advisory_xact_lock key: one writer at a time appends to the chain.
CHAIN_LOCK = 7_411_001


def canonical_json(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True, slots=True)
class ComputeOutcome:
    status: str
    reason: str = ""
    created: tuple[int, ...] = field(default_factory=tuple)
    # For the metrics of what was created, so they need no query of their own: the kind of the
    # top-level run signed, and when the newest of its records was stored.
    kind: str = ""
    stored: datetime | None = None
    # The run whose compute_attempts the status write set back to 0 (run_compute then need not).
    attempts_cleared: int | None = None


def attestations_generate(*, run_id: int, namespace: str | None = None) -> ComputeOutcome:
    """Compute, sign and store what the namespace's settings ask for this run (idempotent).
    ``namespace``: the run's, when the caller has read it already.

    Transient database errors propagate (the task retries them); engine and key errors are
    permanent and stored on the run with their reason.
    """
    try:
        if namespace is None:
            namespace = (
                RunRecord.objects.filter(pk=run_id).values_list("namespace", flat=True).first()
            )
        if namespace is None:
            return ComputeOutcome(status="missing", reason=f"run {run_id} does not exist")
        config, own_key = namespace_settings_effective(namespace)
        known = default_keys()
        # Outside the compute transaction: a key file must not outlive a rolled-back row.
        key = own_key or default_key(SigningKey.Purpose.ATTESTATION, known)
        try:
            signer: KeySigner | None = signer_load(key)
        except SigningError:
            signer = None  # a run with something to sign fails on it below, naming the key
        # The chain key (created on first use) only once the attestation key works: no key is
        # made up while signing is broken.
        chain_signer = checkpoint_signer(known) if signer is not None else None
        with transaction.atomic():
            return _generate(run_id, config, key, signer, chain_signer)
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


def run_compute(*, run_id: int) -> ComputeOutcome:
    """What a worker runs for one run: :func:`attestations_generate`, counted. A compute that
    never finishes (its worker killed: out of memory, SIGKILL) leaves the count raised, and its
    late-acked message comes back; after ``COMPUTE_MAX_ATTEMPTS`` such starts the run is failed
    with a reason instead of being computed again, so it cannot crash workers for ever."""
    with connection.cursor() as cursor:  # one statement: counted, read back with the namespace
        cursor.execute(
            "UPDATE provenance_runrecord SET compute_attempts = compute_attempts + 1 "
            "WHERE id = %s RETURNING compute_attempts, namespace",
            [run_id],
        )
        row = cursor.fetchone()
    if row is None:
        return ComputeOutcome(status="missing", reason=f"run {run_id} does not exist")
    started, namespace = row
    limit = settings.COMPUTE_MAX_ATTEMPTS
    outcome: ComputeOutcome | None = None
    try:
        if started > limit:
            reason = (
                f"gave up: computing this run stopped its worker {started - 1} times (killed, "
                f"for example out of memory) and is not tried again (COMPUTE_MAX_ATTEMPTS={limit});"
                " a new version of the record, or requeue_pending --include-failed, tries again"
            )
            metrics.compute_failed(run_id, RuntimeError(reason))
            run_compute_fail(run_id=run_id, reason=reason)
            return ComputeOutcome(status=ComputeStatus.FAILED, reason=reason)
        outcome = attestations_generate(run_id=run_id, namespace=namespace)
        return outcome
    finally:  # not reached when the worker dies: that is what the count is for
        if outcome is None or outcome.attempts_cleared != run_id:
            RunRecord.objects.filter(pk=run_id).update(compute_attempts=0)


def run_compute_fail(*, run_id: int, reason: str) -> None:
    """Record a permanent failure on the run (visible in the API, admin and dashboard)."""
    logger.warning("computing run %s failed: %s", run_id, reason)
    RunRecord.objects.filter(pk=run_id).update(
        compute_status=ComputeStatus.FAILED,
        compute_reason=reason[:2000],
        compute_updated=timezone.now(),
    )


def _set_status(record: RunRecord, status: str, reason: str) -> ComputeOutcome:
    """The run's new status; its compute has finished, so its attempt count goes back to 0 in
    the same statement (and the same transaction: a rollback keeps the count)."""
    RunRecord.objects.filter(pk=record.pk).update(
        compute_status=status,
        compute_reason=reason,
        compute_updated=timezone.now(),
        compute_attempts=0,
    )
    return ComputeOutcome(status=status, reason=reason, attempts_cleared=record.pk)


# What computing a PipelineRun reads of its TaskRuns (parse_run, records_source, the sort
# below, the metrics): each column left out is one less value to read and convert per child.
CHILD_FIELDS = (
    "kind", "namespace", "uid", "name", "raw", "pruned_at", "source_kind", "start_time", "updated",
)  # fmt: skip


def _children_of(record: RunRecord) -> list[RunRecord]:
    """The PipelineRun's TaskRuns: of its namespace only, whatever uid another one names."""
    children = list(
        RunRecord.objects.filter(
            kind=RunKind.TASK_RUN, namespace=record.namespace, parent_uid=record.uid
        ).only(*CHILD_FIELDS)
    )
    # Independent of arrival order, so replays give the same statement bytes. The engine then
    # puts the children named in childReferences in that order, as Chains does.
    far_future = timezone.now().replace(year=9999)
    children.sort(key=lambda c: (c.start_time or far_future, c.name, c.uid))
    return children


def _generate(
    run_id: int,
    config: NamespaceConfig,
    key: SigningKey,
    signer: KeySigner | None,
    chain_signer: KeySigner | None,
) -> ComputeOutcome:
    """``config`` and ``key``: the namespace's effective settings and attestation key (a
    TaskRun's parent is in its namespace); ``signer``: that key's signer, None when it could
    not be loaded (loaded again here, to fail with its reason, only if something is to be
    signed); ``chain_signer``: the chain key."""
    # Only the top-level row is locked (see _lock_rows for the order): one compute per run.
    # What is queued is nearly always a top-level run: locked and read in one query.
    locked = RunRecord.objects.select_for_update().filter(top_level_q(), pk=run_id).first()
    if locked is None:
        child = RunRecord.objects.filter(pk=run_id).first()
        if child is None:
            return ComputeOutcome(status="missing", reason=f"run {run_id} does not exist")
        parent = parent_of(child)
        if parent is None:
            return ComputeOutcome(status=ComputeStatus.WAITING, reason="no parent yet")
        locked = RunRecord.objects.select_for_update().get(pk=parent.pk)
    record = locked
    if record.is_pruned:
        # Nothing can be computed without the raw record, and nothing needs to be: it was
        # pruned only once signed, and its attestations stay (services.retention).
        status = ComputeStatus.SIGNED
        if record.compute_status != status:
            return _set_status(record, status, pruned_note(record))
        return ComputeOutcome(status=status, reason=record.compute_reason)
    limits = engine_limits()
    if record.kind == RunKind.PIPELINE_RUN:
        # Counted before anything is loaded: a run over the limit costs one query.
        stored = RunRecord.objects.filter(
            kind=RunKind.TASK_RUN, namespace=record.namespace, parent_uid=record.uid
        ).count()
        limits.check_tasks(stored, f"PipelineRun {record.name}")
    children = _children_of(record) if record.kind == RunKind.PIPELINE_RUN else []
    run = parse_run(record, children)
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
    source = records_source([record, *children])
    slsa = config.slsa_for(source, taskrun=record.kind == RunKind.TASK_RUN)
    plan = plan_statements(run, slsa, config.scope, config.emit, source=source, limits=limits)
    created: list[int] = []
    if plan.statements:
        if signer is None:
            signer = signer_load(key)
        if chain_signer is None:
            chain_signer = checkpoint_signer()
        for planned in plan.statements:
            attestation = _attestation_store(
                record, run, planned, config, slsa, signer, chain_signer
            )
            if attestation is not None:
                created.append(attestation.pk)
        if created and config.oci_publish:
            # Pending rows in this transaction: whatever a registry does, nothing is lost.
            publications_plan(attestation_ids=created, config=config)
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
    return ComputeOutcome(
        status=outcome.status,
        reason=outcome.reason,
        attempts_cleared=outcome.attempts_cleared,
        created=tuple(created),
        kind=record.kind,
        stored=max(r.updated for r in (record, *children)),
    )


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
    config: NamespaceConfig,
    slsa: SlsaConfig,
    signer: KeySigner,
    chain_signer: KeySigner,
) -> Attestation | None:
    payload = statement_bytes(planned.statement)
    statement_sha = sha256_hex(payload)
    subject_key = _subject_key(planned)
    # Only what is compared: not the current one's statement and envelope bytes.
    current = (
        Attestation.objects.filter(
            run=record, scope=planned.scope, subject_key=subject_key, superseded_by__isnull=True
        )
        .order_by("-id")
        .only("id", "statement_sha256", "key_id")
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
        settings_values=config.values(),
        key_id=signer.key_id,
        statement_sha256=statement_sha,
        supersedes=current.pk if current else None,
    )
    # With no current attestation there is none at all for these subjects (a superseded one has
    # a current successor), so nothing can have these inputs; the run's row lock keeps it so.
    if current is not None and Attestation.objects.filter(inputs_digest=digest).exists():
        return None
    envelope = metrics.sign(payload, signer).to_json()
    attestation = Attestation.objects.create(
        run=record,
        namespace=record.namespace,
        format=slsa.format,
        scope=planned.scope,
        emit=config.emit,
        subject_key=subject_key,
        run_status=planned.run_status[:16],
        run_reason=planned.run_reason[:253],
        statement=payload,
        statement_sha256=statement_sha,
        envelope=envelope,
        envelope_sha256=sha256_hex(envelope),
        key_id=signer.key_id,
        settings=config.values(),
        inputs_digest=digest,
    )
    _subjects_link(attestation, planned)
    _chain_append(attestation, chain_signer)
    if current is not None:
        # The one column the application ever changes on an attestation (docs/backend.md).
        Attestation.objects.filter(pk=current.pk, superseded_by__isnull=True).update(
            superseded_by=attestation
        )
    return attestation


def _subjects_link(attestation: Attestation, planned: PlannedStatement) -> None:
    """Link a new attestation to the index rows of its statement's subjects, each digest in its
    index form (``provenance.core.digests.index_form``), the one every lookup uses; two
    spellings of one digest are one row. Two statements: the artifacts (created if new, in a
    sorted order so concurrent computes never deadlock), then the links. The second has to be
    a statement of its own: it then sees an artifact another compute committed while this one
    waited on it."""
    wanted = sorted(
        {
            (name, *index_form(algorithm, hex_value))
            for name, digest in planned.subjects
            for algorithm, hex_value in digest
        }
    )
    if not wanted:
        return
    uris, algorithms, hexes = ([row[i] for row in wanted] for i in range(3))
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO provenance_artifact (uri, algorithm, hex) "
            "SELECT * FROM unnest(%s::text[], %s::text[], %s::text[]) ON CONFLICT DO NOTHING",
            [uris, algorithms, hexes],
        )
        cursor.execute(
            "INSERT INTO provenance_attestation_subjects (attestation_id, artifact_id) "
            "SELECT %s, artifact.id FROM provenance_artifact AS artifact "
            "JOIN unnest(%s::text[], %s::text[], %s::text[]) AS wanted(uri, algorithm, hex) "
            "ON artifact.algorithm = wanted.algorithm AND artifact.hex = wanted.hex "
            "AND artifact.uri = wanted.uri",
            [attestation.pk, uris, algorithms, hexes],
        )


def _chain_append(attestation: Attestation, chain_signer: KeySigner) -> ChainEntry:
    """Append the attestation's entry, signed by the chain key (only the workers hold it, so a
    writer with database access alone cannot append an entry that verifies)."""
    with connection.cursor() as cursor:
        # Held until this transaction ends: appends are serialized across workers.
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CHAIN_LOCK])
    last = ChainEntry.objects.order_by("-seq").first()
    prev = bytes.fromhex(last.entry_hash) if last else GENESIS
    digest = entry_hash(prev, bytes.fromhex(attestation.envelope_sha256), attestation.pk)
    seq = (last.seq + 1) if last else 1
    now = timezone.now()
    return ChainEntry.objects.create(
        seq=seq,
        attestation=attestation,
        envelope_sha256=attestation.envelope_sha256,
        prev_hash=prev.hex(),
        entry_hash=digest.hex(),
        created=now,
        signed_by=chain_signer.key_id,
        signature=chain_entry_sign(
            chain_signer, seq=seq, entry_hash=digest.hex(), attestation_id=attestation.pk, at=now
        ),
    )
