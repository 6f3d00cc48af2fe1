"""Reading the signing keys a Tekton Chains installation already has.

Chains keeps its key in the ``signing-secrets`` Secret (Chains' docs/signing.md), as either

- ``x509.pem``: an unencrypted private key PEM (PKCS#8 ``PRIVATE KEY``, or SEC1
  ``EC PRIVATE KEY``); ECDSA P-256 or Ed25519 here;
- ``cosign.key`` + ``cosign.password``: what ``cosign generate-key-pair k8s://...`` writes, a PEM
  block ``ENCRYPTED SIGSTORE PRIVATE KEY`` (or the older ``ENCRYPTED COSIGN PRIVATE KEY``) whose
  body is the JSON of go-securesystemslib's ``encrypted`` package::

      {"kdf": {"name": "scrypt", "params": {"N": 65536, "r": 8, "p": 1}, "salt": <base64>},
       "cipher": {"name": "nacl/secretbox", "nonce": <base64, 24 bytes>},
       "ciphertext": <base64>}

  The box key is ``scrypt(password, salt, N, r, p, 32)``, the box is NaCl's secretbox
  (XSalsa20-Poly1305; ``cryptography`` has no XSalsa20, hence PyNaCl), and the plaintext is the
  private key as PKCS#8 DER. Like go-securesystemslib, only its three scrypt parameter sets are
  accepted, so a crafted file cannot make the KDF take minutes or gigabytes.

Everything here is pure: the caller passes bytes (or a path to read) and the environment it wants
consulted. Errors are ``KeyFileError`` subclasses with a message for a person, never key bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nacl.bindings
import nacl.exceptions
import orjson
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from .errors import SigningError
from .signing import Algorithm, PrivateKey, PublicKey, algorithm_of, key_id_of, public_key_pem_of

X509_PEM = "x509.pem"
COSIGN_KEY = "cosign.key"
COSIGN_PASSWORD = "cosign.password"
COSIGN_PUB = "cosign.pub"
SECRET_FILES = (X509_PEM, COSIGN_KEY, COSIGN_PASSWORD, COSIGN_PUB)
PASSWORD_ENV = "COSIGN_PASSWORD"

ENCRYPTED_PEM_TYPES = ("ENCRYPTED SIGSTORE PRIVATE KEY", "ENCRYPTED COSIGN PRIVATE KEY")
# go-securesystemslib's Legacy, Standard and OWASP scrypt parameters (N, r, p).
SCRYPT_PARAMS = ((32768, 8, 1), (65536, 8, 1), (131072, 8, 1))
_SCRYPT_MAXMEM = 256 * 1024 * 1024  # 128 * N * r for the largest N, with room to spare
MAX_KEY_FILE = 64 * 1024  # a key file is a few hundred bytes; anything this big is not one

_PEM_BLOCK = re.compile(
    rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)-----END \1-----", re.DOTALL | re.ASCII
)


class KeyFileError(SigningError):
    """A key source cannot be imported; the message says why, for a person."""


class BrokenKeyFileError(KeyFileError):
    """The bytes are not a well-formed key file (bad PEM, bad JSON, bad DER, too large...)."""


class UnsupportedKeyError(KeyFileError):
    """A well-formed key of a type chainsweb does not sign with (RSA, another curve...)."""


class MissingPasswordError(KeyFileError):
    """An encrypted cosign key and no password from any source."""


class WrongPasswordError(KeyFileError):
    """The password does not open the encrypted cosign key."""


@dataclass(frozen=True, slots=True)
class KeyMaterial:
    """An imported private key, normalised to unencrypted PKCS#8 PEM (how chainsweb stores the
    keys it generates), with its public half and SSH fingerprint."""

    private_pem: bytes = field(repr=False)
    algorithm: Algorithm
    public_key_pem: str
    fingerprint: str
    origin: str  # what it was read from, e.g. "cosign.key (ENCRYPTED SIGSTORE PRIVATE KEY)"


# --- fingerprint -------------------------------------------------------------------------------


def ssh_fingerprint(public_key: PublicKey | str | bytes) -> str:
    """What ``ssh-keygen -l`` prints and Chains shows as the key id: the DSSE key id
    (:func:`.signing.key_id_of`) of a key given loaded or as PEM."""
    return key_id_of(_public_key(public_key))


def _public_key(value: PublicKey | str | bytes) -> PublicKey:
    if not isinstance(value, str | bytes):
        return _supported_public(value)
    raw = value.encode() if isinstance(value, str) else value
    try:
        key = serialization.load_pem_public_key(raw)
    except (ValueError, TypeError) as exc:
        raise BrokenKeyFileError(f"not a PEM public key: {exc}") from None
    return _supported_public(key)


# --- PEM and private keys ----------------------------------------------------------------------


def pem_block(data: bytes, what: str) -> tuple[str, bytes]:
    """The type and decoded body of the first PEM block in ``data``."""
    match = _PEM_BLOCK.search(data)
    if match is None:
        raise BrokenKeyFileError(f"{what} is not a PEM file (no BEGIN/END block)")
    pem_type = match.group(1).decode()
    body = match.group(2)
    if b"Proc-Type:" in body:
        raise UnsupportedKeyError(
            f"{what} is an OpenSSL-encrypted PEM (Proc-Type); decrypt it with openssl first"
        )
    try:
        return pem_type, base64.b64decode(b"".join(body.split()), validate=True)
    except (binascii.Error, ValueError):
        raise BrokenKeyFileError(f"{what}: the PEM body is not valid base64") from None


def _type_name(key: object) -> str:
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return f"ECDSA {key.curve.name}"
    return type(key).__name__.removeprefix("_").replace("PrivateKey", "").replace("PublicKey", "")


_SUPPORTED = "only ECDSA P-256 and Ed25519 are supported"


def _supported_private(key: object) -> PrivateKey:
    if isinstance(key, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
        _check_curve(key)
        return key
    raise UnsupportedKeyError(f"unsupported key type {_type_name(key)}: {_SUPPORTED}")


def _supported_public(key: object) -> PublicKey:
    if isinstance(key, ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey):
        _check_curve(key)
        return key
    raise UnsupportedKeyError(f"unsupported public key type {_type_name(key)}: {_SUPPORTED}")


def _check_curve(key: PrivateKey | PublicKey) -> None:
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) and not isinstance(
        key.curve, ec.SECP256R1
    ):
        raise UnsupportedKeyError(f"unsupported key type {_type_name(key)}: {_SUPPORTED}")


def _material(der: bytes, origin: str) -> KeyMaterial:
    # cryptography's DER loader reads PKCS#8 and SEC1 (RFC 5915) alike; the PEM type was
    # already checked by the caller.
    try:
        loaded = serialization.load_der_private_key(der, password=None)
    except (ValueError, TypeError) as exc:
        raise BrokenKeyFileError(f"{origin}: not a readable private key ({exc})") from None
    except UnsupportedAlgorithm as exc:
        raise UnsupportedKeyError(f"{origin}: unsupported private key ({exc})") from None
    key = _supported_private(loaded)
    public = key.public_key()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return KeyMaterial(
        private_pem=pem,
        algorithm=algorithm_of(key),
        public_key_pem=public_key_pem_of(public),
        fingerprint=ssh_fingerprint(public),
        origin=origin,
    )


def load_private_pem(data: bytes, name: str = X509_PEM) -> KeyMaterial:
    """An unencrypted private key PEM (``x509.pem``): PKCS#8, or SEC1 for EC."""
    pem_type, der = pem_block(data, name)
    if pem_type == "PRIVATE KEY":
        return _material(der, f"{name} (PKCS#8)")
    if pem_type == "EC PRIVATE KEY":
        return _material(der, f"{name} (SEC1)")
    if pem_type in ENCRYPTED_PEM_TYPES:
        raise BrokenKeyFileError(f"{name} holds an encrypted cosign key; name it {COSIGN_KEY}")
    if pem_type in ("RSA PRIVATE KEY", "OPENSSH PRIVATE KEY", "ENCRYPTED PRIVATE KEY"):
        raise UnsupportedKeyError(
            f"{name}: unsupported key type ({pem_type}): only unencrypted ECDSA P-256 and "
            "Ed25519 keys are supported"
        )
    raise BrokenKeyFileError(f"{name}: a {pem_type} PEM block is not a private key")


# --- cosign's encrypted key --------------------------------------------------------------------


def _field_bytes(obj: Mapping[str, Any], key: str, what: str, size: int | None = None) -> bytes:
    value = obj.get(key)
    if not isinstance(value, str):
        raise BrokenKeyFileError(f"{what}: {key} is missing or not a base64 string")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise BrokenKeyFileError(f"{what}: {key} is not valid base64") from None
    if size is not None and len(raw) != size:
        raise BrokenKeyFileError(f"{what}: {key} must be {size} bytes, not {len(raw)}")
    return raw


def _object(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise BrokenKeyFileError(f"{what} is missing or not a JSON object")
    return value


def decrypt_cosign_key(data: bytes, password: bytes, name: str = COSIGN_KEY) -> bytes:
    """The PKCS#8 DER inside a cosign encrypted key PEM; ``WrongPasswordError`` if the box does
    not open with ``password``."""
    pem_type, body = pem_block(data, name)
    if pem_type not in ENCRYPTED_PEM_TYPES:
        raise BrokenKeyFileError(
            f"{name}: a {pem_type} PEM block, not an encrypted cosign key "
            f"({' or '.join(ENCRYPTED_PEM_TYPES)})"
        )
    try:
        doc = _object(orjson.loads(body), name)
    except orjson.JSONDecodeError:
        raise BrokenKeyFileError(f"{name}: the encrypted key is not JSON") from None
    kdf = _object(doc.get("kdf"), f"{name}: kdf")
    cipher = _object(doc.get("cipher"), f"{name}: cipher")
    if kdf.get("name") != "scrypt":
        raise UnsupportedKeyError(f"{name}: unsupported kdf {kdf.get('name')!r} (expected scrypt)")
    if cipher.get("name") != "nacl/secretbox":
        raise UnsupportedKeyError(
            f"{name}: unsupported cipher {cipher.get('name')!r} (expected nacl/secretbox)"
        )
    params = _object(kdf.get("params"), f"{name}: kdf.params")
    triple = (params.get("N"), params.get("r"), params.get("p"))
    if triple not in SCRYPT_PARAMS:
        raise UnsupportedKeyError(
            f"{name}: unsupported scrypt parameters N={triple[0]} r={triple[1]} p={triple[2]}"
        )
    salt = _field_bytes(kdf, "salt", f"{name}: kdf")
    nonce = _field_bytes(
        cipher, "nonce", f"{name}: cipher", nacl.bindings.crypto_secretbox_NONCEBYTES
    )
    ciphertext = _field_bytes(doc, "ciphertext", name)
    n, r, p = (int(v) for v in triple)
    box_key = hashlib.scrypt(password, salt=salt, n=n, r=r, p=p, maxmem=_SCRYPT_MAXMEM, dklen=32)
    try:
        return bytes(nacl.bindings.crypto_secretbox_open(ciphertext, nonce, box_key))
    except nacl.exceptions.CryptoError:
        raise WrongPasswordError(f"{name}: wrong password (the key does not decrypt)") from None


def load_cosign_key(data: bytes, password: bytes | None, name: str = COSIGN_KEY) -> KeyMaterial:
    """A cosign ``ENCRYPTED SIGSTORE/COSIGN PRIVATE KEY`` opened with ``password``.

    cosign uses the password bytes as given; a password file written with ``echo`` ends in a
    newline that was never part of the password, so that newline is dropped on a second try.
    """
    pem_type, _ = pem_block(data, name)
    if password is None:
        raise MissingPasswordError(
            f"{name} is encrypted and no password was given (--password-file, "
            f"{COSIGN_PASSWORD} next to it, or {PASSWORD_ENV})"
        )
    try:
        der = decrypt_cosign_key(data, password, name)
    except WrongPasswordError:
        stripped = password.removesuffix(b"\n").removesuffix(b"\r")
        if stripped == password:
            raise
        der = decrypt_cosign_key(data, stripped, name)
    return _material(der, f"{name} ({pem_type})")


# --- Secret-shaped sources ---------------------------------------------------------------------


def read_limited(path: Path) -> bytes:
    """A small file's bytes (a key, a password); BrokenKeyFileError if unreadable or too big."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_KEY_FILE + 1)
    except OSError as exc:
        raise BrokenKeyFileError(f"cannot read {path}: {exc.strerror}") from None
    if len(data) > MAX_KEY_FILE:
        raise BrokenKeyFileError(f"{path} is larger than {MAX_KEY_FILE} bytes: not a key file")
    return data


def read_key_source(path: Path) -> dict[str, bytes]:
    """The files of a key source, keyed like the Secret's entries.

    A folder (a mounted Secret, or ``kubectl get secret -o json`` written out) gives its
    ``x509.pem``, ``cosign.key``, ``cosign.password`` and ``cosign.pub``; a single file is
    named by what its PEM block holds.
    """
    if path.is_dir():
        files = {name: read_limited(path / name) for name in SECRET_FILES if (path / name).exists()}
        if X509_PEM not in files and COSIGN_KEY not in files:
            raise BrokenKeyFileError(
                f"{path} has neither {X509_PEM} nor {COSIGN_KEY} (the signing-secrets layout)"
            )
        return files
    data = read_limited(path)
    pem_type, _ = pem_block(data, str(path))
    return {COSIGN_KEY if pem_type in ENCRYPTED_PEM_TYPES else X509_PEM: data}


def secret_files_from_data(data: Mapping[str, Any] | None, name: str) -> dict[str, bytes]:
    """The key entries of a Kubernetes Secret's ``data`` (base64 values), as ``read_key_source``
    gives them for a folder."""
    files: dict[str, bytes] = {}
    for entry in SECRET_FILES:
        value = (data or {}).get(entry)
        if value is None:
            continue
        try:
            raw = base64.b64decode(value, validate=True) if isinstance(value, str) else None
        except (binascii.Error, ValueError):
            raw = None
        if raw is None:
            raise BrokenKeyFileError(f"secret {name}: {entry} is not base64 data")
        if len(raw) > MAX_KEY_FILE:
            raise BrokenKeyFileError(f"secret {name}: {entry} is too large to be a key file")
        files[entry] = raw
    if X509_PEM not in files and COSIGN_KEY not in files:
        raise BrokenKeyFileError(f"secret {name} has neither {X509_PEM} nor {COSIGN_KEY}")
    return files


def password_resolve(
    *,
    password_file: bytes | None,
    secret: Mapping[str, bytes],
    environ: Mapping[str, str],
) -> bytes | None:
    """The cosign password: ``--password-file``, else the Secret's ``cosign.password``, else
    ``COSIGN_PASSWORD`` (cosign's own variable), else None."""
    if password_file is not None:
        return password_file
    if COSIGN_PASSWORD in secret:
        return secret[COSIGN_PASSWORD]
    env = environ.get(PASSWORD_ENV)
    return env.encode() if env is not None else None


def key_from_secret(secret: Mapping[str, bytes], password: bytes | None) -> KeyMaterial:
    """The signing key of a ``signing-secrets``-shaped mapping, chosen as Chains does:
    ``x509.pem`` first, then ``cosign.key``, whose ``cosign.pub`` (if any) must match it."""
    if X509_PEM in secret:
        return load_private_pem(secret[X509_PEM])
    if COSIGN_KEY not in secret:
        raise BrokenKeyFileError(f"no {X509_PEM} or {COSIGN_KEY} in the signing secret")
    material = load_cosign_key(secret[COSIGN_KEY], password)
    if COSIGN_PUB in secret:
        stated = ssh_fingerprint(secret[COSIGN_PUB])
        if stated != material.fingerprint:
            raise KeyFileError(
                f"{COSIGN_PUB} ({stated}) is not the public half of "
                f"{material.origin} ({material.fingerprint})"
            )
    return material
