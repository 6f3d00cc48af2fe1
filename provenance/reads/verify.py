"""The one verifier: ``verify(attestation) -> Verdict``.

The attestation page, the API (``verified``, ``problems``), the deployment gate, the JSON Lines
download and ``verify_store`` all ask this module, so they give the same verdict with the same
reasons. A stored attestation is trusted only when every check below passes, read from the
database *now*:

- the sha256 of the envelope and of the statement equal their stored hashes;
- the envelope reads as DSSE, its payload type is in-toto and its payload is the stored statement;
- it is signed under the attestation's key id, and the signature verifies with the registered
  public key of that id;
- the key's state (:func:`key_state`): registered, its PEM loads and hashes to its id, an
  attestation key, of the deployment or of the attestation's namespace;
- the attestation has a hash-chain entry holding the same envelope hash, whose own hash matches
  its contents and whose link follows the entry before it.

``provenance.reads.store`` runs the same checks over the whole store for ``verify_store``.

Each failed check is a :class:`Reason`: a stable code and a sentence for a person (docs/api.md
lists them). Chain entries and keys are rows too, so the link check also catches an entry
deleted or moved, and the key check a public key swapped in the database.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import OuterRef, QuerySet, Subquery

from provenance.core import chain, dsse
from provenance.core.errors import ProvenanceError, SigningError
from provenance.core.intoto import PAYLOAD_TYPE
from provenance.core.signing import PublicKey, key_id_of, load_public_key
from provenance.models import Attestation, ChainEntry, SigningKey

# Reason codes, in the order a headline is chosen: the first one present names the failure.
HEADLINES = {
    "envelope-unreadable": "Envelope unreadable",
    "key-unknown": "Unknown key",
    "signature-invalid": "Signature invalid",
    "key-unreadable": "Key not trusted",
    "key-mismatch": "Key not trusted",
    "key-purpose": "Key not trusted",
    "key-namespace": "Key not trusted",
    "key-id-mismatch": "Key not trusted",
    "envelope-modified": "Tampered",
    "statement-modified": "Tampered",
    "payload-mismatch": "Tampered",
    "payload-type": "Tampered",
    "not-in-chain": "Not in the chain",
    "chain-envelope": "Chain broken",
    "chain-entry-modified": "Chain broken",
    "chain-link-broken": "Chain broken",
}


@dataclass(frozen=True, slots=True)
class Reason:
    """Why an attestation is not trusted: a stable ``code`` (``HEADLINES``) and a sentence."""

    code: str
    message: str


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of :func:`verify`: trusted when there is no reason against it."""

    attestation: int
    reasons: tuple[Reason, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.reasons

    @property
    def headline(self) -> str:
        """Two or three words for a badge: ``Verified``, or the most telling failure."""
        if self.ok:
            return "Verified"
        codes = {r.code for r in self.reasons}
        return next((words for code, words in HEADLINES.items() if code in codes), "Not verified")

    @property
    def messages(self) -> list[str]:
        return [r.message for r in self.reasons]

    @property
    def codes(self) -> list[str]:
        return [r.code for r in self.reasons]


@dataclass(frozen=True, slots=True)
class ChainLink:
    """An attestation's chain entry, and the hash of the entry before it (``previous``: None
    when that entry is missing; the genesis hash for entry 1)."""

    seq: int
    envelope_sha256: str
    prev_hash: str
    entry_hash: str
    previous: str | None


@dataclass(frozen=True, slots=True)
class Signed:
    """What the checks read of one stored attestation (from a row or a model instance)."""

    pk: int
    namespace: str
    key_id: str
    envelope: bytes
    statement: bytes
    envelope_sha256: str
    statement_sha256: str
    link: ChainLink | None


# =============================================================================================
# Keys


@dataclass(frozen=True, slots=True)
class KeyRing:
    """The registered keys by id, each PEM loaded once for every attestation a read checks, and
    what is wrong with a key in itself (keyed by id: its PEM does not load or match its id)."""

    keys: dict[str, SigningKey]
    loaded: dict[str, PublicKey] = field(default_factory=dict)
    broken: dict[str, Reason] = field(default_factory=dict)


def key_ring() -> KeyRing:
    """Every registered key (one query), under its id and, for a key registered before key ids
    became SSH fingerprints, under the id its older attestations carry too."""
    keys: dict[str, SigningKey] = {}
    loaded: dict[str, PublicKey] = {}
    broken: dict[str, Reason] = {}
    for key in SigningKey.objects.all():
        ids = [key.key_id, *([key.legacy_key_id] if key.legacy_key_id else [])]
        keys.update(dict.fromkeys(ids, key))
        try:
            public = load_public_key(key.public_key_pem)
        except SigningError as exc:
            broken.update(dict.fromkeys(ids, Reason("key-unreadable", f"cannot be read: {exc}")))
            continue
        loaded.update(dict.fromkeys(ids, public))
        if key_id_of(public) != key.key_id:
            broken.update(dict.fromkeys(ids, Reason("key-mismatch", "does not match its id")))
    return KeyRing(keys=keys, loaded=loaded, broken=broken)


def key_state(signed: Signed, ring: KeyRing) -> list[Reason]:
    """Whether the key an attestation names may vouch for it (empty: it may).

    The one place a key's trust is decided, for every reader: registered, readable, its PEM
    hashing to its id, meant for attestations, and the deployment's or the attestation's own
    namespace's key.
    """
    label = f"attestation {signed.pk}"
    key = ring.keys.get(signed.key_id)
    if key is None:
        return [Reason("key-unknown", f"{label}: key {signed.key_id} is not registered")]
    reasons = []
    broken = ring.broken.get(key.key_id)
    if broken is not None:
        reasons.append(
            Reason(broken.code, f"{label}: registered key {key.key_id} {broken.message}")
        )
    if key.purpose != SigningKey.Purpose.ATTESTATION:
        reasons.append(
            Reason(
                "key-purpose",
                f"{label}: key {key.key_id} is a {key.purpose} key, not an attestation key",
            )
        )
    if key.namespace and key.namespace != signed.namespace:
        reasons.append(
            Reason(
                "key-namespace",
                f"{label}: key {key.key_id} belongs to namespace {key.namespace}, "
                f"not {signed.namespace}",
            )
        )
    return reasons


# =============================================================================================
# The checks


def check(signed: Signed, ring: KeyRing) -> Verdict:
    """Every check of the module docstring, on one attestation."""
    return Verdict(signed.pk, tuple(_reasons(signed, ring)))


def _reasons(signed: Signed, ring: KeyRing) -> Iterator[Reason]:
    label = f"attestation {signed.pk}"
    if hashlib.sha256(signed.envelope).hexdigest() != signed.envelope_sha256:
        yield Reason("envelope-modified", f"{label}: envelope modified")
    if hashlib.sha256(signed.statement).hexdigest() != signed.statement_sha256:
        yield Reason("statement-modified", f"{label}: statement modified")
    yield from _chain_reasons(signed)
    try:
        envelope = dsse.Envelope.from_json(signed.envelope)
    except ProvenanceError as exc:
        yield Reason("envelope-unreadable", f"{label}: envelope unreadable: {exc}")
        yield from key_state(signed, ring)
        return
    if envelope.payload != signed.statement:
        yield Reason("payload-mismatch", f"{label}: payload is not the statement")
    if envelope.payload_type != PAYLOAD_TYPE:
        yield Reason(
            "payload-type",
            f"{label}: payload type is {envelope.payload_type!r}, not {PAYLOAD_TYPE}",
        )
    key_ids = sorted({s.keyid for s in envelope.signatures})
    if signed.key_id not in key_ids:
        yield Reason(
            "key-id-mismatch",
            f"{label}: the envelope is signed by {', '.join(key_ids) or 'no key id'}, "
            f"not by its key {signed.key_id}",
        )
    yield from key_state(signed, ring)
    public = ring.loaded.get(signed.key_id)
    if public is not None and not dsse.verify(envelope, public, key_id=signed.key_id):
        yield Reason(
            "signature-invalid", f"{label}: signature does not verify with {signed.key_id}"
        )


def _chain_reasons(signed: Signed) -> Iterator[Reason]:
    label = f"attestation {signed.pk}"
    link = signed.link
    if link is None:
        yield Reason("not-in-chain", f"{label} is not in the chain (inserted outside the app)")
        return
    if link.envelope_sha256 != signed.envelope_sha256:
        yield Reason("chain-envelope", f"{label}: envelope differs from chain entry {link.seq}")
    try:
        recomputed = chain.entry_hash(
            bytes.fromhex(link.prev_hash), bytes.fromhex(link.envelope_sha256), signed.pk
        ).hex()
    except ValueError:
        recomputed = ""
    if recomputed != link.entry_hash:
        yield Reason(
            "chain-entry-modified",
            f"{label}: chain entry {link.seq} was modified: its hash does not match its contents",
        )
    if link.previous is None:
        yield Reason(
            "chain-link-broken",
            f"{label}: chain entry {link.seq} does not follow entry {link.seq - 1}, "
            "which is missing (removed)",
        )
    elif link.previous != link.prev_hash:
        yield Reason(
            "chain-link-broken",
            f"{label}: chain entry {link.seq} does not follow entry {link.seq - 1} "
            "(an entry before it was removed, inserted or changed)",
        )


# =============================================================================================
# Reading what the checks need

# The entry before an attestation's chain entry: one lookup on the unique seq index per row.
_PREVIOUS_ENTRY_HASH = Subquery(
    ChainEntry.objects.filter(seq=OuterRef("chain_entry__seq") - 1).values("entry_hash")[:1]
)
PREVIOUS_HASH = "chain_previous_hash"
# What the checks read of an attestation row (``values()``), with ``with_chain_link``.
VERIFY_COLUMNS = (
    "id",
    "namespace",
    "key_id",
    "envelope",
    "statement",
    "envelope_sha256",
    "statement_sha256",
    "chain_entry__id",
    "chain_entry__seq",
    "chain_entry__envelope_sha256",
    "chain_entry__prev_hash",
    "chain_entry__entry_hash",
    PREVIOUS_HASH,
)


def with_chain_link(qs: QuerySet[Attestation]) -> QuerySet[Attestation]:
    """``qs`` joined to each attestation's chain entry and the hash of the entry before it."""
    return qs.select_related("chain_entry").annotate(**{PREVIOUS_HASH: _PREVIOUS_ENTRY_HASH})


def _previous(seq: int, found: str | None) -> str | None:
    return chain.GENESIS.hex() if seq == 1 else found


def signed_of_row(row: Mapping[str, Any]) -> Signed:
    """A row of ``VERIFY_COLUMNS``."""
    link = None
    if row["chain_entry__id"] is not None:
        seq = row["chain_entry__seq"]
        link = ChainLink(
            seq=seq,
            envelope_sha256=row["chain_entry__envelope_sha256"],
            prev_hash=row["chain_entry__prev_hash"],
            entry_hash=row["chain_entry__entry_hash"],
            previous=_previous(seq, row[PREVIOUS_HASH]),
        )
    return Signed(
        pk=row["id"],
        namespace=row["namespace"],
        key_id=row["key_id"],
        envelope=bytes(row["envelope"]),
        statement=bytes(row["statement"]),
        envelope_sha256=row["envelope_sha256"],
        statement_sha256=row["statement_sha256"],
        link=link,
    )


def signed_of(attestation: Attestation) -> Signed:
    """A model instance; read through ``with_chain_link`` it costs no query."""
    entry: ChainEntry | None = getattr(attestation, "chain_entry", None)
    link = None
    if entry is not None:
        if hasattr(attestation, PREVIOUS_HASH):
            found = getattr(attestation, PREVIOUS_HASH)
        else:
            found = (
                ChainEntry.objects.filter(seq=entry.seq - 1)
                .values_list("entry_hash", flat=True)
                .first()
            )
        link = ChainLink(
            seq=entry.seq,
            envelope_sha256=entry.envelope_sha256,
            prev_hash=entry.prev_hash,
            entry_hash=entry.entry_hash,
            previous=_previous(entry.seq, found),
        )
    return Signed(
        pk=attestation.pk,
        namespace=attestation.namespace,
        key_id=attestation.key_id,
        envelope=bytes(attestation.envelope),
        statement=bytes(attestation.statement),
        envelope_sha256=attestation.envelope_sha256,
        statement_sha256=attestation.statement_sha256,
        link=link,
    )


# =============================================================================================
# Entry points


def verify(attestation: Attestation, ring: KeyRing | None = None) -> Verdict:
    """The verdict on one stored attestation, checked now."""
    return check(signed_of(attestation), ring or key_ring())


def verify_many(attestations: Sequence[Attestation]) -> dict[int, Verdict]:
    """Verdicts by id; the keys are read once, and only when there are attestations."""
    if not attestations:
        return {}
    ring = key_ring()
    return {a.pk: check(signed_of(a), ring) for a in attestations}


def verify_rows(rows: Sequence[Mapping[str, Any]]) -> dict[int, Verdict]:
    """Verdicts by id of rows holding ``VERIFY_COLUMNS``."""
    if not rows:
        return {}
    ring = key_ring()
    return {row["id"]: check(signed_of_row(row), ring) for row in rows}


def verified_ids(qs: QuerySet[Attestation], *, want: bool) -> list[int]:
    """Ids of ``qs`` whose verdict is ``want`` (the API's ``verified=`` filter).

    One signature check per candidate, so at most ``API_VERIFIED_FILTER_MAX`` of them: more is a
    ValueError asking for narrower filters.
    """
    limit = settings.API_VERIFIED_FILTER_MAX
    candidates = qs.order_by().values_list("pk", flat=True)
    if candidates[: limit + 1].count() > limit:
        raise ValueError(
            f"verified= re-checks every signature and more than {limit} attestations match "
            "the other filters; narrow them (namespace, subject_digest, created_after, ...)"
        )
    ring = key_ring()
    rows = with_chain_link(Attestation.objects.filter(pk__in=list(candidates)))
    return [
        row["id"]
        for row in rows.values(*VERIFY_COLUMNS).iterator(chunk_size=500)
        if check(signed_of_row(row), ring).ok == want
    ]
