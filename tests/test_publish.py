"""Publishing signed attestations to a real OCI registry (Debian's docker-registry), wired
end to end: namespace settings, the Publication rows, the publishing service and
``publish_attestations``, the API and the attestation page. What was pushed is read back with
skopeo and verified with securesystemslib (envelopes) and cryptography (image signatures)
against the registered PEM public key."""

from __future__ import annotations

import base64
import io
import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from django.core.management import call_command
from django.test import Client

from provenance import services
from provenance.core.oci_layout import (
    DSSE_LAYER,
    SIGNATURE_ANNOTATION,
    SIMPLE_SIGNING_LAYER,
    ImageDigest,
    image_subject,
    simple_signing_payload,
)
from provenance.models import (
    ApiToken,
    Attestation,
    NamespaceGrant,
    NamespaceSettings,
    Publication,
    RunRecord,
    SettingsAudit,
    SigningKey,
)
from tests.apidata import FIXTURE_HEX, caller_with_token, hex_for, ingest_and_sign, token
from tests.core.test_dsse import sslib_verify
from tests.factories import taskrun_doc
from tests.registry_server import PASSWORD, USER, Registry, SlowProxy, running_registry
from tests.test_registry import verify_simple_signing

pytestmark = pytest.mark.django_db
FIXTURE_IMAGE = "gcr.io/my/image"
_names = itertools.count()


@pytest.fixture(autouse=True)
def _keys(settings, tmp_path):
    settings.KEYS_DIR = tmp_path / "keys"
    settings.OCI_TIMEOUT = 5.0


@pytest.fixture(scope="module")
def registry(tmp_path_factory) -> Iterator[Registry]:
    with running_registry(tmp_path_factory.mktemp("registry")) as running:
        yield running


def publishing(namespace: str = "team-a", **changes: Any) -> None:
    services.namespace_settings_update(
        namespace=namespace,
        changes={"oci_publish": True, "oci_insecure": True, **changes},
        actor="test",
    )


def image_taskrun(host: str, *, namespace: str = "team-a") -> tuple[dict[str, Any], ImageDigest]:
    """A standalone TaskRun that built ``<host>/team/app<n>`` at a digest of its own."""
    n = next(_names)
    name = f"solo-{n}"
    hex_value = hex_for(f"{host}/{name}")
    text = (
        orjson.dumps(taskrun_doc(namespace=namespace, name=name))
        .decode()
        .replace(FIXTURE_HEX, hex_value)
        .replace(FIXTURE_IMAGE, f"{host}/team/app{n}")
    )
    return orjson.loads(text), ImageDigest.from_subject(f"{host}/team/app{n}", hex_value)


def sign(doc: dict[str, Any]) -> Attestation:
    (attestation,) = ingest_and_sign([doc])
    return attestation


def publish_all(*args: str) -> tuple[str, int]:
    out = io.StringIO()
    try:
        call_command("publish_attestations", *args, stdout=out)
    except SystemExit as exc:
        return out.getvalue(), int(exc.code or 0)
    return out.getvalue(), 0


def tag_ref(image: ImageDigest, kind: str, repository: str | None = None) -> str:
    return f"{repository or image.repository.path}:{image.tag(kind)}"


def public_pem(attestation: Attestation) -> str:
    return SigningKey.objects.get(key_id=attestation.key_id).public_key_pem


# --- what lands in the registry ------------------------------------------------------------------


def test_a_signed_attestation_is_published_as_att_and_sig_that_verify(registry, tmp_path):
    publishing()
    doc, image = image_taskrun(registry.host)
    attestation = sign(doc)
    rows = list(attestation.publications.order_by("kind"))
    assert [(p.kind, p.status) for p in rows] == [("att", "pending"), ("sig", "pending")]
    assert rows[0].reference == f"{registry.host}/{tag_ref(image, 'att')}"

    output, status = publish_all()
    assert status == 0, output
    assert "2 tried: 2 published, 0 failed" in output
    rows = list(attestation.publications.order_by("kind"))
    assert all(p.status == Publication.Status.PUBLISHED and p.published for p in rows)

    att = registry.pull(tag_ref(image, "att"), tmp_path / "att")
    (layer,) = att["layers"]
    assert layer["mediaType"] == DSSE_LAYER
    assert layer["annotations"] == {
        SIGNATURE_ANNOTATION: "",
        "predicateType": json.loads(bytes(attestation.statement))["predicateType"],
    }
    assert layer["_blob"] == bytes(attestation.envelope)
    pem = public_pem(attestation)
    assert sslib_verify(layer["_blob"], pem, attestation.key_id) == bytes(attestation.statement)

    sig = registry.pull(tag_ref(image, "sig"), tmp_path / "sig")
    (layer,) = sig["layers"]
    assert layer["mediaType"] == SIMPLE_SIGNING_LAYER
    assert layer["_blob"] == simple_signing_payload(image)
    payload = json.loads(layer["_blob"])
    assert payload["critical"]["image"]["docker-manifest-digest"] == image.digest
    assert payload["critical"]["identity"]["docker-reference"] == image.repository.name
    verify_simple_signing(pem, layer["_blob"], layer["annotations"][SIGNATURE_ANNOTATION])


def test_publishing_again_adds_no_layer_and_a_new_attestation_is_appended(registry):
    publishing()
    doc, image = image_taskrun(registry.host)
    first = sign(doc)
    assert publish_all()[1] == 0
    manifest = registry.raw_manifest(tag_ref(image, "att"))
    for publication in first.publications.all():
        outcome = services.publication_attempt(publication_id=publication.pk)
        assert outcome.status == "published" and not outcome.appended
    assert registry.raw_manifest(tag_ref(image, "att")) == manifest

    # The same run signed again under other settings: its new attestation goes next to the
    # first one, as cosign attach appends.
    services.namespace_settings_update(
        namespace="team-a", changes={"format": "slsa/v1"}, actor="test"
    )
    run = RunRecord.objects.get(uid=doc["metadata"]["uid"])
    (second_id,) = services.attestations_generate(run_id=run.pk).created
    second = Attestation.objects.get(pk=second_id)
    assert second.pk != first.pk and second.publications.count() == 2
    assert publish_all()[1] == 0
    layers = registry.raw_manifest(tag_ref(image, "att"))["layers"]
    assert len(layers) == 2
    assert [x["annotations"]["predicateType"] for x in layers] == [
        "https://slsa.dev/provenance/v1",
        "https://slsa.dev/provenance/v0.2",
    ]
    # The image signature is the same payload under the same key: one layer still.
    assert len(registry.raw_manifest(tag_ref(image, "sig"))["layers"]) == 1


def test_a_target_repository_holds_the_tags_and_the_signature_names_the_image(registry, tmp_path):
    publishing(oci_repository=f"{registry.host}/mirror/attestations")
    doc, image = image_taskrun(registry.host)
    attestation = sign(doc)
    assert publish_all()[1] == 0
    reference = tag_ref(image, "sig", "mirror/attestations")
    assert {p.reference for p in attestation.publications.all()} == {
        f"{registry.host}/{tag_ref(image, 'att', 'mirror/attestations')}",
        f"{registry.host}/{reference}",
    }
    (layer,) = registry.pull(reference, tmp_path / "sig")["layers"]
    payload = json.loads(layer["_blob"])
    assert payload["critical"]["identity"]["docker-reference"] == image.repository.name


@pytest.mark.parametrize(
    ("name", "published"),
    [
        ("127.0.0.1:5000/team/app", True),
        ("registry.example.com/team/app", True),
        ("index.docker.io/library/busybox", True),
        ("localhost/app", True),
        ("busybox", False),  # not normalised: Chains names images with their registry
        ("app.tar.gz", False),
        ("https://github.com/org/repo", False),
        ("git+https://github.com/org/repo.git", False),
        ("pkg:golang/example.com/mod@v1.0.0", False),
        ("registry.example.com/team/app:v1", False),
    ],
)
def test_only_oci_image_subjects_are_published(name, published):
    assert (image_subject(name, "sha256", "a" * 64) is not None) is published
    assert image_subject(name, "sha512", "a" * 128) is None


def test_a_namespace_that_does_not_publish_gets_no_publication(registry):
    doc, _ = image_taskrun(registry.host)
    attestation = sign(doc)
    assert not attestation.publications.exists()
    assert publish_all() == ("0 publication(s) backfilled; 0 tried: 0 published, 0 failed\n", 0)


def test_turning_publishing_on_backfills_the_current_attestations(registry):
    doc, image = image_taskrun(registry.host)
    attestation = sign(doc)
    publishing()
    output, status = publish_all("--namespace", "team-a")
    assert status == 0 and output.startswith(f"published {registry.host}/"), output
    assert "2 publication(s) backfilled; 2 tried: 2 published" in output
    assert attestation.publications.filter(status="published").count() == 2
    assert registry.raw_manifest(tag_ref(image, "att"))["layers"]


# --- a registry that is down, refuses, or is slow ---------------------------------------------


def test_registry_down_loses_nothing_and_the_command_publishes_once_it_is_up(tmp_path):
    down = Registry(folder=tmp_path / "later")
    down.folder.mkdir()
    publishing()
    doc, image = image_taskrun(down.host)
    attestation = sign(doc)
    # Signing did not wait for the registry: the run is signed, its attestation stored.
    assert RunRecord.objects.get(uid=doc["metadata"]["uid"]).compute_status == "signed"

    (row,) = attestation.publications.filter(kind="att")
    with pytest.raises(services.PublishDeferred):
        services.publication_attempt(publication_id=row.pk)  # what the task retries
    row.refresh_from_db()
    assert row.status == "failed" and row.attempts == 1
    assert f"cannot reach {down.host}" in row.last_error

    output, status = publish_all()  # the pending .sig
    assert status == 1 and "1 tried: 0 published, 1 failed" in output, output
    assert f"failed    {down.host}/{tag_ref(image, 'sig')}: cannot reach" in output
    # Pending ones are tried by default; failed ones only with --failed.
    assert publish_all() == ("0 publication(s) backfilled; 0 tried: 0 published, 0 failed\n", 0)

    down.start()
    try:
        output, status = publish_all("--failed")
        assert status == 0 and "2 tried: 2 published, 0 failed" in output, output
        row.refresh_from_db()
        assert row.status == "published" and row.last_error == "" and row.attempts == 2
        assert down.raw_manifest(tag_ref(image, "att"))["layers"]
    finally:
        down.stop()


def test_a_slow_registry_times_out_retryably(registry, settings):
    settings.OCI_TIMEOUT = 0.5
    proxy = SlowProxy(registry.port, delay=2.0)
    try:
        publishing()
        doc, _ = image_taskrun(f"127.0.0.1:{proxy.port}")
        row = sign(doc).publications.get(kind="att")
        with pytest.raises(services.PublishDeferred, match="timed out|Read timed out"):
            services.publication_attempt(publication_id=row.pk)
        row.refresh_from_db()
        assert row.status == "failed" and "127.0.0.1" in row.last_error
    finally:
        proxy.close()


@pytest.fixture(scope="module")
def with_auth(tmp_path_factory) -> Iterator[Registry]:
    with running_registry(tmp_path_factory.mktemp("auth"), auth="htpasswd") as running:
        yield running


def docker_config(folder: Path, host: str, user: str, password: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    (folder / "config.json").write_text(json.dumps({"auths": {host: {"auth": auth}}}))
    return folder


def test_htpasswd_credentials_come_from_docker_config(with_auth, tmp_path, monkeypatch):
    publishing()
    doc, image = image_taskrun(with_auth.host)
    attestation = sign(doc)

    monkeypatch.setenv(
        "DOCKER_CONFIG", str(docker_config(tmp_path / "bad", with_auth.host, USER, "wrong"))
    )
    row = attestation.publications.get(kind="att")
    outcome = services.publication_attempt(publication_id=row.pk)  # permanent: not raised
    assert outcome.status == "failed" and "401" in outcome.error

    monkeypatch.setenv(
        "DOCKER_CONFIG", str(docker_config(tmp_path / "good", with_auth.host, USER, PASSWORD))
    )
    output, status = publish_all("--failed")
    assert status == 0 and "2 published" in output, output
    (layer,) = with_auth.pull(tag_ref(image, "att"), tmp_path / "att")["layers"]
    assert sslib_verify(layer["_blob"], public_pem(attestation), attestation.key_id)


# --- shown in the API and on the page -------------------------------------------------------------


def test_publications_show_in_the_api_and_on_the_attestation_page(registry, admin_client):
    publishing()
    doc, image = image_taskrun(registry.host)
    attestation = sign(doc)
    row = attestation.publications.get(kind="sig")
    Publication.objects.filter(pk=row.pk).update(status="failed", last_error="HTTP 401 from x")
    assert publish_all()[1] == 0  # the pending .att

    body = caller_with_token(token()).get(f"/api/v1/attestations/{attestation.pk}").json()
    shown = {p["kind"]: p for p in body["publications"]}
    assert shown["att"]["status"] == "published" and shown["att"]["published"]
    assert shown["att"]["reference"] == f"{registry.host}/{tag_ref(image, 'att')}"
    assert shown["att"]["image"] == f"{image.repository.name}@{image.digest}"
    assert shown["sig"]["status"] == "failed" and shown["sig"]["last_error"] == "HTTP 401 from x"
    assert body["bundle_url"].endswith(f"/api/v1/attestations/{attestation.pk}/bundle")

    page = admin_client.get(f"/attestations/{attestation.pk}/").content.decode()
    assert "Published to OCI registries" in page
    assert f"{registry.host}/{tag_ref(image, 'att')}" in page and "HTTP 401 from x" in page


def test_another_namespaces_publications_are_not_visible(registry):
    publishing("team-b")
    doc, _ = image_taskrun(registry.host, namespace="team-b")
    attestation = sign(doc)
    response = caller_with_token(token()).get(f"/api/v1/attestations/{attestation.pk}")
    assert response.status_code == 404


# --- settings -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["not a repository", "registry.example.com", "https://registry.example.com/x"]
)
def test_a_bad_repository_is_refused_by_the_api_naming_the_field(value):
    response = caller_with_token(token(role="admin")).send(
        "PATCH", "/api/v1/namespaces/team-a/settings", {"oci_repository": value}
    )
    assert response.status_code == 400
    assert "oci_repository" in response.json()["error"]
    assert "host[:port]/path" in response.json()["error"]
    assert not NamespaceSettings.objects.filter(namespace="team-a").exists()


def test_publishing_settings_are_audited_and_re_sign_nothing(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = caller_with_token(token(role="admin")).send(
            "PATCH",
            "/api/v1/namespaces/team-a/settings",
            {
                "oci_publish": True,
                "oci_repository": "registry.example.com:5000/att",
                "oci_insecure": True,
            },
        )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["oci_publish"], body["oci_repository"], body["oci_insecure"]) == (
        True,
        "registry.example.com:5000/att",
        True,
    )
    assert not callbacks  # nothing recomputed
    (entry,) = SettingsAudit.objects.filter(namespace="team-a")
    assert entry.new["oci_repository"] == "registry.example.com:5000/att"


def test_the_settings_page_saves_publishing_and_shows_a_bad_repository(
    admin_client, django_user_model
):
    doc, image = image_taskrun("registry.example.com")
    sign(doc)
    url = "/namespaces/team-a/publishing"
    response = admin_client.post(url, {"oci_publish": "on", "oci_repository": "bad repo"})
    assert response.status_code == 400
    assert "host[:port]/path" in response.content.decode()
    response = admin_client.post(url, {"oci_publish": "on", "oci_repository": "r.example.com/a"})
    assert response.status_code == 302
    row = NamespaceSettings.objects.get(namespace="team-a")
    assert (row.oci_publish, row.oci_repository, row.oci_insecure) == (
        True,
        "r.example.com/a",
        False,
    )
    page = admin_client.get("/namespaces/team-a/settings/").content.decode()
    assert "r.example.com/a" in page and "Publishing to OCI registries" in page
    # The preview of the latest run says where its attestation goes.
    assert f"r.example.com/a:{image.tag('att')}" in page
    # Only the namespace's admins may.
    user = django_user_model.objects.create_user("reader", password="pw")
    NamespaceGrant.objects.create(user=user, namespace="team-a", role=ApiToken.Role.VIEWER)
    viewer = Client()
    viewer.force_login(user)
    assert viewer.post(url, {"oci_publish": ""}).status_code == 403
    assert NamespaceSettings.objects.get(namespace="team-a").oci_publish is True


def test_taskrun_format_signs_standalone_taskruns_apart_from_pipelineruns():
    from tests.apidata import signed_pipeline

    services.namespace_settings_update(
        namespace="team-a",
        changes={"format": "slsa/v2alpha4", "taskrun_format": "in-toto"},
        actor="test",
    )
    doc, _ = image_taskrun("registry.example.com")
    solo = sign(doc)
    assert solo.format == "in-toto"
    assert json.loads(bytes(solo.statement))["predicateType"] == "https://slsa.dev/provenance/v0.2"
    _, (pipeline,), _ = signed_pipeline()
    assert pipeline.format == "slsa/v2alpha4"
    assert (
        json.loads(bytes(pipeline.statement))["predicateType"] == "https://slsa.dev/provenance/v1"
    )


def test_publications_wait_while_publishing_is_turned_off(registry):
    publishing()
    doc, image = image_taskrun(registry.host)
    attestation = sign(doc)
    services.namespace_settings_update(
        namespace="team-a", changes={"oci_publish": False}, actor="test"
    )
    row = attestation.publications.get(kind="att")
    assert services.publication_attempt(publication_id=row.pk).status == "skipped"
    assert publish_all() == ("0 publication(s) backfilled; 0 tried: 0 published, 0 failed\n", 0)
    row.refresh_from_db()
    assert row.status == "pending" and row.attempts == 0
    publishing()
    assert publish_all()[1] == 0
    assert registry.raw_manifest(tag_ref(image, "att"))["layers"]
