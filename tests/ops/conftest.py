"""Fixtures of the operations tests (the Redis database per xdist worker comes from
tests/test_tasks_worker.py)."""

from __future__ import annotations

from tests.test_tasks_worker import redis_url

__all__ = ["redis_url"]
