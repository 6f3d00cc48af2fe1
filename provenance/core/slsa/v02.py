"""SLSA v0.2 provenance, Chains format ``slsa/v1`` / ``in-toto`` (spec §8)."""

from __future__ import annotations

from typing import Any

from ..hints import subjects_v02
from ..intoto import STATEMENT_V01, DescriptorList, Statement
from ..tekton import PipelineRun, RefSource, RunMeta, TaskRun
from ._common import (
    environment,
    git_uri,
    inputs,
    parameters,
    pipeline_run_git,
    pipeline_subjects,
    result_references,
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
        "materials": materials.entries,
    }
    return _statement(subjects, predicate)


def pipeline_run_statement(
    pr: PipelineRun, cfg: SlsaConfig, in_scope: set[str] | None = None
) -> Statement:
    """The statement Chains writes for a PipelineRun in ``slsa/v1`` (spec §8.2).

    ``in_scope`` (TaskRun names) narrows the tasks and their materials for per-artifact
    statements; ``None`` is Chains' per-run statement.
    """
    walk = [
        (task, tr)
        for task, tr in pr.executed_task_runs()
        if in_scope is None or tr.name in in_scope
    ]
    # A per-artifact statement names its artifact: the caller sets the subject.
    subjects = (
        pipeline_subjects(pr, cfg, [tr for _, tr in walk])
        if in_scope is None
        else DescriptorList("name")
    )

    materials = DescriptorList("uri")
    if pr.meta.ref_source is not None:
        materials.add(pr.meta.ref_source.uri, pr.meta.ref_source.digest)
    for _, tr in walk:
        materials.extend(run_images(tr))
        if tr.meta.ref_source is not None:
            materials.add(tr.meta.ref_source.uri, tr.meta.ref_source.digest)
    materials.extend((a.uri, a.digest) for a in inputs(pr.meta))
    if cfg.deep_inspection:
        for _, tr in walk:
            # Children follow the TaskRun rule, commit alone is enough (spec §11.7).
            url, commit = task_run_git(tr)
            if commit:
                materials.add(git_uri(url), {"sha1": commit})
            materials.extend((a.uri, a.digest) for a in inputs(tr.meta))
    url, commit = pipeline_run_git(pr)
    if commit and url:
        materials.add(git_uri(url), {"sha1": commit})

    predicate = {
        "builder": {"id": cfg.builder_id},
        "buildType": PIPELINE_RUN_BUILD_TYPE,
        "invocation": invocation(pr.meta, (pr.pipeline_spec or {}).get("params")),
        "buildConfig": {"tasks": task_attestations(pr, walk)},
        "metadata": metadata(pr.meta),
        "materials": materials.entries,
    }
    return _statement(subjects, predicate)


def _statement(subjects: DescriptorList, predicate: dict[str, Any]) -> Statement:
    statement: Statement = {"_type": STATEMENT_V01, "predicateType": PREDICATE_V02}
    if subjects.entries:
        statement["subject"] = subjects.entries
    statement["predicate"] = predicate
    return statement


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
    if spec_step.get("script"):
        entry_point = str(spec_step["script"])
    else:
        entry_point = " ".join(str(c) for c in spec_step.get("command") or [])
    return {
        "entryPoint": entry_point,
        "arguments": spec_step.get("args") or None,
        "environment": {"image": step_image_reference(image_id), "container": container},
        "annotations": None,
    }


def steps_by_name(tr: TaskRun) -> list[dict[str, Any]]:
    """TaskRun ``buildConfig.steps``: status steps paired with spec steps by name."""
    spec_steps = {
        str(s.get("name")): s
        for s in (tr.task_spec or {}).get("steps") or []
        if isinstance(s, dict)
    }
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
    """``runAfter`` then every task named in a result reference, without duplicates."""
    after: dict[str, None] = dict.fromkeys(str(t) for t in task.get("runAfter") or [])
    sources: list[Any] = [task.get("params")]
    matrix = task.get("matrix") or {}
    sources.append(matrix.get("params"))
    sources.extend(
        inc.get("params") for inc in matrix.get("include") or [] if isinstance(inc, dict)
    )
    for when in task.get("when") or []:
        if isinstance(when, dict):
            sources.extend((when.get("input"), when.get("values")))
    inline = task.get("taskSpec")
    if isinstance(inline, dict):
        sources.extend((inline.get("steps"), inline.get("sidecars")))
    for source in sources:
        after.update(dict.fromkeys(result_references(source)))
    return list(after)


def task_attestations(
    pr: PipelineRun, walk: list[tuple[dict[str, Any], TaskRun]]
) -> list[dict[str, Any]] | None:
    """``buildConfig.tasks``: one entry per executed child in walk order (spec §8.2)."""
    if pr.pipeline_spec is None:
        return None
    finally_names = {
        str(t.get("name")) for t in pr.pipeline_spec.get("finally") or [] if isinstance(t, dict)
    }
    last_dag_task = ""
    for task in pr.pipeline_spec.get("tasks") or []:
        if isinstance(task, dict) and pr.task_runs_for(str(task.get("name", ""))):
            last_dag_task = str(task.get("name"))
    service_account = (pr.meta.spec.get("taskRunTemplate") or {}).get("serviceAccountName", "")
    tasks = []
    for task, tr in walk:
        steps = steps_by_index(tr)
        if steps is None:
            continue
        name = str(task.get("name", ""))
        entry: dict[str, Any] = {"name": name}
        after = chains_after(task)
        if not after and name in finally_names and last_dag_task:
            after = [last_dag_task]
        if after:
            entry["after"] = after
        entry["ref"] = _task_ref(task)
        if tr.meta.start_time:
            entry["startedOn"] = tr.meta.start_time
        if tr.meta.completion_time:
            entry["finishedOn"] = tr.meta.completion_time
        if service_account:
            entry["serviceAccountName"] = service_account
        entry["status"] = task_status(tr)
        entry["steps"] = steps
        entry["invocation"] = invocation(tr.meta, (tr.task_spec or {}).get("params"))
        if tr.meta.results:
            entry["results"] = [_result_entry(r.name, r.type, r.value) for r in tr.meta.results]
        tasks.append(entry)
    return tasks


def task_status(tr: TaskRun) -> str:
    """The *first* condition's status as a word (spec §8.2); Chains does not check its type."""
    if not tr.meta.conditions:
        return ""
    return _STATUS_WORDS.get(tr.meta.conditions[0].status, "")


def _task_ref(task: dict[str, Any]) -> dict[str, Any]:
    ref = task.get("taskRef")
    if not isinstance(ref, dict):
        return {}
    return {
        key: ref[key]
        for key in ("name", "kind", "apiVersion", "resolver", "params")
        if ref.get(key)
    }


def _result_entry(name: str, kind: str, value: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": name}
    if kind:
        entry["type"] = kind
    entry["value"] = value
    return entry
