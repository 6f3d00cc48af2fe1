"""A compliance reader's path through issue 17's per-artifact wording, in a real browser: search
an image by digest and by prefix (the same attestations of it), open its per-artifact
attestation, read why a task is in scope and who produced the image; a too-long query says so.
Screenshots (1280 px and 420 px) go under test-results/.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from provenance.core.statements import read_statement
from provenance.core.why import why_path, why_text
from provenance.models import Attestation, RunRecord

from .conftest import screenshot
from .test_dashboard import INVENTORY_IMAGE, make_user, sign_in
from .test_dashboard import signed as signed  # noqa: PLC0414 - the same records, signed

pytestmark = pytest.mark.django_db(transaction=True)


def _search(page: Any, query: str) -> None:
    search = page.get_by_role("searchbox", name="Search digests, images, commits, runs")
    search.fill(query)
    search.press("Enter")
    page.wait_for_url(re.compile(r"/search/\?q="))


def _attestations_of(page: Any) -> list[str]:
    section = page.locator("section", has=page.locator("#r-attestations-of"))
    return section.locator("a.cell-name").all_inner_texts()  # type: ignore[no-any-return]


def test_read_why_a_task_is_in_an_artifacts_scope_and_who_produced_it(
    page: Any, signed: dict[str, RunRecord]
) -> None:
    make_user("reader", {}, staff=True)
    sign_in(page, "reader")
    attestation = Attestation.objects.get(
        run=signed["release-v1-4-0-q7w3n"], subjects__hex=INVENTORY_IMAGE.split(":")[1]
    )
    _search(page, INVENTORY_IMAGE)
    full = _attestations_of(page)
    assert full == [f"#{attestation.pk}"]
    _search(page, INVENTORY_IMAGE.split(":")[1][:10])
    assert _attestations_of(page) == full  # a prefix answers the same
    screenshot(page, "search-attestations-of")

    page.locator("section", has=page.locator("#r-attestations-of")).get_by_role(
        "link", name=f"#{attestation.pk}"
    ).click()
    page.wait_for_url(re.compile(rf"/attestations/{attestation.pk}/$"))
    state = read_statement(bytes(attestation.statement)).run_state
    assert state is not None
    clone = next(t for t in state["inScope"] if t["pipelineTask"] == "clone-oci")
    expected = why_text(why_path(clone, state["inScope"]))
    row = page.locator("#statement-scope tr", has=page.locator(".cell-name", has_text="clone-oci"))
    cell = row.locator('td[data-label="Why"]')
    assert " ".join((cell.text_content() or "").split()) == expected
    # clone-oci's own step first; the producer's step below it, said of build-oci.
    own, following = cell.locator(".why-own"), cell.locator(".why-next")
    assert own.inner_text().startswith("feeds build-oci: ")
    assert following.locator(".why-task").inner_text() == "build-oci"
    own_box, next_box = own.bounding_box(), following.bounding_box()
    assert own_box is not None and next_box is not None
    assert next_box["y"] >= own_box["y"] + own_box["height"] - 1  # on a line of its own
    producers = page.locator("#statement-producers").inner_text()
    assert producers.count("build-oci") == 1
    assert "results IMAGE_DIGEST, IMAGE_DIGEST (via pipeline result IMAGE_DIGEST)" in producers
    screenshot(page, "attestation-why")


def test_a_too_long_query_is_said_to_be_too_long(page: Any) -> None:
    make_user("reader", {}, staff=True)
    sign_in(page, "reader")
    page.goto("/search/?q=" + "x" * 3000)
    alert = page.get_by_role("alert")
    assert "The query is too long" in alert.inner_text()
    assert "3000 characters" in alert.inner_text()
    assert page.get_by_text("Type something to search").count() == 0
