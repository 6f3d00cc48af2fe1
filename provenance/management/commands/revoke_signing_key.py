"""``manage.py revoke_signing_key KEY_ID --reason TEXT [--at TIME]``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from provenance.core.errors import ProvenanceError
from provenance.reads.trust import trusted_keys_dir
from provenance.services.trust import signing_key_revoke


class Command(BaseCommand):
    help = (
        "Revoke an attestation key in the trust bundle (TRUSTED_KEYS_DIR; run it where the "
        "bundle is kept): attestations it signed from --at on (default now) fail verification, "
        "those signed before verify, flagged. The revocation is mirrored in the database."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("key_id", help="the key id (SHA256:...)")
        parser.add_argument("--reason", required=True, help="why (shown with every verdict)")
        parser.add_argument(
            "--at", help="ISO 8601 time with a zone the key stopped being trusted (default now)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        at = None
        if options["at"]:
            try:
                at = datetime.fromisoformat(options["at"])
            except ValueError:
                raise CommandError(
                    f"--at: {options['at']!r} is not an ISO 8601 time", returncode=2
                ) from None
            if at.tzinfo is None:
                raise CommandError(
                    f"--at: {options['at']!r} has no time zone (e.g. +00:00)", returncode=2
                )
        try:
            key = signing_key_revoke(key_id=options["key_id"], reason=options["reason"], at=at)
        except (ProvenanceError, OSError) as exc:
            raise CommandError(f"cannot revoke: {exc}", returncode=2) from None
        assert key.revoked_at is not None
        self.stdout.write(
            f"revoked {key.key_id} from {key.revoked_at.isoformat()} in {trusted_keys_dir()}: "
            f"{key.revoked_reason}"
        )
