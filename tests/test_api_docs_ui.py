"""The Swagger UI at /api/docs/ renders in a real browser under the site's CSP: every asset is
local (drf-spectacular-sidecar) and the browser reports no Content-Security-Policy violation."""

from __future__ import annotations

import shutil
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(CHROMIUM is None, reason="needs the system chromium"),
]


def test_docs_render_every_operation_without_csp_violations(live_server: Any, settings) -> None:
    from playwright.sync_api import sync_playwright

    settings.WHITENOISE_USE_FINDERS = True  # the image serves them from collectstatic's folder
    console: list[str] = []
    outside: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.on("console", lambda message: console.append(message.text))
            page.on(
                "request",
                lambda request: (
                    None if request.url.startswith(live_server.url) else outside.append(request.url)
                ),
            )
            page.goto(f"{live_server.url}/api/docs/")
            page.wait_for_selector(".opblock", timeout=20_000)
            assert page.locator(".opblock").count() == 22
        finally:
            browser.close()
    assert not [m for m in console if "Content Security Policy" in m or "Refused" in m], console
    assert [u for u in outside if not u.startswith("data:")] == []
