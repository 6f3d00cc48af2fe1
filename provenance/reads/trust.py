"""What the verifier trusts: the trust bundle (``TRUSTED_KEYS_DIR``), read against the keys the
database registers.

The database says which key signed what; only the bundle, files kept outside the database and
mounted read-only where the web app runs, says whether that key may vouch for it: a key the
bundle does not hold, or holds for other namespaces, vouches for nothing, whatever the
``SigningKey`` rows say. The bundle also holds the chain key's public half, which checks the
signature on every chain entry (docs/security.md).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from django.conf import settings

from provenance.core.errors import SigningError
from provenance.core.signing import PublicKey, key_id_of, load_public_key
from provenance.core.trust import (
    TrustedKey,
    TrustError,
    chain_entry_verify,
    trusted_key_from_json,
)
from provenance.models import SigningKey


def trusted_keys_dir() -> Path:
    """``TRUSTED_KEYS_DIR``, else the folder beside ``KEYS_DIR`` named ``<KEYS_DIR>-trusted``."""
    if settings.TRUSTED_KEYS_DIR:
        return Path(settings.TRUSTED_KEYS_DIR)
    keys = Path(settings.KEYS_DIR)
    return keys.with_name(keys.name + "-trusted")


@dataclass(frozen=True, slots=True)
class TrustBundle:
    """The bundle's keys under their ids (and legacy ids), and the files that could not be read."""

    keys: dict[str, TrustedKey]
    problems: tuple[str, ...] = ()

    @property
    def distinct(self) -> list[TrustedKey]:
        return list({k.key_id: k for k in self.keys.values()}.values())


# The last bundle read, by folder and the (name, inode, mtime, size) of each file: parsing the
# files and hashing every key costs about 0.5 ms a key, a stat of each a few microseconds. A
# ConfigMap update swaps the files (new inodes), so it is seen on the next read.
_cache: dict[str, tuple[tuple[tuple[str, int, int, int], ...], TrustBundle]] = {}


def trust_bundle() -> TrustBundle:
    """Read every ``*.json`` file of the bundle folder (a missing folder trusts nothing, and
    every attestation then says its key is not in the bundle)."""
    folder = trusted_keys_dir()
    if not folder.is_dir():
        return TrustBundle({})
    stamp = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if not entry.name.endswith(".json") or entry.name.startswith("."):
                continue
            try:
                st = entry.stat()  # follows a ConfigMap's symlinks to the current files
            except OSError:
                continue
            stamp.append((entry.name, st.st_ino, st.st_mtime_ns, st.st_size))
    stamp.sort()
    paths = [folder / name for name, *_ in stamp]
    cached = _cache.get(str(folder))
    if cached is not None and cached[0] == tuple(stamp):
        return cached[1]
    keys: dict[str, TrustedKey] = {}
    problems = []
    for path in paths:
        try:
            trusted = trusted_key_from_json(path.read_bytes())
        except (OSError, TrustError) as exc:
            problems.append(f"trust bundle file {path.name}: {exc}")
            continue
        keys.update(dict.fromkeys(trusted.ids, trusted))
    bundle = TrustBundle(keys, tuple(problems))
    _cache[str(folder)] = (tuple(stamp), bundle)
    return bundle


def trusted_key(key_id: str) -> TrustedKey | None:
    """The bundle's entry for one key, for pages and the API that show a key's state."""
    return trust_bundle().keys.get(key_id)


@dataclass(frozen=True, slots=True)
class KeyProblem:
    """What is wrong with a registered key in itself (its PEM does not load, does not hash to
    its id, or is not the key the bundle trusts under that id)."""

    code: str
    message: str


@dataclass(frozen=True, slots=True)
class KeyRing:
    """Everything the key checks read, once per read of many attestations: the registered keys
    by id (and legacy id), the bundle, each trusted public key loaded once, and what is wrong
    with a registered key in itself."""

    keys: dict[str, SigningKey]
    bundle: TrustBundle
    loaded: dict[str, PublicKey] = field(default_factory=dict)
    broken: dict[str, KeyProblem] = field(default_factory=dict)

    def trusted(self, key_id: str) -> TrustedKey | None:
        return self.bundle.keys.get(key_id)


def key_ring() -> KeyRing:
    """The registered keys (one query) and the trust bundle (one folder read)."""
    bundle = trust_bundle()
    keys: dict[str, SigningKey] = {}
    loaded = {key_id: trusted.public_key for key_id, trusted in bundle.keys.items()}
    broken: dict[str, KeyProblem] = {}
    for key in SigningKey.objects.all():
        ids = [key.key_id, *([key.legacy_key_id] if key.legacy_key_id else [])]
        keys.update(dict.fromkeys(ids, key))
        try:
            public = load_public_key(key.public_key_pem)
        except SigningError as exc:
            broken.update(
                dict.fromkeys(ids, KeyProblem("key-unreadable", f"cannot be read: {exc}"))
            )
            continue
        if key_id_of(public) != key.key_id:
            broken.update(dict.fromkeys(ids, KeyProblem("key-mismatch", "does not match its id")))
            continue
        trusted = bundle.keys.get(key.key_id)
        if trusted is not None and trusted.key_id != key.key_id:
            broken.update(
                dict.fromkeys(
                    ids, KeyProblem("key-mismatch", "is not the key the trust bundle holds")
                )
            )
    return KeyRing(keys=keys, bundle=bundle, loaded=loaded, broken=broken)


def chain_signature_valid(
    ring: KeyRing,
    *,
    signed_by: str,
    signature: str,
    seq: int,
    entry_hash: str,
    attestation_id: int,
    at: datetime,
) -> str:
    """Why a chain entry's signature does not hold (empty: it does)."""
    if not signature:
        return "is not signed by the chain key (appended outside the workers)"
    trusted = ring.trusted(signed_by)
    if trusted is None or trusted.purpose != SigningKey.Purpose.CHECKPOINT:
        return f"is signed by {signed_by or 'no key'}, which the trust bundle holds as no chain key"
    if not chain_entry_verify(
        ring.loaded[signed_by],
        signature,
        seq=seq,
        entry_hash=entry_hash,
        attestation_id=attestation_id,
        at=at,
    ):
        return f"has a signature that does not verify with the chain key {signed_by}"
    return ""
