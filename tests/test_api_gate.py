"""GET /api/v1/gate: may this digest be deployed? (docs/api.md, "The deployment gate")"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
import pytest

from provenance import services
from provenance.models import Artifact, Attestation, SigningKey
from tests.apidata import (
    caller_with_token,
    hex_for,
    signed_pipeline,
    signed_taskrun,
    tamper,
    token,
)

pytestmark = pytest.mark.django_db

PER_ARTIFACT = {"scope": "per-artifact", "emit": "on-completion"}
V02 = {"format": "slsa/v1"}


@pytest.fixture(autouse=True)
def _keys(settings, tmp_path):
    settings.KEYS_DIR = tmp_path / "keys"


def gate(digest: str, *, namespaces: tuple[str, ...] = ("team-a", "team-b"), **params: Any) -> Any:
    caller = caller_with_token(token(role="viewer", namespaces=namespaces))
    response = caller.get("/api/v1/gate", digest=digest, **params)
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {
        "allowed",
        "reasons",
        "attestation",
        "digest",
        "candidates",
        "rule",
        "set_aside",
    }
    assert body["reasons"], "every answer says why"
    return body


def assert_denied(body: dict[str, Any], *fragments: str) -> None:
    assert body["allowed"] is False and body["attestation"] is None, body
    text = " | ".join(body["reasons"])
    for fragment in fragments:
        assert fragment in text, text


# --- allowed ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "settings_",
    [{}, V02, PER_ARTIFACT, {**V02, **PER_ARTIFACT}],
    ids=["per-run v1.0", "per-run v0.2", "per-artifact v1.0", "per-artifact v0.2"],
)
def test_a_verified_attestation_whose_tasks_all_succeeded_allows(settings_) -> None:
    _, (attestation,), digest = signed_pipeline(settings=settings_ or None)
    body = gate(digest)
    assert body["allowed"] is True and body["attestation"] == attestation.pk
    assert body["digest"] == digest
    assert body["candidates"] == [
        {
            "attestation": attestation.pk,
            "namespace": "team-a",
            "scope": attestation.scope,
            "allowed": True,
            "reasons": body["reasons"],
            "chosen_because": body["candidates"][0]["chosen_because"],
        }
    ]
    assert (
        f"attestation #{attestation.pk} covers this artifact"
        in (body["candidates"][0]["chosen_because"])
    )
    assert body["set_aside"] == [] and "relies on" in body["rule"]
    # The required tasks are there, too.
    assert gate(digest, require_tasks="build,git-clone")["allowed"] is True
    assert gate(digest, require_tasks=" build , ")["allowed"] is True


def test_standalone_taskrun() -> None:
    _, (attestation,), digest = signed_taskrun()
    assert gate(digest)["attestation"] == attestation.pk
    assert gate(digest, require_tasks="build")["allowed"] is True
    assert_denied(gate(digest, require_tasks="scan"), "required task scan is not this TaskRun")


def test_per_artifact_early_statement_of_a_running_pipeline_allows() -> None:
    # on-artifact: signed while the PipelineRun still runs, once its in-scope tasks succeeded.
    _, (attestation,), digest = signed_pipeline(
        pr_status="Unknown", settings={"scope": "per-artifact", "emit": "on-artifact"}
    )
    assert attestation.run_status == "Unknown"
    body = gate(digest, require_tasks="build")
    assert body["allowed"] is True and body["attestation"] == attestation.pk


# --- denied: tasks --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings_", "message"),
    [
        (V02, "task git-clone has status Failed, not Succeeded"),
        (PER_ARTIFACT, "in-scope task git-clone (git-clone) has status False"),
        ({**V02, **PER_ARTIFACT}, "in-scope task git-clone (git-clone) has status False"),
    ],
    ids=["per-run v0.2", "per-artifact v1.0", "per-artifact v0.2"],
)
def test_a_failed_in_scope_task_denies(settings_, message) -> None:
    _, (attestation,), digest = signed_pipeline(failed_task="git-clone", settings=settings_)
    body = gate(digest)
    assert_denied(body, f"attestation {attestation.pk}: {message}")
    assert body["candidates"][0]["allowed"] is False


def test_per_run_v1_uses_the_run_status_at_signing_and_the_stored_taskruns() -> None:
    # SLSA v1.0 per-run statements carry no task status: a failed run denies ...
    _, (failed,), digest = signed_pipeline(pr_status="False")
    assert_denied(gate(digest), "status at signing was False, not succeeded (True)")
    # ... and a run that succeeded allows, while a required task is looked up among the run's
    # stored TaskRuns (here git-clone failed, though the PipelineRun reported success).
    _, (attestation,), digest = signed_pipeline(name="build-2", failed_task="git-clone")
    assert attestation.run_status == "True"
    assert gate(digest)["allowed"] is True
    assert_denied(
        gate(digest, require_tasks="git-clone"), "git-clone did not succeed (status False)"
    )
    assert_denied(gate(digest, require_tasks="scan"), "scan has no TaskRun in this PipelineRun")


@pytest.mark.parametrize(
    ("settings_", "message"),
    [
        ({}, "required task scan has no TaskRun in this PipelineRun"),
        (V02, "required task scan is not recorded in the statement"),
        (PER_ARTIFACT, "required task scan is not recorded in the statement"),
    ],
    ids=["per-run v1.0", "per-run v0.2", "per-artifact v1.0"],
)
def test_a_missing_required_task_denies(settings_, message) -> None:
    _, _, digest = signed_pipeline(settings=settings_ or None)
    assert_denied(gate(digest, require_tasks="build,scan"), message)


def test_a_failed_pipeline_under_v02_denies_even_when_its_tasks_succeeded() -> None:
    _, _, digest = signed_pipeline(pr_status="False", settings=V02)
    assert_denied(gate(digest), "status at signing was False")


# --- denied: integrity ---------------------------------------------------------------------------


def test_a_tampered_statement_denies() -> None:
    _, (attestation,), digest = signed_pipeline()
    statement = orjson.loads(bytes(attestation.statement))
    statement["predicate"]["runDetails"]["builder"]["id"] = "https://evil.example/builder"
    forged = orjson.dumps(statement)
    # The attacker keeps the row self-consistent: new statement and its hash.
    tamper(
        "UPDATE provenance_attestation SET statement = %s, statement_sha256 = %s WHERE id = %s",
        [forged, hashlib.sha256(forged).hexdigest(), attestation.pk],
    )
    assert_denied(gate(digest), f"attestation {attestation.pk} does not verify", "payload")


def test_a_resigned_envelope_with_an_unregistered_key_denies() -> None:
    from provenance.core import dsse
    from provenance.core.signing import KeySigner, generate_private_key_pem

    _, (attestation,), digest = signed_pipeline(failed_task="git-clone", settings=V02)
    statement = orjson.loads(bytes(attestation.statement))
    for task in statement["predicate"]["buildConfig"]["tasks"]:
        task["status"] = "Succeeded"
    forged = orjson.dumps(statement)
    rogue = KeySigner.from_private_pem(generate_private_key_pem("ecdsa-p256"))
    envelope = dsse.sign(forged, rogue).to_json()
    tamper(
        "UPDATE provenance_attestation SET statement = %s, statement_sha256 = %s, envelope = %s, "
        "envelope_sha256 = %s WHERE id = %s",
        [
            forged,
            hashlib.sha256(forged).hexdigest(),
            envelope,
            hashlib.sha256(envelope).hexdigest(),
            attestation.pk,
        ],
    )
    assert_denied(gate(digest), "does not verify", "signature does not verify")


def test_a_swapped_registered_key_denies() -> None:
    _, (attestation,), digest = signed_pipeline()
    other = services.signing_key_create(namespace="", algorithm="ecdsa-p256", actor="t")
    SigningKey.objects.filter(key_id=attestation.key_id).update(public_key_pem=other.public_key_pem)
    assert_denied(gate(digest), "does not verify", "does not match its id")


def test_a_subject_link_added_behind_the_app_denies() -> None:
    # Linking a good attestation to another digest in the database does not make the signed
    # statement name it: the gate reads the subject from the verified bytes.
    _, (attestation,), _ = signed_pipeline()
    target = hex_for("never-built")
    artifact = Artifact.objects.create(uri="test.io/test/evil", algorithm="sha256", hex=target)
    tamper(
        "INSERT INTO provenance_attestation_subjects (attestation_id, artifact_id) VALUES (%s, %s)",
        [attestation.pk, artifact.pk],
    )
    assert_denied(gate(f"sha256:{target}"), "which its signed statement does not name")


def test_only_current_attestations_count() -> None:
    _, (first,), digest = signed_pipeline()
    services.namespace_settings_update(namespace="team-a", changes=V02, actor="t")
    services.attestations_generate(run_id=first.run_id)
    second = Attestation.objects.get(superseded_by__isnull=True, run=first.run)
    assert second.pk != first.pk
    body = gate(digest)
    assert body["attestation"] == second.pk
    assert [c["attestation"] for c in body["candidates"]] == [second.pk]


def test_the_gate_relies_on_the_namespaces_scope_and_sets_the_other_aside() -> None:
    # Switching per-run -> per-artifact leaves the per-run statement current (supersession is
    # per scope): the gate relies on the per-artifact one and says what the per-run one is.
    _, (per_run,), digest = signed_pipeline()
    services.namespace_settings_update(namespace="team-a", changes=PER_ARTIFACT, actor="t")
    services.attestations_generate(run_id=per_run.run_id)
    per_artifact = Attestation.objects.get(scope="per-artifact", run=per_run.run)
    assert Attestation.objects.get(pk=per_run.pk).superseded_by_id is None
    body = gate(digest)
    assert body["attestation"] == per_artifact.pk
    assert [c["attestation"] for c in body["candidates"]] == [per_artifact.pk]
    assert "newest current per-artifact statement" in body["candidates"][0]["chosen_because"]
    (aside,) = body["set_aside"]
    assert aside["attestation"] == per_run.pk and aside["role"] == "other-scope"
    assert "team-a signs per-artifact statements" in aside["why"]
    # Asking for a scope relies on that scope's statement, and sets the other aside.
    asked = gate(digest, scope="per-run")
    assert asked["attestation"] == per_run.pk
    assert [s["attestation"] for s in asked["set_aside"]] == [per_artifact.pk]
    assert asked["set_aside"][0]["why"] == (
        "a per-artifact statement of run build-1, not of the scope asked for (per-run)"
    )


# --- denied: nothing to go on; bad parameters ------------------------------------------------


def test_an_unknown_digest_denies() -> None:
    signed_pipeline()
    unknown = "sha256:" + hex_for("unknown")
    body = gate(unknown)
    assert_denied(body, f"no current attestation names {unknown}")
    assert body["candidates"] == []


def test_another_namespaces_digest_looks_unknown() -> None:
    _, _, digest = signed_pipeline(namespace="team-b")
    assert_denied(gate(digest, namespaces=("team-a",)), "no current attestation names")


def test_namespace_and_scope_narrow_the_candidates() -> None:
    _, (good,), digest = signed_pipeline(namespace="team-a", label="shared")
    _, (bad,), _ = signed_pipeline(
        namespace="team-b", label="shared", failed_task="git-clone", settings=PER_ARTIFACT
    )
    both = gate(digest)
    assert both["allowed"] is True and both["attestation"] == good.pk
    assert {c["attestation"]: c["allowed"] for c in both["candidates"]} == {
        good.pk: True,
        bad.pk: False,
    }
    assert_denied(gate(digest, namespace="team-b"), f"attestation {bad.pk}: in-scope task")
    assert_denied(gate(digest, scope="per-artifact"), f"attestation {bad.pk}")
    assert gate(digest, scope="per-run")["attestation"] == good.pk
    assert_denied(gate(digest, namespace="team-c"), "no current attestation names")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "digest: This field is required"),
        ({"digest": "latest"}, "digest: must look like sha256:<hex>"),
        ({"digest": "sha256:abc", "scope": "everything"}, "scope"),
    ],
)
def test_bad_questions_are_400(params, message) -> None:
    caller = caller_with_token(token())
    response = caller.get("/api/v1/gate", **params)
    assert response.status_code == 400
    assert message in response.json()["error"]
