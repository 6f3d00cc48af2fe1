"""``manage.py compute_provenance``: Chains' statements on stdout, one clear line per problem.

Most tests drive the command in-process through ``run_from_argv`` (the path ``manage.py`` takes,
exit status included); none is marked ``django_db``, so pytest-django fails any test that touches
the database. A few run a real ``manage.py`` process without DATABASE_URL to show that the command
needs no database at all.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.management import call_command
from django.core.management.base import CommandError

from provenance.management.commands.compute_provenance import Command

ROOT = Path(__file__).resolve().parents[1]
CONFORMANCE = ROOT / "tests" / "data" / "tekton-chains" / "conformance"
ENTRIES: list[dict[str, Any]] = json.loads((CONFORMANCE / "index.json").read_text())
SAMPLES = ROOT / "provenance" / "samples"

BUILD_PUSH = SAMPLES / "build-push.json"
RELEASE = SAMPLES / "release-go-and-image.json"
KANIKO = SAMPLES / "kaniko-taskrun.json"
RUNNING = SAMPLES / "preview-running.json"
TASKRUN1 = CONFORMANCE / "pipeline-v1__taskrun1.input.json"

SLSA_TEKTON = "https://tekton.dev/chains/v2/slsa-tekton"


def run(
    capsys: pytest.CaptureFixture[str], *args: str | Path
) -> tuple[int, list[dict[str, Any]], list[str]]:
    """Run the command as ``manage.py`` does; return (exit status, statements, stderr lines)."""
    code = 0
    try:
        Command().run_from_argv(["manage.py", "compute_provenance", *map(str, args)])
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines()], err.splitlines()


def run_process(*args: str | Path, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    """A real ``manage.py compute_provenance`` without DATABASE_URL (no Postgres of any kind)."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    return subprocess.run(
        [sys.executable, "manage.py", "compute_provenance", *map(str, args)],
        cwd=ROOT,
        env=env,
        input=stdin.decode() if stdin is not None else None,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def expected(entry: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((CONFORMANCE / entry["expected"]).read_text())
    return result


def entry_args(entry: dict[str, Any]) -> list[str]:
    args = [
        str(CONFORMANCE / entry["input"]),
        "--format",
        entry["format"],
        "--builder-id",
        entry["builder_id"],
        "--build-type",
        entry["build_type"],
    ]
    if entry["deep_inspection"]:
        args.append("--deep-inspection")
    return args


def find_entry(case: str, fmt: str, deep: bool = False) -> dict[str, Any]:
    return next(
        e
        for e in ENTRIES
        if e["case"] == case and e["format"] == fmt and e["deep_inspection"] == deep
    )


# --- Chains conformance ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "entry",
    [
        find_entry("pipeline-v1__taskrun1", "slsa/v1"),
        find_entry("pipeline-v1__pipelinerun1__taskrun1-3", "slsa/v2alpha4", deep=True),
    ],
    ids=["taskrun-slsa-v1", "pipelinerun-v2alpha4-deep"],
)
def test_process_without_database_prints_the_chains_statement(entry: dict[str, Any]) -> None:
    done = run_process(*entry_args(entry))
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    lines = done.stdout.splitlines()
    assert len(lines) == 1
    assert json.loads(lines[0]) == expected(entry)


def test_process_never_imports_the_embedded_database() -> None:
    # Settings without DATABASE_URL describe the embedded server; only a connection starts it.
    script = (
        "import runpy, sys\n"
        f"sys.argv = ['manage.py', 'compute_provenance', {str(TASKRUN1)!r}]\n"
        "try:\n"
        "    runpy.run_path('manage.py', run_name='__main__')\n"
        "finally:\n"
        "    print('pgserver' in sys.modules, file=sys.stderr)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "False"
    assert len(done.stdout.splitlines()) == 1


@pytest.mark.parametrize(
    "entry",
    ENTRIES,
    ids=[
        f"{e['case']}:{e['format']}:{'deep' if e['deep_inspection'] else 'shallow'}"
        for e in ENTRIES
    ],
)
def test_every_conformance_entry_through_the_command(
    capsys: pytest.CaptureFixture[str], entry: dict[str, Any]
) -> None:
    code, statements, err = run(capsys, *entry_args(entry))
    assert code == 0
    if "remote-resolver" in entry["case"] and entry["kind"] == "PipelineRun":
        # Chains' formatter test feeds a running PipelineRun; its controller would wait, and so
        # does the command (emit on-completion).
        assert statements == []
        assert err == [
            f"{CONFORMANCE / entry['input']}: PipelineRun build-push-gke-deploy-run-2: "
            "no statement: the run is not done"
        ]
    else:
        assert err == []
        assert statements == [expected(entry)]


# --- inputs ------------------------------------------------------------------------------------


def test_one_line_per_run_in_input_order_over_several_files(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Two standalone TaskRuns in one multi-document YAML file, after two List files.
    kaniko = json.loads(KANIKO.read_text())
    second = json.loads(json.dumps(kaniko))
    second["metadata"]["name"] = "kaniko-build-second"
    second["metadata"]["uid"] = "0b7e58a4-4a51-4a43-9d0c-6b0a1f4a9a11"
    both = tmp_path / "two-taskruns.yaml"
    both.write_text(yaml.safe_dump_all([second, kaniko]))

    code, statements, err = run(capsys, RELEASE, both, BUILD_PUSH)
    assert (code, err) == (0, [])
    uids = [s["predicate"]["runDetails"]["metadata"]["invocationId"] for s in statements]
    assert uids == [
        json.loads(RELEASE.read_text())["items"][0]["metadata"]["uid"],
        second["metadata"]["uid"],
        kaniko["metadata"]["uid"],
        json.loads(BUILD_PUSH.read_text())["items"][0]["metadata"]["uid"],
    ]


def test_stdin_dash_reads_the_record_from_stdin() -> None:
    done = run_process("-", "--format", "slsa/v1", stdin=TASKRUN1.read_bytes())
    assert done.returncode == 0, done.stderr
    assert [json.loads(line) for line in done.stdout.splitlines()] == [
        expected(find_entry("pipeline-v1__taskrun1", "slsa/v1"))
    ]


def test_stdin_in_process(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(KANIKO.read_bytes())))
    code, from_stdin, err = run(capsys, "-")
    assert (code, err) == (0, [])
    assert from_stdin == run(capsys, KANIKO)[1]


def test_yaml_input_gives_the_same_statement_as_json(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    as_yaml = tmp_path / "build-push.yaml"
    as_yaml.write_text(yaml.safe_dump(json.loads(BUILD_PUSH.read_text()), sort_keys=False))
    code, statements, err = run(capsys, as_yaml)
    assert (code, err) == (0, [])
    assert statements == run(capsys, BUILD_PUSH)[1]
    assert len(statements) == 1


# --- flags -------------------------------------------------------------------------------------


def test_default_format_is_slsa_v2alpha4_with_chains_builder(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, [statement], _ = run(capsys, BUILD_PUSH)
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["predicateType"] == "https://slsa.dev/provenance/v1"
    predicate = statement["predicate"]
    assert predicate["runDetails"]["builder"]["id"] == "https://tekton.dev/chains/v2"
    assert predicate["buildDefinition"]["buildType"] == "https://tekton.dev/chains/v2/slsa"
    # v2alpha4 names byproducts per run.
    assert predicate["runDetails"]["byproducts"][0]["name"].startswith(
        "pipelineRunResults/build-push-r8x2k/"
    )


@pytest.mark.parametrize("fmt", ["slsa/v1", "in-toto"])
def test_format_slsa_v1_and_in_toto_give_slsa_v02(
    capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    code, [statement], _ = run(capsys, BUILD_PUSH, "--format", fmt)
    assert code == 0
    assert statement["_type"] == "https://in-toto.io/Statement/v0.1"
    assert statement["predicateType"] == "https://slsa.dev/provenance/v0.2"
    tasks = statement["predicate"]["buildConfig"]["tasks"]
    assert [(t["name"], t.get("after"), t["status"]) for t in tasks] == [
        ("clone", None, "Succeeded"),
        ("build", ["clone"], "Succeeded"),
        ("notify", ["build"], "Failed"),
    ]


def test_format_slsa_v2alpha3_names_byproducts_without_the_run(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, [statement], _ = run(capsys, BUILD_PUSH, "--format", "slsa/v2alpha3")
    assert statement["predicateType"] == "https://slsa.dev/provenance/v1"
    names = [b["name"] for b in statement["predicate"]["runDetails"]["byproducts"]]
    assert "pipelineRunResults/IMAGE_URL" in names


@pytest.mark.parametrize(
    ("fmt", "added"),
    [
        ("slsa/v1", "https://artifacts.acme.dev/inventory/v1.4.0/inventory.spdx.json"),
        ("slsa/v2alpha4", None),
    ],
)
def test_deep_inspection_reads_child_taskruns(
    capsys: pytest.CaptureFixture[str], fmt: str, added: str | None
) -> None:
    _, [shallow], _ = run(capsys, RELEASE, "--format", fmt)
    _, [deep], _ = run(capsys, RELEASE, "--format", fmt, "--deep-inspection")
    assert shallow != deep
    shallow_subjects = {s["name"] for s in shallow["subject"]}
    deep_subjects = {s["name"] for s in deep["subject"]}
    if added is None:
        # v2alpha4: an ARTIFACT_OUTPUTS without isBuildArtifact stays a byproduct.
        assert deep_subjects == shallow_subjects
        names = [b["name"] for b in deep["predicate"]["runDetails"]["byproducts"]]
        assert "taskRunResults/release-v1-4-0-q7w3n-build-go/sbom-ARTIFACT_OUTPUTS" in names
    else:
        assert deep_subjects == shallow_subjects | {added}


def test_builder_id(capsys: pytest.CaptureFixture[str]) -> None:
    builder = "https://ci.acme.dev/tekton/prod"
    _, [v1], _ = run(capsys, KANIKO, "--builder-id", builder)
    _, [v02], _ = run(capsys, KANIKO, "--builder-id", builder, "--format", "slsa/v1")
    assert v1["predicate"]["runDetails"]["builder"] == {"id": builder}
    assert v02["predicate"]["builder"] == {"id": builder}


def test_build_type_slsa_tekton_with_a_slsa_v02_format_is_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, statements, err = run(
        capsys, BUILD_PUSH, "--format", "slsa/v1", "--build-type", "slsa-tekton"
    )
    assert code == 2 and statements == []
    assert len(err) == 1 and "applies to SLSA v1.0 only: format 'slsa/v1' is SLSA v0.2" in err[0]


@pytest.mark.parametrize("build_type", ["slsa-tekton", SLSA_TEKTON])
def test_build_type_slsa_tekton_short_or_full(
    capsys: pytest.CaptureFixture[str], build_type: str
) -> None:
    code, [statement], _ = run(capsys, BUILD_PUSH, "--build-type", build_type)
    assert code == 0
    definition = statement["predicate"]["buildDefinition"]
    assert definition["buildType"] == SLSA_TEKTON
    assert definition["internalParameters"]["labels"]["tekton.dev/pipeline"] == "build-push"
    tasks = [d for d in definition["resolvedDependencies"] if d.get("name") == "pipelineTask"]
    assert len(tasks) == 3
    assert all("content" in d for d in tasks)


def test_emit_on_success_skips_a_failed_run_with_a_note(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, statements, err = run(capsys, BUILD_PUSH, KANIKO, "--emit", "on-success")
    assert code == 0
    assert len(statements) == 1  # the kaniko TaskRun succeeded
    assert len(err) == 1
    assert err[0].startswith(f"{BUILD_PUSH}: PipelineRun build-push-r8x2k: no statement: ")
    assert "did not succeed" in err[0]


def test_run_not_done_gets_a_note_and_the_rest_is_printed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, statements, err = run(capsys, RUNNING, KANIKO)
    assert code == 0
    assert len(statements) == 1
    assert err == [
        f"{RUNNING}: PipelineRun preview-pr-1187-m2c8d: no statement: the run is not done"
    ]


def test_explain_prints_a_line_per_run_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    code, statements, err = run(capsys, BUILD_PUSH, RUNNING, "--explain")
    assert code == 0
    assert len(statements) == 1
    assert err[0].startswith("run PipelineRun/build-push-r8x2k: 1 statement(s)")
    assert any(
        line.startswith("run PipelineRun/preview-pr-1187-m2c8d: 0 statement(s)") for line in err
    )


def test_per_artifact_gives_one_statement_per_artifact(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, statements, err = run(capsys, RELEASE, "--per-artifact")
    assert (code, err) == (0, [])
    assert [[s["name"] for s in st["subject"]] for st in statements] == [
        ["pkg:golang/github.com/acme/inventory@v1.4.0"],
        ["registry.acme.dev/inventory/inventory-api"],
    ]


def test_per_artifact_on_artifact_attests_a_running_pipeline_run(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, statements, err = run(
        capsys, RUNNING, "--per-artifact", "--emit", "on-artifact", "--deep-inspection"
    )
    assert (code, err) == (0, [])
    assert [s["subject"][0]["name"] for s in statements] == ["ghcr.io/acme/storefront-preview"]


def test_samples_make_demo_output(capsys: pytest.CaptureFixture[str]) -> None:
    samples = sorted(SAMPLES.glob("*.json"))
    code, statements, err = run(capsys, *samples)
    assert code == 0
    assert len(statements) == len(samples) - 1  # the running PipelineRun waits
    assert err == [
        f"{RUNNING}: PipelineRun preview-pr-1187-m2c8d: no statement: the run is not done"
    ]


def test_call_command_raises_command_error_on_bad_input(tmp_path: Path) -> None:
    stderr = io.StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("compute_provenance", str(tmp_path / "nope.json"), stderr=stderr)
    assert raised.value.returncode == 2
    assert stderr.getvalue().count("\n") == 1


# --- bad input ---------------------------------------------------------------------------------

CONFIGMAP = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "chains-config"}}
NO_STATUS = {
    "apiVersion": "tekton.dev/v1",
    "kind": "TaskRun",
    "metadata": {"name": "fresh"},
    "spec": {"taskRef": {"name": "build"}},
}
BAD_IMAGE = {
    "apiVersion": "tekton.dev/v1",
    "kind": "TaskRun",
    "metadata": {"name": "odd-image"},
    "status": {
        "conditions": [{"type": "Succeeded", "status": "True"}],
        "steps": [{"name": "build", "imageID": "busybox:latest"}],
    },
}


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("empty.json", b"", "the input is empty"),
        ("blank.yaml", b"\n  \n", "the input is empty"),
        ("bad.json", b'{"kind": "TaskRun",', "invalid JSON"),
        ("bad.yaml", b"kind: TaskRun\nmetadata: {name: [x\n", "invalid YAML"),
        ("strings.yaml", b"- one\n- two\n", "expected an object"),
        ("strings.json", b'["one", "two"]', "expected an object"),
        ("binary.yaml", b"\xff\xfe\x00\x01", "not UTF-8"),
        ("configmap.json", json.dumps(CONFIGMAP).encode(), "not a Tekton TaskRun or PipelineRun"),
        ("fresh.json", json.dumps(NO_STATUS).encode(), "has no status"),
        ("odd-image.json", json.dumps(BAD_IMAGE).encode(), "TaskRun odd-image: image id"),
    ],
)
def test_bad_input_is_one_line_naming_the_file_and_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str, content: bytes, problem: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    code, statements, err = run(capsys, path)
    assert code == 2
    assert statements == []
    assert len(err) == 1, err
    assert err[0].startswith(f"{path}: ")
    assert problem in err[0]


def test_missing_file_and_directory(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"
    code, statements, err = run(capsys, missing, tmp_path)
    assert code == 2
    assert statements == []
    assert err == [
        f"{missing}: cannot read: No such file or directory",
        f"{tmp_path}: cannot read: Is a directory",
    ]


def test_good_files_still_print_when_another_is_bad(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    code, statements, err = run(capsys, KANIKO, bad, BUILD_PUSH)
    assert code == 2
    assert len(statements) == 2
    assert len(err) == 1
    assert err[0].startswith(f"{bad}: invalid JSON")


def test_a_time_that_overflows_in_utc_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    record = json.loads(KANIKO.read_text())
    record["status"]["startTime"] = "9999-12-31T23:59:59-05:00"
    bad = tmp_path / "year-10000.json"
    bad.write_text(json.dumps(record))
    code, statements, err = run(capsys, KANIKO, bad, BUILD_PUSH)
    assert code == 2
    assert len(statements) == 2
    assert err == [
        f"{bad}: status.startTime is out of range once converted to UTC: "
        "'9999-12-31T23:59:59-05:00'"
    ]


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["--format", "slsa/v3"], "unknown format 'slsa/v3'"),
        (["--build-type", "https://example.com/build"], "unsupported build type"),
        (["--builder-id", ""], "builder id must not be empty"),
        (["--emit", "sometimes"], "unknown emit policy 'sometimes'"),
        (["--emit", "on-artifact"], "on-artifact needs per-artifact scope"),
    ],
)
def test_bad_option_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], args: list[str], problem: str
) -> None:
    code, statements, err = run(capsys, KANIKO, *args)
    assert code == 2
    assert statements == []
    assert len(err) == 1
    assert err[0].startswith("compute_provenance: ")
    assert problem in err[0]


@pytest.mark.parametrize(
    "args",
    [
        ["{tmp}/missing.json"],
        ["{tmp}/bad.yaml"],
        ["{kaniko}", "--format", "slsa/v3"],
        ["{kaniko}", "--build-type", "nope"],
    ],
)
def test_process_reports_bad_input_without_traceback(tmp_path: Path, args: list[str]) -> None:
    (tmp_path / "bad.yaml").write_text("- just\n- strings\n")
    done = run_process(*(a.format(tmp=tmp_path, kaniko=KANIKO) for a in args))
    assert done.returncode == 2
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    assert len(done.stderr.splitlines()) == 1, done.stderr


# --- samples -----------------------------------------------------------------------------------


HEX = {"sha256": re.compile(r"[0-9a-f]{64}"), "sha1": re.compile(r"[0-9a-f]{40}")}


def _digests(value: Any) -> Iterator[tuple[str, str]]:
    """(algorithm, hex) of every image id, digest field and digest/commit result in a record."""
    if isinstance(value, list):
        for item in value:
            yield from _digests(item)
        return
    if not isinstance(value, dict):
        return
    for key, item in value.items():
        if key == "imageID":
            yield "sha256", item.partition("@sha256:")[2]
        elif key == "digest" and isinstance(item, str):
            algorithm, _, hex_ = item.partition(":")
            yield algorithm, hex_
        elif key == "digest" and isinstance(item, dict) and "type" not in item:
            yield from item.items()
        else:
            yield from _digests(item)
    name, result = value.get("name"), value.get("value")
    if isinstance(name, str) and isinstance(result, str) and "$(" not in result:
        if name.endswith("IMAGE_DIGEST"):
            algorithm, _, hex_ = result.partition(":")
            yield algorithm, hex_
        elif name in ("commit", "CHAINS-GIT_COMMIT"):
            yield "sha1", result


@pytest.mark.parametrize("sample", sorted(SAMPLES.glob("*.json")), ids=lambda p: p.name)
def test_sample_digests_are_well_formed(sample: Path) -> None:
    found = list(_digests(json.loads(sample.read_text())))
    assert len(found) >= 5
    for algorithm, hex_ in found:
        assert algorithm in HEX, (algorithm, hex_)
        assert HEX[algorithm].fullmatch(hex_), (algorithm, hex_)


def test_sample_children_all_join_their_pipeline_run() -> None:
    from provenance.core import PipelineRun, load_documents, parse_records

    for sample in (BUILD_PUSH, RELEASE, RUNNING):
        items = json.loads(sample.read_text())["items"]
        [run_] = parse_records(load_documents(sample.read_bytes()))
        assert isinstance(run_, PipelineRun)
        assert len(run_.task_runs) == len(items) - 1
        assert [ref.name for ref in run_.child_references] == [t.name for t in run_.task_runs]


def test_django_free_entry_point_prints_the_same_statements() -> None:
    args = [str(BUILD_PUSH), str(RELEASE), "--per-artifact", "--deep-inspection"]
    fast = subprocess.run(
        [sys.executable, "-m", "provenance.core.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
        check=False,
    )
    assert fast.returncode == 0, fast.stderr
    assert fast.stdout == run_process(*args).stdout
    assert len(fast.stdout.splitlines()) == 3


def test_django_free_entry_point_reports_bad_input_in_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    done = subprocess.run(
        [sys.executable, "-m", "provenance.core.cli", str(bad)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and str(bad) in done.stderr
    assert "Traceback" not in done.stderr
