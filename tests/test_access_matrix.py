"""Who may call what: every API route and method × every persona, with the expected status.

The table below is the access contract. ``test_every_api_route_has_a_row`` walks Django's URL
resolver for every route under ``/api/`` and every method its view implements, and fails when
one has no row here (or a row names a route that no longer exists): a new endpoint cannot ship
without deciding who may call it.

Personas: anonymous; an expired and a revoked token (both admin of team-a, so only their state
denies them); tokens that are viewer, ingester and admin of team-a; a viewer of team-b; a staff
user signed in with a session. The objects in the URLs all belong to team-a: for a team-b
caller they must not exist (404), and a write by a caller without the role in team-a is a 403
naming it. HEAD and OPTIONS go through the same authentication and permission checks as GET and
are left out.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import orjson
import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from provenance.models import ApiToken
from tests.apidata import Caller, caller_with_token, signed_pipeline, staff_session, token
from tests.factories import taskrun_doc

pytestmark = pytest.mark.django_db

PERSONAS = (
    "anonymous",
    "expired",
    "revoked",
    "viewer_a",
    "ingester_a",
    "admin_a",
    "viewer_b",
    "staff",
)


def statuses(*values: int) -> dict[str, int]:
    assert len(values) == len(PERSONAS)
    return dict(zip(PERSONAS, values, strict=True))


#             anon expired revoked viewer_a ingester_a admin_a viewer_b staff
READ = statuses(401, 401, 401, 200, 200, 200, 200, 200)
READ_A = statuses(401, 401, 401, 200, 200, 200, 404, 200)
INGEST_A = statuses(401, 401, 401, 403, 202, 202, 403, 202)
ADMIN_A = statuses(401, 401, 401, 403, 403, 200, 403, 200)
PUBLIC = statuses(200, 401, 401, 200, 200, 200, 200, 200)

SETTINGS_BODY = {
    "format": "slsa/v1",
    "deep_inspection": False,
    "scope": "per-run",
    "emit": "on-completion",
    "builder_id": "https://tekton.dev/chains/v2",
    "build_type": "https://tekton.dev/chains/v2/slsa",
}


@dataclass(frozen=True)
class Row:
    url: str  # with {uid}, {attestation}, {artifact}, {digest} filled from team-a's data
    expected: dict[str, int]
    body: Any = None


# (route as Django spells it, method) -> Row
MATRIX: dict[tuple[str, str], Row] = {
    ("api/v1/records", "GET"): Row("/api/v1/records", READ),
    ("api/v1/records", "POST"): Row("/api/v1/records", INGEST_A, body="taskrun"),
    ("api/v1/records/<str:uid>", "GET"): Row("/api/v1/records/{uid}", READ_A),
    ("api/v1/records/<str:uid>/raw", "GET"): Row("/api/v1/records/{uid}/raw", READ_A),
    ("api/v1/artifacts", "GET"): Row("/api/v1/artifacts", READ),
    ("api/v1/artifacts/<id:pk>", "GET"): Row("/api/v1/artifacts/{artifact}", READ_A),
    ("api/v1/artifacts/<digest:digest>/attestations.jsonl", "GET"): Row(
        "/api/v1/artifacts/{digest}/attestations.jsonl", READ_A
    ),
    ("api/v1/attestations", "GET"): Row("/api/v1/attestations", READ),
    ("api/v1/attestations/<id:pk>", "GET"): Row("/api/v1/attestations/{attestation}", READ_A),
    ("api/v1/attestations/<id:pk>/envelope", "GET"): Row(
        "/api/v1/attestations/{attestation}/envelope", READ_A
    ),
    ("api/v1/attestations/<id:pk>/bundle", "GET"): Row(
        "/api/v1/attestations/{attestation}/bundle", READ_A
    ),
    ("api/v1/attestations/<id:pk>/statement", "GET"): Row(
        "/api/v1/attestations/{attestation}/statement", READ_A
    ),
    ("api/v1/attestations/<id:pk>/diff", "GET"): Row(
        "/api/v1/attestations/{attestation}/diff?other={attestation}", READ_A
    ),
    # Exports answer everyone signed in, with the rows they may see (none of team-a's for b).
    ("api/v1/attestations.csv", "GET"): Row("/api/v1/attestations.csv", READ),
    ("api/v1/attestations.jsonl", "GET"): Row("/api/v1/attestations.jsonl", READ),
    ("api/v1/artifacts.csv", "GET"): Row("/api/v1/artifacts.csv", READ),
    ("api/v1/artifacts.jsonl", "GET"): Row("/api/v1/artifacts.jsonl", READ),
    # The gate answers everyone who is signed in; what it may see decides the answer (below).
    ("api/v1/gate", "GET"): Row("/api/v1/gate?digest={digest}", READ),
    ("api/v1/namespaces/<str:namespace>/settings", "GET"): Row(
        "/api/v1/namespaces/team-a/settings", READ_A
    ),
    ("api/v1/namespaces/<str:namespace>/settings", "PUT"): Row(
        "/api/v1/namespaces/team-a/settings", ADMIN_A, body=SETTINGS_BODY
    ),
    ("api/v1/namespaces/<str:namespace>/settings", "PATCH"): Row(
        "/api/v1/namespaces/team-a/settings", ADMIN_A, body={"deep_inspection": True}
    ),
    ("api/v1/keys", "GET"): Row("/api/v1/keys", READ),
    # Documentation of the API's shape, not data: readable without signing in (a bad token is
    # still refused, as everywhere).
    ("api/schema/", "GET"): Row("/api/schema/", PUBLIC),
    ("api/docs/", "GET"): Row("/api/docs/", PUBLIC),
}

HTTP_METHODS = ("get", "post", "put", "patch", "delete")


def _api_routes(
    patterns: list[URLPattern | URLResolver], prefix: str = ""
) -> Iterator[tuple[str, Any]]:
    for entry in patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _api_routes(entry.url_patterns, route)
        elif route.startswith("api/"):
            yield route, entry.callback


def api_endpoints() -> set[tuple[str, str]]:
    """Every (route, METHOD) under /api/ that some view implements."""
    found = set()
    for route, callback in _api_routes(get_resolver().url_patterns):
        view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
        assert view_class is not None, f"{route}: not a class-based view"
        for method in HTTP_METHODS:
            if hasattr(view_class, method):
                found.add((route, method.upper()))
    return found


def test_every_api_route_has_a_row() -> None:
    endpoints = api_endpoints()
    missing = sorted(endpoints - set(MATRIX))
    stale = sorted(set(MATRIX) - endpoints)
    assert not missing, f"API endpoints without a row in the access matrix: {missing}"
    assert not stale, f"access matrix rows for endpoints that do not exist: {stale}"


@pytest.fixture(autouse=True)
def _keys(settings, tmp_path):
    settings.KEYS_DIR = tmp_path / "keys"


@pytest.fixture
def world() -> dict[str, Any]:
    """Signed data in team-a and team-b, and one caller per persona."""
    _, (attestation_a,), digest_a = signed_pipeline(namespace="team-a")
    signed_pipeline(namespace="team-b")
    artifact_a = attestation_a.subjects.get(hex=digest_a.split(":")[1])

    expired = token(role="admin", name="expired")
    ApiToken.objects.filter(name="expired").update(expires_at=timezone.now() - timedelta(1))
    revoked = token(role="admin", name="revoked")
    ApiToken.objects.filter(name="revoked").update(revoked_at=timezone.now())
    callers: dict[str, Caller] = {
        "anonymous": Caller(),
        "expired": caller_with_token(expired),
        "revoked": caller_with_token(revoked),
        "viewer_a": caller_with_token(token(role="viewer")),
        "ingester_a": caller_with_token(token(role="ingester")),
        "admin_a": caller_with_token(token(role="admin")),
        "viewer_b": caller_with_token(token(role="viewer", namespaces=("team-b",))),
        "staff": staff_session(),
    }
    assert set(callers) == set(PERSONAS)
    return {
        "callers": callers,
        "fill": {
            "uid": attestation_a.run.uid,
            "attestation": attestation_a.pk,
            "artifact": artifact_a.pk,
            "digest": digest_a,
        },
    }


def _body(row: Row) -> Any:
    if row.body == "taskrun":
        # A fresh record each time, so every allowed persona really creates one.
        return orjson.dumps(taskrun_doc(namespace="team-a", name=f"tr-{uuid.uuid4().hex[:8]}"))
    return row.body


@pytest.mark.parametrize(
    ("route", "method"), [pytest.param(*key, id=f"{key[1]} {key[0]}") for key in sorted(MATRIX)]
)
def test_access(world, route: str, method: str) -> None:
    row = MATRIX[(route, method)]
    url = row.url.format(**world["fill"])
    got = {}
    for persona in PERSONAS:
        caller: Caller = world["callers"][persona]
        body = _body(row)
        if method == "GET":
            response = caller.client.get(url, **caller.headers)
        elif isinstance(body, bytes):
            response = caller.post(url, body)
        else:
            response = caller.send(method, url, body)
        got[persona] = response.status_code
        if response.status_code >= 400 and url.startswith("/api/v1/"):
            assert "error" in response.json(), (persona, response.content)
    assert got == row.expected


def test_lists_counts_and_the_gate_hide_other_namespaces(world) -> None:
    """team-b's viewer gets 200s, but nothing of team-a in any list, count or gate answer."""
    fill = world["fill"]
    outsider: Caller = world["callers"]["viewer_b"]
    insider: Caller = world["callers"]["viewer_a"]
    for url in ("/api/v1/records", "/api/v1/artifacts", "/api/v1/attestations"):
        theirs = outsider.get(url).json()["results"]
        ours = insider.get(url).json()["results"]
        assert theirs and ours
        assert {r["namespace"] for r in ours if "namespace" in r} <= {"team-a"}
        assert all(r.get("namespace", "team-b") == "team-b" for r in theirs)
        for r in theirs:
            assert r.get("namespaces", ["team-b"]) == ["team-b"]
    filtered = outsider.get("/api/v1/attestations", namespace="team-a").json()
    assert filtered == {"next": None, "previous": None, "results": []}
    by_digest = outsider.get("/api/v1/artifacts", digest=fill["digest"]).json()
    assert by_digest["results"] == []
    gate_out = outsider.get("/api/v1/gate", digest=fill["digest"]).json()
    gate_in = insider.get("/api/v1/gate", digest=fill["digest"]).json()
    assert gate_in["allowed"] is True and gate_in["attestation"] == fill["attestation"]
    assert gate_out["allowed"] is False and gate_out["attestation"] is None
    assert gate_out["candidates"] == []
    # Unknown and invisible look the same.
    unknown = outsider.get("/api/v1/gate", digest="sha256:" + "0" * 64).json()
    assert unknown["reasons"][0].replace("0" * 64, "X") == gate_out["reasons"][0].replace(
        fill["digest"].split(":")[1], "X"
    )
    keys = outsider.get("/api/v1/keys").json()["results"]
    assert all(k["namespace"] in ("", "team-b") for k in keys)
