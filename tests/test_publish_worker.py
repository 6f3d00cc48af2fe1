"""Publishing through the real queue: records POSTed to the API, a separate ``celery worker``
process on the local Redis signs them and then, from the ``publish`` queue, attaches them to a
real docker-registry, read back with skopeo and verified against the PEM public key."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from django.core.management import call_command

from provenance import services
from provenance.core.oci_layout import DSSE_LAYER, SIGNATURE_ANNOTATION
from provenance.models import Attestation, ComputeStatus, Publication, RunRecord, SigningKey
from tests.core.test_dsse import sslib_verify
from tests.factories import as_list
from tests.registry_server import Registry, running_registry
from tests.test_publish import image_taskrun, tag_ref
from tests.test_registry import verify_simple_signing
from tests.test_tasks_worker import Worker, celery_pointed_at, redis_database, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def broker(worker_id: str) -> Iterator[str]:
    # Redis databases 4-7, apart from the other worker tests (8-11, 12-15).
    with redis_database(worker_id, 4) as url, celery_pointed_at(url):
        yield url


class QueueWorker(Worker):
    """A worker of the given queues only (all of them when none is given)."""

    def __init__(self, broker_url: str, keys_dir: Path, log: Path, queues: tuple[str, ...]):
        super().__init__(broker_url, keys_dir, log)
        self.queues = queues

    def extra_args(self) -> list[str]:
        return ["-Q", ",".join(self.queues)] if self.queues else []


@pytest.fixture
def start_worker(broker: str, tmp_path: Path, settings) -> Iterator[Callable[..., Worker]]:
    settings.KEYS_DIR = tmp_path / "keys"
    workers: list[Worker] = []

    def start(*queues: str, **env: str) -> Worker:
        worker = QueueWorker(broker, settings.KEYS_DIR, tmp_path / "worker.log", queues)
        worker.env.update(env)
        worker.start()
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()
        print(worker.tail())  # shown by pytest when the test failed


def publishing() -> None:
    services.namespace_settings_update(
        namespace="team-a", changes={"oci_publish": True, "oci_insecure": True}, actor="test"
    )


def published(attestation_of: Callable[[], Attestation | None]) -> Attestation | None:
    attestation = attestation_of()
    if attestation is None:
        return None
    rows = list(attestation.publications.values_list("status", flat=True))
    return attestation if rows and all(s == Publication.Status.PUBLISHED for s in rows) else None


def test_the_worker_signs_then_publishes_from_its_own_queue(start_worker, post, tmp_path):
    with running_registry(tmp_path / "registry") as registry:
        publishing()
        worker = start_worker()
        doc, image = image_taskrun(registry.host)
        post(as_list([doc]))
        uid = doc["metadata"]["uid"]
        attestation = wait_for(
            lambda: published(lambda: Attestation.objects.filter(run__uid=uid).first()),
            "the attestation to be published",
        )
        assert attestation.publications.count() == 2
        assert "provenance.tasks.publication_publish" in worker.tail()
        key = SigningKey.objects.get(key_id=attestation.key_id)
        att = registry.pull(tag_ref(image, "att"), tmp_path / "att")
        (layer,) = att["layers"]
        assert layer["mediaType"] == DSSE_LAYER
        statement = sslib_verify(layer["_blob"], key.public_key_pem, key.key_id)
        assert statement == bytes(attestation.statement)
        (sig,) = registry.pull(tag_ref(image, "sig"), tmp_path / "sig")["layers"]
        verify_simple_signing(
            key.public_key_pem, sig["_blob"], sig["annotations"][SIGNATURE_ANNOTATION]
        )
        assert json.loads(sig["_blob"])["critical"]["image"]["docker-manifest-digest"] == (
            image.digest
        )

        # The same record delivered again: no second attestation, no second layer.
        manifest = registry.raw_manifest(tag_ref(image, "att"))
        doc["metadata"]["resourceVersion"] = "999"
        doc["metadata"]["annotations"] = {"redelivered": "yes"}
        post(as_list([doc]))
        wait_for(
            lambda: RunRecord.objects.get(uid=uid).resource_version == "999", "the new version"
        )
        wait_for(
            lambda: RunRecord.objects.get(uid=uid).compute_status == ComputeStatus.SIGNED,
            "the recompute",
        )
        assert Attestation.objects.filter(run__uid=uid).count() == 1
        assert registry.raw_manifest(tag_ref(image, "att")) == manifest


def test_registry_down_signing_goes_on_publications_fail_then_the_command_publishes(
    start_worker, post, tmp_path
):
    registry = Registry(folder=tmp_path / "registry")
    registry.folder.mkdir()
    publishing()
    # Two quick retries, then the publication stays failed with its reason.
    start_worker(OCI_PUBLISH_RETRIES="2", OCI_PUBLISH_BACKOFF="1", OCI_PUBLISH_BACKOFF_MAX="1")
    doc, image = image_taskrun(registry.host)
    post(as_list([doc]))
    uid = doc["metadata"]["uid"]
    wait_for(
        lambda: RunRecord.objects.get(uid=uid).compute_status == ComputeStatus.SIGNED,
        "the run to be signed while the registry is down",
    )

    def failed_for_good() -> bool:
        rows = Publication.objects.filter(attestation__run__uid=uid)
        return rows.count() == 2 and all(
            p.status == Publication.Status.FAILED and p.attempts == 3 for p in rows
        )

    wait_for(failed_for_good, "three attempts per publication")
    row = Publication.objects.get(attestation__run__uid=uid, kind="att")
    assert f"cannot reach {registry.host}" in row.last_error

    registry.start()
    try:
        out = io.StringIO()
        call_command("publish_attestations", "--failed", "--namespace", "team-a", stdout=out)
        assert "2 tried: 2 published, 0 failed" in out.getvalue()
        layers = registry.raw_manifest(tag_ref(image, "att"))["layers"]
        assert len(layers) == 1
    finally:
        registry.stop()


def test_signing_never_waits_for_the_publish_queue(start_worker, post, tmp_path, broker):
    with running_registry(tmp_path / "registry") as registry:
        publishing()
        start_worker("celery", "backfill")  # no worker on the publish queue yet
        doc, image = image_taskrun(registry.host)
        post(as_list([doc]))
        uid = doc["metadata"]["uid"]
        wait_for(
            lambda: RunRecord.objects.get(uid=uid).compute_status == ComputeStatus.SIGNED,
            "the run to be signed",
        )
        client = redis.Redis.from_url(broker)
        wait_for(lambda: client.llen("publish") == 2, "two messages on the publish queue")
        client.close()
        assert set(
            Publication.objects.filter(attestation__run__uid=uid).values_list("status", flat=True)
        ) == {Publication.Status.PENDING}

        start_worker("publish")
        wait_for(
            lambda: published(lambda: Attestation.objects.filter(run__uid=uid).first()),
            "the publish worker to publish",
        )
        assert registry.raw_manifest(tag_ref(image, "sig"))["layers"]
