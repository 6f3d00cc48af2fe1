"""One verdict everywhere: rows changed directly in Postgres, as someone with database access
could, are reported the same by the attestation page, the API (``verified``, ``problems``,
``reasons``), the deployment gate, the JSON Lines bundles (page and API) and ``verify_store``;
an untouched attestation passes on all of them.

The store: a control attestation of namespace team-b signed with team-b's own key (chain entry
1), then three of team-a signed with the default key (entries 2 to 4); the target is the middle
one (entry 3). ``reads.verify.verify`` gives the expected verdict; each case also pins the exact
reason codes, so a check that stopped firing would show.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from io import StringIO
from typing import Any

import orjson
import pytest
from django.core.management import CommandError, call_command

from provenance import services
from provenance.models import Artifact, Attestation, ChainEntry, SigningKey
from provenance.reads.store import store_verify
from provenance.reads.verify import Verdict, verify
from tests.apidata import Caller, signed_taskrun, staff_session, tamper

pytestmark = pytest.mark.django_db


@dataclass
class Store:
    control: Attestation
    control_digest: str
    team_a: list[Attestation]
    digests: dict[int, str]  # attestation id -> its subject digest


@pytest.fixture
def store(settings, tmp_path) -> Store:
    settings.KEYS_DIR = tmp_path / "keys"
    services.signing_key_create(namespace="team-b", algorithm="ed25519", actor="test")
    _, (control,), control_digest = signed_taskrun(namespace="team-b", name="control")
    team_a, digests = [], {}
    for n in range(3):
        _, (attestation,), digest = signed_taskrun(namespace="team-a", name=f"tr-{n}")
        team_a.append(attestation)
        digests[attestation.pk] = digest
    assert [ChainEntry.objects.get(attestation=a).seq for a in (control, *team_a)] == [1, 2, 3, 4]
    return Store(control, control_digest, team_a, digests)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _row(pk: int) -> Attestation:
    return Attestation.objects.get(pk=pk)


# =============================================================================================
# The cases: each changes rows and returns the id of the attestation to judge


def envelope_bytes(store: Store) -> int:
    target = _row(store.team_a[1].pk)
    # Still JSON, still signed: only the bytes differ from those hashed and chained.
    changed = bytes(target.envelope).replace(b'{"payloadType"', b'{ "payloadType"', 1)
    tamper("UPDATE provenance_attestation SET envelope = %s WHERE id = %s", [changed, target.pk])
    return target.pk


def signature(store: Store) -> int:
    target = _row(store.team_a[1].pk)
    envelope = orjson.loads(bytes(target.envelope))
    sig = bytearray(base64.b64decode(envelope["signatures"][0]["sig"]))
    sig[-1] ^= 1
    envelope["signatures"][0]["sig"] = base64.b64encode(bytes(sig)).decode()
    changed = orjson.dumps(envelope)
    tamper(
        "UPDATE provenance_attestation SET envelope = %s, envelope_sha256 = %s WHERE id = %s",
        [changed, _sha(changed), target.pk],
    )
    return target.pk


def statement_bytes(store: Store) -> int:
    target = _row(store.team_a[1].pk)
    changed = bytes(target.statement).replace(b"https://", b"http://", 1)
    tamper("UPDATE provenance_attestation SET statement = %s WHERE id = %s", [changed, target.pk])
    return target.pk


def statement_forged_with_its_hashes(store: Store) -> int:
    """The statement, the envelope's payload and both stored hashes rewritten to agree."""
    target = _row(store.team_a[1].pk)
    forged = bytes(target.statement).replace(b"https://", b"http://", 1)
    envelope = orjson.loads(bytes(target.envelope))
    envelope["payload"] = base64.b64encode(forged).decode()
    changed = orjson.dumps(envelope)
    tamper(
        "UPDATE provenance_attestation SET statement = %s, statement_sha256 = %s, "
        "envelope = %s, envelope_sha256 = %s WHERE id = %s",
        [forged, _sha(forged), changed, _sha(changed), target.pk],
    )
    return target.pk


def stored_statement_hash(store: Store) -> int:
    target = store.team_a[1]
    tamper(
        "UPDATE provenance_attestation SET statement_sha256 = %s WHERE id = %s",
        [_sha(b"another statement"), target.pk],
    )
    return target.pk


def stored_envelope_hash(store: Store) -> int:
    target = store.team_a[1]
    tamper(
        "UPDATE provenance_attestation SET envelope_sha256 = %s WHERE id = %s",
        [_sha(b"another envelope"), target.pk],
    )
    return target.pk


def chain_entry_deleted(store: Store) -> int:
    target = store.team_a[1]
    tamper("DELETE FROM provenance_chainentry WHERE attestation_id = %s", [target.pk])
    return target.pk


def chain_entries_reordered(store: Store) -> int:
    target = store.team_a[1]
    for statement in (
        "UPDATE provenance_chainentry SET seq = -seq WHERE seq IN (3, 4)",
        "UPDATE provenance_chainentry SET seq = 4 WHERE seq = -3",
        "UPDATE provenance_chainentry SET seq = 3 WHERE seq = -4",
    ):
        tamper(statement, [])
    return target.pk


def row_inserted(store: Store) -> int:
    """A copy of a genuine attestation, its envelope re-serialized (so its own, correct hash)
    and its subject links: everything checks out but the chain."""
    source = _row(store.team_a[0].pk)
    envelope = orjson.dumps(orjson.loads(bytes(source.envelope)), option=orjson.OPT_INDENT_2)
    tamper(
        "INSERT INTO provenance_attestation (run_id, namespace, format, scope, emit, "
        "subject_key, run_status, run_reason, statement, statement_sha256, envelope, "
        "envelope_sha256, key_id, settings, inputs_digest, created) "
        "SELECT run_id, namespace, format, scope, emit, subject_key, run_status, run_reason, "
        "statement, statement_sha256, %s, %s, key_id, settings, %s, now() "
        "FROM provenance_attestation WHERE id = %s",
        [envelope, _sha(envelope), _sha(b"inserted"), source.pk],
    )
    inserted = Attestation.objects.latest("id")
    tamper(
        "INSERT INTO provenance_attestation_subjects (attestation_id, artifact_id) "
        "SELECT %s, artifact_id FROM provenance_attestation_subjects WHERE attestation_id = %s",
        [inserted.pk, source.pk],
    )
    store.digests[inserted.pk] = store.digests[source.pk]
    return inserted.pk


def key_id_changed(store: Store) -> int:
    target = store.team_a[1]
    tamper(
        "UPDATE provenance_attestation SET key_id = %s WHERE id = %s",
        [store.control.key_id, target.pk],
    )
    return target.pk


def public_key_swapped(store: Store) -> int:
    target = store.team_a[1]
    other = services.signing_key_create(namespace="team-x", algorithm="ecdsa-p256", actor="t")
    SigningKey.objects.filter(key_id=target.key_id).update(public_key_pem=other.public_key_pem)
    return target.pk


def subject_link_added(store: Store) -> int:
    """The target indexed under an artifact it never named as well: the gate and searches
    would find it there."""
    target = store.team_a[1]
    evil = Artifact.objects.create(uri="test.io/evil", algorithm="sha256", hex=_sha(b"evil"))
    tamper(
        "INSERT INTO provenance_attestation_subjects (attestation_id, artifact_id) VALUES (%s, %s)",
        [target.pk, evil.pk],
    )
    return target.pk


CASES: dict[str, tuple[Callable[[Store], int], set[str]]] = {
    "envelope bytes": (envelope_bytes, {"envelope-modified"}),
    "signature": (signature, {"signature-invalid", "chain-envelope"}),
    "statement bytes": (statement_bytes, {"statement-modified", "payload-mismatch"}),
    "statement forged with its hashes": (
        statement_forged_with_its_hashes,
        {"signature-invalid", "chain-envelope"},
    ),
    "stored statement hash": (stored_statement_hash, {"statement-modified"}),
    "stored envelope hash": (stored_envelope_hash, {"envelope-modified", "chain-envelope"}),
    "chain entry deleted": (chain_entry_deleted, {"not-in-chain"}),
    # The chain key signed each entry's place too.
    "chain entries reordered": (chain_entries_reordered, {"chain-link-broken", "chain-unsigned"}),
    "row inserted outside the app": (row_inserted, {"not-in-chain"}),
    "key id": (key_id_changed, {"key-id-mismatch", "key-namespace", "signature-invalid"}),
    # The signature is checked with the trust bundle's key: the row's PEM cannot change that.
    "public key swapped": (public_key_swapped, {"key-mismatch"}),
    "subject link added": (subject_link_added, {"subject-not-signed"}),
}


# =============================================================================================
# What each surface says


def page_verdict(caller: Caller, pk: int) -> tuple[bool, list[tuple[str, str]], str]:
    """(green banner shown, [(code, message)] in the red banner, the red banner's headline)."""
    body = caller.get(f"/attestations/{pk}/").content.decode()
    reasons = [
        (code, html.unescape(message))
        for code, message in re.findall(r'<li data-code="([^"]+)">(.*?) <span', body)
    ]
    headline = re.search(r"<h2>Verification failed: ([^<]*)</h2>", body)
    green = "Signature verified" in body and 'class="verify-banner verify-ok"' in body
    assert green != bool(headline), "a page shows one verdict"
    return green, reasons, html.unescape(headline.group(1)) if headline else ""


def api_verdict(caller: Caller, pk: int) -> tuple[bool, list[str], list[str]]:
    body = caller.get(f"/api/v1/attestations/{pk}").json()
    assert body["problems"] == [r["message"] for r in body["reasons"]]
    return body["verified"], body["problems"], [r["code"] for r in body["reasons"]]


def gate_reasons(caller: Caller, digest: str, pk: int) -> tuple[bool, bool, list[str]]:
    """(the digest is allowed, this attestation allows it, its reasons)."""
    body = caller.get("/api/v1/gate", digest=digest).json()
    (candidate,) = [c for c in body["candidates"] if c["attestation"] == pk]
    return body["allowed"], candidate["allowed"], candidate["reasons"]


def bundles(caller: Caller, digest: str) -> list[Any]:
    return [
        caller.get(f"/artifacts/{digest}/attestations.jsonl"),
        caller.get(f"/api/v1/artifacts/{digest}/attestations.jsonl"),
    ]


def verify_store_output() -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("verify_store", stdout=out, stderr=StringIO())
    except CommandError as exc:
        return 1, out.getvalue() + str(exc)
    return 0, out.getvalue()


def assert_everywhere_fails(caller: Caller, store: Store, pk: int, expected: Verdict) -> None:
    label = f"attestation {pk}"
    green, reasons, headline = page_verdict(caller, pk)
    assert not green
    assert reasons == list(zip(expected.codes, expected.messages, strict=True))
    assert headline == expected.headline

    verified, problems, codes = api_verdict(caller, pk)
    assert (verified, problems, codes) == (False, expected.messages, expected.codes)
    listed = caller.get("/api/v1/attestations", verified="false").json()["results"]
    assert pk in [row["id"] for row in listed]

    body = caller.get("/api/v1/gate", digest=store.digests[pk]).json()
    candidates = [c for c in body["candidates"] if c["attestation"] == pk]
    if candidates:  # the statement the rule relies on: denied, with the verdict's reasons
        (candidate,) = candidates
        assert not candidate["allowed"]
        assert candidate["reasons"] == [
            f"{label} does not verify: {m.removeprefix(label + ': ')}" for m in expected.messages
        ]
    else:  # a genuine statement of the digest verifies: this one is set aside, never relied on
        roles = {s["attestation"]: s["role"] for s in body["set_aside"]}
        assert roles[pk] == "does-not-verify" and body["allowed"]

    stored = bytes(_row(pk).envelope)
    for response in bundles(caller, store.digests[pk]):
        if response.status_code == 409:  # nothing of this digest verifies
            body = response.content.decode()
            assert all(m in body for m in expected.messages), body
        else:
            assert response.status_code == 200
            assert f"{pk} ({', '.join(expected.codes)})" in response["Chainsweb-Unverified"]
            assert stored not in response.content.splitlines()

    code, out = verify_store_output()
    assert code == 1
    assert all(m in out for m in expected.messages), out
    assert store_verify().verdicts[pk] == expected


def assert_everywhere_passes(caller: Caller, store: Store, pk: int) -> None:
    assert verify(_row(pk)).ok
    assert page_verdict(caller, pk) == (True, [], "")
    assert api_verdict(caller, pk) == (True, [], [])
    allowed, allows, _ = gate_reasons(caller, store.control_digest, pk)
    assert allowed and allows
    envelope = bytes(_row(pk).envelope)
    for response in bundles(caller, store.control_digest):
        assert response.status_code == 200
        assert response.content.splitlines() == [envelope]
        assert "Chainsweb-Unverified" not in response
    assert f"attestation {pk}" not in verify_store_output()[1]
    assert pk not in store_verify().verdicts


# =============================================================================================


@pytest.mark.parametrize("case", CASES)
def test_tampering_in_postgres_gives_one_failed_verdict_everywhere(store: Store, case: str) -> None:
    change, codes = CASES[case]
    pk = change(store)
    expected = verify(_row(pk))
    assert set(expected.codes) == codes, expected
    caller = staff_session()
    assert_everywhere_fails(caller, store, pk, expected)
    assert_everywhere_passes(caller, store, store.control.pk)


def test_an_untouched_store_passes_everywhere(store: Store) -> None:
    caller = staff_session()
    for attestation in (store.control, *store.team_a):
        pk = attestation.pk
        assert page_verdict(caller, pk)[0]
        assert api_verdict(caller, pk) == (True, [], [])
        digest = store.digests.get(pk, store.control_digest)
        assert gate_reasons(caller, digest, pk)[:2] == (True, True)
        for response in bundles(caller, digest):
            assert response.content.splitlines() == [bytes(attestation.envelope)]
    assert verify_store_output()[0] == 0


def test_a_bundle_leaves_out_what_fails_and_names_it(store: Store) -> None:
    """The inserted copy shares its digest with a genuine attestation: the bundle keeps the
    genuine one and names the copy, with its reason codes, in Chainsweb-Unverified."""
    inserted = row_inserted(store)
    genuine = store.team_a[0]
    caller = staff_session()
    for response in bundles(caller, store.digests[genuine.pk]):
        assert response.status_code == 200
        assert response.content.splitlines() == [bytes(genuine.envelope)]
        assert response["Chainsweb-Unverified"] == f"{inserted} (not-in-chain)"
        assert response["Content-Type"] == "application/jsonl"
    allowed, allows, _ = gate_reasons(caller, store.digests[genuine.pk], genuine.pk)
    assert allowed and allows
    # The newer inserted row does not push the genuine statement aside: it is set aside itself.
    body = caller.get("/api/v1/gate", digest=store.digests[genuine.pk]).json()
    assert {"attestation": inserted, "role": "does-not-verify"}.items() <= next(
        s for s in body["set_aside"] if s["attestation"] == inserted
    ).items()


def test_the_entry_after_a_removed_one_fails_its_link_too(store: Store) -> None:
    """A removed chain entry breaks the next entry's link: verify_store reports the gap, and
    the next attestation's verdict says it no longer follows the entry before it."""
    target, after = store.team_a[1], store.team_a[2]
    chain_entry_deleted(store)
    verdict = verify(_row(after.pk))
    assert verdict.codes == ["chain-link-broken"]
    assert "which is missing (removed)" in verdict.messages[0]
    code, out = verify_store_output()
    assert code == 1 and "REMOVED: chain entry 3 removed" in out
    assert f"INSERTED: attestation {target.pk} is not in the chain" in out
    assert verify(_row(store.team_a[0].pk)).ok and verify(_row(store.control.pk)).ok
