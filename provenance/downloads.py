"""Downloads of what was signed, the same from a page and from the API: one file name and one
media type per thing.

- a statement: ``attestation-<id>.intoto.json``, ``application/vnd.in-toto+json``, the exact
  signed bytes (the envelope's payload);
- an envelope: ``attestation-<id>.dsse.json``, ``application/vnd.dsse.envelope.v1+json``;
- a Sigstore bundle: ``attestation-<id>.sigstore.json``,
  ``application/vnd.dev.sigstore.bundle.v0.3+json``: the envelope and its key hint;
- a digest's bundle: ``<alg>-<hex>.intoto.jsonl``, ``application/jsonl``, one DSSE envelope per
  line, oldest first. Only attestations whose verdict passes go in; the others are named in the
  ``Chainsweb-Unverified`` header with their reason codes, and when none passes the answer is a
  409 naming the reasons.
"""

from __future__ import annotations

from django.http import HttpResponse

from provenance.core import sigstore_bundle
from provenance.core.intoto import PAYLOAD_TYPE
from provenance.models import Attestation
from provenance.reads.attestations import Bundle

STATEMENT_MEDIA_TYPE = PAYLOAD_TYPE
ENVELOPE_MEDIA_TYPE = "application/vnd.dsse.envelope.v1+json"
BUNDLE_MEDIA_TYPE = "application/jsonl"
UNVERIFIED_HEADER = "Chainsweb-Unverified"
SIGSTORE_BUNDLE_MEDIA_TYPE = sigstore_bundle.BUNDLE_MEDIA_TYPE


def attachment(body: bytes, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def statement_download(attestation: Attestation) -> HttpResponse:
    return attachment(
        bytes(attestation.statement),
        STATEMENT_MEDIA_TYPE,
        f"attestation-{attestation.pk}.intoto.json",
    )


def envelope_download(attestation: Attestation) -> HttpResponse:
    return attachment(
        bytes(attestation.envelope), ENVELOPE_MEDIA_TYPE, f"attestation-{attestation.pk}.dsse.json"
    )


def sigstore_bundle_download(attestation: Attestation) -> HttpResponse:
    return attachment(
        sigstore_bundle.bundle_json(bytes(attestation.envelope)),
        SIGSTORE_BUNDLE_MEDIA_TYPE,
        f"attestation-{attestation.pk}.sigstore.json",
    )


def bundle_filename(algorithm: str, hex_value: str) -> str:
    return f"{algorithm}-{hex_value}.intoto.jsonl"


def unverified_header(bundle: Bundle) -> str:
    """``12 (signature-invalid, key-mismatch); 15 (not-in-chain)``: ids and reason codes, plain
    ASCII whatever the database holds."""
    return "; ".join(f"{v.attestation} ({', '.join(v.codes)})" for v in bundle.left_out)


def unverified_message(bundle: Bundle) -> str:
    """Why no attestation of the bundle may be served (every verdict's reasons)."""
    reasons = "; ".join(m for v in bundle.left_out for m in v.messages)
    return f"no attestation of this digest verifies: {reasons}"


def bundle_download(bundle: Bundle, algorithm: str, hex_value: str) -> HttpResponse:
    """The bundle of a digest with at least one attestation that verifies."""
    response = attachment(
        b"".join(e.rstrip(b"\n") + b"\n" for e in bundle.envelopes),
        BUNDLE_MEDIA_TYPE,
        bundle_filename(algorithm, hex_value),
    )
    if bundle.left_out:
        response[UNVERIFIED_HEADER] = unverified_header(bundle)
    return response
