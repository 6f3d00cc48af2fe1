"""A full run with LOG_FORMAT=json, every part real: gunicorn and a Celery worker on Redis, the
OpenID Provider of tests/oidc, chromium signing in through it, an API client ingesting a
pipeline with its own request id, the worker signing it.

Then the logs: one JSON object per line with the fields of docs/operations.md; the API call's
request id on the worker's lines for the task that signed; and none of the secrets the run used
anywhere: the API token, the OIDC client secret, the person's password, every code and token the
provider issued, the session and CSRF cookies, SECRET_KEY, the signing key's private bytes.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives import serialization

from provenance.models import Attestation, ComputeStatus, RunRecord, SigningKey
from tests.factories import as_list, make_token, pipeline_docs
from tests.test_tasks_worker import wait_for

from .stack import CeleryWorker, OpenIdProvider, Web, chainsweb_env

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "ops-person-pw-5d9e1b"
REQUEST_ID = "ci-run-20261204-7f3a"
# Lines Celery prints itself rather than logs (its shutdown notice).
CELERY_PRINTS = re.compile(r"^worker: (Warm|Cold) shutdown")


def secrets_of_key(path: Path) -> list[str]:
    pem = path.read_bytes()
    key = serialization.load_pem_private_key(pem, password=None)
    der = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    body = "".join(pem.decode().strip().splitlines()[1:-1])
    raw = der[-32:]  # the private scalar ends the PKCS#8 DER for both algorithms we make
    return [body, body[:64], der.hex(), raw.hex(), base64.b64encode(raw).decode()]


def test_a_full_run_logs_json_with_request_ids_and_no_secret(
    tmp_path: Path, redis_url: str, browser: Any, settings: Any
) -> None:
    settings.KEYS_DIR = tmp_path / "keys"
    secret_key = f"django-secret-{tmp_path.name}-{'x' * 40}"
    web = Web(tmp_path, {})  # its URL first: the provider's redirect URIs name it
    op = OpenIdProvider(tmp_path, web.url)
    op.add_user("opsperson", PASSWORD, ["team-a-release"])
    env = chainsweb_env(
        tmp_path,
        CELERY_BROKER_URL=redis_url,
        LOG_FORMAT="json",
        LOG_LEVEL="DEBUG",
        SECRET_KEY=secret_key,
        OIDC_ISSUER=op.issuer,
        OIDC_CLIENT_ID=op.CLIENT_ID,
        OIDC_CLIENT_SECRET=op.client_secret,
    )
    web.env = env
    worker = CeleryWorker(tmp_path, env, "--concurrency=1", quiet=True)
    started = []
    try:
        for process in (op, web, worker):
            process.start()
            started.append(process)
        from django.core.management import call_command

        call_command("oidc_group_map", "add", "team-a-release", "team-a", "--role", "admin")

        context = browser.new_context(base_url=web.url)
        context.set_default_timeout(20_000)
        page = context.new_page()
        page.goto("/accounts/login/")
        page.get_by_role("link", name="Sign in with single sign-on").click()
        page.get_by_label("Username").fill("opsperson")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Continue").click()
        page.wait_for_url(f"{web.url}/")
        cookies = {c["name"]: c["value"] for c in context.cookies() if "127.0.0.1" in c["domain"]}

        token = make_token(role="ingester")
        docs = pipeline_docs(name="logged-run")
        response = requests.post(
            f"{web.url}/api/v1/records",
            data=as_list(docs),
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json",
                "X-Request-ID": REQUEST_ID,
            },
            timeout=30,
        )
        assert response.status_code == 202, response.text
        assert response.headers["X-Request-ID"] == REQUEST_ID
        uid = docs[0]["metadata"]["uid"]
        wait_for(
            lambda: RunRecord.objects.filter(uid=uid, compute_status=ComputeStatus.SIGNED).exists(),
            "the pipeline to be signed",
            timeout=120,
        )
        attestation = Attestation.objects.get(run__uid=uid)
        page.goto(f"/attestations/{attestation.pk}/")
        assert page.get_by_text("Signature verified").first.is_visible()
        page.get_by_role("button", name="Sign out").click()
        page.get_by_role("button", name="Yes, sign me out").click()
        page.wait_for_url(f"{web.url}/accounts/login/")
        context.close()
    finally:
        for process in reversed(started):
            process.stop()

    web_log, worker_log = web.text(), worker.text()
    lines = []
    for name, text in (("web", web_log), ("worker", worker_log)):
        for line in text.splitlines():
            if not line.strip() or (name == "worker" and CELERY_PRINTS.match(line)):
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                raise AssertionError(f"{name}: not a JSON line: {line[:200]}") from None
            assert {"time", "level", "logger", "message"} <= set(entry), line
            lines.append((name, entry))

    access = [e for n, e in lines if e["logger"] == "chainsweb.request"]
    ingest = [e for e in access if e.get("request_id") == REQUEST_ID]
    assert [(e["method"], e["path"], e["status"]) for e in ingest] == [
        ("POST", "/api/v1/records", 202)
    ]
    signed = [
        e
        for n, e in lines
        if n == "worker" and e.get("request_id") == REQUEST_ID and "succeeded" in e["message"]
    ]
    assert signed and signed[0]["namespace"] == "team-a" and signed[0]["run_uid"] == uid
    stored = [e for n, e in lines if n == "worker" and e.get("attestation_id") == attestation.pk]
    assert stored and stored[0]["request_id"] == REQUEST_ID and stored[0]["run_uid"] == uid
    assert any("signed in opsperson with OpenID Connect" in e["message"] for _, e in lines)
    assert not any("?" in e["path"] for e in access)  # no query string (the OIDC code) logged

    key = SigningKey.objects.get(key_id=attestation.key_id)
    secrets = {
        "API token": [token, token[4:]],
        "OIDC client secret": [op.client_secret],
        "password": [PASSWORD],
        "SECRET_KEY": [secret_key],
        "provider codes and tokens": op.issued(),
        "session and CSRF cookies": [v for v in cookies.values() if len(v) >= 16],
        "private key": secrets_of_key(Path(settings.KEYS_DIR) / key.private_key_path),
    }
    assert secrets["provider codes and tokens"], "the provider recorded nothing it issued"
    assert secrets["session and CSRF cookies"], cookies
    everything = web_log + worker_log
    for what, values in secrets.items():
        for secret in values:
            assert secret and secret not in everything, f"{what} found in the logs"
