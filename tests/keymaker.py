"""Key files as Chains' ``signing-secrets`` holds them, written for tests.

The cosign key is built from the fields go-securesystemslib's ``encrypted`` package documents
(kdf scrypt + salt, cipher nacl/secretbox + nonce, ciphertext = secretbox(PKCS#8 DER)), with
``hashlib.scrypt`` and PyNaCl's high-level ``SecretBox``, not with the reader under test.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
from pathlib import Path

import nacl.secret
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey


def new_key(kind: str) -> PrivateKey:
    if kind == "ecdsa-p256":
        return ec.generate_private_key(ec.SECP256R1())
    if kind == "ecdsa-p384":
        return ec.generate_private_key(ec.SECP384R1())
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    raise ValueError(kind)


def pkcs8_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def sec1_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def public_pem(key: PrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def cosign_key_pem(
    key: PrivateKey | bytes,
    password: bytes,
    *,
    pem_type: str = "ENCRYPTED SIGSTORE PRIVATE KEY",
    params: tuple[int, int, int] = (32768, 8, 1),
    doc_edit: dict[str, object] | None = None,
) -> bytes:
    """An encrypted cosign key; ``key`` may be raw plaintext bytes to encrypt as they are."""
    plaintext = (
        key
        if isinstance(key, bytes)
        else key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    n, r, p = params
    salt, nonce = os.urandom(32), os.urandom(24)
    box_key = hashlib.scrypt(password, salt=salt, n=n, r=r, p=p, maxmem=512 * 1024 * 1024, dklen=32)
    sealed = nacl.secret.SecretBox(box_key).encrypt(plaintext, nonce).ciphertext
    doc: dict[str, object] = {
        "kdf": {
            "name": "scrypt",
            "params": {"N": n, "r": r, "p": p},
            "salt": base64.b64encode(salt).decode(),
        },
        "cipher": {"name": "nacl/secretbox", "nonce": base64.b64encode(nonce).decode()},
        "ciphertext": base64.b64encode(sealed).decode(),
    }
    doc.update(doc_edit or {})
    body = base64.b64encode(json.dumps(doc).encode()).decode()
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    text = f"-----BEGIN {pem_type}-----\n" + "\n".join(lines) + f"\n-----END {pem_type}-----\n"
    return text.encode()


def ssh_keygen_fingerprint(public_key_pem: bytes, folder: Path) -> str:
    """What ``ssh-keygen -l`` prints for a PEM ECDSA public key (converted with ``ssh-keygen -i``;
    OpenSSH 9.2 cannot convert Ed25519 PEM, see ``ssh_keygen_pair``)."""
    pem_file = folder / "fp-input.pub.pem"
    pem_file.write_bytes(public_key_pem)
    openssh = subprocess.run(
        ["ssh-keygen", "-i", "-m", "PKCS8", "-f", str(pem_file)],
        check=True,
        capture_output=True,
    ).stdout
    ssh_file = folder / "fp-input.pub"
    ssh_file.write_bytes(openssh)
    return _listed_fingerprint(ssh_file)


def ssh_keygen_pair(kind: str, folder: Path) -> tuple[PrivateKey, str]:
    """A key made by ``ssh-keygen`` itself, and the fingerprint it lists for its own ``.pub``."""
    path = folder / f"ssh-{kind}"
    args = ["-t", "ed25519"] if kind == "ed25519" else ["-t", "ecdsa", "-b", "256"]
    subprocess.run(
        ["ssh-keygen", *args, "-N", "", "-q", "-C", "", "-f", str(path)],
        check=True,
        capture_output=True,
    )
    key = serialization.load_ssh_private_key(path.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey)
    return key, _listed_fingerprint(path.with_suffix(".pub"))


def _listed_fingerprint(ssh_public_file: Path) -> str:
    listing = subprocess.run(
        ["ssh-keygen", "-l", "-E", "sha256", "-f", str(ssh_public_file)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return listing.split()[1]
