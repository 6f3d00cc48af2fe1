"""Scenario 4: three concurrent copies of the same record, then a late stale copy.

Three threads POST at the same instant (a barrier), each with its own client and database
connection, while a real worker signs. The result must be one stored record per uid at the
newest resourceVersion and one attestation: never a second row, a deadlock, a 5xx, or a second
signature of the same thing.
"""

from __future__ import annotations

import copy
import threading
from typing import Any

import pytest
from django.db import connections

from provenance.models import Attestation, ComputeStatus, RunRecord

from .conftest import (
    Ingest,
    RedisServer,
    ReliabilityWorker,
    as_list,
    assert_every_record_accounted_for,
    pipeline_records,
    standalone_taskrun,
    uids,
    wait_for,
)

pytestmark = pytest.mark.django_db(transaction=True)
COPIES = 3


def _post_at_once(ingest: Ingest, bodies: list[bytes]) -> list[Any]:
    """POST every body from its own thread, released together; returns (status, json) each."""
    barrier = threading.Barrier(len(bodies))
    results: list[Any] = [None] * len(bodies)

    def send(index: int) -> None:
        client = ingest.make_client()
        try:
            barrier.wait(timeout=30)
            response = ingest.post(bodies[index], client=client)
            results[index] = (response.status_code, response.json())
        except Exception as exc:  # shown by the assertion below
            results[index] = (None, repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send, args=(i,), daemon=True) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert all(not t.is_alive() for t in threads), "an ingest hung"
    return results


def _stale(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same objects at an older resourceVersion, with other content (another image)."""
    old = copy.deepcopy(docs)
    for doc in old:
        doc["metadata"]["resourceVersion"] = str(int(doc["metadata"]["resourceVersion"]) - 60)
        for result in doc["status"].get("results", []):
            if result["name"] == "IMAGE_DIGEST":
                result["value"] = "sha256:" + "0" * 64
    return old


BODIES = {
    "standalone-taskrun": lambda: [standalone_taskrun("same", rv=500)],
    "pipeline-as-one-list": lambda: pipeline_records("same", tasks=3, rv=500),
}


@pytest.mark.parametrize("shape", list(BODIES))
def test_three_identical_copies_at_once_then_a_stale_one_store_once_and_sign_once(
    worker: ReliabilityWorker, broker: RedisServer, ingest: Ingest, shape: str
) -> None:
    docs = BODIES[shape]()
    body = as_list(docs)
    results = _post_at_once(ingest, [body] * COPIES)
    assert [status for status, _ in results] == [202] * COPIES, results
    outcomes = sorted(r["outcome"] for _, data in results for r in data["records"])
    # Each uid is created by exactly one of the copies; the others see it unchanged.
    assert outcomes.count("created") == len(docs)
    assert outcomes.count("unchanged") == len(docs) * (COPIES - 1)

    top = docs[0]["metadata"]["uid"]
    wait_for(
        lambda: RunRecord.objects.get(uid=top).compute_status == ComputeStatus.SIGNED,
        "the run to be signed",
    )
    stale = ingest.accepted(as_list(_stale(docs)))
    assert {r["outcome"] for r in stale["records"]} == {"unchanged"}
    # Every compute the copies queued has run (the queue and the unacked set are empty).
    wait_for(lambda: broker.queued() == 0 and broker.unacked() == 0, "the queue to drain")
    assert RunRecord.objects.count() == len(docs)
    for doc in docs:
        stored = RunRecord.objects.get(uid=doc["metadata"]["uid"])
        assert stored.resource_version == doc["metadata"]["resourceVersion"]
        assert stored.document == doc
    assert Attestation.objects.count() == 1
    assert "0" * 64 not in bytes(Attestation.objects.get().statement).decode()
    assert_every_record_accounted_for(expected_uids=uids(docs))


def test_three_versions_at_once_then_a_stale_one_keep_the_newest_and_sign_it(
    worker: ReliabilityWorker, broker: RedisServer, ingest: Ingest
) -> None:
    """Copies of one TaskRun at resourceVersions 501, 502 and 503, each naming another image,
    arrive together; 440 comes last. Whatever order the copies are stored in, 503 is what stays,
    and the current attestation names 503's image. An earlier version may have been signed in
    between; then its attestation is superseded, never left current beside the newest one."""
    base = standalone_taskrun("versions", rv=500)
    versions = []
    for n in (1, 2, 3):
        doc = copy.deepcopy(base)
        doc["metadata"]["resourceVersion"] = str(500 + n)
        doc["status"]["results"][1]["value"] = f"sha256:{str(n) * 64}"
        versions.append(doc)
    results = _post_at_once(ingest, [as_list([doc]) for doc in versions])
    assert [status for status, _ in results] == [202] * COPIES, results
    newest = versions[-1]
    uid = base["metadata"]["uid"]

    def signed_newest() -> bool:
        record = RunRecord.objects.get(uid=uid)
        current = Attestation.objects.filter(run=record, superseded_by__isnull=True).first()
        return (
            record.compute_status == ComputeStatus.SIGNED
            and current is not None
            and "3" * 64 in bytes(current.statement).decode()
        )

    wait_for(signed_newest, "the newest version to be signed")
    wait_for(lambda: broker.queued() == 0 and broker.unacked() == 0, "the queue to drain")
    ingest.accepted(as_list(_stale([newest])))
    stored = RunRecord.objects.get(uid=uid)
    assert stored.resource_version == "503" and stored.document == newest
    assert RunRecord.objects.count() == 1
    assert Attestation.objects.filter(superseded_by__isnull=True).count() == 1
    assert Attestation.objects.count() <= COPIES
    for attestation in Attestation.objects.all():
        assert "0" * 64 not in bytes(attestation.statement).decode()  # the stale copy
    assert_every_record_accounted_for(expected_uids={uid})
