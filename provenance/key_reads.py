"""Reads: which registered key signs a namespace's attestations."""

from __future__ import annotations

from .models import NamespaceSettings, SigningKey


def signing_key_effective(namespace: str) -> SigningKey | None:
    """The namespace's own key, else the deployment default (the newest), else None.

    Unlike signing, this never creates a default key: reading must not write.
    """
    if namespace:
        row = (
            NamespaceSettings.objects.filter(namespace=namespace, signing_key__isnull=False)
            .select_related("signing_key")
            .first()
        )
        if row is not None and row.signing_key is not None:
            return row.signing_key
    return (
        SigningKey.objects.filter(namespace="", purpose=SigningKey.Purpose.ATTESTATION)
        .order_by("-id")
        .first()
    )
