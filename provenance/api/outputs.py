"""The API's record, attestation and artifact outputs, each defined once.

A :class:`Shape` lists an output's fields in order; each field says how it is described in the
OpenAPI schema (a DRF field, for drf-spectacular), which columns of a row it reads, and how its
value is made from them. From that one list come the serializer the schema is generated from
(``Shape.serializer``, never used to render), the columns the reads select (``Shape.columns``)
and the JSON objects the views answer with (``Shape.render``), made from plain ``values()``
rows without DRF's per-field machinery (bench/README.md, "reads at scale").

Field names are part of the API contract (docs/api.md): add fields, never rename or drop them.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from functools import cached_property
from typing import Any

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist, ObjectDoesNotExist
from django.db import models
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from rest_framework import serializers

from provenance.core.slsa.config import PREDICATE_VERSION
from provenance.models import ComputeStatus, Publication, RunKind, SourceKind, record_source
from provenance.reads.attestations import subjects_shown
from provenance.reads.verify import VERIFY_COLUMNS, Verdict

# =============================================================================================
# Links and times, as DRF would write them


def _absolute(request: Any, path: str) -> str:
    return request.build_absolute_uri(path) if request is not None else path


# An argument ``reverse()`` puts into a path as it is (nothing to quote, no dot segment).
_PLAIN_ARG = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,300}")
# Stand-ins for a route's argument, tried in turn until one fits its converter (id, str, digest).
_MARKERS = ("987654321987654321", "zq9xmarkzq9x", "zq9x:9876543210fedcba9876543210")


class Links:
    """Absolute API links for one request: one ``reverse()`` per route, not one per row.

    Each route is reversed once with a stand-in argument and split around it; a row's link is
    its argument joined into the two halves. An argument ``reverse()`` would quote takes the
    slow path, so a link is always what ``build_absolute_uri(reverse(...))`` gives.
    """

    def __init__(self, request: Any) -> None:
        self.request = request
        self.halves: dict[str, list[str] | None] = {}

    def _split(self, route: str) -> list[str] | None:
        for marker in _MARKERS:
            try:
                parts = _absolute(self.request, reverse(route, args=[marker])).split(marker)
            except NoReverseMatch:
                continue
            return parts if len(parts) == 2 else None
        return None

    def url(self, route: str, arg: int | str) -> str:
        if route not in self.halves:
            self.halves[route] = self._split(route)
        halves = self.halves[route]
        text = str(arg)
        if halves is None or not _PLAIN_ARG.fullmatch(text):
            return _absolute(self.request, reverse(route, args=[arg]))
        return text.join(halves)


def output_zone() -> tzinfo | None:
    """The zone DRF's ``DateTimeField`` shows times in (None: naive UTC); ``datetime.UTC`` for
    the UTC zone, the zone the database's times come in, so they need no conversion."""
    if not settings.USE_TZ:
        return None
    zone = timezone.get_current_timezone()
    return UTC if getattr(zone, "key", None) in ("UTC", "Etc/UTC") else zone


def datetime_text(value: datetime | None, zone: tzinfo | None) -> str | None:
    """A time as DRF's ``DateTimeField`` writes it (ISO 8601, ``Z`` for UTC)."""
    if not value:
        return None
    if value.tzinfo is not zone:
        if zone is not None:
            aware = timezone.is_aware(value)
            value = value.astimezone(zone) if aware else value.replace(tzinfo=zone)
        elif timezone.is_aware(value):
            value = value.astimezone(UTC).replace(tzinfo=None)
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


@dataclass
class Context:
    """What rendering a response needs beside the rows: links, the time zone, the verdicts of
    the attestations shown (``reads.verify``) and the ids each one supersedes."""

    links: Links
    zone: tzinfo | None
    verdicts: Mapping[int, Verdict] = field(default_factory=dict)
    supersedes: Mapping[int, list[int]] = field(default_factory=dict)
    publications: Mapping[int, list[Publication]] = field(default_factory=dict)

    @classmethod
    def of(cls, request: Any, **kwargs: Any) -> Context:
        return cls(links=Links(request), zone=output_zone(), **kwargs)


# =============================================================================================
# Shapes

Row = Mapping[str, Any]


@dataclass(frozen=True)
class Field:
    """One output field: its schema, the row columns it reads and how it is made of them."""

    name: str
    schema: serializers.Field[Any, Any, Any, Any]
    columns: tuple[str, ...]
    value: Callable[[Row, Context], Any]


def plain(name: str, schema: serializers.Field[Any, Any, Any, Any], column: str = "") -> Field:
    """A column as it is."""
    key = column or name
    return Field(name, schema, (key,), lambda row, ctx: row[key])


def text(name: str, column: str = "") -> Field:
    return plain(name, serializers.CharField(read_only=True), column)


def moment(name: str, column: str = "", *, nullable: bool = False) -> Field:
    """A time, as DRF writes it in the active time zone."""
    key = column or name
    schema = serializers.DateTimeField(read_only=True, allow_null=nullable)
    return Field(name, schema, (key,), lambda row, ctx: datetime_text(row[key], ctx.zone))


def link(name: str, route: str, column: str) -> Field:
    """The absolute API link of ``route`` for the row's ``column``."""
    schema = serializers.CharField(read_only=True)
    return Field(name, schema, (column,), lambda row, ctx: ctx.links.url(route, row[column]))


class Shape:
    """An output: its fields in order, the serializer describing it, the columns it reads."""

    def __init__(self, name: str, fields: Sequence[Field]) -> None:
        self.name = name
        self.fields = tuple(fields)

    def extend(self, name: str, *fields: Field) -> Shape:
        return Shape(name, (*self.fields, *fields))

    @cached_property
    def columns(self) -> tuple[str, ...]:
        """Every column a row needs, each once, in field order."""
        return tuple(dict.fromkeys(c for f in self.fields for c in f.columns))

    @cached_property
    def paged_columns(self) -> tuple[str, ...]:
        """``columns`` and the id a list is paged by (``ApiCursorPagination``)."""
        return tuple(dict.fromkeys(("id", *self.columns)))

    @cached_property
    def serializer(self) -> type[serializers.Serializer[Any]]:
        """A serializer with these fields, for the OpenAPI schema only (named like the
        component, ``AttestationOutput``)."""
        declared = {f.name: copy.deepcopy(f.schema) for f in self.fields}
        made: type[serializers.Serializer[Any]] = type(
            self.name, (serializers.Serializer,), {"__module__": __name__, **declared}
        )
        return made

    def render(self, rows: Iterable[Row], ctx: Context) -> list[dict[str, Any]]:
        fields = [(f.name, f.value) for f in self.fields]
        return [{name: value(row, ctx) for name, value in fields} for row in rows]

    def render_one(self, row: Row, ctx: Context) -> dict[str, Any]:
        return self.render([row], ctx)[0]

    def row_of(self, instance: models.Model, *extra: str) -> dict[str, Any]:
        """A model instance as a row of ``columns`` (``a__b`` follows a relation; a missing
        related row reads as None)."""
        return {column: _path(instance, column) for column in (*self.columns, *extra)}


def _path(instance: Any, column: str) -> Any:
    parts = column.split("__")
    value = instance
    for position, part in enumerate(parts):
        if value is None:
            return None
        if position == len(parts) - 1 and isinstance(value, models.Model):
            part = _attname(value, part)
        try:
            value = getattr(value, part)
        except ObjectDoesNotExist:
            return None
    return value


def _attname(instance: models.Model, name: str) -> str:
    """A foreign key reads as its id, as ``values()`` gives it."""
    try:
        found = instance._meta.get_field(name)
    except FieldDoesNotExist:
        return name  # an annotation
    return found.attname if isinstance(found, models.Field) else name


# =============================================================================================
# Records


def record_pipeline(kind: str, definition: str, labels: Mapping[str, Any] | None) -> str:
    """A PipelineRun's pipeline; a TaskRun's ``tekton.dev/pipeline`` label."""
    if kind == RunKind.PIPELINE_RUN:
        return definition
    return str((labels or {}).get("tekton.dev/pipeline", ""))


def record_task(kind: str, definition: str) -> str:
    """A TaskRun's task; empty for a PipelineRun."""
    return definition if kind == RunKind.TASK_RUN else ""


class RecordSourceOutput(serializers.Serializer[Any]):
    """How the stored version of a record came (docs/security.md); the fields after ``kind``
    depend on it."""

    kind = serializers.ChoiceField(
        choices=SourceKind.choices,
        help_text="watch: read from a cluster by watch_records; api: POST /api/v1/records; "
        "import: import_records (or the demo command); unknown: stored before sources were "
        "recorded.",
    )
    cluster = serializers.CharField(required=False, help_text="watch: the cluster's name.")
    watcher = serializers.CharField(
        required=False, help_text="watch: the watcher's ServiceAccount or kubeconfig user."
    )
    token = serializers.CharField(
        required=False, help_text="api: the name of the token the record was posted with."
    )
    user = serializers.CharField(
        required=False,
        help_text="api: the signed-in user who posted it; import: the operating-system user "
        "who ran the command.",
    )
    file = serializers.CharField(required=False, help_text="import: the file it was read from.")
    command = serializers.CharField(required=False, help_text="import: the command.")
    actor = serializers.CharField(
        required=False, help_text="api, stored before sources were recorded: who posted it."
    )
    recorded = serializers.CharField(
        required=False, help_text="unknown: the source as it was recorded then."
    )


RECORD = Shape(
    "RecordOutput",
    [
        text("uid"),
        plain("kind", serializers.ChoiceField(choices=RunKind.choices, read_only=True)),
        text("namespace"),
        text("name"),
        Field(
            "pipeline",
            serializers.CharField(read_only=True),
            ("kind", "definition", "labels"),
            lambda row, ctx: record_pipeline(row["kind"], row["definition"], row["labels"]),
        ),
        Field(
            "task",
            serializers.CharField(read_only=True),
            ("kind", "definition"),
            lambda row, ctx: record_task(row["kind"], row["definition"]),
        ),
        text("pipeline_task"),
        text("parent_uid"),
        text("parent_name"),
        text("status"),
        text("reason"),
        moment("start_time", nullable=True),
        moment("completion_time", nullable=True),
        plain("labels", serializers.JSONField(read_only=True)),
        text("resource_version"),
        moment("first_seen"),
        moment("updated"),
        plain(
            "compute_status",
            serializers.ChoiceField(choices=ComputeStatus.choices, read_only=True),
        ),
        text("compute_reason"),
        Field(
            "source",
            RecordSourceOutput(read_only=True),
            ("source_kind", "source_detail"),
            lambda row, ctx: record_source(row["source_kind"], row["source_detail"]),
        ),
        link("url", "api:record-detail", "uid"),
        link("raw_url", "api:record-raw", "uid"),
        # Retention (docs/operations.md): the raw record's sha256 stays after it is pruned, so
        # a copy kept elsewhere can be matched; raw_url then answers 410.
        text("raw_sha256"),
        moment("pruned_at", nullable=True),
        plain(
            "pruned_retention_days",
            serializers.IntegerField(read_only=True, allow_null=True),
        ),
    ],
)

# =============================================================================================
# Attestations


class SubjectOutput(serializers.Serializer[Any]):
    name = serializers.CharField()
    digest = serializers.DictField(child=serializers.CharField())


class ReasonOutput(serializers.Serializer[Any]):
    code = serializers.CharField(help_text="Stable: see docs/api.md, 'Verdicts'.")
    message = serializers.CharField()


def _predicate(row: Row, ctx: Context) -> str:
    return PREDICATE_VERSION.get(row["format"], "")


def _verdict(row: Row, ctx: Context) -> Verdict | None:
    return ctx.verdicts.get(row["id"])


def _verified(row: Row, ctx: Context) -> bool:
    verdict = _verdict(row, ctx)
    return verdict is not None and verdict.ok


def _problems(row: Row, ctx: Context) -> list[str]:
    verdict = _verdict(row, ctx)
    return verdict.messages if verdict is not None else ["not checked"]


def _reasons(row: Row, ctx: Context) -> list[dict[str, str]]:
    verdict = _verdict(row, ctx)
    if verdict is None:
        return [{"code": "not-checked", "message": "not checked"}]
    return [{"code": r.code, "message": r.message} for r in verdict.reasons]


class PublicationOutput(serializers.Serializer[Any]):
    image = serializers.CharField(help_text="The subject image, repository@sha256:<hex>.")
    kind = serializers.ChoiceField(
        choices=Publication.Kind.values,
        help_text="att: the DSSE envelope as a layer; sig: the cosign image signature.",
    )
    reference = serializers.CharField(help_text="Where: repository:sha256-<hex>.att or .sig.")
    status = serializers.ChoiceField(choices=Publication.Status.values)
    attempts = serializers.IntegerField()
    last_error = serializers.CharField(help_text="Why the last attempt failed; empty if none.")
    updated = serializers.CharField()
    published = serializers.CharField(allow_null=True)


def _publications(row: Row, ctx: Context) -> list[dict[str, Any]]:
    return [
        {
            "image": p.image,
            "kind": p.kind,
            "reference": p.reference,
            "status": p.status,
            "attempts": p.attempts,
            "last_error": p.last_error,
            "updated": datetime_text(p.updated, ctx.zone),
            "published": datetime_text(p.published, ctx.zone),
        }
        for p in ctx.publications.get(row["id"], [])
    ]


def _notes(row: Row, ctx: Context) -> list[dict[str, str]]:
    verdict = _verdict(row, ctx)
    return [{"code": r.code, "message": r.message} for r in verdict.notes] if verdict else []


_ID = plain("id", serializers.IntegerField(read_only=True))
_PREDICATE = Field("predicate", serializers.CharField(read_only=True), ("format",), _predicate)
_SUPERSEDED_BY = plain("superseded_by", serializers.IntegerField(read_only=True, allow_null=True))

ATTESTATION_BRIEF = Shape(
    "AttestationBriefOutput",
    [
        _ID,
        text("namespace"),
        text("format"),
        _PREDICATE,
        text("scope"),
        text("emit"),
        text("status", "run_status"),
        moment("created"),
        _SUPERSEDED_BY,
        link("url", "api:attestation-detail", "id"),
    ],
)

ATTESTATION = Shape(
    "AttestationOutput",
    [
        _ID,
        text("namespace"),
        text("pipeline_run", "run__name"),
        text("run_uid", "run__uid"),
        text("run_kind", "run__kind"),
        text("format"),
        _PREDICATE,
        text("scope"),
        text("emit"),
        Field(
            "subjects",
            SubjectOutput(many=True, read_only=True),
            ("subject_rows",),
            lambda row, ctx: subjects_shown(row["subject_rows"]),
        ),
        text("status", "run_status"),
        text("reason", "run_reason"),
        text("key_id"),
        text("envelope_sha256"),
        text("statement_sha256"),
        moment("created"),
        _SUPERSEDED_BY,
        Field(
            "chain_seq",
            serializers.IntegerField(read_only=True, allow_null=True),
            ("chain_entry__id", "chain_entry__seq"),
            lambda row, ctx: row["chain_entry__seq"] if row["chain_entry__id"] else None,
        ),
        # Made from every column the verdict reads (``reads.verify.VERIFY_COLUMNS``).
        Field("verified", serializers.BooleanField(read_only=True), VERIFY_COLUMNS, _verified),
        link("url", "api:attestation-detail", "id"),
        link("envelope_url", "api:attestation-envelope", "id"),
        link("statement_url", "api:attestation-statement", "id"),
        link("run_url", "api:record-detail", "run__uid"),
    ],
)

ATTESTATION_DETAIL = ATTESTATION.extend(
    "AttestationDetailOutput",
    plain("settings", serializers.JSONField(read_only=True)),
    Field(
        "supersedes",
        serializers.ListField(child=serializers.IntegerField(), read_only=True),
        ("id",),
        lambda row, ctx: ctx.supersedes.get(row["id"], []),
    ),
    Field(
        "problems",
        serializers.ListField(child=serializers.CharField(), read_only=True),
        ("id",),
        _problems,
    ),
    Field("reasons", ReasonOutput(many=True, read_only=True), ("id",), _reasons),
    link("bundle_url", "api:attestation-bundle", "id"),
    Field(
        "publications",
        PublicationOutput(many=True, read_only=True),
        ("id",),
        _publications,
    ),
    # Worth knowing, not failing: e.g. key-revoked-later (signed before its key was revoked).
    Field("notes", ReasonOutput(many=True, read_only=True), ("id",), _notes),
)

# =============================================================================================
# Artifacts


def _digest(row: Row) -> str:
    return f"{row['algorithm']}:{row['hex']}"


ARTIFACT = Shape(
    "ArtifactOutput",
    [
        _ID,
        text("uri"),
        text("algorithm"),
        text("hex"),
        Field(
            "digest",
            serializers.CharField(read_only=True),
            ("algorithm", "hex"),
            lambda row, ctx: _digest(row),
        ),
        Field(
            "namespaces",
            serializers.ListField(child=serializers.CharField(), read_only=True),
            ("visible_namespaces",),
            lambda row, ctx: list(row["visible_namespaces"]),
        ),
        plain("attestation_count", serializers.IntegerField(read_only=True)),
        link("url", "api:artifact-detail", "id"),
        Field(
            "attestations_url",
            serializers.CharField(read_only=True),
            ("algorithm", "hex"),
            lambda row, ctx: ctx.links.url("api:artifact-attestations-jsonl", _digest(row)),
        ),
    ],
)

# The schema of the detail outputs; their nested lists are rendered by the views, with the same
# shapes (``record_detail``, ``artifact_detail``).
RECORD_DETAIL = RECORD.extend(
    "RecordDetailOutput",
    Field("children", RECORD.serializer(many=True, read_only=True), (), lambda row, ctx: []),
    Field(
        "attestations",
        ATTESTATION_BRIEF.serializer(many=True, read_only=True),
        (),
        lambda row, ctx: [],
    ),
)
ARTIFACT_DETAIL = ARTIFACT.extend(
    "ArtifactDetailOutput",
    Field(
        "attestations",
        ATTESTATION.serializer(many=True, read_only=True),
        (),
        lambda row, ctx: [],
    ),
)


def record_detail(
    record: Row, children: Iterable[Row], attestations: Iterable[Row], ctx: Context
) -> dict[str, Any]:
    out = RECORD.render_one(record, ctx)
    out["children"] = RECORD.render(children, ctx)
    out["attestations"] = ATTESTATION_BRIEF.render(attestations, ctx)
    return out


def artifact_detail(artifact: Row, attestations: Iterable[Row], ctx: Context) -> dict[str, Any]:
    out = ARTIFACT.render_one(artifact, ctx)
    out["attestations"] = ATTESTATION.render(attestations, ctx)
    return out
