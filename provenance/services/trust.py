"""Writes to the trust bundle (``TRUSTED_KEYS_DIR``): a file per key, written where keys are
created and never by the web app; and the key lifecycle (revoke, retire) recorded there and
mirrored in the database for display (docs/security.md)."""

from __future__ import annotations

import logging
import os
from datetime import datetime
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from provenance.core.errors import SigningError
from provenance.core.trust import TrustedKey, TrustError, file_name_of, trusted_key_from_json
from provenance.models import SigningKey
from provenance.reads.trust import trusted_keys_dir

logger = logging.getLogger(__name__)


def trusted_key_write(trusted: TrustedKey) -> Path:
    """Write one bundle file atomically (a temporary file renamed over it, both fsynced), so a
    reader never sees half a file."""
    folder = trusted_keys_dir()
    folder.mkdir(mode=0o755, parents=True, exist_ok=True)
    path = folder / file_name_of(trusted.key_id)
    tmp = folder / f".{path.name}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, trusted.to_json())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return path


def trusted_key_of(key: SigningKey) -> TrustedKey:
    """What the bundle says of a newly registered key: its namespace, or the deployment default
    (the chain key: a checkpoint key of no namespace)."""
    return TrustedKey(
        public_key_pem=key.public_key_pem,
        purpose=key.purpose,
        namespaces=(key.namespace,) if key.namespace else (),
        default=not key.namespace and key.purpose == SigningKey.Purpose.ATTESTATION,
    )


def trusted_key_read(key: SigningKey) -> TrustedKey:
    """The bundle's file of a registered key; SigningError when it has none."""
    path = trusted_keys_dir() / file_name_of(key.key_id)
    try:
        trusted = trusted_key_from_json(path.read_bytes())
    except FileNotFoundError:
        raise SigningError(
            f"key {key.key_id} is not in the trust bundle {trusted_keys_dir()}: run this where "
            "the bundle is kept (where keys are created)"
        ) from None
    except (OSError, TrustError) as exc:
        raise SigningError(f"trust bundle file {path.name}: {exc}") from None
    if trusted.key_id != key.key_id:
        raise SigningError(f"trust bundle file {path.name} holds another key")
    return trusted


def signing_key_revoke(*, key_id: str, reason: str, at: datetime | None = None) -> SigningKey:
    """Revoke a key from ``at`` (default now): what it signed from then on fails verification,
    what it signed before verifies flagged. Recorded in the bundle, mirrored on the row."""
    key = SigningKey.objects.filter(key_id=key_id).first()
    if key is None:
        raise SigningError(f"no registered key {key_id}")
    if key.purpose != SigningKey.Purpose.ATTESTATION:
        raise SigningError(
            f"key {key_id} is the {key.purpose} key; replace it with create_signing_key --chain"
        )
    if not reason.strip():
        raise SigningError("a reason is required")
    moment = at or timezone.now()
    trusted = trusted_key_read(key)
    with transaction.atomic():
        SigningKey.objects.filter(pk=key.pk).update(
            revoked_at=moment, revoked_reason=reason.strip()[:500]
        )
        trusted_key_write(trusted.with_revocation(moment, reason.strip()))
    logger.warning("revoked signing key %s from %s: %s", key_id, moment.isoformat(), reason)
    key.refresh_from_db()
    return key


def signing_key_retire(key: SigningKey, at: datetime) -> None:
    """A key rotated out: it signs nothing more, what it signed still verifies."""
    if key.retired_at is not None:
        return
    trusted = trusted_key_read(key)
    SigningKey.objects.filter(pk=key.pk).update(retired_at=at)
    trusted_key_write(trusted.with_retirement(at))
    logger.info("retired signing key %s (rotated)", key.key_id)
