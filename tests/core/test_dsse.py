"""DSSE and signing keys, checked against the spec and against securesystemslib."""

from __future__ import annotations

import base64
import hashlib
import subprocess
from pathlib import Path

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


def _ssh_keygen_fingerprint(public_key_line: bytes, tmp_path: Path) -> str:
    """``ssh-keygen -l`` (OpenSSH, an independent implementation) on an OpenSSH public key."""
    path = tmp_path / "key.pub"
    path.write_bytes(public_key_line + b"\n")
    listed = subprocess.run(
        ["ssh-keygen", "-l", "-E", "sha256", "-f", str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return listed.split()[1]


def test_ecdsa_key_id_is_what_ssh_keygen_prints(tmp_path: Path) -> None:
    signer = KeySigner.from_private_pem(generate_private_key_pem("ecdsa-p256"))
    pem = tmp_path / "key.pem"
    pem.write_text(signer.public_key_pem)
    # OpenSSH itself converts the PEM SubjectPublicKeyInfo to its own format.
    converted = subprocess.run(
        ["ssh-keygen", "-i", "-m", "PKCS8", "-f", str(pem)], check=True, capture_output=True
    ).stdout.strip()
    assert signer.key_id == _ssh_keygen_fingerprint(converted, tmp_path)
    assert "=" not in signer.key_id


def test_ed25519_key_id_is_what_ssh_keygen_prints(tmp_path: Path) -> None:
    signer = KeySigner.from_private_pem(generate_private_key_pem("ed25519"))
    raw = load_public_key(signer.public_key_pem).public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )

    def ssh_string(data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + data

    # RFC 8709: string "ssh-ed25519", string key. (This OpenSSH cannot read Ed25519 PEM.)
    wire = ssh_string(b"ssh-ed25519") + ssh_string(raw)
    line = b"ssh-ed25519 " + base64.b64encode(wire)
    assert signer.key_id == _ssh_keygen_fingerprint(line, tmp_path)


def test_envelope_keyid_is_the_signer_key_id() -> None:
    signer = KeySigner.from_private_pem(generate_private_key_pem("ecdsa-p256"))
    envelope = orjson.loads(dsse.sign(b"{}", signer).to_json())
    assert [s["keyid"] for s in envelope["signatures"]] == [signer.key_id]


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
