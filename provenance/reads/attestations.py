"""Attestations: the filtered lists of the attestations page and the API, one attestation,
those naming a digest, those of a run.

Two shapes of the same rows: ``shown`` reads what an attestation is verified from (its bytes,
its chain entry and the entry before it, ``verify.VERIFY_COLUMNS``) and ``listed`` leaves the
bytes out, for lists that show no verdict. Both join the run (never its stored record) and
fetch each row's subjects with it, as ``subject_rows``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import OuterRef, Q, QuerySet
from django.db.models.functions import JSONObject

from provenance.core.digests import parse_query
from provenance.models import Artifact, Attestation, ChainEntry, Publication, RunRecord

from .verify import VERIFY_COLUMNS, Verdict, verified_ids, verify_rows, with_chain_link
from .visibility import visible

SUBJECT_LINKS = Attestation.subjects.through.objects
# All an attestation read shows or re-checks of its run and chain entry. The rest (the stored
# record above all, then labels and timestamps) would be read and parsed for nothing on every
# row of every page, and so would the attestation's own two internal keys.
_RUN_SHOWN = {"id", "uid", "name", "kind"}
_ENTRY_SHOWN = {
    "id",
    "attestation",
    "seq",
    "envelope_sha256",
    "prev_hash",
    "entry_hash",
    "signed_by",
    "signature",
    "created",
}
_NOT_SHOWN = (
    "subject_key",
    "inputs_digest",
    *(f"run__{f.name}" for f in RunRecord._meta.concrete_fields if f.name not in _RUN_SHOWN),
    *(
        f"chain_entry__{f.name}"
        for f in ChainEntry._meta.concrete_fields
        if f.name not in _ENTRY_SHOWN
    ),
)
# Each attestation's subjects, by name then algorithm, fetched with it: one array per row.
_SUBJECT_ROWS = ArraySubquery(
    SUBJECT_LINKS.filter(attestation_id=OuterRef("pk"))
    .order_by("artifact__uri", "artifact__algorithm")
    .values(
        row=JSONObject(uri="artifact__uri", algorithm="artifact__algorithm", hex="artifact__hex")
    )
)


def shown(qs: QuerySet[Attestation]) -> QuerySet[Attestation]:
    """The attestations with their run, subjects and all their verdict is made of."""
    qs = with_chain_link(qs.select_related("run")).defer(*_NOT_SHOWN)
    return qs.annotate(subject_rows=_SUBJECT_ROWS)


def listed(qs: QuerySet[Attestation]) -> QuerySet[Attestation]:
    """The attestations with their run and subjects, without the signed bytes."""
    run_not_shown = [f for f in _NOT_SHOWN if f.startswith("run__")]
    qs = qs.select_related("run").defer(
        "statement", "envelope", "settings", "subject_key", "inputs_digest", *run_not_shown
    )
    return qs.annotate(subject_rows=_SUBJECT_ROWS)


def naming(artifacts: QuerySet[Artifact]) -> Q:
    """Attestations with a subject among ``artifacts``: an ``id IN (subquery)`` on the link table,
    so no join that needs DISTINCT (which made Postgres sort whole tables for a page)."""
    return Q(pk__in=SUBJECT_LINKS.filter(artifact__in=artifacts).values("attestation_id"))


def attestation_list(
    *,
    namespaces: set[str] | None,
    subject_digest: str | None = None,
    subject_digest_prefix: str | None = None,
    subject_name: str | None = None,
    namespace: str | None = None,
    pipeline_run: str | None = None,
    run_id: int | None = None,
    format: str | None = None,
    scope: str | None = None,
    status: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    current: bool | None = None,
    verified: bool | None = None,
    with_bytes: bool = True,
) -> QuerySet[Attestation]:
    """Attestations visible to the caller, newest first. Bad filters raise ValueError.

    ``verified`` keeps those whose verdict (``verify``) is that, which costs one signature
    check per attestation left by the other filters (``verify.verified_ids``). ``with_bytes``
    False: the ``listed`` shape, for a page that shows no verdict.
    """
    qs = visible(Attestation.objects.all(), namespaces)
    if namespace:
        qs = qs.filter(namespace=namespace)
    if pipeline_run:
        qs = qs.filter(Q(run__name=pipeline_run) | Q(run__uid=pipeline_run))
    if run_id is not None:
        qs = qs.filter(run_id=run_id)
    if subject_digest:
        algorithm, hex_value = parse_query(subject_digest, "subject_digest")
        qs = qs.filter(naming(Artifact.objects.filter(algorithm=algorithm, hex=hex_value)))
    if subject_digest_prefix:
        algorithm, hex_value = parse_query(
            subject_digest_prefix, "subject_digest_prefix", prefix=True
        )
        prefixed = Artifact.objects.filter(algorithm=algorithm, hex__startswith=hex_value)
        qs = qs.filter(naming(prefixed))
    if subject_name:
        qs = qs.filter(naming(Artifact.objects.filter(uri=subject_name)))
    if format:
        qs = qs.filter(format=format)
    if scope:
        qs = qs.filter(scope=scope)
    if status is not None:
        qs = qs.filter(run_status=status)
    if created_after:
        qs = qs.filter(created__gte=created_after)
    if created_before:
        qs = qs.filter(created__lte=created_before)
    if current is not None:
        qs = qs.filter(superseded_by__isnull=current)
    if verified is not None:
        qs = qs.filter(pk__in=verified_ids(qs, want=verified))
    return (shown(qs) if with_bytes else listed(qs)).order_by("-id")


def attestation_get(*, pk: int, namespaces: set[str] | None) -> Attestation | None:
    """One visible attestation, ``shown`` (None for unknown and invisible alike)."""
    return visible(shown(Attestation.objects.filter(pk=pk)), namespaces).first()


def attestations_naming(
    *, namespaces: set[str] | None, digest: str, current: bool | None = None
) -> QuerySet[Attestation]:
    """Every visible attestation whose subjects include the digest (under any name), oldest
    first; ``digest`` is ``alg:hex`` (DigestError, a ValueError, otherwise)."""
    algorithm, hex_value = parse_query(digest, "digest")
    artifacts = Artifact.objects.filter(algorithm=algorithm, hex=hex_value)
    qs = visible(Attestation.objects.filter(naming(artifacts)), namespaces)
    if current is not None:
        qs = qs.filter(superseded_by__isnull=current)
    return qs.order_by("id")


def artifact_attestations(
    *, artifact_id: int, namespaces: set[str] | None
) -> QuerySet[Attestation]:
    """The visible attestations naming one artifact, newest first, ``shown``."""
    qs = visible(Attestation.objects.filter(subjects__id=artifact_id), namespaces)
    return shown(qs).order_by("-id")


def attestations_of_run(record: RunRecord) -> QuerySet[Attestation]:
    """A top-level run's attestations, of its namespace, newest first, ``listed``."""
    qs = Attestation.objects.filter(run_id=record.pk, namespace=record.namespace)
    return listed(qs).order_by("-id")


def attestation_subjects(attestations: Sequence[Attestation]) -> dict[int, list[dict[str, Any]]]:
    """Each attestation's subjects as in its statement, ``[{"name", "digest": {alg: hex}}]``
    (by name, then algorithm), for ``shown`` or ``listed`` rows: no query."""
    return {a.pk: subjects_shown(a.subject_rows) for a in attestations}  # type: ignore[attr-defined]


def subjects_shown(subject_rows: Sequence[Mapping[str, str]]) -> list[dict[str, Any]]:
    """One attestation's fetched ``subject_rows`` as ``[{"name", "digest": {alg: hex}}]``."""
    by_name: dict[str, dict[str, str]] = {}
    for row in subject_rows:
        by_name.setdefault(row["uri"], {})[row["algorithm"]] = row["hex"]
    return [{"name": n, "digest": d} for n, d in by_name.items()]


def attestation_supersedes(attestation: Attestation) -> list[int]:
    """Ids of the attestations this one replaced (one, normally)."""
    return list(attestation.supersedes.order_by("id").values_list("pk", flat=True))


def attestation_publications(attestation: Attestation) -> list[Publication]:
    """Where the attestation was (or is to be) published: per image, the .att then the .sig."""
    return list(attestation.publications.order_by("image", "kind", "pk"))


def latest_attestations(namespaces: set[str] | None, limit: int = 10) -> list[Attestation]:
    """The newest visible attestations, ``listed``."""
    return list(attestation_list(namespaces=namespaces, with_bytes=False)[:limit])


@dataclass(frozen=True, slots=True)
class Bundle:
    """The JSON Lines bundle of a digest: the envelopes of the attestations that verify,
    oldest first, and the verdicts of those left out."""

    envelopes: tuple[bytes, ...]
    left_out: tuple[Verdict, ...]

    @property
    def empty(self) -> bool:
        return not self.envelopes and not self.left_out


def attestations_bundle(
    *, namespaces: set[str] | None, digest: str, current: bool | None = None
) -> Bundle:
    """Every visible attestation naming the digest, each verified now: an attestation that
    fails its verdict is left out of the bundle, never served as if it were good."""
    naming_digest = attestations_naming(namespaces=namespaces, digest=digest, current=current)
    rows = list(with_chain_link(naming_digest).values(*VERIFY_COLUMNS))
    verdicts = verify_rows(rows)
    envelopes, left_out = [], []
    for row in rows:
        verdict = verdicts[row["id"]]
        if verdict.ok:
            envelopes.append(bytes(row["envelope"]))
        else:
            left_out.append(verdict)
    return Bundle(tuple(envelopes), tuple(left_out))
