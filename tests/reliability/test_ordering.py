"""Scenario 5: children before parents, a missing child, and a child in flight while its
parent arrives.

Eager mode (tasks run in-process at commit, as in the embedded deployment): the compute after
each POST has finished when the POST returns, so each intermediate state is checked exactly.
"""

from __future__ import annotations

import contextlib
import random
import threading
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from django.db import connections
from django.test import Client

from provenance.models import Attestation, ComputeStatus, RunRecord
from tests.factories import NamespaceSettingsFactory

from .conftest import (
    Ingest,
    _db_url,
    as_list,
    assert_every_record_accounted_for,
    compute_status,
    pipeline_records,
    uids,
    wait_for,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("eager")]


@pytest.fixture(autouse=True)
def _keys(settings: Any, tmp_path: Any) -> None:
    settings.KEYS_DIR = tmp_path / "keys"


def test_children_before_their_parent_wait_then_sign_exactly_once(ingest: Ingest) -> None:
    pr, *children = pipeline_records("kids-first", tasks=3)
    for child in reversed(children):
        ingest.accepted(as_list([child]))
        status, reason = compute_status(child["metadata"]["uid"])
        assert status == ComputeStatus.WAITING
        assert "'kids-first'" in reason  # names the PipelineRun it waits for
    assert not Attestation.objects.exists()
    assert_every_record_accounted_for(expected_uids=uids(children))

    ingest.accepted(as_list([pr]))
    assert compute_status(pr["metadata"]["uid"])[0] == ComputeStatus.SIGNED
    assert {r.compute_status for r in RunRecord.objects.filter(kind="TaskRun")} == {"child"}
    assert Attestation.objects.count() == 1

    # Every copy again, in another order: nothing new is signed.
    replay = [pr, *children]
    random.Random(5).shuffle(replay)
    for doc in replay:
        outcome = ingest.accepted(as_list([doc]))["records"][0]["outcome"]
        assert outcome == "unchanged"
    assert Attestation.objects.count() == 1
    assert_every_record_accounted_for(expected_uids=uids([pr, *children]))


POLICIES = [
    ("per-run", "on-completion"),
    ("per-artifact", "on-completion"),
    ("per-artifact", "on-artifact"),
]


@pytest.mark.parametrize(("scope", "emit"), POLICIES, ids=["-".join(p) for p in POLICIES])
def test_missing_child_keeps_the_run_waiting_naming_it_and_nothing_is_signed_early(
    ingest: Ingest, scope: str, emit: str
) -> None:
    # Deep inspection: each TaskRun's image is a subject (this pipeline has no results).
    NamespaceSettingsFactory(namespace="team-a", scope=scope, emit=emit, deep_inspection=True)
    pr, first, missing, last = pipeline_records("gap", tasks=3)
    missing_name = missing["metadata"]["name"]
    for doc in (last, pr, first):  # a child, the parent, another child; one never comes
        ingest.accepted(as_list([doc]))
    status, reason = compute_status(pr["metadata"]["uid"])
    assert status == ComputeStatus.WAITING
    assert missing_name in reason and first["metadata"]["name"] not in reason
    # The run has finished, and on-artifact may sign a complete artifact early, yet nothing is
    # signed: the service never plans from a partial set of TaskRuns (docs/backend.md).
    assert not Attestation.objects.exists()
    assert_every_record_accounted_for(expected_uids=uids([pr, first, last]))

    ingest.accepted(as_list([missing]))  # late, but it comes
    assert compute_status(pr["metadata"]["uid"])[0] == ComputeStatus.SIGNED
    signed = Attestation.objects.count()
    assert signed == (1 if scope == "per-run" else 3)  # one per image under per-artifact
    ingest.accepted(as_list([pr, first, missing, last]))  # a full replay changes nothing
    assert Attestation.objects.count() == signed
    assert_every_record_accounted_for(expected_uids=uids([pr, first, missing, last]))


def test_on_artifact_signs_a_complete_scope_early_and_supersedes_it_once(
    ingest: Ingest,
) -> None:
    """The one sanctioned early signature: per-artifact + on-artifact, for an artifact whose
    producing TaskRun (and everything upstream) finished while the run is still going."""
    NamespaceSettingsFactory(
        namespace="team-a", scope="per-artifact", emit="on-artifact", deep_inspection=True
    )
    running = pipeline_records("early", status="Unknown", task_statuses=["True", "Unknown", None])
    pr, done, busy = running
    ingest.accepted(as_list([done, busy, pr]))
    early = list(Attestation.objects.all())
    assert len(early) == 1, [a.subject_key for a in early]  # only t0's image
    assert done["status"]["results"][1]["value"].removeprefix("sha256:") in early[0].subject_key
    # Signed so far: the running TaskRun's image is not a subject yet (it has not succeeded).
    assert compute_status(pr["metadata"]["uid"])[0] == ComputeStatus.SIGNED
    assert_every_record_accounted_for()

    finished = pipeline_records("early", tasks=3)  # the same run, done: t2 ran too
    for new, old in zip(finished, running, strict=False):  # PR, t0 and t1 keep their uids
        new["metadata"]["uid"] = old["metadata"]["uid"]
    for doc in finished:
        doc["metadata"]["resourceVersion"] = str(int(doc["metadata"]["resourceVersion"]) + 10)
        for ref in doc["metadata"].get("ownerReferences", []):
            ref["uid"] = pr["metadata"]["uid"]
    ingest.accepted(as_list(finished))
    assert compute_status(pr["metadata"]["uid"])[0] == ComputeStatus.SIGNED
    current = Attestation.objects.filter(superseded_by__isnull=True)
    assert current.count() == 3
    # The early statement recorded a running pipeline: it is superseded exactly once.
    assert Attestation.objects.filter(superseded_by__isnull=False).count() == 1
    assert_every_record_accounted_for()


# ---------------------------------------------------------------------------------------------
# A TaskRun whose ingest is still in its transaction when its PipelineRun is stored and computed.

PAUSE_LOCK = 7_411_901


@contextlib.contextmanager
def paused_when_waiting(child_name: str) -> Iterator[psycopg.Connection[Any]]:
    """Hold the transaction that marks TaskRun ``child_name`` as waiting for its PipelineRun,
    right after it decided that the PipelineRun is not stored, until the lock is released.

    A test-only trigger; the test DB outlives the test, so it is always dropped again.
    """
    db = psycopg.connect(_db_url().replace("postgres://", "postgresql://"), autocommit=True)
    db.execute(
        "CREATE FUNCTION reliability_pause() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"IF NEW.name = '{child_name}' AND NEW.compute_status = 'waiting' THEN "
        f"PERFORM pg_advisory_xact_lock_shared({PAUSE_LOCK}); END IF; RETURN NEW; END $$"
    )
    db.execute(
        "CREATE TRIGGER reliability_pause BEFORE UPDATE ON provenance_runrecord "
        "FOR EACH ROW EXECUTE FUNCTION reliability_pause()"
    )
    db.execute("SELECT pg_advisory_lock(%s)", [PAUSE_LOCK])
    try:
        yield db
    finally:
        db.execute("SELECT pg_advisory_unlock_all()")
        db.execute("DROP TRIGGER IF EXISTS reliability_pause ON provenance_runrecord")
        db.execute("DROP FUNCTION IF EXISTS reliability_pause()")
        db.close()


def _post_in_thread(ingest: Ingest, body: bytes, results: dict[str, Any], key: str) -> Any:
    def run() -> None:
        try:
            results[key] = ingest.post(body, client=Client()).status_code
        except Exception as exc:  # reported by the assertion on results
            results[key] = repr(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_child_in_flight_while_its_parent_arrives_is_not_stranded(ingest: Ingest) -> None:
    pr, child = pipeline_records("race", tasks=1)
    results: dict[str, Any] = {}
    with paused_when_waiting(child["metadata"]["name"]) as db:
        child_thread = _post_in_thread(ingest, as_list([child]), results, "child")
        wait_for(
            lambda: db.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                "AND objid = %s",
                [PAUSE_LOCK],
            ).fetchone()[0],  # type: ignore[index]
            "the child's ingest to pause inside its transaction",
            timeout=30,
        )
        parent_thread = _post_in_thread(ingest, as_list([pr]), results, "parent")
        # Today the parent's ingest and compute finish while the child is in flight; with a
        # lock ordering the two, it waits for the child's commit instead (both are fine here).
        parent_thread.join(timeout=5)
        db.execute("SELECT pg_advisory_unlock(%s)", [PAUSE_LOCK])
        child_thread.join(timeout=30)
        parent_thread.join(timeout=30)
    assert results == {"child": 202, "parent": 202}
    assert compute_status(pr["metadata"]["uid"])[0] == ComputeStatus.SIGNED, compute_status(
        pr["metadata"]["uid"]
    )
    assert compute_status(child["metadata"]["uid"])[0] == ComputeStatus.CHILD
    assert Attestation.objects.count() == 1
    assert_every_record_accounted_for(expected_uids=uids([pr, child]))
