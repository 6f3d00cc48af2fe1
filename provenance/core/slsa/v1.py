"""SLSA v1.0 provenance, Chains formats ``slsa/v2alpha3`` and ``slsa/v2alpha4`` (spec §9)."""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from functools import cached_property
from typing import Any

import orjson

from ..errors import FormatError
from ..gojson import go_json, go_value
from ..hints import (
    git_source,
    input_artifacts,
    is_subject_result,
    subjects_build_artifacts,
    subjects_v02,
)
from ..intoto import STATEMENT_V1, DescriptorList, Statement, json_content
from ..tekton import PipelineRun, RefSource, Result, RunMeta, TaskRun
from ._common import (
    ExecutedWalk,
    git_uri,
    inputs,
    is_remote,
    pipeline_run_git,
    run_images,
    task_run_git,
)
from .config import BUILD_TYPE_SLSA_TEKTON, SlsaConfig

PREDICATE_V1 = "https://slsa.dev/provenance/v1"
INPUTS_RESULT = "inputs/result"
_ALWAYS_KEPT = ("task", "pipeline")


def task_run_statement(tr: TaskRun, cfg: SlsaConfig) -> Statement:
    """The statement Chains writes for a TaskRun in ``slsa/v2alpha3|4`` (spec §9)."""
    subjects = DescriptorList("name")
    if cfg.is_v2alpha4:
        for step in tr.steps:
            subjects.extend((a.uri, a.digest) for a in subjects_build_artifacts(step.results))
        subjects.extend((a.uri, a.digest) for a in subjects_build_artifacts(tr.meta.results))
    else:
        subjects.extend((a.uri, a.digest) for a in subjects_v02(tr.meta.results))

    deps: list[dict[str, Any]] = []
    if tr.meta.ref_source is not None:
        deps.append(_ref_dependency("task", tr.meta.ref_source))
    deps.extend({"uri": uri, "digest": digest} for uri, digest in run_images(tr))
    if cfg.is_v2alpha4:
        deps.extend(_step_result_inputs(tr))
        deps.extend(_step_actions(tr))
    deps.extend(_run_inputs(task_run_git(tr), tr.meta.results))

    byproducts = (
        _byproducts_v2alpha4(tr.meta.results, "taskRunResults", tr.name) + _step_byproducts(tr)
        if cfg.is_v2alpha4
        else _byproducts_v2alpha3(tr.meta.results, "taskRunResults")
    )
    return _statement(cfg, tr.meta, subjects, _run_spec(tr.meta, "TaskRun"), deps, byproducts)


def pipeline_run_statement(
    pr: PipelineRun, cfg: SlsaConfig, in_scope: set[str] | None = None
) -> Statement:
    """The statement Chains writes for a PipelineRun in ``slsa/v2alpha3|4`` (spec §9, §7.2).

    ``in_scope`` (TaskRun names) narrows dependencies and byproducts for per-artifact
    statements; ``None`` is Chains' per-run statement.
    """
    return PipelineRunStatements(pr, cfg).statement(in_scope)


class PipelineRunStatements:
    """Statements about one PipelineRun under one config, as :func:`pipeline_run_statement`.

    Per-artifact scope asks for one statement per artifact, each over a subset of the same
    tasks. What does not depend on the subset (``runSpec``, each task's dependencies and
    byproducts) is built once, on first use, and the same objects go into every statement:
    nothing changes them afterwards and orjson only reads them.
    """

    def __init__(self, pr: PipelineRun, cfg: SlsaConfig) -> None:
        self.pr = pr
        self.cfg = cfg
        self.walk = ExecutedWalk(pr)
        self._deps: dict[int, list[dict[str, Any]]] = {}
        self._deep_deps: dict[int, list[dict[str, Any]]] = {}
        self._inputs: dict[int, list[dict[str, Any]]] = {}
        self._byproducts: dict[int, list[dict[str, Any]]] = {}

    def statement(self, in_scope: set[str] | None = None) -> Statement:
        pr, cfg = self.pr, self.cfg
        positions = self.walk.positions(in_scope)
        subjects = self.walk.subjects(pr, cfg, in_scope)

        deps: list[dict[str, Any]] = []
        if pr.meta.ref_source is not None:
            deps.append(_ref_dependency("pipeline", pr.meta.ref_source))
        for position in positions:
            deps.extend(self.walk.once(self._deps, position, self._task_deps))
        if cfg.deep_inspection and cfg.is_v2alpha4:
            for position in positions:
                deps.extend(self.walk.once(self._deep_deps, position, self._task_result_inputs))
        deps.extend(self._pipeline_inputs)
        if cfg.deep_inspection:
            for position in positions:
                deps.extend(self.walk.once(self._inputs, position, self._task_inputs))
        deps.extend(self._pipeline_git)

        if cfg.is_v2alpha4:
            byproducts = list(self._pipeline_byproducts)
            if cfg.deep_inspection:
                for position in positions:
                    byproducts += self.walk.once(self._byproducts, position, self._task_byproducts)
        else:
            byproducts = self._pipeline_byproducts
        return _statement(cfg, pr.meta, subjects, self._run_spec, deps, byproducts)

    def _task_deps(self, position: int) -> list[dict[str, Any]]:
        tr = self.walk.pairs[position][1]
        deps: list[dict[str, Any]] = []
        if self.cfg.build_type == BUILD_TYPE_SLSA_TEKTON:
            try:
                deps.append(_pipeline_task_content(tr))
            except FormatError:
                # Go cannot encode this TaskRun (a param without a value): Chains logs it and
                # goes on with the next task, without this one's images either.
                return []
        elif tr.meta.ref_source is not None:
            deps.append(_ref_dependency("pipelineTask", tr.meta.ref_source))
        if self.cfg.is_v2alpha4:
            deps.extend(_step_actions(tr))
        deps.extend({"uri": uri, "digest": digest} for uri, digest in run_images(tr))
        return deps

    def _task_result_inputs(self, position: int) -> list[dict[str, Any]]:
        return list(_step_result_inputs(self.walk.pairs[position][1]))

    def _task_inputs(self, position: int) -> list[dict[str, Any]]:
        tr = self.walk.pairs[position][1]
        return _run_inputs(task_run_git(tr), tr.meta.results)

    def _task_byproducts(self, position: int) -> list[dict[str, Any]]:
        tr = self.walk.pairs[position][1]
        return _byproducts_v2alpha4(tr.meta.results, "taskRunResults", tr.name) + _step_byproducts(
            tr
        )

    @cached_property
    def _pipeline_inputs(self) -> list[dict[str, Any]]:
        return [
            {"name": INPUTS_RESULT, "uri": a.uri, "digest": a.digest} for a in inputs(self.pr.meta)
        ]

    @cached_property
    def _pipeline_git(self) -> list[dict[str, Any]]:
        url, commit = pipeline_run_git(self.pr)
        if url and commit:
            return [{"name": INPUTS_RESULT, "uri": git_uri(url), "digest": {"sha1": commit}}]
        return []

    @cached_property
    def _pipeline_byproducts(self) -> list[dict[str, Any]]:
        results = self.pr.meta.results
        if self.cfg.is_v2alpha4:
            return _byproducts_v2alpha4(results, "pipelineRunResults", self.pr.name)
        return _byproducts_v2alpha3(results, "pipelineRunResults")

    @cached_property
    def _run_spec(self) -> dict[str, Any]:
        return _run_spec(self.pr.meta, "PipelineRun")


def _statement(
    cfg: SlsaConfig,
    meta: RunMeta,
    subjects: DescriptorList,
    run_spec: dict[str, Any],
    deps: list[dict[str, Any]],
    byproducts: list[dict[str, Any]],
) -> Statement:
    external: dict[str, Any] = {"runSpec": run_spec}
    ref_key = "taskRef" if meta.kind == "TaskRun" else "pipelineRef"
    if is_remote(meta.spec.get(ref_key)) and meta.ref_source is not None:
        external["buildConfigSource"] = _build_config_source(meta.ref_source)
    build_definition: dict[str, Any] = {
        "buildType": cfg.build_type,
        "externalParameters": external,
        "internalParameters": _internal_parameters(cfg, meta),
    }
    resolved = dedupe_dependencies(deps)
    if resolved:
        build_definition["resolvedDependencies"] = resolved
    run_metadata: dict[str, Any] = {}
    if meta.uid:
        run_metadata["invocationId"] = meta.uid
    if meta.start_time:
        run_metadata["startedOn"] = protojson_time(meta.start_time)
    if meta.completion_time:
        run_metadata["finishedOn"] = protojson_time(meta.completion_time)
    run_details: dict[str, Any] = {"builder": {"id": cfg.builder_id}, "metadata": run_metadata}
    if byproducts:
        run_details["byproducts"] = byproducts
    statement: Statement = {"_type": STATEMENT_V1}
    if subjects.entries:
        statement["subject"] = subjects.entries
    statement["predicateType"] = PREDICATE_V1
    statement["predicate"] = {"buildDefinition": build_definition, "runDetails": run_details}
    return statement


def _ref_dependency(name: str, ref: RefSource) -> dict[str, Any]:
    dep: dict[str, Any] = {"name": name}
    if ref.uri:
        dep["uri"] = ref.uri
    if ref.digest:
        dep["digest"] = dict(ref.digest)
    return dep


def _pipeline_task_content(tr: TaskRun) -> dict[str, Any]:
    """slsa-tekton carries the whole child TaskRun, as Go's ``json.Marshal`` writes it."""
    dep: dict[str, Any] = {"name": "pipelineTask"}
    if tr.meta.ref_source is not None:
        if tr.meta.ref_source.uri:
            dep["uri"] = tr.meta.ref_source.uri
        if tr.meta.ref_source.digest:
            dep["digest"] = dict(tr.meta.ref_source.digest)
    encoded = go_json(go_value("v1.TaskRun", tr.raw, f"TaskRun {tr.name}"))
    dep["content"] = base64.b64encode(encoded).decode()
    return dep


def _step_actions(tr: TaskRun) -> Iterable[dict[str, Any]]:
    for step in tr.steps:
        if step.ref_source is not None:
            yield _ref_dependency(f"stepAction/{step.name}", step.ref_source)


def _step_result_inputs(tr: TaskRun) -> Iterable[dict[str, Any]]:
    for step in tr.steps:
        git = git_source([[(r.name, r.value) for r in step.results]])
        yield from _run_inputs(git, step.results)


def _run_inputs(git: tuple[str, str], results: Sequence[Result]) -> list[dict[str, Any]]:
    """``inputs/result`` dependencies: git first, then ``*ARTIFACT_INPUTS``.

    A commit alone is enough: Chains builds the URL (``git+.git`` from an empty one) before it
    checks it, for TaskRun params and results and for step results alike (spec §11.7).
    """
    url, commit = git
    found: list[dict[str, Any]] = []
    if commit:
        found.append({"name": INPUTS_RESULT, "uri": git_uri(url), "digest": {"sha1": commit}})
    found.extend(
        {"name": INPUTS_RESULT, "uri": a.uri, "digest": a.digest} for a in input_artifacts(results)
    )
    return found


def dedupe_dependencies(deps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop an entry when an earlier one has the same (uri, digest, content), ignoring names;
    entries named ``task``, ``pipeline`` or ``stepAction/…`` are always kept (spec §9.4)."""
    seen: set[bytes] = set()
    kept = []
    for dep in deps:
        key = orjson.dumps(
            [dep.get("uri", ""), dep.get("digest", {}), dep.get("content", "")],
            option=orjson.OPT_SORT_KEYS,
        )
        name = dep.get("name", "")
        if key in seen and not (name in _ALWAYS_KEPT or name.startswith("stepAction/")):
            continue
        seen.add(key)
        kept.append(dep)
    return kept


def _byproducts_v2alpha3(results: Sequence[Result], prefix: str) -> list[dict[str, Any]]:
    return [_byproduct(f"{prefix}/{r.name}", r.value) for r in results]


def _byproducts_v2alpha4(
    results: Sequence[Result], prefix: str, run_name: str
) -> list[dict[str, Any]]:
    return [
        _byproduct(f"{prefix}/{run_name}/{r.name}", r.value)
        for r in results
        if not is_subject_result(r)
    ]


def _step_byproducts(tr: TaskRun) -> list[dict[str, Any]]:
    found = []
    for step in tr.steps:
        found.extend(_byproducts_v2alpha4(step.results, "stepResults", tr.name))
    return found


def _byproduct(name: str, value: Any) -> dict[str, Any]:
    return {"name": name, "mediaType": "application/json", "content": json_content(value)}


def _build_config_source(ref: RefSource) -> dict[str, Any]:
    """Chains writes all three keys, empty or not (a ``map[string]string``)."""
    ref_text = ""
    if ref.digest:
        algorithm, hex_ = next(iter(ref.digest.items()))
        ref_text = f"{algorithm}:{hex_}"
    return {"ref": ref_text, "repository": ref.uri, "path": ref.entry_point}


def _internal_parameters(cfg: SlsaConfig, meta: RunMeta) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if meta.feature_flags is not None:
        params["tekton-pipelines-feature-flags"] = meta.feature_flags
    if cfg.build_type == BUILD_TYPE_SLSA_TEKTON:
        params["labels"] = meta.labels or None
        params["annotations"] = meta.annotations or None
    return params


def _run_spec(meta: RunMeta, kind: str) -> dict[str, Any]:
    """``runSpec``: the run's spec decoded into Tekton's Go type and encoded again, as Chains
    writes it (durations and quantities canonical, empty structs kept, unknown fields gone)."""
    spec: dict[str, Any] = go_value(f"v1.{kind}Spec", meta.spec, "spec")
    return spec


def protojson_time(text: str) -> str:
    """Protobuf JSON writes 0, 3, 6 or 9 fractional digits (v1.0 statements are protobuf)."""
    seconds, dot, fraction = text.removesuffix("Z").partition(".")
    if not dot:
        return text
    width = next(w for w in (3, 6, 9) if len(fraction) <= w)
    return f"{seconds}.{fraction.ljust(width, '0')}Z"
