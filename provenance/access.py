"""Who may see and do what, per namespace — one answer for browser sessions and API tokens.

Every read of namespaced rows takes ``Access.visible()`` (``provenance.reads.visibility``);
every write checks ``Access.allows(namespace, role)``. Objects of namespaces a caller may not see
are simply absent (404 for one object, missing from lists and counts).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .models import ROLE_RANK, ApiToken, NamespaceGrant
from .reads.sso import with_group_roles


@dataclass(frozen=True, slots=True)
class TokenUser:
    """``request.user`` for a bearer token (``provenance.auth``): enough of a user for DRF."""

    token: ApiToken
    is_authenticated: bool = True
    is_anonymous: bool = False
    is_active: bool = True
    is_staff: bool = False

    @property
    def name(self) -> str:
        return self.token.name

    @property
    def namespaces(self) -> set[str] | None:
        """The namespaces the token may use; None means all."""
        return None if self.token.all_namespaces else set(self.token.namespaces)

    def __str__(self) -> str:
        return f"token:{self.token.name}"


@dataclass(frozen=True, slots=True)
class Access:
    """Roles per namespace, or one role everywhere (staff users; tokens made for all)."""

    actor: str
    roles: Mapping[str, str] = field(default_factory=dict)
    everywhere: str | None = None  # the role held in every namespace, if any
    authenticated: bool = True

    def visible(self) -> set[str] | None:
        """Namespaces the caller may read; None means all of them."""
        return None if self.everywhere is not None else set(self.roles)

    def role_in(self, namespace: str) -> str | None:
        if self.everywhere is not None:
            return self.everywhere
        return self.roles.get(namespace)

    def allows(self, namespace: str, role: str = ApiToken.Role.VIEWER) -> bool:
        held = self.role_in(namespace)
        return held is not None and ROLE_RANK[ApiToken.Role(held)] >= ROLE_RANK[ApiToken.Role(role)]

    def namespaces_with(self, role: str) -> set[str] | None:
        """Namespaces where the caller holds at least ``role``; None means all."""
        if self.everywhere is not None:
            rank = ROLE_RANK[ApiToken.Role(self.everywhere)]
            return None if rank >= ROLE_RANK[ApiToken.Role(role)] else set()
        return {ns for ns in self.roles if self.allows(ns, role)}


ANONYMOUS = Access(actor="anonymous", authenticated=False)


def access_for_user(user: Any) -> Access:
    """A Django user: staff see and administer everything; others have their grants."""
    if user is None or not getattr(user, "is_authenticated", False):
        return ANONYMOUS
    if not user.is_active:
        return ANONYMOUS
    if user.is_staff:
        return Access(actor=f"user:{user.get_username()}", everywhere=ApiToken.Role.ADMIN)
    grants = NamespaceGrant.objects.filter(user=user).values_list("namespace", "role")
    return Access(actor=f"user:{user.get_username()}", roles=with_group_roles(user, dict(grants)))


def access_for_token(token: ApiToken) -> Access:
    """An active API token: its role in its namespaces, or everywhere when made for all."""
    actor = f"token:{token.name}"
    if token.all_namespaces:
        return Access(actor=actor, everywhere=token.role)
    return Access(actor=actor, roles=dict.fromkeys(token.namespaces, token.role))


def access_for_request(request: Any) -> Access:
    """The caller of a Django or DRF request, by bearer token or session."""
    user = getattr(request, "user", None)
    if isinstance(user, TokenUser):
        return access_for_token(user.token)
    return access_for_user(user)
