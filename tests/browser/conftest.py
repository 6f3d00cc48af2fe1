"""Playwright (sync API) driving Debian's chromium against pytest-django's live server.

The sync API runs an event loop in the test thread; Django would then refuse database access
from that thread, so the browser tests allow it (they never share a connection with the loop).
"""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import pytest  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
RESULTS = Path(__file__).resolve().parents[2] / "test-results"
WIDE = {"width": 1280, "height": 900}
NARROW = {"width": 420, "height": 900}


# Module scope, not session: Playwright's sync API keeps an event loop running in this thread
# while it is open, and any other test in this worker that starts its own sync_playwright()
# (tests/test_api_docs_ui.py) would then fail. pytest closes a module fixture before it moves on.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: run `make browser` (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


class Console:
    """Browser console errors, CSP violations included (they are reported there)."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.expected: list[str] = []

    def __call__(self, message: Any) -> None:
        if message.type == "error" and not any(e in message.text for e in self.expected):
            self.errors.append(message.text)

    def expect(self, text: str) -> None:
        """A test that provokes an error on purpose (a 404 page) says so."""
        self.expected.append(text)


@pytest.fixture
def console() -> Console:
    return Console()


@pytest.fixture
def page(browser: Any, live_server: Any, console: Console) -> Iterator[Any]:
    context = browser.new_context(viewport=WIDE, accept_downloads=True, base_url=live_server.url)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    context.set_default_timeout(15_000)
    new_page = context.new_page()
    new_page.on("console", console)
    new_page.on("pageerror", lambda error: console.errors.append(str(error)))
    yield new_page
    context.close()
    assert console.errors == [], console.errors


def screenshot(page: Any, name: str) -> None:
    """The page at 1280 px and at 420 px, full length, under test-results/."""
    RESULTS.mkdir(exist_ok=True)
    page.screenshot(path=str(RESULTS / f"{name}-1280.png"), full_page=True)
    page.set_viewport_size(NARROW)
    page.wait_for_timeout(100)
    page.screenshot(path=str(RESULTS / f"{name}-420.png"), full_page=True)
    # Usable on a narrow window: nothing pushes the page sideways (wide tables and the graph
    # scroll inside their own boxes).
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= NARROW["width"], f"{name}: the page is {width} px wide at 420 px"
    page.set_viewport_size(WIDE)
