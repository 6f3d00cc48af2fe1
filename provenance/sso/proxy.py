"""Trusted reverse-proxy sign-in (oauth2-proxy in front, as Tekton Dashboard deployments do).

The proxy authenticates people and names them in ``X-Forwarded-User`` and their groups in
``X-Forwarded-Groups`` (comma-separated). Those headers are believed only from the addresses in
``AUTH_PROXY_TRUSTED_NETWORKS``: from anyone else they are ignored and the attempt is logged,
because anyone can send a header. Each request is authenticated on its own (no session), and
the user is created on their first request, like an OpenID Connect sign-in.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseBase

from provenance.models import SsoIdentity
from provenance.ops import address_allowed
from provenance.reads.sso import staff_by_groups
from provenance.services.sso import SignInRefused, sso_user_signed_in

logger = logging.getLogger(__name__)


def _meta_name(header: str) -> str:
    return "HTTP_" + header.upper().replace("-", "_")


class TrustedProxyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        name = request.META.get(_meta_name(settings.AUTH_PROXY_USER_HEADER), "").strip()
        if name:
            address = request.META.get("REMOTE_ADDR", "")
            if not settings.AUTH_PROXY_TRUSTED_NETWORKS or not address_allowed(
                address, settings.AUTH_PROXY_TRUSTED_NETWORKS
            ):
                logger.warning(
                    "ignored %s from %s: not a trusted proxy address",
                    settings.AUTH_PROXY_USER_HEADER,
                    address or "an unknown address",
                )
            else:
                self._authenticate(request, name)
        return self.get_response(request)

    def _authenticate(self, request: HttpRequest, name: str) -> None:
        raw = request.META.get(_meta_name(settings.AUTH_PROXY_GROUPS_HEADER), "")
        groups = sorted({g.strip() for g in raw.split(",") if g.strip()})
        identity = (
            SsoIdentity.objects.select_related("user")
            .filter(issuer=SsoIdentity.PROXY, subject=name)
            .first()
        )
        staff = staff_by_groups(groups)
        unchanged = (
            identity is not None
            and identity.groups == groups
            and identity.user.is_active
            and (staff is None or identity.user.is_staff == staff)
        )
        if unchanged:
            user = identity.user  # type: ignore[union-attr]
        else:
            try:
                user = sso_user_signed_in(
                    issuer=SsoIdentity.PROXY, subject=name, username=name, groups=groups
                )
            except SignInRefused as exc:
                logger.warning("proxy sign-in of %s refused: %s", name, exc)
                raise PermissionDenied(f"sign-in refused: {exc}") from None
            logger.info(
                "signed in %s through the proxy (groups: %s)", name, ", ".join(groups) or "none"
            )
        request.user = user
        request.sso_proxy = True  # type: ignore[attr-defined]
