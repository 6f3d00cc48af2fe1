"""factory_boy factories for the backend models, and realistic run records for ingest tests.

The records are Chains' own conformance inputs (``tests/data/tekton-chains``) given the metadata a
cluster adds: namespace, uid, resourceVersion, ownerReferences and the pipelineRun label.
"""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

import factory
import orjson

from provenance import services
from provenance.models import ApiToken, NamespaceSettings

CONFORMANCE = Path(__file__).resolve().parent / "data" / "tekton-chains" / "conformance"
# The source of test records: watched, so that their statements are Chains' (builder id and all).
TEST_SOURCE = services.RecordSource.watch(cluster="test", watcher="tests")
PIPELINE_CASE = "pipeline-v1__pipelinerun-childrefs.input.json"
TASKRUN_CASE = "pipeline-v1__taskrun1.input.json"


def _items(case: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = json.loads((CONFORMANCE / case).read_text())["items"]
    return items


def pipeline_docs(
    *,
    namespace: str = "team-a",
    name: str = "build-1",
    resource_version: int = 100,
    pr_status: str = "True",
) -> list[dict[str, Any]]:
    """A PipelineRun (first) and its two TaskRuns, with cluster metadata and unique uids."""
    pr, *children = copy.deepcopy(_items(PIPELINE_CASE))
    pr_uid = str(uuid.uuid4())
    pr["metadata"] = {
        "name": name,
        "namespace": namespace,
        "uid": pr_uid,
        "resourceVersion": str(resource_version),
        "labels": {"tekton.dev/pipeline": "build-pipeline"},
    }
    for condition in pr["status"]["conditions"]:
        if condition.get("type") == "Succeeded":
            condition["status"] = pr_status
            if pr_status == "Unknown":
                condition["reason"] = "Running"
    if pr_status == "Unknown":
        pr["status"].pop("completionTime", None)
    for offset, child in enumerate(children, start=1):
        labels = dict(child["metadata"].get("labels") or {})
        labels["tekton.dev/pipelineRun"] = name
        child["metadata"] = {
            "name": child["metadata"]["name"],
            "namespace": namespace,
            "uid": str(uuid.uuid4()),
            "resourceVersion": str(resource_version + offset),
            "labels": labels,
            "ownerReferences": [
                {"apiVersion": "tekton.dev/v1", "kind": "PipelineRun", "name": name, "uid": pr_uid}
            ],
        }
    return [pr, *children]


def taskrun_doc(*, namespace: str = "team-a", name: str = "solo-1", rv: int = 50) -> dict[str, Any]:
    """A standalone, succeeded TaskRun that names one image (IMAGE_URL/IMAGE_DIGEST)."""
    doc = copy.deepcopy(_items(TASKRUN_CASE)[0])
    labels = {k: v for k, v in (doc["metadata"].get("labels") or {}).items() if "pipeline" not in k}
    doc["metadata"] = {
        "name": name,
        "namespace": namespace,
        "uid": str(uuid.uuid4()),
        "resourceVersion": str(rv),
        "labels": labels,
    }
    return doc


def as_list(docs: list[dict[str, Any]]) -> bytes:
    return orjson.dumps({"apiVersion": "v1", "kind": "List", "items": docs})


def bump(doc: dict[str, Any], rv: int) -> dict[str, Any]:
    """The same object at another resourceVersion (content changed by an annotation)."""
    new = copy.deepcopy(doc)
    new["metadata"]["resourceVersion"] = str(rv)
    new["metadata"].setdefault("annotations", {})["test/rv"] = str(rv)
    return new


class ApiTokenFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ApiToken

    name = factory.Sequence(lambda n: f"user{n}")
    token_hash = factory.Sequence(lambda n: f"{n:064x}")
    prefix = "cwt_test"
    namespaces = factory.LazyFunction(lambda: ["team-a"])
    role = ApiToken.Role.INGESTER


class NamespaceSettingsFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = NamespaceSettings
        django_get_or_create = ("namespace",)

    namespace = "team-a"
    format = "slsa/v2alpha4"
    deep_inspection = False
    scope = "per-run"
    emit = "on-completion"
    builder_id = "https://tekton.dev/chains/v2"
    build_type = "https://tekton.dev/chains/v2/slsa"


def make_token(
    *, role: str = ApiToken.Role.INGESTER, namespaces: tuple[str, ...] = ("team-a",)
) -> str:
    """A real token (through the service) for API tests; returns the bearer string."""
    _, token = services.api_token_create(
        name=f"test-{role}", namespaces=namespaces, all_namespaces=not namespaces, role=role
    )
    return token
