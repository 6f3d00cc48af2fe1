"""The watcher's metrics, with the real kubernetes client against tests/test_watch_records.py's
local API server: records by outcome, relists after 410 Gone, reconnects by reason."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import REGISTRY

from provenance.models import RunRecord, WatchState
from tests.factories import pipeline_docs
from tests.test_watch_records import cluster, run_watcher, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

__all__ = ["cluster", "run_watcher"]


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_relists_reconnects_and_records_are_counted(cluster: Any, run_watcher: Any) -> None:
    fake, _ = cluster
    WatchState.objects.create(key="pipelineruns/*", resource_version="5")
    WatchState.objects.create(key="taskruns/*", resource_version="5")
    fake.gone_below = 50
    docs = pipeline_docs()
    fake.items["pipelineruns"] = docs[:1]
    fake.items["taskruns"] = docs[1:]
    created = sample("chainsweb_records_ingested_total", source="watch", outcome="created")
    relists = sample("chainsweb_watch_relists_total", stream="taskruns/*")
    gone = sample("chainsweb_watch_reconnects_total", stream="taskruns/*", reason="gone")
    run_watcher()
    wait_for(lambda: RunRecord.objects.count() == 3, "the relisted runs")
    wait_for(
        lambda: (
            sample("chainsweb_records_ingested_total", source="watch", outcome="created")
            == created + 3
        ),
        "the three records to be counted",
    )
    assert sample("chainsweb_watch_relists_total", stream="taskruns/*") == relists + 1
    assert (
        sample("chainsweb_watch_reconnects_total", stream="taskruns/*", reason="gone") == gone + 1
    )


def test_api_errors_are_counted_as_reconnects(cluster: Any, run_watcher: Any) -> None:
    fake, _ = cluster
    fake.fail_lists = 4
    fake.items["taskruns"] = pipeline_docs()[1:2]
    errors = sample("chainsweb_watch_reconnects_total", stream="taskruns/*", reason="error")
    run_watcher()
    wait_for(lambda: RunRecord.objects.count() == 1, "the run after the errors")
    assert sample("chainsweb_watch_reconnects_total", stream="taskruns/*", reason="error") >= (
        errors + 2
    )
