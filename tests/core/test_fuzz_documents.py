"""Fuzzing the ingest parser (hypothesis): whatever the bytes, the engine answers or refuses.

The property, for random bytes, random JSON values, record-shaped objects, mutations of the real
samples and YAML built from fragments: ``load_documents`` + ``parse_records`` + ``generate`` (each
format) and ``plan_statements`` (per-artifact scope too) either succeed or raise the engine's
``ProvenanceError`` (``RecordError`` / ``FormatError``), never another exception, never a hang.

Runs are deterministic (``derandomize=True``, no example database) so CI sees the same examples
every time; hostile inputs found by hand live in tests/data/hostile (tests/test_hostile_input.py).
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Iterator
from typing import Any

import orjson
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from provenance.core import (
    FORMATS,
    PipelineRun,
    ProvenanceError,
    SlsaConfig,
    generate,
    load_documents,
    parse_records,
)
from provenance.core.intoto import statement_bytes
from provenance.core.plan import plan_statements
from tests.alarm import raise_after

from .conftest import DATA, REPO

FUZZ = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
EXAMPLE_SECONDS = 10
CONFIGS = [SlsaConfig(format=fmt) for fmt in FORMATS] + [
    SlsaConfig(format="slsa/v2alpha4", deep_inspection=True),
    SlsaConfig(format="slsa/v1", deep_inspection=True),
]


def no_hang(seconds: int = EXAMPLE_SECONDS) -> contextlib.AbstractContextManager[None]:
    """Fail an example that runs longer than ``seconds`` instead of hanging the suite."""
    return raise_after(seconds, lambda: AssertionError(f"an example ran for more than {seconds} s"))


def engine(data: bytes | str) -> list[dict[str, Any]]:
    """Everything the service and the CLI do with input; only ProvenanceError may escape."""
    statements: list[dict[str, Any]] = []
    with no_hang():
        try:
            runs = parse_records(load_documents(data))
        except ProvenanceError:
            return statements
        for run in runs:
            for cfg in CONFIGS:
                with contextlib.suppress(ProvenanceError):
                    statements.append(generate(run, cfg))
            with contextlib.suppress(ProvenanceError):
                plan_statements(run, CONFIGS[-2], "per-run", "on-success")
            if isinstance(run, PipelineRun):
                for emit in ("on-completion", "on-artifact"):
                    with contextlib.suppress(ProvenanceError):
                        plan_statements(run, CONFIGS[-1], "per-artifact", emit)
    return statements


# ---------------------------------------------------------------------------------------------
# Strategies

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=30,
)

KINDS = ["TaskRun", "PipelineRun", "List", "TaskRunList", "Pod", "", "taskrun"]
API_VERSIONS = ["tekton.dev/v1", "tekton.dev/v1beta1", "v1", "tekton.dev/v1alpha1"]
KNOWN_KEYS = [
    "name", "namespace", "uid", "resourceVersion", "labels", "annotations", "ownerReferences",
    "params", "results", "steps", "conditions", "type", "status", "reason", "message",
    "startTime", "completionTime", "childReferences", "pipelineTaskName", "pipelineSpec",
    "taskSpec", "tasks", "finally", "runAfter", "taskRef", "pipelineRef", "taskRuns",
    "taskResults", "pipelineResults", "provenance", "refSource", "configSource", "digest",
    "uri", "entryPoint", "featureFlags", "imageID", "value", "items", "kind", "sidecars",
    "skippedTasks", "workspaces", "taskRunTemplate", "serviceAccountName", "bundle",
    "tekton.dev/pipelineTask", "tekton.dev/pipelineRun", "IMAGE_URL", "IMAGE_DIGEST",
]  # fmt: skip
NAMES = [
    "IMAGE_URL", "IMAGE_DIGEST", "IMAGES", "ARTIFACT_URI", "ARTIFACT_DIGEST",
    "x_ARTIFACT_OUTPUTS", "ARTIFACT_INPUTS", "CHAINS-GIT_URL", "CHAINS-GIT_COMMIT", "t0",
]  # fmt: skip
VALUES = [
    "sha256:" + "a" * 64, "SHA256:" + "A" * 64, "registry.example/app", "ghcr.io/a/b:1",
    "ghcr.io/a/b@sha256:" + "b" * 64, "2026-01-01T10:00:00Z", "True", "False", "Unknown",
    "Succeeded", "$(tasks.t0.results.IMAGE_URL)", "$(params.x)", "", "../../etc/passwd",
    "<script>alert(1)</script>",
]  # fmt: skip
record_scalars = json_scalars | st.sampled_from(VALUES + NAMES + KINDS)
record_values = st.recursive(
    record_scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(KNOWN_KEYS) | st.text(max_size=6), children, max_size=6)
    ),
    max_leaves=12,
)


@st.composite
def record_shaped(draw: st.DrawFn) -> dict[str, Any]:
    """Objects with a Tekton-like skeleton and random flesh: they get past the first checks."""
    obj: dict[str, Any] = {
        "apiVersion": draw(st.sampled_from(API_VERSIONS[:2]) | st.sampled_from(API_VERSIONS)),
        "kind": draw(st.sampled_from(KINDS[:2]) | st.sampled_from(KINDS)),
        "metadata": draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "name": st.sampled_from(["a", "b", "t0"]) | record_values,
                    "namespace": st.just("ns") | record_values,
                    "uid": st.sampled_from(["u1", "u2"]) | record_values,
                    "labels": record_values,
                    "ownerReferences": record_values,
                },
            )
        ),
        "spec": draw(
            st.dictionaries(st.sampled_from(KNOWN_KEYS), record_values, max_size=4)
            | record_values
        ),
        "status": draw(
            st.fixed_dictionaries(
                {},
                optional={
                    key: record_values
                    for key in (
                        "conditions", "results", "steps", "childReferences", "pipelineSpec",
                        "taskSpec", "taskRuns", "provenance", "startTime", "completionTime",
                        "sidecars", "skippedTasks", "taskResults", "pipelineResults",
                    )
                },
            )
        ),
    }  # fmt: skip
    if obj["kind"] in ("List", "TaskRunList"):
        obj["items"] = draw(st.lists(record_values, max_size=3))
    return obj


def _samples() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    paths = sorted((REPO / "provenance" / "samples").glob("*.json"))
    paths += sorted((DATA / "tekton").glob("*.json"))
    for path in paths:
        docs.extend(load_documents(path.read_bytes()))
    return docs


SAMPLES = _samples()
# Whole sample bodies (a PipelineRun with its TaskRuns), so mutations reach the joins too.
SAMPLE_BODIES = [
    load_documents(p.read_bytes()) for p in sorted((REPO / "provenance" / "samples").glob("*"))
]


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, (*prefix, index))


def _retype(value: Any) -> Any:
    """The same content in another JSON type (what a careless producer might write)."""
    if isinstance(value, dict):
        return list(value.values())
    if isinstance(value, list):
        return {str(i): v for i, v in enumerate(value)}
    if isinstance(value, str):
        return int(value) if value.isdigit() else [value]
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        return str(value)
    return {}


MUTATIONS: list[str] = ["delete", "replace", "retype", "null", "empty", "case", "duplicate"]


@st.composite
def mutated_sample(draw: st.DrawFn) -> list[dict[str, Any]]:
    body = copy.deepcopy(draw(st.sampled_from(SAMPLE_BODIES + [[s] for s in SAMPLES])))
    for _ in range(draw(st.integers(min_value=1, max_value=6))):
        paths = [p for p in _paths(body) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent: Any = body
        for part in path[:-1]:
            parent = parent[part]
        last = path[-1]
        action = draw(st.sampled_from(MUTATIONS))
        if action == "delete":
            del parent[last]
        elif action == "replace":
            parent[last] = draw(record_values)
        elif action == "retype":
            parent[last] = _retype(parent[last])
        elif action == "null":
            parent[last] = None
        elif action == "empty":
            parent[last] = type(parent[last])() if isinstance(parent[last], dict | list) else ""
        elif action == "case" and isinstance(parent, dict) and isinstance(last, str):
            parent[last.swapcase()] = parent.pop(last)
        elif action == "duplicate" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[last]))
    return body


YAML_FRAGMENTS = [
    "apiVersion: tekton.dev/v1\n", "apiVersion: tekton.dev/v1beta1\n", "kind: TaskRun\n",
    "kind: PipelineRun\n", "kind: List\n", "items:\n", "metadata:\n", "  name: a\n",
    "  namespace: ns\n", "  uid: u1\n", "  labels:\n", "    tekton.dev/pipelineTask: t0\n",
    "    tekton.dev/pipelineRun: a\n", "spec: {}\n", "status:\n", "  conditions:\n",
    "  - type: Succeeded\n", "    status: 'True'\n", "  results:\n", "  - name: IMAGE_URL\n",
    "    value: registry.example/app\n", "  - name: IMAGE_DIGEST\n",
    "    value: sha256:" + "a" * 64 + "\n", "  steps:\n", "  - name: s\n", "    imageID: x\n",
    "  childReferences:\n", "  - name: b\n", "    pipelineTaskName: t0\n", "  pipelineSpec:\n",
    "    tasks:\n", "    - name: t0\n", "  startTime: 2026-01-01T10:00:00Z\n",
    "  completionTime: 2026-01-01T10:05:00Z\n", "---\n", "...\n", "- ", "  ", "    ", ": ",
    "? ", "{", "}", "[", "]", ", ", "'", '"', "&a ", "*a", "<<: *a\n", "!!str ", "!!binary aGk=",
    "!!set {x}", "!!python/object/apply:os.system ['id']", "!custom ", "%TAG ! tag:x,2000:\n",
    "%YAML 1.1\n", '"\\ud800"', '"\\0"', "\t", "\n", "# c\n", "1: x\n", "on: push\n", "~: x\n",
    ".nan", ".inf", "0x1F", "1e999", "123456789012345678901234567890", "yes", "null", "|\n",
    ">-\n", "\ufeff", "\u202e", "\x00", "\r\n", "a: b: c\n",
]  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Properties


@FUZZ
@given(st.binary(max_size=4000))
def test_random_bytes(data: bytes) -> None:
    engine(data)


@FUZZ
@given(json_values)
def test_random_json_values(value: Any) -> None:
    engine(orjson.dumps(value))


@FUZZ
@given(st.lists(record_shaped(), min_size=1, max_size=4))
def test_record_shaped_objects(objects: list[dict[str, Any]]) -> None:
    engine(orjson.dumps({"apiVersion": "v1", "kind": "List", "items": objects}))


@FUZZ
@given(mutated_sample())
def test_mutated_samples(body: list[dict[str, Any]]) -> None:
    engine(orjson.dumps(body))


@FUZZ
@given(st.lists(st.sampled_from(YAML_FRAGMENTS), max_size=60))
def test_yaml_from_fragments(fragments: list[str]) -> None:
    engine("".join(fragments))


@FUZZ
@given(
    st.lists(st.sampled_from(YAML_FRAGMENTS), max_size=60),
    st.sampled_from([str.encode, lambda t: t.encode("utf-16"), lambda t: t.encode("latin-1",
                                                                                "replace")]),
)  # fmt: skip
def test_yaml_fragments_as_bytes(fragments: list[str], encode: Callable[[str], bytes]) -> None:
    engine(encode("".join(fragments)))


# What the engine accepts must be JSON: the service stores the record as JSON and signs the
# statement's JSON bytes. Explicit examples make the known failures deterministic.
_NON_JSON = "kind: TaskRun\nmetadata: {name: a, namespace: ns, uid: u}\nstatus:\n  x: {}\n"


@FUZZ
@example(_NON_JSON.replace("{}", "!!binary aGk="))
@example(_NON_JSON.replace("{}", '"\\ud800"'))
@example(_NON_JSON.replace("{}", "{1: a}"))
@given(st.lists(st.sampled_from(YAML_FRAGMENTS), max_size=60).map("".join))
def test_accepted_input_is_json(text: str) -> None:
    try:
        objects = load_documents(text)
    except ProvenanceError:
        return
    orjson.dumps(objects)
    for statement in engine(text):
        statement_bytes(statement)
