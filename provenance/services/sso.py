"""Writes of single sign-on: a person signing in (user, identity and groups), and the group
mappings, each change audited like a settings change."""

from __future__ import annotations

import logging
import re
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from provenance.config import NAMESPACE_NAME
from provenance.models import ApiToken, SettingsAudit, SsoGroupMapping, SsoIdentity
from provenance.reads.sso import staff_by_groups

logger = logging.getLogger(__name__)

# Django's default username validator, and its column's length.
USERNAME = re.compile(r"[\w.@+-]{1,150}")
MAX_GROUP = 255


class SignInRefused(Exception):
    """A sign-in that must not succeed. The message is for the person and the log: it names
    what is wrong, never a token or a secret."""


class GroupMappingError(ValueError):
    """A group mapping that cannot be stored (bad group, namespace or role)."""


@transaction.atomic
def sso_user_signed_in(
    *, issuer: str, subject: str, username: str, email: str = "", groups: list[str]
) -> Any:
    """The user for this identity, created on its first sign-in; its groups (and, with
    SSO_STAFF_GROUPS, its staff status) are replaced by what the identity provider says now.

    A new identity never takes over an existing account: when its user name is already taken
    (a local break-glass account, or another identity's), the sign-in is refused.
    """
    groups = sorted({g for g in groups if g})
    identity = (
        SsoIdentity.objects.select_for_update()
        .select_related("user")
        .filter(issuer=issuer, subject=subject)
        .first()
    )
    user_model = get_user_model()
    if identity is None:
        if not USERNAME.fullmatch(username):
            raise SignInRefused(f"the user name {username!r} is not one chainsweb accepts")
        if user_model.objects.filter(username=username).exists():
            raise SignInRefused(
                f"the user name {username!r} belongs to another account; an administrator "
                "must rename one of them"
            )
        user = user_model.objects.create_user(username, email=email)
        user.set_unusable_password()
        user.save(update_fields=["password"])
        identity = SsoIdentity(user=user, issuer=issuer, subject=subject)
        logger.info("created user %s for %s at %s", username, subject, issuer)
    user = identity.user
    if not user.is_active:
        raise SignInRefused(f"the account {user.get_username()} is deactivated")
    changed = []
    if email and user.email != email:
        user.email = email
        changed.append("email")
    staff = staff_by_groups(groups)
    if staff is not None and user.is_staff != staff:
        user.is_staff = staff
        changed.append("is_staff")
    if changed:
        user.save(update_fields=changed)
    identity.groups = groups
    identity.signed_in = timezone.now()
    identity.save()
    return user


def _audit(namespace: str, actor: str, group: str, old: str | None, new: str | None) -> None:
    # One key per group, so the settings history shows "sso_group:team-a-auditors: — → viewer".
    key = f"sso_group:{group}"
    SettingsAudit.objects.create(
        namespace=namespace, actor=actor[:300], old={key: old}, new={key: new}
    )


def _check_mapping(group: str, namespace: str, role: str | None = None) -> None:
    if not group or group != group.strip() or len(group) > MAX_GROUP:
        raise GroupMappingError(
            f"a group is 1 to {MAX_GROUP} characters without spaces around it, got {group!r}"
        )
    if not NAMESPACE_NAME.fullmatch(namespace):
        raise GroupMappingError(f"{namespace!r} is not a Kubernetes namespace name")
    if role is not None and role not in ApiToken.Role.values:
        raise GroupMappingError(
            f"unknown role {role!r}; expected one of {', '.join(ApiToken.Role.values)}"
        )


@transaction.atomic
def sso_group_mapping_set(*, group: str, namespace: str, role: str, actor: str) -> bool:
    """Members of ``group`` get ``role`` in ``namespace`` (from their next request on: roles are
    worked out from the groups of each user's last sign-in). False when it already was so."""
    _check_mapping(group, namespace, role)
    row = (
        SsoGroupMapping.objects.select_for_update().filter(group=group, namespace=namespace).first()
    )
    if row is not None and row.role == role:
        return False
    old = row.role if row is not None else None
    if row is None:
        SsoGroupMapping.objects.create(
            group=group, namespace=namespace, role=role, created_by=actor[:300]
        )
    else:
        row.role = role
        row.save(update_fields=["role"])
    _audit(namespace, actor, group, old, role)
    return True


@transaction.atomic
def sso_group_mapping_remove(*, group: str, namespace: str, actor: str) -> bool:
    """Members of ``group`` lose what it gave them in ``namespace`` (grants given by hand stay).
    False when there was no such mapping."""
    _check_mapping(group, namespace)
    row = (
        SsoGroupMapping.objects.select_for_update().filter(group=group, namespace=namespace).first()
    )
    if row is None:
        return False
    row.delete()
    _audit(namespace, actor, group, row.role, None)
    return True
