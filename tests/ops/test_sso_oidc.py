"""Single sign-on with OpenID Connect, in a real browser against a real OpenID Provider: the
certified ``oidc-provider`` package run by Node.js (tests/oidc/provider.mjs), which requires PKCE.

The full redirect flow each time: chainsweb's login page → the provider's sign-in page →
chainsweb's callback. Refusals: an ID token for another client, an expired one, one with another
sign-in's nonce, an answer with a forged state. Groups: roles follow the provider's groups at
every sign-in, apart from the grants given by hand. Sign-out ends chainsweb's session and the
provider's.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from provenance import services
from provenance.access import access_for_user
from provenance.models import NamespaceGrant, SsoIdentity
from provenance.services.sso import sso_group_mapping_set
from provenance.sso.oidc import forget_discovery
from tests.browser.conftest import CHROMIUM_ARGS
from tests.factories import TEST_SOURCE, as_list, taskrun_doc

from .stack import OpenIdProvider

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "alice-at-the-provider-7c1f"
RUN_NAMES = {"team-a": "build-team-a", "team-b": "build-team-b", "team-c": "build-team-c"}

assert CHROMIUM_ARGS  # the browser fixture (tests/ops/conftest.py) launches with these


@pytest.fixture
def runs(settings: Any, tmp_path: Path) -> None:
    settings.KEYS_DIR = tmp_path / "keys"
    for namespace, name in RUN_NAMES.items():
        services.records_ingest(
            data=as_list([taskrun_doc(namespace=namespace, name=name)]),
            namespaces_allowed=None,
            source=TEST_SOURCE,
        )


@pytest.fixture
def op(tmp_path: Path, live_server: Any, settings: Any) -> Iterator[OpenIdProvider]:
    provider = OpenIdProvider(tmp_path, live_server.url)
    provider.start()
    settings.OIDC_ISSUER = provider.issuer
    settings.OIDC_CLIENT_ID = settings.OIDC_RP_CLIENT_ID = provider.CLIENT_ID
    settings.OIDC_CLIENT_SECRET = settings.OIDC_RP_CLIENT_SECRET = provider.client_secret
    settings.AUTHENTICATION_BACKENDS = [
        "provenance.sso.local.LocalPasswordBackend",
        "provenance.sso.oidc.OidcBackend",
    ]
    settings.LOCAL_LOGIN = "staff"
    # As settings.py derives it from OIDC_ISSUER: signing out posts a form that redirects there.
    settings.CONTENT_SECURITY_POLICY = settings.CONTENT_SECURITY_POLICY.replace(
        "form-action 'self'", f"form-action 'self' {provider.issuer}"
    )
    forget_discovery()
    try:
        yield provider
    finally:
        forget_discovery()
        provider.stop()
        print(provider.text()[-2000:])


@pytest.fixture
def page(browser: Any, live_server: Any, op: OpenIdProvider) -> Iterator[Any]:
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(15_000)

    def loopback_only(route: Any) -> None:
        host = urlsplit(route.request.url).hostname
        if host in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            route.abort()

    context.route("**/*", loopback_only)
    new_page = context.new_page()
    errors: list[str] = []
    new_page.on("pageerror", lambda error: errors.append(str(error)))
    yield new_page
    context.close()
    assert errors == []


def provider_sign_in(page: Any, username: str, password: str = PASSWORD) -> None:
    """From chainsweb's login page through the provider's password page."""
    page.goto("/accounts/login/")
    page.get_by_role("link", name="Sign in with single sign-on").click()
    page.wait_for_url(re.compile(r"/interaction/"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Continue").click()


def signed_in(page: Any, live_server: Any) -> None:
    page.wait_for_url(f"{live_server.url}/")
    assert page.get_by_role("heading", name="Overview").is_visible()


def visible_runs(page: Any) -> set[str]:
    page.goto("/runs/")
    return {name for name in RUN_NAMES.values() if page.get_by_role("link", name=name).count()}


def sign_out(page: Any, live_server: Any) -> None:
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("button", name="Yes, sign me out").click()  # the provider's page
    page.wait_for_url(f"{live_server.url}/accounts/login/")


def refusal(page: Any) -> str:
    alert = page.get_by_role("alert")
    alert.wait_for()
    return str(alert.inner_text())


def test_first_sign_in_creates_the_user_with_their_groups_roles_and_sign_out_ends_it(
    page: Any, op: OpenIdProvider, live_server: Any, runs: None
) -> None:
    sso_group_mapping_set(group="team-a-auditors", namespace="team-a", role="viewer", actor="t")
    op.add_user("alice", PASSWORD, ["team-a-auditors", "everyone"])
    authorize: list[str] = []
    page.on("request", lambda r: r.url.startswith(f"{op.issuer}/auth") and authorize.append(r.url))

    provider_sign_in(page, "alice")
    signed_in(page, live_server)

    query = parse_qs(urlsplit(authorize[0]).query)
    assert query["response_type"] == ["code"] and query["client_id"] == ["chainsweb"]
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) == 43
    assert query["state"][0] and query["nonce"][0]
    alice = get_user_model().objects.get(username="alice")
    assert alice.email == "alice@example.org" and not alice.has_usable_password()
    identity = SsoIdentity.objects.get(user=alice)
    assert (identity.issuer, identity.subject) == (op.issuer, op.users["alice"]["sub"])
    assert identity.groups == ["everyone", "team-a-auditors"]
    assert dict(access_for_user(alice).roles) == {"team-a": "viewer"}
    assert visible_runs(page) == {"build-team-a"}

    page.goto("/")
    sign_out(page, live_server)
    page.goto("/runs/")
    assert "/accounts/login/" in page.url  # chainsweb's session is gone
    page.get_by_role("link", name="Sign in with single sign-on").click()
    page.wait_for_url(re.compile(r"/interaction/"))
    assert page.get_by_label("Password").is_visible()  # and so is the provider's


def test_roles_follow_the_groups_at_every_sign_in_and_hand_grants_stay(
    page: Any, op: OpenIdProvider, live_server: Any, runs: None
) -> None:
    sso_group_mapping_set(group="team-a-auditors", namespace="team-a", role="viewer", actor="t")
    sso_group_mapping_set(group="team-b-admins", namespace="team-b", role="admin", actor="t")
    op.add_user("alice", PASSWORD, ["team-a-auditors"])
    provider_sign_in(page, "alice")
    signed_in(page, live_server)
    alice = get_user_model().objects.get(username="alice")
    NamespaceGrant.objects.create(user=alice, namespace="team-c", role="viewer")  # by hand
    assert visible_runs(page) == {"build-team-a", "build-team-c"}
    page.goto("/")
    sign_out(page, live_server)

    op.set_groups("alice", ["team-b-admins"])  # moved to another team at the provider
    provider_sign_in(page, "alice")
    signed_in(page, live_server)
    assert dict(access_for_user(alice).roles) == {"team-b": "admin", "team-c": "viewer"}
    assert visible_runs(page) == {"build-team-b", "build-team-c"}
    page.goto("/namespaces/team-b/settings/")
    assert page.get_by_role("heading", name="Settings of team-b").is_visible()

    # An admin removes the mapping: the role goes at once; the grant given by hand stays.
    call_command("oidc_group_map", "remove", "team-b-admins", "team-b")
    assert dict(access_for_user(alice).roles) == {"team-c": "viewer"}
    assert visible_runs(page) == {"build-team-c"}


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("wrong-audience", "the ID token was issued to another client (aud)"),
        ("expired", "the ID token has expired"),
        ("wrong-nonce", "the ID token belongs to another sign-in (nonce)"),
    ],
)
def test_a_bad_id_token_is_refused(
    page: Any, op: OpenIdProvider, live_server: Any, fault: str, reason: str
) -> None:
    op.add_user("mallory", PASSWORD, ["team-a-auditors"])
    op.set_fault(fault)
    provider_sign_in(page, "mallory")
    page.wait_for_url(re.compile(r"/oidc/callback/"))
    assert reason in refusal(page)
    assert not get_user_model().objects.filter(username="mallory").exists()
    page.goto("/runs/")
    assert "/accounts/login/" in page.url

    # A sound token next time: in, without a password (the provider's session is still open).
    op.set_fault(None)
    page.goto("/accounts/login/")
    page.get_by_role("link", name="Sign in with single sign-on").click()
    signed_in(page, live_server)


def test_a_replayed_or_forged_state_is_refused(
    page: Any, op: OpenIdProvider, live_server: Any
) -> None:
    op.add_user("alice", PASSWORD, [])
    answers: list[str] = []
    page.on("request", lambda r: "/oidc/callback/?" in r.url and answers.append(r.url))
    provider_sign_in(page, "alice")
    signed_in(page, live_server)
    sign_out(page, live_server)

    # A new sign-in is under way in this browser (its state is in the session) when an answer
    # arrives: the earlier one again, then one with a made-up state.
    page.get_by_role("link", name="Sign in with single sign-on").click()
    page.wait_for_url(re.compile(r"/interaction/"))
    parts = urlsplit(answers[0])
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    forged = urlunsplit(parts._replace(query=urlencode({**query, "state": "forged"})))
    for answer in (answers[0], forged):
        page.goto(answer)
        assert "the answer belongs to no sign-in started in this browser (state)" in refusal(page)
        page.goto("/runs/")
        assert "/accounts/login/" in page.url
