"""``manage.py create_signing_key [--namespace NS] [--algorithm ecdsa-p256|ed25519]``."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from provenance.config import NAMESPACE_NAME
from provenance.core.errors import ProvenanceError
from provenance.core.signing import ALGORITHMS
from provenance.services import signing_key_create


class Command(BaseCommand):
    help = (
        "Generate a signing key: the private key goes to a 0600 file under KEYS_DIR, the public "
        "key is registered. With --namespace it becomes that namespace's key (its runs are "
        "re-signed); without, it becomes the deployment-wide default key."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--namespace", default="", help="omit for the default key")
        parser.add_argument("--algorithm", choices=ALGORITHMS, default="ecdsa-p256")

    def handle(self, *args: Any, **options: Any) -> None:
        namespace = options["namespace"]
        if namespace and not NAMESPACE_NAME.fullmatch(namespace):
            raise CommandError(f"{namespace!r} is not a Kubernetes namespace name")
        try:
            key = signing_key_create(
                namespace=options["namespace"],
                algorithm=options["algorithm"],
                actor="create_signing_key (command line)",
            )
        except (ProvenanceError, OSError) as exc:
            raise CommandError(f"cannot create the key: {exc}") from None
        self.stdout.write(f"key id: {key.key_id}")
        self.stdout.write(f"private key: {settings.KEYS_DIR / key.private_key_path} (mode 0600)")
        self.stdout.write(key.public_key_pem.rstrip())
