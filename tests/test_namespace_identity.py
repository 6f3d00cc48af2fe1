"""Issue 11, finding 1: a run is its namespace and uid.

A team-b ingester used to take over a team-a run by posting a record with team-a's uid (printed
in every SLSA v1.0 statement as ``invocationId``): the row moved to team-b, team-a's attestation
was superseded by a team-b one and team-a's gate flipped to denied. A team-b TaskRun naming a
team-a PipelineRun (by ownerReference uid or by label) joined team-a's run. Here every such
record is refused (409, nothing stored) or left unlinked, through the API, import and watch.
"""

from __future__ import annotations

import copy
import logging
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from provenance.models import Attestation, ComputeStatus, RunRecord
from tests.apidata import (
    caller_with_token,
    hex_for,
    record,
    tamper,
    token,
    with_digest,
)
from tests.factories import as_list, bump, pipeline_docs, taskrun_doc
from tests.test_watch_records import cluster, event, run_watcher, wait_for

pytestmark = pytest.mark.django_db

__all__ = ["cluster", "run_watcher"]  # the watcher tests' local API server and watcher

RECORDS = "/api/v1/records"


@pytest.fixture(autouse=True)
def _keys(settings, tmp_path):
    settings.KEYS_DIR = tmp_path / "keys"


class Team:
    """A team's ingester and viewer tokens, posting with compute run as the worker would."""

    def __init__(self, namespace: str, capture: Any) -> None:
        self.namespace = namespace
        self.ingester = caller_with_token(token(role="ingester", namespaces=(namespace,)))
        self.viewer = caller_with_token(token(role="viewer", namespaces=(namespace,)))
        self.capture = capture

    def post(self, docs: list[dict[str, Any]]) -> Any:
        with self.capture(execute=True):
            return self.ingester.post(RECORDS, as_list(docs))

    def gate(self, digest: str) -> dict[str, Any]:
        body: dict[str, Any] = self.viewer.get("/api/v1/gate", digest=digest).json()
        return body


@pytest.fixture
def teams(django_capture_on_commit_callbacks) -> tuple[Team, Team]:
    return (
        Team("team-a", django_capture_on_commit_callbacks),
        Team("team-b", django_capture_on_commit_callbacks),
    )


def signed_team_a_pipeline(team_a: Team) -> tuple[list[dict[str, Any]], str]:
    """team-a's genuine PipelineRun with its two TaskRuns, posted and signed."""
    hex_value = hex_for("team-a genuine")
    docs = with_digest(pipeline_docs(namespace="team-a", name="build-1"), hex_value)
    assert team_a.post(docs).status_code == 202
    assert record(docs[0]["metadata"]["uid"]).compute_status == ComputeStatus.SIGNED
    return docs, f"sha256:{hex_value}"


def stolen(doc: dict[str, Any], *, name: str = "hijack", rv: int = 9000) -> dict[str, Any]:
    """team-b's copy of a team-a object: team-b namespace, another name, a newer version."""
    copied = bump(copy.deepcopy(doc), rv)
    copied["metadata"]["namespace"] = "team-b"
    copied["metadata"]["name"] = name
    return copied


def snapshot() -> dict[str, Any]:
    """Everything a takeover would change."""
    return {
        "runs": sorted(
            RunRecord.objects.values_list(
                "uid", "namespace", "name", "raw_sha256", "parent_uid", "compute_status"
            )
        ),
        "attestations": sorted(
            Attestation.objects.values_list("id", "namespace", "run_id", "superseded_by_id")
        ),
    }


def assert_refused_naming_nothing_of_team_a(response: Any, uid: str) -> None:
    assert response.status_code == 409, response.content
    message = response.json()["error"]
    assert uid in message and "another namespace" in message
    for secret in ("team-a", "build-1", "git-clone", "build-1-build"):
        assert secret not in message, message


@pytest.mark.parametrize("which", ["PipelineRun", "TaskRun"])
def test_a_uid_of_another_namespace_is_refused_and_nothing_changes(teams, which) -> None:
    team_a, team_b = teams
    docs, digest = signed_team_a_pipeline(team_a)
    assert team_a.gate(digest)["allowed"] is True
    target = docs[0] if which == "PipelineRun" else docs[2]
    before = snapshot()
    # One good new record and the stolen one: the whole request is refused.
    innocent = taskrun_doc(namespace="team-b", name="innocent")
    response = team_b.post([innocent, stolen(target)])
    assert_refused_naming_nothing_of_team_a(response, target["metadata"]["uid"])
    assert snapshot() == before
    assert not RunRecord.objects.filter(namespace="team-b").exists()
    assert team_a.gate(digest)["allowed"] is True
    # team-a's genuine record is still its own.
    again = team_a.post([bump(target, 9001)])
    assert again.status_code == 202
    assert again.json()["records"][0]["outcome"] == "updated"
    assert record(target["metadata"]["uid"]).namespace == "team-a"


def test_the_same_uid_in_two_namespaces_of_one_request_is_refused(client) -> None:
    both = caller_with_token(token(role="ingester", namespaces=("team-a", "team-b")))
    doc = taskrun_doc(namespace="team-a", name="one")
    twin = stolen(doc, name="two")
    response = both.post(RECORDS, as_list([doc, twin]))
    assert response.status_code == 409, response.content
    assert not RunRecord.objects.exists()


def test_an_owner_reference_to_another_namespace_links_nothing(teams) -> None:
    team_a, team_b = teams
    docs, digest = signed_team_a_pipeline(team_a)
    pr_uid = docs[0]["metadata"]["uid"]
    current = set(Attestation.objects.filter(superseded_by__isnull=True).values_list("id"))
    intruder = taskrun_doc(namespace="team-b", name="intruder")
    intruder["metadata"]["ownerReferences"] = [
        {"apiVersion": "tekton.dev/v1", "kind": "PipelineRun", "name": "build-1", "uid": pr_uid}
    ]
    intruder["metadata"]["labels"]["tekton.dev/pipelineRun"] = "build-1"
    assert team_b.post([intruder]).status_code == 202
    stored = record(intruder["metadata"]["uid"])
    assert stored.namespace == "team-b"
    assert stored.compute_status == ComputeStatus.WAITING
    # team-a's run: same children, same current attestation, same gate answer.
    detail = team_a.viewer.get(f"{RECORDS}/{pr_uid}").json()
    assert {c["name"] for c in detail["children"]} == {d["metadata"]["name"] for d in docs[1:]}
    assert set(Attestation.objects.filter(superseded_by__isnull=True).values_list("id")) == (
        current
    )
    assert team_a.gate(digest)["allowed"] is True
    # team-a re-sending its run does not adopt the intruder either.
    assert team_a.post([bump(docs[0], 9100)]).status_code == 202
    assert record(intruder["metadata"]["uid"]).compute_status == ComputeStatus.WAITING
    assert not Attestation.objects.filter(namespace="team-b").exists()


def test_a_label_naming_a_pipelinerun_of_another_namespace_links_nothing(teams) -> None:
    team_a, team_b = teams
    # The intruder arrives first, naming build-1 only by label; then team-a's run.
    intruder = taskrun_doc(namespace="team-b", name="intruder")
    intruder["metadata"]["labels"]["tekton.dev/pipelineRun"] = "build-1"
    assert team_b.post([intruder]).status_code == 202
    docs, digest = signed_team_a_pipeline(team_a)
    detail = team_a.viewer.get(f"{RECORDS}/{docs[0]['metadata']['uid']}").json()
    assert "intruder" not in {c["name"] for c in detail["children"]}
    stored = record(intruder["metadata"]["uid"])
    assert (stored.parent_uid, stored.compute_status) == ("", ComputeStatus.WAITING)
    assert team_a.gate(digest)["allowed"] is True
    # A PipelineRun of that name in team-b is its parent.
    own_pr = pipeline_docs(namespace="team-b", name="build-1")[0]
    assert team_b.post([own_pr]).status_code == 202
    assert record(intruder["metadata"]["uid"]).parent_uid == own_pr["metadata"]["uid"]


def test_a_record_lists_only_attestations_of_its_namespace(teams) -> None:
    team_a, _ = teams
    docs, _ = signed_team_a_pipeline(team_a)
    pr = record(docs[0]["metadata"]["uid"])
    # A row pointing at team-a's run from another namespace (written behind the app's back).
    tamper("UPDATE provenance_attestation SET namespace = 'team-b' WHERE run_id = %s", [pr.pk])
    detail = team_a.viewer.get(f"{RECORDS}/{pr.uid}").json()
    assert detail["attestations"] == []
    staff = caller_with_token(token(role="admin", namespaces=()))
    assert staff.get(f"{RECORDS}/{pr.uid}").json()["attestations"] == []


def test_import_reports_a_uid_of_another_namespace_and_imports_the_rest(
    tmp_path: Path, capsys
) -> None:
    genuine = taskrun_doc(namespace="team-a", name="genuine")
    (tmp_path / "1-genuine.json").write_bytes(orjson.dumps(genuine))
    (tmp_path / "2-stolen.json").write_bytes(orjson.dumps(stolen(genuine)))
    other = taskrun_doc(namespace="team-b", name="other")
    (tmp_path / "3-other.json").write_bytes(orjson.dumps(other))
    with pytest.raises(CommandError, match="1 of 3 files were rejected") as raised:
        call_command("import_records", str(tmp_path), "--no-progress")
    assert raised.value.returncode == 2
    out = capsys.readouterr().out
    assert f"2-stolen.json: TaskRun 'hijack': uid {genuine['metadata']['uid']}" in out
    assert "team-a" not in out.split("rejected 1 files:")[1]
    assert record(genuine["metadata"]["uid"]).namespace == "team-a"
    assert record(other["metadata"]["uid"]).namespace == "team-b"


@pytest.mark.django_db(transaction=True)
def test_the_watcher_logs_a_refused_object_and_carries_on(cluster, run_watcher, caplog) -> None:
    fake, _ = cluster
    genuine = pipeline_docs(namespace="team-a", name="build-1")
    fake.items["pipelineruns"] = [genuine[0]]
    watcher = run_watcher()
    wait_for(lambda: RunRecord.objects.filter(namespace="team-a").exists(), "team-a's run")
    caplog.set_level(logging.INFO, logger="provenance.watch")
    later = pipeline_docs(namespace="team-b", name="later")
    fake.watch_batches["pipelineruns"] = [
        [event("ADDED", stolen(genuine[0])), event("ADDED", later[0])]
    ]
    wait_for(lambda: RunRecord.objects.filter(namespace="team-b").exists(), "the next object")
    assert record(genuine[0]["metadata"]["uid"]).namespace == "team-a"
    refused = [r for r in caplog.records if "refused" in r.getMessage()]
    assert len(refused) == 1 and refused[0].levelno == logging.WARNING
    assert "team-b/hijack" in refused[0].getMessage()
    assert "team-a" not in refused[0].getMessage()
    assert all(t.is_alive() for t in watcher.threads)


def test_a_new_uid_is_stored_in_its_namespace(teams) -> None:
    """The check leaves ordinary ingest alone: a fresh uid in team-b is created."""
    _, team_b = teams
    doc = taskrun_doc(namespace="team-b", name=f"fresh-{uuid.uuid4().hex[:6]}")
    response = team_b.post([doc])
    assert response.status_code == 202
    assert response.json()["records"][0]["outcome"] == "created"
