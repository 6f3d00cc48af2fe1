"""Build small, real-shaped PipelineRuns with child TaskRuns for graph and scope tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

_CONDITION = {
    "True": ("Succeeded", "True"),
    "False": ("Failed", "False"),
    "Unknown": ("Running", "Unknown"),
}


def digest(seed: str) -> str:
    """A valid sha256 hex made from a short seed."""
    import hashlib

    return hashlib.sha256(seed.encode()).hexdigest()


@dataclass
class Task:
    name: str
    run_after: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)
    workspaces: list[str] = field(default_factory=list)  # "ws" or "ws:subPath"
    read_only: list[str] = field(default_factory=list)  # task-level workspace names
    status: str | None = "True"  # None: no TaskRun (skipped / not started)
    start: str = "2026-01-01T10:00:00Z"
    end: str | None = "2026-01-01T10:01:00Z"
    when: list[dict[str, Any]] = field(default_factory=list)
    matrix: dict[str, Any] | None = None
    runs: int = 1  # TaskRuns for this task (matrix fan-out)
    is_finally: bool = False


def pipeline_run(
    tasks: list[Task],
    *,
    name: str = "demo",
    status: str = "True",
    pipeline_results: dict[str, str] | None = None,
    run_results: dict[str, Any] | None = None,
    workspace_binding: dict[str, Any] | None = None,
    skipped: list[str] | None = None,
) -> list[dict[str, Any]]:
    """A PipelineRun followed by its child TaskRuns, linked by ownerReferences and labels."""
    pr_uid = f"uid-{name}"
    spec_tasks, finally_tasks, children, refs = [], [], [], []
    for task in tasks:
        entry: dict[str, Any] = {"name": task.name, "taskRef": {"name": task.name, "kind": "Task"}}
        if task.run_after:
            entry["runAfter"] = task.run_after
        if task.params:
            entry["params"] = [{"name": k, "value": v} for k, v in task.params.items()]
        if task.when:
            entry["when"] = task.when
        if task.matrix:
            entry["matrix"] = task.matrix
        if task.workspaces:
            entry["workspaces"] = []
            for spec in task.workspaces:
                ws, _, sub = spec.partition(":")
                binding = {"name": ws, "workspace": ws}
                if sub:
                    binding["subPath"] = sub
                entry["workspaces"].append(binding)
        (finally_tasks if task.is_finally else spec_tasks).append(entry)
        if task.status is None:
            continue
        for index in range(task.runs):
            tr_name = f"{name}-{task.name}" + (f"-{index}" if task.runs > 1 else "")
            refs.append(
                {
                    "apiVersion": "tekton.dev/v1",
                    "kind": "TaskRun",
                    "name": tr_name,
                    "pipelineTaskName": task.name,
                }
            )
            children.append(_task_run(task, tr_name, name, pr_uid, index))
    workspaces = sorted({w.partition(":")[0] for t in tasks for w in t.workspaces})
    pipeline_spec: dict[str, Any] = {"tasks": spec_tasks}
    if finally_tasks:
        pipeline_spec["finally"] = finally_tasks
    if workspaces:
        pipeline_spec["workspaces"] = [{"name": w} for w in workspaces]
    if pipeline_results:
        pipeline_spec["results"] = [{"name": k, "value": v} for k, v in pipeline_results.items()]
    reason, cond = _CONDITION[status]
    binding = workspace_binding or {"volumeClaimTemplate": {"spec": {"accessModes": ["RWO"]}}}
    pr: dict[str, Any] = {
        "apiVersion": "tekton.dev/v1",
        "kind": "PipelineRun",
        "metadata": {"name": name, "namespace": "ci", "uid": pr_uid},
        "spec": {
            "pipelineRef": {"name": name},
            "workspaces": [{"name": w, **binding} for w in workspaces],
        },
        "status": {
            "startTime": "2026-01-01T09:59:00Z",
            "conditions": [{"type": "Succeeded", "status": cond, "reason": reason}],
            "pipelineSpec": pipeline_spec,
            "childReferences": refs,
            "results": [{"name": k, "value": v} for k, v in (run_results or {}).items()],
        },
    }
    if status != "Unknown":
        pr["status"]["completionTime"] = "2026-01-01T11:00:00Z"
    if skipped:
        pr["status"]["skippedTasks"] = [
            {"name": s, "reason": "When Expressions evaluated to false"} for s in skipped
        ]
    return [pr, *children]


def _task_run(task: Task, tr_name: str, pr_name: str, pr_uid: str, index: int) -> dict[str, Any]:
    assert task.status is not None
    reason, cond = _CONDITION[task.status]
    results = task.results
    if task.runs > 1:
        results = {k: (v[index] if isinstance(v, list) else v) for k, v in results.items()}
    status: dict[str, Any] = {
        "startTime": task.start,
        "conditions": [{"type": "Succeeded", "status": cond, "reason": reason}],
        "steps": [
            {
                "name": "run",
                "container": "step-run",
                "imageID": f"registry.example/{task.name}@sha256:{digest(task.name)}",
            }
        ],
        "taskSpec": {
            "steps": [{"name": "run", "image": f"registry.example/{task.name}"}],
            "workspaces": [
                {"name": w.partition(":")[0], **({"readOnly": True} if w in task.read_only else {})}
                for w in task.workspaces
            ],
        },
        "results": [{"name": k, "value": v} for k, v in results.items()],
    }
    if task.end is not None and task.status != "Unknown":
        status["completionTime"] = task.end
    return {
        "apiVersion": "tekton.dev/v1",
        "kind": "TaskRun",
        "metadata": {
            "name": tr_name,
            "namespace": "ci",
            "uid": f"uid-{tr_name}",
            "labels": {"tekton.dev/pipelineRun": pr_name, "tekton.dev/pipelineTask": task.name},
            "ownerReferences": [{"kind": "PipelineRun", "name": pr_name, "uid": pr_uid}],
        },
        "spec": {"taskRef": {"name": task.name, "kind": "Task"}},
        "status": status,
    }


def chain_pipeline(tasks: int, *, name: str = "chain") -> list[dict[str, Any]]:
    """The issue's worst case for per-artifact statements: ``tasks`` tasks in one runAfter
    chain, each building its own image (a PipelineRun and its TaskRuns)."""
    return pipeline_run(
        [
            Task(
                f"t{i}",
                run_after=[f"t{i - 1}"] if i else [],
                results={
                    "IMAGE_URL": f"registry.example/{name}/img{i}",
                    "IMAGE_DIGEST": f"sha256:{digest(f'{name}-{i}')}",
                },
            )
            for i in range(tasks)
        ],
        name=name,
    )
