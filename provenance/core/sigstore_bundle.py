"""Sigstore bundles (v0.3) around chainsweb's DSSE envelopes.

A bundle is the JSON form (protobuf JSON mapping: lowerCamelCase names, bytes in standard
base64) of ``dev.sigstore.bundle.v1.Bundle`` from sigstore/protobuf-specs:

    {"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
     "verificationMaterial": {"publicKey": {"hint": <key id>}, "tlogEntries": []},
     "dsseEnvelope": {"payload": ..., "payloadType": ...,
                      "signatures": [{"sig": ..., "keyid": ...}]}}

chainsweb signs with keys, not Fulcio certificates, and writes no transparency log, so the
verification material is a public key hint and ``tlogEntries`` is empty. protojson would leave
the empty list out; it is written because some readers (sigstore-python's models) require the
field. The bundle spec says a key hint and the DSSE signature's keyid MUST be equal, so the hint
is the signature's keyid. (cosign's own key-based bundles hint with base64(sha256(SPKI)); a
hint is opaque, verifiers are given the key.)
"""

from __future__ import annotations

from typing import Any

import orjson

from .dsse import Envelope
from .errors import SigningError

BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"


def bundle_from_envelope(envelope: Envelope) -> dict[str, Any]:
    """The v0.3 bundle holding ``envelope``, which must carry exactly one signature (the bundle
    spec: a verifier MUST reject a DSSE envelope with another number of signatures)."""
    if len(envelope.signatures) != 1:
        raise SigningError(
            f"a Sigstore bundle holds a DSSE envelope with exactly one signature, "
            f"not {len(envelope.signatures)}"
        )
    # Written even when empty: protojson would omit "", but readers requiring it exist too.
    keyid = envelope.signatures[0].keyid
    return {
        "mediaType": BUNDLE_MEDIA_TYPE,
        "verificationMaterial": {
            "publicKey": {"hint": keyid},
            "tlogEntries": [],
        },
        "dsseEnvelope": envelope.to_dict(),
    }


def bundle_json(envelope_json: bytes) -> bytes:
    """The bundle for stored envelope JSON bytes, as compact JSON."""
    return orjson.dumps(bundle_from_envelope(Envelope.from_json(envelope_json)))
