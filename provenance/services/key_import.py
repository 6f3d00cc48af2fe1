"""Writes: register a signing key imported from Tekton Chains' ``signing-secrets``.

Built on the key services in ``provenance.services`` (``_write_private_key``,
``_key_register``) so an imported key is stored exactly like a generated one: a 0600 PKCS#8 file
under KEYS_DIR, the public key in ``SigningKey`` and in the trust bundle, and for a namespace an
audited settings change that re-signs its runs.
"""

from __future__ import annotations

import logging

from provenance.core.errors import SigningError
from provenance.core.keyfiles import KeyMaterial
from provenance.core.signing import KeySigner
from provenance.core.trust import file_name_of
from provenance.models import SigningKey
from provenance.reads.trust import trusted_keys_dir

from .keys import _key_register, _write_private_key, signer_load
from .namespaces import namespace_settings_update
from .trust import trusted_key_of, trusted_key_write

logger = logging.getLogger(__name__)


def signing_key_import(*, namespace: str, material: KeyMaterial, actor: str) -> SigningKey:
    """Register ``material`` as the namespace's signing key (the default key without one).

    Importing the key a namespace already has is a no-op; a key registered elsewhere (another
    namespace, an older default, the checkpoint key) is refused, because a key id names one key
    of one namespace.
    """
    signer = KeySigner.from_private_pem(material.private_pem)
    existing = SigningKey.objects.filter(key_id=signer.key_id).first()
    if existing is not None:
        return _already_registered(existing, namespace, actor)
    safe_id = signer.key_id.removeprefix("SHA256:").replace("/", "_").replace("+", "-")
    file_name = f"{namespace or 'default'}-imported-{signer.algorithm}-{safe_id[:16]}.pem"
    path = _write_private_key(material.private_pem, file_name)
    key = _key_register(signer, namespace, SigningKey.Purpose.ATTESTATION, file_name, path, actor)
    logger.info("imported %s signing key %s for %s", key.algorithm, key.key_id, namespace or "*")
    return key


def _already_registered(key: SigningKey, namespace: str, actor: str) -> SigningKey:
    where = f"namespace {key.namespace}" if key.namespace else "the default key"
    if key.purpose != SigningKey.Purpose.ATTESTATION:
        raise SigningError(f"key {key.key_id} is already registered as the {key.purpose} key")
    if key.namespace != namespace:
        raise SigningError(f"key {key.key_id} is already registered for {where}")
    signer_load(key)  # its file must still hold it
    if not (trusted_keys_dir() / file_name_of(key.key_id)).exists():
        trusted_key_write(trusted_key_of(key))  # registered before the bundle existed
    if namespace:
        namespace_settings_update(namespace=namespace, changes={}, actor=actor, signing_key=key)
        return key
    newest = (
        SigningKey.objects.filter(namespace="", purpose=SigningKey.Purpose.ATTESTATION)
        .order_by("-id")
        .first()
    )
    if newest is not None and newest != key:
        raise SigningError(
            f"key {key.key_id} is an older default key; the default is now {newest.key_id}"
        )
    return key
