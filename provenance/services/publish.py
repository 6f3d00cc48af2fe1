"""Publishing signed attestations to OCI registries, in cosign's layout (docs/oci.md).

For each OCI image among an attestation's subjects, two publications: the DSSE envelope as a
layer at ``sha256-<hex>.att`` and a cosign image signature at ``sha256-<hex>.sig``, in the
image's own repository or the namespace's ``oci_repository``.

- ``publications_plan`` makes them ``pending`` in the transaction that stores the attestation,
  and queues them on the ``publish`` queue after commit: signing never waits for a registry.
- ``publication_attempt`` (the publishing task, and ``publish_attestations``) talks to the
  registry through ``provenance.registry``, the one egress module, and stores the outcome:
  ``published``, or ``failed`` with the registry's reason. A retryable failure then raises
  ``PublishDeferred`` so that the task tries again with backoff.
- ``publications_backfill`` plans what is missing for a namespace's current attestations.

This is the only module that imports ``provenance.registry`` (tests/test_architecture.py).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import orjson
from celery import current_app
from django.conf import settings
from django.utils import timezone
from kombu.exceptions import OperationalError as KombuOperationalError

from provenance.config import NamespaceConfig
from provenance.core.errors import ProvenanceError
from provenance.core.oci_layout import (
    ImageDigest,
    Repository,
    image_subject,
    simple_signing_payload,
)
from provenance.models import Artifact, Attestation, NamespaceSettings, Publication, SigningKey
from provenance.reads.namespaces import namespace_settings_effective
from provenance.registry import (
    RegistryClient,
    RegistryError,
    RegistryOptions,
    attestation_publish,
    signature_publish,
)

from . import queue
from .keys import signer_load

logger = logging.getLogger(__name__)

PUBLISH_TASK = "provenance.tasks.publication_publish"
MAX_ERROR = 2000


class PublishDeferred(Exception):
    """A publication failed for now (registry down, 5xx, 429, timeout): try again later. Its
    row already says ``failed`` with the reason."""


def _rows_for(
    attestation: Attestation, subjects: Iterable[Artifact], target: Repository | None
) -> Iterator[Publication]:
    for artifact in subjects:
        image = image_subject(artifact.uri, artifact.algorithm, artifact.hex)
        if image is None:
            continue
        repository = target or image.repository
        for kind in (Publication.Kind.ATTESTATION, Publication.Kind.SIGNATURE):
            yield Publication(
                attestation=attestation,
                namespace=attestation.namespace,
                kind=kind,
                image=f"{image.repository.name}@{image.digest}",
                reference=f"{repository.name}:{image.tag(kind)}",
            )


def publications_plan(*, attestation_ids: Iterable[int], config: NamespaceConfig) -> list[int]:
    """Make the pending publications of these attestations (none for those that have them)
    and queue every pending one after commit; returns their ids."""
    ids = list(attestation_ids)
    target = config.oci_target
    rows: list[Publication] = []
    for attestation in Attestation.objects.filter(pk__in=ids).prefetch_related("subjects"):
        rows.extend(_rows_for(attestation, attestation.subjects.all(), target))
    Publication.objects.bulk_create(rows, ignore_conflicts=True)
    pending = list(
        Publication.objects.filter(
            attestation_id__in=ids, status=Publication.Status.PENDING
        ).values_list("pk", flat=True)
    )
    if pending:
        queue.on_commit(enqueue_publish, pending)
    return pending


def enqueue_publish(publication_ids: Iterable[int]) -> None:
    """Queue each publication on the ``publish`` queue. A broker that cannot take the message
    leaves the row pending, for ``publish_attestations``."""
    ids = list(publication_ids)
    for position, publication_id in enumerate(ids):
        try:
            current_app.tasks[PUBLISH_TASK].apply_async(
                (publication_id,), queue=settings.PUBLISH_QUEUE
            )
        except (KombuOperationalError, OSError) as exc:
            left = len(ids) - position
            logger.warning("broker unavailable, %d publication(s) not queued: %s", left, exc)
            return


def publications_backfill(*, namespace: str | None = None) -> int:
    """Plan the publications missing for the current attestations of namespaces that publish
    (one namespace, or all); nothing is queued. Returns how many rows were made."""
    names = NamespaceSettings.objects.filter(oci_publish=True)
    if namespace is not None:
        names = names.filter(namespace=namespace)
    made = 0
    for name in names.values_list("namespace", flat=True):
        config, _ = namespace_settings_effective(name)
        target = config.oci_target
        todo = (
            Attestation.objects.filter(namespace=name, superseded_by__isnull=True)
            .filter(publications__isnull=True)
            .prefetch_related("subjects")
            .order_by("pk")
        )
        for attestation in todo.iterator(chunk_size=200):
            rows = list(_rows_for(attestation, attestation.subjects.all(), target))
            made += len(Publication.objects.bulk_create(rows, ignore_conflicts=True))
    return made


def publications_due(*, namespace: str | None = None, failed: bool = False) -> list[int]:
    """Ids of publications still to do, in namespaces that publish: pending ones, and failed
    ones with ``failed``."""
    statuses = [Publication.Status.PENDING] + ([Publication.Status.FAILED] if failed else [])
    publishing = NamespaceSettings.objects.filter(oci_publish=True).values("namespace")
    rows = Publication.objects.filter(status__in=statuses, namespace__in=publishing)
    if namespace is not None:
        rows = rows.filter(namespace=namespace)
    return list(rows.order_by("pk").values_list("pk", flat=True))


# --- talking to the registry ------------------------------------------------------------------

_clients: dict[tuple[object, ...], RegistryClient] = {}
_ENVIRONMENT = ("REGISTRY_AUTH_FILE", "DOCKER_CONFIG", "HOME", "SSL_CERT_FILE")


def _client(insecure: bool) -> RegistryClient:
    """One client (connection pool, tokens) per process and per set of options."""
    key = (insecure, settings.OCI_TIMEOUT, *(os.environ.get(n) for n in _ENVIRONMENT))
    if key not in _clients:
        options = RegistryOptions.from_environ(
            os.environ, insecure=insecure, timeout=settings.OCI_TIMEOUT
        )
        _clients[key] = RegistryClient(options)
    return _clients[key]


@dataclass(frozen=True, slots=True)
class PublishOutcome:
    publication: int
    reference: str
    status: str
    error: str = ""
    appended: bool = False


def publication_attempt(*, publication_id: int, raise_retryable: bool = True) -> PublishOutcome:
    """Publish one publication now and store the outcome.

    A retryable registry failure is stored as ``failed`` with its reason and, with
    ``raise_retryable``, raised again as ``PublishDeferred`` for the task's backoff. A
    permanent one (401, 404 on the repository, a tag holding an index, …) is stored and
    returned. Publishing again what is published changes nothing (the layer is not appended
    twice).
    """
    row = Publication.objects.select_related("attestation").filter(pk=publication_id).first()
    if row is None:
        return PublishOutcome(publication_id, "", "missing", f"no publication {publication_id}")
    attestation = row.attestation
    config, _ = namespace_settings_effective(row.namespace)
    if not config.oci_publish:
        # Turned off since it was queued: left as it is, for when it is turned on again.
        return PublishOutcome(row.pk, row.reference, "skipped", "oci_publish is off")
    Publication.objects.filter(pk=row.pk).update(attempts=row.attempts + 1)
    try:
        repository, _, _ = row.reference.rpartition(":")
        target = Repository.parse(repository)
        name, _, digest = row.image.partition("@sha256:")
        image = ImageDigest.from_subject(name, digest)
        client = _client(config.oci_insecure)
        if row.kind == Publication.Kind.ATTESTATION:
            statement = orjson.loads(bytes(attestation.statement))
            published = attestation_publish(
                client,
                envelope=bytes(attestation.envelope),
                predicate_type=str(statement.get("predicateType", "")),
                image=image,
                target=target,
            )
        else:
            key = SigningKey.objects.get(key_id=attestation.key_id)
            payload = simple_signing_payload(image)
            published = signature_publish(
                client,
                payload=payload,
                signature=signer_load(key).sign(payload),
                image=image,
                target=target,
            )
    except RegistryError as exc:
        error = str(exc) or type(exc).__name__
        _fail(row, error)
        if exc.retryable and raise_retryable:
            raise PublishDeferred(error) from None
        return PublishOutcome(row.pk, row.reference, Publication.Status.FAILED, error)
    except (ProvenanceError, SigningKey.DoesNotExist, ValueError) as exc:
        error = f"{type(exc).__name__}: {exc}"
        _fail(row, error)
        return PublishOutcome(row.pk, row.reference, Publication.Status.FAILED, error)
    Publication.objects.filter(pk=row.pk).update(
        status=Publication.Status.PUBLISHED,
        last_error="",
        manifest_digest=published.manifest_digest,
        layer_digest=published.layer_digest,
        published=timezone.now(),
        updated=timezone.now(),
    )
    logger.info("published %s (appended: %s)", row.reference, published.appended)
    return PublishOutcome(
        row.pk, row.reference, Publication.Status.PUBLISHED, appended=published.appended
    )


def _fail(row: Publication, error: str) -> None:
    """Store the failure; a publication that is in the registry stays published."""
    logger.warning("publishing %s failed: %s", row.reference, error)
    Publication.objects.filter(pk=row.pk).exclude(status=Publication.Status.PUBLISHED).update(
        status=Publication.Status.FAILED, last_error=error[:MAX_ERROR], updated=timezone.now()
    )
