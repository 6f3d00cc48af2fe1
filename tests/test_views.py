"""The dashboard's pages on real Postgres, with records ingested and signed through the services.

Browser-level behaviour (htmx, copy buttons, screenshots) is in tests/browser/; here: access
rules (404 for what a user may not see), content, downloads, forms and CSRF, escaping, and the
query counts of list pages at two page sizes.
"""

from __future__ import annotations

import re
import zlib
from html.parser import HTMLParser
from typing import Any

import orjson
import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from provenance import services
from provenance.config import SETTINGS_FIELDS
from provenance.core.statements import read_statement
from provenance.core.why import why_path, why_text
from provenance.models import (
    ApiToken,
    Artifact,
    Attestation,
    ComputeStatus,
    NamespaceGrant,
    RunKind,
    RunRecord,
    SettingsAudit,
    SigningKey,
)
from provenance.reads.namespaces import namespace_settings_view
from provenance.reads.tokens import token_hash
from tests.apidata import caller_with_token, token
from tests.browser.samples import HOSTILE, hostile_items, ingest, sample_items
from tests.core.pipeline_builder import Task, digest, pipeline_run
from tests.core.test_dsse import sslib_verify

pytestmark = pytest.mark.django_db

STOREFRONT = "storefront-ci"
INVENTORY = "inventory-release"
STOREFRONT_IMAGE = "sha256:b2369ff8266a7b15b96a61c95136056ec554ee6105e6e4a7c30402e8c8e1f7e9"
INVENTORY_IMAGE = "sha256:fcaddba13bec8ec84ed1429f6888c6eab1e87b020652402babb9cb4e63b0a528"
INVENTORY_MODULE = "sha256:5553b4102902054d57f12dabbcc98a6d6da188d69ab2de1921ee91877a6b8485"
COMMIT = "a6462c0d6f9d2001c6b6032f179b6ab2e6157d4c"


@pytest.fixture(autouse=True)
def _keys(settings: Any, tmp_path: Any) -> None:
    settings.KEYS_DIR = tmp_path / "keys"


@pytest.fixture
def signed(django_capture_on_commit_callbacks: Any) -> dict[str, RunRecord]:
    """The four samples, signed; inventory-release attests per artifact."""
    services.namespace_settings_update(
        namespace=INVENTORY,
        changes={"scope": "per-artifact", "emit": "on-artifact"},
        actor="test",
    )
    with django_capture_on_commit_callbacks(execute=True):
        for name in ("build-push", "kaniko-taskrun", "preview-running", "release-go-and-image"):
            ingest(sample_items(name))
    return {r.name: r for r in RunRecord.objects.all()}


def user_client(django_user_model: Any, name: str, grants: dict[str, str], staff: bool = False):
    user = django_user_model.objects.create_user(name, password="pw-" + name, is_staff=staff)
    for namespace, role in grants.items():
        NamespaceGrant.objects.create(user=user, namespace=namespace, role=role)
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def staff(django_user_model: Any) -> Client:
    return user_client(django_user_model, "staff", {}, staff=True)


@pytest.fixture
def viewer(django_user_model: Any) -> Client:
    """Viewer of storefront-ci only."""
    return user_client(django_user_model, "viewer", {STOREFRONT: ApiToken.Role.VIEWER})


@pytest.fixture
def admin(django_user_model: Any) -> Client:
    """Admin of inventory-release, viewer of storefront-ci."""
    return user_client(
        django_user_model,
        "admin",
        {INVENTORY: ApiToken.Role.ADMIN, STOREFRONT: ApiToken.Role.VIEWER},
    )


def text(response: Any) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


def attestation_of(run: RunRecord, digest_text: str | None = None) -> Attestation:
    qs = Attestation.objects.filter(run=run, superseded_by__isnull=True)
    if digest_text:
        algorithm, hex_value = digest_text.split(":")
        qs = qs.filter(subjects__algorithm=algorithm, subjects__hex=hex_value)
    return qs.order_by("-id").first()  # type: ignore[return-value]


# --- sign-in -------------------------------------------------------------------------------------


def test_every_page_needs_sign_in(client: Client, signed: dict[str, RunRecord]) -> None:
    run = signed["build-push-r8x2k"]
    attestation = attestation_of(run)
    for url in [
        "/",
        "/runs/",
        f"/runs/{run.pk}/",
        "/artifacts/",
        f"/artifacts/{STOREFRONT_IMAGE}/",
        f"/artifacts/{STOREFRONT_IMAGE}/attestations.jsonl",
        "/attestations/",
        f"/attestations/{attestation.pk}/",
        f"/attestations/{attestation.pk}/envelope.json",
        f"/attestations/{attestation.pk}/statement.json",
        "/search/?q=build",
        f"/namespaces/{STOREFRONT}/settings/",
    ]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/login/?next="), url


def test_sign_in_and_out(client: Client, django_user_model: Any) -> None:
    django_user_model.objects.create_user("ann", password="a-long-password")
    page = client.get("/accounts/login/")
    assert page.status_code == 200
    assert 'name="csrfmiddlewaretoken"' in text(page)
    assert '<label for="id_username">' in text(page)
    bad = client.post("/accounts/login/", {"username": "ann", "password": "wrong"})
    assert bad.status_code == 200 and "correct username and password" in text(bad)
    good = client.post("/accounts/login/", {"username": "ann", "password": "a-long-password"})
    assert good.status_code == 302 and good["Location"] == "/"
    assert client.get("/").status_code == 200
    assert client.get("/accounts/logout/").status_code == 405  # logout is a POST
    out = client.post("/accounts/logout/")
    assert out.status_code == 302 and out["Location"] == "/accounts/login/"
    assert client.get("/").status_code == 302


# --- access: 404 for what a user may not see -----------------------------------------------


def test_viewer_of_one_namespace_gets_404_for_another(
    viewer: Client, signed: dict[str, RunRecord]
) -> None:
    other = signed["release-v1-4-0-q7w3n"]
    child = signed["release-v1-4-0-q7w3n-build-oci"]
    attestation = attestation_of(other, INVENTORY_IMAGE)
    for url in [
        f"/runs/{other.pk}/",
        f"/runs/{child.pk}/",
        f"/runs/{other.pk}/?artifact={INVENTORY_IMAGE}",
        f"/attestations/{attestation.pk}/",
        f"/attestations/{attestation.pk}/envelope.json",
        f"/attestations/{attestation.pk}/statement.json",
        f"/artifacts/{INVENTORY_IMAGE}/",
        f"/artifacts/{INVENTORY_IMAGE}/attestations.jsonl",
        f"/namespaces/{INVENTORY}/settings/",
        f"/namespaces/{INVENTORY}/progress",
        "/namespaces/no-such-namespace/settings/",
    ]:
        assert viewer.get(url).status_code == 404, url
    assert viewer.post(f"/namespaces/{INVENTORY}/settings/", {}).status_code == 404
    # Their own namespace is fine.
    mine = signed["build-push-r8x2k"]
    assert viewer.get(f"/runs/{mine.pk}/").status_code == 200
    assert viewer.get(f"/artifacts/{STOREFRONT_IMAGE}/").status_code == 200


def test_lists_and_search_show_only_visible_namespaces(
    viewer: Client, signed: dict[str, RunRecord]
) -> None:
    for url in ["/", "/runs/", "/artifacts/", "/attestations/", "/search/?q=release"]:
        body = text(viewer.get(url))
        assert INVENTORY not in body, url
        assert "release-v1-4-0-q7w3n" not in body, url
    assert "build-push-r8x2k" in text(viewer.get("/runs/"))
    found = text(viewer.get("/search/", {"q": INVENTORY_IMAGE}))
    assert "Nothing found" in found
    overview = text(viewer.get("/"))
    assert STOREFRONT in overview and "web" not in re.findall(r"<h3><a[^>]*>([^<]+)</a>", overview)


def test_settings_need_the_admin_role(viewer: Client, signed: dict[str, RunRecord]) -> None:
    response = viewer.get(f"/namespaces/{STOREFRONT}/settings/")
    assert response.status_code == 403
    assert "only admins" in text(response)


# --- overview ------------------------------------------------------------------------------------


def test_overview_counts_and_attention(staff: Client, signed: dict[str, RunRecord]) -> None:
    RunRecord.objects.filter(name="kaniko-build-k4x7v").update(
        compute_status=ComputeStatus.FAILED, compute_reason="no signing key for web"
    )
    body = text(staff.get("/"))
    assert "Namespaces" in body and "Needs attention" in body
    assert "no signing key for web" in body
    # inventory-release: one run, two artifacts, two per-artifact attestations.
    card = body[body.index(f">{INVENTORY}</a>") :]
    card = card[: card.index("</article>")]
    numbers = dict(re.findall(r"<dt>([^<]+)</dt><dd>(\d+)</dd>", card))
    assert numbers == {"Runs": "1", "Artifacts": "2", "Attestations": "2", "Failed to sign": "0"}
    assert "preview-pr-1187-m2c8d" not in body  # running: not "finished but unsigned"


def test_overview_says_what_unsigned_runs_wait_for(
    staff: Client, signed: dict[str, RunRecord]
) -> None:
    RunRecord.objects.filter(name="kaniko-build-k4x7v").update(
        compute_status=ComputeStatus.WAITING, compute_reason="waiting for TaskRuns: build"
    )
    body = text(staff.get("/"))
    card = body[body.index(">web</a>") :]
    card = card[: card.index("</article>")]
    assert "0 pending" not in card
    assert "Not signed yet:" in card and "1 run waiting</a> for what signing needs first" in card
    link = re.search(r'href="([^"]+)">1 run waiting</a>', card)
    assert link is not None
    listed = text(staff.get(link.group(1).replace("&amp;", "&")))
    assert "kaniko-build-k4x7v" in listed


def test_overview_reports_attestations_that_no_longer_verify(
    staff: Client, signed: dict[str, RunRecord]
) -> None:
    key = SigningKey.objects.get(namespace="", purpose=SigningKey.Purpose.ATTESTATION)
    other = services.signing_key_create(namespace="", algorithm="ed25519", actor="test")
    SigningKey.objects.filter(pk=key.pk).update(public_key_pem=other.public_key_pem)
    body = text(staff.get("/"))
    assert "Attestations that no longer verify" in body
    # The signature is checked with the trust bundle's key; the row no longer matches it.
    assert "Not verified: Key not trusted" in body


def test_overview_empty_state_for_a_user_without_grants(django_user_model: Any) -> None:
    client = user_client(django_user_model, "nobody", {})
    body = text(client.get("/"))
    assert "No namespaces yet" in body and "No attestations yet" in body


# --- runs ----------------------------------------------------------------------------------------


def test_run_list_filters(staff: Client, signed: dict[str, RunRecord]) -> None:
    def names(**params: str) -> set[str]:
        body = text(staff.get("/runs/", params))
        return set(re.findall(r'class="cell-name" href="/runs/\d+/">([^<]+)</a>', body))

    assert len(names()) == 14
    assert names(namespace=INVENTORY, kind="PipelineRun") == {"release-v1-4-0-q7w3n"}
    assert names(kind="top") == {
        "build-push-r8x2k",
        "kaniko-build-k4x7v",
        "preview-pr-1187-m2c8d",
        "release-v1-4-0-q7w3n",
    }
    assert names(status="Unknown") == {"preview-pr-1187-m2c8d", "preview-pr-1187-m2c8d-scan"}
    assert names(status="False") == {"build-push-r8x2k", "build-push-r8x2k-notify"}
    assert names(pipeline="build-push") == {"build-push-r8x2k"}
    assert names(signing="waiting") == {"preview-pr-1187-m2c8d"}
    assert names(q="NOTIFY") == {"build-push-r8x2k-notify"}
    assert names(started_from="2026-03-04", started_to="2026-03-04") == {"kaniko-build-k4x7v"}
    assert names(started_from="2026-03-05") >= {"preview-pr-1187-m2c8d"}
    # An invalid filter value is ignored, not an error page.
    assert len(names(status="bogus", per_page="7")) == 14
    empty = text(staff.get("/runs/", {"q": "no-such-run"}))
    assert "No run matches these filters" in empty


def test_run_list_paginates(staff: Client, signed: dict[str, RunRecord]) -> None:
    make_runs(60)
    first = text(staff.get("/runs/", {"per_page": "25"}))
    assert "1–25 of 74" in first and "Page 1 of 3" in first
    assert 'href="?per_page=25&amp;page=2"' in first
    last = text(staff.get("/runs/", {"per_page": "25", "page": "3"}))
    assert "51–74 of 74" in last
    # Out-of-range pages clamp instead of failing.
    assert "51–74 of 74" in text(staff.get("/runs/", {"per_page": "25", "page": "99"}))


def test_run_list_htmx_request_gets_the_results_fragment(
    staff: Client, signed: dict[str, RunRecord]
) -> None:
    response = staff.get(
        "/runs/",
        {"namespace": INVENTORY},
        headers={"HX-Request": "true", "HX-Target": "run-results"},
    )
    body = text(response)
    assert body.lstrip().startswith('<section id="run-results"')
    assert "<html" not in body and "release-v1-4-0-q7w3n" in body


def test_run_detail_shows_the_graph_params_results_and_attestations(
    staff: Client, signed: dict[str, RunRecord]
) -> None:
    run = signed["build-push-r8x2k"]
    body = text(staff.get(f"/runs/{run.pk}/"))
    assert '<svg class="run-graph"' in body
    for task in ("clone", "build", "notify"):
        assert f'data-task="{task}"' in body
    assert "FINALLY" in body  # the finally task is drawn apart
    assert "status-failed" in body and "✕ Failed" in body
    assert "edge-runAfter" in body and "edge-result" in body
    assert "https://github.com/acme/storefront" in body  # a param
    assert COMMIT in body  # a result
    attestation = attestation_of(run)
    assert f'href="/attestations/{attestation.pk}/"' in body
    for child in ("build-push-r8x2k-clone", "build-push-r8x2k-build", "build-push-r8x2k-notify"):
        assert f'href="/runs/{signed[child].pk}/"' in body


def scopes_in(body: str) -> dict[str, str]:
    """pipeline task → scope mark, read from the task table rows."""
    return dict(re.findall(r'<tr class="[^"]*" data-task="([^"]+)" data-scope="([^"]+)"', body))


def test_choosing_an_artifact_highlights_its_scope(
    staff: Client, signed: dict[str, RunRecord]
) -> None:
    run = signed["release-v1-4-0-q7w3n"]
    plain = text(staff.get(f"/runs/{run.pk}/"))
    assert set(scopes_in(plain).values()) == {"none"}
    assert f'href="?artifact={INVENTORY_IMAGE.replace(":", "%3A")}"' in plain
    body = text(staff.get(f"/runs/{run.pk}/", {"artifact": INVENTORY_IMAGE}))
    assert scopes_in(body) == {
        "build-oci": "producer",
        "clone-oci": "in",
        "clone-go": "out",
        "build-go": "out",
    }
    assert "$(tasks.clone-oci.results.url)" in body  # why clone-oci is in
    assert "no runAfter, result or workspace path to the artifact" in body
    # The other artifact, by prefix-free hex: the same page state is reachable by URL.
    other = text(staff.get(f"/runs/{run.pk}/", {"artifact": INVENTORY_MODULE.split(":")[1]}))
    assert scopes_in(other)["build-go"] == "producer" and scopes_in(other)["build-oci"] == "out"


def test_unknown_artifact_is_explained_not_an_error(
    staff: Client, signed: dict[str, RunRecord]
) -> None:
    run = signed["release-v1-4-0-q7w3n"]
    response = staff.get(f"/runs/{run.pk}/", {"artifact": "sha256:" + "0" * 64})
    assert response.status_code == 200
    assert "Not an artifact of this run" in text(response)


def test_artifact_choice_by_htmx_returns_the_graph_fragment(
    staff: Client, signed: dict[str, RunRecord]
) -> None:
    run = signed["release-v1-4-0-q7w3n"]
    response = staff.get(
        f"/runs/{run.pk}/",
        {"artifact": INVENTORY_IMAGE},
        headers={"HX-Request": "true", "HX-Target": "run-graph"},
    )
    body = text(response)
    assert body.lstrip().startswith('<section id="run-graph"') and "<html" not in body
    assert scopes_in(body)["build-oci"] == "producer"


def test_child_taskrun_links_to_its_pipelinerun(
    staff: Client, signed: dict[str, RunRecord]
) -> None:
    child = signed["build-push-r8x2k-build"]
    body = text(staff.get(f"/runs/{child.pk}/"))
    assert f'href="/runs/{signed["build-push-r8x2k"].pk}/"' in body
    assert "IMAGE_DIGEST" in body and "attested as part of its PipelineRun" in body
    assert "Steps" in body


# --- artifacts, attestations, downloads --------------------------------------------------------


def test_artifact_list_and_digest_detail(staff: Client, signed: dict[str, RunRecord]) -> None:
    body = text(staff.get("/artifacts/"))
    for uri in (
        "ghcr.io/acme/storefront",
        "registry.acme.dev/inventory/inventory-api",
        "pkg:golang/github.com/acme/inventory@v1.4.0",
    ):
        assert uri in body
    filtered = text(staff.get("/artifacts/", {"q": "b2369ff8"}))
    assert "ghcr.io/acme/storefront" in filtered and "inventory-api" not in filtered
    assert "No artifact matches" in text(staff.get("/artifacts/", {"q": "nothing-like-this"}))
    detail = text(staff.get(f"/artifacts/{STOREFRONT_IMAGE}/"))
    assert "Signature verified" in detail
    assert f"/artifacts/{STOREFRONT_IMAGE}/attestations.jsonl" in detail
    # Canonical URL: upper case and no algorithm redirect; junk is a 404.
    upper = staff.get(f"/artifacts/{STOREFRONT_IMAGE.upper()}/")
    assert upper.status_code == 302 and upper["Location"] == f"/artifacts/{STOREFRONT_IMAGE}/"
    assert staff.get("/artifacts/not-a-digest/").status_code == 404
    assert staff.get(f"/artifacts/sha256:{'0' * 64}/").status_code == 404


def test_digest_detail_lists_attestations_across_runs_and_namespaces_newest_first(
    staff: Client, signed: dict[str, RunRecord], django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        ingest(sample_items("build-push", namespace="storefront-prod", suffix="prod"))
    body = text(staff.get(f"/artifacts/{STOREFRONT_IMAGE}/"))
    ids = [int(i) for i in re.findall(r'class="cell-name" href="/attestations/(\d+)/"', body)]
    assert len(ids) == 2 and ids == sorted(ids, reverse=True)
    assert "storefront-prod" in body and STOREFRONT in body
    assert body.count("Signature verified") == 2


def test_attestation_detail_decodes_the_statement(
    staff: Client, signed: dict[str, RunRecord]
) -> None:
    run = signed["release-v1-4-0-q7w3n"]
    attestation = attestation_of(run, INVENTORY_IMAGE)
    key = SigningKey.objects.get(key_id=attestation.key_id)
    body = text(staff.get(f"/attestations/{attestation.pk}/"))
    assert "Signature verified" in body
    assert attestation.key_id in body and key.algorithm in body
    assert "registry.acme.dev/inventory/inventory-api" in body
    assert "https://chainsweb.dev/buildtypes/tekton-per-artifact/v1" in body
    assert "https://tekton.dev/chains/v2" in body  # builder
    assert "Resolved dependencies" in body and "oci://gcr.io/kaniko-project/executor" in body
    assert "Run state when signed" in body
    scope_table = body[body.index('id="statement-scope"') :]
    assert scope_table.index("build-oci") < scope_table.index("clone-go")
    assert "SLSA v1.0" in body
    for name in ("statement", "envelope"):
        assert f"/attestations/{attestation.pk}/{name}.json" in body
    assert f"/artifacts/{INVENTORY_IMAGE}/attestations.jsonl" in body


def _why_cell(body: str, task: str) -> str:
    """The text of the Why cell of ``task``'s row in the page's statement scope table."""
    table = body[body.index('id="statement-scope"') :]
    row = re.search(
        rf'<tr class="row-in"><td class="cell-long"><span class="cell-name">{task}</span>.*?</tr>',
        table,
        re.S,
    )
    assert row is not None, task
    cell = re.search(r'data-label="Why">(.*?)</td>', row[0], re.S)
    assert cell is not None
    return " ".join(re.sub(r"<[^>]+>", "", cell[1]).split())


def test_per_artifact_why_and_producers_read_the_same_on_page_api_and_cli(
    staff: Client,
    signed: dict[str, RunRecord],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Any,
) -> None:
    run = signed["release-v1-4-0-q7w3n"]
    attestation = attestation_of(run, INVENTORY_IMAGE)
    api = caller_with_token(token(namespaces=(INVENTORY,)))
    response = api.get(f"/api/v1/attestations/{attestation.pk}/statement")
    assert response.status_code == 200
    state = read_statement(response.content).run_state
    assert state is not None
    # The signed statement names the producer once, with every result it was found through.
    assert state["producers"] == [
        {
            "pipelineTask": "build-oci",
            "taskRun": "release-v1-4-0-q7w3n-build-oci",
            "results": ["IMAGE_DIGEST", "IMAGE_DIGEST (via pipeline result IMAGE_DIGEST)"],
        }
    ]
    # clone-oci's own step is what it feeds, and it leads to the producer.
    clone = next(t for t in state["inScope"] if t["pipelineTask"] == "clone-oci")
    assert clone["why"].startswith("feeds build-oci: ") and "produces" not in clone["why"]
    assert clone["leadsTo"] == "release-v1-4-0-q7w3n-build-oci"
    path = why_text(why_path(clone, state["inScope"]))
    assert path.endswith(
        " → build-oci produces the artifact (results IMAGE_DIGEST, "
        "IMAGE_DIGEST (via pipeline result IMAGE_DIGEST))"
    )

    body = text(staff.get(f"/attestations/{attestation.pk}/"))
    assert _why_cell(body, "clone-oci") == path
    assert "why-list" not in body  # no numbered list that reads as if clone produced it
    producers = re.search(r'id="statement-producers">(.*?)</p>', body, re.S)
    assert producers is not None
    assert producers[1].count("build-oci") == 1
    assert "Produced by: build-oci (results IMAGE_DIGEST, IMAGE_DIGEST (via pipeline" in body

    # The run page computes the same scope and prints the same path.
    run_page = text(staff.get(f"/runs/{run.pk}/", {"artifact": INVENTORY_IMAGE}))
    assert path in " ".join(re.sub(r"<[^>]+>", "", run_page).split())

    # compute_provenance --explain prints it too, under the settings it was signed with.
    records_file = tmp_path / "records.json"
    records_file.write_bytes(orjson.dumps(sample_items("release-go-and-image")))
    deep = ["--deep-inspection"] if attestation.settings.get("deep_inspection") else []
    call_command(
        "compute_provenance",
        str(records_file),
        "--per-artifact",
        "--format",
        attestation.format,
        *deep,
        "--explain",
    )
    assert path in capsys.readouterr().err


def test_per_run_attestation_says_it_covers_every_task(
    staff: Client, signed: dict[str, RunRecord]
) -> None:
    attestation = attestation_of(signed["build-push-r8x2k"])
    body = text(staff.get(f"/attestations/{attestation.pk}/"))
    assert "covers every task of the run" in body
    assert "Recorded run status" in body and "badge-failed" in body


def test_a_signature_that_fails_is_shown_clearly(
    staff: Client, signed: dict[str, RunRecord]
) -> None:
    attestation = attestation_of(signed["build-push-r8x2k"])
    other = services.signing_key_create(namespace="", algorithm="ecdsa-p256", actor="test")
    SigningKey.objects.filter(key_id=attestation.key_id).update(public_key_pem=other.public_key_pem)
    body = text(staff.get(f"/attestations/{attestation.pk}/"))
    assert "Verification failed: Key not trusted" in body and "does not match its id" in body
    assert 'role="alert"' in body and "Signature verified" not in body
    SigningKey.objects.filter(key_id=attestation.key_id).delete()
    body = text(staff.get(f"/attestations/{attestation.pk}/"))
    assert "Verification failed: Unknown key" in body


def test_downloads_are_the_stored_bytes_and_verify(
    viewer: Client, signed: dict[str, RunRecord]
) -> None:
    attestation = attestation_of(signed["build-push-r8x2k"])
    key = SigningKey.objects.get(key_id=attestation.key_id)
    envelope = viewer.get(f"/attestations/{attestation.pk}/envelope.json")
    assert envelope["Content-Disposition"] == (
        f'attachment; filename="attestation-{attestation.pk}.dsse.json"'
    )
    assert envelope.content == bytes(attestation.envelope)
    assert sslib_verify(envelope.content, key.public_key_pem, key.key_id) == bytes(
        attestation.statement
    )
    assert envelope["Content-Type"] == "application/vnd.dsse.envelope.v1+json"
    statement = viewer.get(f"/attestations/{attestation.pk}/statement.json")
    assert statement.content == bytes(attestation.statement)
    assert statement["Content-Type"] == "application/vnd.in-toto+json"
    assert statement["Content-Disposition"] == (
        f'attachment; filename="attestation-{attestation.pk}.intoto.json"'
    )


def test_jsonl_holds_every_visible_envelope_of_the_digest(
    staff: Client, viewer: Client, signed: dict[str, RunRecord], django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        ingest(sample_items("build-push", namespace="storefront-prod", suffix="prod"))
    url = f"/artifacts/{STOREFRONT_IMAGE}/attestations.jsonl"
    everything = text(staff.get(url)).splitlines()
    assert len(everything) == 2
    mine = viewer.get(url)
    assert mine["Content-Disposition"].endswith('.intoto.jsonl"')
    lines = text(mine).splitlines()
    assert len(lines) == 1
    key = SigningKey.objects.get(namespace="", purpose=SigningKey.Purpose.ATTESTATION)
    payload = sslib_verify(lines[0].encode(), key.public_key_pem, key.key_id)
    assert orjson.loads(payload)["subject"][0]["digest"]["sha256"] in STOREFRONT_IMAGE


def test_attestation_list_filters(staff: Client, signed: dict[str, RunRecord]) -> None:
    def ids(**params: str) -> set[int]:
        body = text(staff.get("/attestations/", params))
        return {int(i) for i in re.findall(r'class="cell-name" href="/attestations/(\d+)/"', body)}

    every = set(Attestation.objects.values_list("id", flat=True))
    assert ids() == every
    per_artifact = set(
        Attestation.objects.filter(scope="per-artifact").values_list("id", flat=True)
    )
    assert ids(scope="per-artifact") == per_artifact
    assert ids(namespace=INVENTORY) == per_artifact
    run = signed["build-push-r8x2k"]
    assert ids(run=str(run.pk)) == {attestation_of(run).pk}
    assert ids(current="0") == set()
    assert "No attestation matches" in text(staff.get("/attestations/", {"current": "0"}))


# --- search --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (STOREFRONT_IMAGE, f'href="/artifacts/{STOREFRONT_IMAGE}/"'),
        (STOREFRONT_IMAGE.split(":")[1], f'href="/artifacts/{STOREFRONT_IMAGE}/"'),
        ("b2369ff8", f'href="/artifacts/{STOREFRONT_IMAGE}/"'),
        ("sha256:B2369FF8", f'href="/artifacts/{STOREFRONT_IMAGE}/"'),
        (f"ghcr.io/acme/storefront@{STOREFRONT_IMAGE}", "an image reference by digest"),
        (f"ghcr.io/acme/storefront:{COMMIT}", "an image reference by tag"),
        (COMMIT[:10], "a git commit"),
        ("r8x2k", "build-push-r8x2k-notify"),
        ("build-pu", 'href="/runs/?pipeline=build-push&amp;namespace=storefront-ci"'),
    ],
)
def test_search_understands(
    staff: Client, signed: dict[str, RunRecord], query: str, expected: str
) -> None:
    body = text(staff.get("/search/", {"q": query}))
    assert expected in body


def test_search_by_commit_and_tag_finds_the_attestation(
    staff: Client, signed: dict[str, RunRecord]
) -> None:
    attestation = attestation_of(signed["build-push-r8x2k"])
    for query in (COMMIT[:8], f"ghcr.io/acme/storefront:{COMMIT}"):
        body = text(staff.get("/search/", {"q": query}))
        assert f'href="/attestations/{attestation.pk}/"' in body, query
        assert "most recent attestations" in body  # the documented limit
    tagged = text(staff.get("/search/", {"q": f"ghcr.io/acme/storefront:{COMMIT}"}))
    assert "1 of them mention" in tagged and "listed first" in tagged


def _section_ids(body: str, heading_id: str) -> list[int]:
    """The attestation ids listed in one section of the search page, in order."""
    start = body.find(f'id="{heading_id}"')
    if start == -1:
        return []
    end = body.find("</section>", start)
    return [int(i) for i in re.findall(r'href="/attestations/(\d+)/"', body[start:end])]


def test_a_digest_and_its_prefixes_list_the_same_attestations_of_it(
    staff: Client, signed: dict[str, RunRecord]
) -> None:
    hex_value = INVENTORY_IMAGE.split(":")[1]
    expected = sorted(
        (a.pk for a in Attestation.objects.filter(subjects__hex=hex_value).distinct()),
        reverse=True,
    )
    assert len(expected) == 1  # inventory-release attests per artifact: one of the image
    for query in (
        INVENTORY_IMAGE,
        hex_value,
        hex_value[:12],
        hex_value[:40],
        INVENTORY_IMAGE[:20],
        f"registry.acme.dev/inventory/inventory-api@{INVENTORY_IMAGE}",
    ):
        body = text(staff.get("/search/", {"q": query}))
        assert _section_ids(body, "r-attestations-of") == expected, query
        # A prefix read as a git commit adds only attestations that are not already listed.
        assert not set(_section_ids(body, "r-attestations")) & set(expected), query


def test_an_image_tag_lists_every_attestation_of_that_image(
    staff: Client, signed: dict[str, RunRecord]
) -> None:
    # The per-artifact statement of the image does not carry any tag; it is still listed.
    image = "registry.acme.dev/inventory/inventory-api"
    attestation = attestation_of(signed["release-v1-4-0-q7w3n"], INVENTORY_IMAGE)
    body = text(staff.get("/search/", {"q": f"{image}:no-such-tag"}))
    assert _section_ids(body, "r-attestations-of") == [attestation.pk]
    assert "A tag is not part of what is signed" in body
    assert "None of their statements mentions no-such-tag" in body
    # The run's other artifact (its Go module) is not that image.
    module = attestation_of(signed["release-v1-4-0-q7w3n"], INVENTORY_MODULE)
    assert f'href="/attestations/{module.pk}/"' not in body


def test_a_query_over_the_limit_is_said_to_be_too_long(
    staff: Client, signed: dict[str, RunRecord]
) -> None:
    body = text(staff.get("/search/", {"q": "a" * 3000}))
    assert "The query is too long" in body and "3000 characters" in body
    assert "Type something to search" not in body
    assert "The query is too long" not in text(staff.get("/search/", {"q": "a" * 300}))
    ref = text(staff.get("/search/", {"q": f"ghcr.io/acme/storefront@{STOREFRONT_IMAGE}"}))
    assert "ghcr.io/acme/storefront" in ref and "Artifacts" in ref


def test_search_empty_states(staff: Client, signed: dict[str, RunRecord]) -> None:
    assert "Type something to search" in text(staff.get("/search/"))
    assert "Nothing found" in text(staff.get("/search/", {"q": "zzzz-nothing"}))


# --- namespace settings ------------------------------------------------------------------------


def test_settings_page_explains_each_setting(admin: Client, signed: dict[str, RunRecord]) -> None:
    body = text(admin.get(f"/namespaces/{INVENTORY}/settings/"))
    for phrase in (
        "SLSA v0.2 predicate",
        "Also read the results of each child TaskRun",
        "exactly what Tekton Chains writes",
        "as soon as every in-scope task",
        "builder.id",
        "slsa-tekton",
    ):
        assert phrase in body
    assert 'name="csrfmiddlewaretoken"' in body
    assert "Preview on the latest run" in body and "release-v1-4-0-q7w3n" in body
    assert "History" in body and "test" in body  # the fixture's audited change
    assert "Recompute progress" in body and "Signed: <strong>1</strong>" in body


def test_admin_changes_a_setting_audited_and_recomputed(
    admin: Client, signed: dict[str, RunRecord], django_capture_on_commit_callbacks: Any
) -> None:
    data = namespace_settings_view(INVENTORY)
    form = {k: data[k] for k in SETTINGS_FIELDS}
    form.update(scope="per-run", emit="on-completion", deep_inspection="")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post(f"/namespaces/{INVENTORY}/settings/", {**form, "action": "save"})
    assert response.status_code == 302
    entry = SettingsAudit.objects.filter(namespace=INVENTORY).order_by("-id").first()
    assert entry is not None and entry.actor == "user:admin"
    assert entry.old["scope"] == "per-artifact" and entry.new["scope"] == "per-run"
    page = text(admin.get(response["Location"]))
    assert "saved; its runs are being recomputed" in page
    assert "user:admin" in page and 'per-artifact</span> → <span class="new">per-run' in page
    run = signed["release-v1-4-0-q7w3n"]
    assert Attestation.objects.filter(run=run, scope="per-run", superseded_by=None).exists()


def test_invalid_settings_are_refused_with_the_reason(
    admin: Client, signed: dict[str, RunRecord]
) -> None:
    data = namespace_settings_view(INVENTORY)
    form = {k: data[k] for k in SETTINGS_FIELDS}
    form.update(scope="per-run", emit="on-artifact", deep_inspection="")
    response = admin.post(f"/namespaces/{INVENTORY}/settings/", {**form, "action": "save"})
    assert response.status_code == 400
    assert "on-artifact needs per-artifact scope" in text(response)
    assert SettingsAudit.objects.filter(namespace=INVENTORY).count() == 1
    form.update(
        scope="per-artifact",
        format="slsa/v1",
        build_type="https://tekton.dev/chains/v2/slsa-tekton",
    )
    response = admin.post(f"/namespaces/{INVENTORY}/settings/", {**form, "action": "save"})
    assert response.status_code == 400
    assert "applies to SLSA v1.0 only" in text(response)
    assert SettingsAudit.objects.filter(namespace=INVENTORY).count() == 1


def test_preview_shows_what_changes_for_the_latest_run(
    admin: Client, signed: dict[str, RunRecord]
) -> None:
    data = namespace_settings_view(INVENTORY)
    form = {k: data[k] for k in SETTINGS_FIELDS}
    form.update(scope="per-run", emit="on-completion", format="slsa/v1", deep_inspection="")
    response = admin.post(
        f"/namespaces/{INVENTORY}/settings/preview", form, headers={"HX-Request": "true"}
    )
    body = text(response)
    assert body.lstrip().startswith('<div id="settings-preview"')
    assert "statements for this run: 2 → 1" in body
    assert "predicate: SLSA v1.0 → SLSA v0.2" in body
    assert "scope: per-artifact → per-run" in body
    # Nothing was saved.
    assert namespace_settings_view(INVENTORY)["scope"] == "per-artifact"
    # The same preview without JavaScript: the form's Preview button.
    page = admin.post(f"/namespaces/{INVENTORY}/settings/", {**form, "action": "preview"})
    assert page.status_code == 200 and "statements for this run: 2 → 1" in text(page)


def test_recompute_progress_polls_while_runs_are_queued(
    admin: Client, signed: dict[str, RunRecord]
) -> None:
    done = text(admin.get(f"/namespaces/{INVENTORY}/progress"))
    assert "Up to date" in done and "hx-trigger" not in done
    RunRecord.objects.filter(namespace=INVENTORY, kind=RunKind.PIPELINE_RUN).update(
        compute_status=ComputeStatus.PENDING
    )
    busy = text(admin.get(f"/namespaces/{INVENTORY}/progress"))
    assert 'hx-trigger="every 2s"' in busy and "1 of 1 runs still queued" in busy


def test_token_create_shows_it_once_and_revoke(admin: Client, signed: dict[str, RunRecord]) -> None:
    response = admin.post(
        f"/namespaces/{INVENTORY}/tokens/", {"name": "ci-bot", "role": "ingester"}
    )
    assert response.status_code == 201 and response["Cache-Control"] == "no-store"
    token = re.search(r'data-copy="(cwt_[^"]+)"', text(response))
    assert token is not None
    row = ApiToken.objects.get(name="ci-bot")
    assert row.namespaces == [INVENTORY] and row.role == "ingester"
    assert token_hash(token.group(1)) == row.token_hash
    listing = text(admin.get(f"/namespaces/{INVENTORY}/settings/"))
    assert "ci-bot" in listing and token.group(1) not in listing
    revoked = admin.post(f"/namespaces/{INVENTORY}/tokens/{row.pk}/revoke")
    assert revoked.status_code == 302
    row.refresh_from_db()
    assert row.revoked_at is not None


def test_tokens_of_other_namespaces_cannot_be_revoked(
    admin: Client, signed: dict[str, RunRecord]
) -> None:
    foreign, _ = services.api_token_create(name="other", namespaces=[STOREFRONT])
    shared, _ = services.api_token_create(name="shared", namespaces=[INVENTORY, STOREFRONT])
    assert admin.post(f"/namespaces/{INVENTORY}/tokens/{foreign.pk}/revoke").status_code == 404
    assert admin.post(f"/namespaces/{INVENTORY}/tokens/{shared.pk}/revoke").status_code == 403
    assert not ApiToken.objects.filter(revoked_at__isnull=False).exists()


def test_forms_need_csrf(django_user_model: Any, signed: dict[str, RunRecord]) -> None:
    user = django_user_model.objects.create_user("csrf", password="x", is_staff=True)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    data = namespace_settings_view(INVENTORY)
    form = {k: data[k] for k in SETTINGS_FIELDS}
    for url in (
        f"/namespaces/{INVENTORY}/settings/",
        f"/namespaces/{INVENTORY}/settings/preview",
        f"/namespaces/{INVENTORY}/tokens/",
        "/accounts/logout/",
    ):
        assert client.post(url, form).status_code == 403, url


# --- safety: escaping, no inline script or style -------------------------------------------------


def hostile_pipeline() -> list[dict[str, Any]]:
    """A run whose task names, params and results are HTML (pipeline_builder shapes)."""
    evil = "<script>alert(1)</script>"
    docs = pipeline_run(
        [
            Task(evil, results={"commit": HOSTILE}, params={"x": HOSTILE}),
            Task(
                "build",
                params={"COMMIT": f"$(tasks.{evil}.results.commit)"},
                results={
                    "IMAGE_URL": "registry.example/<b>app</b>",
                    "IMAGE_DIGEST": "sha256:" + digest("x"),
                },
            ),
            Task('"><img src=x onerror=alert(3)>', run_after=["build"], is_finally=True),
        ],
        name="hostile",
        pipeline_results={
            "IMAGE_URL": "$(tasks.build.results.IMAGE_URL)",
            "IMAGE_DIGEST": "$(tasks.build.results.IMAGE_DIGEST)",
        },
        run_results={
            "IMAGE_URL": "registry.example/<b>app</b>",
            "IMAGE_DIGEST": "sha256:" + digest("x"),
        },
    )
    for doc in docs:
        doc["metadata"]["namespace"] = STOREFRONT
    return docs


class Markup(HTMLParser):
    """The elements and attributes a browser would build from a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def assert_safe(body: str, where: str) -> None:
    assert "<script>alert" not in body, where
    assert "<img src=x" not in body, where
    assert "<b>app</b>" not in body, where
    parser = Markup()
    parser.feed(body)
    for tag, attrs in parser.tags:
        # Only our own elements: no <img>, no <b> from a record.
        assert tag not in ("img", "b", "iframe", "object"), (where, tag, attrs)
        # CSP without 'unsafe-inline': no inline scripts, handlers or style attributes.
        assert tag != "style", where
        if tag == "script":
            assert attrs.get("src", "").startswith("/static/"), (where, attrs)
        for name in attrs:
            assert not name.startswith("on"), (where, tag, attrs)
            assert name != "style", (where, tag, attrs)


def test_record_content_is_escaped_everywhere(
    staff: Client, signed: dict[str, RunRecord], django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        ingest(hostile_items())
        ingest(hostile_pipeline())
    runs = RunRecord.objects.filter(namespace=STOREFRONT)
    hostile_run = runs.get(kind=RunKind.PIPELINE_RUN, name__startswith="build-push-r8x2k-<")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text(staff.get(f"/runs/{hostile_run.pk}/"))
    urls = ["/", "/runs/", "/artifacts/", "/attestations/", "/search/?q=script"]
    urls += [f"/runs/{run.pk}/" for run in runs]
    urls += [f"/attestations/{a.pk}/" for a in Attestation.objects.filter(namespace=STOREFRONT)]
    pipeline = runs.get(name="hostile")
    for scope in ("sha256:" + digest("x"),):
        urls.append(f"/runs/{pipeline.pk}/?artifact={scope}")
    urls.append(f"/namespaces/{STOREFRONT}/settings/")
    for url in urls:
        response = staff.get(url)
        assert response.status_code == 200, url
        assert_safe(text(response), url)
    graph = text(staff.get(f"/runs/{pipeline.pk}/"))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in graph  # the task name, as text
    assert "FINALLY" in graph


def test_pages_carry_no_inline_script_or_style(staff: Client, signed: dict[str, RunRecord]) -> None:
    run = signed["release-v1-4-0-q7w3n"]
    attestation = attestation_of(run, INVENTORY_IMAGE)
    for url in (
        "/",
        "/runs/",
        f"/runs/{run.pk}/?artifact={INVENTORY_IMAGE}",
        "/artifacts/",
        f"/artifacts/{INVENTORY_IMAGE}/",
        "/attestations/",
        f"/attestations/{attestation.pk}/",
        f"/search/?q={COMMIT}",
        f"/namespaces/{INVENTORY}/settings/",
        "/accounts/login/",
    ):
        body = text((Client() if "login" in url else staff).get(url))
        assert_safe(body, url)
        assert '<meta name="htmx-config"' in body, url
        assert '"allowEval":false' in body and '"includeIndicatorStyles":false' in body


# --- bounded queries -------------------------------------------------------------------------


def make_runs(count: int, namespace: str = STOREFRONT) -> None:
    """Many run rows (no engine work needed for list pages)."""
    raw = zlib.compress(b"{}")
    RunRecord.objects.bulk_create(
        [
            RunRecord(
                uid=f"bulk-{namespace}-{i}",
                kind=RunKind.PIPELINE_RUN if i % 2 else RunKind.TASK_RUN,
                namespace=namespace,
                name=f"bulk-{i:04d}",
                definition="bulk-pipeline",
                status="True",
                raw=raw,
                raw_sha256="0" * 64,
                compute_status=ComputeStatus.SIGNED,
            )
            for i in range(count)
        ]
    )


def queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
        assert response.status_code == 200, url
        text(response)
    return len(captured.captured_queries)


@pytest.fixture
def many(signed: dict[str, RunRecord], django_capture_on_commit_callbacks: Any) -> None:
    make_runs(120)
    with django_capture_on_commit_callbacks(execute=True):
        for i in range(12):
            ingest(sample_items("build-push", suffix=f"n{i}"))
            ingest(sample_items("kaniko-taskrun", suffix=f"n{i}"))
    assert Attestation.objects.count() >= 25


@pytest.mark.parametrize(
    "url",
    [
        "/runs/?per_page={n}",
        "/runs/?per_page={n}&namespace=storefront-ci&q=bulk",
        "/artifacts/?per_page={n}",
        "/attestations/?per_page={n}",
        f"/artifacts/{STOREFRONT_IMAGE}/?per_page={{n}}",
    ],
)
def test_list_pages_run_a_bounded_number_of_queries(
    staff: Client, viewer: Client, many: None, url: str
) -> None:
    for client in (staff, viewer):
        small = queries(client, url.format(n=25))
        large = queries(client, url.format(n=100))
        assert small == large, (url, small, large)
        # An artifact page also verifies the statement that applies in each namespace naming
        # it (the key ring once, then two queries a namespace).
        assert large <= 16, (url, large)


def test_overview_and_search_run_a_bounded_number_of_queries(
    staff: Client, many: None, django_assert_max_num_queries: Any
) -> None:
    with django_assert_max_num_queries(16):
        staff.get("/")
    with django_assert_max_num_queries(16):
        staff.get("/search/", {"q": COMMIT[:8]})
    with django_assert_max_num_queries(16):
        staff.get("/search/", {"q": "build"})


def test_list_pages_never_load_raw_records(staff: Client, many: None) -> None:
    for url in ("/", "/runs/?per_page=100", "/attestations/?per_page=100", "/search/?q=bulk"):
        with CaptureQueriesContext(connection) as captured:
            staff.get(url)
        for query in captured.captured_queries:
            assert '"provenance_runrecord"."raw"' not in query["sql"], (url, query["sql"])


def test_artifacts_are_deduplicated_per_digest_and_uri(staff: Client, many: None) -> None:
    body = text(staff.get("/artifacts/?per_page=100"))
    assert body.count('href="/artifacts/' + STOREFRONT_IMAGE + '/"') == 1
    assert Artifact.objects.filter(hex=STOREFRONT_IMAGE.split(":")[1]).count() == 1


def test_deep_inspection_view_shows_artifacts_named_only_by_task_results(
    staff: Client, signed: dict[str, RunRecord], django_capture_on_commit_callbacks: Any
) -> None:
    run = signed["preview-pr-1187-m2c8d"]
    plain = text(staff.get(f"/runs/{run.pk}/"))
    assert "No artifacts under this namespace" in plain and "?deep=1" in plain
    # A worker computes the deep view (here, in-process once the request's writes commit).
    with django_capture_on_commit_callbacks(execute=True):
        asked = text(staff.get(f"/runs/{run.pk}/", {"deep": "1"}))
    assert "being computed by a worker" in asked
    deep = text(staff.get(f"/runs/{run.pk}/", {"deep": "1"}))
    assert "ghcr.io/acme/storefront-preview" in deep
    key = re.search(r'href="\?deep=1&amp;artifact=([^"]+)"', deep)
    assert key is not None
    chosen = text(staff.get(f"/runs/{run.pk}/?deep=1&artifact={key.group(1)}"))
    assert scopes_in(chosen) == {
        "build": "producer",
        "clone": "in",
        "scan": "out",
        "deploy-preview": "out",
    }


def test_pages_with_fragments_vary_on_the_htmx_headers(
    staff: Client, signed: dict[str, RunRecord]
) -> None:
    run = signed["release-v1-4-0-q7w3n"]
    for url in ("/runs/", f"/runs/{run.pk}/"):
        vary = staff.get(url)["Vary"]
        assert "HX-Request" in vary and "HX-Target" in vary, url
