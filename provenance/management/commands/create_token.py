"""``manage.py create_token --user NAME [--namespace NS ...] [--role viewer|ingester|admin]``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from provenance.models import ApiToken
from provenance.services import api_token_create


class Command(BaseCommand):
    help = "Create an API token and print it once (only its sha256 is stored)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", required=True, help="who or what the token is for")
        parser.add_argument(
            "--namespace",
            action="append",
            default=[],
            dest="namespaces",
            help="a namespace the token may use (repeat for several; omit for all namespaces)",
        )
        parser.add_argument(
            "--role",
            choices=ApiToken.Role.values,
            default=ApiToken.Role.VIEWER,
            help="default: viewer",
        )
        parser.add_argument("--expires-days", type=int, default=None, help="expire after N days")

    def handle(self, *args: Any, **options: Any) -> None:
        expires = options["expires_days"]
        if expires is not None and expires <= 0:
            raise CommandError("--expires-days must be positive")
        try:
            row, token = api_token_create(
                name=options["user"],
                namespaces=options["namespaces"],
                role=options["role"],
                expires_at=timezone.now() + timedelta(days=expires) if expires else None,
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        scope = ", ".join(row.namespaces) if row.namespaces else "all namespaces"
        self.stderr.write(
            f"Created {row.role} token for {row.name} ({scope}). "
            "It is shown only now; store it somewhere safe:"
        )
        self.stdout.write(token)
