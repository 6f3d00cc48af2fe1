"""Reading signed statements back (provenance.core.statements): what the writer puts in, the
reader finds, in both predicates, per run and per artifact."""

from __future__ import annotations

import orjson
import pytest

from provenance.core import SlsaConfig, parse_records
from provenance.core.intoto import statement_bytes
from provenance.core.plan import plan_statements
from provenance.core.statements import StatementError, read_statement
from provenance.core.tekton import PipelineRun

from .pipeline_builder import Task, digest, pipeline_run

IMAGE = "registry.example/team/app"
IMAGE_HEX = digest("app")


def _pipeline(scan: str = "True") -> PipelineRun:
    docs = pipeline_run(
        [
            Task("clone", results={"commit": "abc"}),
            Task(
                "build",
                params={"C": "$(tasks.clone.results.commit)"},
                results={"IMAGE_URL": IMAGE, "IMAGE_DIGEST": f"sha256:{IMAGE_HEX}"},
            ),
            Task("scan", run_after=["build"], status=scan),
        ],
        pipeline_results={"IMAGE_URL": "$(tasks.build.results.IMAGE_URL)",
                          "IMAGE_DIGEST": "$(tasks.build.results.IMAGE_DIGEST)"},
        run_results={"IMAGE_URL": IMAGE, "IMAGE_DIGEST": f"sha256:{IMAGE_HEX}"},
    )  # fmt: skip
    (run,) = parse_records(docs)
    assert isinstance(run, PipelineRun)
    return run


@pytest.mark.parametrize("fmt", ["slsa/v1", "in-toto", "slsa/v2alpha3", "slsa/v2alpha4"])
def test_per_run_statement_reads_back_its_subjects_builder_and_times(fmt: str) -> None:
    run = _pipeline()
    cfg = SlsaConfig(format=fmt)
    (planned,) = plan_statements(run, cfg).statements
    view = read_statement(statement_bytes(planned.statement))
    v02 = fmt in ("slsa/v1", "in-toto")
    assert view.is_v02 is v02
    assert view.predicate_label == ("SLSA v0.2" if v02 else "SLSA v1.0")
    assert view.has_predicate
    assert [s.name for s in view.subjects] == [IMAGE]
    assert view.subjects[0].digests == (("sha256", IMAGE_HEX),)
    assert view.names_digest("sha256", IMAGE_HEX)
    assert not view.names_digest("sha256", digest("other"))
    assert view.builder_id == cfg.builder_id
    assert view.started and view.finished
    assert view.run_state is None
    if v02:
        # A per-run SLSA v0.2 PipelineRun statement records each task and its status.
        assert view.tasks is not None
        assert [(t.name, t.status) for t in view.tasks] == [
            ("clone", "Succeeded"),
            ("build", "Succeeded"),
            ("scan", "Succeeded"),
        ]
        assert view.invocation_id == ""
    else:
        assert view.tasks is None
        assert view.build_type == cfg.build_type
        # SLSA v1.0's runDetails.metadata.invocationId is the run's uid.
        assert view.invocation_id == run.meta.uid


@pytest.mark.parametrize("fmt", ["slsa/v1", "slsa/v2alpha4"])
def test_per_artifact_run_state_is_found_where_the_writer_puts_it(fmt: str) -> None:
    run = _pipeline(scan="False")
    (planned,) = plan_statements(run, SlsaConfig(format=fmt), "per-artifact").statements
    written = orjson.loads(statement_bytes(planned.statement))
    view = read_statement(statement_bytes(planned.statement))
    assert view.run_state is not None
    predicate = written["predicate"]
    home = predicate["metadata"] if fmt == "slsa/v1" else predicate["runDetails"]["metadata"]
    assert view.run_state == home["chainsweb.dev/runState"]
    assert sorted(t["pipelineTask"] for t in view.run_state["inScope"]) == ["build", "clone"]
    assert {t["pipelineTask"]: t["status"] for t in view.run_state["excluded"]} == {"scan": "False"}


def test_materials_and_byproducts_keep_names_uris_and_sorted_digests() -> None:
    payload = orjson.dumps(
        {
            "predicateType": "https://slsa.dev/provenance/v1",
            "subject": [{"name": "a", "digest": {"sha512": "BB", "sha256": "aa"}}],
            "predicate": {
                "buildDefinition": {
                    "buildType": "t",
                    "resolvedDependencies": [
                        {"uri": "git+https://x", "name": "source", "digest": {"sha1": "cc"}},
                        {"name": "only-a-name"},
                        "not an object",
                    ],
                },
                "runDetails": {"byproducts": [{"uri": "oci://b", "digest": {"sha256": "dd"}}]},
            },
        }
    )
    view = read_statement(payload)
    assert view.subjects[0].digests == (("sha256", "aa"), ("sha512", "BB"))
    assert view.names_digest("sha512", "bb")  # hex in any case
    assert not view.names_digest("SHA512", "bb")  # the algorithm key exactly
    assert [(m.name, m.uri) for m in view.materials] == [
        ("source", "git+https://x"),
        ("only-a-name", "only-a-name"),
    ]
    assert [(b.name, b.digests) for b in view.byproducts] == [("oci://b", (("sha256", "dd"),))]


@pytest.mark.parametrize(
    "payload",
    [b"[]", b'"text"', b'{"predicate": "nope", "subject": {"a": 1}}', b'{"subject": [1, null]}'],
)
def test_documents_of_the_wrong_shape_read_as_empty(payload: bytes) -> None:
    view = read_statement(payload)
    assert not view.has_predicate
    assert view.subjects == ()
    assert view.run_state is None and view.tasks is None


def test_bytes_that_are_not_json_are_a_statement_error() -> None:
    with pytest.raises(StatementError, match="not JSON"):
        read_statement(b"\xff{")
    assert issubclass(StatementError, ValueError)
