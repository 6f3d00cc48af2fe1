"""Trust anchors the database cannot grant (issue 11, finding 2) and the key lifecycle.

Finding 2 as written: with only database access, insert a ``SigningKey`` row holding an
attacker's public key (its private key file does not exist), an attestation signed with it,
its subject link and a correctly hashed chain entry. The gate, the API, the attestation page
and ``verify_store`` must all refuse it, because the key is not in the trust bundle
(``TRUSTED_KEYS_DIR``) and the chain entry is not signed by the chain key only workers hold.
Every envelope here is checked with securesystemslib too, so a refusal is never just a broken
signature.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import orjson
import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone
from securesystemslib.signer import Signature as SslibSignature
from securesystemslib.signer import SSlibKey

from provenance import services
from provenance.core import chain, dsse
from provenance.core.errors import SigningError
from provenance.core.signing import KeySigner, generate_private_key_pem, load_public_key
from provenance.core.trust import (
    CHAIN_ENTRY_PAYLOAD_TYPE,
    chain_entry_payload,
    file_name_of,
    trusted_key_from_json,
)
from provenance.models import Attestation, ChainEntry, ComputeStatus, RunRecord, SigningKey
from provenance.reads.store import store_verify
from provenance.reads.trust import trusted_keys_dir
from provenance.reads.verify import verify
from tests.apidata import (
    caller_with_token,
    hex_for,
    ingest_and_sign,
    signed_taskrun,
    staff_session,
    tamper,
    token,
    with_digest,
)
from tests.core.test_dsse import sslib_verify
from tests.factories import taskrun_doc
from tests.test_verify_store import verify as verify_store

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _keys(settings, tmp_path):
    settings.KEYS_DIR = tmp_path / "keys"
    settings.TRUSTED_KEYS_DIR = str(tmp_path / "trusted")


def run(name: str, *args: str) -> str:
    out = StringIO()
    call_command(name, *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sql(statement: str, params: list[Any]) -> Any:
    """Plain SQL, as a writer holding only DATABASE_URL runs it (no trigger disabled: the
    append-only triggers allow INSERT)."""
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchone() if cursor.description else None


def forge(*, namespace: str, key_namespace: str, signer: KeySigner, label: str) -> tuple[int, str]:
    """Finding 2: a key row, an attestation signed with it, its subject link and a correctly
    hashed chain entry, all inserted with SQL. Returns (attestation id, the forged digest)."""
    _, (genuine,), genuine_digest = signed_taskrun(namespace=namespace, name=f"genuine-{label}")
    evil_hex = hex_for(f"evil-{label}")
    statement = bytes(genuine.statement).replace(
        genuine_digest.split(":")[1].encode(), evil_hex.encode()
    )
    envelope = dsse.sign(statement, signer).to_json()
    # The forged envelope is a good signature by the attacker's key: only trust can refuse it.
    assert sslib_verify(envelope, signer.public_key_pem, signer.key_id) == statement
    if not SigningKey.objects.filter(key_id=signer.key_id).exists():
        sql(
            "INSERT INTO provenance_signingkey (key_id, legacy_key_id, algorithm, public_key_pem, "
            "namespace, purpose, private_key_path, created, revoked_reason) "
            "VALUES (%s, '', %s, %s, %s, 'attestation', 'lives-elsewhere.pem', now(), '')",
            [signer.key_id, signer.algorithm, signer.public_key_pem, key_namespace],
        )
    (pk,) = sql(
        "INSERT INTO provenance_attestation (run_id, namespace, format, scope, emit, subject_key, "
        "run_status, run_reason, statement, statement_sha256, envelope, envelope_sha256, key_id, "
        "settings, inputs_digest, created) "
        "SELECT run_id, namespace, format, scope, emit, subject_key, run_status, run_reason, "
        "%s, %s, %s, %s, %s, settings, %s, now() FROM provenance_attestation WHERE id = %s "
        "RETURNING id",
        [
            statement,
            sha(statement),
            envelope,
            sha(envelope),
            signer.key_id,
            sha(envelope),
            genuine.pk,
        ],
    )
    (artifact,) = sql(
        "INSERT INTO provenance_artifact (uri, algorithm, hex) "
        "SELECT uri, 'sha256', %s FROM provenance_artifact a "
        "JOIN provenance_attestation_subjects s ON s.artifact_id = a.id "
        "WHERE s.attestation_id = %s RETURNING id",
        [evil_hex, genuine.pk],
    )
    sql(
        "INSERT INTO provenance_attestation_subjects (attestation_id, artifact_id) VALUES (%s, %s)",
        [pk, artifact],
    )
    last = ChainEntry.objects.order_by("-seq").first()
    assert last is not None
    entry = chain.entry_hash(bytes.fromhex(last.entry_hash), bytes.fromhex(sha(envelope)), pk)
    sql(
        "INSERT INTO provenance_chainentry (seq, attestation_id, envelope_sha256, prev_hash, "
        "entry_hash, created, signed_by, signature) VALUES (%s, %s, %s, %s, %s, now(), '', '')",
        [last.seq + 1, pk, sha(envelope), last.entry_hash, entry.hex()],
    )
    return pk, f"sha256:{evil_hex}"


def attacker() -> KeySigner:
    return KeySigner.from_private_pem(generate_private_key_pem("ecdsa-p256"))


# =============================================================================================
# Finding 2


@pytest.mark.parametrize("key_namespace", ["", "team-a"], ids=["as default key", "as team-a key"])
def test_the_database_alone_cannot_mint_an_accepted_attestation(
    key_namespace: str, tmp_path
) -> None:
    pk, digest = forge(
        namespace="team-a", key_namespace=key_namespace, signer=attacker(), label="x"
    )
    verdict = verify(Attestation.objects.get(pk=pk))
    assert set(verdict.codes) == {"key-untrusted", "chain-unsigned"}, verdict

    gate = caller_with_token(token()).get("/api/v1/gate", digest=digest).json()
    assert gate["allowed"] is False
    assert any("is not in the trust bundle" in r for r in gate["reasons"]), gate

    api = caller_with_token(token()).get(f"/api/v1/attestations/{pk}").json()
    assert api["verified"] is False
    assert [r["code"] for r in api["reasons"]] == verdict.codes

    page = staff_session().get(f"/attestations/{pk}/").content.decode()
    assert "Signature verified" not in page
    assert "Verification failed: Key not trusted" in page
    assert "not in the trust bundle" in page

    code, out = verify_store("--write-checkpoint", str(tmp_path / "cp.json"))
    assert code == 1
    assert all(m in out for m in verdict.messages), out
    assert not (tmp_path / "cp.json").exists()  # nothing forged is ever signed off


def test_a_trusted_key_of_another_namespace_cannot_vouch_for_this_one() -> None:
    """team-b's key is in the bundle, for team-b: whoever holds it cannot sign for team-a."""
    team_b = services.signing_key_create(namespace="team-b", algorithm="ed25519", actor="t")
    signer = services.signer_load(team_b)
    SigningKey.objects.filter(pk=team_b.pk).update(namespace="")  # the row says "default"
    pk, digest = forge(namespace="team-a", key_namespace="", signer=signer, label="b")
    verdict = verify(Attestation.objects.get(pk=pk))
    assert set(verdict.codes) == {"key-namespace", "chain-unsigned"}, verdict
    (why,) = [r.message for r in verdict.reasons if r.code == "key-namespace"]
    assert why.endswith(
        f"assigns key {team_b.key_id} to namespaces team-b, not to namespace team-a"
    )
    assert caller_with_token(token()).get("/api/v1/gate", digest=digest).json()["allowed"] is False


def test_genuine_chain_entries_are_signed_by_the_chain_key_in_the_bundle() -> None:
    _, (attestation,), digest = signed_taskrun()
    entry = ChainEntry.objects.get(attestation=attestation)
    trusted = trusted_key_from_json(
        (trusted_keys_dir() / file_name_of(entry.signed_by)).read_bytes()
    )
    assert trusted.purpose == "checkpoint" and trusted.key_id == entry.signed_by
    payload = chain_entry_payload(
        seq=entry.seq, entry_hash=entry.entry_hash, attestation_id=attestation.pk, at=entry.created
    )
    key = SSlibKey.from_crypto(load_public_key(trusted.public_key_pem), keyid=entry.signed_by)
    key.verify_signature(
        SslibSignature(entry.signed_by, base64.b64decode(entry.signature).hex()),
        dsse.pae(CHAIN_ENTRY_PAYLOAD_TYPE, payload),
    )
    assert verify(attestation).ok
    assert caller_with_token(token()).get("/api/v1/gate", digest=digest).json()["allowed"]
    assert verify_store()[0] == 0


def test_a_subject_link_inserted_later_is_detected() -> None:
    _, (attestation,), digest = signed_taskrun()
    (artifact,) = sql(
        "INSERT INTO provenance_artifact (uri, algorithm, hex) "
        "VALUES ('test.io/late', 'sha256', %s) RETURNING id",
        [hex_for("late")],
    )
    sql(
        "INSERT INTO provenance_attestation_subjects (attestation_id, artifact_id) VALUES (%s, %s)",
        [attestation.pk, artifact],
    )
    verdict = verify(attestation)
    assert verdict.codes == ["subject-not-signed"]
    assert f"test.io/late sha256:{hex_for('late')}" in verdict.messages[0]
    gate = caller_with_token(token()).get("/api/v1/gate", digest=f"sha256:{hex_for('late')}")
    assert gate.json()["allowed"] is False
    assert "which its signed statement does not name" in verify_store()[1]


@pytest.mark.parametrize(
    "table", ["provenance_attestation", "provenance_attestation_subjects", "provenance_chainentry"]
)
def test_truncate_is_refused(table: str) -> None:
    signed_taskrun()
    with (
        pytest.raises(IntegrityError, match="append-only: TRUNCATE refused"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending foreign key checks
        cursor.execute(f"TRUNCATE {table} CASCADE")
    assert Attestation.objects.exists() and ChainEntry.objects.exists()


# =============================================================================================
# The bundle written where keys are created


def bundle_file(key: SigningKey) -> dict[str, Any]:
    path = trusted_keys_dir() / file_name_of(key.key_id)
    body: dict[str, Any] = orjson.loads(path.read_bytes())
    return body


def test_create_and_import_write_the_bundle(tmp_path: Path) -> None:
    out = run("create_signing_key", "--namespace", "team-a", "--algorithm", "ed25519")
    key = SigningKey.objects.get(namespace="team-a")
    assert f"trust bundle: {tmp_path / 'trusted'}" in out
    body = bundle_file(key)
    assert (body["public_key"], body["namespaces"], body["default"], body["purpose"]) == (
        key.public_key_pem,
        ["team-a"],
        False,
        "attestation",
    )
    pem = tmp_path / "x509.pem"
    pem.write_bytes(generate_private_key_pem("ecdsa-p256"))
    run("import_signing_key", str(pem))
    imported = SigningKey.objects.get(namespace="", purpose="attestation")
    assert bundle_file(imported)["default"] is True
    # Atomic writes leave no temporary file behind.
    assert sorted(p.suffix for p in (tmp_path / "trusted").iterdir()) == [".json", ".json"]


def test_the_upgrade_step_trusts_only_keys_whose_private_key_is_here(tmp_path: Path) -> None:
    """A store from before the bundle: keys registered, entries unsigned. write_trust_bundle
    --sign-chain writes the keys whose private key file is here and signs the chain."""
    _, (attestation,), _ = signed_taskrun()
    for path in (tmp_path / "trusted").iterdir():
        path.unlink()
    tamper("UPDATE provenance_chainentry SET signature = '', signed_by = ''", [])
    assert set(verify(attestation).codes) == {"key-untrusted", "chain-unsigned"}

    out = run("write_trust_bundle", "--sign-chain")
    assert "2 written" in out and "signed 1 chain entries" in out
    assert verify(Attestation.objects.get(pk=attestation.pk)).ok
    assert verify_store()[0] == 0


def test_the_upgrade_step_refuses_to_sign_off_a_forged_row() -> None:
    forge(namespace="team-a", key_namespace="", signer=attacker(), label="u")
    with pytest.raises(CommandError, match="the store does not verify"):
        run("write_trust_bundle", "--sign-chain")
    out = run("write_trust_bundle")
    assert "NOT trusted" in out and "lives-elsewhere.pem" in out
    assert ChainEntry.objects.filter(signature="").count() == 1


# =============================================================================================
# Key lifecycle


def test_revoke_fails_what_was_signed_after_and_flags_what_was_signed_before() -> None:
    key = services.signing_key_create(namespace="team-a", algorithm="ed25519", actor="t")
    _, (before,), _ = signed_taskrun(name="before")
    cut = timezone.now()
    _, (after,), digest_after = signed_taskrun(name="after")
    out = run("revoke_signing_key", key.key_id, "--reason", "laptop lost", "--at", cut.isoformat())
    assert f"revoked {key.key_id} from {cut.isoformat()}" in out

    early = verify(before)
    assert early.ok and early.notes[0].code == "key-revoked-later"
    late = verify(after)
    assert late.codes == ["key-revoked"] and "laptop lost" in late.messages[0]

    viewer = caller_with_token(token())
    assert viewer.get(f"/api/v1/attestations/{before.pk}").json()["notes"][0]["code"] == (
        "key-revoked-later"
    )
    assert viewer.get(f"/api/v1/attestations/{after.pk}").json()["verified"] is False
    assert viewer.get("/api/v1/gate", digest=digest_after).json()["allowed"] is False
    staff = staff_session()
    page = staff.get(f"/attestations/{before.pk}/").content.decode()
    assert "Signature verified" in page and "key-revoked-later" in page
    settings_page = staff.get("/namespaces/team-a/settings/").content.decode()
    assert f"revoked {cut:%Y-%m-%d}: laptop lost" in settings_page
    listed = {k["key_id"]: k for k in viewer.get("/api/v1/keys").json()["results"]}
    assert listed[key.key_id]["revoked_reason"] == "laptop lost"
    assert bundle_file(key)["revoked"]["reason"] == "laptop lost"

    # The revoked key signs nothing more: the run fails visibly.
    (run_doc,) = with_digest([taskrun_doc(name="later")], hex_for("later"))
    assert ingest_and_sign([run_doc]) == []
    record = RunRecord.objects.get(name="later")
    assert record.compute_status == ComputeStatus.FAILED and "revoked" in record.compute_reason


def test_revoke_bad_input_is_one_line_and_changes_nothing() -> None:
    key = services.signing_key_create(namespace="team-a", algorithm="ed25519", actor="t")
    for args, message in (
        (("SHA256:nope", "--reason", "x"), "no registered key"),
        ((key.key_id, "--reason", "x", "--at", "yesterday"), "not an ISO 8601 time"),
        ((key.key_id, "--reason", "x", "--at", "2026-01-01T00:00:00"), "no time zone"),
        ((key.key_id, "--reason", " "), "a reason is required"),
    ):
        with pytest.raises(CommandError, match=message) as info:
            run("revoke_signing_key", *args)
        assert info.value.returncode == 2
    assert SigningKey.objects.get(pk=key.pk).revoked_at is None
    assert "revoked" not in bundle_file(key)


def test_rotate_moves_a_namespace_to_a_new_key_and_keeps_the_old_for_verification(
    django_capture_on_commit_callbacks,
) -> None:
    run("create_signing_key", "--namespace", "team-a", "--algorithm", "ed25519")
    old = SigningKey.objects.get(namespace="team-a")
    _, (first,), digest = signed_taskrun()
    with pytest.raises(CommandError, match="pass --rotate"):
        run("create_signing_key", "--namespace", "team-a")
    with django_capture_on_commit_callbacks(execute=True):  # the namespace is re-signed
        out = run("create_signing_key", "--namespace", "team-a", "--rotate")
    assert f"rotated: {old.key_id} is kept for verification only" in out
    new = SigningKey.objects.get(namespace="team-a", retired_at__isnull=True)
    old.refresh_from_db()
    assert old.retired_at is not None and "retired" in bundle_file(old)

    # The namespace was re-signed with the new key; the old attestation still verifies.
    current = Attestation.objects.get(run=first.run, superseded_by__isnull=True)
    assert current.key_id == new.key_id
    assert sslib_verify(bytes(current.envelope), new.public_key_pem, new.key_id)
    assert verify(Attestation.objects.get(pk=first.pk)).ok and verify(current).ok
    assert caller_with_token(token()).get("/api/v1/gate", digest=digest).json()["allowed"]
    with pytest.raises(SigningError, match="rotated out"):
        services.signer_load(old)
    listed = {
        k["key_id"]: k for k in caller_with_token(token()).get("/api/v1/keys").json()["results"]
    }
    assert listed[old.key_id]["retired_at"] and listed[new.key_id]["trusted_for"] == ["team-a"]


def test_rotating_the_chain_key_keeps_earlier_entries_and_checkpoints_verifying(tmp_path) -> None:
    signed_taskrun(name="one")
    checkpoint = tmp_path / "cp.json"
    assert verify_store("--write-checkpoint", str(checkpoint))[0] == 0
    run("create_signing_key", "--chain", "--rotate")
    _, (second,), _ = signed_taskrun(name="two")
    chain_keys = set(ChainEntry.objects.values_list("signed_by", flat=True))
    assert len(chain_keys) == 2
    code, out = verify_store("--checkpoint", str(checkpoint))
    assert code == 0 and "is consistent" in out
    assert verify(second).ok


def test_an_attestation_signed_under_a_revocation_with_no_signed_time_fails() -> None:
    """A revoked key's attestation whose chain entry is unsigned has no time anyone vouches
    for: it fails, rather than being taken as signed before the revocation."""
    key = services.signing_key_create(namespace="team-a", algorithm="ed25519", actor="t")
    _, (attestation,), _ = signed_taskrun()
    services.signing_key_revoke(
        key_id=key.key_id, reason="r", at=timezone.now() + timedelta(days=1)
    )
    assert verify(attestation).ok
    tamper("UPDATE provenance_chainentry SET signature = '', signed_by = ''", [])
    attestation = Attestation.objects.get(pk=attestation.pk)
    assert set(verify(attestation).codes) == {"chain-unsigned", "key-revoked"}
    assert store_verify().verdicts


# =============================================================================================
# Migration 0010 on a store made before it


@pytest.mark.django_db(transaction=True)
def test_a_store_from_before_the_bundle_verifies_after_the_upgrade_step(tmp_path: Path) -> None:
    _, _, digest = signed_taskrun()  # signed on commit (a transactional test)
    attestation = Attestation.objects.get()
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes("provenance")
    executor.migrate([("provenance", "0009_identity")])  # the chain signatures are gone
    shutil.rmtree(tmp_path / "trusted")  # and there was no bundle then
    MigrationExecutor(connection).migrate(latest)

    before = Attestation.objects.get(pk=attestation.pk)
    assert set(verify(before).codes) == {"key-untrusted", "chain-unsigned"}
    assert caller_with_token(token()).get("/api/v1/gate", digest=digest).json()["allowed"] is False
    out = run("write_trust_bundle", "--sign-chain")
    assert "signed 1 chain entries" in out
    assert verify(Attestation.objects.get(pk=attestation.pk)).ok
    assert caller_with_token(token()).get("/api/v1/gate", digest=digest).json()["allowed"]
    with (
        pytest.raises(IntegrityError, match="TRUNCATE refused"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("TRUNCATE provenance_chainentry CASCADE")
