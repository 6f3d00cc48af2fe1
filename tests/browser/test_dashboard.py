"""The dashboard in a real browser: sign in, search, verify a download, explore a run's scope,
namespace isolation by URL, and an admin's settings change with its audit entry.

Records go in through ``records_ingest``; with no broker the compute task runs in-process and
signs with a real key, so every attestation here is real. Each test saves screenshots of the
pages it visits (1280 px and 420 px) under test-results/.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from provenance import services
from provenance.models import ApiToken, Attestation, NamespaceGrant, RunRecord, SigningKey
from tests.core.test_dsse import sslib_verify

from .conftest import screenshot
from .samples import ingest, sample_items

pytestmark = pytest.mark.django_db(transaction=True)

STOREFRONT = "storefront-ci"
INVENTORY = "inventory-release"
STOREFRONT_IMAGE = "sha256:b2369ff8266a7b15b96a61c95136056ec554ee6105e6e4a7c30402e8c8e1f7e9"
INVENTORY_IMAGE = "sha256:fcaddba13bec8ec84ed1429f6888c6eab1e87b020652402babb9cb4e63b0a528"
PASSWORD = "correct-horse-battery-staple"


@pytest.fixture(autouse=True)
def signed(settings: Any, tmp_path: Path) -> dict[str, RunRecord]:
    settings.KEYS_DIR = tmp_path / "keys"
    services.namespace_settings_update(
        namespace=INVENTORY, changes={"scope": "per-artifact", "emit": "on-artifact"}, actor="test"
    )
    for name in ("build-push", "kaniko-taskrun", "preview-running", "release-go-and-image"):
        ingest(sample_items(name))
    return {r.name: r for r in RunRecord.objects.all()}


def make_user(name: str, grants: dict[str, str], staff: bool = False) -> None:
    user = get_user_model().objects.create_user(name, password=PASSWORD, is_staff=staff)
    for namespace, role in grants.items():
        NamespaceGrant.objects.create(user=user, namespace=namespace, role=role)


def sign_in(page: Any, name: str) -> None:
    page.goto("/")
    assert "/accounts/login/" in page.url
    page.get_by_label("Username").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/$"))


def test_sign_in_overview_and_sign_out(page: Any) -> None:
    make_user("staff", {}, staff=True)
    page.goto("/accounts/login/")
    screenshot(page, "login")
    sign_in(page, "staff")
    assert page.get_by_role("heading", name="Overview").is_visible()
    for namespace in (STOREFRONT, INVENTORY, "web"):
        assert page.get_by_role("link", name=namespace, exact=True).first.is_visible()
    screenshot(page, "overview")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/accounts/login/$"))
    page.goto("/runs/")
    assert "/accounts/login/?next=/runs/" in page.url


def test_search_a_digest_open_its_attestation_and_verify_the_download(
    page: Any, tmp_path: Path
) -> None:
    make_user("ann", {STOREFRONT: ApiToken.Role.VIEWER})
    sign_in(page, "ann")
    search = page.get_by_role("searchbox", name="Search digests, images, commits, runs")
    search.fill(STOREFRONT_IMAGE.split(":")[1][:12])  # a prefix, without "sha256:"
    search.press("Enter")
    page.wait_for_url(re.compile(r"/search/\?q="))
    assert page.get_by_role("heading", name="Digests").is_visible()
    screenshot(page, "search")
    page.locator(f'a[href="/artifacts/{STOREFRONT_IMAGE}/"]').first.click()
    page.wait_for_url(re.compile(r"/artifacts/sha256:"))
    assert page.get_by_text("Signature verified").first.is_visible()
    screenshot(page, "artifact")
    attestation = Attestation.objects.get(namespace=STOREFRONT)
    page.get_by_role("link", name=f"#{attestation.pk}").click()
    page.wait_for_url(re.compile(rf"/attestations/{attestation.pk}/$"))
    banner = page.get_by_role("status").filter(has_text="Signature verified")
    assert banner.is_visible()
    assert page.get_by_text(attestation.key_id).first.is_visible()
    screenshot(page, "attestation")

    with page.expect_download() as info:
        page.get_by_role("link", name="DSSE envelope").click()
    download = info.value
    assert download.suggested_filename == f"attestation-{attestation.pk}.dsse.json"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    key = SigningKey.objects.get(key_id=attestation.key_id)
    payload = sslib_verify(saved.read_bytes(), key.public_key_pem, key.key_id)
    assert payload == bytes(attestation.statement)

    with page.expect_download() as info:
        page.get_by_role("link", name="All attestations of the artifact (.jsonl)").click()
    lines = Path(info.value.path()).read_bytes().splitlines()
    assert len(lines) == 1
    assert sslib_verify(lines[0], key.public_key_pem, key.key_id) == bytes(attestation.statement)


def node_scopes(page: Any) -> dict[str, str]:
    return page.eval_on_selector_all(
        ".graph-wide svg.run-graph g.node",
        "nodes => Object.fromEntries(nodes.map(n => [n.dataset.task, n.dataset.scope]))",
    )


def test_pick_an_artifact_and_see_its_tasks_highlighted(
    page: Any, signed: dict[str, RunRecord]
) -> None:
    make_user("inv", {INVENTORY: ApiToken.Role.VIEWER})
    sign_in(page, "inv")
    run = signed["release-v1-4-0-q7w3n"]
    page.get_by_role("link", name="Runs").first.click()
    page.get_by_role("link", name=run.name, exact=True).click()
    page.wait_for_url(re.compile(rf"/runs/{run.pk}/$"))
    assert set(node_scopes(page).values()) == {"none"}
    screenshot(page, "run")

    # Keyboard: focus the artifact link and press Enter; htmx swaps the graph and the URL.
    link = page.get_by_role("link", name="registry.acme.dev/inventory/inventory-api")
    link.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"\?artifact=sha256%3Afcaddba1"))
    page.wait_for_selector('svg.run-graph g.node[data-scope="producer"]')
    assert node_scopes(page) == {
        "build-oci": "producer",
        "clone-oci": "in",
        "clone-go": "out",
        "build-go": "out",
    }
    row = page.locator('#task-table tr[data-task="clone-oci"]')
    assert "In scope" in row.inner_text() and "tasks.clone-oci.results" in row.inner_text()
    assert "Out of scope" in page.locator('#task-table tr[data-task="build-go"]').inner_text()
    graph = page.locator(".graph-wide svg.run-graph")
    assert "scope-producer" in graph.locator('g[data-task="build-oci"]').get_attribute("class")
    screenshot(page, "run-artifact")

    # The other artifact, then the same state again straight from its URL.
    page.get_by_role("link", name="pkg:golang/github.com/acme/inventory").click()
    page.wait_for_selector('svg.run-graph g.node[data-task="build-go"][data-scope="producer"]')
    assert node_scopes(page)["build-oci"] == "out"
    page.goto(f"/runs/{run.pk}/?artifact={INVENTORY_IMAGE}")
    assert node_scopes(page)["build-oci"] == "producer"


def test_a_viewer_of_one_namespace_cannot_reach_another_by_url(
    page: Any, console: Any, signed: dict[str, RunRecord]
) -> None:
    console.expect("status of 404")
    make_user("viewer", {STOREFRONT: ApiToken.Role.VIEWER})
    sign_in(page, "viewer")
    other = signed["release-v1-4-0-q7w3n"]
    attestation = Attestation.objects.filter(run=other).first()
    assert attestation is not None
    for url in (
        f"/runs/{other.pk}/",
        f"/attestations/{attestation.pk}/",
        f"/artifacts/{INVENTORY_IMAGE}/",
        f"/namespaces/{INVENTORY}/settings/",
    ):
        response = page.goto(url)
        assert response.status == 404, url
        assert page.get_by_text("Not found").first.is_visible()
    with page.expect_response(re.compile("envelope.json")) as info:
        page.evaluate(f"fetch('/attestations/{attestation.pk}/envelope.json')")
    assert info.value.status == 404
    # Their own namespace works, and the lists never mention the other one.
    assert page.goto(f"/runs/{signed['build-push-r8x2k'].pk}/").status == 200
    page.goto("/runs/")
    assert INVENTORY not in page.content()
    screenshot(page, "runs-viewer")


def test_an_admin_changes_a_setting_and_sees_the_audit_entry(page: Any) -> None:
    make_user("boss", {INVENTORY: ApiToken.Role.ADMIN})
    sign_in(page, "boss")
    page.goto(f"/namespaces/{INVENTORY}/settings/")
    assert page.get_by_role("heading", name=f"Settings of {INVENTORY}").is_visible()
    # Changing a control previews the effect on the latest run (htmx), before saving.
    page.get_by_label("Emit policy").select_option("on-completion")
    page.get_by_label("Scope").select_option("per-run")
    page.get_by_text("statements for this run: 2 → 1").wait_for()
    screenshot(page, "settings-preview")
    page.get_by_role("button", name="Save settings").click()
    page.get_by_text(f"Settings of {INVENTORY} saved").wait_for()
    history = page.locator("#audit-table tbody tr").first
    assert "user:boss" in history.inner_text()
    assert "per-artifact" in history.inner_text() and "per-run" in history.inner_text()
    # The recompute ran (eagerly here): the progress shows the run signed again.
    assert "Up to date" in page.locator("#recompute-progress").inner_text()
    assert Attestation.objects.filter(namespace=INVENTORY, scope="per-run").exists()
    # A token for this namespace, shown once.
    page.get_by_label("Issued to").fill("release-bot")
    page.get_by_role("button", name="Create token").click()
    token = page.locator(".token-once code").inner_text()
    assert token.startswith("cwt_")
    screenshot(page, "settings")
    page.get_by_role("button", name=re.compile("Revoke the token of release-bot")).click()
    page.get_by_text("revoked").first.wait_for()


def test_runs_filter_live_and_copy_buttons(page: Any) -> None:
    make_user("staff", {}, staff=True)
    sign_in(page, "staff")
    page.goto("/runs/")
    assert page.locator("#run-results tbody tr").count() == 14
    page.get_by_label("Namespace").select_option(INVENTORY)
    page.wait_for_url(re.compile(rf"namespace={INVENTORY}"))
    expect(page.locator("#run-results tbody tr")).to_have_count(5)
    page.get_by_label("Kind").select_option("PipelineRun")
    expect(page.locator("#run-results tbody tr")).to_have_count(1)
    screenshot(page, "runs")
    page.goto("/artifacts/")
    screenshot(page, "artifacts")
    page.goto("/attestations/")
    screenshot(page, "attestations")
    button = page.get_by_role("button", name=f"Copy digest {STOREFRONT_IMAGE}")
    button.click()
    expect(button).to_contain_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == STOREFRONT_IMAGE


def test_keyboard_navigation_and_visible_focus(page: Any) -> None:
    make_user("staff", {}, staff=True)
    sign_in(page, "staff")
    active = (
        "(() => { const e = document.activeElement;"
        " return e.tagName === 'INPUT' ? 'input' : e.textContent.trim(); })()"
    )
    page.keyboard.press("Tab")
    assert page.evaluate(active) == "Skip to content"
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
    order = []
    for _ in range(8):
        page.keyboard.press("Tab")
        order.append(page.evaluate(active))
    assert order == [
        "chainsweb",
        "Overview",
        "Runs",
        "Artifacts",
        "Attestations",
        "input",
        "Search",
        "Sign out",
    ]
    # Every focused control shows a visible outline.
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
    page.reload()
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "content"
