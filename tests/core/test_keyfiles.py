"""Reading Chains' signing secrets: x509.pem, cosign.key (+ password), a Secret-shaped folder."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from provenance.core import keyfiles
from provenance.core.keyfiles import (
    BrokenKeyFileError,
    KeyFileError,
    MissingPasswordError,
    UnsupportedKeyError,
    WrongPasswordError,
)
from provenance.core.signing import KeySigner, verify_signature
from tests.keymaker import (
    cosign_key_pem,
    new_key,
    pkcs8_pem,
    public_pem,
    sec1_pem,
    ssh_keygen_fingerprint,
    ssh_keygen_pair,
)

CHAINS_KEYS = Path(__file__).resolve().parent.parent / "data" / "chains-keys"


def same_public_key(material: keyfiles.KeyMaterial, pem: bytes) -> bool:
    loaded = serialization.load_pem_public_key(pem)
    return material.public_key_pem.encode() == loaded.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_chains_published_cosign_key_opens_with_its_password_and_matches_its_pub(tmp_path):
    secret = keyfiles.read_key_source(CHAINS_KEYS)
    password = keyfiles.password_resolve(password_file=None, secret=secret, environ={})
    material = keyfiles.key_from_secret(secret, password)  # x509.pem is there too: it wins
    assert material.origin == "x509.pem (PKCS#8)"
    cosign = keyfiles.load_cosign_key((CHAINS_KEYS / "cosign.key").read_bytes(), b"p")
    assert cosign.origin == "cosign.key (ENCRYPTED COSIGN PRIVATE KEY)"
    assert cosign.algorithm == "ecdsa-p256"
    assert same_public_key(cosign, (CHAINS_KEYS / "cosign.pub").read_bytes())
    assert cosign.fingerprint == ssh_keygen_fingerprint(
        (CHAINS_KEYS / "cosign.pub").read_bytes(), tmp_path
    )


def test_the_imported_key_signs_what_the_published_public_key_verifies():
    cosign = keyfiles.load_cosign_key((CHAINS_KEYS / "cosign.key").read_bytes(), b"p")
    signer = KeySigner.from_private_pem(cosign.private_pem)
    signature = signer.sign(b"hello")
    assert verify_signature((CHAINS_KEYS / "cosign.pub").read_bytes(), b"hello", signature)


def test_chains_x509_test_key_is_read_as_pkcs8():
    material = keyfiles.load_private_pem((CHAINS_KEYS / "x509.pem").read_bytes())
    assert material.algorithm == "ecdsa-p256"
    assert material.private_pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert "PRIVATE" not in repr(material)


@pytest.mark.parametrize("kind", ["ecdsa-p256", "ed25519"])
def test_fingerprint_is_what_ssh_keygen_lists_for_its_own_key(kind, tmp_path):
    key, listed = ssh_keygen_pair(kind, tmp_path)
    material = keyfiles.load_private_pem(pkcs8_pem(key))
    assert material.fingerprint == listed
    assert keyfiles.ssh_fingerprint(material.public_key_pem) == listed
    assert material.algorithm == kind


@pytest.mark.parametrize(
    ("kind", "writer", "origin"),
    [
        ("ecdsa-p256", pkcs8_pem, "x509.pem (PKCS#8)"),
        ("ecdsa-p256", sec1_pem, "x509.pem (SEC1)"),
        ("ed25519", pkcs8_pem, "x509.pem (PKCS#8)"),
    ],
)
def test_x509_pem_forms_are_normalised_to_pkcs8(kind, writer, origin):
    key = new_key(kind)
    material = keyfiles.load_private_pem(writer(key))
    assert material.origin == origin
    assert same_public_key(material, public_pem(key))
    assert material.private_pem == pkcs8_pem(key)


@pytest.mark.parametrize("pem_type", keyfiles.ENCRYPTED_PEM_TYPES)
@pytest.mark.parametrize("params", keyfiles.SCRYPT_PARAMS)
def test_cosign_keys_of_each_pem_type_and_scrypt_strength_open(pem_type, params):
    key = new_key("ecdsa-p256")
    pem = cosign_key_pem(key, b"s3cret", pem_type=pem_type, params=params)
    material = keyfiles.load_cosign_key(pem, b"s3cret")
    assert same_public_key(material, public_pem(key))
    assert material.origin == f"cosign.key ({pem_type})"


def test_ed25519_cosign_key_opens():
    key = new_key("ed25519")
    material = keyfiles.load_cosign_key(cosign_key_pem(key, b"pw"), b"pw")
    assert material.algorithm == "ed25519" and same_public_key(material, public_pem(key))


def test_a_password_file_written_with_echo_still_opens_the_key():
    key = new_key("ecdsa-p256")
    material = keyfiles.load_cosign_key(cosign_key_pem(key, b"pw"), b"pw\n")
    assert same_public_key(material, public_pem(key))


def test_a_password_that_really_ends_in_a_newline_is_used_as_is():
    key = new_key("ecdsa-p256")
    material = keyfiles.load_cosign_key(cosign_key_pem(key, b"pw\n"), b"pw\n")
    assert same_public_key(material, public_pem(key))


def test_wrong_password_is_its_own_error():
    pem = cosign_key_pem(new_key("ecdsa-p256"), b"right")
    with pytest.raises(WrongPasswordError, match="wrong password"):
        keyfiles.load_cosign_key(pem, b"wrong")


def test_missing_password_names_the_three_sources():
    pem = cosign_key_pem(new_key("ecdsa-p256"), b"pw")
    with pytest.raises(MissingPasswordError, match="--password-file.*cosign.password.*COSIGN"):
        keyfiles.load_cosign_key(pem, None)


@pytest.mark.parametrize(
    ("kind", "match"),
    [("ecdsa-p384", "secp384r1"), ("rsa", "RSA")],
)
def test_unsupported_key_types_are_named(kind, match):
    key = new_key(kind)
    with pytest.raises(UnsupportedKeyError, match=match):
        keyfiles.load_private_pem(pkcs8_pem(key))
    with pytest.raises(UnsupportedKeyError, match=match):
        keyfiles.load_cosign_key(cosign_key_pem(key, b"pw"), b"pw")


def test_rsa_traditional_pem_is_unsupported():
    rsa_pem = new_key("rsa").private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    with pytest.raises(UnsupportedKeyError, match="RSA PRIVATE KEY"):
        keyfiles.load_private_pem(rsa_pem)


def test_huge_scrypt_parameters_are_refused_before_any_work():
    pem = cosign_key_pem(new_key("ecdsa-p256"), b"pw")
    body = json.loads(keyfiles.pem_block(pem, "k")[1])
    body["kdf"]["params"]["N"] = 1 << 24
    tampered = _repem(body)
    with pytest.raises(UnsupportedKeyError, match="scrypt parameters N=16777216"):
        keyfiles.load_cosign_key(tampered, b"pw")


def _repem(doc: dict[str, object], pem_type: str = "ENCRYPTED SIGSTORE PRIVATE KEY") -> bytes:
    body = base64.b64encode(json.dumps(doc).encode()).decode()
    return f"-----BEGIN {pem_type}-----\n{body}\n-----END {pem_type}-----\n".encode()


@pytest.mark.parametrize(
    ("edit", "error", "match"),
    [
        ({"cipher": {"name": "aes-gcm", "nonce": "AAAA"}}, UnsupportedKeyError, "cipher 'aes-gcm'"),
        ({"kdf": {"name": "argon2"}}, UnsupportedKeyError, "kdf 'argon2'"),
        ({"cipher": {"name": "nacl/secretbox", "nonce": "AAAA"}}, BrokenKeyFileError, "24 bytes"),
        ({"ciphertext": "%%%"}, BrokenKeyFileError, "not valid base64"),
        ({"ciphertext": 5}, BrokenKeyFileError, "ciphertext is missing"),
        ({"kdf": "scrypt"}, BrokenKeyFileError, "kdf is missing or not a JSON object"),
    ],
)
def test_malformed_cosign_json_is_a_broken_or_unsupported_file(edit, error, match):
    pem = cosign_key_pem(new_key("ecdsa-p256"), b"pw", doc_edit=edit)
    with pytest.raises(error, match=match):
        keyfiles.load_cosign_key(pem, b"pw")


def test_a_box_holding_no_key_is_broken():
    pem = cosign_key_pem(b"not DER at all", b"pw")
    with pytest.raises(BrokenKeyFileError, match="not a readable private key"):
        keyfiles.load_cosign_key(pem, b"pw")


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"", "not a PEM file"),
        (b"hello", "not a PEM file"),
        (b"-----BEGIN PRIVATE KEY-----\n!!!\n-----END PRIVATE KEY-----\n", "not valid base64"),
        (b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "not a readable"),
        (b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "not a private key"),
        (
            b"-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nbm90IGpzb24=\n"
            b"-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n",
            "name it cosign.key",
        ),
    ],
)
def test_broken_x509_pem_files(data, match):
    with pytest.raises(BrokenKeyFileError, match=match):
        keyfiles.load_private_pem(data)


def test_cosign_key_that_is_not_json_is_broken():
    pem = b"-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----\nbm90IGpzb24=\n"
    pem += b"-----END ENCRYPTED COSIGN PRIVATE KEY-----\n"
    with pytest.raises(BrokenKeyFileError, match="not JSON"):
        keyfiles.load_cosign_key(pem, b"pw")


def test_folder_like_the_secret_uses_cosign_password_and_checks_cosign_pub(tmp_path):
    key = new_key("ecdsa-p256")
    (tmp_path / "cosign.key").write_bytes(cosign_key_pem(key, b"pw"))
    (tmp_path / "cosign.password").write_bytes(b"pw")
    (tmp_path / "cosign.pub").write_bytes(public_pem(key))
    secret = keyfiles.read_key_source(tmp_path)
    password = keyfiles.password_resolve(password_file=None, secret=secret, environ={})
    assert same_public_key(keyfiles.key_from_secret(secret, password), public_pem(key))
    (tmp_path / "cosign.pub").write_bytes(public_pem(new_key("ecdsa-p256")))
    with pytest.raises(KeyFileError, match="is not the public half"):
        keyfiles.key_from_secret(keyfiles.read_key_source(tmp_path), password)


def test_single_files_are_named_by_their_pem_type(tmp_path):
    encrypted = tmp_path / "anything.pem"
    encrypted.write_bytes(cosign_key_pem(new_key("ed25519"), b"pw"))
    plain = tmp_path / "key"
    plain.write_bytes(pkcs8_pem(new_key("ed25519")))
    assert list(keyfiles.read_key_source(encrypted)) == ["cosign.key"]
    assert list(keyfiles.read_key_source(plain)) == ["x509.pem"]


def test_folder_without_a_key_and_oversized_or_missing_files(tmp_path):
    with pytest.raises(BrokenKeyFileError, match="neither x509.pem nor cosign.key"):
        keyfiles.read_key_source(tmp_path)
    big = tmp_path / "big.pem"
    big.write_bytes(b"-" * (keyfiles.MAX_KEY_FILE + 1))
    with pytest.raises(BrokenKeyFileError, match="larger than"):
        keyfiles.read_key_source(big)
    with pytest.raises(BrokenKeyFileError, match="cannot read"):
        keyfiles.read_key_source(tmp_path / "missing.pem")


def test_password_sources_in_order():
    secret = {"cosign.password": b"from-secret"}
    env = {"COSIGN_PASSWORD": "from-env"}
    assert keyfiles.password_resolve(password_file=b"f", secret=secret, environ=env) == b"f"
    assert keyfiles.password_resolve(password_file=None, secret=secret, environ=env) == (
        b"from-secret"
    )
    assert keyfiles.password_resolve(password_file=None, secret={}, environ=env) == b"from-env"
    assert keyfiles.password_resolve(password_file=None, secret={}, environ={}) is None
