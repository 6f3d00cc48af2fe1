"""Sigstore bundle v0.3: the published JSON schema, sigstore-python's models, securesystemslib."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest
from sigstore_models.bundle.v1 import Bundle as SigstoreBundle

from provenance.core import dsse
from provenance.core.errors import SigningError
from provenance.core.signing import ALGORITHMS, KeySigner, generate_private_key_pem
from provenance.core.sigstore_bundle import BUNDLE_MEDIA_TYPE, bundle_from_envelope, bundle_json
from tests.core.test_dsse import sslib_verify

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "data" / "sigstore" / "Bundle.schema.json"
STATEMENT = b'{"_type":"https://in-toto.io/Statement/v1","subject":[],"predicateType":"x"}'


def published_schema() -> dict[str, Any]:
    return json.loads(SCHEMA_FILE.read_text())


def json_named_schema() -> dict[str, Any]:
    """The published schema with its ``oneOf`` written in JSON names (see the data README)."""
    schema = published_schema()

    def camel(name: str) -> str:
        head, *rest = name.split("_")
        return head + "".join(part.title() for part in rest)

    for definition in schema["definitions"].values():
        for option in definition.get("oneOf", []):
            option["required"] = [camel(name) for name in option["required"]]
    return schema


def signed_envelope(algorithm: str = "ecdsa-p256") -> tuple[dsse.Envelope, KeySigner]:
    signer = KeySigner.from_private_pem(generate_private_key_pem(algorithm))
    return dsse.sign(STATEMENT, signer), signer


def test_the_correction_only_renames_the_oneof_fields():
    published, corrected = published_schema(), json_named_schema()
    bundle_def, corrected_def = (
        published["definitions"]["Bundle"],
        corrected["definitions"]["Bundle"],
    )
    assert bundle_def["oneOf"] == [
        {"required": ["message_signature"]},
        {"required": ["dsse_envelope"]},
    ]
    assert corrected_def["oneOf"] == [
        {"required": ["messageSignature"]},
        {"required": ["dsseEnvelope"]},
    ]
    for name, definition in published["definitions"].items():
        without = {k: v for k, v in definition.items() if k != "oneOf"}
        assert without == {k: v for k, v in corrected["definitions"][name].items() if k != "oneOf"}


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_bundle_validates_against_the_published_schema_and_sigstore_models(algorithm):
    envelope, signer = signed_envelope(algorithm)
    bundle = orjson.loads(bundle_json(envelope.to_json()))
    jsonschema.Draft4Validator(json_named_schema()).validate(bundle)
    parsed = SigstoreBundle.from_json(orjson.dumps(bundle))
    assert parsed.media_type == BUNDLE_MEDIA_TYPE
    assert parsed.verification_material.public_key.hint == signer.key_id
    assert parsed.dsse_envelope.payload == STATEMENT  # sigstore-models decodes the base64
    assert parsed.verification_material.tlog_entries == []


def test_as_published_the_schema_rejects_every_protojson_bundle():
    envelope, _ = signed_envelope()
    errors = list(
        jsonschema.Draft4Validator(published_schema()).iter_errors(bundle_from_envelope(envelope))
    )
    assert errors and all(e.validator == "oneOf" for e in errors)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_the_bundled_envelope_verifies_with_securesystemslib(algorithm):
    envelope, signer = signed_envelope(algorithm)
    bundle = bundle_from_envelope(envelope)
    inner = orjson.dumps(bundle["dsseEnvelope"])
    assert sslib_verify(inner, signer.public_key_pem, signer.key_id) == STATEMENT
    assert (
        bundle["verificationMaterial"]["publicKey"]["hint"]
        == (bundle["dsseEnvelope"]["signatures"][0]["keyid"])
    )
    assert base64.b64decode(bundle["dsseEnvelope"]["payload"]) == STATEMENT


def test_a_bundle_holds_exactly_one_signature():
    envelope, signer = signed_envelope()
    doubled = dsse.Envelope(envelope.payload_type, envelope.payload, envelope.signatures * 2)
    with pytest.raises(SigningError, match="exactly one signature, not 2"):
        bundle_from_envelope(doubled)
    with pytest.raises(SigningError, match="not JSON"):
        bundle_json(b"{")


def test_a_signature_without_keyid_still_gives_a_valid_bundle():
    envelope, _ = signed_envelope()
    anonymous = dsse.Envelope(
        envelope.payload_type, envelope.payload, (dsse.Signature("", envelope.signatures[0].sig),)
    )
    bundle = bundle_from_envelope(anonymous)
    assert bundle["verificationMaterial"]["publicKey"] == {"hint": ""}
    jsonschema.Draft4Validator(json_named_schema()).validate(bundle)
    SigstoreBundle.from_dict(bundle)
