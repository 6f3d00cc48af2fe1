"""Real, signed test data for the API tests: records go through ``records_ingest`` and are
attested by ``attestations_generate`` (the services the worker runs), so every attestation here
is a genuine signed envelope in the hash chain."""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass, field
from typing import Any

import orjson
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.utils import timezone

from provenance import services
from provenance.models import ApiToken, Attestation, RunRecord
from tests.factories import TEST_SOURCE, as_list, pipeline_docs, taskrun_doc

# The one image digest the Chains conformance fixtures name; tests swap in their own.
FIXTURE_HEX = "827521c857fdcd4374f4da5442fbae2edb01e7fbae285c3ec15673d4c1daecb7"


def hex_for(label: str) -> str:
    return hashlib.sha256(label.encode()).hexdigest()


def with_digest(docs: list[dict[str, Any]], hex_value: str) -> list[dict[str, Any]]:
    """The same records naming another image digest (so tests do not share subjects)."""
    text = orjson.dumps(docs).decode().replace(FIXTURE_HEX, hex_value)
    result: list[dict[str, Any]] = orjson.loads(text)
    return result


def set_task_status(docs: list[dict[str, Any]], pipeline_task: str, status: str) -> None:
    """Make the TaskRun of ``pipeline_task`` end with Succeeded=status (in place)."""
    for doc in docs:
        labels = doc["metadata"].get("labels") or {}
        if doc["kind"] == "TaskRun" and labels.get("tekton.dev/pipelineTask") == pipeline_task:
            for condition in doc["status"]["conditions"]:
                if condition.get("type") == "Succeeded":
                    condition["status"] = status
                    condition["reason"] = "Failed" if status == "False" else "Succeeded"


def ingest_and_sign(docs: list[dict[str, Any]] | bytes) -> list[Attestation]:
    """Store the records and run the compute service for each affected run, as the worker
    would; returns the attestations created."""
    data = docs if isinstance(docs, bytes) else as_list(docs)
    result = services.records_ingest(data=data, namespaces_allowed=None, source=TEST_SOURCE)
    created: list[int] = []
    for run_id in result.enqueued:
        created.extend(services.attestations_generate(run_id=run_id).created)
    return list(Attestation.objects.filter(pk__in=created).order_by("id"))


def signed_pipeline(
    *,
    namespace: str = "team-a",
    name: str = "build-1",
    label: str | None = None,
    pr_status: str = "True",
    failed_task: str | None = None,
    settings: dict[str, Any] | None = None,
) -> tuple[list[dict[str, Any]], list[Attestation], str]:
    """A PipelineRun with its two TaskRuns (git-clone, build) naming a unique image digest,
    signed under the given namespace settings. Returns (docs, attestations, "sha256:hex")."""
    if settings:
        services.namespace_settings_update(namespace=namespace, changes=settings, actor="test")
    hex_value = hex_for(label or f"{namespace}/{name}")
    docs = with_digest(
        pipeline_docs(namespace=namespace, name=name, pr_status=pr_status), hex_value
    )
    if failed_task:
        set_task_status(docs, failed_task, "False")
    return docs, ingest_and_sign(docs), f"sha256:{hex_value}"


def signed_taskrun(
    *, namespace: str = "team-a", name: str = "solo-1", label: str | None = None
) -> tuple[dict[str, Any], list[Attestation], str]:
    hex_value = hex_for(label or f"{namespace}/{name}")
    doc = with_digest([taskrun_doc(namespace=namespace, name=name)], hex_value)[0]
    return doc, ingest_and_sign([doc]), f"sha256:{hex_value}"


def tamper(sql: str, params: list[Any]) -> None:
    """Change stored rows behind the application's back, as a database owner could: the
    append-only triggers are disabled (docs/backend.md). Rolled back with the test's
    transaction, which also restores the triggers."""
    with connection.cursor() as cursor:
        # Django's foreign keys are deferred; ALTER TABLE needs no pending checks.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for table in ("attestation", "chainentry", "attestation_subjects"):
            cursor.execute(f"ALTER TABLE provenance_{table} DISABLE TRIGGER USER")
        cursor.execute(sql, params)


def token(
    *,
    role: str = ApiToken.Role.VIEWER,
    namespaces: tuple[str, ...] = ("team-a",),
    name: str | None = None,
) -> str:
    _, value = services.api_token_create(
        name=name or f"test-{role}-{'-'.join(namespaces) or 'all'}",
        namespaces=namespaces,
        all_namespaces=not namespaces,
        role=role,
    )
    return value


def bearer(value: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {value}"}


@dataclass
class Caller:
    """A Django test client with a bearer token (or a session, or nothing)."""

    client: Client = field(default_factory=Client)
    headers: dict[str, str] = field(default_factory=dict)

    def get(self, url: str, **params: Any) -> Any:
        return self.client.get(url, params, **self.headers)

    def post(self, url: str, body: bytes, content_type: str = "application/json") -> Any:
        return self.client.post(url, data=body, content_type=content_type, **self.headers)

    def send(self, method: str, url: str, body: Any = None) -> Any:
        data = orjson.dumps(body) if body is not None else b""
        return self.client.generic(
            method, url, data=data, content_type="application/json", **self.headers
        )


def caller_with_token(value: str) -> Caller:
    return Caller(headers=bearer(value))


def staff_session(*, csrf_checks: bool = False) -> Caller:
    user = User.objects.create_user(f"staff-{timezone.now().timestamp()}", is_staff=True)
    client = Client(enforce_csrf_checks=csrf_checks)
    client.force_login(user)
    return Caller(client=client)


def record(uid: str) -> RunRecord:
    return RunRecord.objects.get(uid=uid)


def pipeline_copy(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return copy.deepcopy(docs)
