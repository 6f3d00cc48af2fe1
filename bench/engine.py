"""Benchmark the provenance engine on a large synthetic PipelineRun.

    .venv/bin/python bench/engine.py                       # 1,000 tasks, 200 artifacts
    .venv/bin/python bench/engine.py --tasks 3000 --artifacts 600 --repeat 3
    .venv/bin/python bench/engine.py --per-artifact --process

The input is built in memory (a ``kind: List`` of one PipelineRun and its child TaskRuns, about
4 MB of JSON for 1,000 tasks); nothing is written to the repository (``--process`` writes the
input to a temporary file). For each format and deep-inspection setting it reports the median of
``--repeat`` runs of

- parse: ``load_documents`` (orjson) + ``parse_records``, on the raw bytes;
- build: ``plan_statements`` (the per-run statement, or per-artifact ones with ``--per-artifact``);
- serialise: ``orjson.dumps`` of every statement, as the CLI prints and the signer signs them;

and compares the sum with a floor that no Python implementation can beat: ``orjson.loads`` of the
input plus ``orjson.dumps`` of the statements. Peak memory (tracemalloc) is measured on a separate
run, since tracing slows Python down. ``--profile`` prints the top of a cProfile run.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import hashlib
import io
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from provenance.core import SlsaConfig, load_documents, parse_records  # noqa: E402
from provenance.core.intoto import statement_bytes  # noqa: E402
from provenance.core.plan import plan_statements  # noqa: E402
from provenance.core.tekton import PipelineRun, Run  # noqa: E402

JsonObject = dict[str, Any]
SLSA_TEKTON = "https://tekton.dev/chains/v2/slsa-tekton"
# (format, deep inspection, build type): every Chains format, and SLSA v1.0's two build types.
CONFIGS = [
    ("slsa/v1", False, None),
    ("slsa/v1", True, None),
    ("slsa/v2alpha3", False, None),
    ("slsa/v2alpha3", True, None),
    ("slsa/v2alpha4", False, None),
    ("slsa/v2alpha4", True, None),
    ("slsa/v2alpha4", False, SLSA_TEKTON),
    ("slsa/v2alpha4", True, SLSA_TEKTON),
]
CHAIN = 10  # tasks per dependency chain: a clone, then tasks that each runAfter the previous one


# --- synthetic input ---------------------------------------------------------------------------


def _hex(seed: str, length: int = 64) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:length]


def _image(name: str) -> str:
    return f"registry.bench.example/tools/{name}@sha256:{_hex(name)}"


def _step_image(step: str, index: int, one_repository: bool) -> str:
    """A step's image id: 21 images shared by all tasks, or (``--one-repository``) one
    repository with a digest per task and step, as when every task builds its own tools image."""
    if one_repository:
        return f"registry.bench.example/tools/builder@sha256:{_hex(f'{step}-{index}')}"
    return _image(f"{step}-{index % 7}")


STEP_SCRIPT = (
    '#!/usr/bin/env bash\nset -euo pipefail\ncd "$(workspaces.source.path)"\n'
    'echo "running $(context.taskRun.name) for $(params.revision)"\n'
    "make -j4 build TARGET=$(params.target) REVISION=$(params.revision)\n"
    'printf "%s" "$(git rev-parse HEAD)" > "$(results.commit.path)"\n'
)


def _task_name(index: int) -> str:
    return f"t{index:05d}"


def _artifact_of(index: int, tasks: int, artifacts: int) -> int | None:
    """Which artifact (if any) task ``index`` produces: spread evenly, never a chain head."""
    if artifacts <= 0:
        return None
    stride = max(tasks // artifacts, 1)
    if index % stride != stride - 1 or index // stride >= artifacts:
        return None
    return index // stride


def _pipeline_task(index: int, tasks: int, artifacts: int) -> JsonObject:
    name = _task_name(index)
    head = index - index % CHAIN
    task: JsonObject = {
        "name": name,
        "taskRef": {"kind": "Task", "name": "clone" if index == head else "make"},
        "params": [
            {"name": "target", "value": f"component-{index % 97}"},
            {"name": "revision", "value": "$(params.revision)"},
        ],
        "workspaces": [{"name": "source", "workspace": "source", "subPath": f"chain-{head}"}],
    }
    if index != head:
        task["runAfter"] = [_task_name(index - 1)]
        task["params"].append(
            {"name": "commit", "value": f"$(tasks.{_task_name(head)}.results.commit)"}
        )
        if index - head >= 2:
            # A second, non-adjacent data edge inside the chain.
            task["params"].append(
                {"name": "input", "value": f"$(tasks.{_task_name(index - 2)}.results.output)"}
            )
    return task


def _task_run(
    pr: JsonObject, index: int, tasks: int, artifacts: int, one_repository: bool
) -> JsonObject:
    name = _task_name(index)
    pr_name = pr["metadata"]["name"]
    tr_name = f"{pr_name}-{name}"
    head = index - index % CHAIN
    start = f"2026-03-06T{10 + index // 3600 % 10:02d}:{index // 60 % 60:02d}:{index % 60:02d}Z"
    steps = ["prepare", "build", "report"]
    results: list[JsonObject] = [
        {"name": "commit", "type": "string", "value": _hex(f"commit-{head}", 40)},
        {"name": "output", "type": "string", "value": f"/workspace/source/out/{name}.tar"},
        {"name": "summary", "type": "string", "value": f"{name}: 42 files, 0 warnings"},
    ]
    artifact = _artifact_of(index, tasks, artifacts)
    if artifact is not None:
        digest = "sha256:" + _hex(f"artifact-{artifact}")
        if artifact % 2 == 0:
            results += [
                {"name": "IMAGE_URL", "type": "string", "value": _artifact_uri(artifact)},
                {"name": "IMAGE_DIGEST", "type": "string", "value": digest},
            ]
        else:
            results.append(
                {
                    "name": "pkg-ARTIFACT_OUTPUTS",
                    "type": "object",
                    "value": {
                        "uri": _artifact_uri(artifact),
                        "digest": digest,
                        "isBuildArtifact": "true",
                    },
                }
            )
    spec_task = _pipeline_task(index, tasks, artifacts)
    params = [
        {"name": p["name"], "value": p["value"].replace("$(params.revision)", "main")}
        for p in spec_task["params"]
    ]
    return {
        "apiVersion": "tekton.dev/v1",
        "kind": "TaskRun",
        "metadata": {
            "name": tr_name,
            "namespace": pr["metadata"]["namespace"],
            "uid": _hex(tr_name, 32),
            "resourceVersion": str(100000 + index),
            "labels": {
                "app.kubernetes.io/managed-by": "tekton-pipelines",
                "tekton.dev/memberOf": "tasks",
                "tekton.dev/pipeline": "bench",
                "tekton.dev/pipelineRun": pr_name,
                "tekton.dev/pipelineTask": name,
                "tekton.dev/task": spec_task["taskRef"]["name"],
            },
            "annotations": {
                "pipeline.tekton.dev/release": "v0.68.1",
                "chains.tekton.dev/signed": "true",
            },
            "ownerReferences": [
                {
                    "apiVersion": "tekton.dev/v1",
                    "kind": "PipelineRun",
                    "name": pr_name,
                    "uid": pr["metadata"]["uid"],
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {
            "params": params,
            "serviceAccountName": "bench",
            "taskRef": spec_task["taskRef"],
            "timeout": "1h0m0s",
            "workspaces": [
                {
                    "name": "source",
                    "persistentVolumeClaim": {"claimName": "pvc-bench"},
                    "subPath": f"chain-{head}",
                }
            ],
        },
        "status": {
            "conditions": [
                {
                    "type": "Succeeded",
                    "status": "True",
                    "reason": "Succeeded",
                    "message": "All Steps have completed executing",
                    "lastTransitionTime": start,
                }
            ],
            "podName": f"{tr_name}-pod",
            "startTime": start,
            "completionTime": start,
            "provenance": {
                "featureFlags": {"EnableAPIFields": "beta", "EnableStepActions": True},
            },
            "results": results,
            "steps": [
                {
                    "name": step,
                    "container": f"step-{step}",
                    "imageID": _step_image(step, index, one_repository),
                    "terminated": {
                        "exitCode": 0,
                        "reason": "Completed",
                        "startedAt": start,
                        "finishedAt": start,
                        "containerID": "containerd://" + _hex(f"{tr_name}/{step}"),
                    },
                }
                for step in steps
            ],
            "taskSpec": {
                "params": [
                    {"name": "target", "type": "string"},
                    {"name": "revision", "type": "string", "default": "main"},
                    {"name": "commit", "type": "string", "default": ""},
                    {"name": "input", "type": "string", "default": ""},
                ],
                "results": [{"name": r["name"], "type": r["type"]} for r in results],
                "steps": [
                    {
                        "name": step,
                        "image": _step_image(step, index, one_repository).split("@")[0] + ":v1",
                        "script": STEP_SCRIPT,
                        "computeResources": {},
                    }
                    for step in steps
                ],
                "workspaces": [{"name": "source"}],
            },
        },
    }


def _artifact_uri(artifact: int) -> str:
    if artifact % 2 == 0:
        return f"registry.bench.example/apps/app-{artifact}"
    return f"pkg:generic/bench/lib-{artifact}@1.0.{artifact}"


def synthetic_input(tasks: int, artifacts: int, one_repository: bool = False) -> bytes:
    """A ``kind: List`` holding one done PipelineRun with ``tasks`` child TaskRuns."""
    pr_name = "bench-run"
    pr: JsonObject = {
        "apiVersion": "tekton.dev/v1",
        "kind": "PipelineRun",
        "metadata": {
            "name": pr_name,
            "namespace": "bench",
            "uid": _hex(pr_name, 32),
            "labels": {"tekton.dev/pipeline": "bench"},
        },
        "spec": {
            "pipelineRef": {"name": "bench"},
            "params": [{"name": "revision", "value": "main"}],
            "taskRunTemplate": {"serviceAccountName": "bench"},
            "workspaces": [{"name": "source", "persistentVolumeClaim": {"claimName": "pvc-bench"}}],
        },
    }
    spec_tasks = [_pipeline_task(i, tasks, artifacts) for i in range(tasks)]
    children = [_task_run(pr, i, tasks, artifacts, one_repository) for i in range(tasks)]
    pr_results: list[JsonObject] = []
    spec_results: list[JsonObject] = []
    for index in range(tasks):
        artifact = _artifact_of(index, tasks, artifacts)
        if artifact is None:
            continue
        name = _task_name(index)
        for result in children[index]["status"]["results"]:
            if result["name"] in ("IMAGE_URL", "IMAGE_DIGEST", "pkg-ARTIFACT_OUTPUTS"):
                surfaced = f"{name}-{result['name']}"
                pr_results.append({"name": surfaced, "value": result["value"]})
                spec_results.append(
                    {"name": surfaced, "value": f"$(tasks.{name}.results.{result['name']})"}
                )
    pr["status"] = {
        "conditions": [{"type": "Succeeded", "status": "True", "reason": "Succeeded"}],
        "startTime": "2026-03-06T10:00:00Z",
        "completionTime": "2026-03-06T19:59:59Z",
        "pipelineSpec": {
            "params": [{"name": "revision", "type": "string", "default": "main"}],
            "workspaces": [{"name": "source"}],
            "tasks": spec_tasks,
            "results": spec_results,
        },
        "results": pr_results,
        "childReferences": [
            {
                "apiVersion": "tekton.dev/v1",
                "kind": "TaskRun",
                "name": child["metadata"]["name"],
                "pipelineTaskName": child["metadata"]["labels"]["tekton.dev/pipelineTask"],
            }
            for child in children
        ],
        "provenance": {"featureFlags": {"EnableAPIFields": "beta"}},
    }
    return orjson.dumps({"apiVersion": "v1", "kind": "List", "items": [pr, *children]})


# --- measurement -------------------------------------------------------------------------------


@dataclass
class Row:
    label: str
    parse: float
    build: float
    serialise: float
    floor: float
    peak_mb: float
    statements: int
    out_bytes: int

    @property
    def total(self) -> float:
        return self.parse + self.build + self.serialise


# How repeated timings are summarised: the median, or with ``--stat min`` the best run (timeit's
# convention: interference only adds time; on a shared VM runs of the same work swing 2x).
SUMMARY: Callable[[list[float]], float] = statistics.median


def median_time(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return SUMMARY(times)


def parse(data: bytes) -> PipelineRun:
    [run] = parse_records(load_documents(data))
    assert isinstance(run, PipelineRun)
    return run


def build(run: Run, cfg: SlsaConfig, scope: str) -> list[dict[str, Any]]:
    plan = plan_statements(run, cfg, scope, "on-completion")
    return [planned.statement for planned in plan.statements]


def serialise(statements: list[dict[str, Any]]) -> list[bytes]:
    return [statement_bytes(s) for s in statements]


def peak_memory(data: bytes, cfg: SlsaConfig, scope: str) -> float:
    gc.collect()
    tracemalloc.start()
    serialise(build(parse(data), cfg, scope))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 1e6


def config(fmt: str, deep: bool, build_type: str | None) -> SlsaConfig:
    if build_type is None:
        return SlsaConfig(format=fmt, deep_inspection=deep)
    return SlsaConfig(format=fmt, deep_inspection=deep, build_type=build_type)


def config_label(fmt: str, deep: bool, build_type: str | None) -> str:
    version = "SLSA v0.2" if fmt in ("slsa/v1", "in-toto") else "SLSA v1.0"
    variant = ", slsa-tekton" if build_type else ""
    return f"{fmt} ({version}{variant}) deep {'on' if deep else 'off'}"


def measure(
    data: bytes, fmt: str, deep: bool, build_type: str | None, scope: str, repeat: int
) -> Row:
    cfg = config(fmt, deep, build_type)
    run = parse(data)
    statements = build(run, cfg, scope)
    out = serialise(statements)
    parse_s = median_time(lambda: parse(data), repeat)
    build_s = median_time(lambda: build(run, cfg, scope), repeat)
    serialise_s = median_time(lambda: serialise(statements), repeat)
    floor_s = median_time(lambda: (orjson.loads(data), serialise(statements)), repeat)
    label = config_label(fmt, deep, build_type)
    if scope == "per-artifact":
        label += ", per-artifact"
    return Row(
        label=label,
        parse=parse_s,
        build=build_s,
        serialise=serialise_s,
        floor=floor_s,
        peak_mb=peak_memory(data, cfg, scope),
        statements=len(statements),
        out_bytes=sum(map(len, out)),
    )


ENTRY_POINTS = {
    "manage.py compute_provenance": [str(ROOT / "manage.py"), "compute_provenance"],
    "python -m provenance.core.cli": ["-m", "provenance.core.cli"],
}


# The floor of a whole process: start Python, read the record, orjson.loads it and dumps it.
ORJSON_ROUND_TRIP = [
    "-c",
    "import sys, orjson; orjson.dumps(orjson.loads(open(sys.argv[1], 'rb').read()))",
]


def process_time(
    data: bytes,
    fmt: str,
    deep: bool,
    repeat: int,
    entry: list[str],
    build_type: str | None = None,
) -> float:
    """Wall time of a whole command process on the input."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "input.json"
        path.write_bytes(data)
        command = [sys.executable, *entry, str(path)]
        if entry is not ORJSON_ROUND_TRIP:
            command += ["--format", fmt] + (["--deep-inspection"] if deep else [])
            command += ["--build-type", build_type] if build_type else []

        def once() -> None:
            subprocess.run(command, env=env, stdout=subprocess.DEVNULL, check=True, cwd=ROOT)

        return median_time(once, repeat)


def startup_time(repeat: int, entry: list[str]) -> float:
    """Wall time of a command on the smallest input: interpreter and imports."""
    tiny = orjson.dumps(
        {
            "apiVersion": "tekton.dev/v1",
            "kind": "TaskRun",
            "metadata": {"name": "tiny"},
            "status": {"conditions": [{"type": "Succeeded", "status": "True"}]},
        }
    )
    return process_time(tiny, "slsa/v2alpha4", False, repeat, entry)


def per_artifact_available() -> str | None:
    """None when per-artifact scope can run, else why not."""
    try:
        import provenance.core.scope  # noqa: F401
    except ImportError as exc:
        return f"per-artifact scope is not available ({exc})"
    return None


def profile(data: bytes, fmt: str, deep: bool, scope: str, top: int) -> str:
    cfg = config(fmt, deep, None)
    profiler = cProfile.Profile()
    profiler.enable()
    serialise(build(parse(data), cfg, scope))
    profiler.disable()
    stream = io.StringIO()
    pstats.Stats(profiler, stream=stream).sort_stats("cumulative").print_stats(top)
    return stream.getvalue()


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=1000, help="child TaskRuns (default 1000)")
    parser.add_argument("--artifacts", type=int, default=200, help="artifacts (default 200)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per figure (median)")
    parser.add_argument(
        "--stat", choices=["median", "min"], default="median", help="summary of the runs"
    )
    parser.add_argument(
        "--one-repository",
        action="store_true",
        help="every step image from one repository, a digest per task (many materials, one name)",
    )
    parser.add_argument(
        "--only",
        metavar="FORMAT",
        help="time only this format (both deep inspection settings, every build type)",
    )
    parser.add_argument(
        "--per-artifact", action="store_true", help="also time per-artifact statements"
    )
    parser.add_argument(
        "--per-artifact-repeat",
        type=int,
        default=1,
        metavar="N",
        help="runs per per-artifact figure (default 1: one statement per artifact is slow)",
    )
    parser.add_argument(
        "--process", action="store_true", help="also time whole manage.py processes"
    )
    parser.add_argument(
        "--profile",
        metavar="FORMAT",
        help="print a cProfile of one parse+build+serialise in FORMAT, deep inspection on",
    )
    args = parser.parse_args(argv)
    global SUMMARY
    SUMMARY = min if args.stat == "min" else statistics.median
    if args.artifacts > args.tasks:
        parser.error("--artifacts cannot exceed --tasks")

    data = synthetic_input(args.tasks, args.artifacts, args.one_repository)
    configs = [c for c in CONFIGS if args.only in (None, c[0])]
    print(
        f"input: 1 PipelineRun + {args.tasks} TaskRuns, {args.artifacts} artifacts"
        f"{', one step image repository' if args.one_repository else ''}, "
        f"{len(data) / 1e6:.1f} MB JSON; {args.stat} of {args.repeat} runs; "
        f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs"
    )

    scopes = ["per-run"]
    if args.per_artifact:
        missing = per_artifact_available()
        if missing:
            print(f"note: skipping --per-artifact: {missing}")
        else:
            scopes.append("per-artifact")

    rows: list[Row] = []
    for scope in scopes:
        for fmt, deep, build_type in configs:
            if scope == "per-artifact" and build_type:
                continue
            try:
                repeat = args.repeat if scope == "per-run" else args.per_artifact_repeat
                rows.append(measure(data, fmt, deep, build_type, scope, repeat))
            except (NotImplementedError, ImportError) as exc:
                print(f"note: skipping {fmt} deep={deep} {scope}: {exc!r}")

    header = (
        f"{'configuration':<56} {'parse':>8} {'build':>8} {'serial.':>8} {'total':>8} "
        f"{'floor':>8} {'x floor':>7} {'peak MB':>8} {'stmts':>5} {'out MB':>6}"
    )
    print()
    print("times in ms")
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row.label:<56} {_ms(row.parse)} {_ms(row.build)} {_ms(row.serialise)} "
            f"{_ms(row.total)} {_ms(row.floor)} {row.total / row.floor:7.1f} "
            f"{row.peak_mb:8.1f} {row.statements:5d} {row.out_bytes / 1e6:6.2f}"
        )

    if args.process:
        floor = process_time(data, "", False, args.repeat, ORJSON_ROUND_TRIP)
        print()
        print(f"{'orjson parse + serialise of the record, whole process':<56} {_ms(floor)} ms")
        for name, entry in ENTRY_POINTS.items():
            print()
            print(f"whole process ({name}, start-up included)")
            startup = startup_time(args.repeat, entry)
            print(f"{'start-up on a one-TaskRun input':<56} {_ms(startup)} ms")
            for fmt, deep, build_type in configs:
                wall = process_time(data, fmt, deep, args.repeat, entry, build_type)
                label = config_label(fmt, deep, build_type)
                print(
                    f"{label:<56} {_ms(wall)} ms   (minus start-up: {_ms(wall - startup)} ms, "
                    f"x orjson process: {wall / floor:4.1f})"
                )

    if args.profile:
        scope = scopes[-1]
        print()
        print(profile(data, args.profile, True, scope, 25))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
