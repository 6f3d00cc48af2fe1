"""``manage.py demo``: loads and signs the samples and creates the demo users, idempotently."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command
from django.test import RequestFactory

from provenance.models import Attestation, NamespaceGrant, RunRecord, SettingsAudit

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _keys(settings: Any, tmp_path: Any) -> None:
    settings.KEYS_DIR = tmp_path / "keys"


def run_demo(django_capture_on_commit_callbacks: Any, *args: str) -> str:
    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("demo", "--allow-external-db", *args, stdout=out)
    return out.getvalue()


def signs_in(*, username: str, password: str) -> Any:
    """The user a sign-in with these credentials gets, through every authentication backend
    (django-axes needs the request it counts failures by)."""
    return authenticate(
        RequestFactory().post("/accounts/login/"), username=username, password=password
    )


def test_demo_loads_signs_and_creates_users_once(django_capture_on_commit_callbacks: Any) -> None:
    output = run_demo(django_capture_on_commit_callbacks, "--password", "first-password")
    assert "demo / first-password" in output and "viewer / first-password" in output
    counts = (RunRecord.objects.count(), Attestation.objects.count())
    assert counts[0] == 14 and counts[1] >= 4
    assert Attestation.objects.filter(namespace="inventory-release", scope="per-artifact").count()
    assert signs_in(username="demo", password="first-password").is_superuser
    assert NamespaceGrant.objects.get(user__username="viewer").namespace == "storefront-ci"

    again = run_demo(django_capture_on_commit_callbacks)
    assert "0 created" in again and "demo / " in again
    assert (RunRecord.objects.count(), Attestation.objects.count()) == counts
    assert SettingsAudit.objects.count() == 1
    # The command's change is not the demo user's ("user:demo" in the dashboard).
    assert SettingsAudit.objects.get().actor == "demo (command line)"
    # A generated password each run, printed; the old one no longer works.
    generated = again.split("demo / ")[1].split()[0]
    assert signs_in(username="demo", password=generated) is not None
    assert signs_in(username="demo", password="first-password") is None


def test_demo_refuses_a_real_database_unless_told() -> None:
    with pytest.raises(CommandError, match="embedded database"):
        call_command("demo", stdout=StringIO())
