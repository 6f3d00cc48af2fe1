"""Limits and hardening: security headers everywhere, HSTS only on HTTPS, the docs page's CSP,
the per-caller rate limit, JSON errors under /api/, and no server-side fetching of URLs found in
records."""

from __future__ import annotations

import ast
import re
import socket
from pathlib import Path
from typing import Any

import orjson
import pytest
from django.core.cache import cache
from django.test import Client

from provenance.api.docs import csp_with_style_hashes
from tests.apidata import (
    bearer,
    caller_with_token,
    staff_session,
    token,
)
from tests.factories import pipeline_docs

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'"
)


@pytest.fixture(autouse=True)
def _keys(settings, tmp_path):
    settings.KEYS_DIR = tmp_path / "keys"


@pytest.fixture(autouse=True)
def _fresh_rate_counts():
    cache.clear()
    yield
    cache.clear()


def assert_security_headers(response: Any) -> None:
    assert response["Content-Security-Policy"] == CSP
    assert "unsafe-inline" not in response["Content-Security-Policy"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/keys",
        "/api/v1/attestations",
        "/api/v1/no-such-endpoint",
        "/api/schema/",
        "/healthz",
        "/admin/login/",
        "/no-such-page",
    ],
)
def test_every_response_carries_the_security_headers(url) -> None:
    for client, headers in ((Client(), {}), (Client(), bearer(token()))):
        assert_security_headers(client.get(url, **headers))


def test_static_files_carry_them_too(settings) -> None:
    # Served by WhiteNoise; from the finders here, from collectstatic's STATIC_ROOT in the image.
    settings.WHITENOISE_USE_FINDERS = True
    settings.WHITENOISE_AUTOREFRESH = True
    response = Client().get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
    assert response.status_code == 200
    assert_security_headers(response)


def test_hsts_only_over_https(settings) -> None:
    settings.SECURE_HSTS_SECONDS = 31_536_000
    plain = Client().get("/healthz")
    assert "Strict-Transport-Security" not in plain
    secure = Client().get("/healthz", secure=True)
    assert secure["Strict-Transport-Security"] == "max-age=31536000"
    # Behind a TLS-terminating proxy, only when told to trust its header.
    proxied = Client().get("/healthz", HTTP_X_FORWARDED_PROTO="https")
    assert "Strict-Transport-Security" not in proxied
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    proxied = Client().get("/healthz", HTTP_X_FORWARDED_PROTO="https")
    assert proxied["Strict-Transport-Security"] == "max-age=31536000"


def test_hsts_is_on_by_default_in_production() -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "DEBUG": "false", "SECRET_KEY": "x" * 50}
    code = "from django.conf import settings; print(settings.SECURE_HSTS_SECONDS)"
    out = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        env={**env, "DJANGO_SETTINGS_MODULE": "chainsweb.settings"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "31536000"


def test_docs_ui_loads_local_assets_and_allows_only_its_own_inline_style() -> None:
    response = Client().get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    # Swagger UI from the sidecar package, same origin: no CDN.
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any("swagger-ui-bundle.js" in s for s in sources)
    assert all(s.startswith("/") for s in sources), sources
    assert "<script>" not in html  # the start-up script is a separate file (?script=)
    policy = response["Content-Security-Policy"]
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    (style,) = re.findall(r"<style>(.*?)</style>", html, re.DOTALL)
    assert policy == csp_with_style_hashes(CSP, response.content)
    assert "style-src 'self' 'sha256-" in policy and style
    script = Client().get("/api/docs/?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "/api/schema/" in script.content.decode()
    assert_security_headers(script)


def test_schema_documents_every_endpoint_with_examples() -> None:
    schema = Client().get("/api/schema/?format=json").json()
    assert schema["openapi"].startswith("3.")
    assert set(schema["components"]["securitySchemes"]) == {"bearerAuth", "cookieAuth"}
    operations = [(p, m, op) for p, ops in schema["paths"].items() for m, op in ops.items()]
    assert len(operations) == 22  # with the bundle, the diff and the four exports
    for path, method, op in operations:
        assert op.get("summary"), (method, path)
        success = [r for code, r in op["responses"].items() if code.startswith("2")]
        assert success, (method, path)
        for response in success:
            for media in response["content"].values():
                assert media.get("examples"), (method, path)
        assert "401" in op["responses"] and "429" in op["responses"]


def test_unrouted_api_paths_are_json_404_and_pages_stay_html() -> None:
    api = Client().get("/api/v1/attestations/not-a-number")
    assert api.status_code == 404 and api.json() == {"error": "not found"}
    page = Client().get("/no-such-page")
    assert page.status_code == 404 and not page["Content-Type"].startswith("application/json")


def test_rate_limit_is_per_token_with_retry_after(settings) -> None:
    settings.API_RATE_LIMIT = "3/min"
    first = caller_with_token(token(name="first"))
    second = caller_with_token(token(name="second"))
    assert [first.get("/api/v1/keys").status_code for _ in range(3)] == [200, 200, 200]
    limited = first.get("/api/v1/keys")
    assert limited.status_code == 429
    assert 0 < int(limited["Retry-After"]) <= 60
    assert "throttled" in limited.json()["error"]
    assert second.get("/api/v1/keys").status_code == 200  # another token has its own budget
    # Every endpoint counts against the same budget.
    assert first.get("/api/v1/gate", digest="sha256:abcd").status_code == 429


def test_rate_limit_applies_to_session_users_and_can_be_turned_off(settings) -> None:
    settings.API_RATE_LIMIT = "2/min"
    staff = staff_session()
    assert [staff.get("/api/v1/keys").status_code for _ in range(3)] == [200, 200, 429]
    settings.API_RATE_LIMIT = None
    assert staff.get("/api/v1/keys").status_code == 200


def test_nothing_fetches_urls_found_in_records(monkeypatch) -> None:
    """Records are full of URLs (git remotes, registries, bundle refs). Ingest, signing and
    every read must work with outbound connections impossible."""
    docs = pipeline_docs()
    assert "https://git.test.com" in orjson.dumps(docs).decode()
    calls: list[Any] = []

    def refuse(*args: Any, **kwargs: Any) -> None:
        calls.append(args)
        raise OSError("outbound connections are not allowed in this test")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    caller = caller_with_token(token(role="ingester"))
    response = caller.post("/api/v1/records", orjson.dumps({"kind": "List", "items": docs}))
    assert response.status_code == 202
    (attestation,) = _sign_pending()
    assert attestation.run.uid == docs[0]["metadata"]["uid"]
    digest = "sha256:" + attestation.subjects.first().hex
    for url in (
        f"/api/v1/attestations/{attestation.pk}",
        f"/api/v1/attestations/{attestation.pk}/envelope",
        f"/api/v1/records/{attestation.run.uid}/raw",
        f"/api/v1/artifacts/{digest}/attestations.jsonl",
        f"/api/v1/gate?digest={digest}",
    ):
        assert caller.client.get(url, **caller.headers).status_code == 200, url
    assert calls == []


def _sign_pending() -> list[Any]:
    from provenance import services
    from provenance.models import Attestation, RunRecord

    for run_id in RunRecord.objects.filter(compute_status="pending").values_list("pk", flat=True):
        services.attestations_generate(run_id=run_id)
    return list(Attestation.objects.all())


NETWORK_MODULES = {"requests", "httpx", "urllib3", "aiohttp", "http.client", "urllib.request"}
# The watcher and import_signing_key --from-secret talk to the Kubernetes API server they are
# configured for, never to record URLs; single sign-on to the identity provider it is configured
# for (OIDC_ISSUER), never to a URL a request names. provenance/registry.py is the one egress
# module: it pushes to the registries namespace admins configure, and only the publishing queue
# calls it.
NETWORK_ALLOWED = {
    "provenance/management/commands/watch_records.py",
    "provenance/management/commands/import_signing_key.py",
    "provenance/registry.py",
    "provenance/sso/oidc.py",
}


def test_no_application_code_imports_an_http_client() -> None:
    offenders = []
    for path in sorted((ROOT / "provenance").rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if relative in NETWORK_ALLOWED:
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            hits = {n for n in names for m in NETWORK_MODULES if n == m or n.startswith(m + ".")}
            if hits or any(n in ("socket", "urllib") for n in names):
                offenders.append(f"{relative}:{getattr(node, 'lineno', '?')} {sorted(set(names))}")
    assert not offenders, offenders
