"""``manage.py revoke_token PREFIX_OR_ID``: revoke an API token now."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from provenance.models import ApiToken
from provenance.services import api_token_revoke


class Command(BaseCommand):
    help = (
        "Revoke an API token, named by its id or by the first characters of the token "
        "(at least its 12-character prefix, e.g. cwt_AbCdEfGh, as create_token printed)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("token", metavar="PREFIX_OR_ID")

    def handle(self, *args: Any, **options: Any) -> None:
        wanted = options["token"].strip()
        if wanted.isdigit():
            rows = list(ApiToken.objects.filter(pk=int(wanted))) if len(wanted) < 19 else []
        elif len(wanted) >= 12:
            # The stored prefix is the token's first 12 characters; a longer value (the whole
            # token) is matched on those.
            rows = list(ApiToken.objects.filter(prefix=wanted[:12]))
        else:
            raise CommandError("give the token's id or at least its first 12 characters")
        if not rows:
            raise CommandError(f"no token matches {wanted!r}")
        if len(rows) > 1:
            listed = ", ".join(f"{r.pk} ({r.name})" for r in rows)
            raise CommandError(f"{wanted!r} matches several tokens: {listed}; revoke by id")
        already = rows[0].revoked_at is not None
        row = api_token_revoke(token_id=rows[0].pk)
        assert row.revoked_at is not None
        state = "was already revoked at" if already else "revoked at"
        self.stdout.write(
            f"Token {row.pk} ({row.prefix}…, {row.name}, {row.role}) {state} "
            f"{row.revoked_at:%Y-%m-%d %H:%M:%S} UTC"
        )
