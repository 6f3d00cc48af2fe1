"""Reads for the API, the commands and the dashboard; nothing here writes."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from provenance.core import chain, dsse
from provenance.core.errors import ProvenanceError, SigningError
from provenance.core.signing import key_id_of, load_public_key

from .models import ApiToken, Artifact, Attestation, ChainEntry, SigningKey
from .services import (
    namespace_settings_effective,
    signer_load,
    token_hash,
)

ROLE_RANK = {ApiToken.Role.VIEWER: 0, ApiToken.Role.INGESTER: 1, ApiToken.Role.ADMIN: 2}


def api_token_active(token: str) -> ApiToken | None:
    """The token's row if it exists, is not revoked and has not expired."""
    row = ApiToken.objects.filter(token_hash=token_hash(token)).first()
    if row is None or row.revoked_at is not None:
        return None
    if row.expires_at is not None and row.expires_at <= timezone.now():
        return None
    return row


def token_namespaces(token: ApiToken) -> set[str] | None:
    """The namespaces a token may use; None means all."""
    return set(token.namespaces) if token.namespaces else None


def parse_digest_filter(value: str) -> tuple[str, str]:
    """``alg:hex`` → (alg, hex), lower-cased; ValueError with a message otherwise."""
    algorithm, sep, hex_value = value.strip().partition(":")
    if not sep or not algorithm or not hex_value:
        raise ValueError("subject_digest must look like sha256:<hex>")
    hex_value = hex_value.lower()
    if any(c not in "0123456789abcdef" for c in hex_value):
        raise ValueError("the digest must be hexadecimal")
    return algorithm.lower(), hex_value


def attestation_list(
    *,
    namespaces: set[str] | None,
    subject_digest: str | None = None,
    subject_digest_prefix: str | None = None,
    namespace: str | None = None,
    pipeline_run: str | None = None,
    current: bool | None = None,
) -> QuerySet[Attestation]:
    """Attestations visible to the caller, newest first. Digest filters raise ValueError."""
    qs = Attestation.objects.select_related("run", "chain_entry").prefetch_related(
        Prefetch("subjects", queryset=Artifact.objects.order_by("uri", "algorithm"))
    )
    if namespaces is not None:
        qs = qs.filter(namespace__in=namespaces)
    if namespace:
        qs = qs.filter(namespace=namespace)
    if pipeline_run:
        qs = qs.filter(Q(run__name=pipeline_run) | Q(run__uid=pipeline_run))
    if subject_digest:
        algorithm, hex_value = parse_digest_filter(subject_digest)
        artifacts = Artifact.objects.filter(algorithm=algorithm, hex=hex_value)
        qs = qs.filter(subjects__in=artifacts)
    if subject_digest_prefix:
        algorithm, hex_value = parse_digest_filter(subject_digest_prefix)
        if len(hex_value) < 4:
            raise ValueError("a digest prefix needs at least 4 hex characters")
        artifacts = Artifact.objects.filter(algorithm=algorithm, hex__startswith=hex_value)
        qs = qs.filter(subjects__in=artifacts)
    if current is not None:
        qs = qs.filter(superseded_by__isnull=current)
    return qs.distinct().order_by("-id")


def attestation_get(*, pk: int, namespaces: set[str] | None) -> Attestation | None:
    qs = Attestation.objects.filter(pk=pk)
    if namespaces is not None:
        qs = qs.filter(namespace__in=namespaces)
    return qs.first()


def signing_key_list(*, namespaces: set[str] | None) -> QuerySet[SigningKey]:
    qs = SigningKey.objects.all()
    if namespaces is not None:
        qs = qs.filter(Q(namespace__in=namespaces) | Q(namespace=""))
    return qs.order_by("namespace", "id")


def namespace_settings_view(namespace: str) -> dict[str, Any]:
    values, key = namespace_settings_effective(namespace)
    from .models import NamespaceSettings

    return {
        "namespace": namespace,
        **values,
        "signing_key": key.key_id if key else None,
        "configured": NamespaceSettings.objects.filter(namespace=namespace).exists(),
    }


# =============================================================================================
# verify_store


@dataclass
class StoreReport:
    problems: list[chain.Problem] = field(default_factory=list)
    attestations: int = 0
    length: int = 0
    head: str = chain.GENESIS.hex()

    @property
    def ok(self) -> bool:
        return not self.problems


def _key_problems(keys: dict[str, SigningKey]) -> Iterator[chain.Problem]:
    for key in keys.values():
        try:
            public = load_public_key(key.public_key_pem)
        except SigningError as exc:
            yield chain.Problem("modified", None, f"registered key {key.key_id}: {exc}")
            continue
        if key_id_of(public) != key.key_id:
            yield chain.Problem(
                "modified", None, f"registered key {key.key_id}: public key does not match its id"
            )
            continue
        try:
            signer = signer_load(key)
        except SigningError:
            continue  # the private key lives elsewhere (another machine or a Secret): fine
        if signer.public_key_pem.strip() != key.public_key_pem.strip():
            yield chain.Problem(
                "modified", None, f"registered key {key.key_id} does not match its key file"
            )


def _attestation_problems(
    attestation: Attestation, keys: dict[str, SigningKey], entry: ChainEntry | None
) -> Iterator[chain.Problem]:
    pk = attestation.pk
    seq = entry.seq if entry else None
    envelope_bytes = bytes(attestation.envelope)
    statement = bytes(attestation.statement)
    if hashlib.sha256(envelope_bytes).hexdigest() != attestation.envelope_sha256:
        yield chain.Problem("modified", seq, f"attestation {pk}: envelope modified")
    if hashlib.sha256(statement).hexdigest() != attestation.statement_sha256:
        yield chain.Problem("modified", seq, f"attestation {pk}: statement modified")
    if entry is None:
        yield chain.Problem(
            "inserted", None, f"attestation {pk} is not in the chain (inserted outside the app)"
        )
    elif entry.envelope_sha256 != attestation.envelope_sha256:
        yield chain.Problem(
            "modified", seq, f"attestation {pk}: envelope differs from chain entry {entry.seq}"
        )
    try:
        envelope = dsse.Envelope.from_json(envelope_bytes)
    except ProvenanceError as exc:
        yield chain.Problem("modified", seq, f"attestation {pk}: envelope unreadable: {exc}")
        return
    if envelope.payload != statement:
        yield chain.Problem("modified", seq, f"attestation {pk}: payload is not the statement")
    key = keys.get(attestation.key_id)
    if key is None:
        yield chain.Problem(
            "modified", seq, f"attestation {pk}: key {attestation.key_id} is not registered"
        )
    elif not dsse.verify(envelope, key.public_key_pem, key_id=key.key_id):
        yield chain.Problem(
            "modified", seq, f"attestation {pk}: signature does not verify with {key.key_id}"
        )


def store_verify(*, checkpoint: chain.Checkpoint | None = None) -> StoreReport:
    """Re-verify every attestation's signature and hashes, the chain, and the checkpoint."""
    report = StoreReport()
    keys = {k.key_id: k for k in SigningKey.objects.all()}
    report.problems.extend(_key_problems(keys))
    entries = {e.attestation_id: e for e in ChainEntry.objects.all()}
    for attestation in Attestation.objects.order_by("id").iterator(chunk_size=500):
        report.attestations += 1
        entry = entries.get(attestation.pk)
        report.problems.extend(_attestation_problems(attestation, keys, entry))
    links = {
        e.seq: chain.Link(
            seq=e.seq,
            attestation_id=e.attestation_id,
            envelope_sha256=e.envelope_sha256,
            prev_hash=e.prev_hash,
            entry_hash=e.entry_hash,
        )
        for e in entries.values()
    }
    problems, report.head, report.length = chain.verify_links(links.values())
    report.problems.extend(problems)
    if checkpoint is not None:
        report.problems.extend(chain.checkpoint_compare(checkpoint, links))
    return report
