"""Issue 11, finding 6: who said so?

Records come from the cluster watcher, from API uploads (anyone with an ingester token) and
from file imports. Each stored run now records how it came (``source``, on its page and in the
API); statements made from uploaded or imported records carry the namespace's
``upload_builder_id`` instead of Chains' builder id (unless an admin opts uploads in), the
per-artifact run state records the source, and the gate's ``require_source=watch`` reads the
signed statement to tell them apart. Builder ids must be absolute URIs.
"""

from __future__ import annotations

import base64
import getpass
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client

from provenance import services
from provenance.config import UPLOAD_BUILDER_ID
from provenance.core import cli
from provenance.core.statements import read_statement
from provenance.management.commands.watch_records import api_client_for, watch_source
from provenance.models import Attestation, NamespaceSettings, RunRecord, SettingsAudit
from provenance.reads.namespaces import audit_changes, namespace_settings_view
from tests.apidata import (
    caller_with_token,
    hex_for,
    ingest_and_sign,
    record,
    tamper,
    token,
    with_digest,
)
from tests.factories import as_list, pipeline_docs, taskrun_doc
from tests.test_watch_records import cluster

pytestmark = pytest.mark.django_db

__all__ = ["cluster"]  # the watcher tests' local API server

ROOT = Path(__file__).resolve().parent.parent
CHAINS = "https://tekton.dev/chains/v2"
PER_ARTIFACT = {"scope": "per-artifact", "emit": "on-completion"}
RUN_STATE_SCHEMA = json.loads((ROOT / "docs" / "run-state.schema.json").read_text())


@pytest.fixture(autouse=True)
def _keys(settings, tmp_path):
    settings.KEYS_DIR = tmp_path / "keys"


def configure(namespace: str = "team-a", **changes: Any) -> None:
    services.namespace_settings_update(namespace=namespace, changes=changes, actor="test")


def upload(docs: list[dict[str, Any]], capture: Any, *, name: str = "ci-team-a") -> Any:
    """POST the records with an ingester token named ``name``, computing as the worker would."""
    ingester = caller_with_token(token(role="ingester", name=name))
    with capture(execute=True):
        response = ingester.post("/api/v1/records", as_list(docs))
    assert response.status_code == 202, response.content
    return response


def uploaded_pipeline(capture: Any, label: str) -> tuple[list[dict[str, Any]], str]:
    hex_value = hex_for(label)
    docs = with_digest(pipeline_docs(namespace="team-a", name=label), hex_value)
    upload(docs, capture)
    return docs, f"sha256:{hex_value}"


def watched_pipeline(label: str) -> tuple[list[dict[str, Any]], str]:
    """Stored with the tests' watch source (tests.factories.TEST_SOURCE) and signed."""
    hex_value = hex_for(label)
    docs = with_digest(pipeline_docs(namespace="team-a", name=label), hex_value)
    assert ingest_and_sign(docs)
    return docs, f"sha256:{hex_value}"


def current_statements(uid: str) -> list[Any]:
    rows = Attestation.objects.filter(run__uid=uid, superseded_by__isnull=True)
    return [read_statement(bytes(a.statement)) for a in rows.order_by("id")]


def gate(digest: str, **params: str) -> dict[str, Any]:
    viewer = caller_with_token(token(role="viewer", name="gate"))
    response = viewer.get("/api/v1/gate", digest=digest, **params)
    assert response.status_code == 200, response.content
    body: dict[str, Any] = response.json()
    return body


# --- the source of every stored run ------------------------------------------------------------


def test_an_upload_records_its_token_and_is_shown_in_the_api_and_on_the_page(
    django_capture_on_commit_callbacks, django_user_model
) -> None:
    docs = pipeline_docs()
    upload(docs, django_capture_on_commit_callbacks, name="ci-team-a")
    uid = docs[0]["metadata"]["uid"]
    expected = {"kind": "api", "token": "ci-team-a"}
    assert record(uid).source == expected
    viewer = caller_with_token(token(role="viewer"))
    assert viewer.get(f"/api/v1/records/{uid}").json()["source"] == expected
    listed = viewer.get("/api/v1/records", kind="PipelineRun").json()["results"]
    assert [r["source"] for r in listed] == [expected]
    staff = Client()
    staff.force_login(django_user_model.objects.create_user("auditor", is_staff=True))
    page = staff.get(f"/runs/{record(uid).pk}/").content.decode()
    assert "uploaded through the API · token ci-team-a" in page


def test_an_upload_in_a_browser_session_records_the_user(django_user_model) -> None:
    user = django_user_model.objects.create_user("alice", is_staff=True)
    session = Client()
    session.force_login(user)
    doc = taskrun_doc()
    response = session.post("/api/v1/records", orjson.dumps(doc), content_type="application/json")
    assert response.status_code == 202, response.content
    assert record(doc["metadata"]["uid"]).source == {"kind": "api", "user": "alice"}


def test_an_import_records_the_user_and_the_file(tmp_path: Path) -> None:
    doc = taskrun_doc()
    path = tmp_path / "dump.json"
    path.write_bytes(orjson.dumps(doc))
    call_command("import_records", str(path), "--no-progress")
    assert record(doc["metadata"]["uid"]).source == {
        "kind": "import",
        "user": getpass.getuser(),
        "file": str(path),
        "command": "import_records",
    }


# --- the builder id of each source -------------------------------------------------------------


def test_uploaded_records_get_the_upload_builder_id_and_watched_ones_chains(
    django_capture_on_commit_callbacks,
) -> None:
    uploaded, _ = uploaded_pipeline(django_capture_on_commit_callbacks, "uploaded")
    watched, _ = watched_pipeline("watched")
    [up] = current_statements(uploaded[0]["metadata"]["uid"])
    [seen] = current_statements(watched[0]["metadata"]["uid"])
    assert up.builder_id == UPLOAD_BUILDER_ID
    assert seen.builder_id == CHAINS


def test_an_admin_may_opt_uploads_into_the_builder_id_audited_and_re_signed(
    django_capture_on_commit_callbacks,
) -> None:
    docs, _ = uploaded_pipeline(django_capture_on_commit_callbacks, "opt-in")
    uid = docs[0]["metadata"]["uid"]
    admin = caller_with_token(token(role="admin", name="team-a-admin"))
    with django_capture_on_commit_callbacks(execute=True):
        response = admin.send(
            "PATCH", "/api/v1/namespaces/team-a/settings", {"uploads_use_builder_id": True}
        )
    assert response.status_code == 200, response.content
    assert response.json()["uploads_use_builder_id"] is True
    entry = SettingsAudit.objects.get(namespace="team-a")
    assert entry.actor == "token:team-a-admin"
    assert audit_changes(entry) == [("uploads_use_builder_id", False, True)]
    [statement] = current_statements(uid)
    assert statement.builder_id == CHAINS  # re-signed with the namespace's builder id
    assert Attestation.objects.filter(run__uid=uid).count() == 2


def test_a_watched_run_with_an_uploaded_taskrun_is_not_a_watched_run(
    django_capture_on_commit_callbacks,
) -> None:
    configure(**PER_ARTIFACT)
    pr, clone, build = with_digest(pipeline_docs(name="mixed"), hex_for("mixed"))
    assert ingest_and_sign([pr, clone]) == []  # waits for its build TaskRun
    upload([build], django_capture_on_commit_callbacks)
    [statement] = current_statements(pr["metadata"]["uid"])
    assert statement.builder_id == UPLOAD_BUILDER_ID
    assert statement.run_state is not None and statement.run_state["source"] == "mixed"


@pytest.mark.parametrize("fmt", ["slsa/v2alpha4", "slsa/v1"])
def test_the_per_artifact_run_state_records_the_source(
    django_capture_on_commit_callbacks, fmt
) -> None:
    configure(format=fmt, **PER_ARTIFACT)
    uploaded, _ = uploaded_pipeline(django_capture_on_commit_callbacks, "pa-uploaded")
    watched, _ = watched_pipeline("pa-watched")
    for docs, source in ((uploaded, "api"), (watched, "watch")):
        [statement] = current_statements(docs[0]["metadata"]["uid"])
        assert statement.run_state is not None
        assert statement.run_state["source"] == source
        jsonschema.validate(statement.run_state, RUN_STATE_SCHEMA)


# --- the gate's require_source=watch -----------------------------------------------------------


def test_the_gate_allows_a_watched_run_by_its_signed_builder_id_or_run_state() -> None:
    _, per_run = watched_pipeline("gate-watched")
    body = gate(per_run, require_source="watch")
    assert body["allowed"] is True, body
    assert f"its signed builder id {CHAINS} is the one of watched records" in body["reasons"][0]
    configure(**PER_ARTIFACT)
    _, per_artifact = watched_pipeline("gate-watched-pa")
    body = gate(per_artifact, require_source="watch")
    assert body["allowed"] is True, body
    assert "its signed run state says so" in body["reasons"][0]


def test_the_gate_denies_an_uploaded_run(django_capture_on_commit_callbacks) -> None:
    _, per_run = uploaded_pipeline(django_capture_on_commit_callbacks, "gate-up")
    assert gate(per_run)["allowed"] is True  # without require_source: as before
    body = gate(per_run, require_source="watch")
    assert body["allowed"] is False
    assert (
        f"it is signed with the upload builder id {UPLOAD_BUILDER_ID}: its run was uploaded or "
        "imported, not watched" in body["reasons"][0]
    )
    configure(**PER_ARTIFACT)
    _, per_artifact = uploaded_pipeline(django_capture_on_commit_callbacks, "gate-up-pa")
    body = gate(per_artifact, require_source="watch")
    assert body["allowed"] is False
    assert "its signed run state records its source as 'api', not 'watch'" in body["reasons"][0]


def test_the_gate_reads_the_statement_not_the_stored_source(
    django_capture_on_commit_callbacks,
) -> None:
    docs, digest = uploaded_pipeline(django_capture_on_commit_callbacks, "relabelled")
    RunRecord.objects.filter(uid=docs[0]["metadata"]["uid"]).update(source_kind="watch")
    assert gate(digest, require_source="watch")["allowed"] is False


def test_the_gate_denies_what_the_statement_cannot_tell(django_capture_on_commit_callbacks) -> None:
    configure(uploads_use_builder_id=True)
    _, opted_in = watched_pipeline("gate-opted-in")  # watched, but uploads sign alike
    body = gate(opted_in, require_source="watch")
    assert body["allowed"] is False
    assert (
        f"its namespace signed uploaded records with the same builder id ({CHAINS}), so its "
        "statement does not tell where its run came from" in body["reasons"][0]
    )
    # An attestation made before sources were told apart (its settings lack the upload fields).
    configure(namespace="team-b", format="slsa/v2alpha4")
    hex_value = hex_for("legacy")
    (legacy,) = ingest_and_sign(with_digest([taskrun_doc(namespace="team-b")], hex_value))
    six = {k: v for k, v in legacy.settings.items() if not k.startswith("upload")}
    tamper(
        "UPDATE provenance_attestation SET settings = %s::jsonb WHERE id = %s",
        [json.dumps(six), legacy.pk],
    )
    viewer = caller_with_token(token(role="viewer", namespaces=("team-b",)))
    body = viewer.get("/api/v1/gate", digest=f"sha256:{hex_value}", require_source="watch").json()
    assert body["allowed"] is False
    assert "it was signed before chainsweb told sources apart" in body["reasons"][0]
    assert viewer.get("/api/v1/gate", digest=f"sha256:{hex_value}").json()["allowed"] is True


def test_require_source_takes_only_watch() -> None:
    viewer = caller_with_token(token(role="viewer"))
    response = viewer.get("/api/v1/gate", digest="sha256:" + "a" * 64, require_source="api")
    assert response.status_code == 400
    assert "require_source" in response.json()["error"]


# --- builder ids are absolute URIs -------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"builder_id": "not a url"}, "the builder id 'not a url' is not an absolute URI"),
        ({"upload_builder_id": "uploads"}, "the upload builder id 'uploads' is not an absolute"),
        ({"builder_id": "https:///x"}, "the builder id 'https:///x' names no host"),
    ],
)
def test_the_settings_api_refuses_a_builder_id_that_is_not_an_absolute_uri(
    change: dict[str, str], message: str
) -> None:
    admin = caller_with_token(token(role="admin"))
    response = admin.send("PATCH", "/api/v1/namespaces/team-a/settings", change)
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert not NamespaceSettings.objects.exists() and not SettingsAudit.objects.exists()


def test_the_settings_page_refuses_a_builder_id_that_is_not_an_absolute_uri(
    django_user_model,
) -> None:
    assert ingest_and_sign([taskrun_doc()])  # the namespace exists
    admin = Client()
    admin.force_login(django_user_model.objects.create_user("root", is_staff=True))
    form = {
        "format": "slsa/v2alpha4",
        "scope": "per-run",
        "emit": "on-completion",
        "builder_id": "not a url",
        "build_type": "https://tekton.dev/chains/v2/slsa",
        "upload_builder_id": UPLOAD_BUILDER_ID,
        "action": "save",
    }
    response = admin.post("/namespaces/team-a/settings/", form)
    assert response.status_code == 400
    assert "is not an absolute URI" in response.content.decode()
    assert not NamespaceSettings.objects.exists() and not SettingsAudit.objects.exists()
    page = admin.get("/namespaces/team-a/settings/").content.decode()
    assert "Upload builder id" in page and "Uploads use the builder id" in page


def test_compute_provenance_refuses_a_builder_id_that_is_not_an_absolute_uri(capsys) -> None:
    kaniko = ROOT / "provenance" / "samples" / "kaniko-taskrun.json"
    assert cli.main([str(kaniko), "--builder-id", "not a url"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "compute_provenance: the builder id 'not a url' is not an absolute URI "
        "(e.g. https://example.com/builder)"
    ]


# --- the watcher's source ----------------------------------------------------------------------


def jwt_kubeconfig(kubeconfig: Path, subject: str) -> Path:
    """The cluster fixture's kubeconfig with a ServiceAccount-like token (a JWT) for its user."""
    config = json.loads(kubeconfig.read_text())
    claims = base64.urlsafe_b64encode(json.dumps({"sub": subject}).encode()).rstrip(b"=")
    config["users"][0]["user"]["token"] = f"eyJhbGciOiJSUzI1NiJ9.{claims.decode()}.c2lnbmF0dXJl"
    path = kubeconfig.with_name("kubeconfig-jwt")
    path.write_text(json.dumps(config))
    return path


def test_the_watch_source_names_the_cluster_and_the_watcher(cluster, settings) -> None:
    _, kubeconfig = cluster
    settings.WATCH_CLUSTER_NAME = ""

    def source(path: Path, option: str = "") -> dict[str, str]:
        return watch_source(api_client_for(str(path)), str(path), option).detail()

    # Defaults: the kubeconfig context's name and user.
    assert source(kubeconfig) == {"cluster": "local", "watcher": "watcher"}
    settings.WATCH_CLUSTER_NAME = "from-env"
    assert source(kubeconfig)["cluster"] == "from-env"
    assert source(kubeconfig, "prod-eu-1")["cluster"] == "prod-eu-1"  # the option wins
    account = "system:serviceaccount:chainsweb:chainsweb-watcher"
    assert source(jwt_kubeconfig(kubeconfig, account))["watcher"] == account


# --- migration 0009: the source of runs stored before -----------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_migration_derives_the_source_of_existing_runs() -> None:
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes("provenance")
    executor.migrate([("provenance", "0008_retention")])
    try:
        old = executor.loader.project_state([("provenance", "0008_retention")]).apps
        texts = {
            "w": "watch",
            "t": "api:token:ci-team-a",
            "u": "api:user:alice",
            "i": "import:/dumps/2026-11.json",
            "d": "demo:build-push.json",
            "x": "something else",
            "e": "",
        }
        for uid, text in texts.items():
            old.get_model("provenance", "RunRecord").objects.create(
                uid=uid,
                kind="TaskRun",
                namespace="team-a",
                name=uid,
                raw=b"",
                source=text,
                compute_status="signed",
            )
        # A builder id the settings page took before it had to be an absolute URI.
        for namespace, builder_id in (("team-a", "not a url"), ("team-b", "https://ci.example/b")):
            old.get_model("provenance", "NamespaceSettings").objects.create(
                namespace=namespace,
                format="slsa/v2alpha4",
                scope="per-run",
                emit="on-completion",
                builder_id=builder_id,
                build_type="https://tekton.dev/chains/v2/slsa",
            )
        executor = MigrationExecutor(connection)
        executor.migrate(latest)
        assert namespace_settings_view("team-a")["builder_id"] == CHAINS
        assert namespace_settings_view("team-b")["builder_id"] == "https://ci.example/b"
        [entry] = SettingsAudit.objects.all()
        assert (entry.namespace, entry.actor) == ("team-a", "migration:0009_identity")
        assert audit_changes(entry) == [("builder_id", "not a url", CHAINS)]
        sources = {r.uid: r.source for r in RunRecord.objects.all()}
        # Signed from uploaded records with Chains' builder id: queued to be signed again.
        assert set(
            RunRecord.objects.filter(compute_status="pending").values_list("uid", flat=True)
        ) == (set(texts) - {"w"})
        assert services.runs_requeue_pending(older_than=timedelta(minutes=5)) == len(texts) - 1
        assert sources == {
            "w": {"kind": "watch"},
            "t": {"kind": "api", "token": "ci-team-a"},
            "u": {"kind": "api", "user": "alice"},
            "i": {"kind": "import", "file": "/dumps/2026-11.json"},
            "d": {"kind": "import", "file": "build-push.json", "command": "demo"},
            "x": {"kind": "unknown", "recorded": "something else"},
            "e": {"kind": "unknown"},
        }
        # And back: the text is written again from the kind and details.
        executor = MigrationExecutor(connection)
        executor.migrate([("provenance", "0008_retention")])
        old = executor.loader.project_state([("provenance", "0008_retention")]).apps
        back = dict(old.get_model("provenance", "RunRecord").objects.values_list("uid", "source"))
        assert back == texts
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(latest)
