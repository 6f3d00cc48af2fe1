"""Security headers on every response: pages, API, static files and error pages alike.

Django's own middleware already sends ``X-Content-Type-Options: nosniff``
(``SECURE_CONTENT_TYPE_NOSNIFF``), ``Referrer-Policy`` (``SECURE_REFERRER_POLICY``), HSTS on HTTPS
requests (``SECURE_HSTS_SECONDS``) and ``X-Frame-Options: DENY`` (``XFrameOptionsMiddleware``).
This adds the Content-Security-Policy, and sets the other three again so that a response that
skipped Django's middleware (one a middleware above them returned) still carries them.

A view may send its own, stricter or documented policy by setting the header itself; the only
one that does is the API docs page (``provenance.api.docs``), which allows its one inline
``<style>`` block by hash.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase

CSP = "Content-Security-Policy"


class SecurityHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        policy = settings.CONTENT_SECURITY_POLICY
        if policy and CSP not in response:
            response[CSP] = policy
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", settings.X_FRAME_OPTIONS)
        if settings.SECURE_REFERRER_POLICY:
            response.headers.setdefault("Referrer-Policy", str(settings.SECURE_REFERRER_POLICY))
        return response
