"""Group mappings (settings page and ``manage.py oidc_group_map``, audited), the trusted
reverse proxy's headers, and the local-password policy."""

from __future__ import annotations

import io
import logging
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from provenance.access import access_for_user
from provenance.models import NamespaceGrant, SettingsAudit, SsoGroupMapping
from provenance.services import records_ingest
from tests.factories import TEST_SOURCE, as_list, taskrun_doc

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery-staple"


def user(name: str, *, staff: bool = False, grants: dict[str, str] | None = None) -> Any:
    made = get_user_model().objects.create_user(name, password=PASSWORD, is_staff=staff)
    for namespace, role in (grants or {}).items():
        NamespaceGrant.objects.create(user=made, namespace=namespace, role=role)
    return made


def run_in(namespace: str, settings: Any, tmp_path: Any) -> None:
    settings.KEYS_DIR = tmp_path / "keys"
    records_ingest(
        data=as_list([taskrun_doc(namespace=namespace)]),
        namespaces_allowed=None,
        source=TEST_SOURCE,
    )


def test_the_command_adds_changes_lists_and_removes_mappings_with_an_audit() -> None:
    out = io.StringIO()
    call_command("oidc_group_map", "add", "team-a-auditors", "team-a", stdout=out)
    call_command(
        "oidc_group_map", "add", "team-a-auditors", "team-a", "--role", "admin", stdout=out
    )
    call_command(
        "oidc_group_map", "add", "team-a-auditors", "team-a", "--role", "admin", stdout=out
    )
    listing = io.StringIO()
    call_command("oidc_group_map", "list", stdout=listing)
    assert listing.getvalue() == "team-a\tteam-a-auditors\tadmin\n"
    call_command("oidc_group_map", "remove", "team-a-auditors", "team-a", stdout=out)
    assert "unchanged" in out.getvalue().splitlines()[2]
    assert not SsoGroupMapping.objects.exists()
    audit = [
        (a.actor, a.old, a.new)
        for a in SettingsAudit.objects.filter(namespace="team-a").order_by("id")
    ]
    key = "sso_group:team-a-auditors"
    assert audit == [
        ("command:oidc_group_map", {key: None}, {key: "viewer"}),
        ("command:oidc_group_map", {key: "viewer"}, {key: "admin"}),
        ("command:oidc_group_map", {key: "admin"}, {key: None}),
    ]
    with pytest.raises(CommandError, match="not a Kubernetes namespace name") as error:
        call_command("oidc_group_map", "add", "g", "Team_A")
    assert error.value.returncode == 2
    with pytest.raises(CommandError, match="without spaces around it"):
        call_command("oidc_group_map", "add", " g", "team-a")


def test_namespace_admins_manage_mappings_on_the_settings_page(
    settings: Any, tmp_path: Any
) -> None:
    run_in("team-a", settings, tmp_path)
    admin, viewer = Client(), Client()
    admin.force_login(user("ann", grants={"team-a": "admin"}))
    viewer.force_login(user("vic", grants={"team-a": "viewer"}))
    url = "/namespaces/team-a/sso-groups/"
    form = {"sso-group": "team-a-auditors", "sso-role": "viewer"}
    assert viewer.post(url, form).status_code == 403
    assert admin.post(url, form).status_code == 302
    page = admin.get("/namespaces/team-a/settings/").content.decode()
    assert "<code>team-a-auditors</code>" in page
    assert "sso_group:team-a-auditors" in page and "user:ann" in page  # the history
    bad = admin.post(url, {"sso-group": "", "sso-role": "owner"})
    assert bad.status_code == 400
    assert (
        admin.post("/namespaces/team-a/sso-groups/remove", {"group": "team-a-auditors"}).status_code
        == 302
    )
    assert not SsoGroupMapping.objects.exists()
    assert admin.post("/namespaces/team-b/sso-groups/", form).status_code == 404


def proxied(client: Client, path: str, name: str, groups: str, address: str) -> Any:
    return client.get(
        path, HTTP_X_FORWARDED_USER=name, HTTP_X_FORWARDED_GROUPS=groups, REMOTE_ADDR=address
    )


def test_the_proxy_is_believed_only_from_its_addresses(
    settings: Any, tmp_path: Any, caplog: Any
) -> None:
    settings.AUTH_PROXY_TRUSTED_NETWORKS = ["10.9.0.0/16"]
    run_in("team-a", settings, tmp_path)
    call_command("oidc_group_map", "add", "team-a-auditors", "team-a", stdout=io.StringIO())
    client = Client()
    with caplog.at_level(logging.WARNING, logger="provenance.sso.proxy"):
        outsider = proxied(client, "/runs/", "eve", "team-a-auditors", "203.0.113.5")
    assert outsider.status_code == 302 and "/accounts/login/" in outsider["Location"]
    assert "ignored X-Forwarded-User from 203.0.113.5" in caplog.text
    assert not get_user_model().objects.filter(username="eve").exists()

    inside = proxied(client, "/runs/", "bob", "team-a-auditors, everyone", "10.9.4.2")
    assert inside.status_code == 200 and "solo-1" in inside.content.decode()
    bob = get_user_model().objects.get(username="bob")
    assert dict(access_for_user(bob).roles) == {"team-a": "viewer"}
    moved = proxied(client, "/runs/", "bob", "everyone", "10.9.4.2")  # left the group
    assert moved.status_code == 200 and "solo-1" not in moved.content.decode()
    assert dict(access_for_user(bob).roles) == {}

    user("admin", staff=True)  # a local break-glass account: a proxy name never takes it over
    assert proxied(client, "/runs/", "admin", "", "10.9.4.2").status_code == 403


def test_local_passwords_follow_the_policy(settings: Any) -> None:
    user("breakglass", staff=True)
    user("carol")

    def signs_in(name: str) -> bool:
        client = Client()
        client.post("/accounts/login/", {"username": name, "password": PASSWORD})
        return "_auth_user_id" in client.session

    assert signs_in("breakglass") and signs_in("carol")
    settings.LOCAL_LOGIN = "staff"
    assert signs_in("breakglass") and not signs_in("carol")
    settings.LOCAL_LOGIN = "off"
    assert not signs_in("breakglass")
    page = Client().get("/accounts/login/").content.decode()
    assert 'type="password"' not in page
    settings.OIDC_ISSUER = "http://127.0.0.1:9"
    page = Client().get("/accounts/login/").content.decode()
    assert "Sign in with single sign-on" in page
