"""Real-shaped records for the dashboard tests: the samples of provenance/samples/, renamed.

Each call gives fresh uids (and, with ``suffix``, fresh run names), so one sample can be
ingested many times, into any namespace. Data goes in through ``records_ingest``; with no
broker the compute task runs in-process and signs with a real key.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import orjson

from provenance import services
from tests.factories import TEST_SOURCE

SAMPLES = Path(__file__).resolve().parents[2] / "provenance" / "samples"
HOSTILE = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'


def sample_items(
    name: str, *, namespace: str | None = None, suffix: str | None = None
) -> list[dict[str, Any]]:
    text = (SAMPLES / f"{name}.json").read_text()
    items = _items(json.loads(text))
    for uid in {item["metadata"]["uid"] for item in items}:
        text = text.replace(uid, str(uuid.uuid4()))
    if suffix:
        run_name = items[0]["metadata"]["name"]
        text = text.replace(run_name, json.dumps(f"{run_name}-{suffix}")[1:-1])
    renamed = _items(json.loads(text))
    if namespace:
        for item in renamed:
            item["metadata"]["namespace"] = namespace
    return renamed


def _items(data: dict[str, Any]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = data.get("items", [data])
    return items


def ingest(
    items: list[dict[str, Any]], *, source: services.RecordSource = TEST_SOURCE
) -> services.IngestResult:
    data = orjson.dumps({"apiVersion": "v1", "kind": "List", "items": items})
    return services.records_ingest(data=data, namespaces_allowed=None, source=source)


def hostile_items(namespace: str = "storefront-ci") -> list[dict[str, Any]]:
    """build-push with attacker-controlled text in the run name, params, results and labels."""
    items = sample_items("build-push", namespace=namespace, suffix=HOSTILE)
    pr = items[0]
    pr["metadata"]["labels"]["tekton.dev/pipeline"] = HOSTILE
    pr["spec"]["params"].append({"name": "note", "value": HOSTILE})
    pr["status"]["results"].append({"name": "SUMMARY", "value": HOSTILE})
    for child in items[1:]:
        child["status"].setdefault("results", []).append({"name": "log", "value": HOSTILE})
    return items
