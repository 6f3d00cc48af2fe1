"""Registered public keys, as the API lists them (whether to trust one is ``verify.key_state``)."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from provenance.models import SigningKey


def signing_key_list(*, namespaces: set[str] | None) -> QuerySet[SigningKey]:
    """Keys of the visible namespaces, and the deployment-wide default keys."""
    qs = SigningKey.objects.all()
    if namespaces is not None:
        qs = qs.filter(Q(namespace__in=sorted(namespaces)) | Q(namespace=""))
    return qs.order_by("namespace", "id")
