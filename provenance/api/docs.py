"""The browsable API docs (Swagger UI from the drf-spectacular-sidecar package, no CDN).

drf-spectacular's "split" view serves Swagger UI's start-up script as a separate same-origin
file, so the page needs no inline script. Its template still holds one small inline ``<style>``
block; rather than 'unsafe-inline', this page's Content-Security-Policy allows exactly that
block by its sha256 — the one documented exception to the site-wide policy
(``provenance.security``).
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularSwaggerSplitView
from rest_framework.request import Request
from rest_framework.response import Response

_STYLE = re.compile(rb"<style[^>]*>(.*?)</style>", re.DOTALL | re.IGNORECASE)


def csp_with_style_hashes(policy: str, html: bytes) -> str:
    """``policy`` with each inline ``<style>`` block of ``html`` allowed by its sha256."""
    hashes = [
        "'sha256-" + base64.b64encode(hashlib.sha256(block).digest()).decode() + "'"
        for block in _STYLE.findall(html)
    ]
    if not hashes:
        return policy
    directives = [d.strip() for d in policy.split(";") if d.strip()]
    for index, directive in enumerate(directives):
        if directive.split()[0] == "style-src":
            directives[index] = " ".join([directive, *hashes])
            break
    else:
        directives.append(" ".join(["style-src 'self'", *hashes]))
    return "; ".join(directives)


class ApiDocsView(SpectacularSwaggerSplitView):
    """GET /api/docs/: Swagger UI over /api/schema/."""

    @extend_schema(exclude=True)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response: Response = super().get(request, *args, **kwargs)  # type: ignore[no-untyped-call]
        if request.GET.get("script") is None:

            def allow_inline_style(rendered: Any) -> None:
                policy = settings.CONTENT_SECURITY_POLICY
                if policy:
                    rendered["Content-Security-Policy"] = csp_with_style_hashes(
                        policy, rendered.content
                    )

            response.add_post_render_callback(allow_inline_style)
        return response
