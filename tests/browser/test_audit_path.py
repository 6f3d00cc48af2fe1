"""The compliance reader's path in a real browser (issue 17): which statement applies to an image,
comparing with the previous build and with what a settings change replaced, and exporting the
filtered lists for an audit.

storefront-ci's build-push is signed per run, the namespace then switches to per-artifact (both
statements stay current), a later build of the same image comes in, and finally the format
changes. Screenshots of each page (1280 px and 420 px) go under test-results/.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import orjson
import pytest
from django.contrib.auth import get_user_model

from provenance import services
from provenance.models import ApiToken, Attestation, NamespaceGrant, RunRecord

from .conftest import screenshot
from .samples import ingest, sample_items

pytestmark = pytest.mark.django_db(transaction=True)

STOREFRONT = "storefront-ci"
IMAGE_HEX = "b2369ff8266a7b15b96a61c95136056ec554ee6105e6e4a7c30402e8c8e1f7e9"
NEXT_HEX = "4" * 64
PASSWORD = "correct-horse-battery-staple"


def recompute() -> None:
    for run in RunRecord.objects.filter(namespace=STOREFRONT, parent_uid=""):
        services.attestations_generate(run_id=run.pk)


@pytest.fixture(autouse=True)
def history(settings: Any, tmp_path: Path) -> dict[str, Attestation]:
    settings.KEYS_DIR = tmp_path / "keys"
    ingest(sample_items("build-push"))
    per_run = Attestation.objects.get(namespace=STOREFRONT)
    services.namespace_settings_update(
        namespace=STOREFRONT, changes={"scope": "per-artifact"}, actor="test"
    )
    recompute()
    # The next build of the same image: a day later, a new digest.
    items = sample_items("build-push", suffix="next")
    text = orjson.dumps(items).decode().replace(IMAGE_HEX, NEXT_HEX)
    ingest([_a_day_later(item) for item in orjson.loads(text)])
    per_artifact = Attestation.objects.get(scope="per-artifact", run=per_run.run)
    services.namespace_settings_update(
        namespace=STOREFRONT, changes={"format": "slsa/v1"}, actor="test"
    )
    recompute()
    return {"per_run": per_run, "per_artifact": per_artifact}


def _a_day_later(item: dict[str, Any]) -> dict[str, Any]:
    for key in ("startTime", "completionTime"):
        if key in item.get("status", {}):
            item["status"][key] = item["status"][key].replace("2026-03-02", "2026-03-03")
    return item


def sign_in(page: Any) -> None:
    user = get_user_model().objects.create_user("auditor", password=PASSWORD)
    NamespaceGrant.objects.create(user=user, namespace=STOREFRONT, role=ApiToken.Role.VIEWER)
    page.goto("/")
    page.get_by_label("Username").fill("auditor")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/$"))


def test_which_statement_applies_and_comparing_builds(
    page: Any, history: dict[str, Attestation]
) -> None:
    sign_in(page)
    page.goto(f"/artifacts/sha256:{NEXT_HEX}/")
    applies = page.get_by_role("region", name="Which statement applies")
    current = Attestation.objects.get(
        namespace=STOREFRONT,
        scope="per-artifact",
        superseded_by__isnull=True,
        subjects__hex=NEXT_HEX,
    )
    sentence = applies.locator(".applies-sentence").first
    assert sentence.inner_text().startswith(
        f"Under {STOREFRONT}'s settings (per-artifact, SLSA v0.2 (slsa/v1)), attestation "
        f"#{current.pk} covers this artifact"
    )
    screenshot(page, "audit-artifact-applies")

    # The history: compare with the previous build of this image (keyboard only).
    link = applies.get_by_role("link", name=re.compile("Compare with the previous build"))
    link.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"/attestations/{current.pk}/compare/\d+/$"))
    subjects = page.get_by_role("region", name=re.compile("^Subjects"))
    row = subjects.get_by_role("row").filter(has_text="changed")
    assert IMAGE_HEX in row.inner_text() and NEXT_HEX in row.inner_text()
    assert page.get_by_text("Both were made under the same settings.").is_visible()
    assert page.locator("#raw-diff .diff-line-add").first.is_visible()
    screenshot(page, "audit-compare-builds")

    # The per-run statement of the first build: still current, but not the one that applies.
    per_run = history["per_run"]
    page.goto(f"/attestations/{per_run.pk}/")
    text = page.get_by_role("region", name="Which statement applies").inner_text()
    assert "applies, not this one" in text and "This one is a per-run statement" in text
    screenshot(page, "audit-per-run-not-applying")


def test_what_the_settings_change_did(page: Any, history: dict[str, Attestation]) -> None:
    sign_in(page)
    old = history["per_artifact"]
    old.refresh_from_db()
    assert old.superseded_by_id is not None
    page.goto(f"/attestations/{old.pk}/")
    page.get_by_role("link", name=re.compile("See what the settings change did")).click()
    page.wait_for_url(re.compile(rf"/attestations/{old.superseded_by_id}/compare/{old.pk}/$"))
    assert page.get_by_text("The namespace's settings differ between the two.").is_visible()
    format_section = page.get_by_role("region", name=re.compile("^Format and settings"))
    assert "setting format" in format_section.inner_text()
    assert "SLSA v0.2" in format_section.inner_text()
    screenshot(page, "audit-compare-settings")


def test_export_the_filtered_lists(page: Any, history: dict[str, Attestation]) -> None:
    sign_in(page)
    page.goto("/attestations/")
    page.get_by_label("Scope").select_option("per-artifact")
    page.get_by_label("Currency").select_option("1")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(r"scope=per-artifact"))
    screenshot(page, "audit-attestations-filtered")
    with page.expect_download() as info:
        page.get_by_role("link", name="Export CSV").click()
    download = info.value
    assert re.fullmatch(r"attestations-all-\d{8}\.csv", download.suggested_filename)
    rows = list(csv.DictReader(io.StringIO(Path(download.path()).read_text())))
    expected = Attestation.objects.filter(
        namespace=STOREFRONT, scope="per-artifact", superseded_by__isnull=True
    )
    assert sorted(int(r["id"]) for r in rows) == sorted(a.pk for a in expected)
    assert {r["verified"] for r in rows} == {"true"}

    page.goto("/artifacts/")
    with page.expect_download() as info:
        page.get_by_role("link", name="Export JSON Lines").click()
    lines = [orjson.loads(x) for x in Path(info.value.path()).read_bytes().splitlines()]
    assert {f"sha256:{IMAGE_HEX}", f"sha256:{NEXT_HEX}"} <= {x["digest"] for x in lines}
    assert all(x["namespaces"] == [STOREFRONT] for x in lines)
    screenshot(page, "audit-artifacts")
