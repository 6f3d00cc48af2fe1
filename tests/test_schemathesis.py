"""Property-based API tests from the OpenAPI schema (schemathesis, through WSGI, in-process).

Every operation of /api/schema/ gets generated requests — valid ones and deliberately invalid
ones — sent with an all-namespaces admin token against real, signed data. Every check
schemathesis has must pass: no 5xx, status codes, content types and bodies as documented,
invalid input rejected and valid input accepted.

Deterministic (derandomized) and small: at most MAX_EXAMPLES generated cases per operation and
phase, so the whole run stays well under a minute.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.core.cache import cache
from django.db import close_old_connections
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import positive_data_acceptance

from chainsweb.wsgi import application
from tests.apidata import signed_pipeline, signed_taskrun, token

MAX_EXAMPLES = 10

CONFIG = SchemathesisConfig.from_dict(
    {
        "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "mode": "all"},
        "phases": {
            "examples": {"enabled": True},
            "coverage": {"enabled": True},
            "fuzzing": {"enabled": True},
            "stateful": {"enabled": False},
        },
        "suppress-health-check": ["all"],
    }
)

schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application, config=CONFIG)


@pytest.fixture
def wsgi_in_test_transaction() -> Any:
    """Requests go through the real WSGI handler, which closes the database connection when a
    request ends; keep it open (as Django's test client does) so the test transaction holding
    the data survives."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def auth_header(db, settings, tmp_path, wsgi_in_test_transaction) -> dict[str, str]:
    """Signed data in two namespaces and an admin token for every namespace."""
    settings.KEYS_DIR = tmp_path / "keys"
    settings.API_RATE_LIMIT = None  # the generated traffic is not what the limit is about
    cache.clear()
    signed_pipeline(namespace="team-a")
    signed_pipeline(namespace="team-b", settings={"scope": "per-artifact"})
    signed_taskrun(namespace="team-a")
    return {"Authorization": f"Bearer {token(role='admin', namespaces=())}"}


# Operations whose bodies are checked beyond what a JSON Schema can say, so a schema-valid body
# may rightly get a 400: ingest parses Tekton objects with the engine (any JSON object is
# schema-valid), and settings reject combinations (``on-artifact`` needs ``per-artifact``). For
# these the "valid data must be accepted" check is off; every other check still runs.
SEMANTIC_BODIES = {
    "POST /api/v1/records",
    "PUT /api/v1/namespaces/{namespace}/settings",
    "PATCH /api/v1/namespaces/{namespace}/settings",
}


@schema.parametrize()
def test_api_conforms_to_its_schema(case: Any, auth_header: dict[str, str]) -> None:
    excluded = []
    if case.operation.label in SEMANTIC_BODIES:
        excluded.append(positive_data_acceptance)
    case.call_and_validate(headers=auth_header, excluded_checks=excluded)
