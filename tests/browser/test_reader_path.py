"""The reader's path through the run page and the settings page (issue 17, issue 16): tasks
that have not run, the graph as text, a large run drawn by stage, keyboard-only use, a 390 px
phone, and axe-core on each page (``screenshot`` runs it at both widths).

Screenshots go to test-results/ like the dashboard tests'.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
import pytest
from playwright.sync_api import expect

from bench.engine import synthetic_input
from provenance import services, views
from provenance.graph_layout import MAX_DRAWN_TASKS
from provenance.models import ApiToken, Attestation, RunRecord
from tests.factories import TEST_SOURCE

from .conftest import RESULTS, assert_accessible, screenshot
from .test_dashboard import (  # noqa: F401  (signed: the samples, ingested and signed)
    INVENTORY,
    INVENTORY_IMAGE,
    STOREFRONT,
    make_user,
    sign_in,
    signed,
)

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = {"width": 390, "height": 844}
# Every control a keyboard user may need: what Tab must reach.
INTERACTIVE = (
    "a[href], button:not([disabled]), input:not([type=hidden]):not([disabled]), "
    "select:not([disabled]), textarea:not([disabled]), summary, [tabindex]:not([tabindex='-1'])"
)


def tab_reaches_every_control(page: Any, limit: int = 400) -> None:
    """Press Tab from the top until focus leaves the page or comes round again: every visible
    control must have had focus, and each must show a focus outline."""
    page.evaluate(
        f"document.querySelectorAll({INTERACTIVE!r}).forEach((e, i) => e.dataset.kbd = i)"
    )
    wanted = set(
        page.eval_on_selector_all(
            "[data-kbd]",
            "els => els.filter(e => e.getClientRects().length && "
            "getComputedStyle(e).visibility !== 'hidden').map(e => e.dataset.kbd)",
        )
    )
    # Start before the first control, whatever the page focused on load (search: its box).
    page.evaluate(
        "(() => { const s = document.createElement('span'); s.tabIndex = -1;"
        " document.body.prepend(s); s.focus(); })()"
    )
    reached: list[str] = []
    unmarked: list[str] = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "(() => { const e = document.activeElement; if (!e || e === document.body) return null;"
            " const outline = getComputedStyle(e).outlineStyle !== 'none'"
            " || getComputedStyle(e).boxShadow !== 'none' || !!e.closest('svg');"
            " return [e.dataset.kbd || '', outline, e.outerHTML.slice(0, 80)]; })()"
        )
        if focused is None or (len(reached) > 1 and focused[0] == reached[0]):
            break  # out of the page, or round again
        if focused[0] in reached:
            continue  # the parts of a date field take a Tab each
        reached.append(focused[0])
        if not focused[1]:
            unmarked.append(focused[2])
    missed = page.eval_on_selector_all(
        "[data-kbd]",
        "(els, missed) => els.filter(e => missed.includes(e.dataset.kbd))"
        ".map(e => e.outerHTML.slice(0, 100))",
        sorted(wanted - set(reached)),
    )
    assert missed == [], f"Tab never reaches {missed}"
    assert unmarked == [], f"no visible focus on {unmarked}"


def test_a_running_pipeline_shows_the_tasks_still_to_come(page: Any) -> None:
    make_user("ann", {STOREFRONT: ApiToken.Role.VIEWER})
    sign_in(page, "ann")
    run = RunRecord.objects.get(name="preview-pr-1187-m2c8d")
    page.goto(f"/runs/{run.pk}/")
    waiting = page.locator('.graph-wide svg.run-graph g.node[data-task="deploy-preview"]')
    expect(waiting).to_have_attribute("data-status", "waiting")
    assert "Waiting" in (waiting.text_content() or "")
    row = page.locator('#task-table tr[data-task="deploy-preview"]')
    assert "Waiting: not started yet" in row.inner_text()
    # The graph as text says the same, with what each task comes after.
    page.get_by_text("The graph as text", exact=True).click()
    text = page.locator(".graph-text").inner_text()
    assert re.search(r"deploy-preview: Waiting; after \w", text), text
    assert "clone: " in text and "starts the pipeline" in text
    screenshot(page, "run-running")


def test_keyboard_alone_reaches_every_action(page: Any, console: Any) -> None:
    console.expect("status of 404")
    make_user("boss", {INVENTORY: ApiToken.Role.ADMIN})
    sign_in(page, "boss")
    run = RunRecord.objects.get(name="release-v1-4-0-q7w3n")
    child = RunRecord.objects.get(name="release-v1-4-0-q7w3n-build-oci")
    attestation = Attestation.objects.filter(namespace=INVENTORY).first()
    assert attestation is not None
    for name, url in (
        ("overview", "/"),
        ("run", f"/runs/{run.pk}/"),
        ("taskrun", f"/runs/{child.pk}/"),
        ("settings", f"/namespaces/{INVENTORY}/settings/"),
        ("attestation", f"/attestations/{attestation.pk}/"),
        ("digest", f"/artifacts/{INVENTORY_IMAGE}/"),
        ("search", "/search/?q=inventory"),
        ("attestation list", "/attestations/"),
        ("artifact list", "/artifacts/"),
        ("run list", "/runs/"),
        ("not found", "/runs/999999/"),
    ):
        page.goto(url)
        assert_accessible(page, name)
        tab_reaches_every_control(page)
    # The graph's artifact picker works from the keyboard, and the scope shows in the text.
    page.goto(f"/runs/{run.pk}/")
    page.get_by_role("link", name="registry.acme.dev/inventory/inventory-api").focus()
    page.keyboard.press("Enter")
    page.wait_for_selector('svg.run-graph g.node[data-scope="producer"]')
    page.locator(".graph-text summary").focus()
    page.keyboard.press("Enter")
    assert "build-oci: Succeeded, produces the artifact" in page.locator(".graph-text").inner_text()


def test_a_phone_shows_whole_graph_nodes_and_the_settings_history(page: Any) -> None:
    make_user("boss", {INVENTORY: ApiToken.Role.ADMIN})
    sign_in(page, "boss")
    services.namespace_settings_update(
        namespace=INVENTORY, changes={"deep_inspection": True}, actor="user:boss"
    )
    page.set_viewport_size(PHONE)
    RESULTS.mkdir(exist_ok=True)
    page.goto(f"/namespaces/{INVENTORY}/settings/")
    history = page.locator("#audit-table")
    history.scroll_into_view_if_needed()
    width = page.evaluate("document.documentElement.clientWidth")
    for box in [b.bounding_box() for b in history.locator(".badge, .tag, td").all()]:
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, box
    page.locator('section[aria-labelledby="audit-title"]').screenshot(
        path=str(RESULTS / "settings-history-390.png")
    )
    page.screenshot(path=str(RESULTS / "settings-390.png"), full_page=True)
    assert_accessible(page, "settings at 390 px")

    run = RunRecord.objects.get(name="release-v1-4-0-q7w3n")
    page.goto(f"/runs/{run.pk}/")
    page.locator("#run-graph").screenshot(path=str(RESULTS / "run-graph-390.png"))
    page.screenshot(path=str(RESULTS / "run-390.png"), full_page=True)
    assert_accessible(page, "run at 390 px")
    # On a phone the graph reads top to bottom: the first column's tasks side by side, whole,
    # and each later column below the one before.
    expect(page.locator(".graph-wide")).to_be_hidden()
    scroller = page.locator(".graph-tall")
    view = scroller.bounding_box()
    assert view is not None
    nodes = {
        n.get_attribute("data-task"): n.bounding_box() for n in scroller.locator("g.node").all()
    }
    for task in ("clone-oci", "build-oci"):
        box = nodes[task]
        assert box is not None and view["x"] <= box["x"]
        assert box["x"] + box["width"] <= view["x"] + view["width"], (task, box, view)
    assert nodes["build-oci"]["y"] > nodes["clone-oci"]["y"] + nodes["clone-oci"]["height"]


def _large_run(tasks: int) -> RunRecord:
    data = synthetic_input(tasks, tasks // 5)
    items = orjson.loads(data)["items"]
    for item in items:
        item["metadata"]["namespace"] = INVENTORY
    services.records_ingest(
        data=orjson.dumps({"apiVersion": "v1", "kind": "List", "items": items}),
        namespaces_allowed=None,
        source=TEST_SOURCE,
    )
    return RunRecord.objects.get(kind="PipelineRun", name=items[0]["metadata"]["name"])


def test_a_large_run_reads_by_stage_then_by_artifact(page: Any, monkeypatch: Any) -> None:
    # A record past this many bytes is a download (1,000 tasks: 1.5 MB; these 300: less).
    monkeypatch.setattr(views, "RECORD_INLINE_BYTES", 50_000)
    tasks = MAX_DRAWN_TASKS + 150
    run = _large_run(tasks)
    make_user("inv", {INVENTORY: ApiToken.Role.VIEWER})
    sign_in(page, "inv")
    page.goto(f"/runs/{run.pk}/")
    expect(page.locator("#graph-collapsed-note")).to_contain_text(f"{tasks} tasks")
    stages = page.locator("svg.run-stages g.stage")
    assert stages.count() == 10  # the synthetic run: chains of ten tasks
    assert "30 tasks" in (stages.first.text_content() or "")
    assert page.locator("#task-table tbody tr").count() == 100
    expect(page.get_by_text(f"Tasks 1–100 of {tasks}")).to_be_visible()
    screenshot(page, "run-large")
    page.locator(".graph-layout > div").first.screenshot(path=str(RESULTS / "run-large-graph.png"))

    # Next page of the task table, then an artifact: only its tasks are drawn, listed first.
    page.get_by_role("link", name="Next tasks").click()
    expect(page.get_by_text(f"Tasks 101–200 of {tasks}")).to_be_visible()
    page.locator(".artifact-picker a").first.click()
    page.wait_for_selector('svg.run-graph g.node[data-scope="producer"]')
    drawn = page.locator(".graph-wide svg.run-graph g.node").count()
    assert 1 <= drawn <= 10
    expect(page.locator("#graph-collapsed-note")).to_contain_text(
        f"the other {tasks - drawn} of this run's {tasks} tasks are out of its scope"
    )
    first_rows = page.locator("#task-table tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.scope)"
    )
    assert first_rows[:drawn] == sorted(first_rows[:drawn], key=["producer", "in"].index)
    assert set(first_rows[drawn:]) == {"out"}
    screenshot(page, "run-large-artifact")
    page.locator(".graph-layout > div").first.screenshot(
        path=str(RESULTS / "run-large-artifact-graph.png")
    )

    # The stored record is a download, not a page of JSON.
    with page.expect_download() as info:
        page.get_by_role("link", name="download it as JSON").click()
    assert info.value.suggested_filename == f"pipelinerun-{run.pk}.json"
