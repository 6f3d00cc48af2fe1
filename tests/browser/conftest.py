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
# axe-core from its lockfile (`make axe`): evaluated in the page through the DevTools protocol,
# which the page's Content-Security-Policy does not govern (a <script> tag would be refused).
AXE = Path(__file__).resolve().parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
# What a page must never have; "moderate" and "minor" findings are reported, not failed on.
AXE_FAILING = ("serious", "critical")
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


def axe_violations(page: Any) -> list[str]:
    """axe-core's serious and critical violations on the page as it is now (WCAG 2.x A and AA
    rules and axe's best practices), one line each: rule, impact, the first offending nodes."""
    if not AXE.is_file():
        pytest.fail(f"{AXE} is missing: run `make axe` (npm ci in tests/browser/axe)")
    # Settled: no htmx request under way, and its fade (0.2 s) over.
    page.wait_for_function("!document.querySelector('.htmx-request')")
    page.wait_for_timeout(250)
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text())
    result = page.evaluate(
        "axe.run(document, {resultTypes: ['violations']}).then(r => r.violations.map(v => ({"
        " id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))})))"
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {v['nodes']}"
        for v in result
        if v["impact"] in AXE_FAILING
    ]


def assert_accessible(page: Any, name: str) -> None:
    violations = axe_violations(page)
    assert violations == [], f"{name}: axe-core found {violations}"


def screenshot(page: Any, name: str) -> None:
    """The page at 1280 px and at 420 px, full length, under test-results/, each width checked
    with axe-core (no serious or critical violation)."""
    RESULTS.mkdir(exist_ok=True)
    assert_accessible(page, f"{name} at 1280 px")
    page.screenshot(path=str(RESULTS / f"{name}-1280.png"), full_page=True)
    page.set_viewport_size(NARROW)
    page.wait_for_timeout(100)
    page.screenshot(path=str(RESULTS / f"{name}-420.png"), full_page=True)
    assert_accessible(page, f"{name} at 420 px")
    # Usable on a narrow window: nothing pushes the page sideways (wide tables and the graph
    # scroll inside their own boxes).
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= NARROW["width"], f"{name}: the page is {width} px wide at 420 px"
    page.set_viewport_size(WIDE)
