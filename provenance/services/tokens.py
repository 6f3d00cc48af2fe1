"""API tokens: created once (only their sha256 is stored) and revoked."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime

from django.utils import timezone

from provenance.config import NAMESPACE_NAME
from provenance.models import ApiToken
from provenance.reads.tokens import token_hash

TOKEN_PREFIX = "cwt_"


def api_token_create(
    *,
    name: str,
    namespaces: Iterable[str] = (),
    all_namespaces: bool = False,
    role: str = ApiToken.Role.VIEWER,
    expires_at: datetime | None = None,
) -> tuple[ApiToken, str]:
    """Create a token; returns the row and the token itself, which is never stored.

    A token names its namespaces, or says ``all_namespaces=True``: an empty list is an error,
    never a silent "everything".
    """
    if role not in ApiToken.Role.values:
        raise ValueError(
            f"unknown role {role!r}; expected one of {', '.join(ApiToken.Role.values)}"
        )
    if not name.strip():
        raise ValueError("the token needs a user name")
    wanted = sorted({ns.strip() for ns in namespaces})
    if all_namespaces and wanted:
        raise ValueError("a token is either for all namespaces or for a list of them, not both")
    if not all_namespaces and not wanted:
        raise ValueError("name at least one namespace, or ask for all namespaces explicitly")
    for namespace in wanted:
        if not NAMESPACE_NAME.fullmatch(namespace):
            raise ValueError(f"{namespace!r} is not a Kubernetes namespace name")
    if expires_at is not None and expires_at <= timezone.now():
        raise ValueError("the expiry time is in the past")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken.objects.create(
        name=name.strip(),
        token_hash=token_hash(token),
        prefix=token[:12],
        namespaces=wanted,
        all_namespaces=all_namespaces,
        role=role,
        expires_at=expires_at,
    )
    return row, token


def api_token_revoke(*, token_id: int) -> ApiToken:
    """Revoke a token now (idempotent: an already revoked token keeps its revocation time)."""
    row = ApiToken.objects.get(pk=token_id)
    if row.revoked_at is None:
        ApiToken.objects.filter(pk=token_id, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        row.refresh_from_db()
    return row
