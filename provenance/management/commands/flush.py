"""``manage.py flush``: Django's flush, which empties every table with TRUNCATE.

The append-only tables refuse TRUNCATE (migration 0010). A superuser may still empty them:
this command sets ``session_replication_role = replica`` for the flush, which only a superuser
can and which turns the guards off for this session alone (the test suite flushes this way
between transactional tests). Anyone else gets the guard's refusal.
"""

from __future__ import annotations

from typing import Any

from django.core.management.commands.flush import Command as DjangoFlush
from django.db import connections

SUPERUSER = "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"


class Command(DjangoFlush):
    def handle(self, **options: Any) -> None:
        connection = connections[options["database"]]
        with connection.cursor() as cursor:
            cursor.execute(SUPERUSER)
            row = cursor.fetchone()
            superuser = bool(row and row[0])
            if superuser:
                cursor.execute("SET session_replication_role = replica")
        try:
            super().handle(**options)
        finally:
            if superuser:
                with connection.cursor() as cursor:
                    cursor.execute("RESET session_replication_role")
