"""The one verifier: ``verify(attestation) -> Verdict``.

The attestation page, the API (``verified``, ``problems``), the deployment gate, the JSON Lines
download and ``verify_store`` all ask this module, so they give the same verdict with the same
reasons. A stored attestation is trusted only when every check below passes, read from the
database *now*:

- the sha256 of the envelope and of the statement equal their stored hashes;
- the envelope reads as DSSE, its payload type is in-toto and its payload is the stored statement;
- it is signed under the attestation's key id, and the signature verifies with the public key
  the trust bundle holds under that id (``reads.trust``: files outside the database);
- the key's state (:func:`key_state`): in the trust bundle, as an attestation key of the
  deployment (default) or of the attestation's namespace, not revoked before the attestation
  was signed; and when registered, its PEM loads, hashes to its id and is the bundle's key;
- the attestation has a hash-chain entry holding the same envelope hash, whose own hash matches
  its contents, whose link follows the entry before it, and which the chain key signed (only
  the workers hold it): that signature also vouches for when the attestation was signed;
- every subject the attestation is indexed under (its subject links) is one its signed
  statement names.

``provenance.reads.store`` runs the same checks over the whole store for ``verify_store``.

Each failed check is a :class:`Reason`: a stable code and a sentence for a person (docs/api.md
lists them). A verdict may also carry notes, which do not fail it: an attestation signed before
its key was revoked verifies, flagged. Chain entries and keys are rows too, so the link check
also catches an entry deleted or moved, and the key check a public key swapped in the database.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db.models import OuterRef, QuerySet, Subquery

from provenance.core import chain, dsse
from provenance.core.digests import index_form
from provenance.core.errors import ProvenanceError
from provenance.core.intoto import PAYLOAD_TYPE
from provenance.core.statements import StatementError, read_statement
from provenance.models import Attestation, ChainEntry

from .trust import KeyRing, chain_signature_valid, key_ring

__all__ = ["KeyRing", "key_ring"]  # read from here by every reader of verdicts

# Reason codes, in the order a headline is chosen: the first one present names the failure.
HEADLINES = {
    "envelope-unreadable": "Envelope unreadable",
    "key-unknown": "Unknown key",
    "key-untrusted": "Key not trusted",
    "key-revoked": "Key revoked",
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
    "subject-not-signed": "Tampered",
    "not-in-chain": "Not in the chain",
    "chain-unsigned": "Chain not signed",
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
    notes: tuple[Reason, ...] = ()  # worth knowing, not failing (e.g. ``key-revoked-later``)

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
    signed_by: str = ""
    signature: str = ""
    created: datetime | None = None


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
    # The (uri, algorithm, hex) of each subject link, as the artifact index stores them.
    subjects: frozenset[tuple[str, str, str]] = frozenset()


# =============================================================================================
# Keys


def key_state(signed: Signed, ring: KeyRing) -> list[Reason]:
    """Whether the key an attestation names may vouch for it (empty: it may).

    The one place a key's trust is decided, for every reader: registered, and the trust bundle
    must hold it as an attestation key of the deployment or of the attestation's namespace; the
    database's row must be that key (its PEM hashing to its id). Revocation depends on when
    the attestation was signed (:func:`_revocation`).
    """
    label = f"attestation {signed.pk}"
    key = ring.keys.get(signed.key_id)
    trusted = ring.trusted(signed.key_id)
    if key is None:
        return [Reason("key-unknown", f"{label}: key {signed.key_id} is not registered")]
    reasons = []
    if trusted is None:
        reasons.append(
            Reason(
                "key-untrusted",
                f"{label}: key {signed.key_id} is not in the trust bundle (TRUSTED_KEYS_DIR): "
                "a key registered only in the database vouches for nothing",
            )
        )
    elif trusted.purpose != "attestation":
        reasons.append(
            Reason(
                "key-purpose",
                f"{label}: key {signed.key_id} is a {trusted.purpose} key, not an attestation key",
            )
        )
    elif not trusted.vouches_for(signed.namespace):
        reasons.append(
            Reason(
                "key-namespace",
                f"{label}: the trust bundle assigns key {signed.key_id} to {trusted.scope}, "
                f"not to namespace {signed.namespace}",
            )
        )
    broken = ring.broken.get(signed.key_id)
    if broken is not None:
        reasons.append(
            Reason(broken.code, f"{label}: registered key {key.key_id} {broken.message}")
        )
    return reasons


def _revocation(signed: Signed, ring: KeyRing, signed_at: datetime | None) -> Iterator[Reason]:
    """``key-revoked`` (a reason) when the key was revoked before the attestation was signed,
    or when the chain does not vouch for when it was; ``key-revoked-later`` (a note) else."""
    trusted = ring.trusted(signed.key_id)
    if trusted is None or trusted.revoked is None:
        return
    revoked = trusted.revoked
    label = f"attestation {signed.pk}"
    why = f"key {signed.key_id} was revoked at {revoked.at.isoformat()} ({revoked.reason})"
    if signed_at is None:
        yield Reason(
            "key-revoked", f"{label}: {why}; no signed chain entry says when it was signed"
        )
    elif signed_at >= revoked.at:
        yield Reason(
            "key-revoked", f"{label}: {why}; it was signed after, at {signed_at.isoformat()}"
        )
    else:
        yield Reason(
            "key-revoked-later", f"{label}: signed at {signed_at.isoformat()}, before {why}"
        )


# =============================================================================================
# The checks


def check(signed: Signed, ring: KeyRing) -> Verdict:
    """Every check of the module docstring, on one attestation."""
    found = list(_reasons(signed, ring))
    notes = tuple(r for r in found if r.code in NOTES)
    return Verdict(signed.pk, tuple(r for r in found if r.code not in NOTES), notes)


# Codes that flag an attestation without failing it.
NOTES = frozenset({"key-revoked-later"})


def _reasons(signed: Signed, ring: KeyRing) -> Iterator[Reason]:
    label = f"attestation {signed.pk}"
    if hashlib.sha256(signed.envelope).hexdigest() != signed.envelope_sha256:
        yield Reason("envelope-modified", f"{label}: envelope modified")
    if hashlib.sha256(signed.statement).hexdigest() != signed.statement_sha256:
        yield Reason("statement-modified", f"{label}: statement modified")
    chain_reasons = list(_chain_reasons(signed, ring))
    yield from chain_reasons
    signed_at = signed.link.created if signed.link is not None and not chain_reasons else None
    yield from _revocation(signed, ring, signed_at)
    yield from _subject_reasons(signed)
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


def _subject_reasons(signed: Signed) -> Iterator[Reason]:
    """Each subject link must be a subject the signed statement names (a link added later would
    make the gate and searches find the attestation under an artifact it never vouched for)."""
    if not signed.subjects:
        return
    try:
        statement = read_statement(signed.statement)
    except StatementError:
        named: set[tuple[str, str, str]] = set()
    else:
        named = {
            (name, *index_form(algorithm, hex_value))
            for subject in statement.subjects
            for name in {subject.name, subject.uri}
            for algorithm, hex_value in subject.digests
        }
    for uri, algorithm, hex_value in sorted(signed.subjects - named):
        yield Reason(
            "subject-not-signed",
            f"attestation {signed.pk} is indexed under {uri} {algorithm}:{hex_value}, "
            "which its signed statement does not name (a subject link added outside the app)",
        )


def _chain_reasons(signed: Signed, ring: KeyRing) -> Iterator[Reason]:
    label = f"attestation {signed.pk}"
    link = signed.link
    if link is None:
        yield Reason("not-in-chain", f"{label} is not in the chain (inserted outside the app)")
        return
    unsigned = chain_signature_valid(
        ring,
        signed_by=link.signed_by,
        signature=link.signature,
        seq=link.seq,
        entry_hash=link.entry_hash,
        attestation_id=signed.pk,
        at=link.created or datetime.min.replace(tzinfo=UTC),
    )
    if unsigned:
        yield Reason("chain-unsigned", f"{label}: chain entry {link.seq} {unsigned}")
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
    "chain_entry__signed_by",
    "chain_entry__signature",
    "chain_entry__created",
    PREVIOUS_HASH,
)

Links = Mapping[int, frozenset[tuple[str, str, str]]]


def subject_links(ids: Iterable[int]) -> dict[int, frozenset[tuple[str, str, str]]]:
    """The subject links of these attestations (one query): what the index finds each under."""
    found: dict[int, set[tuple[str, str, str]]] = {}
    rows = Attestation.subjects.through.objects.filter(attestation_id__in=list(ids)).values_list(
        "attestation_id", "artifact__uri", "artifact__algorithm", "artifact__hex"
    )
    for attestation_id, uri, algorithm, hex_value in rows:
        found.setdefault(attestation_id, set()).add((uri, algorithm, hex_value))
    return {pk: frozenset(links) for pk, links in found.items()}


def with_chain_link(qs: QuerySet[Attestation]) -> QuerySet[Attestation]:
    """``qs`` joined to each attestation's chain entry and the hash of the entry before it."""
    return qs.select_related("chain_entry").annotate(**{PREVIOUS_HASH: _PREVIOUS_ENTRY_HASH})


def _previous(seq: int, found: str | None) -> str | None:
    return chain.GENESIS.hex() if seq == 1 else found


def signed_of_row(row: Mapping[str, Any], links: Links) -> Signed:
    """A row of ``VERIFY_COLUMNS``, and the subject links of its attestation."""
    link = None
    if row["chain_entry__id"] is not None:
        seq = row["chain_entry__seq"]
        link = ChainLink(
            seq=seq,
            envelope_sha256=row["chain_entry__envelope_sha256"],
            prev_hash=row["chain_entry__prev_hash"],
            entry_hash=row["chain_entry__entry_hash"],
            previous=_previous(seq, row[PREVIOUS_HASH]),
            signed_by=row["chain_entry__signed_by"],
            signature=row["chain_entry__signature"],
            created=row["chain_entry__created"],
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
        subjects=links.get(row["id"], frozenset()),
    )


def signed_of(attestation: Attestation, links: Links) -> Signed:
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
            signed_by=entry.signed_by,
            signature=entry.signature,
            created=entry.created,
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
        subjects=links.get(attestation.pk, frozenset()),
    )


# =============================================================================================
# Entry points


def verify(attestation: Attestation, ring: KeyRing | None = None) -> Verdict:
    """The verdict on one stored attestation, checked now."""
    rows = getattr(attestation, "subject_rows", None)  # annotated by reads.attestations
    links = (
        {attestation.pk: frozenset((r["uri"], r["algorithm"], r["hex"]) for r in rows)}
        if rows is not None
        else subject_links([attestation.pk])
    )
    return check(signed_of(attestation, links), ring or key_ring())


def verify_many(attestations: Sequence[Attestation]) -> dict[int, Verdict]:
    """Verdicts by id; the keys are read once, and only when there are attestations."""
    if not attestations:
        return {}
    ring = key_ring()
    links = subject_links(a.pk for a in attestations)
    return {a.pk: check(signed_of(a, links), ring) for a in attestations}


def verify_rows(rows: Sequence[Mapping[str, Any]]) -> dict[int, Verdict]:
    """Verdicts by id of rows holding ``VERIFY_COLUMNS``."""
    if not rows:
        return {}
    ring = key_ring()
    links = subject_links(row["id"] for row in rows)
    return {row["id"]: check(signed_of_row(row, links), ring) for row in rows}


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
    ids = list(candidates)
    links = subject_links(ids)
    rows = with_chain_link(Attestation.objects.filter(pk__in=ids))
    return [
        row["id"]
        for row in rows.values(*VERIFY_COLUMNS).iterator(chunk_size=500)
        if check(signed_of_row(row, links), ring).ok == want
    ]
