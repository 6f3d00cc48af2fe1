"""API authentication (bearer tokens from ``create_token``, or the browser session), the role
check every API view runs, and the per-caller rate limit.

Who may see what lives in ``provenance.access``; this module only connects DRF to it.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from .access import Access, TokenUser, access_for_request
from .models import ROLE_RANK, ApiToken
from .reads.tokens import api_token_active

__all__ = [
    "ROLE_RANK",
    "ApiRateThrottle",
    "BearerTokenAuthentication",
    "HasRole",
    "TokenUser",
    "request_access",
]


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


def request_access(request: Any) -> Access:
    """The caller's ``Access``, computed once per request (a session user's grants are a query)."""
    cached = getattr(request, "_chainsweb_access", None)
    if isinstance(cached, Access):
        return cached
    access = access_for_request(request)
    request._chainsweb_access = access
    return access


class HasRole(BasePermission):
    """Authenticated, and for writes holding the view's ``required_role`` in some namespace.

    Which namespace a write touches is only known inside the view (the records in a body, the
    namespace in the path); the view checks that with ``Access.allows``. This early check turns
    away callers that cannot write anywhere before their body is even read.
    """

    message = "your role may not do this"

    def has_permission(self, request: Request, view: Any) -> bool:
        access = request_access(request)
        if not access.authenticated:
            return False
        if request.method in SAFE_METHODS:
            return True
        required = getattr(view, "required_role", ApiToken.Role.ADMIN)
        if access.namespaces_with(required) == set():
            self.message = f"this needs the {required} role, which you hold in no namespace"
            return False
        return True


class ApiRateThrottle(SimpleRateThrottle):
    """``API_RATE_LIMIT`` requests per caller (e.g. ``600/min``), keyed by token id, else by
    user id, else by client address. Over it: 429 with ``Retry-After``.

    The rate is read from settings on every request (not once at import like DRF's default
    throttles), so tests and operators can change it without a restart of the class.
    """

    scope = "api"

    def get_rate(self) -> str | None:
        rate = getattr(settings, "API_RATE_LIMIT", None)
        return str(rate) if rate else None

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        user = getattr(request, "user", None)
        if isinstance(user, TokenUser):
            ident = f"token:{user.token.pk}"
        elif user is not None and getattr(user, "is_authenticated", False):
            ident = f"user:{user.pk}"
        else:
            ident = f"ip:{self.get_ident(request)}"
        return f"throttle_{self.scope}_{ident}"
