"""load_documents: JSON or YAML bytes in, a flat list of Kubernetes objects out."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest

from provenance.core import RecordError, load_documents


def test_json_object_gives_one_object(tekton_data: Path) -> None:
    objects = load_documents((tekton_data / "taskrun.json").read_bytes())
    assert len(objects) == 1
    assert objects[0]["kind"] == "TaskRun"
    assert objects[0]["metadata"]["name"] == "kaniko-run"


def test_yaml_and_json_forms_of_one_record_load_equal(tekton_data: Path) -> None:
    from_json = load_documents((tekton_data / "taskrun.json").read_bytes())
    from_yaml = load_documents((tekton_data / "taskrun.yaml").read_bytes())
    assert from_yaml == from_json


def test_str_input_is_accepted_like_bytes(tekton_data: Path) -> None:
    text = (tekton_data / "taskrun.json").read_text()
    assert load_documents(text) == load_documents(text.encode())


def test_json_array_gives_each_element() -> None:
    data = json.dumps([{"kind": "TaskRun", "n": 1}, {"kind": "PipelineRun", "n": 2}])
    assert [o["n"] for o in load_documents(data)] == [1, 2]


def test_json_with_leading_whitespace_is_json() -> None:
    assert load_documents(b'\n\n   {"kind": "TaskRun"}') == [{"kind": "TaskRun"}]


def test_kind_list_is_expanded_into_its_items() -> None:
    data = {"apiVersion": "v1", "kind": "List", "items": [{"kind": "TaskRun", "n": 1}]}
    assert load_documents(json.dumps(data)) == [{"kind": "TaskRun", "n": 1}]


def test_typed_list_is_expanded_into_its_items(tekton_data: Path) -> None:
    objects = load_documents((tekton_data / "taskrun-list.json").read_bytes())
    assert [o["metadata"]["name"] for o in objects] == ["lint-run", "test-run"]


def test_nested_lists_are_flattened_in_order() -> None:
    data = {
        "kind": "List",
        "items": [
            {"kind": "TaskRun", "n": 1},
            {"kind": "TaskRunList", "items": [{"kind": "TaskRun", "n": 2}]},
            {"kind": "TaskRun", "n": 3},
        ],
    }
    assert [o["n"] for o in load_documents(json.dumps(data))] == [1, 2, 3]


def test_json_array_of_lists_is_flattened() -> None:
    data = [{"kind": "List", "items": [{"kind": "TaskRun", "n": 1}]}, {"kind": "TaskRun", "n": 2}]
    assert [o["n"] for o in load_documents(json.dumps(data))] == [1, 2]


def test_list_without_items_array_is_rejected() -> None:
    with pytest.raises(RecordError, match="items"):
        load_documents(b'{"kind": "List", "items": null}')


def test_multi_document_yaml_skips_empty_documents(tekton_data: Path) -> None:
    objects = load_documents((tekton_data / "pipelinerun-multidoc.yaml").read_bytes())
    assert [o["kind"] for o in objects] == ["PipelineRun", "TaskRun", "TaskRun"]
    assert objects[1]["metadata"]["name"] == "build-push-run-build"


def test_yaml_list_document_is_expanded() -> None:
    text = "kind: List\nitems:\n- kind: TaskRun\n  n: 1\n---\nkind: PipelineRun\nn: 2\n"
    assert [o["n"] for o in load_documents(text)] == [1, 2]


def test_yaml_with_only_empty_documents_holds_no_objects() -> None:
    with pytest.raises(RecordError, match="no objects"):
        load_documents(b"---\n---\n# nothing here\n")


def test_empty_json_array_holds_no_objects() -> None:
    with pytest.raises(RecordError, match="no objects"):
        load_documents(b"[]")


@pytest.mark.parametrize("data", [b"", b"   \n\t\n", ""])
def test_empty_input_is_rejected(data: bytes | str) -> None:
    with pytest.raises(RecordError, match="empty"):
        load_documents(data)


def test_yaml_duplicate_key_is_rejected_with_its_line() -> None:
    text = "kind: TaskRun\nstatus: {}\nmetadata:\n  name: a\nstatus: {}\n"
    with pytest.raises(RecordError, match=r"duplicate key 'status' at line 5"):
        load_documents(text)


def test_yaml_duplicate_nested_key_is_rejected() -> None:
    text = "kind: TaskRun\nmetadata:\n  name: a\n  name: b\n"
    with pytest.raises(RecordError, match=r"duplicate key 'name' at line 4"):
        load_documents(text)


def test_same_key_in_sibling_mappings_is_not_a_duplicate() -> None:
    text = "kind: TaskRun\na:\n  name: x\nb:\n  name: y\n"
    assert load_documents(text) == [{"kind": "TaskRun", "a": {"name": "x"}, "b": {"name": "y"}}]


def test_invalid_json_is_a_record_error_naming_json() -> None:
    with pytest.raises(RecordError, match="invalid JSON"):
        load_documents(b'{"kind": "TaskRun",}')


def test_truncated_json_array_is_a_record_error() -> None:
    with pytest.raises(RecordError, match="invalid JSON"):
        load_documents(b'[{"kind": "TaskRun"}')


def test_invalid_yaml_message_gives_line_and_column() -> None:
    text = "kind: TaskRun\nmetadata:\n  name: [a, b\nstatus: {}\n"
    with pytest.raises(RecordError, match=r"invalid YAML: .*\(line \d+, column \d+\)") as info:
        load_documents(text)
    assert "Traceback" not in str(info.value)


@pytest.mark.parametrize("text", ["kind: [TaskRun, x", "kind: [TaskRun, x\n"])
def test_a_yaml_error_at_the_end_of_a_one_line_file_is_on_line_1(text: str) -> None:
    with pytest.raises(RecordError) as info:
        load_documents(text)
    message = str(info.value)
    assert "at the end of the input (line 1)" in message
    assert "flow sequence from line 1, column 7" in message and "line 2" not in message


def test_yaml_bad_indentation_reports_its_line() -> None:
    text = "kind: TaskRun\nmetadata:\n  name: a\n bad: b\n"
    with pytest.raises(RecordError, match=r"line 4"):
        load_documents(text)


def test_non_utf8_yaml_bytes_are_rejected_as_not_utf8() -> None:
    with pytest.raises(RecordError, match="not UTF-8"):
        load_documents(b"kind: TaskRun\nmetadata:\n  name: caf\xe9\n")


def test_non_utf8_json_bytes_are_a_record_error() -> None:
    with pytest.raises(RecordError):
        load_documents(b'{"kind": "caf\xe9"}')


@pytest.mark.parametrize(
    ("data", "found"),
    [
        (b"just a string", "str"),
        (b"42", "int"),
        (b'"quoted"', "str"),
        (b'["a", "b"]', "str"),
        (b"- a\n- b\n", "str"),
        (b"[1, 2]", "int"),
    ],
)
def test_top_level_scalar_or_list_of_scalars_is_rejected(data: bytes, found: str) -> None:
    with pytest.raises(RecordError, match=f"expected an object, found {found}"):
        load_documents(data)


def test_list_item_that_is_not_an_object_is_rejected() -> None:
    with pytest.raises(RecordError, match="expected an object"):
        load_documents(b'{"kind": "List", "items": ["TaskRun"]}')


@pytest.mark.parametrize("data", [b'{"kind": null}', b"kind: 5\n"])
def test_non_string_kind_is_not_a_crash(data: bytes) -> None:
    # Either load_documents keeps the object (parse_records will reject its kind) or it raises
    # a RecordError; an AttributeError is never acceptable.
    with contextlib.suppress(RecordError):
        load_documents(data)


def test_yaml_aliases_are_refused_so_a_small_file_cannot_explode() -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    with pytest.raises(RecordError, match="YAML aliases are not accepted"):
        load_documents(bomb)


def test_yaml_top_level_sequence_is_read_like_a_json_array() -> None:
    docs = load_documents("- kind: TaskRun\n  metadata: {name: a}\n- kind: TaskRun\n")
    assert [d["kind"] for d in docs] == ["TaskRun", "TaskRun"]


def test_deeply_nested_yaml_is_a_record_error() -> None:
    with pytest.raises(RecordError, match="nested too deeply|invalid YAML"):
        load_documents("a: " + "[" * 5000 + "]" * 5000)


def test_complex_mapping_keys_are_refused() -> None:
    with pytest.raises(RecordError, match="unsupported mapping key"):
        load_documents("? [a, b]\n: c\n")
