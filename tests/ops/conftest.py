"""Fixtures of the operations tests: the Redis database per xdist worker (from
tests/test_tasks_worker.py) and Debian's chromium driven by Playwright (tests/browser)."""

from __future__ import annotations

from tests.browser.conftest import browser
from tests.test_tasks_worker import redis_url

__all__ = ["browser", "redis_url"]
