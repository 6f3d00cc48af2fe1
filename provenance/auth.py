"""Bearer-token authentication and role checks for the API (tokens from ``create_token``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from .models import ApiToken
from .selectors import ROLE_RANK, api_token_active, token_namespaces


@dataclass(frozen=True, slots=True)
class TokenUser:
    """``request.user`` for a token: enough of the user interface for DRF."""

    token: ApiToken
    is_authenticated: bool = True
    is_anonymous: bool = False
    is_active: bool = True

    @property
    def name(self) -> str:
        return self.token.name

    @property
    def namespaces(self) -> set[str] | None:
        return token_namespaces(self.token)

    def __str__(self) -> str:
        return f"token:{self.token.name}"


class BearerTokenAuthentication(BaseAuthentication):
    """``Authorization: Bearer <token>``; the token is looked up by its sha256."""

    keyword = b"bearer"

    def authenticate(self, request: Request) -> tuple[TokenUser, ApiToken] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword:
            return None
        if len(parts) != 2:
            raise AuthenticationFailed("malformed Authorization header: expected 'Bearer <token>'")
        try:
            token = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise AuthenticationFailed("the token must be ASCII") from None
        row = api_token_active(token)
        if row is None:
            raise AuthenticationFailed("invalid, expired or revoked token")
        return TokenUser(token=row), row

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="chainsweb"'


class HasRole(BasePermission):
    """The token's role is at least the view's ``required_role``."""

    message = "this token's role may not do this"

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not isinstance(user, TokenUser):
            return False
        required = getattr(view, "required_role", ApiToken.Role.VIEWER)
        if request.method in ("GET", "HEAD", "OPTIONS"):
            required = getattr(view, "read_role", required)
        return ROLE_RANK[ApiToken.Role(user.token.role)] >= ROLE_RANK[ApiToken.Role(required)]
