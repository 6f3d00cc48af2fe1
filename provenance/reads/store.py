"""``verify_store``: every attestation's verdict (``reads.verify``), every registered key, the
hash chain walked as a whole, and a checkpoint kept outside the database (rollback)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db.models import QuerySet

from provenance.core import chain
from provenance.models import Attestation, ChainEntry

from .verify import (
    PREVIOUS_HASH,
    VERIFY_COLUMNS,
    Links,
    Reason,
    Signed,
    Verdict,
    check,
    key_ring,
    signed_of_row,
    subject_links,
)

# How verify_store files each reason (provenance.core.chain.ProblemKind).
_STORE_KIND: dict[str, chain.ProblemKind] = {
    "not-in-chain": "inserted",
    "chain-unsigned": "inserted",
    "chain-link-broken": "removed",
}


@dataclass
class StoreReport:
    problems: list[chain.Problem] = field(default_factory=list)
    verdicts: dict[int, Verdict] = field(default_factory=dict)  # the failed ones
    attestations: int = 0
    length: int = 0
    head: str = chain.GENESIS.hex()

    @property
    def ok(self) -> bool:
        return not self.problems


def store_problem(reason: Reason, seq: int | None) -> chain.Problem:
    """A verdict's reason as verify_store prints it (MODIFIED, INSERTED or REMOVED)."""
    return chain.Problem(_STORE_KIND.get(reason.code, "modified"), seq, reason.message)


def store_verify(*, checkpoint: chain.Checkpoint | None = None) -> StoreReport:
    """Every attestation's verdict, every registered key, the chain's links, the checkpoint."""
    report = StoreReport()
    ring = key_ring()
    report.problems.extend(chain.Problem("modified", None, p) for p in ring.bundle.problems)
    for key_id, reason in ring.broken.items():
        report.problems.append(
            chain.Problem("modified", None, f"registered key {key_id}: public key {reason.message}")
        )
    links = {
        e["seq"]: e
        for e in ChainEntry.objects.values(
            "seq",
            "attestation_id",
            "envelope_sha256",
            "prev_hash",
            "entry_hash",
            "signed_by",
            "signature",
            "created",
        )
    }
    by_attestation = {e["attestation_id"]: e for e in links.values()}
    for rows in _store_batches():
        subjects = subject_links(row["id"] for row in rows)
        for row in rows:
            report.attestations += 1
            entry = by_attestation.get(row["id"])
            verdict = check(_store_signed(row, entry, links, subjects), ring)
            if not verdict.ok:
                report.verdicts[verdict.attestation] = verdict
                seq = entry["seq"] if entry else None
                report.problems.extend(store_problem(r, seq) for r in verdict.reasons)
    walked = [
        chain.Link(
            seq=e["seq"],
            attestation_id=e["attestation_id"],
            envelope_sha256=e["envelope_sha256"],
            prev_hash=e["prev_hash"],
            entry_hash=e["entry_hash"],
        )
        for e in links.values()
    ]
    problems, report.head, report.length = chain.verify_links(walked)
    report.problems.extend(problems)
    if checkpoint is not None:
        report.problems.extend(
            chain.checkpoint_compare(checkpoint, {link.seq: link for link in walked})
        )
    return report


_STORE_COLUMNS = VERIFY_COLUMNS[: VERIFY_COLUMNS.index("chain_entry__id")]


def _store_batches(size: int = 500) -> Iterator[list[dict[str, Any]]]:
    """Every attestation row, ``size`` at a time (each batch's subject links read at once)."""
    rows: QuerySet[Attestation, dict[str, Any]] = Attestation.objects.order_by("id").values(
        *_STORE_COLUMNS
    )
    batch: list[dict[str, Any]] = []
    for row in rows.iterator(chunk_size=size):
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _store_signed(
    row: Mapping[str, Any],
    entry: Mapping[str, Any] | None,
    links: Mapping[int, Any],
    subjects: Links,
) -> Signed:
    """A row of the whole-store scan, its chain entry and the one before it read once for all."""
    before = links.get(entry["seq"] - 1) if entry else None
    return signed_of_row(
        {
            **row,
            "chain_entry__id": entry["seq"] if entry else None,
            "chain_entry__seq": entry["seq"] if entry else None,
            "chain_entry__envelope_sha256": entry["envelope_sha256"] if entry else None,
            "chain_entry__prev_hash": entry["prev_hash"] if entry else None,
            "chain_entry__entry_hash": entry["entry_hash"] if entry else None,
            "chain_entry__signed_by": entry["signed_by"] if entry else "",
            "chain_entry__signature": entry["signature"] if entry else "",
            "chain_entry__created": entry["created"] if entry else None,
            PREVIOUS_HASH: before["entry_hash"] if before else None,
        },
        subjects,
    )
