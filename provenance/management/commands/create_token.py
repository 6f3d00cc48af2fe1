"""``manage.py create_token --user NAME (--namespace NS ... | --all-namespaces)
[--role viewer|ingester|admin] [--expires-in 30d | --expires-at 2027-01-31T00:00:00Z]``."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from provenance.models import ApiToken
from provenance.reads.namespaces import namespace_exists
from provenance.services import api_token_create

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_DURATION = re.compile(r"(\d+)([smhdw])")


def parse_duration(value: str) -> timedelta:
    """``90m``, ``12h``, ``30d``, ``2w`` or ``1d12h`` → timedelta (positive)."""
    text = value.strip().lower()
    parts = _DURATION.findall(text)
    if not text or "".join(n + u for n, u in parts) != text:
        raise CommandError(f"--expires-in {value!r}: expected e.g. 90m, 12h, 30d or 2w")
    delta = sum((timedelta(**{_UNITS[unit]: int(n)}) for n, unit in parts), timedelta())
    if delta <= timedelta(0):
        raise CommandError("--expires-in must be positive")
    return delta


def parse_moment(value: str) -> datetime:
    """An ISO 8601 date or date-time; a naive one is taken as UTC."""
    moment = parse_datetime(value.strip())
    if moment is None:
        day = parse_date(value.strip())
        if day is None:
            raise CommandError(f"--expires-at {value!r}: expected an ISO 8601 date or date-time")
        moment = datetime(day.year, day.month, day.day)
    if timezone.is_naive(moment):
        moment = moment.replace(tzinfo=UTC)
    return moment


class Command(BaseCommand):
    help = "Create an API token and print it once (only its sha256 is stored)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", required=True, help="who or what the token is for")
        scope = parser.add_mutually_exclusive_group()
        scope.add_argument(
            "--namespace",
            action="append",
            default=[],
            dest="namespaces",
            help="a namespace the token may use (repeat for several)",
        )
        scope.add_argument(
            "--all-namespaces",
            action="store_true",
            help="the token may use every namespace, present and future (must be asked for)",
        )
        parser.add_argument(
            "--role",
            choices=ApiToken.Role.values,
            default=ApiToken.Role.VIEWER,
            help="default: viewer",
        )
        expiry = parser.add_mutually_exclusive_group()
        expiry.add_argument(
            "--expires-in", default=None, help="expire after a duration: 90m, 12h, 30d, 2w"
        )
        expiry.add_argument(
            "--expires-at", default=None, help="expire at an ISO 8601 time (UTC when no offset)"
        )
        expiry.add_argument(
            "--expires-days", type=int, default=None, help="expire after N days (older spelling)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["namespaces"] and not options["all_namespaces"]:
            raise CommandError(
                "name the token's namespaces with --namespace NS (repeatable), "
                "or pass --all-namespaces to grant every namespace"
            )
        expires_at: datetime | None = None
        if options["expires_in"]:
            expires_at = timezone.now() + parse_duration(options["expires_in"])
        elif options["expires_at"]:
            expires_at = parse_moment(options["expires_at"])
        elif options["expires_days"] is not None:
            if options["expires_days"] <= 0:
                raise CommandError("--expires-days must be positive")
            expires_at = timezone.now() + timedelta(days=options["expires_days"])
        try:
            row, token = api_token_create(
                name=options["user"],
                namespaces=options["namespaces"],
                all_namespaces=options["all_namespaces"],
                role=options["role"],
                expires_at=expires_at,
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        scope_text = "all namespaces" if row.all_namespaces else ", ".join(row.namespaces)
        until = f", expires {row.expires_at:%Y-%m-%d %H:%M:%S} UTC" if row.expires_at else ""
        self.stderr.write(
            f"Created {row.role} token {row.pk} ({row.prefix}…) for {row.name} "
            f"({scope_text}{until}). It is shown only now; store it somewhere safe:"
        )
        for namespace in row.namespaces:
            if not namespace_exists(namespace):
                # Not refused: an ingest token for a namespace whose first run is still to come
                # is normal. But a misspelt name would give a token that silently sees nothing.
                self.stderr.write(
                    f"warning: no run, settings or grant names namespace {namespace!r} yet; "
                    "check the spelling (the token sees its runs once they arrive)"
                )
        self.stdout.write(token)
