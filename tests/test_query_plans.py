"""The main API reads use indexes on a seeded table: EXPLAIN shows no sequential scan of the big
tables and no OFFSET paging (issue 7, "Reads at 1,000,000 attestations").

60,000 attestations / 6,000 runs are seeded with generate_series (bench/seed.py, a few
seconds), then each endpoint is called through the API with a token for every namespace and
with a one-namespace token; every SELECT it ran is EXPLAINed (FORMAT JSON).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bench.seed import NAMESPACES, artifact_hex, seed
from tests.apidata import caller_with_token, token

pytestmark = pytest.mark.django_db

ATTESTATIONS = 60_000
RUNS = 6_000
BIG = {
    "provenance_attestation",
    "provenance_artifact",
    "provenance_attestation_subjects",
    "provenance_runrecord",
    "provenance_chainentry",
}


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def explain(sql: str) -> list[dict[str, Any]]:
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql)
        raw = cursor.fetchone()[0]
    doc = json.loads(raw) if isinstance(raw, str) else raw
    return list(_nodes(doc[0]["Plan"]))


def cursor_for(position: int) -> str:
    return base64.b64encode(f"p={position}".encode()).decode()


@pytest.fixture(scope="module")
def seeded(django_db_setup: Any, django_db_blocker: Any) -> Iterator[dict[str, int]]:
    # Module scope: seeded once in a transaction rolled back at the end (the attestation tables
    # are append-only, so rows cannot be deleted).
    with django_db_blocker.unblock():
        from django.db import transaction

        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            with connection.cursor() as cursor:
                bases = seed(cursor, attestations=ATTESTATIONS, runs=RUNS)
            yield bases
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


def _requests(bases: dict[str, int]) -> dict[str, str]:
    att0, art0 = bases["attestation0"], bases["artifact0"]
    hex_mid = artifact_hex(art0 + ATTESTATIONS // 2)
    return {
        "digest exact": f"/api/v1/attestations?subject_digest=sha256:{hex_mid}",
        "digest prefix": f"/api/v1/attestations?subject_digest_prefix=sha256:{hex_mid[:8]}",
        "artifact digest": f"/api/v1/artifacts?digest=sha256:{hex_mid}",
        "artifact prefix": f"/api/v1/artifacts?digest_prefix=sha256:{hex_mid[:8]}",
        "attestations first page": "/api/v1/attestations",
        "attestations deep page": (
            f"/api/v1/attestations?cursor={cursor_for(att0 + ATTESTATIONS // 10)}"
        ),
        "attestations in a namespace, deep": (
            f"/api/v1/attestations?namespace=team-b&cursor={cursor_for(att0 + ATTESTATIONS // 10)}"
        ),
        "subject name": "/api/v1/attestations?subject_name=registry.example/team/app-7",
        "artifacts first page": "/api/v1/artifacts",
        "artifact detail": f"/api/v1/artifacts/{art0 + ATTESTATIONS // 2}",
        "shared artifact detail": f"/api/v1/artifacts/{art0 + ATTESTATIONS + 7}",
        "attestation detail": f"/api/v1/attestations/{att0 + ATTESTATIONS // 2}",
        "records first page": "/api/v1/records",
        "records deep page": f"/api/v1/records?cursor={cursor_for(bases['run0'] + RUNS // 10)}",
        "record detail": f"/api/v1/records/seed-uid-{bases['run0'] + RUNS // 2}",
        "gate": f"/api/v1/gate?digest=sha256:{hex_mid}",
    }


@pytest.mark.parametrize("scoped", [False, True], ids=["all-namespaces", "one-namespace"])
def test_main_reads_use_indexes(seeded: dict[str, int], scoped: bool) -> None:
    caller = caller_with_token(token(namespaces=(NAMESPACES[1],) if scoped else ()))
    problems = []
    for label, url in _requests(seeded).items():
        with CaptureQueriesContext(connection) as ctx:
            response = caller.get(url)
        assert response.status_code in (200, 404), (label, response.status_code)
        selects = [q["sql"] for q in ctx.captured_queries if q["sql"].lstrip().startswith("SELECT")]
        assert selects, label
        for sql in selects:
            if " OFFSET " in sql.upper():
                problems.append(f"{label}: OFFSET paging: {sql}")
            for node in explain(sql):
                if node["Node Type"] == "Seq Scan" and node.get("Relation Name") in BIG:
                    problems.append(f"{label}: Seq Scan on {node['Relation Name']}: {sql}")
    assert not problems, "\n".join(problems)
