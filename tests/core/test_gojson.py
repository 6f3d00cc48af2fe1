"""The Go view of Tekton objects (provenance/core/gojson): what Chains writes when it re-encodes.

Every expected value here is what Go (Tekton's types, k8s.io/apimachinery, encoding/json at the
versions Chains vendors) prints for the same input.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from provenance.core.errors import FormatError, RecordError
from provenance.core.gojson import SCHEMA, TYPES, go_json, go_value
from provenance.core.gojson.duration import DurationError, format_duration, parse_duration
from provenance.core.gojson.generate import build, render
from provenance.core.gojson.quantity import QuantityError, canonical_quantity


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("1h", "1h0m0s"),
        ("90s", "1m30s"),
        ("1.5h", "1h30m0s"),
        ("1h30m", "1h30m0s"),
        ("300ms", "300ms"),
        ("0", "0s"),
        ("-1m", "-1m0s"),
        ("0.5us", "500ns"),
        ("1µs", "1µs"),
        (".5s", "500ms"),
        ("2562047h47m16.854775807s", "2562047h47m16.854775807s"),
    ],
)
def test_durations_are_written_as_go_writes_them(text: str, written: str) -> None:
    assert format_duration(parse_duration(text)) == written


@pytest.mark.parametrize("text", ["", "5", "1e3s", "1d", "h", "-", "2562048h"])
def test_durations_go_refuses_are_refused(text: str) -> None:
    with pytest.raises(DurationError):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("0.5", "500m"),
        ("1000m", "1"),
        ("1024Mi", "1Gi"),
        ("0.5Gi", "512Mi"),
        ("1.5Gi", "1536Mi"),
        ("2000", "2k"),
        ("1.5", "1500m"),
        ("0.1n", "1n"),
        ("1e-10", "1e-9"),
        ("1.5e3", "1500"),
        ("1e100", "10e99"),
        ("0Mi", "0"),
        ("10Ei", "9223372036854775807"),
        # already canonical: the text is kept as given, even with a sign or leading zeros
        ("500m", "500m"),
        ("100Mi", "100Mi"),
        ("1e3", "1e3"),
        ("+1", "+1"),
        ("0001", "0001"),
    ],
)
def test_quantities_are_written_as_kubernetes_writes_them(text: str, written: str) -> None:
    assert canonical_quantity(text) == written


@pytest.mark.parametrize("text", ["", "abc", "1Mi5", "1e+", "1Kb", "1.2.3"])
def test_quantities_kubernetes_refuses_are_refused(text: str) -> None:
    with pytest.raises(QuantityError):
        canonical_quantity(text)


def test_a_task_run_spec_as_chains_writes_its_run_spec() -> None:
    spec = {
        "taskSpec": {
            "steps": [{"name": "build", "image": "golang:1.22", "script": "go build"}],
            "sidecars": [{"name": "docker", "image": "docker:dind"}],
            "stepTemplate": {"env": [{"name": "A", "value": "b"}]},
            "params": [
                {"name": "a", "default": ""},
                {"name": "b", "type": "array", "default": []},
                {
                    "name": "c",
                    "type": "object",
                    "properties": {"x": {"type": "string"}},
                    "default": {"x": ""},
                },
            ],
        },
        "podTemplate": {"securityContext": {"runAsUser": 0, "fsGroup": 0}},
        "workspaces": [
            {
                "name": "src",
                "volumeClaimTemplate": {
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "resources": {"requests": {"storage": "1024Mi"}},
                    }
                },
            }
        ],
        "timeout": "90s",
        "computeResources": {
            "requests": {"cpu": "0.5", "memory": "0.5Gi"},
            "limits": {"cpu": "1000m"},
        },
    }
    assert go_json(go_value("v1.TaskRunSpec", spec, "spec")) == (
        b'{"serviceAccountName":"","taskSpec":{"params":[{"name":"a","default":""},'
        b'{"name":"b","type":"array","default":[]},{"name":"c","type":"object",'
        b'"properties":{"x":{"type":"string"}},"default":{"x":""}}],"steps":[{"name":"build",'
        b'"image":"golang:1.22","computeResources":{},"script":"go build"}],"stepTemplate":'
        b'{"env":[{"name":"A","value":"b"}],"computeResources":{}},"sidecars":[{"name":"docker",'
        b'"image":"docker:dind","computeResources":{}}]},"timeout":"1m30s","podTemplate":'
        b'{"securityContext":{"runAsUser":0,"fsGroup":0}},"workspaces":[{"name":"src",'
        b'"volumeClaimTemplate":{"metadata":{},"spec":{"accessModes":["ReadWriteOnce"],'
        b'"resources":{"requests":{"storage":"1Gi"}}},"status":{}}}],"computeResources":'
        b'{"limits":{"cpu":"1"},"requests":{"cpu":"500m","memory":"512Mi"}}}'
    )


def test_an_inline_pipeline_spec_keeps_go_zero_values() -> None:
    spec = {
        "pipelineSpec": {
            "tasks": [{"name": "t", "taskSpec": {"steps": [{"name": "s", "image": "alpine"}]}}],
            "results": [{"name": "r", "value": "$(tasks.t.results.x)"}],
        },
        "timeouts": {"pipeline": "1h", "tasks": "30m"},
    }
    assert go_json(go_value("v1.PipelineRunSpec", spec, "spec")) == (
        b'{"pipelineSpec":{"tasks":[{"name":"t","taskSpec":{"spec":null,"metadata":{},"steps":'
        b'[{"name":"s","image":"alpine","computeResources":{}}]}}],"results":[{"name":"r",'
        b'"description":"","value":"$(tasks.t.results.x)"}]},"timeouts":{"pipeline":"1h0m0s",'
        b'"tasks":"30m0s"},"taskRunTemplate":{}}'
    )


def test_a_task_run_in_field_order_with_go_escaping_and_times() -> None:
    task_run = {
        "apiVersion": "tekton.dev/v1",
        "kind": "TaskRun",
        "metadata": {
            "name": "a<b>&c",
            "namespace": "ns",
            "uid": "u",
            "labels": {"z": "1", "a": "2"},
            "annotations": {"note": "x\u2028y"},
            "creationTimestamp": "2024-01-01T00:00:00.5Z",
        },
        "spec": {"serviceAccountName": "sa"},
        "status": {
            "startTime": "2024-05-02T12:00:00.123+02:00",
            "conditions": [{"type": "Succeeded", "status": "True"}],
            "podName": "p",
        },
    }
    assert go_json(go_value("v1.TaskRun", task_run, "TaskRun")) == (
        b'{"kind":"TaskRun","apiVersion":"tekton.dev/v1","metadata":{"name":"a\\u003cb\\u003e'
        b'\\u0026c","namespace":"ns","uid":"u","creationTimestamp":"2024-01-01T00:00:00Z",'
        b'"labels":{"a":"2","z":"1"},"annotations":{"note":"x\\u2028y"}},"spec":'
        b'{"serviceAccountName":"sa"},"status":{"conditions":[{"type":"Succeeded","status":"True",'
        b'"lastTransitionTime":null}],"podName":"p","startTime":"2024-05-02T10:00:00Z"}}'
    )


def test_the_zero_creation_timestamp_is_left_out_omitzero() -> None:
    assert go_value("metav1.ObjectMeta", {"name": "x"}, "metadata") == {"name": "x"}


@pytest.mark.parametrize(
    ("raw", "written"),
    [
        ("x", "x"),
        (["a", None], ["a", ""]),
        ({"b": "1", "a": None}, {"a": "", "b": "1"}),
        (None, ""),
        (5, "5"),
        (True, "true"),
        ([1, "a"], '[1,"a"]'),
        ({"a": {"b": 1}}, '{"a":{"b":1}}'),
    ],
)
def test_param_values_as_tekton_decodes_them(raw: Any, written: Any) -> None:
    assert go_value("v1.ParamValue", raw, "value") == written


def test_keys_match_case_insensitively_and_a_repeated_field_is_merged() -> None:
    # encoding/json: "status" then "Status" decode into the same struct, one after the other.
    task_run = {
        "kind": "TaskRun",
        "Metadata": {"name": "x"},
        "status": {"podName": "p", "startTime": "2024-01-01T00:00:00Z"},
        "Status": {"podName": "q"},
    }
    decoded = go_value("v1.TaskRun", task_run, "TaskRun")
    assert decoded["metadata"] == {"name": "x"}
    assert decoded["status"]["podName"] == "q"
    assert decoded["status"]["startTime"] == "2024-01-01T00:00:00Z"


def test_unknown_fields_are_dropped() -> None:
    assert go_value("v1.TaskRef", {"name": "t", "bundle": "gcr.io/b"}, "taskRef") == {"name": "t"}


@pytest.mark.parametrize(
    ("spec", "where"),
    [
        ({"timeout": ""}, r"spec\.timeout: invalid duration"),
        ({"retries": "3"}, r"spec\.retries: must be an integer"),
        ({"serviceAccountName": 5}, r"spec\.serviceAccountName: must be a string"),
        (
            {"computeResources": {"limits": {"cpu": "lots"}}},
            r"spec\.computeResources\.limits\.cpu: quantities must match",
        ),
        ({"workspaces": [{"name": "a"}, {"name": 1}]}, r"spec\.workspaces\[1\]\.name"),
    ],
)
def test_values_go_refuses_are_record_errors_naming_the_field(spec: Any, where: str) -> None:
    with pytest.raises(RecordError, match=where):
        go_value("v1.TaskRunSpec", spec, "spec")


def test_a_param_without_a_value_cannot_be_encoded_as_in_go() -> None:
    with pytest.raises(FormatError, match="no value"):
        go_value("v1.TaskRunSpec", {"params": [{"name": "a"}]}, "spec")


def test_the_schema_is_complete() -> None:
    # Every type a field names is defined, and every custom type has a hand-written codec
    # (GoTypes refuses to load otherwise): compiling the roots reaches all of them.
    assert SCHEMA["roots"] == ["v1.TaskRun", "v1.PipelineRun"]
    assert SCHEMA["versions"]["github.com/tektoncd/pipeline"] == "v1.15.0"
    for name in SCHEMA["types"]:
        TYPES.decoder(name)


def _write_package(root: Path, path: str, text: str) -> None:
    folder = root / "vendor" / path
    folder.mkdir(parents=True)
    (folder / "types.go").write_text(text)


def test_the_generator_reads_go_struct_declarations(tmp_path: Path) -> None:
    (tmp_path / "vendor").mkdir()
    (tmp_path / "vendor" / "modules.txt").write_text("# github.com/tektoncd/pipeline v9.9.9\n")
    _write_package(
        tmp_path,
        "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1",
        """package v1

import (
\tmetav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TaskRun is a run.
type TaskRun struct {
\tmetav1.TypeMeta `json:",inline"`
\t// +optional
\tSpec TaskRunSpec `json:"spec,omitempty"` // trailing comment
\tStatus *string `json:"status,omitempty"`
\tinternal int
\tSkipped string `json:"-"`
}

type PipelineRun struct {
\tRuns Runs `json:"runs"`
}

type Runs []TaskRun

type TaskRunSpec struct {
\tTimeout *metav1.Duration `json:"timeout,omitempty"`
}
""",
    )
    _write_package(
        tmp_path,
        "k8s.io/apimachinery/pkg/apis/meta/v1",
        """package v1

type TypeMeta struct {
\tKind string `json:"kind,omitempty"`
}

type Duration struct{}

func (d Duration) MarshalJSON() ([]byte, error) { return nil, nil }
""",
    )
    data = build(tmp_path)
    assert data["versions"] == {"github.com/tektoncd/pipeline": "v9.9.9"}
    assert data["types"] == {
        "metav1.Duration": "custom",
        "metav1.TypeMeta": [["Kind", "string", "kind,omitempty"]],
        "v1.PipelineRun": [["Runs", "v1.Runs", "runs"]],
        "v1.Runs": "[]v1.TaskRun",
        "v1.TaskRun": [
            ["", "metav1.TypeMeta", ",inline"],
            ["Spec", "v1.TaskRunSpec", "spec,omitempty"],
            ["Status", "*string", "status,omitempty"],
        ],
        "v1.TaskRunSpec": [["Timeout", "*metav1.Duration", "timeout,omitempty"]],
    }
    assert json.loads(render(data)) == data
