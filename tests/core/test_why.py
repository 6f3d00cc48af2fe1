"""Reading an in-scope task's path to the artifact from a signed run state, in either shape."""

from __future__ import annotations

from provenance.core.why import (
    ProducerRead,
    WhyStep,
    paths_by_task_run,
    read_producers,
    why_path,
    why_text,
)

FEEDS = "feeds build-push: params[COMMIT].value uses $(tasks.clone.results.commit)"
PRODUCES = "produces the artifact (result IMAGE_DIGEST)"


def _entry(task: str, why: object, leads_to: str | None = None) -> dict[str, object]:
    return {"pipelineTask": task, "taskRun": f"r-{task}", "why": why, "leadsTo": leads_to}


def test_a_contributor_reads_as_feeding_the_producer_never_as_producing() -> None:
    entries = [_entry("clone", FEEDS, "r-build-push"), _entry("build-push", PRODUCES)]
    path = why_path(entries[0], entries)
    assert path == (WhyStep("clone", FEEDS), WhyStep("build-push", PRODUCES))
    assert why_text(path) == f"{FEEDS} → build-push {PRODUCES}"
    assert why_text(why_path(entries[1], entries)) == PRODUCES


def test_statements_signed_before_leads_to_read_the_same_way() -> None:
    chain = [
        "runs before test (runAfter)",
        "may have written workspace 'source' before build-push finished (shared, writable)",
        PRODUCES,
    ]
    text = why_text(why_path(_entry("lint", chain), []))
    assert text == (
        "runs before test (runAfter)"
        " → test may have written workspace 'source' before build-push finished (shared, writable)"
        f" → build-push {PRODUCES}"
    )
    v1_clone = why_text(why_path(_entry("clone", [FEEDS, PRODUCES]), []))
    assert v1_clone == f"{FEEDS} → build-push {PRODUCES}"


def test_a_malformed_run_state_ends_the_path_instead_of_looping() -> None:
    loop = [_entry("a", "runs before b (runAfter)", "r-b"), _entry("b", "feeds a: x", "r-a")]
    assert [s.task for s in why_path(loop[0], loop)] == ["a", "b"]
    dangling = [_entry("a", "runs before b (runAfter)", "r-missing"), "not an entry"]
    assert why_text(why_path(dangling[0], dangling)) == "runs before b (runAfter)"  # type: ignore[arg-type]


def test_paths_by_task_run_reads_every_entry_once_indexed() -> None:
    entries = [_entry("clone", FEEDS, "r-build-push"), _entry("build-push", PRODUCES), None]
    paths = paths_by_task_run(entries)
    assert set(paths) == {"r-clone", "r-build-push"}
    assert why_text(paths["r-clone"]) == f"{FEEDS} → build-push {PRODUCES}"


def test_producers_are_read_once_per_task_run_in_either_version() -> None:
    v1 = [
        {"pipelineTask": "build-oci", "taskRun": "r-b", "result": "IMAGE_DIGEST"},
        {
            "pipelineTask": "build-oci",
            "taskRun": "r-b",
            "result": "IMAGE_DIGEST (pipeline result IMAGE_DIGEST)",
        },
    ]
    assert read_producers(v1) == (
        ProducerRead(
            "build-oci", "r-b", ("IMAGE_DIGEST", "IMAGE_DIGEST (pipeline result IMAGE_DIGEST)")
        ),
    )
    v2 = [{"pipelineTask": "build-oci", "taskRun": "r-b", "results": ["IMAGE_DIGEST"]}]
    assert read_producers(v2) == (ProducerRead("build-oci", "r-b", ("IMAGE_DIGEST",)),)
    assert read_producers("not a list") == ()
