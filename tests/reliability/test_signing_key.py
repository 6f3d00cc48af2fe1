"""Scenario 6: the signing key cannot be used.

The tests run as root, for whom ``chmod 000`` changes nothing, so "unreadable" is a directory
where the key file should be (``read`` fails with EISDIR, an OSError other than "missing").
Every way of breaking the key must give a visible error state (``failed`` with a reason naming
the key file), no partial rows, no silent fallback to another key, and recovery once the key is
back and the run is replayed.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from provenance import services
from provenance.models import (
    Artifact,
    Attestation,
    ChainEntry,
    ComputeStatus,
    RunRecord,
    SigningKey,
)

from .conftest import (
    Ingest,
    as_list,
    assert_every_record_accounted_for,
    compute_status,
    pipeline_records,
    uids,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("eager")]


def _delete(path: Path, settings: Any) -> None:
    path.unlink()


def _directory(path: Path, settings: Any) -> None:
    path.unlink()
    path.mkdir()


def _corrupt(path: Path, settings: Any) -> None:
    path.write_bytes(b"-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")


def _truncated(path: Path, settings: Any) -> None:
    path.write_bytes(path.read_bytes()[:40])


def _another_key(path: Path, settings: Any) -> None:
    from provenance.core.signing import generate_private_key_pem

    path.write_bytes(generate_private_key_pem("ecdsa-p256"))


def _empty_keys_dir(path: Path, settings: Any) -> None:
    settings.KEYS_DIR = Path(settings.KEYS_DIR).parent / "empty-keys"
    settings.KEYS_DIR.mkdir()


BREAKAGES: dict[str, Callable[[Path, Any], None]] = {
    "deleted": _delete,
    "unreadable": _directory,
    "corrupt": _corrupt,
    "truncated": _truncated,
    "another-key": _another_key,
    "empty-keys-dir": _empty_keys_dir,
}


@pytest.mark.parametrize("namespace_key", [False, True], ids=["default-key", "namespace-key"])
@pytest.mark.parametrize("breakage", list(BREAKAGES))
def test_unusable_signing_key_fails_visibly_without_partial_rows_and_recovers(
    ingest: Ingest, settings: Any, tmp_path: Path, breakage: str, namespace_key: bool
) -> None:
    settings.KEYS_DIR = tmp_path / "keys"
    default = services.signing_key_create(namespace="", algorithm="ecdsa-p256", actor="test")
    key = default
    if namespace_key:
        key = services.signing_key_create(namespace="team-a", algorithm="ed25519", actor="test")
    path = Path(settings.KEYS_DIR) / key.private_key_path
    original = path.read_bytes()
    keys_dir = settings.KEYS_DIR
    BREAKAGES[breakage](path, settings)

    docs = pipeline_records("keyless", tasks=3)
    body = as_list(docs)
    ingest.accepted(body)  # the records are accepted and stored whatever the key does
    pr_uid = docs[0]["metadata"]["uid"]
    status, reason = compute_status(pr_uid)
    assert status == ComputeStatus.FAILED
    assert key.private_key_path in reason, reason  # names the key file, never its content
    assert "PRIVATE KEY" not in reason
    detail = ingest.client.get(
        f"/api/v1/records/{pr_uid}", HTTP_AUTHORIZATION=f"Bearer {ingest.token}"
    )
    assert key.private_key_path in detail.content.decode()  # visible through the API too
    # No partial rows, and no silent fallback: nothing signed with the default key (or a key
    # made up on the spot) when the namespace's own key is broken.
    assert not Attestation.objects.exists()
    assert not ChainEntry.objects.exists()
    assert not Artifact.objects.exists()
    # (The chain key, made on first use, signs chain entries only.)
    attestation_keys = SigningKey.objects.filter(purpose=SigningKey.Purpose.ATTESTATION)
    assert attestation_keys.count() == (2 if namespace_key else 1)
    assert_every_record_accounted_for(expected_uids=uids(docs))

    # Recovery: the key comes back; replaying the same bytes re-queues the failed run.
    settings.KEYS_DIR = keys_dir
    if path.is_dir():
        shutil.rmtree(path)
    path.write_bytes(original)
    outcomes = {r["outcome"] for r in ingest.accepted(body)["records"]}
    assert outcomes == {"unchanged"}
    assert compute_status(pr_uid) == (ComputeStatus.SIGNED, "")
    attestation = Attestation.objects.get()
    assert attestation.key_id == key.key_id
    assert RunRecord.objects.filter(compute_status=ComputeStatus.FAILED).count() == 0
    assert_every_record_accounted_for(expected_uids=uids(docs))


def test_no_key_and_an_unwritable_keys_dir_fails_visibly(
    ingest: Ingest, settings: Any, tmp_path: Path
) -> None:
    """No key registered and none can be created (a read-only Secret mount, here a file where
    the folder should be): failed with a reason naming the folder, nothing half-created."""
    settings.KEYS_DIR = tmp_path / "not-a-folder"
    settings.KEYS_DIR.write_text("")
    docs = pipeline_records("nokey", tasks=2)
    ingest.accepted(as_list(docs))
    status, reason = compute_status(docs[0]["metadata"]["uid"])
    assert status == ComputeStatus.FAILED
    assert "not-a-folder" in reason and "key" in reason, reason
    assert not SigningKey.objects.exists() and not Attestation.objects.exists()
    assert_every_record_accounted_for(expected_uids=uids(docs))

    settings.KEYS_DIR = tmp_path / "keys"  # a writable folder: the default key is created
    ingest.accepted(as_list(docs))
    assert compute_status(docs[0]["metadata"]["uid"])[0] == ComputeStatus.SIGNED
    attestation_keys = SigningKey.objects.filter(purpose=SigningKey.Purpose.ATTESTATION)
    assert attestation_keys.count() == 1 and Attestation.objects.count() == 1
    assert_every_record_accounted_for(expected_uids=uids(docs))


def test_autocreate_off_and_no_key_fails_naming_the_command(
    ingest: Ingest, settings: Any, tmp_path: Path
) -> None:
    settings.KEYS_DIR = tmp_path / "keys"
    settings.SIGNING_DEFAULT_KEY_AUTOCREATE = False
    docs = pipeline_records("nokey", tasks=2)
    ingest.accepted(as_list(docs))
    status, reason = compute_status(docs[0]["metadata"]["uid"])
    assert status == ComputeStatus.FAILED and "create_signing_key" in reason, reason
    assert not Attestation.objects.exists() and not Artifact.objects.exists()
    assert_every_record_accounted_for(expected_uids=uids(docs))

    services.signing_key_create(namespace="", algorithm="ed25519", actor="test")
    ingest.accepted(as_list(docs))
    assert compute_status(docs[0]["metadata"]["uid"])[0] == ComputeStatus.SIGNED
    assert_every_record_accounted_for(expected_uids=uids(docs))
