"""Reading a signed statement back: what it names and what it records, in either predicate.

The engine writes SLSA v0.2 (``slsa/v1``, ``in-toto``) and SLSA v1.0 (``slsa/v2alpha3``,
``slsa/v2alpha4``) statements (:mod:`.slsa`), and per-artifact ones with chainsweb's run state
(:mod:`.scope`). This module is their reader: the dashboard shows what it finds, the deployment
gate decides on it. It reads the exact signed bytes, never a re-serialized copy, and tolerates
anything a JSON document can hold: a field of the wrong type reads as absent.

Where a statement keeps its run state is decided here, for the writer
(:func:`run_state_home`) and the reader alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from .errors import ProvenanceError
from .slsa.v02 import PREDICATE_V02
from .slsa.v1 import PREDICATE_V1

RUN_STATE_KEY = "chainsweb.dev/runState"
PREDICATE_LABELS = {PREDICATE_V02: "SLSA v0.2", PREDICATE_V1: "SLSA v1.0"}

Digests = tuple[tuple[str, str], ...]


class StatementError(ProvenanceError, ValueError):
    """The stored bytes are not a JSON statement."""


def run_state_home(predicate: dict[str, Any], v02: bool) -> dict[str, Any]:
    """The metadata object a per-artifact statement's run state lives in (docs/
    provenance-format.md): ``predicate.metadata`` in SLSA v0.2, ``predicate.runDetails.metadata``
    in SLSA v1.0. The writer puts it there; :func:`read_statement` finds it there."""
    if v02:
        holder: dict[str, Any] = predicate["metadata"]
    else:
        holder = predicate["runDetails"]["metadata"]
    return holder


@dataclass(frozen=True, slots=True)
class Descriptor:
    """A subject, material or byproduct: its name (or URI) and digests, sorted by algorithm."""

    name: str
    uri: str
    digests: Digests

    def names(self, algorithm: str, hex_value: str) -> bool:
        """Does it carry this digest under exactly this algorithm key (hex in any case)? A
        verifier reading ``digest.sha256`` finds nothing under ``SHA256``, so neither do we."""
        return any(a == algorithm and h.lower() == hex_value for a, h in self.digests)


@dataclass(frozen=True, slots=True)
class RecordedTask:
    """A task a per-run SLSA v0.2 statement records in ``buildConfig.tasks``."""

    name: str
    status: str


@dataclass(frozen=True, slots=True)
class StatementView:
    """What a statement says, read from its signed bytes.

    ``run_state`` is the per-artifact run state (JSON as written, or None); ``tasks`` the
    ``buildConfig.tasks`` of a per-run SLSA v0.2 PipelineRun statement (None when absent).
    """

    document: Mapping[str, Any]
    predicate_type: str
    has_predicate: bool
    subjects: tuple[Descriptor, ...]
    build_type: str
    builder_id: str
    materials: tuple[Descriptor, ...]
    parameters: Any
    started: str
    finished: str
    invocation_id: str
    byproducts: tuple[Descriptor, ...]
    run_state: Mapping[str, Any] | None
    tasks: tuple[RecordedTask, ...] | None

    @property
    def is_v02(self) -> bool:
        return self.predicate_type == PREDICATE_V02

    @property
    def predicate_label(self) -> str:
        """``SLSA v0.2`` or ``SLSA v1.0`` (the predicate type itself when unknown)."""
        return PREDICATE_LABELS.get(self.predicate_type, self.predicate_type)

    def names_digest(self, algorithm: str, hex_value: str) -> bool:
        """Does a subject carry this digest (``hex_value`` lower-case)?"""
        return any(s.names(algorithm, hex_value) for s in self.subjects)


def read_statement(payload: bytes) -> StatementView:
    """Decode a statement of either supported predicate; StatementError if it is not JSON."""
    try:
        raw = orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise StatementError("the signed statement is not JSON") from None
    document: dict[str, Any] = raw if isinstance(raw, dict) else {}
    predicate = _object(document.get("predicate"))
    predicate_type = str(document.get("predicateType", ""))
    if predicate_type == PREDICATE_V02:
        return _read_v02(document, predicate, predicate_type)
    if predicate_type == PREDICATE_V1 or "buildDefinition" in predicate:
        return _read_v1(document, predicate, predicate_type)
    return _read_v02(document, predicate, predicate_type)


def _read_v1(
    document: dict[str, Any], predicate: dict[str, Any], predicate_type: str
) -> StatementView:
    definition = _object(predicate.get("buildDefinition"))
    details = _object(predicate.get("runDetails"))
    metadata = _object(details.get("metadata"))
    return StatementView(
        document=document,
        predicate_type=predicate_type,
        has_predicate=isinstance(document.get("predicate"), dict),
        subjects=_descriptors(document.get("subject")),
        build_type=str(definition.get("buildType", "")),
        builder_id=str(_object(details.get("builder")).get("id", "")),
        materials=_descriptors(definition.get("resolvedDependencies")),
        parameters=definition.get("externalParameters"),
        started=str(metadata.get("startedOn", "")),
        finished=str(metadata.get("finishedOn", "")),
        invocation_id=str(metadata.get("invocationId", "")),
        byproducts=_descriptors(details.get("byproducts")),
        run_state=_run_state(metadata),
        tasks=None,
    )


def _read_v02(
    document: dict[str, Any], predicate: dict[str, Any], predicate_type: str
) -> StatementView:
    metadata = _object(predicate.get("metadata"))
    tasks = _object(predicate.get("buildConfig")).get("tasks")
    return StatementView(
        document=document,
        predicate_type=predicate_type,
        has_predicate=isinstance(document.get("predicate"), dict),
        subjects=_descriptors(document.get("subject")),
        build_type=str(predicate.get("buildType", "")),
        builder_id=str(_object(predicate.get("builder")).get("id", "")),
        materials=_descriptors(predicate.get("materials")),
        parameters=_object(predicate.get("invocation")).get("parameters"),
        started=str(metadata.get("buildStartedOn", "")),
        finished=str(metadata.get("buildFinishedOn", "")),
        invocation_id=str(metadata.get("buildInvocationId", "")),
        byproducts=(),
        run_state=_run_state(metadata),
        tasks=(
            tuple(
                RecordedTask(str(t.get("name", "")), str(t.get("status") or ""))
                for t in tasks
                if isinstance(t, dict)
            )
            if isinstance(tasks, list)
            else None
        ),
    )


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _run_state(metadata: dict[str, Any]) -> Mapping[str, Any] | None:
    state = metadata.get(RUN_STATE_KEY)
    return state if isinstance(state, dict) else None


def _descriptors(entries: Any) -> tuple[Descriptor, ...]:
    if not isinstance(entries, list):
        return ()
    found = []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        digest = entry.get("digest")
        digests: Digests = (
            tuple(sorted((str(a), str(h)) for a, h in digest.items()))
            if isinstance(digest, dict)
            else ()
        )
        name = str(entry.get("name") or "")
        uri = str(entry.get("uri") or "")
        found.append(Descriptor(name=name or uri, uri=uri or name, digests=digests))
    return tuple(found)
