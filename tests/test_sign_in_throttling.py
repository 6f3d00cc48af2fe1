"""Issue 11, finding 4: the sign-in and admin sign-in forms took 200 wrong passwords at 7/s and
then the right one. Now wrong passwords lock the account, and the address, out (429 and a
message on the sign-in page) until the lock-out ends or an administrator lifts it; wrong API
tokens from one address get 429 too."""

from __future__ import annotations

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client, RequestFactory

from tests.apidata import bearer, token

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.AXES_FAILURE_LIMIT = 3
    settings.API_BAD_TOKEN_LIMIT = 4


@pytest.fixture
def alice() -> User:
    return User.objects.create_user("alice", password=PASSWORD, is_staff=True)


def sign_in(client: Client, username: str, password: str, url: str = LOGIN, **extra):
    return client.post(url, {"username": username, "password": password}, **extra)


def signed_in(response) -> bool:
    return response.status_code == 302 and response.wsgi_request.user.is_authenticated


def test_wrong_passwords_lock_the_account_out_even_for_the_right_one(alice) -> None:
    client = Client()
    assert [sign_in(client, "alice", "wrong").status_code for _ in range(3)] == [200, 200, 429]
    locked = sign_in(client, "alice", PASSWORD)
    assert locked.status_code == 429
    assert not locked.wsgi_request.user.is_authenticated
    body = locked.content.decode()
    assert 'id="locked-out"' in body and "locked for 15 minutes" in body
    # Another address does not unlock the account.
    assert sign_in(Client(), "alice", PASSWORD, REMOTE_ADDR="10.9.9.9").status_code == 429


def test_the_address_is_locked_out_whatever_the_account(alice) -> None:
    client = Client()
    for name in ("bob", "carol", "dave"):
        sign_in(client, name, "wrong", REMOTE_ADDR="10.0.0.7")
    assert sign_in(client, "alice", PASSWORD, REMOTE_ADDR="10.0.0.7").status_code == 429
    assert signed_in(sign_in(Client(), "alice", PASSWORD, REMOTE_ADDR="10.0.0.8"))


def test_the_admin_sign_in_is_throttled_too(alice) -> None:
    client = Client()
    for _ in range(3):
        sign_in(client, "alice", "wrong", url="/admin/login/")
    assert sign_in(client, "alice", PASSWORD, url="/admin/login/").status_code == 429


def test_an_administrator_unlocks_an_account(alice) -> None:
    for _ in range(3):
        sign_in(Client(), "alice", "wrong", REMOTE_ADDR=f"10.1.0.{_}")
    assert sign_in(Client(), "alice", PASSWORD, REMOTE_ADDR="10.1.1.1").status_code == 429
    call_command("axes_reset_username", "alice")
    assert signed_in(sign_in(Client(), "alice", PASSWORD, REMOTE_ADDR="10.1.1.1"))


def test_the_lock_outs_are_listed_in_the_admin_site(alice) -> None:
    for _ in range(3):
        sign_in(Client(), "mallory", "wrong", REMOTE_ADDR="10.2.0.1")
    admin = Client()
    admin.force_login(User.objects.create_superuser("root", password=PASSWORD))
    page = admin.get("/admin/axes/accessattempt/")
    assert page.status_code == 200 and "mallory" in page.content.decode()


def test_behind_a_trusted_proxy_each_client_is_counted_on_its_own(alice, settings) -> None:
    settings.AUTH_PROXY_TRUSTED_NETWORKS = ["10.50.0.0/16"]
    proxy = {"REMOTE_ADDR": "10.50.0.2"}
    for _ in range(3):
        sign_in(Client(), "x", "wrong", HTTP_X_FORWARDED_FOR="198.51.100.7", **proxy)
    # The guesser's address is locked out; the proxy's other clients are not.
    assert (
        sign_in(Client(), "y", "wrong", HTTP_X_FORWARDED_FOR="198.51.100.7", **proxy).status_code
        == 429
    )
    assert signed_in(
        sign_in(Client(), "alice", PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.5", **proxy)
    )


def test_a_forwarded_for_header_from_anyone_else_is_ignored(alice) -> None:
    # Not a trusted proxy: a fresh X-Forwarded-For per try does not give a fresh address.
    for n in range(3):
        sign_in(Client(), "x", "wrong", REMOTE_ADDR="192.0.2.9", HTTP_X_FORWARDED_FOR=f"1.1.1.{n}")
    response = sign_in(
        Client(), "alice", PASSWORD, REMOTE_ADDR="192.0.2.9", HTTP_X_FORWARDED_FOR="1.1.1.99"
    )
    assert response.status_code == 429


def test_single_sign_on_failures_do_not_lock_passwords_out(alice) -> None:
    request = RequestFactory().get("/oidc/callback/")
    for _ in range(5):  # what an OIDC callback passes: no username
        assert authenticate(request, code="bad", nonce="n") is None
    assert signed_in(sign_in(Client(), "alice", PASSWORD))


def test_bad_api_tokens_from_one_address_get_429() -> None:
    client = Client()
    good = token(role="viewer")
    for n in range(4):
        response = client.get("/api/v1/records", **bearer(f"cwt_wrong{n}"))
        assert response.status_code == 401
    response = client.get("/api/v1/records", **bearer("cwt_wrong5"))
    assert response.status_code == 429
    assert response["Content-Type"] == "application/json"
    assert "too many invalid tokens" in response.json()["error"]
    assert int(response["Retry-After"]) > 0
    # Even a valid token from that address waits; from another address it works.
    assert client.get("/api/v1/records", **bearer(good)).status_code == 429
    assert client.get("/api/v1/records", REMOTE_ADDR="10.3.0.1", **bearer(good)).status_code == 200
