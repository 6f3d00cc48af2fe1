"""Shared fixtures. pytest-django reads DJANGO_SETTINGS_MODULE from pyproject.toml."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    """Counters kept in the cache (the API rate limit, bad tokens per address) start at zero
    in every test: one test's bad tokens must not get another's requests a 429."""
    cache.clear()
    yield


@pytest.fixture
def post(client) -> Callable[[bytes], Any]:
    """POST a body to the ingest API as an ingester of every namespace; its JSON answer."""
    from tests.factories import make_token  # imports the models: once Django is set up

    token = make_token(role="ingester")

    def send(body: bytes) -> Any:
        response = client.post(
            "/api/v1/records",
            data=body,
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )
        assert response.status_code == 202, response.content
        return response.json()

    return send
