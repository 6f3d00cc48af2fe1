"""``manage.py create_signing_key [--namespace NS | --chain] [--algorithm ecdsa-p256|ed25519]
[--rotate]``."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from provenance.config import NAMESPACE_NAME
from provenance.core.errors import ProvenanceError
from provenance.core.signing import ALGORITHMS
from provenance.models import SigningKey
from provenance.reads.trust import trusted_keys_dir
from provenance.services import signing_key_create
from provenance.services.keys import current_key


class Command(BaseCommand):
    help = (
        "Generate a signing key: the private key goes to a 0600 file under KEYS_DIR, the public "
        "key is registered and written to the trust bundle (TRUSTED_KEYS_DIR). With --namespace "
        "it becomes that namespace's key (its runs are re-signed); without, the deployment-wide "
        "default key; with --chain, the chain key (signs chain entries and checkpoints). A key "
        "that replaces one in use needs --rotate: the old key is kept for verification only."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--namespace", default="", help="omit for the default key")
        parser.add_argument(
            "--chain", action="store_true", help="the chain key (Ed25519; no namespace)"
        )
        parser.add_argument("--algorithm", choices=ALGORITHMS, default="ecdsa-p256")
        parser.add_argument(
            "--rotate",
            action="store_true",
            help="replace the key in use; the old one verifies what it signed and signs no more",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        namespace = options["namespace"]
        if namespace and not NAMESPACE_NAME.fullmatch(namespace):
            raise CommandError(f"{namespace!r} is not a Kubernetes namespace name")
        if options["chain"] and namespace:
            raise CommandError(
                "--chain and --namespace: the chain key belongs to no namespace", returncode=2
            )
        purpose = (
            SigningKey.Purpose.CHECKPOINT if options["chain"] else SigningKey.Purpose.ATTESTATION
        )
        algorithm = "ed25519" if options["chain"] else options["algorithm"]
        in_use = current_key(namespace, purpose)
        if in_use is not None and not options["rotate"]:
            what = (
                f"namespace {namespace}"
                if namespace
                else ("the chain" if options["chain"] else "the deployment default")
            )
            raise CommandError(
                f"{what} already has key {in_use.key_id}; pass --rotate to move it to a new key "
                "(the old one is kept for verification only)",
                returncode=2,
            )
        try:
            key = signing_key_create(
                namespace=namespace,
                algorithm=algorithm,
                actor="create_signing_key (command line)",
                purpose=purpose,
                rotate=options["rotate"],
            )
        except (ProvenanceError, OSError) as exc:
            raise CommandError(f"cannot create the key: {exc}") from None
        self.stdout.write(f"key id: {key.key_id}")
        self.stdout.write(f"private key: {settings.KEYS_DIR / key.private_key_path} (mode 0600)")
        self.stdout.write(f"trust bundle: {trusted_keys_dir()}")
        if in_use is not None:
            self.stdout.write(f"rotated: {in_use.key_id} is kept for verification only")
        self.stdout.write(key.public_key_pem.rstrip())
