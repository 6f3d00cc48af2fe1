"""``manage.py export_public_key [--namespace NS]``: the ``cosign.pub`` verifiers need."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from provenance.config import NAMESPACE_NAME
from provenance.reads.keys import signing_key_effective


class Command(BaseCommand):
    help = (
        "Print the PEM public key that signs a namespace's attestations (its own key, else the "
        "default key), for cosign verify-attestation --key, Kyverno or policy-controller."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--namespace", default="", help="omit for the default key")

    def handle(self, *args: Any, **options: Any) -> None:
        namespace = options["namespace"]
        if namespace and not NAMESPACE_NAME.fullmatch(namespace):
            raise CommandError(f"{namespace!r} is not a Kubernetes namespace name", returncode=2)
        key = signing_key_effective(namespace)
        if key is None:
            raise CommandError(
                "no signing key yet: run create_signing_key or import_signing_key", returncode=2
            )
        self.stdout.write(key.public_key_pem.rstrip())
