"""DSSE and signing keys, checked against the spec and against securesystemslib."""

from __future__ import annotations

import base64
import hashlib

import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from securesystemslib.dsse import Envelope as SslibEnvelope
from securesystemslib.exceptions import VerificationError
from securesystemslib.signer import SSlibKey

from provenance.core import chain, dsse
from provenance.core.errors import SigningError
from provenance.core.signing import (
    ALGORITHMS,
    KeySigner,
    generate_private_key_pem,
    load_public_key,
    signer_from_uri,
    verify_signature,
)


def sslib_verify(envelope_json: bytes, public_pem: str, key_id: str) -> bytes:
    """Verify with securesystemslib (an independent DSSE implementation); return the payload."""
    key = SSlibKey.from_crypto(load_public_key(public_pem), keyid=key_id)
    envelope = SslibEnvelope.from_dict(orjson.loads(envelope_json))
    envelope.verify([key], 1)
    return envelope.payload


def test_pae_matches_the_spec_example() -> None:
    # protocol.md: PAE("http://example.com/HelloWorld", "hello world")
    assert (
        dsse.pae("http://example.com/HelloWorld", b"hello world")
        == b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


def test_pae_counts_bytes_not_characters() -> None:
    assert dsse.pae("t", "é".encode()) == b"DSSEv1 1 t 2 \xc3\xa9"


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_envelope_verifies_with_securesystemslib(algorithm: str) -> None:
    signer = KeySigner.from_private_pem(generate_private_key_pem(algorithm))
    payload = b'{"_type":"https://in-toto.io/Statement/v1","subject":[]}'
    envelope = dsse.sign(payload, signer)
    data = envelope.to_json()
    assert orjson.loads(data)["payloadType"] == "application/vnd.in-toto+json"
    assert sslib_verify(data, signer.public_key_pem, signer.key_id) == payload
    assert dsse.verify(dsse.Envelope.from_json(data), signer.public_key_pem, signer.key_id)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_tampered_payload_fails_both_verifiers(algorithm: str) -> None:
    signer = KeySigner.from_private_pem(generate_private_key_pem(algorithm))
    obj = orjson.loads(dsse.sign(b'{"a":1}', signer).to_json())
    obj["payload"] = base64.b64encode(b'{"a":2}').decode()
    data = orjson.dumps(obj)
    with pytest.raises(VerificationError):
        sslib_verify(data, signer.public_key_pem, signer.key_id)
    assert not dsse.verify(dsse.Envelope.from_json(data), signer.public_key_pem)


def test_ecdsa_signature_is_der_as_cosign_writes_it() -> None:
    signer = KeySigner.from_private_pem(generate_private_key_pem("ecdsa-p256"))
    sig = signer.sign(b"data")
    assert sig[0] == 0x30  # DER SEQUENCE
    assert verify_signature(signer.public_key_pem, b"data", sig)
    assert not verify_signature(signer.public_key_pem, b"other", sig)


def test_key_id_is_the_ssh_style_fingerprint_of_the_spki() -> None:
    signer = KeySigner.from_private_pem(generate_private_key_pem("ed25519"))
    der = load_public_key(signer.public_key_pem).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    expected = base64.b64encode(hashlib.sha256(der).digest()).decode().rstrip("=")
    assert signer.key_id == "SHA256:" + expected
    assert "=" not in signer.key_id


def test_signer_from_file_uri(tmp_path) -> None:
    path = tmp_path / "k.pem"
    path.write_bytes(generate_private_key_pem("ecdsa-p256"))
    signer = signer_from_uri(path.as_uri())
    assert signer.algorithm == "ecdsa-p256"
    assert "PRIVATE" not in repr(signer)
    with pytest.raises(SigningError, match="scheme"):
        signer_from_uri("gcpkms://projects/x")
    with pytest.raises(SigningError, match="cannot read"):
        signer_from_uri((tmp_path / "missing.pem").as_uri())


def test_bad_envelopes_are_named() -> None:
    with pytest.raises(SigningError, match="not JSON"):
        dsse.Envelope.from_json(b"{")
    with pytest.raises(SigningError, match="no signatures"):
        dsse.Envelope.from_json(b'{"payloadType":"x","payload":"","signatures":[]}')
    with pytest.raises(SigningError, match="base64"):
        dsse.Envelope.from_json(b'{"payloadType":"x","payload":"***","signatures":[{}]}')


def test_unknown_algorithm_is_rejected() -> None:
    with pytest.raises(SigningError, match="unknown signing algorithm"):
        generate_private_key_pem("rsa")


def _links(n: int) -> list[chain.Link]:
    links, prev = [], chain.GENESIS
    for seq in range(1, n + 1):
        env = hashlib.sha256(str(seq).encode()).digest()
        digest = chain.entry_hash(prev, env, seq * 10)
        links.append(chain.Link(seq, seq * 10, env.hex(), prev.hex(), digest.hex()))
        prev = digest
    return links


def test_chain_of_untouched_links_verifies() -> None:
    links = _links(5)
    problems, head, length = chain.verify_links(links)
    assert problems == [] and length == 5 and head == links[-1].entry_hash


def test_chain_reports_removed_and_modified_entries() -> None:
    links = _links(5)
    problems, _, _ = chain.verify_links(links[:2] + links[3:])
    assert {p.kind for p in problems} == {"removed"}
    assert any("entry 3 removed" in p.message for p in problems)
    changed = links[:]
    changed[1] = chain.Link(2, 20, "00" * 32, links[1].prev_hash, links[1].entry_hash)
    problems, _, _ = chain.verify_links(changed)
    assert [p.kind for p in problems] == ["modified"] and problems[0].seq == 2


def test_checkpoint_detects_rollback_and_rewrite() -> None:
    signer = KeySigner.from_private_pem(generate_private_key_pem("ed25519"))
    links = {link.seq: link for link in _links(4)}
    data = chain.checkpoint_sign(chain.Checkpoint(4, links[4].entry_hash, "t0"), signer)
    checkpoint = chain.checkpoint_load(data, signer.public_key_pem)
    assert chain.checkpoint_compare(checkpoint, links) == []
    shorter = {seq: link for seq, link in links.items() if seq <= 3}
    assert [p.kind for p in chain.checkpoint_compare(checkpoint, shorter)] == ["rollback"]
    other = {link.seq: link for link in _links(6)}
    other[4] = chain.Link(4, 1, "11" * 32, "22" * 32, "33" * 32)
    assert [p.kind for p in chain.checkpoint_compare(checkpoint, other)] == ["rollback"]
    forged = orjson.loads(data)
    forged["payload"] = base64.b64encode(b'{"length":1,"head":"x","created":"t"}').decode()
    with pytest.raises(SigningError, match="does not verify"):
        chain.checkpoint_load(orjson.dumps(forged), signer.public_key_pem)
