"""Small builders for Tekton TaskRun/PipelineRun dicts, shaped like what ``kubectl get -o json``
returns, so that engine tests stay short. Every builder returns a fresh dict."""

from __future__ import annotations

import base64
import json
from typing import Any

from provenance.core import SlsaConfig, generate, parse_records
from provenance.core.intoto import Statement

JsonObject = dict[str, Any]

START = "2024-05-02T10:00:00Z"
END = "2024-05-02T10:02:00Z"
V1 = "tekton.dev/v1"
V1BETA1 = "tekton.dev/v1beta1"


def hex64(char: str) -> str:
    """A 64-character lowercase hex string made of one repeated character."""
    return char * 64


def sha256(char: str) -> str:
    """``sha256:<64 hex>`` made of one repeated character."""
    return "sha256:" + hex64(char)


def image_id(repo: str, char: str = "1") -> str:
    """A step ``imageID`` as the kubelet writes it."""
    return f"docker-pullable://{repo}@{sha256(char)}"


def result(name: str, value: Any, type_: str | None = None) -> JsonObject:
    entry: JsonObject = {"name": name, "value": value}
    if type_ is not None:
        entry["type"] = type_
    return entry


def results(**values: Any) -> list[JsonObject]:
    """``results(IMAGE_URL="x")`` -> ``[{"name": "IMAGE_URL", "value": "x"}]`` (names with ``-``
    go through :func:`result`)."""
    return [result(name, value) for name, value in values.items()]


def param(name: str, value: Any) -> JsonObject:
    return {"name": name, "value": value}


def ref_source(uri: str, sha1: str, entry_point: str = "") -> JsonObject:
    source: JsonObject = {"uri": uri, "digest": {"sha1": sha1}}
    if entry_point:
        source["entryPoint"] = entry_point
    return source


def step(
    name: str,
    image: str = "gcr.io/tools/builder",
    char: str = "1",
    *,
    step_results: list[JsonObject] | None = None,
    step_ref_source: JsonObject | None = None,
) -> JsonObject:
    """One ``status.steps[]`` entry."""
    entry: JsonObject = {
        "name": name,
        "container": f"step-{name}",
        "imageID": image_id(image, char),
    }
    if step_results is not None:
        entry["results"] = step_results
    if step_ref_source is not None:
        entry["provenance"] = {"refSource": step_ref_source}
    return entry


def condition(status: str = "True") -> JsonObject:
    reason = {"True": "Succeeded", "False": "Failed", "Unknown": "Running"}[status]
    return {"type": "Succeeded", "status": status, "reason": reason, "message": ""}


def task_run(
    name: str = "build-run",
    *,
    api_version: str | None = V1,
    namespace: str | None = "ci",
    uid: str | None = None,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    owner_uid: str | None = None,
    params: list[JsonObject] | None = None,
    task_ref: JsonObject | None = None,
    status_results: list[JsonObject] | None = None,
    steps: list[JsonObject] | None = None,
    spec_steps: list[JsonObject] | None = None,
    spec_params: list[JsonObject] | None = None,
    sidecars: list[str] | None = None,
    ref: JsonObject | None = None,
    feature_flags: JsonObject | None = None,
    start: str | None = START,
    completion: str | None = END,
    succeeded: str = "True",
    spec_extra: JsonObject | None = None,
    status_extra: JsonObject | None = None,
) -> JsonObject:
    """A done TaskRun. ``steps`` are status steps; the taskSpec gets one step per status step
    (same names) unless ``spec_steps`` is given."""
    steps = [step("build")] if steps is None else steps
    metadata: JsonObject = {"name": name}
    if namespace is not None:
        metadata["namespace"] = namespace
    metadata["uid"] = uid if uid is not None else f"uid-{name}"
    if labels:
        metadata["labels"] = labels
    if annotations:
        metadata["annotations"] = annotations
    if owner_uid:
        metadata["ownerReferences"] = [
            {"apiVersion": V1, "kind": "PipelineRun", "name": "owner", "uid": owner_uid}
        ]
    spec: JsonObject = {"serviceAccountName": "default"}
    if params is not None:
        spec["params"] = params
    spec["taskRef"] = task_ref if task_ref is not None else {"name": "build", "kind": "Task"}
    spec.update(spec_extra or {})
    task_spec: JsonObject = {
        "steps": spec_steps if spec_steps is not None else [{"name": s["name"]} for s in steps]
    }
    if spec_params is not None:
        task_spec["params"] = spec_params
    status: JsonObject = {"conditions": [condition(succeeded)]}
    if start is not None:
        status["startTime"] = start
    if completion is not None:
        status["completionTime"] = completion
    status["steps"] = steps
    if sidecars is not None:
        status["sidecars"] = [
            {"name": f"sidecar-{i}", "imageID": image} for i, image in enumerate(sidecars)
        ]
    if status_results is not None:
        status["results"] = status_results
    status["taskSpec"] = task_spec
    provenance: JsonObject = {}
    if ref is not None:
        provenance["refSource"] = ref
    if feature_flags is not None:
        provenance["featureFlags"] = feature_flags
    if provenance:
        status["provenance"] = provenance
    status.update(status_extra or {})
    obj: JsonObject = {"kind": "TaskRun", "metadata": metadata, "spec": spec, "status": status}
    if api_version is not None:
        obj = {"apiVersion": api_version, **obj}
    return obj


def child(
    pipeline_task: str, name: str | None = None, *, pr: str = "pr", **kwargs: Any
) -> JsonObject:
    """A TaskRun labelled as the child of PipelineRun ``pr`` for ``pipeline_task``."""
    labels = {"tekton.dev/pipelineTask": pipeline_task, "tekton.dev/pipelineRun": pr}
    labels.update(kwargs.pop("labels", None) or {})
    return task_run(name or f"{pr}-{pipeline_task}", labels=labels, **kwargs)


def pipeline_task(
    name: str,
    *,
    task_ref: JsonObject | None = None,
    run_after: list[str] | None = None,
    params: list[JsonObject] | None = None,
    **extra: Any,
) -> JsonObject:
    """One ``pipelineSpec.tasks[]`` entry (a Cluster Task named like the pipeline task)."""
    task: JsonObject = {"name": name}
    if task_ref is not None or "taskSpec" not in extra:
        task["taskRef"] = task_ref if task_ref is not None else {"name": name, "kind": "Task"}
    if run_after is not None:
        task["runAfter"] = run_after
    if params is not None:
        task["params"] = params
    task.update(extra)
    return task


def pipeline_run(
    name: str = "pr",
    *,
    api_version: str | None = V1,
    namespace: str | None = "ci",
    uid: str | None = None,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    params: list[JsonObject] | None = None,
    pipeline_ref: JsonObject | None = None,
    tasks: list[JsonObject] | None = None,
    finally_: list[JsonObject] | None = None,
    spec_params: list[JsonObject] | None = None,
    with_pipeline_spec: bool = True,
    status_results: list[JsonObject] | None = None,
    child_refs: list[str] | None = None,
    ref: JsonObject | None = None,
    feature_flags: JsonObject | None = None,
    start: str | None = START,
    completion: str | None = END,
    spec_extra: JsonObject | None = None,
    status_extra: JsonObject | None = None,
) -> JsonObject:
    """A done PipelineRun. ``child_refs`` are TaskRun names for ``status.childReferences``."""
    metadata: JsonObject = {"name": name}
    if namespace is not None:
        metadata["namespace"] = namespace
    metadata["uid"] = uid if uid is not None else f"uid-{name}"
    if labels:
        metadata["labels"] = labels
    if annotations:
        metadata["annotations"] = annotations
    spec: JsonObject = {}
    if params is not None:
        spec["params"] = params
    spec["pipelineRef"] = pipeline_ref if pipeline_ref is not None else {"name": "build-push"}
    spec["taskRunTemplate"] = {"serviceAccountName": "default"}
    spec["timeouts"] = {"pipeline": "1h0m0s"}
    spec.update(spec_extra or {})
    status: JsonObject = {"conditions": [condition("True")]}
    if start is not None:
        status["startTime"] = start
    if completion is not None:
        status["completionTime"] = completion
    if child_refs is not None:
        status["childReferences"] = [
            {"apiVersion": V1, "kind": "TaskRun", "name": n, "pipelineTaskName": n}
            for n in child_refs
        ]
    if with_pipeline_spec:
        pipeline_spec: JsonObject = {"tasks": tasks if tasks is not None else []}
        if finally_ is not None:
            pipeline_spec["finally"] = finally_
        if spec_params is not None:
            pipeline_spec["params"] = spec_params
        status["pipelineSpec"] = pipeline_spec
    if status_results is not None:
        status["results"] = status_results
    provenance: JsonObject = {}
    if ref is not None:
        provenance["refSource"] = ref
    if feature_flags is not None:
        provenance["featureFlags"] = feature_flags
    if provenance:
        status["provenance"] = provenance
    status.update(status_extra or {})
    obj: JsonObject = {"kind": "PipelineRun", "metadata": metadata, "spec": spec, "status": status}
    if api_version is not None:
        obj = {"apiVersion": api_version, **obj}
    return obj


def provenance(
    *objects: JsonObject,
    fmt: str = "slsa/v2alpha4",
    deep: bool = False,
    build_type: str = "https://tekton.dev/chains/v2/slsa",
) -> Statement:
    """The statement for the single run the objects make up, round-tripped through JSON."""
    runs = parse_records(list(objects))
    assert len(runs) == 1, f"expected one run to attest, got {len(runs)}"
    cfg = SlsaConfig(format=fmt, deep_inspection=deep, build_type=build_type)
    statement: Statement = json.loads(json.dumps(generate(runs[0], cfg)))
    return statement


def subject_names(statement: Statement) -> list[str]:
    return [s["name"] for s in statement.get("subject", [])]


def decode(content: str) -> Any:
    """The JSON value inside a base64 ``content`` field."""
    return json.loads(base64.b64decode(content))
