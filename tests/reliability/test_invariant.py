"""The invariant checker itself: it must see each way a record can be lost or duplicated."""

from __future__ import annotations

from typing import Any

import pytest

from provenance.models import Artifact, Attestation, ComputeStatus, RunRecord

from .conftest import (
    Ingest,
    account_for_records,
    as_list,
    assert_every_record_accounted_for,
    pipeline_records,
    uids,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("eager")]


@pytest.fixture
def signed(ingest: Ingest, settings: Any, tmp_path: Any) -> list[dict[str, Any]]:
    settings.KEYS_DIR = tmp_path / "keys"
    docs = pipeline_records("checked", tasks=2)
    ingest.accepted(as_list(docs))
    assert_every_record_accounted_for(expected_uids=uids(docs))
    return docs


def _problems(**options: Any) -> str:
    return "\n".join(account_for_records(**options).problems)


def test_it_sees_lost_and_unexpected_records(signed: list[dict[str, Any]]) -> None:
    problems = _problems(expected_uids=uids(signed[1:]) | {"never-stored"})
    assert "lost: accepted record never-stored" in problems
    assert f"unexpected: record {signed[0]['metadata']['uid']}" in problems


def test_it_sees_pending_and_reasonless_states(signed: list[dict[str, Any]]) -> None:
    pr_uid = signed[0]["metadata"]["uid"]
    RunRecord.objects.filter(uid=pr_uid).update(compute_status=ComputeStatus.PENDING)
    assert "still pending" in _problems()
    assert _problems(allow_pending=True) == ""
    RunRecord.objects.filter(uid=pr_uid).update(compute_status=ComputeStatus.FAILED)
    assert "without a reason" in _problems()


def test_it_sees_untrue_waits(signed: list[dict[str, Any]]) -> None:
    pr, child, _ = signed
    RunRecord.objects.filter(uid=pr["metadata"]["uid"]).update(
        compute_status=ComputeStatus.WAITING,
        compute_reason=f"waiting for TaskRuns: {child['metadata']['name']}",
    )
    RunRecord.objects.filter(uid=child["metadata"]["uid"]).update(
        compute_status=ComputeStatus.WAITING,
        compute_reason="waiting for its PipelineRun 'checked' to be received",
    )
    assert _problems().count("this wait never ends") == 2


def test_it_sees_partial_and_duplicate_rows(signed: list[dict[str, Any]]) -> None:
    Artifact.objects.create(uri="registry.example/orphan", algorithm="sha256", hex="ab" * 32)
    assert "linked to no attestation" in _problems()
    Artifact.objects.filter(uri="registry.example/orphan").delete()
    original = Attestation.objects.get()
    copy = Attestation.objects.get(pk=original.pk)
    copy.pk = None
    copy.envelope_sha256 = "0" * 64
    copy.inputs_digest = "1" * 64
    copy.save()  # inserts are allowed; only updates and deletes are refused by the triggers
    problems = _problems()
    assert "no chain entry" in problems
    assert "2 current attestations" in problems
    assert "the same statement signed 2 times" in problems
    assert "envelope does not match its sha256" in problems
