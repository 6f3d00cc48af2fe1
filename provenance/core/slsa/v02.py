"""SLSA v0.2 provenance, Chains format ``slsa/v1`` / ``in-toto`` (spec §8)."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from ..gojson import go_value
from ..hints import subjects_v02
from ..intoto import STATEMENT_V01, DescriptorList, Statement
from ..tekton import PipelineRun, RefSource, Result, RunMeta, TaskRun
from ._common import (
    ExecutedWalk,
    environment,
    git_uri,
    inputs,
    parameters,
    pipeline_run_git,
    pipeline_task_result_refs,
    run_images,
    step_image_reference,
    task_run_git,
)
from .config import SlsaConfig

PREDICATE_V02 = "https://slsa.dev/provenance/v0.2"
TASK_RUN_BUILD_TYPE = "tekton.dev/v1/TaskRun"
PIPELINE_RUN_BUILD_TYPE = "tekton.dev/v1/PipelineRun"
_STATUS_WORDS = {"True": "Succeeded", "False": "Failed", "Unknown": "Running"}


def task_run_statement(tr: TaskRun, cfg: SlsaConfig) -> Statement:
    """The statement Chains writes for a TaskRun in ``slsa/v1`` (spec §8.1)."""
    subjects = DescriptorList("name")
    subjects.extend((a.uri, a.digest) for a in subjects_v02(tr.meta.results))
    materials = DescriptorList("uri")
    materials.extend(run_images(tr))
    url, commit = task_run_git(tr)
    # Chains rewrites the URL before its emptiness check, so a commit alone still gives a
    # material "git+.git" (spec §11.7).
    if commit:
        materials.add(git_uri(url), {"sha1": commit})
    materials.extend((a.uri, a.digest) for a in inputs(tr.meta))
    predicate = {
        "builder": {"id": cfg.builder_id},
        "buildType": TASK_RUN_BUILD_TYPE,
        "invocation": invocation(tr.meta, (tr.task_spec or {}).get("params")),
        "buildConfig": {"steps": steps_by_name(tr)},
        "metadata": metadata(tr.meta),
    }
    return _statement(subjects, predicate, materials)


def pipeline_run_statement(
    pr: PipelineRun, cfg: SlsaConfig, in_scope: set[str] | None = None
) -> Statement:
    """The statement Chains writes for a PipelineRun in ``slsa/v1`` (spec §8.2).

    ``in_scope`` (TaskRun names) narrows the tasks and their materials for per-artifact
    statements; ``None`` is Chains' per-run statement.
    """
    return PipelineRunStatements(pr, cfg).statement(in_scope)


Material = tuple[str, dict[str, str]]


class PipelineRunStatements:
    """Statements about one PipelineRun under one config, as :func:`pipeline_run_statement`.

    Per-artifact scope asks for one statement per artifact, each over a subset of the same
    tasks. What does not depend on the subset (the invocation, each task's materials and
    ``buildConfig`` entry) is built once, on first use, and the same objects go into every
    statement: nothing changes them afterwards and orjson only reads them.
    """

    def __init__(self, pr: PipelineRun, cfg: SlsaConfig) -> None:
        self.pr = pr
        self.cfg = cfg
        self.walk = ExecutedWalk(pr)
        self._materials: dict[int, list[Material]] = {}
        self._deep_materials: dict[int, list[Material]] = {}
        self._tasks: dict[int, dict[str, Any] | None] = {}

    def statement(self, in_scope: set[str] | None = None) -> Statement:
        pr, cfg = self.pr, self.cfg
        positions = self.walk.positions(in_scope)
        subjects = self.walk.subjects(pr, cfg, in_scope)

        materials = DescriptorList("uri")
        if pr.meta.ref_source is not None:
            materials.add(pr.meta.ref_source.uri, pr.meta.ref_source.digest)
        for position in positions:
            materials.extend(self.walk.once(self._materials, position, self._task_materials))
        materials.extend(self._pipeline_inputs)
        if cfg.deep_inspection:
            for position in positions:
                materials.extend(
                    self.walk.once(self._deep_materials, position, self._task_deep_materials)
                )
        if self._pipeline_git is not None:
            materials.add(*self._pipeline_git)

        predicate = {
            "builder": {"id": cfg.builder_id},
            "buildType": PIPELINE_RUN_BUILD_TYPE,
            "invocation": self._invocation,
            "buildConfig": {"tasks": self._task_attestations(positions)},
            "metadata": metadata(pr.meta),
        }
        return _statement(subjects, predicate, materials)

    @cached_property
    def _invocation(self) -> dict[str, Any]:
        return invocation(self.pr.meta, (self.pr.pipeline_spec or {}).get("params"))

    @cached_property
    def _pipeline_inputs(self) -> list[Material]:
        return [(a.uri, a.digest) for a in inputs(self.pr.meta)]

    @cached_property
    def _pipeline_git(self) -> Material | None:
        url, commit = pipeline_run_git(self.pr)
        return (git_uri(url), {"sha1": commit}) if commit and url else None

    def _task_materials(self, position: int) -> list[Material]:
        tr = self.walk.pairs[position][1]
        found = list(run_images(tr))
        if tr.meta.ref_source is not None:
            found.append((tr.meta.ref_source.uri, tr.meta.ref_source.digest))
        return found

    def _task_deep_materials(self, position: int) -> list[Material]:
        tr = self.walk.pairs[position][1]
        found = []
        # Children follow the TaskRun rule, commit alone is enough (spec §11.7).
        url, commit = task_run_git(tr)
        if commit:
            found.append((git_uri(url), {"sha1": commit}))
        found.extend((a.uri, a.digest) for a in inputs(tr.meta))
        return found

    @cached_property
    def _task_context(self) -> tuple[set[str], str, str]:
        """Finally task names, the last DAG task that has a child, the service account."""
        spec = self.pr.pipeline_spec or {}
        finally_names = {
            str(t.get("name")) for t in spec.get("finally") or [] if isinstance(t, dict)
        }
        last_dag_task = ""
        for task in spec.get("tasks") or []:
            if isinstance(task, dict) and self.pr.task_runs_for(str(task.get("name", ""))):
                last_dag_task = str(task.get("name"))
        template = self.pr.meta.spec.get("taskRunTemplate") or {}
        return finally_names, last_dag_task, template.get("serviceAccountName", "")

    def _task_attestations(self, positions: list[int]) -> list[dict[str, Any]] | None:
        """``buildConfig.tasks``: one entry per executed child in walk order (spec §8.2)."""
        if self.pr.pipeline_spec is None:
            return None
        tasks = []
        for position in positions:
            entry = self.walk.once(self._tasks, position, self._task_attestation)
            if entry is not None:
                tasks.append(entry)
        return tasks

    def _task_attestation(self, position: int) -> dict[str, Any] | None:
        """One child's ``buildConfig.tasks`` entry; None when Chains drops it (spec §8.2)."""
        task, tr = self.walk.pairs[position]
        steps = steps_by_index(tr)
        if steps is None:
            return None
        finally_names, last_dag_task, service_account = self._task_context
        name = str(task.get("name", ""))
        entry: dict[str, Any] = {"name": name}
        after = chains_after(task)
        if not after and name in finally_names and last_dag_task:
            after = [last_dag_task]
        if after:
            entry["after"] = after
        entry["ref"] = go_value("v1.TaskRef", task.get("taskRef"), f"task {name}: taskRef")
        if tr.meta.start_time:
            entry["startedOn"] = tr.meta.start_time
        if tr.meta.completion_time:
            entry["finishedOn"] = tr.meta.completion_time
        if service_account:
            entry["serviceAccountName"] = service_account
        status = task_status(tr)
        if status:
            entry["status"] = status
        if steps:
            entry["steps"] = steps
        entry["invocation"] = invocation(tr.meta, (tr.task_spec or {}).get("params"))
        if tr.meta.results:
            # []v1.TaskRunResult: name, type when set, value (parsed as Tekton's ParamValue).
            entry["results"] = [_result_entry(r) for r in tr.meta.results]
        return entry


def _statement(
    subjects: DescriptorList, predicate: dict[str, Any], materials: DescriptorList
) -> Statement:
    statement: Statement = {"_type": STATEMENT_V01, "predicateType": PREDICATE_V02}
    if subjects.entries:
        statement["subject"] = subjects.entries
    if materials.entries:
        # ProvenanceMaterial's uri and digest are omitempty, and so is the list itself.
        predicate["materials"] = [
            entry if entry["uri"] and entry["digest"] else _material(entry)
            for entry in materials.entries
        ]
    statement["predicate"] = predicate
    return statement


def _material(entry: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in entry.items() if value}


def config_source(ref: RefSource | None) -> dict[str, Any]:
    if ref is None:
        return {}
    source: dict[str, Any] = {}
    if ref.uri:
        source["uri"] = ref.uri
    if ref.digest:
        source["digest"] = dict(ref.digest)
    if ref.entry_point:
        source["entryPoint"] = ref.entry_point
    return source


def invocation(meta: RunMeta, declared_params: Any) -> dict[str, Any]:
    result: dict[str, Any] = {
        "configSource": config_source(meta.ref_source),
        "parameters": parameters(meta, declared_params),
    }
    env = environment(meta)
    if env is not None:
        result["environment"] = env
    return result


def metadata(meta: RunMeta) -> dict[str, Any]:
    result: dict[str, Any] = {}
    if meta.start_time:
        result["buildStartedOn"] = meta.start_time
    if meta.completion_time:
        result["buildFinishedOn"] = meta.completion_time
    result["completeness"] = {"parameters": False, "environment": False, "materials": False}
    result["reproducible"] = meta.labels.get("chains.tekton.dev/reproducible") == "true"
    return result


def _step_entry(spec_step: dict[str, Any] | None, image_id: str, container: str) -> dict[str, Any]:
    spec_step = spec_step or {}
    script = _go_strings("string", spec_step.get("script"), "step script")
    command = _go_strings("[]string", spec_step.get("command"), "step command")
    return {
        "entryPoint": script or " ".join(command or ()),
        # step.Args in an interface: a nil slice is null, an empty one [].
        "arguments": _go_strings("[]string", spec_step.get("args"), "step args"),
        "environment": {"image": step_image_reference(image_id), "container": container},
        "annotations": None,
    }


def steps_by_name(tr: TaskRun) -> list[dict[str, Any]]:
    """TaskRun ``buildConfig.steps``: each status step with the first spec step of its name."""
    spec_steps: dict[str, dict[str, Any]] = {}
    for spec_step in (tr.task_spec or {}).get("steps") or []:
        if isinstance(spec_step, dict):
            spec_steps.setdefault(str(spec_step.get("name") or ""), spec_step)
    return [_step_entry(spec_steps.get(step.name), step.image_id, step.name) for step in tr.steps]


def steps_by_index(tr: TaskRun) -> list[dict[str, Any]] | None:
    """PipelineRun task steps: paired by index; None when Chains drops the child (spec §8.2)."""
    if tr.task_spec is None:
        return None
    spec_steps = [s for s in tr.task_spec.get("steps") or [] if isinstance(s, dict)]
    if len(spec_steps) != len(tr.steps):
        return None
    entries = []
    for spec_step, step in zip(spec_steps, tr.steps, strict=True):
        if step.name.startswith("unnamed-") and spec_step.get("name"):
            return None
        entries.append(_step_entry(spec_step, step.image_id, step.name))
    return entries


def chains_after(task: dict[str, Any]) -> list[str]:
    """``runAfter`` as written, then each task a result reference names, unless already there."""
    after = [str(name) for name in task.get("runAfter") or []]
    for name in pipeline_task_result_refs(task):
        if name not in after:
            after.append(name)
    return after


def task_status(tr: TaskRun) -> str:
    """The *first* condition's status as a word (spec §8.2); Chains does not check its type."""
    if not tr.meta.conditions:
        return ""
    return _STATUS_WORDS.get(tr.meta.conditions[0].status, "")


def _go_strings(type_name: str, raw: Any, what: str) -> Any:
    """A string or list of strings as Go decodes it; what is already that shape is taken as it
    is (most steps), the rest goes through the decoder (null elements, wrong types)."""
    if raw is None or type(raw) is str:
        return "" if raw is None and type_name == "string" else raw
    if type(raw) is list and all(type(item) is str for item in raw):
        return raw
    return go_value(type_name, raw, what)


def _result_entry(result: Result) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": result.name}
    if result.type:
        entry["type"] = result.type
    entry["value"] = result.value
    return entry
