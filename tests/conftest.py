"""Shared fixtures. pytest-django reads DJANGO_SETTINGS_MODULE from pyproject.toml."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    """Counters kept in the cache (the API rate limit, bad tokens per address) start at zero
    in every test: one test's bad tokens must not get another's requests a 429."""
    cache.clear()
    yield
