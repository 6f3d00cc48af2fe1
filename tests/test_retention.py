"""Retention that keeps the evidence (docs/operations.md, "Retention"): ``prune_records`` empties
the raw records of runs past their namespace's retention, never under a legal hold and never of
a run not fully signed; the attestations, their envelopes and the hash chain stay, and every
page, the API, the gate and ``verify_store`` keep working on a pruned run.

Everything runs on real Postgres with genuinely signed attestations (``tests.apidata``)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import orjson
import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections, transaction
from django.test import Client
from django.utils import timezone

from provenance import services
from provenance.models import (
    ApiToken,
    Attestation,
    ChainEntry,
    ComputeStatus,
    NamespaceGrant,
    RunRecord,
    SettingsAudit,
    SigningKey,
)
from tests.apidata import (
    caller_with_token,
    hex_for,
    ingest_and_sign,
    tamper,
    token,
    with_digest,
)
from tests.core.test_dsse import sslib_verify
from tests.factories import TEST_SOURCE, as_list, bump, pipeline_docs, taskrun_doc

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _keys(settings: Any, tmp_path: Path) -> None:
    settings.KEYS_DIR = tmp_path / "keys"


# =============================================================================================
# Helpers


def completed(docs: list[dict[str, Any]], days_ago: float) -> list[dict[str, Any]]:
    """The records with every run completed ``days_ago`` days ago (in place)."""
    when = (timezone.now() - timedelta(days=days_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")
    for doc in docs:
        doc["status"]["completionTime"] = when
    return docs


def pipeline(namespace: str, name: str, days_ago: float) -> list[dict[str, Any]]:
    """A signed PipelineRun with two TaskRuns (its own image digest), completed days ago."""
    docs = with_digest(pipeline_docs(namespace=namespace, name=name), hex_for(name))
    assert ingest_and_sign(completed(docs, days_ago))
    return docs


def retention(namespace: str, days: int | None, *, reason: str = "test", **more: Any) -> None:
    services.namespace_settings_update(
        namespace=namespace, changes={"retention_days": days, **more}, actor="test", reason=reason
    )


def prune(*args: str) -> str:
    out = StringIO()
    call_command("prune_records", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def snapshot() -> dict[str, Any]:
    """What pruning may change and what it must not: every run's raw bytes and markers, every
    attestation's bytes, the chain, and the audit entries."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT uid, octet_length(raw), raw_sha256, pruned_at, compute_status "
            "FROM provenance_runrecord ORDER BY uid"
        )
        runs = cursor.fetchall()
    return {
        "runs": runs,
        "raw_bytes": sum(row[1] for row in runs),
        "attestations": list(
            Attestation.objects.order_by("id").values_list("id", "envelope", "statement")
        ),
        "chain": list(ChainEntry.objects.order_by("seq").values_list("seq", "entry_hash")),
        "audit": SettingsAudit.objects.count(),
    }


def rows_of(docs: list[dict[str, Any]]) -> list[RunRecord]:
    return list(RunRecord.objects.filter(uid__in=[d["metadata"]["uid"] for d in docs]))


def raw_size(docs: list[dict[str, Any]]) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT sum(octet_length(raw)) FROM provenance_runrecord WHERE uid = ANY(%s)",
            [[d["metadata"]["uid"] for d in docs]],
        )
        return int(cursor.fetchone()[0])


@pytest.fixture
def store() -> dict[str, list[dict[str, Any]]]:
    """team-a keeps raw records 30 days: one old pipeline (past it), one recent; team-b keeps
    them for ever and has an old pipeline too."""
    retention("team-a", 30)
    return {
        "old": pipeline("team-a", "old-build", days_ago=400),
        "recent": pipeline("team-a", "new-build", days_ago=2),
        "forever": pipeline("team-b", "kept-build", days_ago=400),
    }


# =============================================================================================
# Dry run and pruning


def test_a_dry_run_counts_what_would_go_and_changes_nothing(store) -> None:
    before = snapshot()
    out = prune("--dry-run")
    assert snapshot() == before  # rows, bytes, attestations, chain and audit alike
    size = raw_size(store["old"])
    assert f"team-a: would prune 1 run(s) (3 records, {size:,} bytes) completed before" in out
    assert "(30-day retention)" in out
    assert "team-b: kept for ever (no retention period)" in out
    assert out.strip().endswith("dry run: nothing was changed")


def test_pruning_empties_the_raw_records_and_keeps_the_evidence(store) -> None:
    before = snapshot()
    size = raw_size(store["old"])
    out = prune("--actor", "cron:nightly")
    assert f"team-a: pruned 1 run(s) (3 records, {size:,} bytes)" in out
    assert f"pruned 1 run(s), {size:,} bytes" in out
    after = snapshot()
    # The evidence is untouched: attestation bytes and the chain.
    assert after["attestations"] == before["attestations"]
    assert after["chain"] == before["chain"]
    assert after["raw_bytes"] == before["raw_bytes"] - size
    old = rows_of(store["old"])
    assert len(old) == 3
    for row in old:
        assert bytes(row.raw) == b"" and row.is_pruned and row.pruned_retention_days == 30
        assert len(row.raw_sha256) == 64  # the hash of what was there stays
    assert not any(r.is_pruned for r in rows_of(store["recent"]) + rows_of(store["forever"]))
    # One audit entry for the namespace: who, and what went.
    (entry,) = SettingsAudit.objects.filter(new__has_key=SettingsAudit.PRUNED)
    assert entry.namespace == "team-a" and entry.actor == "cron:nightly"
    assert entry.new[SettingsAudit.PRUNED] | {"completed_before": ""} == {
        "runs": 1,
        "records": 3,
        "bytes": size,
        "retention_days": 30,
        "completed_before": "",
    }
    # Again: nothing left to prune, no new audit entry.
    assert "team-a: pruned 0 run(s) (0 records, 0 bytes)" in prune()
    assert SettingsAudit.objects.filter(new__has_key=SettingsAudit.PRUNED).count() == 1


def test_older_than_only_narrows_the_retention(store) -> None:
    retention("team-b", None)  # still for ever
    out = prune("--older-than", "500")  # the old runs completed 400 days ago
    assert "team-a: pruned 0 run(s)" in out and "team-b: kept for ever" in out
    out = prune("--older-than", "300", "--namespace", "team-a")
    assert "team-a: pruned 1 run(s) (3 records" in out and "team-b" not in out
    assert not any(r.is_pruned for r in rows_of(store["recent"]) + rows_of(store["forever"]))


def test_the_deployment_default_retention_applies_to_namespaces_without_their_own(
    settings: Any,
) -> None:
    settings.PROVENANCE_RETENTION_DAYS = 90
    docs = pipeline("team-c", "defaulted", days_ago=100)
    assert "team-c: pruned 1 run(s) (3 records" in prune()
    assert all(r.is_pruned and r.pruned_retention_days == 90 for r in rows_of(docs))


def test_runs_not_fully_signed_are_never_pruned(settings: Any) -> None:
    retention("team-a", 1)
    signed = pipeline("team-a", "signed", days_ago=10)
    # Pending: stored, never computed.
    pending = completed([taskrun_doc(name="pending")], 10)
    services.records_ingest(data=as_list(pending), namespaces_allowed=None, source=TEST_SOURCE)
    # Failed to sign (a permanent error stored on the run).
    failed = with_digest([taskrun_doc(name="failed")], hex_for("failed"))
    ingest_and_sign(completed(failed, 10))
    failed_row = RunRecord.objects.get(uid=failed[0]["metadata"]["uid"])
    services.run_compute_fail(run_id=failed_row.pk, reason="no signing key")
    # Skipped: a failed run under on-success gets no attestation at all.
    services.namespace_settings_update(
        namespace="team-a", changes={"emit": "on-success"}, actor="test"
    )
    skipped = with_digest(pipeline_docs(name="skipped", pr_status="False"), hex_for("skipped"))
    assert not ingest_and_sign(completed(skipped, 10))
    # Signed, but an attestation outside the hash chain (its entry removed behind our back).
    unchained = with_digest([taskrun_doc(name="unchained")], hex_for("unchained"))
    (attestation,) = ingest_and_sign(completed(unchained, 10))
    tamper("DELETE FROM provenance_chainentry WHERE attestation_id = %s", [attestation.pk])
    statuses = {
        r.name: r.compute_status
        for r in RunRecord.objects.filter(name__in=["pending", "failed", "skipped", "unchained"])
    }
    assert statuses == {
        "pending": ComputeStatus.PENDING,
        "failed": ComputeStatus.FAILED,
        "skipped": ComputeStatus.SKIPPED,
        "unchained": ComputeStatus.SIGNED,
    }
    assert "team-a: would prune 1 run(s) (3 records" in prune("--dry-run")
    assert "team-a: pruned 1 run(s) (3 records" in prune()
    pruned = set(RunRecord.objects.filter(pruned_at__isnull=False).values_list("uid", flat=True))
    assert pruned == {d["metadata"]["uid"] for d in signed}


# =============================================================================================
# Legal hold


def test_a_legal_hold_stops_pruning_and_is_audited_with_its_reason(store) -> None:
    services.namespace_settings_update(
        namespace="team-a",
        changes={"legal_hold": True},
        actor="user:counsel",
        reason="litigation LH-2026-14",
    )
    before = snapshot()
    size = raw_size(store["old"])
    for args in ((), ("--dry-run",), ("--namespace", "team-a")):
        out = prune(*args)
        assert (
            f"team-a: legal hold: nothing pruned; 1 run(s) (3 records, {size:,} bytes) past "
            "the 30-day retention are held" in out
        )
    assert snapshot()["runs"] == before["runs"]
    # Lifting the hold needs a reason too; then pruning goes ahead.
    with pytest.raises(Exception, match="setting or lifting a legal hold needs a reason"):
        services.namespace_settings_update(
            namespace="team-a", changes={"legal_hold": False}, actor="user:counsel"
        )
    services.namespace_settings_update(
        namespace="team-a",
        changes={"legal_hold": False},
        actor="user:counsel",
        reason="case closed",
    )
    assert "team-a: pruned 1 run(s)" in prune()
    entries = SettingsAudit.objects.filter(namespace="team-a", actor="user:counsel")
    held, lifted = entries.order_by("id")
    assert (held.old["legal_hold"], held.new["legal_hold"], held.reason) == (
        False,
        True,
        "litigation LH-2026-14",
    )
    assert (lifted.new["legal_hold"], lifted.reason) == (False, "case closed")


@pytest.mark.django_db(transaction=True)
def test_a_legal_hold_being_saved_while_pruning_runs_wins() -> None:
    retention("team-a", 30)
    docs = completed(with_digest(pipeline_docs(name="contested"), hex_for("contested")), 400)
    # Committed, so the compute runs at once (tasks are eager without a broker).
    services.records_ingest(data=as_list(docs), namespaces_allowed=None, source=TEST_SOURCE)
    assert {r.compute_status for r in rows_of(docs)} == {"signed", "child"}
    saving, release = threading.Event(), threading.Event()
    results: list[Any] = []

    def hold() -> None:
        try:
            with transaction.atomic():  # holds the settings row until released
                services.namespace_settings_update(
                    namespace="team-a",
                    changes={"legal_hold": True},
                    actor="user:counsel",
                    reason="LH-7",
                )
                saving.set()
                release.wait(30)
        finally:
            connections.close_all()

    def sweep() -> None:
        try:
            results.extend(services.records_prune())
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold)
    holder.start()
    assert saving.wait(30)
    pruner = threading.Thread(target=sweep)
    pruner.start()
    pruner.join(1.5)
    assert pruner.is_alive()  # waiting for the settings row
    release.set()
    holder.join(30)
    pruner.join(30)
    (result,) = results
    assert result.legal_hold and result.runs == 0
    assert not any(r.is_pruned for r in rows_of(docs))
    assert not SettingsAudit.objects.filter(new__has_key=SettingsAudit.PRUNED).exists()


def test_retention_changes_re_sign_nothing(store, django_capture_on_commit_callbacks) -> None:
    count = Attestation.objects.count()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        retention("team-a", 7, legal_hold=True, reason="audit")
    assert callbacks == []  # no recompute queued
    assert Attestation.objects.count() == count


# =============================================================================================
# A pruned run: pages, API, gate, verification


@pytest.fixture
def pruned(store) -> dict[str, list[dict[str, Any]]]:
    prune()
    return store


def admin_client(django_user_model: Any, namespace: str = "team-a") -> Client:
    user = django_user_model.objects.create_user("counsel", password="pw")
    NamespaceGrant.objects.create(user=user, namespace=namespace, role=ApiToken.Role.ADMIN)
    client = Client()
    client.force_login(user)
    return client


def test_the_run_pages_of_a_pruned_run_say_so_and_keep_its_attestations(
    pruned, django_user_model: Any
) -> None:
    client = admin_client(django_user_model)
    pr = RunRecord.objects.get(uid=pruned["old"][0]["metadata"]["uid"])
    note = (
        f"The raw record was pruned on {pr.pruned_at:%Y-%m-%d} under the namespace&#x27;s "
        "30-day retention"
    )
    for query in ({}, {"deep": "1"}):
        page = client.get(f"/runs/{pr.pk}/", query).content.decode()
        assert note in page
        assert "this deep inspection view" in page if query else "deep inspection view" not in page
        assert "Stored record (JSON as received)" not in page
        for attestation in Attestation.objects.filter(run=pr):
            assert f'href="/attestations/{attestation.pk}/"' in page
    child = RunRecord.objects.filter(parent_uid=pr.uid).first()
    assert child is not None
    assert note in client.get(f"/runs/{child.pk}/").content.decode()
    # The attestation page still verifies (the envelope is the evidence).
    (attestation,) = Attestation.objects.filter(run=pr)
    page = client.get(f"/attestations/{attestation.pk}/").content.decode()
    assert "Signature verified" in page and "Verification failed" not in page
    # A kept run shows its record.
    recent = RunRecord.objects.get(uid=pruned["recent"][0]["metadata"]["uid"])
    page = client.get(f"/runs/{recent.pk}/").content.decode()
    assert "Stored record (JSON as received)" in page and "kept 30 days" in page


def test_the_api_of_a_pruned_run(pruned) -> None:
    caller = caller_with_token(token(role="viewer"))
    uid = pruned["old"][0]["metadata"]["uid"]
    detail = caller.get(f"/api/v1/records/{uid}").json()
    assert detail["pruned_at"] and detail["pruned_retention_days"] == 30
    assert len(detail["raw_sha256"]) == 64 and detail["compute_status"] == "signed"
    assert len(detail["children"]) == 2 and all(c["pruned_at"] for c in detail["children"])
    (brief,) = detail["attestations"]
    raw = caller.get(f"/api/v1/records/{uid}/raw")
    assert raw.status_code == 410
    assert raw.json()["error"].startswith("the raw record was pruned on ")
    assert raw.json()["error"].endswith("under the namespace's 30-day retention")
    body = caller.get(f"/api/v1/attestations/{brief['id']}").json()
    assert body["verified"] is True and body["reasons"] == []
    # The envelope verifies with an independent DSSE implementation.
    envelope = caller.get(f"/api/v1/attestations/{brief['id']}/envelope").content
    key = SigningKey.objects.get(key_id=body["key_id"])
    payload = sslib_verify(envelope, key.public_key_pem, key.key_id)
    assert orjson.loads(payload)["subject"]
    # The gate: the artifact may still be deployed, its tasks' state read from the columns.
    gate = caller.get(
        "/api/v1/gate", digest=f"sha256:{hex_for('old-build')}", require_tasks="build"
    )
    assert gate.status_code == 200 and gate.json()["allowed"] is True, gate.json()
    # A kept run's raw record is still served.
    kept = pruned["recent"][0]["metadata"]["uid"]
    assert caller.get(f"/api/v1/records/{kept}/raw").status_code == 200


def test_verify_store_passes_on_a_pruned_store(store, tmp_path: Path) -> None:
    checkpoint = tmp_path / "cp.json"
    out = StringIO()
    call_command("verify_store", "--write-checkpoint", str(checkpoint), stdout=out)
    prune()
    assert RunRecord.objects.filter(pruned_at__isnull=False).count() == 3
    out = StringIO()
    call_command("verify_store", "--checkpoint", str(checkpoint), stdout=out)
    assert f"OK: {Attestation.objects.count()} attestations" in out.getvalue()
    assert "is consistent" in out.getvalue()


# =============================================================================================
# A pruned run seen again, and recomputes


def test_a_pruned_run_seen_again_is_not_stored_nor_signed_again(pruned, tmp_path: Path) -> None:
    old = pruned["old"]
    attestations = Attestation.objects.count()
    caller = caller_with_token(token(role="ingester"))
    newer = [bump(doc, 900 + i) for i, doc in enumerate(old)]
    # A new TaskRun of the pruned PipelineRun, by its owner uid and by its label only.
    late = bump(old[1], 950)
    late["metadata"]["uid"] = "late-child-uid"
    late["metadata"]["name"] = "old-build-late"
    by_label = bump(old[2], 951)
    by_label["metadata"].update(uid="late-label-uid", name="old-build-label")
    by_label["metadata"].pop("ownerReferences")
    for body in (old, newer, [late, by_label]):
        response = caller.post("/api/v1/records", as_list(body))
        assert response.status_code == 202, response.content
        assert {r["outcome"] for r in response.json()["records"]} == {"pruned"}
    # The watcher's path and an import say the same.
    result = services.watch_event_ingest(
        key="pipelineruns/*", obj=newer[0], resource_version="1", source=TEST_SOURCE
    )
    assert result is not None and result.records[0].outcome == "pruned"
    dump = tmp_path / "dump.json"
    dump.write_bytes(as_list(newer))
    out = StringIO()
    call_command("import_records", str(dump), "--no-progress", stdout=out, stderr=StringIO())
    assert "0 records created, 0 updated, 0 unchanged, 3 of pruned runs (not stored)" in (
        out.getvalue()
    )
    assert Attestation.objects.count() == attestations
    assert not RunRecord.objects.filter(uid__in=["late-child-uid", "late-label-uid"]).exists()
    for row in rows_of(old):
        assert row.is_pruned and bytes(row.raw) == b""
        assert row.resource_version == next(
            d["metadata"]["resourceVersion"] for d in old if d["metadata"]["uid"] == row.uid
        )
    pr = RunRecord.objects.get(uid=old[0]["metadata"]["uid"])
    assert pr.compute_status == ComputeStatus.SIGNED
    # A re-created PipelineRun of the same name is a new run, attested as usual.
    again = with_digest(pipeline_docs(name="old-build"), hex_for("old-build-2"))
    assert len(ingest_and_sign(again)) == 1


def test_settings_changes_and_computes_leave_a_pruned_run_alone(pruned) -> None:
    pr = RunRecord.objects.get(uid=pruned["old"][0]["metadata"]["uid"])
    before = list(Attestation.objects.filter(run=pr).values_list("id", flat=True))
    queued = services.namespace_runs_recompute(namespace="team-a")
    assert queued == 1  # the recent run only
    outcome = services.attestations_generate(run_id=pr.pk)
    assert outcome.status == ComputeStatus.SIGNED and outcome.created == ()
    # Even a run someone marked pending comes back signed, with the reason.
    RunRecord.objects.filter(pk=pr.pk).update(compute_status=ComputeStatus.PENDING)
    outcome = services.attestations_generate(run_id=pr.pk)
    pr.refresh_from_db()
    assert pr.compute_status == ComputeStatus.SIGNED
    assert pr.compute_reason.startswith("the raw record was pruned on ")
    assert list(Attestation.objects.filter(run=pr).values_list("id", flat=True)) == before


# =============================================================================================
# The settings page, the settings API, the command line


def test_admins_set_retention_and_a_hold_on_the_settings_page(
    store, django_user_model: Any
) -> None:
    client = admin_client(django_user_model)
    url = "/namespaces/team-a/retention"
    response = client.post(url, {"retention_days": "60", "legal_hold": "on", "reason": ""})
    assert response.status_code == 400
    assert "setting or lifting a legal hold needs a reason" in response.content.decode()
    response = client.post(url, {"retention_days": "-1", "reason": "x"})
    assert response.status_code == 400
    response = client.post(
        url, {"retention_days": "60", "legal_hold": "on", "reason": "audit 2026"}
    )
    assert response.status_code == 302 and response["Location"].endswith("#retention")
    page = client.get("/namespaces/team-a/settings/").content.decode()
    assert "Legal hold" in page and "by user:counsel" in page and "audit 2026" in page
    assert "raw records kept 60 days" in page
    assert "Reason: audit 2026" in page  # in the history
    overview = client.get("/").content.decode()
    assert "⚖ Legal hold" in overview and "raw records kept 60 days" in overview
    # After pruning, the history says what went.
    client.post(url, {"retention_days": "60", "reason": "lifted"})
    prune()
    page = client.get("/namespaces/team-a/settings/").content.decode()
    assert "Pruned the raw records of 1 run(s) (3 records," in page
    assert "1 run of this namespace had its raw record pruned" in page
    # A viewer may not.
    user = django_user_model.objects.create_user("reader", password="pw")
    NamespaceGrant.objects.create(user=user, namespace="team-a", role=ApiToken.Role.VIEWER)
    viewer = Client()
    viewer.force_login(user)
    assert viewer.post(url, {"retention_days": "1"}).status_code == 403


def test_the_settings_api_reads_and_writes_retention_and_the_hold() -> None:
    admin = caller_with_token(token(role="admin"))
    url = "/api/v1/namespaces/team-a/settings"
    bad = [
        ({"legal_hold": True}, "setting or lifting a legal hold needs a reason"),
        ({"retention_days": "30"}, "retention_days"),
        ({"retention_days": -1}, "retention_days"),
        ({"retention_days": 36501}, "retention_days"),
        ({"legal_hold": "yes", "reason": "x"}, "legal_hold"),
        ({"reason": 5}, "reason"),
        ({"kept": 5}, "unknown field(s): kept"),
    ]
    for body, message in bad:
        response = admin.send("PATCH", url, body)
        assert response.status_code == 400 and message in response.json()["error"], body
    assert not SettingsAudit.objects.exists()  # nothing half-written
    body = admin.send(
        "PATCH", url, {"retention_days": 30, "legal_hold": True, "reason": "LH-1"}
    ).json()
    assert (body["retention_days"], body["legal_hold"]) == (30, True)
    assert body["format"] == "slsa/v2alpha4"  # the rest unchanged
    (entry,) = SettingsAudit.objects.all()
    assert entry.reason == "LH-1" and entry.actor.startswith("token:")
    assert admin.send("PATCH", url, {"retention_days": 0}).json()["retention_days"] is None
    viewer = caller_with_token(token(role="viewer"))
    assert viewer.get(url).json()["legal_hold"] is True
    assert viewer.send("PATCH", url, {"retention_days": 1}).status_code == 403


def test_namespace_retention_command_shows_and_changes_with_a_reason() -> None:
    def run(*args: str) -> str:
        out = StringIO()
        call_command("namespace_retention", *args, stdout=out)
        return out.getvalue().strip()

    assert run("team-a") == "team-a: raw records kept for ever; legal hold off"
    assert run("team-a", "--days", "45") == "team-a: raw records kept 45 days; legal hold off"
    with pytest.raises(CommandError, match="needs a reason") as error:
        run("team-a", "--hold")
    assert error.value.returncode == 2
    out = run("team-a", "--hold", "--reason", "LH-9", "--actor", "ops:alice")
    assert out == "team-a: raw records kept 45 days; legal hold on"
    entry = SettingsAudit.objects.order_by("-id").first()
    assert entry is not None and (entry.actor, entry.reason) == ("ops:alice", "LH-9")
    assert run("team-a", "--keep-forever") == "team-a: raw records kept for ever; legal hold on"
    for args, message in (
        (("Team_A",), "is not a Kubernetes namespace name"),
        (("team-a", "--days", "abc"), "whole number of days"),
        (("team-a", "--days", "-3"), "retention_days must be 1 to 36500 days"),
    ):
        with pytest.raises(CommandError, match=message) as error:
            run(*args)
        assert error.value.returncode == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--older-than", "abc"), "--older-than must be a whole number of days"),
        (("--older-than", "0"), "--older-than must be a whole number of days"),
        (("--older-than", "-5"), "--older-than must be a whole number of days"),
        (("--namespace", "Team_A"), "'Team_A' is not a Kubernetes namespace name"),
        (("--namespace", "no-such-ns"), "no such namespace 'no-such-ns'"),
    ],
)
def test_prune_records_refuses_bad_input(store, args: tuple[str, ...], message: str) -> None:
    before = snapshot()
    with pytest.raises(CommandError, match=message) as error:
        prune(*args)
    assert error.value.returncode == 2
    assert "\n" not in str(error.value)
    assert snapshot() == before


def test_prune_records_bad_input_on_the_command_line_is_one_line_and_exit_2() -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "prune_records", "--older-than", "soon"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "CommandError: --older-than must be a whole number of days from 1 to 36500, got 'soon'"
    ]


def test_a_bad_retention_default_stops_the_process_at_start_up() -> None:
    for value in ("thirty", "-1", "99999"):
        result = subprocess.run(
            [sys.executable, "manage.py", "check"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "PROVENANCE_RETENTION_DAYS": value},
        )
        assert result.returncode != 0
        assert "PROVENANCE_RETENTION_DAYS: retention_days must be" in result.stderr, value


# =============================================================================================
# Metrics


def test_metrics_count_pruned_runs_and_bytes(store) -> None:
    size = raw_size(store["old"])
    prune()
    body = Client().get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()
    assert "chainsweb_pruned_runs_total 1.0" in body
    assert f"chainsweb_pruned_bytes_total {float(size)}" in body
