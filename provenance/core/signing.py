"""Signing keys: a ``Signer`` protocol and a file-key implementation on ``cryptography``.

Two algorithms, the ones Tekton Chains and cosign use for x509/file keys:

- ``ecdsa-p256``: ECDSA over NIST P-256 with SHA-256, signature DER-encoded (cosign's format);
- ``ed25519``: pure Ed25519 (RFC 8032) over the message.

A key is identified as Chains identifies it in an envelope's ``keyid``: the SSH SHA256
fingerprint (``ssh.FingerprintSHA256``, what ``ssh-keygen -l`` prints), that is
``"SHA256:" + base64(sha256(public key in SSH wire format))`` without padding. The id depends only
on the public key, so anyone holding the PEM public key can recompute it.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol
from urllib.parse import unquote, urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from .errors import SigningError

Algorithm = Literal["ecdsa-p256", "ed25519"]
ALGORITHMS: tuple[Algorithm, ...] = ("ecdsa-p256", "ed25519")

PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
PublicKey = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey


class Signer(Protocol):
    """Something that signs bytes with a private key it does not reveal."""

    @property
    def key_id(self) -> str: ...

    @property
    def algorithm(self) -> Algorithm: ...

    @property
    def public_key_pem(self) -> str: ...

    def sign(self, data: bytes) -> bytes: ...


def key_id_of(public_key: PublicKey) -> str:
    """The SSH SHA256 fingerprint of the key, as Chains sets DSSE ``keyid``
    (``ssh.FingerprintSHA256(ssh.NewPublicKey(pub))``)."""
    # "<type> <base64 of the SSH wire format>": the fingerprint hashes the wire format.
    openssh = public_key.public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    wire = base64.b64decode(openssh.split()[1])
    digest = hashlib.sha256(wire).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def algorithm_of(key: PrivateKey | PublicKey) -> Algorithm:
    """The algorithm name of a supported key; SigningError for anything else."""
    if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return "ed25519"
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        if isinstance(key.curve, ec.SECP256R1):
            return "ecdsa-p256"
        raise SigningError(f"unsupported elliptic curve {key.curve.name}; only P-256 is supported")
    raise SigningError(f"unsupported key type {type(key).__name__}")


def generate_private_key_pem(algorithm: str) -> bytes:
    """A new private key as unencrypted PKCS#8 PEM."""
    key: PrivateKey
    if algorithm == "ecdsa-p256":
        key = ec.generate_private_key(ec.SECP256R1())
    elif algorithm == "ed25519":
        key = ed25519.Ed25519PrivateKey.generate()
    else:
        raise SigningError(
            f"unknown signing algorithm {algorithm!r}; expected one of {', '.join(ALGORITHMS)}"
        )
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def load_public_key(pem: str | bytes) -> PublicKey:
    """Parse a PEM SubjectPublicKeyInfo of a supported algorithm."""
    raw = pem.encode() if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_public_key(raw)
    except (ValueError, TypeError) as exc:
        raise SigningError(f"not a PEM public key: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey):
        raise SigningError(f"unsupported public key type {type(key).__name__}")
    algorithm_of(key)
    return key


def public_key_pem_of(key: PublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def verify_signature(public_key: PublicKey | str | bytes, data: bytes, signature: bytes) -> bool:
    """True when ``signature`` is a valid signature of ``data`` by the public key (loaded, or
    its PEM)."""
    key = load_public_key(public_key) if isinstance(public_key, str | bytes) else public_key
    try:
        if isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, data)
        else:
            key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


@dataclass(frozen=True, slots=True)
class KeySigner:
    """A Signer over an in-memory private key (loaded from a PEM file by ``FileSigner``)."""

    _key: PrivateKey
    key_id: str
    algorithm: Algorithm
    public_key_pem: str

    @classmethod
    def from_private_pem(cls, pem: bytes) -> KeySigner:
        """Load an unencrypted PEM private key (PKCS#8, or SEC1 for EC)."""
        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError) as exc:
            # The message of cryptography's error never contains key material.
            raise SigningError(f"cannot load the private key: {exc}") from None
        if not isinstance(key, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
            raise SigningError(f"unsupported private key type {type(key).__name__}")
        algorithm = algorithm_of(key)
        public = key.public_key()
        return cls(
            _key=key,
            key_id=key_id_of(public),
            algorithm=algorithm,
            public_key_pem=public_key_pem_of(public),
        )

    def sign(self, data: bytes) -> bytes:
        """Sign ``data``: DER ECDSA-SHA256 signature for P-256, raw 64 bytes for Ed25519."""
        if isinstance(self._key, ed25519.Ed25519PrivateKey):
            return self._key.sign(data)
        return self._key.sign(data, ec.ECDSA(hashes.SHA256()))

    def __repr__(self) -> str:  # never show the key object, even in a traceback
        return f"KeySigner(key_id={self.key_id!r}, algorithm={self.algorithm!r})"


def load_file_signer(path: Path) -> KeySigner:
    """Read a PEM private key file; SigningError names the file, never its content."""
    try:
        pem = path.read_bytes()
    except OSError as exc:
        raise SigningError(f"cannot read signing key file {path}: {exc.strerror}") from None
    try:
        return KeySigner.from_private_pem(pem)
    except SigningError as exc:
        raise SigningError(f"{path}: {exc}") from None


def signer_from_uri(uri: str) -> KeySigner:
    """A signer for ``file:///path/to/key.pem`` (the seam where KMS schemes would go)."""
    parts = urlsplit(uri)
    if parts.scheme != "file":
        raise SigningError(f"unsupported signer URI scheme {parts.scheme!r}; expected file://")
    return load_file_signer(Path(unquote(parts.path)))
