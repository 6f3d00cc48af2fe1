"""API tokens as the readers see them: the active token behind a request, and a namespace's
tokens on its settings page."""

from __future__ import annotations

import hashlib

from django.db import connection
from django.db.models import F, QuerySet
from django.utils import timezone

from provenance.models import ApiToken

_TOKEN_COLUMNS = tuple(f.attname for f in ApiToken._meta.concrete_fields)
# One lookup on the unique token_hash index, written out: this runs on every API request, and
# the ORM would compile the same query again each time.
_ACTIVE_TOKEN_SQL = (
    f"SELECT {', '.join(_TOKEN_COLUMNS)} FROM {ApiToken._meta.db_table} "
    "WHERE token_hash = %s AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > %s)"
)


def token_hash(token: str) -> str:
    """What is stored of a token, and how it is looked up: its sha256."""
    return hashlib.sha256(token.encode()).hexdigest()


def api_token_active(token: str) -> ApiToken | None:
    """The token's row if it exists, is not revoked and has not expired."""
    with connection.cursor() as cursor:
        cursor.execute(_ACTIVE_TOKEN_SQL, [token_hash(token), timezone.now()])
        row = cursor.fetchone()
    return None if row is None else ApiToken.from_db(connection.alias, _TOKEN_COLUMNS, row)


def namespace_tokens(namespace: str) -> QuerySet[ApiToken]:
    """Tokens that name this namespace (tokens for every namespace are managed by staff)."""
    return ApiToken.objects.filter(namespaces__contains=[namespace]).order_by(
        F("revoked_at").desc(nulls_first=True), "-created", "-id"
    )
