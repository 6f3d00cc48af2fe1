"""The hash chain over stored attestations, and signed checkpoints of it.

Entry ``n`` (1-based ``seq``) commits to the previous entry and to one attestation::

    entry_hash(n) = sha256( entry_hash(n-1) || envelope_sha256 || attestation_id as 8 bytes BE )

with ``entry_hash(0)`` = 32 zero bytes. Hashes are raw 32-byte digests inside the formula and
lowercase hex when stored or printed. A checkpoint is a DSSE envelope whose payload is
``{"length": n, "head": entry_hash(n) hex, "created": ...}``; keeping one outside the database
lets ``verify_store --checkpoint`` notice that the chain was cut back or rewritten.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import orjson

from . import dsse
from .errors import SigningError
from .signing import Signer

GENESIS = bytes(32)
CHECKPOINT_PAYLOAD_TYPE = "application/vnd.chainsweb.checkpoint+json"

ProblemKind = Literal["modified", "inserted", "removed", "rollback"]


def entry_hash(prev_hash: bytes, envelope_sha256: bytes, attestation_id: int) -> bytes:
    """The hash of one chain entry (module docstring)."""
    if len(prev_hash) != 32 or len(envelope_sha256) != 32:
        raise ValueError("hashes must be 32-byte sha256 digests")
    return hashlib.sha256(
        prev_hash + envelope_sha256 + attestation_id.to_bytes(8, "big", signed=False)
    ).digest()


@dataclass(frozen=True, slots=True)
class Link:
    """One stored chain entry, as read back from storage (hex strings as stored)."""

    seq: int
    attestation_id: int
    envelope_sha256: str
    prev_hash: str
    entry_hash: str


@dataclass(frozen=True, slots=True)
class Problem:
    """Something wrong with the chain, worded for a person."""

    kind: ProblemKind
    seq: int | None
    message: str


def _unhex(value: str) -> bytes | None:
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        return None
    return raw if len(raw) == 32 else None


def verify_links(links: Iterable[Link]) -> tuple[list[Problem], str, int]:
    """Check the links in ``seq`` order; return (problems, head hash hex, length).

    A gap in ``seq`` or a ``prev_hash`` that is not the previous entry's hash means entries were
    removed (or the order rewritten); an ``entry_hash`` that does not match its fields means an
    entry was modified. The head and length are those of the last entry read.
    """
    problems: list[Problem] = []
    expected_seq = 1
    prev = GENESIS
    length = 0
    for link in sorted(links, key=lambda item: item.seq):
        if link.seq != expected_seq:
            if link.seq > expected_seq:
                gone = (
                    f"entry {expected_seq}"
                    if link.seq == expected_seq + 1
                    else f"entries {expected_seq}..{link.seq - 1}"
                )
                problems.append(Problem("removed", expected_seq, f"chain {gone} removed"))
            else:  # duplicate seq: cannot happen with the unique constraint, but say so
                problems.append(Problem("inserted", link.seq, f"entry {link.seq} duplicated"))
        stored_prev = _unhex(link.prev_hash)
        if stored_prev != prev:
            problems.append(
                Problem(
                    "removed" if link.seq != expected_seq else "modified",
                    link.seq,
                    f"entry {link.seq} does not follow the previous entry "
                    "(prev_hash mismatch: an entry before it was removed, inserted or changed)",
                )
            )
        envelope = _unhex(link.envelope_sha256)
        recomputed = (
            entry_hash(stored_prev, envelope, link.attestation_id)
            if stored_prev is not None and envelope is not None
            else None
        )
        if recomputed is None or recomputed.hex() != link.entry_hash:
            problems.append(
                Problem(
                    "modified",
                    link.seq,
                    f"entry {link.seq} (attestation {link.attestation_id}) was modified: "
                    "its hash does not match its contents",
                )
            )
        prev = _unhex(link.entry_hash) or GENESIS
        expected_seq = link.seq + 1
        length = link.seq
    return problems, prev.hex() if length else GENESIS.hex(), length


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """Chain length and head hash at one moment."""

    length: int
    head: str
    created: str

    def payload(self) -> bytes:
        return orjson.dumps({"length": self.length, "head": self.head, "created": self.created})


def checkpoint_sign(checkpoint: Checkpoint, signer: Signer) -> bytes:
    """The checkpoint as DSSE envelope JSON, ready to write to a file."""
    return dsse.sign(checkpoint.payload(), signer, CHECKPOINT_PAYLOAD_TYPE).to_json()


def checkpoint_load(data: bytes, public_key_pem: str) -> Checkpoint:
    """Verify a checkpoint file's signature and read it; SigningError if it does not verify."""
    envelope = dsse.Envelope.from_json(data)
    if envelope.payload_type != CHECKPOINT_PAYLOAD_TYPE:
        raise SigningError(f"not a chainsweb checkpoint (payloadType {envelope.payload_type!r})")
    if not dsse.verify(envelope, public_key_pem):
        raise SigningError("the checkpoint signature does not verify with the checkpoint key")
    try:
        body = orjson.loads(envelope.payload)
        checkpoint = Checkpoint(
            length=int(body["length"]), head=str(body["head"]), created=str(body["created"])
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        raise SigningError("the checkpoint payload is malformed") from None
    return checkpoint


def checkpoint_compare(checkpoint: Checkpoint, links: dict[int, Link]) -> list[Problem]:
    """Rollback check: the chain must still hold the checkpoint's entry, unchanged."""
    length = max(links, default=0)
    if length < checkpoint.length:
        return [
            Problem(
                "rollback",
                None,
                f"the chain has {length} entries but the checkpoint of {checkpoint.created} "
                f"recorded {checkpoint.length}: the store was rolled back",
            )
        ]
    if checkpoint.length == 0:
        return []
    at = links.get(checkpoint.length)
    if at is None or at.entry_hash != checkpoint.head:
        return [
            Problem(
                "rollback",
                checkpoint.length,
                f"entry {checkpoint.length} differs from the checkpoint of {checkpoint.created}: "
                "the chain was rewritten since",
            )
        ]
    return []
