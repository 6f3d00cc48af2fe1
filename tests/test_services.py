"""Ingest and compute services on real Postgres (tasks run in-process, eagerly)."""

from __future__ import annotations

import re
from typing import Any

import orjson
import pytest

from bench.engine import synthetic_input
from provenance import services
from provenance.core import load_documents, parse_records
from provenance.core.errors import RecordError
from provenance.core.intoto import statement_bytes
from provenance.core.plan import plan_statements
from provenance.core.slsa.config import SlsaConfig
from provenance.models import (
    Artifact,
    Attestation,
    ChainEntry,
    ComputeStatus,
    RunRecord,
    SettingsAudit,
    SigningKey,
)
from provenance.reads.attestations import attestations_naming
from provenance.reads.gate import gate_evaluate
from tests.core.test_dsse import sslib_verify
from tests.factories import TEST_SOURCE, as_list, bump, pipeline_docs, taskrun_doc

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _keys(settings, tmp_path):
    settings.KEYS_DIR = tmp_path / "keys"


@pytest.fixture
def ingest(django_capture_on_commit_callbacks):
    def run(docs: list[dict[str, Any]], allowed: set[str] | None = None):
        with django_capture_on_commit_callbacks(execute=True):
            return services.records_ingest(
                data=as_list(docs), namespaces_allowed=allowed, source=TEST_SOURCE
            )

    return run


def expected_statement(docs: list[dict[str, Any]], fmt: str = "slsa/v2alpha4") -> bytes:
    """What the engine alone makes of the same records: the oracle for the stored bytes."""
    run = parse_records(load_documents(as_list(docs)))[0]
    plan = plan_statements(run, SlsaConfig(format=fmt))
    return statement_bytes(plan.statements[0].statement)


def current(run_uid: str) -> list[Attestation]:
    return list(
        Attestation.objects.filter(run__uid=run_uid, superseded_by__isnull=True).order_by("id")
    )


def test_pipeline_run_and_children_give_one_verified_attestation(ingest) -> None:
    docs = pipeline_docs()
    result = ingest(docs)
    assert [r.outcome for r in result.records] == ["created"] * 3
    pr = RunRecord.objects.get(uid=docs[0]["metadata"]["uid"])
    assert pr.compute_status == ComputeStatus.SIGNED
    assert set(RunRecord.objects.exclude(pk=pr.pk).values_list("compute_status", flat=True)) == {
        ComputeStatus.CHILD
    }
    (attestation,) = current(pr.uid)
    assert bytes(attestation.statement) == expected_statement(docs)
    key = SigningKey.objects.get(key_id=attestation.key_id)
    assert sslib_verify(bytes(attestation.envelope), key.public_key_pem, key.key_id) == bytes(
        attestation.statement
    )
    assert attestation.run_status == "True"
    assert attestation.subjects.exists()
    assert ChainEntry.objects.get().attestation == attestation


@pytest.mark.parametrize(
    "order", [(0, 1, 2), (1, 2, 0), (2, 0, 1), (1, 0, 2)], ids=lambda o: "-".join(map(str, o))
)
def test_any_delivery_order_converges_to_the_same_single_attestation(ingest, order) -> None:
    docs = pipeline_docs()
    for index in order:
        ingest([docs[index]])
        ingest([docs[index]])  # duplicates change nothing
    attestations = list(Attestation.objects.all())
    assert len(attestations) == 1, "no attestation is made from an incomplete set of TaskRuns"
    assert bytes(attestations[0].statement) == expected_statement(docs)


def test_pipeline_run_waits_for_the_task_runs_it_references(ingest) -> None:
    docs = pipeline_docs()
    ingest([docs[0], docs[1]])
    pr = RunRecord.objects.get(uid=docs[0]["metadata"]["uid"])
    assert pr.compute_status == ComputeStatus.WAITING
    assert docs[2]["metadata"]["name"] in pr.compute_reason
    assert not Attestation.objects.exists()


def test_task_run_before_its_pipeline_run_waits_visibly(ingest) -> None:
    docs = pipeline_docs()
    ingest([docs[1]])
    child = RunRecord.objects.get(uid=docs[1]["metadata"]["uid"])
    assert child.compute_status == ComputeStatus.WAITING
    assert "PipelineRun" in child.compute_reason


def test_child_linked_by_label_only_is_adopted_when_the_parent_arrives(ingest) -> None:
    docs = pipeline_docs()
    for child in docs[1:]:
        del child["metadata"]["ownerReferences"]
    ingest(docs[1:])
    ingest(docs[:1])
    pr_uid = docs[0]["metadata"]["uid"]
    assert RunRecord.objects.filter(parent_uid=pr_uid).count() == 2
    assert bytes(current(pr_uid)[0].statement) == expected_statement(docs)


def test_label_only_child_joins_the_newest_pipeline_run_of_that_name(ingest) -> None:
    """A PipelineRun deleted and re-created under the same name is a new uid: a TaskRun that
    names its parent only by label belongs to the newest one."""
    old, new = pipeline_docs(), pipeline_docs()
    ingest(old)
    ingest(new[:1])
    child = new[1]
    del child["metadata"]["ownerReferences"]
    ingest([child])
    assert (
        RunRecord.objects.get(uid=child["metadata"]["uid"]).parent_uid
        == (new[0]["metadata"]["uid"])
    )


def test_resource_version_rule() -> None:
    assert services.is_newer("10", "9", "a", "b")  # numeric, not string, comparison
    assert not services.is_newer("9", "10", "a", "b")
    assert not services.is_newer("10", "10", "a", "b")
    assert not services.is_newer("x", "x", "a", "b")
    assert services.is_newer("x", "y", "a", "b")  # opaque versions: different content wins
    assert not services.is_newer("x", "y", "a", "a")


def test_older_or_equal_resource_version_is_a_no_op(ingest) -> None:
    doc = taskrun_doc(rv=50)
    ingest([doc])
    assert ingest([bump(doc, 40)]).records[0].outcome == "unchanged"
    assert ingest([doc]).records[0].outcome == "unchanged"
    assert RunRecord.objects.get().resource_version == "50"
    assert ingest([bump(doc, 60)]).records[0].outcome == "updated"
    assert RunRecord.objects.get().resource_version == "60"
    assert Attestation.objects.count() == 1  # same statement: nothing new to sign


def test_duplicates_in_one_batch_apply_in_order(ingest) -> None:
    doc = taskrun_doc(rv=50)
    outcomes = [r.outcome for r in ingest([doc, bump(doc, 60), bump(doc, 55)]).records]
    assert outcomes == ["created", "updated", "unchanged"]
    assert RunRecord.objects.get().resource_version == "60"
    assert [r.outcome for r in ingest([doc, bump(doc, 70)]).records] == ["unchanged", "updated"]
    assert RunRecord.objects.get().resource_version == "70"


@pytest.mark.parametrize("tasks", [5, 200])
def test_ingest_query_count_does_not_grow_with_the_record(tasks, django_assert_max_num_queries):
    """One record is a handful of queries however many TaskRuns it holds (it was four per
    object), whether it is new or a newer version of what is stored."""
    data = synthetic_input(tasks, max(1, tasks // 5))
    with django_assert_max_num_queries(14):
        result = services.records_ingest(data=data, namespaces_allowed=None, source=TEST_SOURCE)
    assert result.count("created") == tasks + 1
    assert RunRecord.objects.filter(compute_status=ComputeStatus.CHILD).count() == tasks
    newer = data.replace(b'"resourceVersion":"', b'"resourceVersion":"9')
    with django_assert_max_num_queries(14 + tasks):  # one UPDATE per changed row
        result = services.records_ingest(data=newer, namespaces_allowed=None, source=TEST_SOURCE)
    assert result.count("updated") == tasks  # the PipelineRun has no resourceVersion to bump


def test_running_pipeline_is_signed_once_it_completes(ingest) -> None:
    docs = pipeline_docs(pr_status="Unknown")
    ingest(docs)
    pr = RunRecord.objects.get(uid=docs[0]["metadata"]["uid"])
    assert pr.compute_status == ComputeStatus.WAITING
    assert "not done" in pr.compute_reason
    done = pipeline_docs()[0]
    done["metadata"] = {**docs[0]["metadata"], "resourceVersion": "500"}
    ingest([done])
    (attestation,) = current(pr.uid)
    assert attestation.run_status == "True"


def test_a_bad_record_stores_nothing(ingest) -> None:
    good = taskrun_doc()
    bad = taskrun_doc(name="bad")
    del bad["metadata"]["uid"]
    with pytest.raises(RecordError, match="object 2 .*metadata.uid is missing"):
        ingest([good, bad])
    with pytest.raises(RecordError, match="not a Tekton TaskRun"):
        ingest([good, {"kind": "Pod", "metadata": {"name": "p"}}])
    assert not RunRecord.objects.exists()


def test_a_forbidden_namespace_stores_nothing(ingest) -> None:
    with pytest.raises(services.NamespaceForbidden, match="team-b"):
        ingest([taskrun_doc(), taskrun_doc(namespace="team-b")], allowed={"team-a"})
    assert not RunRecord.objects.exists()


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("name", ["x"], "metadata.name must be a string, not an array"),
        ("uid", True, "metadata.uid must be a string, not a boolean"),
        ("resourceVersion", 7, "metadata.resourceVersion must be a string, not a number"),
        ("name", "n" * 254, "metadata.name is too long"),
        ("namespace", "n" * 64, "metadata.namespace is too long"),
        ("namespace", "Team-A", "'Team-A' is not a Kubernetes namespace name"),
        ("namespace", "team-a-", "not a Kubernetes namespace name"),
    ],
)
def test_record_identity_must_be_a_kubernetes_one(ingest, field, value, error) -> None:
    doc = taskrun_doc()
    doc["metadata"][field] = value
    with pytest.raises(RecordError, match=re.escape(error)):
        ingest([doc])
    assert not RunRecord.objects.exists()


def test_longest_name_and_namespace_are_stored(ingest) -> None:
    ingest([taskrun_doc(namespace="n" * 63, name="r" * 253)])
    assert RunRecord.objects.get().namespace == "n" * 63


def test_digest_index_is_canonical_and_the_statement_is_not(ingest) -> None:
    """Two spellings of one subject digest (Chains keeps both, as written) are one Artifact
    row in the form digest search looks up; the signed statement keeps the engine's bytes."""
    hex_value = "6084e539f2d6e98c7843034953ca924755b529ebac428d500a25d8243fabab17"
    doc = taskrun_doc()
    doc["status"]["results"] += [
        {"name": "ARTIFACT_URI", "value": "pkg:generic/app@1.0"},
        {"name": "ARTIFACT_DIGEST", "value": "SHA256:" + hex_value},
        {
            "name": "ARTIFACT_OUTPUTS",
            "type": "object",
            "value": {"uri": "pkg:generic/app@1.0", "digest": "sha256 :" + hex_value},
        },
    ]
    services.namespace_settings_update(
        namespace="team-a", changes={"format": "slsa/v1"}, actor="test"
    )
    ingest([doc])
    (attestation,) = current(doc["metadata"]["uid"])
    assert bytes(attestation.statement) == expected_statement([doc], "slsa/v1")
    subjects = orjson.loads(bytes(attestation.statement))["subject"]
    app = [s["digest"] for s in subjects if s["name"] == "pkg:generic/app@1.0"]
    assert app == [{"SHA256": hex_value}, {"sha256 ": hex_value}]
    rows = Artifact.objects.filter(uri="pkg:generic/app@1.0")
    assert [(a.algorithm, a.hex) for a in rows] == [("sha256", hex_value)]
    assert set(attestation.subjects.all()) >= set(rows)
    found = attestations_naming(namespaces=None, digest="SHA256:" + hex_value)
    assert list(found) == [attestation]
    # The gate reads the signed statement, which names SHA256/"sha256 ", not sha256: no.
    decision = gate_evaluate(namespaces=None, digest="sha256:" + hex_value)
    assert not decision.allowed
    assert any("does not name sha256:" in reason for reason in decision.reasons), decision


def test_same_uid_with_another_kind_is_rejected(ingest) -> None:
    tr = taskrun_doc()
    ingest([tr])
    pr = pipeline_docs()[0]
    pr["metadata"]["uid"] = tr["metadata"]["uid"]
    with pytest.raises(RecordError, match="already stored as a TaskRun"):
        ingest([pr])


def test_settings_change_is_audited(ingest) -> None:
    services.namespace_settings_update(
        namespace="team-a", changes={"format": "slsa/v1"}, actor="alice"
    )
    audit = SettingsAudit.objects.get()
    assert audit.actor == "alice" and audit.new["format"] == "slsa/v1"
    assert audit.old == {}  # the namespace had never been configured


def test_settings_recompute_supersedes_and_back_again(ingest, django_capture_on_commit_callbacks):
    doc = taskrun_doc()
    ingest([doc])
    uid = doc["metadata"]["uid"]
    (first,) = current(uid)
    for fmt in ("slsa/v1", "slsa/v2alpha4"):
        with django_capture_on_commit_callbacks(execute=True):
            services.namespace_settings_update(
                namespace="team-a", changes={"format": fmt}, actor="alice"
            )
    attestations = list(Attestation.objects.filter(run__uid=uid).order_by("id"))
    assert len(attestations) == 3
    assert [a.format for a in attestations] == ["slsa/v2alpha4", "slsa/v1", "slsa/v2alpha4"]
    assert attestations[0].superseded_by == attestations[1]
    assert attestations[1].superseded_by == attestations[2]
    assert attestations[2].superseded_by is None
    assert bytes(attestations[2].statement) == bytes(first.statement)
    assert SettingsAudit.objects.count() == 2
    # A change that does not alter the statement signs nothing new.
    with django_capture_on_commit_callbacks(execute=True):
        services.namespace_settings_update(
            namespace="team-a", changes={"emit": "on-success"}, actor="bob"
        )
    assert Attestation.objects.count() == 3


def test_invalid_settings_are_rejected() -> None:
    from provenance.core.errors import FormatError

    with pytest.raises(FormatError, match="on-artifact needs per-artifact"):
        services.namespace_settings_update(
            namespace="team-a", changes={"emit": "on-artifact"}, actor="x"
        )
    with pytest.raises(FormatError, match="unknown format"):
        services.namespace_settings_update(
            namespace="team-a", changes={"format": "slsa/v9"}, actor="x"
        )


def test_compute_is_idempotent(ingest) -> None:
    docs = pipeline_docs()
    ingest(docs)
    pr = RunRecord.objects.get(uid=docs[0]["metadata"]["uid"])
    for _ in range(3):
        outcome = services.attestations_generate(run_id=pr.pk)
        assert outcome.created == ()
    assert Attestation.objects.count() == 1 and ChainEntry.objects.count() == 1


def test_missing_key_file_is_a_visible_permanent_failure(ingest, settings) -> None:
    services.signing_key_create(namespace="team-a", algorithm="ed25519", actor="t")
    for path in (settings.KEYS_DIR).iterdir():
        if path.name.startswith("team-a"):
            path.unlink()
    ingest([taskrun_doc()])
    record = RunRecord.objects.get()
    assert record.compute_status == ComputeStatus.FAILED
    assert "cannot read signing key file" in record.compute_reason
    assert not Attestation.objects.exists()


def test_namespace_key_signs_its_runs(ingest) -> None:
    key = services.signing_key_create(namespace="team-a", algorithm="ed25519", actor="t")
    ingest([taskrun_doc()])
    attestation = Attestation.objects.get()
    assert attestation.key_id == key.key_id
    assert sslib_verify(bytes(attestation.envelope), key.public_key_pem, key.key_id)


def test_failed_run_under_on_success_is_skipped_with_reason(ingest) -> None:
    services.namespace_settings_update(
        namespace="team-a", changes={"emit": "on-success"}, actor="x"
    )
    docs = pipeline_docs(pr_status="False")
    ingest(docs)
    pr = RunRecord.objects.get(uid=docs[0]["metadata"]["uid"])
    assert pr.compute_status == ComputeStatus.SKIPPED
    assert "did not succeed" in pr.compute_reason


def test_per_artifact_scope_signs_one_statement_per_artifact(ingest) -> None:
    services.namespace_settings_update(
        namespace="team-a", changes={"scope": "per-artifact"}, actor="x"
    )
    docs = pipeline_docs()
    ingest(docs)
    attestations = current(docs[0]["metadata"]["uid"])
    assert attestations and all(a.scope == "per-artifact" for a in attestations)
    keys = {a.subject_key for a in attestations}
    assert len(keys) == len(attestations)
    for attestation in attestations:
        statement = orjson.loads(bytes(attestation.statement))
        names = {s["name"] for s in statement["subject"]}
        assert names == set(attestation.subjects.values_list("uri", flat=True))
    ingest(docs)  # a replay signs nothing new
    assert len(current(docs[0]["metadata"]["uid"])) == len(attestations)
    assert Attestation.objects.count() == len(attestations)


def test_per_artifact_on_artifact_signs_early_while_the_pipeline_runs(ingest) -> None:
    services.namespace_settings_update(
        namespace="team-a", changes={"scope": "per-artifact", "emit": "on-artifact"}, actor="x"
    )
    docs = pipeline_docs(pr_status="Unknown")
    ingest(docs)
    pr = RunRecord.objects.get(uid=docs[0]["metadata"]["uid"])
    early = current(pr.uid)
    assert early, pr.compute_reason
    assert {a.run_status for a in early} == {"Unknown"}
    assert all(a.emit == "on-artifact" for a in early)


@pytest.mark.django_db(transaction=True)
def test_concurrent_out_of_order_ingests_converge_without_deadlock() -> None:
    import threading

    from django.db import connection

    docs = pipeline_docs()
    orders = [(0, 1, 2), (2, 1, 0), (1, 2, 0), (2, 0, 1)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(orders))

    def deliver(order: tuple[int, ...]) -> None:
        try:
            barrier.wait()
            for _ in range(3):
                services.records_ingest(
                    data=as_list([docs[i] for i in order]),
                    namespaces_allowed=None,
                    source=TEST_SOURCE,
                )
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver, args=(order,)) for order in orders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert RunRecord.objects.count() == 3
    assert Attestation.objects.count() == 1
    assert bytes(Attestation.objects.get().statement) == expected_statement(docs)
