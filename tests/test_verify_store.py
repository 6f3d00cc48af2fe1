"""verify_store: rows edited behind the application's back with raw SQL are detected."""

from __future__ import annotations

import base64
import hashlib
from io import StringIO
from pathlib import Path

import orjson
import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from provenance import services
from provenance.models import Attestation, ChainEntry, SigningKey
from tests.factories import TEST_SOURCE, as_list, taskrun_doc

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _keys(settings, tmp_path):
    settings.KEYS_DIR = tmp_path / "keys"


@pytest.fixture
def store(django_capture_on_commit_callbacks) -> list[Attestation]:
    for n in range(4):
        with django_capture_on_commit_callbacks(execute=True):
            services.records_ingest(
                data=as_list([taskrun_doc(name=f"tr-{n}")]),
                namespaces_allowed=None,
                source=TEST_SOURCE,
            )
    attestations = list(Attestation.objects.order_by("id"))
    assert len(attestations) == 4
    return attestations


def sql(statement: str, params: list[object] | None = None) -> None:
    """Raw SQL as an attacker with owner rights would run it: append-only triggers disabled
    (foreign keys stay enforced). Rolled back with the test's transaction."""
    with connection.cursor() as cursor:
        # Django's foreign keys are deferred; ALTER TABLE needs no pending checks.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for table in ("provenance_attestation", "provenance_chainentry"):
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        cursor.execute("ALTER TABLE provenance_attestation_subjects DISABLE TRIGGER USER")
        cursor.execute(statement, params or [])


def verify(*args: str) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("verify_store", *args, stdout=out, stderr=StringIO())
    except CommandError as exc:
        return 1, out.getvalue() + str(exc)
    return 0, out.getvalue()


def test_untouched_store_verifies_and_writes_a_checkpoint(store, tmp_path: Path) -> None:
    checkpoint = tmp_path / "cp.json"
    code, out = verify("--write-checkpoint", str(checkpoint))
    assert code == 0, out
    assert "OK: 4 attestations, chain length 4" in out
    body = orjson.loads(base64.b64decode(orjson.loads(checkpoint.read_bytes())["payload"]))
    assert body["length"] == 4 and len(body["head"]) == 64
    code, out = verify("--checkpoint", str(checkpoint))
    assert code == 0 and "is consistent" in out


def test_a_plain_check_creates_no_key(store, tmp_path: Path) -> None:
    keys = set(SigningKey.objects.values_list("key_id", flat=True))
    code, out = verify()
    assert code == 0 and "OK: 4 attestations" in out
    assert set(SigningKey.objects.values_list("key_id", flat=True)) == keys
    # Checking a file that is not a checkpoint: a clear error naming it, still no new key (the
    # chain key's public half comes from the trust bundle; nothing is loaded or created).
    (tmp_path / "cp.json").write_text("{}")
    code, out = verify("--checkpoint", str(tmp_path / "cp.json"))
    assert code == 1 and "cp.json: the envelope has no payloadType string" in out
    assert set(SigningKey.objects.values_list("key_id", flat=True)) == keys


def test_modified_envelope_is_detected(store) -> None:
    target = store[1]
    envelope = bytearray(bytes(target.envelope))
    envelope[-5] ^= 1
    sql(
        "UPDATE provenance_attestation SET envelope = %s WHERE id = %s",
        [bytes(envelope), target.pk],
    )
    code, out = verify()
    assert code == 1
    assert f"MODIFIED: attestation {target.pk}: envelope modified" in out


def test_consistently_rewritten_statement_fails_the_signature(store) -> None:
    target = store[2]
    envelope = orjson.loads(bytes(target.envelope))
    forged = bytes(target.statement).replace(b"https://", b"http://", 1)
    envelope["payload"] = base64.b64encode(forged).decode()
    new_envelope = orjson.dumps(envelope)
    sql(
        "UPDATE provenance_attestation SET statement = %s, statement_sha256 = %s, "
        "envelope = %s, envelope_sha256 = %s WHERE id = %s",
        [
            forged,
            hashlib.sha256(forged).hexdigest(),
            new_envelope,
            hashlib.sha256(new_envelope).hexdigest(),
            target.pk,
        ],
    )
    code, out = verify()
    assert code == 1
    assert f"attestation {target.pk}: signature does not verify" in out
    assert f"attestation {target.pk}: envelope differs from chain entry" in out


def test_removed_attestation_is_detected(store) -> None:
    target = store[1]
    sql("DELETE FROM provenance_chainentry WHERE attestation_id = %s", [target.pk])
    sql("DELETE FROM provenance_attestation_subjects WHERE attestation_id = %s", [target.pk])
    sql("DELETE FROM provenance_attestation WHERE id = %s", [target.pk])
    code, out = verify()
    assert code == 1
    assert "REMOVED: chain entry 2 removed" in out


def test_inserted_attestation_is_detected(store) -> None:
    source = store[0]
    sql(
        "INSERT INTO provenance_attestation (run_id, namespace, format, scope, emit, "
        "subject_key, run_status, run_reason, statement, statement_sha256, envelope, "
        "envelope_sha256, key_id, settings, inputs_digest, created) "
        "SELECT run_id, namespace, format, scope, emit, subject_key, run_status, run_reason, "
        "statement, statement_sha256, envelope, md5(random()::text) || md5(random()::text), "
        "key_id, settings, md5(random()::text) || md5(random()::text), now() "
        "FROM provenance_attestation WHERE id = %s",
        [source.pk],
    )
    inserted = Attestation.objects.latest("id")
    code, out = verify()
    assert code == 1
    assert f"INSERTED: attestation {inserted.pk} is not in the chain" in out


def test_modified_chain_entry_is_detected(store) -> None:
    entry = ChainEntry.objects.get(seq=3)
    sql("UPDATE provenance_chainentry SET entry_hash = %s WHERE seq = 3", ["ab" * 32])
    code, out = verify()
    assert code == 1
    assert f"MODIFIED: entry 3 (attestation {entry.attestation_id}) was modified" in out
    assert "entry 4 does not follow the previous entry" in out


def test_swapped_public_key_is_detected(store) -> None:
    other = services.signing_key_create(namespace="x", algorithm="ecdsa-p256", actor="t")
    sql(
        "UPDATE provenance_signingkey SET public_key_pem = %s WHERE key_id = %s",
        [other.public_key_pem, store[0].key_id],
    )
    code, out = verify()
    assert code == 1
    assert "public key does not match its id" in out
    # The signature is checked with the trust bundle's key, which the database cannot swap.
    assert "signature does not verify" not in out
    assert f"attestation {store[0].pk}: registered key {store[0].key_id} does not match" in out


def test_rollback_is_detected_with_a_checkpoint(store, tmp_path: Path) -> None:
    checkpoint = tmp_path / "cp.json"
    assert verify("--write-checkpoint", str(checkpoint))[0] == 0
    last = store[-1]
    # Cut the chain back by one entry: consistent in itself, so only the checkpoint sees it.
    sql("DELETE FROM provenance_chainentry WHERE attestation_id = %s", [last.pk])
    sql("DELETE FROM provenance_attestation_subjects WHERE attestation_id = %s", [last.pk])
    sql("DELETE FROM provenance_attestation WHERE id = %s", [last.pk])
    assert verify()[0] == 0
    code, out = verify("--checkpoint", str(checkpoint))
    assert code == 1
    assert "ROLLBACK: the chain has 3 entries but the checkpoint" in out


def test_rewritten_history_diverges_from_the_checkpoint(store, tmp_path: Path) -> None:
    checkpoint = tmp_path / "cp.json"
    assert verify("--write-checkpoint", str(checkpoint))[0] == 0
    # Rewrite entry 4's hash and everything after it consistently (no later entries here).
    entry = ChainEntry.objects.get(seq=4)
    sql(
        "UPDATE provenance_chainentry SET prev_hash = %s, entry_hash = %s WHERE seq = 4",
        ["00" * 32, "11" * 32],
    )
    code, out = verify("--checkpoint", str(checkpoint))
    assert code == 1
    assert "ROLLBACK: entry 4 differs from the checkpoint" in out
    assert entry.attestation_id


def test_forged_checkpoint_is_refused(store, tmp_path: Path) -> None:
    checkpoint = tmp_path / "cp.json"
    assert verify("--write-checkpoint", str(checkpoint))[0] == 0
    envelope = orjson.loads(checkpoint.read_bytes())
    envelope["payload"] = base64.b64encode(b'{"length":1,"head":"00","created":"x"}').decode()
    checkpoint.write_bytes(orjson.dumps(envelope))
    code, out = verify("--checkpoint", str(checkpoint))
    assert code == 1 and "does not verify" in out
