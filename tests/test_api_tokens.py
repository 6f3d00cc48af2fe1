"""API tokens: explicit namespaces (or an explicit --all-namespaces), expiry, revocation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction
from django.utils import timezone

from provenance import services
from provenance.models import ApiToken
from provenance.reads.tokens import api_token_active
from tests.apidata import caller_with_token

pytestmark = pytest.mark.django_db


def run(name: str, *args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(name, *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_a_token_without_namespaces_must_ask_for_all_of_them() -> None:
    with pytest.raises(CommandError, match="--all-namespaces"):
        run("create_token", "--user", "ci")
    with pytest.raises(CommandError):
        run("create_token", "--user", "ci", "--namespace", "team-a", "--all-namespaces")
    assert not ApiToken.objects.exists()
    with pytest.raises(ValueError, match="all namespaces explicitly"):
        services.api_token_create(name="ci", namespaces=())
    with pytest.raises(ValueError, match="not both"):
        services.api_token_create(name="ci", namespaces=["team-a"], all_namespaces=True)


def test_the_database_refuses_an_empty_namespace_list_that_is_not_all() -> None:
    row, _ = services.api_token_create(name="ci", namespaces=["team-a"])
    with pytest.raises(IntegrityError), transaction.atomic():
        ApiToken.objects.filter(pk=row.pk).update(namespaces=[])
    with pytest.raises(IntegrityError), transaction.atomic():
        ApiToken.objects.filter(pk=row.pk).update(all_namespaces=True)


def test_all_namespaces_token_sees_every_namespace() -> None:
    out, err = run("create_token", "--user", "auditor", "--all-namespaces")
    row = ApiToken.objects.get()
    assert row.all_namespaces and row.namespaces == [] and "all namespaces" in err
    assert (
        caller_with_token(out.strip()).get("/api/v1/namespaces/any-ns/settings").status_code == 200
    )


def test_bad_namespace_names_are_refused() -> None:
    with pytest.raises(CommandError, match="not a Kubernetes namespace name"):
        run("create_token", "--user", "ci", "--namespace", "Team_A")


@pytest.mark.parametrize(
    ("value", "delta"),
    [
        ("30d", timedelta(days=30)),
        ("12h", timedelta(hours=12)),
        ("90m", timedelta(minutes=90)),
        ("2w", timedelta(weeks=2)),
        ("1d12h", timedelta(days=1, hours=12)),
    ],
)
def test_expires_in(value, delta) -> None:
    before = timezone.now()
    out, err = run("create_token", "--user", "ci", "--namespace", "team-a", "--expires-in", value)
    row = ApiToken.objects.get()
    assert row.expires_at is not None
    assert before + delta <= row.expires_at <= timezone.now() + delta
    assert "expires" in err


@pytest.mark.parametrize("value", ["30", "d", "-1d", "0d", "3 days", "1y"])
def test_bad_expires_in_is_a_clean_error(value) -> None:
    with pytest.raises(CommandError):
        run("create_token", "--user", "ci", "--namespace", "team-a", "--expires-in", value)
    assert not ApiToken.objects.exists()


def test_expires_at() -> None:
    run("create_token", "--user", "ci", "--namespace", "team-a", "--expires-at", "2099-01-31")
    assert ApiToken.objects.get().expires_at == datetime(2099, 1, 31, tzinfo=UTC)
    ApiToken.objects.all().delete()
    run(
        "create_token", "--user", "ci", "--namespace", "team-a",
        "--expires-at", "2099-01-31T12:00:00+02:00",
    )  # fmt: skip
    assert ApiToken.objects.get().expires_at == datetime(2099, 1, 31, 10, tzinfo=UTC)
    with pytest.raises(CommandError, match="in the past"):
        run("create_token", "--user", "ci", "--namespace", "team-a", "--expires-at", "2000-01-01")
    with pytest.raises(CommandError, match="ISO 8601"):
        run("create_token", "--user", "ci", "--namespace", "team-a", "--expires-at", "soon")


def test_an_expired_token_is_refused() -> None:
    out, _ = run("create_token", "--user", "ci", "--namespace", "team-a", "--expires-in", "1h")
    caller = caller_with_token(out.strip())
    assert caller.get("/api/v1/keys").status_code == 200
    ApiToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = caller.get("/api/v1/keys")
    assert response.status_code == 401
    assert response.json() == {"error": "invalid, expired or revoked token"}
    assert response["WWW-Authenticate"] == 'Bearer realm="chainsweb"'


@pytest.mark.parametrize("by", ["prefix", "id", "token"])
def test_revoke_token(by) -> None:
    out, err = run("create_token", "--user", "ci", "--namespace", "team-a")
    value = out.strip()
    row = ApiToken.objects.get()
    caller = caller_with_token(value)
    assert caller.get("/api/v1/keys").status_code == 200
    name = {"prefix": row.prefix, "id": str(row.pk), "token": value}[by]
    assert row.prefix in err  # create_token shows the prefix to revoke by
    out, _ = run("revoke_token", name)
    assert f"Token {row.pk}" in out and "revoked at" in out
    assert api_token_active(value) is None
    assert caller.get("/api/v1/keys").status_code == 401
    # Idempotent: the first revocation time stays.
    first = ApiToken.objects.get().revoked_at
    out, _ = run("revoke_token", name)
    assert "already revoked" in out and ApiToken.objects.get().revoked_at == first


def test_revoke_token_errors() -> None:
    with pytest.raises(CommandError, match="no token matches"):
        run("revoke_token", "cwt_nonexistent")
    with pytest.raises(CommandError, match="no token matches"):
        run("revoke_token", "12345")
    with pytest.raises(CommandError, match="at least its first 12"):
        run("revoke_token", "cwt_")
    # Two tokens that share a prefix (astronomically unlikely, but possible): ask for the id.
    a, _ = services.api_token_create(name="a", namespaces=["team-a"])
    b, _ = services.api_token_create(name="b", namespaces=["team-a"])
    ApiToken.objects.filter(pk=b.pk).update(prefix=a.prefix)
    with pytest.raises(CommandError, match="several tokens"):
        run("revoke_token", a.prefix)
    assert not ApiToken.objects.filter(revoked_at__isnull=False).exists()
