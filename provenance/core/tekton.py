"""Tekton TaskRun and PipelineRun records as frozen dataclasses (spec §5).

``parse_records`` takes Kubernetes objects (dicts) and returns the runs to attest: each
PipelineRun with its child TaskRuns joined, and each TaskRun that belongs to no PipelineRun in the
input. ``tekton.dev/v1beta1`` objects are normalised to their ``v1`` shape first (spec §5.2).
Objects that declare ``tekton.dev/v1`` are read the way Chains' Go decoder reads them: fields
that exist only in v1beta1 (``taskResults``, ``status.taskRuns`` ...) are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .documents import paused_gc
from .errors import RecordError
from .gojson import go_value
from .gojson.custom import param_value_codec

JsonObject = dict[str, Any]
ResultValue = str | list[str] | dict[str, str]

PIPELINE_TASK_LABEL = "tekton.dev/pipelineTask"
PIPELINE_RUN_LABEL = "tekton.dev/pipelineRun"
RUN_KINDS = ("TaskRun", "PipelineRun")


@dataclass(frozen=True, slots=True)
class Result:
    """A run or step result: ``{name, value}``, the value a string, an array or an object."""

    name: str
    value: ResultValue
    type: str = ""

    @property
    def string_value(self) -> str:
        """The value as Go's ``ParamValue.StringVal`` sees it: ``""`` unless it is a string."""
        return self.value if isinstance(self.value, str) else ""

    @property
    def object_value(self) -> dict[str, str] | None:
        return self.value if isinstance(self.value, dict) else None


@dataclass(frozen=True, slots=True)
class RefSource:
    """``status.provenance.refSource``: where a Task or Pipeline definition came from."""

    uri: str
    digest: dict[str, str]
    entry_point: str


@dataclass(frozen=True, slots=True)
class Step:
    """One entry of ``status.steps`` (plus its StepAction ref source, if remote)."""

    name: str
    image_id: str
    results: tuple[Result, ...]
    ref_source: RefSource | None


@dataclass(frozen=True, slots=True)
class Condition:
    """The ``Succeeded`` condition of a run."""

    status: str  # "True" | "False" | "Unknown"
    reason: str
    message: str


@dataclass(frozen=True, slots=True)
class RunMeta:
    """Identity and status fields shared by TaskRuns and PipelineRuns."""

    kind: str
    name: str
    namespace: str
    uid: str
    resource_version: str
    labels: dict[str, str]
    annotations: dict[str, str]
    spec: JsonObject
    params: tuple[tuple[str, Any], ...]
    results: tuple[Result, ...]
    start_time: str | None
    completion_time: str | None
    conditions: tuple[Condition, ...]
    succeeded: Condition | None
    ref_source: RefSource | None
    feature_flags: dict[str, Any] | None

    @property
    def is_done(self) -> bool:
        """Done means the ``Succeeded`` condition is no longer ``Unknown`` (spec §2.1)."""
        return self.succeeded is not None and self.succeeded.status in ("True", "False")


@dataclass(frozen=True, slots=True)
class TaskRun:
    """A TaskRun, v1 shape."""

    meta: RunMeta
    task_spec: JsonObject | None
    steps: tuple[Step, ...]
    sidecar_image_ids: tuple[str, ...]
    owner_uids: tuple[str, ...]
    raw: JsonObject  # the object in its v1 shape, for the slsa-tekton build type's content

    @property
    def name(self) -> str:
        return self.meta.name

    @property
    def pipeline_task(self) -> str | None:
        return self.meta.labels.get(PIPELINE_TASK_LABEL)


@dataclass(frozen=True, slots=True)
class ChildReference:
    """``status.childReferences[]`` of a PipelineRun."""

    kind: str
    name: str
    pipeline_task_name: str


@dataclass(frozen=True, slots=True)
class PipelineRun:
    """A PipelineRun, v1 shape, with the child TaskRuns found for it, in gather order."""

    meta: RunMeta
    pipeline_spec: JsonObject | None
    child_references: tuple[ChildReference, ...]
    skipped_tasks: tuple[str, ...]
    task_runs: tuple[TaskRun, ...]
    # pipeline task label -> children, in gather order; built once so lookups stay O(1)
    task_runs_by_label: dict[str, tuple[TaskRun, ...]]
    # the walk of spec §7.1, built once: (pipeline task, child with a completion time)
    executed: tuple[tuple[JsonObject, TaskRun], ...]

    @property
    def name(self) -> str:
        return self.meta.name

    def task_runs_for(self, pipeline_task: str) -> tuple[TaskRun, ...]:
        """Children labelled with this pipeline task, in gather order (Chains matches by label)."""
        return self.task_runs_by_label.get(pipeline_task, ())

    def pipeline_tasks(self) -> list[JsonObject]:
        """``pipelineSpec.tasks`` followed by ``pipelineSpec.finally`` (empty without a spec)."""
        if self.pipeline_spec is None:
            return []
        return list(self.pipeline_spec.get("tasks") or []) + list(
            self.pipeline_spec.get("finally") or []
        )

    def executed_task_runs(self) -> tuple[tuple[JsonObject, TaskRun], ...]:
        """The walk of spec §7.1: each pipeline task's children that have a completion time."""
        return self.executed


Run = TaskRun | PipelineRun


# ---------------------------------------------------------------------------------------------
# Parsing


def parse_records(objects: Iterable[JsonObject]) -> list[Run]:
    """Parse Kubernetes objects into runs to attest, in input order.

    Child TaskRuns are joined to a PipelineRun of the input when they are named in its
    ``childReferences``, owned by it (``ownerReferences``), or labelled ``tekton.dev/pipelineRun``
    with its name. A TaskRun that carries a ``tekton.dev/pipelineTask`` label but links to no
    PipelineRun at all joins the nearest PipelineRun before it in the input, which is how Chains'
    own test data bundles a PipelineRun with its children. Every other TaskRun stands alone.
    """
    try:
        with paused_gc():
            return _parse_records(list(objects))
    except (AttributeError, TypeError, ValueError, KeyError) as exc:
        # A field of the wrong JSON type deep inside a record: refuse it, never crash.
        raise RecordError(f"malformed record: a field has the wrong type ({exc})") from None


def _parse_records(items: list[JsonObject]) -> list[Run]:
    pipeline_docs: list[tuple[int, JsonObject]] = []
    task_runs: list[tuple[int, TaskRun]] = []
    for index, obj in enumerate(items):
        kind = _kind_of(obj, index)
        if kind == "PipelineRun":
            pipeline_docs.append((index, _normalise_pipeline_run(obj)))
        else:
            task_runs.append((index, parse_task_run(obj)))
    given = {(tr.meta.namespace, tr.name) for _, tr in task_runs}
    for index, obj in enumerate(items):
        for child in embedded_task_runs(obj):
            key = ((child["metadata"]["namespace"] or ""), child["metadata"]["name"])
            if key not in given:
                task_runs.append((index, parse_task_run(child)))

    children: dict[int, list[TaskRun]] = {index: [] for index, _ in pipeline_docs}
    standalone: list[tuple[int, TaskRun]] = []
    parents = [_ParentKeys.of(index, doc) for index, doc in pipeline_docs]
    for index, tr in task_runs:
        owner = _find_parent(tr, index, parents)
        if owner is None:
            standalone.append((index, tr))
        else:
            children[owner].append(tr)

    runs: list[tuple[int, Run]] = list(standalone)
    for index, doc in pipeline_docs:
        runs.append((index, _build_pipeline_run(doc, children[index])))
    runs.sort(key=lambda pair: pair[0])
    return [run for _, run in runs]


def _kind_of(obj: JsonObject, index: int) -> str:
    kind = obj.get("kind")
    if kind not in RUN_KINDS:
        name = (obj.get("metadata") or {}).get("name") if isinstance(obj, dict) else None
        what = f"{kind} {name!r}" if name else repr(kind)
        raise RecordError(
            f"object {index + 1} is not a Tekton TaskRun or PipelineRun (kind: {what})"
        )
    api_version = obj.get("apiVersion")
    if api_version is not None and api_version not in ("tekton.dev/v1", "tekton.dev/v1beta1"):
        raise RecordError(
            f"object {index + 1}: unsupported apiVersion {api_version!r} "
            "(expected tekton.dev/v1 or tekton.dev/v1beta1)"
        )
    for part in ("metadata", "spec"):
        if obj.get(part) is not None and not isinstance(obj.get(part), dict):
            raise RecordError(f"object {index + 1} ({kind}): {part} must be an object")
    if not isinstance(obj.get("status"), dict):
        raise RecordError(f"{kind} {_display_name(obj)} has no status: it has not run yet")
    return str(kind)


def _display_name(obj: JsonObject) -> str:
    meta = obj.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    return repr(name) if name else f"(object without metadata.name, uid {_uid(obj)!r})"


def _uid(obj: JsonObject) -> str:
    meta = obj.get("metadata")
    return str(meta.get("uid", "")) if isinstance(meta, dict) else ""


@dataclass(frozen=True, slots=True)
class _ParentKeys:
    """What a TaskRun can be joined to a PipelineRun by, computed once per PipelineRun."""

    index: int
    namespace: str
    uid: str
    name: str
    child_names: frozenset[str]

    @classmethod
    def of(cls, index: int, doc: JsonObject) -> _ParentKeys:
        meta = doc.get("metadata") or {}
        refs = (doc.get("status") or {}).get("childReferences") or []
        return cls(
            index=index,
            namespace=str(meta.get("namespace") or ""),
            uid=str(meta.get("uid") or ""),
            name=str(meta.get("name") or ""),
            child_names=frozenset(
                str(ref.get("name")) for ref in refs if isinstance(ref, dict) and ref.get("name")
            ),
        )


def _find_parent(tr: TaskRun, index: int, parents: list[_ParentKeys]) -> int | None:
    namespace = tr.meta.namespace
    label_parent = tr.meta.labels.get(PIPELINE_RUN_LABEL)
    for parent in parents:
        if parent.namespace != namespace:
            continue
        if parent.uid and parent.uid in tr.owner_uids:
            return parent.index
        if parent.name and label_parent == parent.name:
            return parent.index
        if tr.name in parent.child_names:
            return parent.index
    if label_parent or tr.owner_uids or tr.pipeline_task is None:
        return None
    before = [p.index for p in parents if p.index <= index and p.namespace == namespace]
    return before[-1] if before else None


def _build_pipeline_run(doc: JsonObject, children: list[TaskRun]) -> PipelineRun:
    status = doc.get("status") or {}
    refs = tuple(
        ChildReference(
            kind=str(ref.get("kind") or "TaskRun"),
            name=str(ref.get("name") or ""),
            pipeline_task_name=str(ref.get("pipelineTaskName") or ""),
        )
        for ref in (status.get("childReferences") or [])
        if isinstance(ref, dict)
    )
    gathered = _gather(refs, children)
    ordered = list({id(tr): tr for tr in gathered}.values())
    pipeline_spec = status.get("pipelineSpec")
    if isinstance(pipeline_spec, dict):
        for part in ("tasks", "finally", "results", "params", "workspaces"):
            _list_of_dicts(pipeline_spec.get(part), f"status.pipelineSpec.{part}")
    template = (doc.get("spec") or {}).get("taskRunTemplate")
    if template is not None and not isinstance(template, dict):
        raise RecordError(
            f"PipelineRun {_display_name(doc)}: spec.taskRunTemplate must be an object"
        )
    skipped = tuple(
        str(s.get("name"))
        for s in (status.get("skippedTasks") or [])
        if isinstance(s, dict) and s.get("name")
    )
    by_label: dict[str, list[TaskRun]] = {}
    for tr in gathered:
        if tr.pipeline_task is not None:
            by_label.setdefault(tr.pipeline_task, []).append(tr)
    spec = pipeline_spec if isinstance(pipeline_spec, dict) else None
    tasks = [*((spec or {}).get("tasks") or []), *((spec or {}).get("finally") or [])]
    executed = tuple(
        (task, tr)
        for task in tasks
        for tr in by_label.get(str(task.get("name", "")), ())
        if tr.meta.completion_time is not None
    )
    return PipelineRun(
        meta=_parse_meta(doc, "PipelineRun"),
        pipeline_spec=spec,
        child_references=refs,
        skipped_tasks=skipped,
        task_runs=tuple(ordered),
        task_runs_by_label={label: tuple(runs) for label, runs in by_label.items()},
        executed=executed,
    )


def _gather(refs: tuple[ChildReference, ...], children: list[TaskRun]) -> list[TaskRun]:
    """The children Chains' controller appends: for each ``childReferences`` name in order, the
    TaskRun of that name (the first one given when several share it; a name listed twice gives
    it twice). Without ``childReferences``, every joined child in input order, as Chains' own
    tests append them."""
    if not refs:
        return children
    by_name: dict[str, TaskRun] = {}
    for tr in children:
        by_name.setdefault(tr.name, tr)
    return [by_name[ref.name] for ref in refs if ref.name in by_name]


def parse_task_run(obj: JsonObject) -> TaskRun:
    """Parse one TaskRun object (v1, or v1beta1 normalised to v1)."""
    doc = _normalise_task_run(obj)
    status = doc.get("status") or {}
    steps = tuple(
        Step(
            name=str(step.get("name") or ""),
            image_id=str(step.get("imageID") or ""),
            results=_parse_results(step.get("results"), "step result"),
            ref_source=_parse_ref_source((step.get("provenance") or {}).get("refSource")),
        )
        for step in _list_of_dicts(status.get("steps"), "status.steps")
    )
    sidecars = tuple(
        str(sc.get("imageID") or "")
        for sc in _list_of_dicts(status.get("sidecars"), "status.sidecars")
    )
    owners = tuple(
        str(ref.get("uid"))
        for ref in ((doc.get("metadata") or {}).get("ownerReferences") or [])
        if isinstance(ref, dict) and ref.get("kind") == "PipelineRun" and ref.get("uid")
    )
    task_spec = status.get("taskSpec")
    if isinstance(task_spec, dict):
        # Go cannot decode the record otherwise; the formats read these steps by name or index.
        _list_of_dicts(task_spec.get("steps"), "status.taskSpec.steps")
    return TaskRun(
        meta=_parse_meta(doc, "TaskRun"),
        task_spec=task_spec if isinstance(task_spec, dict) else None,
        steps=steps,
        sidecar_image_ids=sidecars,
        owner_uids=owners,
        raw=doc,
    )


def _parse_meta(doc: JsonObject, kind: str) -> RunMeta:
    metadata = doc.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise RecordError(f"{kind} metadata must be an object")
    spec = doc.get("spec") or {}
    if not isinstance(spec, dict):
        raise RecordError(f"{kind} {_display_name(doc)}: spec must be an object")
    status = doc.get("status") or {}
    conditions = tuple(
        Condition(
            status=str(c.get("status") or ""),
            reason=str(c.get("reason") or ""),
            message=str(c.get("message") or ""),
        )
        for c in _list_of_dicts(status.get("conditions"), "status.conditions")
    )
    succeeded = next(
        (
            conditions[i]
            for i, c in enumerate(_list_of_dicts(status.get("conditions"), "status.conditions"))
            if c.get("type") == "Succeeded"
        ),
        None,
    )
    provenance = status.get("provenance") or {}
    flags = provenance.get("featureFlags") if isinstance(provenance, dict) else None
    params = tuple(
        (str(p.get("name")), param_value(p))
        for p in _list_of_dicts(spec.get("params"), "spec.params")
        if p.get("name") is not None
    )
    return RunMeta(
        kind=kind,
        name=_identity(metadata, "name", kind),
        namespace=_identity(metadata, "namespace", kind),
        uid=_identity(metadata, "uid", kind),
        resource_version=_identity(metadata, "resourceVersion", kind),
        labels=_string_map(metadata.get("labels"), "metadata.labels"),
        annotations=_string_map(metadata.get("annotations"), "metadata.annotations"),
        spec=spec,
        params=params,
        results=_parse_results(status.get("results"), "result"),
        start_time=to_utc(status.get("startTime"), "status.startTime"),
        completion_time=to_utc(status.get("completionTime"), "status.completionTime"),
        conditions=conditions,
        succeeded=succeeded,
        ref_source=_parse_ref_source(
            provenance.get("refSource") if isinstance(provenance, dict) else None
        ),
        feature_flags=(
            go_value("config.FeatureFlags", flags, "status.provenance.featureFlags")
            if isinstance(flags, dict)
            else None
        ),
    )


def _identity(metadata: JsonObject, key: str, kind: str) -> str:
    """A metadata string that identifies the record (name, namespace, uid, resourceVersion).

    Kubernetes types all four as strings and Chains' Go decoder refuses anything else (a number
    included: a resourceVersion is an opaque string); null or absent reads as "", as in Go.
    Never stringified: ``str(["x"])`` would become the record's identity.
    """
    value = metadata.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        name = metadata.get("name")
        who = f"{kind} {name!r}" if isinstance(name, str) and name else kind
        raise RecordError(f"{who}: metadata.{key} must be a string, not {_json_type(value)}")
    return value


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _parse_results(raw: Any, what: str) -> tuple[Result, ...]:
    results = []
    for entry in _list_of_dicts(raw, what + "s"):
        name = entry.get("name")
        if not isinstance(name, str):
            raise RecordError(f"a {what} has no name")
        value = entry.get("value")
        if value is None:
            value = ""
        # Tekton results are a string, an array of strings or an object of strings; Chains'
        # decoder refuses anything else, and so do we.
        valid = (
            isinstance(value, str)
            or (isinstance(value, list) and all(isinstance(v, str) for v in value))
            or (isinstance(value, dict) and all(isinstance(v, str) for v in value.values()))
        )
        if not valid:
            raise RecordError(
                f"{what} {name!r}: a value must be a string, an array of strings or an object "
                "of strings"
            )
        kind = entry.get("type")
        results.append(Result(name=name, value=value, type=kind if isinstance(kind, str) else ""))
    return tuple(results)


def _parse_ref_source(raw: Any) -> RefSource | None:
    if not isinstance(raw, dict):
        return None
    digest = raw.get("digest") or {}
    return RefSource(
        uri=str(raw.get("uri") or ""),
        digest={str(k): str(v) for k, v in digest.items()} if isinstance(digest, dict) else {},
        entry_point=str(raw.get("entryPoint") or ""),
    )


def param_value(param: Mapping[str, Any]) -> Any:
    """A param's value as Go's ``ParamValue`` reads it, or None when it has no ``value`` (Go
    decodes that, but cannot encode it again: Chains fails on such a run)."""
    if "value" not in param:
        return None
    return param_value_codec(param["value"])


def _list_of_dicts(raw: Any, what: str) -> list[JsonObject]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
        raise RecordError(f"{what} must be a list of objects")
    return raw


def _string_map(raw: Any, what: str) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise RecordError(f"{what} must be an object")
    return {str(k): "" if v is None else str(v) for k, v in raw.items()}


def to_utc(raw: Any, what: str) -> str | None:
    """RFC 3339 time converted to UTC, formatted as Go formats ``time.Time`` (``...Z``)."""
    if raw in (None, ""):
        return None
    if not isinstance(raw, str):
        raise RecordError(f"{what} must be an RFC 3339 time string")
    match = _RFC3339.fullmatch(raw.strip())
    if match is None:
        raise RecordError(f"{what} is not an RFC 3339 time: {raw!r}")
    # Python keeps microseconds only; Go keeps nanoseconds, so the fraction is carried apart.
    fraction = (match.group("fraction") or "").rstrip("0")
    try:
        parsed = datetime.fromisoformat(match.group("seconds") + _offset(match.group("zone")))
    except ValueError:
        raise RecordError(f"{what} is not an RFC 3339 time: {raw!r}") from None
    try:
        text = parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    except OverflowError:
        # 9999-12-31T23:59:59-05:00 is year 10000 in UTC; 0001-01-01T00:00:00+05:00 year 0.
        # Go can hold them but not write them as a statement time: Chains fails too.
        raise RecordError(f"{what} is out of range once converted to UTC: {raw!r}") from None
    return text + (f".{fraction}" if fraction else "") + "Z"


_RFC3339 = re.compile(
    r"(?P<seconds>\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2})(?:\.(?P<fraction>\d{1,9}))?"
    r"(?P<zone>[Zz]|[+-]\d{2}:\d{2})"
)


def _offset(zone: str) -> str:
    return "+00:00" if zone in ("Z", "z") else zone


# ---------------------------------------------------------------------------------------------
# v1beta1 -> v1 (spec §5.2)

_TASK_RUN_SPEC_V1 = {
    "debug", "params", "serviceAccountName", "taskRef", "taskSpec", "status", "statusMessage",
    "retries", "timeout", "podTemplate", "workspaces", "stepSpecs", "sidecarSpecs",
    "computeResources", "managedBy",
}  # fmt: skip
_PIPELINE_RUN_SPEC_V1 = {
    "pipelineRef", "pipelineSpec", "params", "status", "timeouts", "taskRunTemplate",
    "workspaces", "taskRunSpecs", "managedBy",
}  # fmt: skip


def _is_v1beta1(obj: JsonObject) -> bool:
    return obj.get("apiVersion") == "tekton.dev/v1beta1"


def _normalise_task_run(obj: JsonObject) -> JsonObject:
    doc = dict(obj)
    spec = dict(doc.get("spec") or {})
    status = dict(doc.get("status") or {})
    if _is_v1beta1(obj):
        if "results" not in status and "taskResults" in status:
            status["results"] = status["taskResults"]
        provenance = status.get("provenance")
        if isinstance(provenance, dict) and "refSource" not in provenance:
            config_source = provenance.get("configSource")
            if isinstance(config_source, dict):
                status["provenance"] = {**provenance, "refSource": config_source}
        _bundle_to_resolver(spec, "taskRef")
        if isinstance(spec.get("podTemplate"), dict) is False:
            spec.pop("podTemplate", None)
        spec = {k: v for k, v in spec.items() if k in _TASK_RUN_SPEC_V1}
    doc["spec"] = spec
    doc["status"] = status
    return doc


def _normalise_pipeline_run(obj: JsonObject) -> JsonObject:
    doc = dict(obj)
    spec = dict(doc.get("spec") or {})
    status = dict(doc.get("status") or {})
    if _is_v1beta1(obj):
        if "results" not in status and "pipelineResults" in status:
            status["results"] = status["pipelineResults"]
        template = dict(spec.get("taskRunTemplate") or {})
        if "serviceAccountName" in spec:
            template.setdefault("serviceAccountName", spec.pop("serviceAccountName"))
        if "podTemplate" in spec:
            template.setdefault("podTemplate", spec.pop("podTemplate"))
        if template:
            spec["taskRunTemplate"] = template
        if "timeout" in spec:
            spec["timeouts"] = {"pipeline": spec.pop("timeout"), **(spec.get("timeouts") or {})}
        _bundle_to_resolver(spec, "pipelineRef")
        if "childReferences" not in status and isinstance(status.get("taskRuns"), dict):
            status["childReferences"] = [
                {
                    "apiVersion": "tekton.dev/v1",
                    "kind": "TaskRun",
                    "name": name,
                    "pipelineTaskName": (entry or {}).get("pipelineTaskName", ""),
                }
                for name, entry in status["taskRuns"].items()
            ]
        provenance = status.get("provenance")
        if isinstance(provenance, dict) and "refSource" not in provenance:
            config_source = provenance.get("configSource")
            if isinstance(config_source, dict):
                status["provenance"] = {**provenance, "refSource": config_source}
        spec = {k: v for k, v in spec.items() if k in _PIPELINE_RUN_SPEC_V1}
    doc["spec"] = spec
    doc["status"] = status
    return doc


def embedded_task_runs(obj: JsonObject) -> list[JsonObject]:
    """TaskRun objects rebuilt from a v1beta1 PipelineRun's ``status.taskRuns`` map.

    Old archives often hold only the PipelineRun, with each child's full status embedded. Only
    ``tekton.dev/v1beta1`` objects are read this way; Chains itself ignores the map.
    """
    if not _is_v1beta1(obj):
        return []
    status = obj.get("status") or {}
    embedded = status.get("taskRuns")
    if not isinstance(embedded, dict):
        return []
    meta = obj.get("metadata") or {}
    rebuilt = []
    for name, entry in embedded.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("status"), dict):
            continue
        labels = {PIPELINE_TASK_LABEL: str(entry.get("pipelineTaskName", ""))}
        if meta.get("name"):
            labels[PIPELINE_RUN_LABEL] = str(meta["name"])
        rebuilt.append(
            {
                "apiVersion": "tekton.dev/v1beta1",
                "kind": "TaskRun",
                "metadata": {
                    "name": name,
                    "namespace": meta.get("namespace", ""),
                    "labels": labels,
                },
                "spec": {},
                "status": entry["status"],
            }
        )
    return rebuilt


def _bundle_to_resolver(spec: JsonObject, ref_key: str) -> None:
    ref = spec.get(ref_key)
    if not isinstance(ref, dict) or not ref.get("bundle"):
        return
    # Tekton's own v1beta1 -> v1 conversion: always bundle, name and kind, in that order.
    ref = dict(ref)
    params = [
        {"name": "bundle", "value": ref.pop("bundle")},
        {"name": "name", "value": ref.pop("name", "")},
        {"name": "kind", "value": "Task" if ref_key == "taskRef" else "Pipeline"},
    ]
    ref.pop("kind", None)
    ref["resolver"] = "bundles"
    ref["params"] = params
    spec[ref_key] = ref
