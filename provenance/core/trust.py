"""The trust bundle: which public keys may vouch for what, kept outside the database.

One JSON file per trusted key (``TRUSTED_KEYS_DIR``, docs/security.md)::

    {"public_key": "-----BEGIN PUBLIC KEY-----...", "purpose": "attestation",
     "namespaces": ["team-a"], "default": false,
     "revoked": {"at": "2026-12-01T10:00:00+00:00", "reason": "laptop lost"},
     "retired": "2026-11-30T09:00:00+00:00"}

The key ids are computed from the public key, never read from the file, so a file can only
vouch for the key it holds. ``purpose`` is ``attestation`` (signs statements for the namespaces
it names, or for every namespace when ``default``) or ``checkpoint`` (the chain key: signs
chain entries and checkpoints). ``revoked``: attestations signed after that time fail,
earlier ones are flagged. ``retired``: the key was rotated out and signs nothing more, but what
it signed still verifies.

Chain entries are signed as DSSE PAE of :data:`CHAIN_ENTRY_PAYLOAD_TYPE` over
:func:`chain_entry_payload`, so any DSSE implementation can check them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import orjson
from cryptography.hazmat.primitives import serialization

from .dsse import pae
from .errors import ProvenanceError, SigningError
from .signing import PublicKey, Signer, key_id_of, load_public_key, verify_signature

PURPOSES = ("attestation", "checkpoint")
CHAIN_ENTRY_PAYLOAD_TYPE = "application/vnd.chainsweb.chain-entry+json"


class TrustError(ProvenanceError, ValueError):
    """A trust bundle file that cannot be read; the message names what is wrong."""


def legacy_key_id_of(public_key: PublicKey) -> str:
    """The key id chainsweb used before key ids became SSH fingerprints (sha256 of the DER)."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return "SHA256:" + base64.b64encode(hashlib.sha256(der).digest()).decode().rstrip("=")


def file_name_of(key_id: str) -> str:
    """The bundle file of a key: a name a Kubernetes Secret or ConfigMap key may have."""
    safe = key_id.removeprefix("SHA256:").replace("/", "_").replace("+", "-")
    return f"{safe}.json"


@dataclass(frozen=True, slots=True)
class Revocation:
    at: datetime
    reason: str


@dataclass(frozen=True, slots=True)
class TrustedKey:
    """One bundle file, read and checked."""

    public_key_pem: str
    purpose: str
    namespaces: tuple[str, ...] = ()
    default: bool = False
    revoked: Revocation | None = None
    retired: datetime | None = None

    @property
    def public_key(self) -> PublicKey:
        return load_public_key(self.public_key_pem)

    @property
    def key_id(self) -> str:
        return key_id_of(self.public_key)

    @property
    def ids(self) -> tuple[str, str]:
        """The key's id and its legacy id: older attestations carry the latter."""
        public = self.public_key
        return key_id_of(public), legacy_key_id_of(public)

    def vouches_for(self, namespace: str) -> bool:
        return self.purpose == "attestation" and (self.default or namespace in self.namespaces)

    @property
    def scope(self) -> str:
        if self.default:
            return "every namespace (the deployment default key)"
        return "namespaces " + ", ".join(self.namespaces) if self.namespaces else "no namespace"

    def with_revocation(self, at: datetime, reason: str) -> TrustedKey:
        return replace(self, revoked=Revocation(at, reason))

    def with_retirement(self, at: datetime) -> TrustedKey:
        return replace(self, retired=self.retired or at)

    def to_json(self) -> bytes:
        body: dict[str, Any] = {
            "public_key": self.public_key_pem,
            "purpose": self.purpose,
            "namespaces": list(self.namespaces),
            "default": self.default,
            "key_id": self.key_id,  # for a person reading the file; never read back
        }
        if self.revoked is not None:
            body["revoked"] = {"at": self.revoked.at.isoformat(), "reason": self.revoked.reason}
        if self.retired is not None:
            body["retired"] = self.retired.isoformat()
        return orjson.dumps(body, option=orjson.OPT_INDENT_2) + b"\n"


def _moment(value: Any, what: str) -> datetime:
    if not isinstance(value, str):
        raise TrustError(f"{what} must be an ISO 8601 time")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise TrustError(f"{what} {value!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise TrustError(f"{what} {value!r} has no time zone")
    return moment.astimezone(UTC)


def trusted_key_from_json(data: bytes) -> TrustedKey:
    """Read one bundle file; TrustError naming the field that is wrong."""
    try:
        body = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise TrustError(f"not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise TrustError("not a JSON object")
    pem = body.get("public_key")
    if not isinstance(pem, str):
        raise TrustError("public_key: a PEM public key is required")
    try:
        load_public_key(pem)
    except SigningError as exc:
        raise TrustError(f"public_key: {exc}") from None
    purpose = body.get("purpose", "attestation")
    if purpose not in PURPOSES:
        raise TrustError(f"purpose: expected one of {', '.join(PURPOSES)}, not {purpose!r}")
    namespaces = body.get("namespaces", [])
    if not isinstance(namespaces, list) or not all(isinstance(n, str) and n for n in namespaces):
        raise TrustError("namespaces: a list of namespace names is required")
    default = body.get("default", False)
    if not isinstance(default, bool):
        raise TrustError("default: true or false")
    revoked = None
    if body.get("revoked") is not None:
        entry = body["revoked"]
        if not isinstance(entry, dict) or not isinstance(entry.get("reason", ""), str):
            raise TrustError('revoked: {"at": TIME, "reason": TEXT} is required')
        revoked = Revocation(_moment(entry.get("at"), "revoked.at"), entry.get("reason", ""))
    retired = None
    if body.get("retired") is not None:
        retired = _moment(body["retired"], "retired")
    return TrustedKey(
        public_key_pem=pem,
        purpose=purpose,
        namespaces=tuple(namespaces),
        default=default,
        revoked=revoked,
        retired=retired,
    )


def chain_entry_payload(*, seq: int, entry_hash: str, attestation_id: int, at: datetime) -> bytes:
    """What the chain key signs for one entry: its place, its hash (which commits to the entry
    before it, the envelope and the attestation id) and when it was appended."""
    return orjson.dumps(
        {
            "seq": seq,
            "entry_hash": entry_hash,
            "attestation": attestation_id,
            "at": at.astimezone(UTC).isoformat(),
        },
        option=orjson.OPT_SORT_KEYS,
    )


def chain_entry_sign(
    signer: Signer, *, seq: int, entry_hash: str, attestation_id: int, at: datetime
) -> str:
    """The chain key's signature over one entry (base64 of a DSSE PAE signature)."""
    payload = chain_entry_payload(
        seq=seq, entry_hash=entry_hash, attestation_id=attestation_id, at=at
    )
    return base64.b64encode(signer.sign(pae(CHAIN_ENTRY_PAYLOAD_TYPE, payload))).decode()


def chain_entry_verify(
    public_key: PublicKey,
    signature: str,
    *,
    seq: int,
    entry_hash: str,
    attestation_id: int,
    at: datetime,
) -> bool:
    try:
        raw = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        return False
    payload = chain_entry_payload(
        seq=seq, entry_hash=entry_hash, attestation_id=attestation_id, at=at
    )
    return verify_signature(public_key, pae(CHAIN_ENTRY_PAYLOAD_TYPE, payload), raw)
