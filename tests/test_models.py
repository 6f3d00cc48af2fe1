"""Model constraints and the append-only guarantees the database enforces."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction

from provenance import services
from provenance.models import Artifact, Attestation, ChainEntry, RunRecord
from tests.factories import TEST_SOURCE, as_list, taskrun_doc

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _keys(settings, tmp_path):
    settings.KEYS_DIR = tmp_path / "keys"


def _signed_attestation(django_capture_on_commit_callbacks) -> Attestation:
    with django_capture_on_commit_callbacks(execute=True):
        services.records_ingest(
            data=as_list([taskrun_doc()]), namespaces_allowed=None, source=TEST_SOURCE
        )
    return Attestation.objects.get()


def test_run_uid_is_unique() -> None:
    services.records_ingest(
        data=as_list([taskrun_doc()]), namespaces_allowed=None, source=TEST_SOURCE
    )
    record = RunRecord.objects.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        RunRecord.objects.create(
            uid=record.uid, kind="TaskRun", namespace="x", name="y", raw=b"", raw_sha256=""
        )


def test_raw_record_is_stored_compressed_and_round_trips() -> None:
    doc = taskrun_doc()
    services.records_ingest(data=as_list([doc]), namespaces_allowed=None, source=TEST_SOURCE)
    record = RunRecord.objects.get()
    assert record.document == doc
    assert len(bytes(record.raw)) < len(str(doc))


def test_artifact_is_unique_per_uri_and_digest() -> None:
    Artifact.objects.create(uri="gcr.io/x", algorithm="sha256", hex="ab" * 32)
    Artifact.objects.create(uri="gcr.io/y", algorithm="sha256", hex="ab" * 32)
    with pytest.raises(IntegrityError), transaction.atomic():
        Artifact.objects.create(uri="gcr.io/x", algorithm="sha256", hex="ab" * 32)


def test_long_subject_names_are_accepted() -> None:
    Artifact.objects.create(uri="x" * 20000, algorithm="sha256", hex="cd" * 32)


def test_attestation_rows_refuse_update_and_delete(django_capture_on_commit_callbacks) -> None:
    attestation = _signed_attestation(django_capture_on_commit_callbacks)
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        Attestation.objects.filter(pk=attestation.pk).update(key_id="other")
    with (
        pytest.raises(IntegrityError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM provenance_chainentry")
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        ChainEntry.objects.filter(attestation=attestation).update(entry_hash="0" * 64)
    with (
        pytest.raises(IntegrityError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM provenance_attestation_subjects")


def test_superseded_by_can_be_set_once_and_only_alone(django_capture_on_commit_callbacks) -> None:
    first = _signed_attestation(django_capture_on_commit_callbacks)
    with pytest.raises(IntegrityError), transaction.atomic():
        Attestation.objects.filter(pk=first.pk).update(superseded_by=first, key_id="x")
    Attestation.objects.filter(pk=first.pk).update(superseded_by=first)
    with pytest.raises(IntegrityError), transaction.atomic():
        Attestation.objects.filter(pk=first.pk).update(superseded_by=None)


def test_attestations_cannot_be_deleted_through_their_run(
    django_capture_on_commit_callbacks,
) -> None:
    attestation = _signed_attestation(django_capture_on_commit_callbacks)
    from django.db.models import ProtectedError

    with pytest.raises(ProtectedError):
        attestation.run.delete()
