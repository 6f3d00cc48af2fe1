"""Reads of the group mappings: the roles a user holds through their identity-provider groups,
and a namespace's mappings (for its settings page)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db.models import CharField, Exists, Func, OuterRef, QuerySet

from provenance.models import ROLE_RANK, ApiToken, SsoGroupMapping, SsoIdentity


def with_group_roles(user: Any, granted: dict[str, str]) -> dict[str, str]:
    """The grants given by hand, raised to what the groups of the user's last sign-in give where
    that is more (the strongest role when several groups give one). One query."""
    group_as_array = Func(
        OuterRef("group"),
        template="ARRAY[%(expressions)s]::varchar(255)[]",
        output_field=ArrayField(CharField(max_length=255)),
    )
    member = SsoIdentity.objects.filter(user_id=user.pk, groups__contains=group_as_array)
    roles = dict(granted)
    mapped = SsoGroupMapping.objects.filter(Exists(member)).values_list("namespace", "role")
    for namespace, role in mapped:
        rank = ROLE_RANK[ApiToken.Role(role)]
        if namespace not in roles or rank > ROLE_RANK[ApiToken.Role(roles[namespace])]:
            roles[namespace] = role
    return roles


def staff_by_groups(groups: list[str]) -> bool | None:
    """Whether these groups make someone staff; None when SSO_STAFF_GROUPS is not set (then
    staff status is given by hand only)."""
    if not settings.SSO_STAFF_GROUPS:
        return None
    return bool(set(groups) & set(settings.SSO_STAFF_GROUPS))


def group_mappings(namespace: str) -> QuerySet[SsoGroupMapping]:
    return SsoGroupMapping.objects.filter(namespace=namespace).order_by("group")


def all_group_mappings() -> QuerySet[SsoGroupMapping]:
    return SsoGroupMapping.objects.order_by("namespace", "group")
