"""``manage.py import_signing_key [--namespace NS] (PATH | --from-secret NS/NAME)``.

Takes over the key a Tekton Chains installation signs with, from its ``signing-secrets``:
``x509.pem``, or ``cosign.key`` with its password. Verifiers keep using the ``cosign.pub`` they
already trust.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import kubernetes
from django.core.management.base import BaseCommand, CommandError, CommandParser
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from provenance.config import NAMESPACE_NAME
from provenance.core import keyfiles
from provenance.core.errors import ProvenanceError
from provenance.management.commands.watch_records import api_client_for
from provenance.services.key_import import signing_key_import

k8s: Any = kubernetes
BAD_INPUT = 2


def fail(message: str) -> CommandError:
    return CommandError(message, returncode=BAD_INPUT)


def secret_read(reference: str, kubeconfig: str | None) -> dict[str, bytes]:
    """The key entries of the Secret ``NS/NAME`` read through the Kubernetes API."""
    namespace, _, name = reference.partition("/")
    if not NAMESPACE_NAME.fullmatch(namespace) or not name or "/" in name:
        raise fail(f"--from-secret {reference!r}: expected NAMESPACE/NAME")
    try:
        api = k8s.client.CoreV1Api(api_client_for(kubeconfig))
        secret = api.read_namespaced_secret(name, namespace, _request_timeout=30)
    except CommandError as exc:
        raise fail(str(exc)) from None
    except ApiException as exc:
        if exc.status == 404:
            raise fail(f"secret {reference} not found") from None
        if exc.status in (401, 403):
            raise fail(
                f"not allowed to read secret {reference} (HTTP {exc.status}: needs get on secrets)"
            ) from None
        raise fail(f"cannot read secret {reference}: HTTP {exc.status} {exc.reason}") from None
    except (HTTPError, OSError) as exc:
        raise fail(f"cannot reach the Kubernetes API to read {reference}: {exc}") from None
    return keyfiles.secret_files_from_data(secret.data, reference)


class Command(BaseCommand):
    help = (
        "Import a Tekton Chains signing key (x509.pem, cosign.key + password, a folder laid out "
        "like the signing-secrets Secret, or that Secret itself) as a namespace's signing key, "
        "or the deployment default without --namespace. Prints the key id."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", nargs="?", help="x509.pem, cosign.key, or a Secret folder")
        parser.add_argument("--namespace", default="", help="omit for the default key")
        parser.add_argument(
            "--password-file",
            help="cosign.key password (else cosign.password beside the key, else COSIGN_PASSWORD)",
        )
        parser.add_argument("--from-secret", metavar="NS/NAME", help="read the Secret instead")
        parser.add_argument("--kubeconfig", help="kubeconfig file (default: in-cluster or ~)")

    def handle(self, *args: Any, **options: Any) -> None:
        namespace = options["namespace"]
        if namespace and not NAMESPACE_NAME.fullmatch(namespace):
            raise fail(f"{namespace!r} is not a Kubernetes namespace name")
        if bool(options["path"]) == bool(options["from_secret"]):
            raise fail("give either PATH or --from-secret NS/NAME")
        try:
            if options["from_secret"]:
                secret = secret_read(options["from_secret"], options["kubeconfig"])
            else:
                secret = keyfiles.read_key_source(Path(options["path"]))
            password_file = options["password_file"]
            password = keyfiles.password_resolve(
                password_file=keyfiles.read_limited(Path(password_file)) if password_file else None,
                secret=secret,
                environ=os.environ,
            )
            material = keyfiles.key_from_secret(secret, password)
            key = signing_key_import(
                namespace=namespace, material=material, actor="import_signing_key (command line)"
            )
        except (ProvenanceError, OSError) as exc:
            raise fail(f"cannot import the key: {exc}") from None
        # The SSH SHA256 fingerprint (`ssh-keygen -l`), which is also Chains' DSSE keyid.
        self.stdout.write(f"key id: {key.key_id}")
        self.stdout.write(f"from: {material.origin}")
        self.stdout.write(f"signs for: {namespace or 'the default key (namespaces without one)'}")
