"""Namespace settings over the API: GET, PUT (replace) and PATCH (change), audited, re-signing;
session writes need CSRF."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from django.contrib.auth.models import User
from django.test import Client

from provenance.models import Attestation, NamespaceGrant, SettingsAudit
from tests.apidata import caller_with_token, signed_pipeline, token

pytestmark = pytest.mark.django_db

URL = "/api/v1/namespaces/team-a/settings"
FULL = {
    "format": "slsa/v1",
    "deep_inspection": True,
    "scope": "per-artifact",
    "emit": "on-artifact",
    "builder_id": "https://builder.example/tekton",
    "build_type": "https://tekton.dev/chains/v2/slsa",
}


@pytest.fixture(autouse=True)
def _keys(settings, tmp_path):
    settings.KEYS_DIR = tmp_path / "keys"


def send(method: str, body: Any, *, role: str = "admin", capture: Any = None) -> Any:
    caller = caller_with_token(token(role=role))
    if capture is None:
        return caller.send(method, URL, body)
    with capture(execute=True):
        return caller.send(method, URL, body)


def test_get_shows_the_effective_settings() -> None:
    body = caller_with_token(token(role="viewer")).get(URL).json()
    assert body == {
        "namespace": "team-a",
        "format": "slsa/v2alpha4",
        "predicate": "SLSA v1.0",
        "deep_inspection": False,
        "scope": "per-run",
        "emit": "on-completion",
        "builder_id": "https://tekton.dev/chains/v2",
        "build_type": "https://tekton.dev/chains/v2/slsa",
        "upload_builder_id": "https://chainsweb.dev/builders/upload/v1",
        "uploads_use_builder_id": False,
        "signing_key": None,
        "configured": False,
        "retention_days": None,
        "legal_hold": False,
        "taskrun_format": "",
        "oci_publish": False,
        "oci_repository": "",
        "oci_insecure": False,
    }


def test_put_replaces_everything_is_audited_and_re_signs(
    django_capture_on_commit_callbacks,
) -> None:
    _, (first,), _ = signed_pipeline()
    response = send("PUT", FULL, capture=django_capture_on_commit_callbacks)
    assert response.status_code == 200, response.content
    body = response.json()
    assert {k: body[k] for k in FULL} == FULL
    assert body["configured"] is True and body["predicate"] == "SLSA v0.2"
    audit = SettingsAudit.objects.get()
    assert audit.actor == "token:test-admin-team-a"
    assert audit.old == {} and audit.new["scope"] == "per-artifact"
    # The recompute ran after commit: the run is re-signed under the new settings.
    newest = Attestation.objects.latest("id")
    assert newest.pk != first.pk and newest.scope == "per-artifact"
    assert newest.format == "slsa/v1"


def test_put_needs_every_field() -> None:
    partial = {k: v for k, v in FULL.items() if k != "builder_id"}
    response = send("PUT", partial)
    assert response.status_code == 400
    assert "builder_id: This field is required" in response.json()["error"]
    assert not SettingsAudit.objects.exists()


def test_patch_changes_only_what_is_given(django_capture_on_commit_callbacks) -> None:
    send("PUT", FULL)
    response = send("PATCH", {"emit": "on-success"}, capture=django_capture_on_commit_callbacks)
    assert response.status_code == 200
    body = response.json()
    assert body["emit"] == "on-success" and body["scope"] == "per-artifact"
    assert body["builder_id"] == FULL["builder_id"]
    last = SettingsAudit.objects.first()
    assert last is not None
    assert last.old["emit"] == "on-artifact" and last.new["emit"] == "on-success"


@pytest.mark.parametrize(
    ("method", "body", "message"),
    [
        ("PATCH", {"builder_id": 0}, "builder_id: Not a valid string"),
        ("PATCH", {"deep_inspection": "yes"}, "deep_inspection"),
        ("PATCH", {"format": 1}, "format"),
        ("PATCH", {"scope": "per-run", "emit": "on-artifact"}, "on-artifact needs per-artifact"),
        ("PATCH", {"builder_id": ""}, "builder_id"),
        (
            "PATCH",
            {"format": "in-toto", "build_type": "https://tekton.dev/chains/v2/slsa-tekton"},
            "the build type https://tekton.dev/chains/v2/slsa-tekton applies to SLSA v1.0 only",
        ),
        ("PUT", {**FULL, "colour": "blue"}, "unknown field(s): colour"),
        ("PATCH", ["format"], "must be a JSON object"),
    ],
)
def test_bad_bodies_are_400(method, body, message) -> None:
    response = send(method, body)
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert not SettingsAudit.objects.exists()


@pytest.mark.parametrize("role", ["viewer", "ingester"])
def test_only_admins_of_the_namespace_may_write(role) -> None:
    for method, body in (("PUT", FULL), ("PATCH", {"format": "slsa/v1"})):
        response = send(method, body, role=role)
        assert response.status_code == 403
        assert "error" in response.json()
    admin_b = caller_with_token(token(role="admin", namespaces=("team-b",)))
    response = admin_b.send("PATCH", URL, {"format": "slsa/v1"})
    assert response.status_code == 403 and "team-a" in response.json()["error"]
    assert admin_b.get(URL).status_code == 404
    assert not SettingsAudit.objects.exists()


def test_session_writes_need_the_csrf_token() -> None:
    user = User.objects.create_user("ada", password="pw-ada-123")
    NamespaceGrant.objects.create(user=user, namespace="team-a", role="admin")
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    body = orjson.dumps({"format": "slsa/v1"})
    refused = client.patch(URL, data=body, content_type="application/json")
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["error"]
    assert not SettingsAudit.objects.exists()
    # Reads need none.
    assert client.get(URL).status_code == 200
    # What a page does: send the csrftoken cookie's value back in X-CSRFToken.
    secret = "A1b2" * 8
    client.cookies["csrftoken"] = secret
    accepted = client.patch(
        URL, data=body, content_type="application/json", HTTP_X_CSRFTOKEN=secret
    )
    assert accepted.status_code == 200, accepted.content
    assert SettingsAudit.objects.get().actor == "user:ada"


def test_bearer_writes_need_no_csrf_token() -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.patch(
        URL,
        data=orjson.dumps({"format": "slsa/v1"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token(role='admin')}",
    )
    assert response.status_code == 200


def test_bad_namespace_name_is_400() -> None:
    caller = caller_with_token(token(role="admin", namespaces=()))
    response = caller.get("/api/v1/namespaces/Not_A_Namespace/settings")
    assert response.status_code == 400
    assert "not a Kubernetes namespace name" in response.json()["error"]
