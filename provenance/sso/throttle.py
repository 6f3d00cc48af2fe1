"""Sign-in throttling (docs/security.md, "Sign-in throttling"): repeated wrong passwords lock an
account and an address out for a while (django-axes), and repeated bad API tokens from one
address get a 429.

Both key an address the way the trusted-proxy sign-in does: ``REMOTE_ADDR``, unless it is one
of ``AUTH_PROXY_TRUSTED_NETWORKS``; then the nearest address in ``X-Forwarded-For`` that is not
a trusted proxy. Behind a proxy every request comes from the proxy's address, so taking it would
lock everyone out together; trusting ``X-Forwarded-For`` from anyone would let a guesser pick a
fresh address for every try.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import cache
from django.http import HttpRequest
from django.shortcuts import render
from rest_framework.authentication import get_authorization_header
from rest_framework.exceptions import AuthenticationFailed, Throttled
from rest_framework.request import Request

from provenance.auth import BearerTokenAuthentication, TokenUser
from provenance.models import ApiToken
from provenance.ops import address_allowed

logger = logging.getLogger(__name__)


def client_address(request: HttpRequest) -> str:
    """The address a request came from, seen through trusted proxies only."""
    remote = str(request.META.get("REMOTE_ADDR", ""))
    trusted = settings.AUTH_PROXY_TRUSTED_NETWORKS
    if not trusted or not address_allowed(remote, trusted):
        return remote
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    for hop in reversed([hop for hop in hops if hop]):
        if not address_allowed(hop, trusted):
            return str(hop)
    return remote


def sign_in_locked_out(request: HttpRequest, *args: Any) -> Any:
    """django-axes' lock-out answer: the sign-in page again, saying so, with 429."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    logger.warning("sign-in locked out for %s", client_address(request) or "an unknown address")
    return render(
        request,
        "provenance/login.html",
        {
            "form": AuthenticationForm(request),
            "locked_out": (
                f"Too many failed sign-ins for this account or from this address: signing in "
                f"is locked for {minutes} minutes. An administrator can lift it now "
                "(manage.py axes_reset_username NAME, or Access attempts in the admin site)."
            ),
        },
        status=429,
    )


def sign_in_exempt(request: HttpRequest, credentials: Any = None) -> bool:
    """Only password sign-ins count: single sign-on (no username in the credentials) is
    checked by the identity provider, and its failures must not lock a password out."""
    return not (isinstance(credentials, dict) and credentials.get("username"))


class _BadTokens:
    """Failed bearer tokens per address in a fixed window, counted in CACHES["default"]."""

    def __init__(self, address: str) -> None:
        self.key = f"bad-token:{address}"
        self.limit = settings.API_BAD_TOKEN_LIMIT
        self.window = settings.API_BAD_TOKEN_WINDOW

    def over(self) -> bool:
        return bool(self.limit) and int(cache.get(self.key, 0)) >= self.limit

    def count(self) -> None:
        if not self.limit:
            return
        cache.add(self.key, 0, timeout=self.window)
        try:
            cache.incr(self.key)
        except ValueError:  # expired between add and incr
            cache.set(self.key, 1, timeout=self.window)


class ThrottledBearerAuthentication(BearerTokenAuthentication):
    """Bearer tokens, with a limit on wrong ones: after ``API_BAD_TOKEN_LIMIT`` invalid, expired
    or revoked tokens from an address within ``API_BAD_TOKEN_WINDOW`` seconds, every token from
    it gets 429 (JSON, with Retry-After) until the window ends, so tokens cannot be guessed at
    the API's general rate."""

    def authenticate(self, request: Request) -> tuple[TokenUser, ApiToken] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword:
            return None  # not a bearer token: the session, or anonymous
        bad = _BadTokens(client_address(request._request))
        if bad.over():
            raise Throttled(
                wait=settings.API_BAD_TOKEN_WINDOW,
                detail="too many invalid tokens from this address; try again later",
            )
        try:
            return super().authenticate(request)
        except AuthenticationFailed:
            bad.count()
            raise
