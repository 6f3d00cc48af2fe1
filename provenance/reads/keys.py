"""Registered public keys, as the API lists them (whether to trust one is ``verify.key_state``)."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from provenance.models import NamespaceSettings, SigningKey


def signing_key_list(*, namespaces: set[str] | None) -> QuerySet[SigningKey]:
    """Keys of the visible namespaces, and the deployment-wide default keys."""
    qs = SigningKey.objects.all()
    if namespaces is not None:
        qs = qs.filter(Q(namespace__in=sorted(namespaces)) | Q(namespace=""))
    return qs.order_by("namespace", "id")


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
