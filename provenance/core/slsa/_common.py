"""Pieces shared by the SLSA v0.2 and v1.0 predicates: image ids, params, git hints, refs."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from ..errors import FormatError
from ..gojson.custom import param_value_codec
from ..hints import (
    Artifact,
    git_source,
    input_artifacts,
    subjects_build_artifacts,
    subjects_v02,
)
from ..intoto import DescriptorList
from ..tekton import PipelineRun, RunMeta, TaskRun, param_value
from .config import SlsaConfig

T = TypeVar("T")
IGNORED_ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration"
CHAINS_ANNOTATION_PREFIX = "chains.tekton.dev/"


def image_descriptor(image_id: str) -> tuple[str, dict[str, str]]:
    """``oci://<repo>`` and its digest from a step or sidecar ``imageID`` (spec §6.2).

    Anything but exactly ``<repo>@<alg>:<hex>`` fails the whole statement, as in Chains.
    """
    reference = image_id.removeprefix("docker-pullable://")
    parts = reference.split("@")
    if len(parts) != 2:
        raise FormatError(f"image id {image_id!r} is not of the form <repository>@<alg>:<hex>")
    digest = parts[1].split(":")
    if len(digest) != 2:
        raise FormatError(f"image id {image_id!r} has a digest that is not <alg>:<hex>")
    return "oci://" + parts[0], {digest[0]: digest[1]}


def step_image_reference(image_id: str) -> str:
    """The v0.2 step ``environment.image``: the full reference with an ``oci://`` scheme."""
    return "oci://" + image_id.removeprefix("docker-pullable://")


def run_images(tr: TaskRun) -> Iterator[tuple[str, dict[str, str]]]:
    """Step images, then sidecar images, of one TaskRun."""
    for step in tr.steps:
        yield image_descriptor(step.image_id)
    for image_id in tr.sidecar_image_ids:
        yield image_descriptor(image_id)


def parameters(meta: RunMeta, spec_params: Any) -> dict[str, Any]:
    """``invocation.parameters``: declared defaults overlaid by the run's params, each value as
    Go's ``ParamValue`` writes it; a ``null`` default counts as none."""
    values: dict[str, Any] = dict(declared_defaults_of(spec_params))
    for name, value in meta.params:
        if value is None:
            raise FormatError(f"param {name!r} has no value: Chains cannot encode it")
        values[name] = value
    return values


def declared_defaults(spec: dict[str, Any] | None) -> list[tuple[str, object]]:
    return declared_defaults_of((spec or {}).get("params"))


def declared_defaults_of(spec_params: Any) -> list[tuple[str, object]]:
    """(name, default) of the ParamSpecs that have a non-null ``default``, Go's view of it."""
    return [
        (str(p.get("name")), param_value_codec(p["default"]))
        for p in spec_params or []
        if isinstance(p, dict) and p.get("default") is not None
    ]


def task_run_git(tr: TaskRun) -> tuple[str, str]:
    """Git hints of a TaskRun: taskSpec defaults, then spec params, then results."""
    return git_source(
        [
            declared_defaults(tr.task_spec),
            tr.meta.params,
            [(r.name, r.value) for r in tr.meta.results],
        ]
    )


def pipeline_run_git(pr: PipelineRun) -> tuple[str, str]:
    """Git hints of a PipelineRun: pipelineSpec defaults, then spec params, then results."""
    return git_source(
        [
            declared_defaults(pr.pipeline_spec),
            pr.meta.params,
            [(r.name, r.value) for r in pr.meta.results],
        ]
    )


def git_uri(url: str) -> str:
    """SPDX git form: ``git+`` and ``.git`` are added only when missing (Chains' SPDXGit)."""
    prefix = "" if url.startswith("git+") else "git+"
    return prefix + (url if url.endswith(".git") else url + ".git")


def inputs(meta: RunMeta) -> list[Artifact]:
    """``*ARTIFACT_INPUTS`` as materials: Chains builds these from the parsed digest."""
    return input_artifacts(meta.results)


def environment(meta: RunMeta) -> dict[str, Any] | None:
    """v0.2 ``invocation.environment``: labels and filtered annotations, each only if non-empty."""
    env: dict[str, Any] = {}
    annotations = {
        k: v
        for k, v in meta.annotations.items()
        if k != IGNORED_ANNOTATION and not k.startswith(CHAINS_ANNOTATION_PREFIX)
    }
    if annotations:
        env["annotations"] = annotations
    if meta.labels:
        env["labels"] = dict(meta.labels)
    return env or None


# Tekton's variable syntax, and the step and sidecar fields it looks for references in.
_VARIABLE = re.compile(r"\$\([_a-zA-Z0-9.-]+(\.[_a-zA-Z0-9.-]+)*(\[([0-9]+|\*)\])?\)")
_CONTAINER_STRINGS = ("name", "image", "imagePullPolicy", "script", "workingDir")
_CONTAINER_LISTS = ("command", "args")


def pipeline_task_result_refs(task: dict[str, Any]) -> list[str]:
    """Tasks a pipeline task references results of, as Tekton's ``PipelineTaskResultRefs``
    finds them: in its params (matrix ones too), its when expressions (``input``, ``cel``,
    ``values``) and the named fields of an inline task's steps and sidecars, in that order."""
    texts: list[str] = []
    matrix = task.get("matrix")
    if not isinstance(matrix, dict):
        matrix = {}
    params = [*_dicts(task.get("params")), *_dicts(matrix.get("params"))]
    for include in _dicts(matrix.get("include")):
        params.extend(_dicts(include.get("params")))
    for param in params:
        raw = param.get("value")
        if type(raw) is str:  # the common case, already what ParamValue holds
            texts.append(raw)
            continue
        value = param_value(param)
        if isinstance(value, str):
            texts.append(value)
        elif isinstance(value, list):
            texts.extend(value)
        elif isinstance(value, dict):
            texts.extend(value.values())
    for when in _dicts(task.get("when")):
        texts.extend(_strings(when.get("input"), when.get("cel")))
        texts.extend(_strings(*(when.get("values") or [])))
    inline = task.get("taskSpec")
    if isinstance(inline, dict):
        for container in (*_dicts(inline.get("steps")), *_dicts(inline.get("sidecars"))):
            texts.extend(_container_texts(container))
    tasks = []
    for text in texts:
        if "$(" not in text:
            continue
        for match in _VARIABLE.finditer(text):
            parts = match.group(0)[2:-1].split(".")
            if len(parts) in (4, 5) and parts[0] in ("tasks", "finally") and parts[2] == "results":
                tasks.append(parts[1])
    return tasks


def _container_texts(container: dict[str, Any]) -> list[str]:
    texts = _strings(*(container.get(key) for key in _CONTAINER_STRINGS))
    for key in _CONTAINER_LISTS:
        texts.extend(_strings(*(container.get(key) or [])))
    for env in _dicts(container.get("env")):
        texts.extend(_strings(env.get("value")))
        source = env.get("valueFrom")
        if isinstance(source, dict):
            for ref in ("secretKeyRef", "configMapKeyRef"):
                selector = source.get(ref)
                if isinstance(selector, dict):
                    texts.extend(_strings(selector.get("key"), selector.get("name")))
    return texts


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _strings(*values: Any) -> list[str]:
    return [value for value in values if isinstance(value, str)]


def is_remote(spec_ref: Any) -> bool:
    """A run is remote when its ref names a resolver other than ``Cluster`` (spec §9.2)."""
    return (
        isinstance(spec_ref, dict)
        and bool(spec_ref.get("resolver"))
        and (spec_ref.get("resolver") != "Cluster")
    )


class ExecutedWalk:
    """A PipelineRun's walk (spec §7.1) with each child's position, so that narrowing it to a
    scope costs the scope's size rather than the run's."""

    __slots__ = ("_positions", "pairs")

    def __init__(self, pr: PipelineRun) -> None:
        self.pairs = pr.executed_task_runs()
        self._positions: dict[str, list[int]] = {}
        for position, (_, tr) in enumerate(self.pairs):
            self._positions.setdefault(tr.name, []).append(position)

    def once(self, cache: dict[int, Any], position: int, build: Callable[[int], T]) -> T:
        """``build(position)``, made the first time any statement asks for it (kept in cache)."""
        if position in cache:
            found: T = cache[position]
        else:
            found = cache[position] = build(position)
        return found

    def subjects(
        self, pr: PipelineRun, cfg: SlsaConfig, in_scope: set[str] | None
    ) -> DescriptorList:
        """A per-run statement names the run's subjects; a per-artifact one (``in_scope`` given)
        starts with none, and the caller names its artifact."""
        if in_scope is not None:
            return DescriptorList("name")
        return pipeline_subjects(pr, cfg, [tr for _, tr in self.pairs])

    def positions(self, in_scope: set[str] | None) -> list[int]:
        """Walk positions of the children named in ``in_scope`` (all of them for None)."""
        if in_scope is None:
            return list(range(len(self.pairs)))
        return sorted(p for name in in_scope for p in self._positions.get(name, ()))


def pipeline_subjects(pr: PipelineRun, cfg: SlsaConfig, walk: Sequence[TaskRun]) -> DescriptorList:
    """PipelineRun subjects (spec §7.2): ``walk`` is the executed children to read under deep
    inspection. v2alpha4 puts pipeline results first; slsa/v1 and v2alpha3 put children first."""
    subjects = DescriptorList("name")
    if cfg.is_v2alpha4:
        subjects.extend((a.uri, a.digest) for a in subjects_build_artifacts(pr.meta.results))
        if cfg.deep_inspection:
            for tr in walk:
                for step in tr.steps:
                    subjects.extend(
                        (a.uri, a.digest) for a in subjects_build_artifacts(step.results)
                    )
                subjects.extend(
                    (a.uri, a.digest) for a in subjects_build_artifacts(tr.meta.results)
                )
    else:
        if cfg.deep_inspection:
            for tr in walk:
                subjects.extend((a.uri, a.digest) for a in subjects_v02(tr.meta.results))
        subjects.extend((a.uri, a.digest) for a in subjects_v02(pr.meta.results))
    return subjects
