"""Signing keys: private keys in 0600 files under KEYS_DIR, public keys registered in the
database and written to the trust bundle (``services.trust``); the deployment-wide default keys
are created on first use when allowed."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from provenance.core import chain
from provenance.core.errors import SigningError
from provenance.core.signing import (
    ALGORITHMS,
    KeySigner,
    generate_private_key_pem,
    load_file_signer,
)
from provenance.models import SigningKey

from .namespaces import namespace_settings_update
from .trust import signing_key_retire, trusted_key_of, trusted_key_write

logger = logging.getLogger(__name__)

# pg_advisory_xact_lock key: one writer at a time creates the default keys.
KEY_LOCK = 7_411_002


def keys_dir() -> Path:
    return Path(settings.KEYS_DIR)


def _write_private_key(pem: bytes, file_name: str) -> Path:
    folder = keys_dir()
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / file_name
    # O_EXCL: never overwrite a key; 0600 from creation, so the key is never readable by others.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, pem)
        os.fsync(fd)
    finally:
        os.close(fd)
    return path


def signing_key_create(
    *,
    namespace: str,
    algorithm: str,
    actor: str,
    purpose: str = SigningKey.Purpose.ATTESTATION,
    rotate: bool = False,
) -> SigningKey:
    """Generate a key pair: the private key to a 0600 file under KEYS_DIR, the public key to
    the database and the trust bundle. A namespace key becomes that namespace's signing key (an
    audited change). ``rotate``: the key it replaces (the namespace's, the default or the chain
    key) is retired, kept for verification only."""
    if algorithm not in ALGORITHMS:
        raise SigningError(
            f"unknown signing algorithm {algorithm!r}; expected one of {', '.join(ALGORITHMS)}"
        )
    pem = generate_private_key_pem(algorithm)
    signer = KeySigner.from_private_pem(pem)
    safe_id = signer.key_id.removeprefix("SHA256:").replace("/", "_").replace("+", "-")
    label = namespace or ("checkpoint" if purpose == SigningKey.Purpose.CHECKPOINT else "default")
    file_name = f"{label}-{algorithm}-{safe_id[:16]}.pem"
    previous = current_key(namespace, purpose) if rotate else None
    path = _write_private_key(pem, file_name)
    return _key_register(signer, namespace, purpose, file_name, path, actor, previous)


def current_key(namespace: str, purpose: str) -> SigningKey | None:
    """The key a namespace (or, for "", the deployment) signs with now, not yet retired."""
    return (
        SigningKey.objects.filter(namespace=namespace, purpose=purpose, retired_at__isnull=True)
        .order_by("-id")
        .first()
    )


def _key_register(
    signer: KeySigner,
    namespace: str,
    purpose: str,
    file_name: str,
    path: Path,
    actor: str,
    previous: SigningKey | None = None,
) -> SigningKey:
    """Register a key whose private key was just written to ``path``, write its trust bundle
    file, and retire ``previous``; on any failure nothing is left behind (no row, no files)."""
    trusted = None
    try:
        with transaction.atomic():
            key = SigningKey.objects.create(
                key_id=signer.key_id,
                algorithm=signer.algorithm,
                public_key_pem=signer.public_key_pem,
                namespace=namespace,
                purpose=purpose,
                private_key_path=file_name,
            )
            if namespace:
                namespace_settings_update(
                    namespace=namespace, changes={}, actor=actor, signing_key=key
                )
            trusted = trusted_key_write(trusted_key_of(key))
            if previous is not None:
                signing_key_retire(previous, timezone.now())
    except BaseException:
        path.unlink(missing_ok=True)  # no orphan private key without its registration
        if trusted is not None:
            trusted.unlink(missing_ok=True)
        raise
    logger.info("created %s signing key %s for %s", signer.algorithm, key.key_id, namespace or "*")
    return key


def default_keys() -> dict[str, SigningKey]:
    """The deployment-wide key of each purpose that has one, in one query (a compute needs the
    attestation and the chain key): the newest per purpose, as ``default_key`` picks it."""
    return {
        key.purpose: key
        for key in SigningKey.objects.filter(namespace="")
        .order_by("purpose", "-id")
        .distinct("purpose")
    }


def default_key(purpose: str, known: dict[str, SigningKey] | None = None) -> SigningKey:
    """The deployment-wide key of this purpose, created on first use if allowed. ``known``:
    what ``default_keys`` read, when the caller has it."""
    keys = SigningKey.objects.filter(namespace="", purpose=purpose).order_by("-id")
    key = known.get(purpose) if known is not None else keys.first()
    if key is not None:
        return key
    if purpose == SigningKey.Purpose.ATTESTATION and not settings.SIGNING_DEFAULT_KEY_AUTOCREATE:
        raise SigningError(
            "no signing key for this namespace and no default key: run "
            "`manage.py create_signing_key` (SIGNING_DEFAULT_KEY_AUTOCREATE is off)"
        )
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [KEY_LOCK])
        key = keys.first()
        if key is None:
            algorithm = (
                "ed25519"
                if purpose == SigningKey.Purpose.CHECKPOINT
                else settings.SIGNING_DEFAULT_ALGORITHM
            )
            try:
                key = signing_key_create(
                    namespace="", algorithm=algorithm, actor="system", purpose=purpose
                )
            except OSError as exc:
                raise SigningError(
                    f"cannot create the default {purpose} key in {keys_dir()}: {exc.strerror}"
                ) from None
    return key


def signer_load(key: SigningKey) -> KeySigner:
    """The signer for a registered key; SigningError if the file is missing or does not match,
    or the key was retired or revoked (it verifies what it signed, and signs nothing more)."""
    if key.revoked_at is not None:
        raise SigningError(f"signing key {key.key_id} is revoked: {key.revoked_reason}")
    if key.retired_at is not None:
        raise SigningError(
            f"signing key {key.key_id} was rotated out and signs nothing more; "
            "the namespace signs with its new key"
        )
    signer = load_file_signer(keys_dir() / key.private_key_path)
    if signer.key_id != key.key_id:
        raise SigningError(
            f"key file {key.private_key_path} does not hold the registered key {key.key_id}"
        )
    return signer


def checkpoint_signer(known: dict[str, SigningKey] | None = None) -> KeySigner:
    """The chain key: signs every chain entry and the checkpoints (``verify_store``)."""
    return signer_load(default_key(SigningKey.Purpose.CHECKPOINT, known))


def key_file_problems() -> list[chain.Problem]:
    """Registered keys whose private key file is here but holds another key (``verify_store``).

    A missing file says nothing either way (private keys live where the workers run, often not
    where the check runs): whether a key is trusted is the trust bundle's to say.
    """
    problems = []
    for key in SigningKey.objects.order_by("id"):
        path = keys_dir() / key.private_key_path
        if not path.is_file():
            continue
        try:
            signer = load_file_signer(path)
        except SigningError as exc:
            problems.append(chain.Problem("modified", None, f"registered key {key.key_id}: {exc}"))
            continue
        if signer.public_key_pem.strip() != key.public_key_pem.strip():
            problems.append(
                chain.Problem(
                    "modified", None, f"registered key {key.key_id} does not match its key file"
                )
            )
    return problems
