"""DSSE envelopes: the Pre-Authentication Encoding, signing and verification.

Implements https://github.com/secure-systems-lab/dsse/blob/master/protocol.md and the JSON
envelope of https://github.com/secure-systems-lab/dsse/blob/master/envelope.md. The payload is
kept as the exact bytes that were signed; nothing here re-serializes a statement.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

import orjson

from .errors import SigningError
from .signing import PublicKey, Signer, verify_signature

PAYLOAD_TYPE_INTOTO = "application/vnd.in-toto+json"


def pae(payload_type: str, payload: bytes) -> bytes:
    """``PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`` (protocol.md).

    LEN is the length in bytes, written as ASCII decimal without leading zeros.
    """
    type_bytes = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(type_bytes), type_bytes, len(payload), payload)


@dataclass(frozen=True, slots=True)
class Signature:
    """One ``signatures[]`` entry: the key id and the raw signature bytes."""

    keyid: str
    sig: bytes


@dataclass(frozen=True, slots=True)
class Envelope:
    """A DSSE envelope with the payload as the exact signed bytes."""

    payload_type: str
    payload: bytes
    signatures: tuple[Signature, ...]

    def to_dict(self) -> dict[str, Any]:
        """The envelope.md JSON shape; payload and signatures in standard base64."""
        return {
            "payloadType": self.payload_type,
            "payload": base64.b64encode(self.payload).decode(),
            "signatures": [
                {"keyid": s.keyid, "sig": base64.b64encode(s.sig).decode()} for s in self.signatures
            ],
        }

    def to_json(self) -> bytes:
        """Compact JSON bytes, the form we store and serve."""
        return orjson.dumps(self.to_dict())

    @classmethod
    def from_json(cls, data: bytes | str) -> Envelope:
        """Parse envelope JSON strictly; SigningError names what is wrong."""
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise SigningError(f"the envelope is not JSON: {exc}") from None
        if not isinstance(obj, dict):
            raise SigningError("the envelope must be a JSON object")
        payload_type = obj.get("payloadType")
        if not isinstance(payload_type, str):
            raise SigningError("the envelope has no payloadType string")
        payload = _b64(obj.get("payload"), "payload")
        raw_signatures = obj.get("signatures")
        if not isinstance(raw_signatures, list) or not raw_signatures:
            raise SigningError("the envelope has no signatures")
        signatures = []
        for entry in raw_signatures:
            if not isinstance(entry, dict):
                raise SigningError("each signature must be an object")
            keyid = entry.get("keyid", "")
            if not isinstance(keyid, str):
                raise SigningError("a signature keyid must be a string")
            signatures.append(Signature(keyid=keyid, sig=_b64(entry.get("sig"), "sig")))
        return cls(payload_type=payload_type, payload=payload, signatures=tuple(signatures))


def _b64(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise SigningError(f"the envelope's {what} must be a base64 string")
    try:
        # DSSE allows standard or URL-safe base64; accept both, with or without padding.
        text = value.replace("-", "+").replace("_", "/")
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise SigningError(f"the envelope's {what} is not valid base64") from None


def sign(payload: bytes, signer: Signer, payload_type: str = PAYLOAD_TYPE_INTOTO) -> Envelope:
    """Sign ``PAE(payload_type, payload)`` and wrap the result in an envelope."""
    signature = signer.sign(pae(payload_type, payload))
    return Envelope(
        payload_type=payload_type,
        payload=payload,
        signatures=(Signature(keyid=signer.key_id, sig=signature),),
    )


def verify(
    envelope: Envelope, public_key: PublicKey | str | bytes, key_id: str | None = None
) -> bool:
    """True when a signature in ``envelope`` verifies under the public key (loaded, or its PEM;
    a caller checking many envelopes loads the key once).

    With ``key_id``, only signatures carrying that key id are tried (protocol.md: the keyid is
    a hint, so a mismatch is simply not a match).
    """
    message = pae(envelope.payload_type, envelope.payload)
    for signature in envelope.signatures:
        if key_id is not None and signature.keyid != key_id:
            continue
        if verify_signature(public_key, message, signature.sig):
            return True
    return False
