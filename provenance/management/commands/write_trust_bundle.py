"""``manage.py write_trust_bundle [--sign-chain]``: the one-off upgrade step of a deployment
made before the trust bundle (docs/operations.md). Run it where the private keys live."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from provenance.core.errors import ProvenanceError
from provenance.reads.trust import trusted_keys_dir
from provenance.services.trust_upgrade import chain_sign_existing, trust_bundle_write_existing


class Command(BaseCommand):
    help = (
        "Write the trust bundle file (TRUSTED_KEYS_DIR) of every registered key whose private "
        "key file in KEYS_DIR holds it; with --sign-chain, then sign the chain entries appended "
        "before entries were signed, if the store otherwise verifies."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--sign-chain", action="store_true", help="sign the unsigned chain entries too"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            outcome = trust_bundle_write_existing()
        except OSError as exc:
            raise CommandError(
                f"cannot write the trust bundle {trusted_keys_dir()}: {exc}", returncode=2
            ) from None
        for key in outcome.written:
            self.stdout.write(f"trusted {key.key_id} ({key.namespace or 'default'}, {key.purpose})")
        for key, why in outcome.skipped:
            self.stdout.write(f"NOT trusted {key.key_id} ({key.namespace or 'default'}): {why}")
        self.stdout.write(
            f"{len(outcome.written)} written, {len(outcome.present)} already in "
            f"{trusted_keys_dir()}, {len(outcome.skipped)} left out"
        )
        if options["sign_chain"]:
            try:
                signed = chain_sign_existing()
            except (ProvenanceError, OSError) as exc:
                raise CommandError(f"cannot sign the chain: {exc}", returncode=2) from None
            self.stdout.write(f"signed {signed} chain entries")
