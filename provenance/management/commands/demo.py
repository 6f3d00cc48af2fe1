"""``manage.py demo``: load the sample records and create demo users (safe to run again).

For the embedded, single-process demo (``make demo``): the records of ``provenance/samples/`` go
through the same ingest service as the API, and with no broker configured the tasks run eagerly,
so every run is signed before the command returns. It prints the users and their passwords.

- ``demo`` is a staff superuser: every namespace, admin everywhere, and /admin/.
- ``viewer`` is a viewer of ``storefront-ci`` only, to show namespace scoping.
- ``inventory-release`` is switched to per-artifact statements (emit on-artifact) so both kinds
  of statement are there to look at.

Passwords are generated on every run (and printed), unless ``--password`` is given. Against a
database other than the embedded one, the command refuses unless told ``--allow-external-db``:
it creates a superuser with a printed password.
"""

from __future__ import annotations

import logging
import secrets
import string
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from provenance.models import ApiToken, NamespaceGrant
from provenance.services import RecordSource, namespace_settings_update, records_ingest

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
PER_ARTIFACT_NAMESPACE = "inventory-release"
VIEWER_NAMESPACE = "storefront-ci"


def _password() -> str:
    """16 letters and digits: easy to copy from a terminal (no leading dash)."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(16))


class Command(BaseCommand):
    help = "Load the sample records, sign them, and create the demo users (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--password", help="password for both demo users (default: generated)")
        parser.add_argument(
            "--allow-external-db",
            action="store_true",
            help="run even though DATABASE_URL points at a real database",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        # One "task succeeded" line per run would bury the passwords (eager mode).
        logging.getLogger("celery.app.trace").setLevel(logging.WARNING)
        engine = settings.DATABASES["default"]["ENGINE"]
        if engine != "chainsweb.embedded_db" and not options["allow_external_db"]:
            raise CommandError(
                "demo creates a superuser with a printed password: it only runs on the embedded "
                "database (unset DATABASE_URL) unless --allow-external-db is given"
            )
        files = sorted(SAMPLES.glob("*.json"))
        if not files:
            raise CommandError(f"no sample records in {SAMPLES}")
        for path in files:
            result = records_ingest(
                data=path.read_bytes(),
                namespaces_allowed=None,
                source=RecordSource.imported(file=path.name, command="demo"),
            )
            self.stdout.write(
                f"{path.name}: {result.count('created')} created, "
                f"{result.count('updated')} updated, {result.count('unchanged')} unchanged"
            )
        # An audited change the first time only; later runs find nothing to change. Made by the
        # command, named as commands are ("user:demo" is the demo user, in the dashboard).
        namespace_settings_update(
            namespace=PER_ARTIFACT_NAMESPACE,
            changes={"scope": "per-artifact", "emit": "on-artifact"},
            actor="demo (command line)",
        )
        admin_password = options["password"] or _password()
        viewer_password = options["password"] or _password()
        with transaction.atomic():
            admin = self._user("demo", admin_password, staff=True)
            viewer = self._user("viewer", viewer_password, staff=False)
            NamespaceGrant.objects.get_or_create(
                user=viewer, namespace=VIEWER_NAMESPACE, defaults={"role": ApiToken.Role.VIEWER}
            )
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS("Demo ready at http://127.0.0.1:8000/"))
        self.stdout.write(f"  admin of every namespace:  {admin.get_username()} / {admin_password}")
        self.stdout.write(
            f"  viewer of {VIEWER_NAMESPACE}:  {viewer.get_username()} / {viewer_password}"
        )

    def _user(self, name: str, password: str, *, staff: bool) -> Any:
        user, _ = get_user_model().objects.get_or_create(username=name)
        user.is_staff = staff
        user.is_superuser = staff
        user.is_active = True
        user.set_password(password)
        user.save()
        return user
