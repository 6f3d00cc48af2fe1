"""One access rule for sessions and tokens: roles per namespace, staff everywhere."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser, User

from provenance.access import access_for_token, access_for_user
from provenance.models import ApiToken, NamespaceGrant

pytestmark = pytest.mark.django_db


def test_signed_in_user_sees_only_granted_namespaces_with_their_roles() -> None:
    user = User.objects.create_user("ada")
    NamespaceGrant.objects.create(user=user, namespace="team-a", role="admin")
    NamespaceGrant.objects.create(user=user, namespace="team-b", role="viewer")
    access = access_for_user(user)
    assert access.visible() == {"team-a", "team-b"}
    assert access.allows("team-a", "admin")
    assert access.allows("team-b", "viewer") and not access.allows("team-b", "ingester")
    assert not access.allows("team-c")
    assert access.namespaces_with("admin") == {"team-a"}


def test_staff_see_everything_and_anonymous_nothing() -> None:
    staff = User.objects.create_user("root", is_staff=True)
    assert access_for_user(staff).visible() is None
    assert access_for_user(staff).allows("anything", "admin")
    anonymous = access_for_user(AnonymousUser())
    assert not anonymous.authenticated and anonymous.visible() == set()


def test_inactive_user_has_no_access() -> None:
    user = User.objects.create_user("gone", is_active=False)
    NamespaceGrant.objects.create(user=user, namespace="team-a", role="admin")
    assert access_for_user(user).visible() == set()


def test_token_role_applies_to_its_namespaces_only() -> None:
    token = ApiToken(name="ci", namespaces=["team-a"], role="ingester")
    access = access_for_token(token)
    assert access.allows("team-a", "ingester") and not access.allows("team-a", "admin")
    assert not access.allows("team-b")


def test_a_token_reaches_every_namespace_only_when_made_for_all() -> None:
    assert access_for_token(ApiToken(name="x", namespaces=[], role="viewer")).visible() == set()
    everywhere = access_for_token(ApiToken(name="y", all_namespaces=True, role="viewer"))
    assert everywhere.visible() is None
