"""The one-off step of a deployment made before the trust bundle: write the bundle files of
the keys registered then, and sign the chain entries appended then (docs/operations.md).

Run where the private keys live: a key is written to the bundle only when its private key file
is in KEYS_DIR and holds it, so a key row someone inserted into the database is never trusted
this way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import connection, transaction

from provenance.core.errors import SigningError
from provenance.core.signing import load_file_signer
from provenance.core.trust import chain_entry_sign, file_name_of
from provenance.models import ChainEntry, SigningKey
from provenance.reads.store import store_verify
from provenance.reads.trust import trusted_keys_dir

from .attest import CHAIN_LOCK
from .keys import checkpoint_signer, keys_dir
from .trust import trusted_key_of, trusted_key_write


@dataclass
class BundleWrite:
    written: list[SigningKey] = field(default_factory=list)
    present: list[SigningKey] = field(default_factory=list)
    skipped: list[tuple[SigningKey, str]] = field(default_factory=list)


def trust_bundle_write_existing() -> BundleWrite:
    """A bundle file for each registered key whose private key file here holds it."""
    outcome = BundleWrite()
    for key in SigningKey.objects.order_by("id"):
        if (trusted_keys_dir() / file_name_of(key.key_id)).exists():
            outcome.present.append(key)
            continue
        path = keys_dir() / key.private_key_path
        if not path.is_file():
            outcome.skipped.append((key, f"no private key file {path}"))
            continue
        try:
            signer = load_file_signer(path)
        except SigningError as exc:
            outcome.skipped.append((key, str(exc)))
            continue
        if signer.key_id != key.key_id:
            outcome.skipped.append((key, f"{path} holds another key"))
            continue
        trusted_key_write(trusted_key_of(key))
        outcome.written.append(key)
    return outcome


def chain_sign_existing() -> int:
    """Sign the chain entries appended before entries were signed, once the whole store
    verifies but for those signatures; returns how many were signed."""
    signer = checkpoint_signer()
    report = store_verify()
    reasons = [r for v in report.verdicts.values() for r in v.reasons]
    blocking = [r.message for r in reasons if r.code != "chain-unsigned"]
    # Problems no verdict gives: the keys, the bundle's files, the chain walked as a whole.
    given = {r.message for r in reasons}
    blocking += [p.message for p in report.problems if p.message not in given]
    if blocking:
        raise SigningError(
            f"the store does not verify ({blocking[0]}; {len(blocking)} problems in all): "
            "run verify_store; nothing was signed"
        )
    signed = 0
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CHAIN_LOCK])
        for entry in ChainEntry.objects.filter(signature="").order_by("seq"):
            signature = chain_entry_sign(
                signer,
                seq=entry.seq,
                entry_hash=entry.entry_hash,
                attestation_id=entry.attestation_id,
                at=entry.created,
            )
            ChainEntry.objects.filter(pk=entry.pk, signature="").update(
                signature=signature, signed_by=signer.key_id
            )
            signed += 1
    return signed
