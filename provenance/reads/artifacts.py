"""Artifacts (a subject name and digest): the lists of the artifacts page and the API, one
artifact, and the names a digest goes by.

An artifact is visible when an attestation the caller may see names it (``seen``); its counts
and namespaces count only those attestations.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.postgres.aggregates import ArrayAgg
from django.db.models import Count, Exists, F, Max, OuterRef, Q, QuerySet

from provenance.core.digests import MIN_PREFIX, parse_query, read_digest
from provenance.models import Artifact, Attestation

from .attestations import SUBJECT_LINKS
from .visibility import in_namespaces, visible


def seen(namespaces: set[str] | None, namespace: str | None = None) -> Exists:
    """An artifact is named by an attestation the caller may see (in ``namespace``, if given).

    Two nested EXISTS (the link table, then the attestation by primary key) rather than one over
    a join: with the join, Postgres misjudges the semi-join and scans the whole artifact and link
    tables for a digest prefix search (tests/test_query_plans.py).
    """
    links = SUBJECT_LINKS.filter(artifact_id=OuterRef("pk"))
    if namespaces is not None or namespace:
        attestation = visible(Attestation.objects.filter(pk=OuterRef("attestation_id")), namespaces)
        if namespace:
            attestation = attestation.filter(namespace=namespace)
        links = links.filter(Exists(attestation))
    return Exists(links)


def visible_artifacts(
    namespaces: set[str] | None, namespace: str | None = None
) -> QuerySet[Artifact]:
    return Artifact.objects.filter(seen(namespaces, namespace))


def _counted(namespaces: set[str] | None, namespace: str | None = None) -> Q:
    """The attestations an artifact's counts take in."""
    condition = in_namespaces(namespaces, "attestations__namespace")
    if namespace:
        condition &= Q(attestations__namespace=namespace)
    return condition


def _visible_namespaces(counted: Q) -> ArrayAgg:
    """The namespaces of an artifact's attestations that ``counted`` keeps, sorted, once each."""
    return ArrayAgg(
        "attestations__namespace",
        filter=counted,
        distinct=True,
        order_by="attestations__namespace",
        default=[],
    )


def _annotate(qs: QuerySet[Artifact], namespaces: set[str] | None) -> QuerySet[Artifact]:
    counted = _counted(namespaces)
    return qs.annotate(
        visible_namespaces=_visible_namespaces(counted),
        attestation_count=Count("attestations", filter=counted, distinct=True),
    )


def artifact_list(
    *,
    namespaces: set[str] | None,
    digest: str | None = None,
    digest_prefix: str | None = None,
    uri: str | None = None,
    namespace: str | None = None,
) -> QuerySet[Artifact]:
    """The API's artifacts: visible, newest first, annotated with ``visible_namespaces`` and
    ``attestation_count`` (counting only attestations the caller may see)."""
    qs = visible_artifacts(namespaces, namespace)
    if digest:
        algorithm, hex_value = parse_query(digest, "digest")
        qs = qs.filter(algorithm=algorithm, hex=hex_value)
    if digest_prefix:
        algorithm, hex_value = parse_query(digest_prefix, "digest_prefix", prefix=True)
        qs = qs.filter(algorithm=algorithm, hex__startswith=hex_value)
    if uri:
        qs = qs.filter(uri=uri)
    return _annotate(qs, namespaces).order_by("-id")


def artifact_get(*, pk: int, namespaces: set[str] | None) -> QuerySet[Artifact]:
    """One visible artifact (an empty queryset when unknown or invisible), annotated as in
    ``artifact_list``."""
    return _annotate(visible_artifacts(namespaces).filter(pk=pk), namespaces)


def artifact_search(
    *,
    namespaces: set[str] | None,
    text: str = "",
    namespace: str = "",
    attested_after: datetime | None = None,
    attested_before: datetime | None = None,
) -> QuerySet[Artifact]:
    """The artifacts page: visible artifacts whose name contains ``text`` or whose digest
    starts with it, most recently attested first, with their visible and current counts;
    ``attested_after``/``_before`` bound when each was last attested."""
    qs = visible_artifacts(namespaces, namespace or None)
    text = text.strip()
    if text:
        match = Q(uri__icontains=text)
        pair = read_digest(text)
        if pair is not None and len(pair[1]) >= MIN_PREFIX:
            match |= Q(algorithm=pair[0], hex__startswith=pair[1])
        qs = qs.filter(match)
    counted = _counted(namespaces, namespace or None)
    qs = qs.annotate(
        attestation_count=Count("attestations", filter=counted, distinct=True),
        current_count=Count(
            "attestations",
            filter=counted & Q(attestations__superseded_by__isnull=True),
            distinct=True,
        ),
        latest=Max("attestations__created", filter=counted),
    )
    if attested_after:
        qs = qs.filter(latest__gte=attested_after)
    if attested_before:
        qs = qs.filter(latest__lte=attested_before)
    return qs.order_by(F("latest").desc(nulls_last=True), "uri", "id")


def artifact_export(**filters: Any) -> QuerySet[Artifact]:
    """``artifact_search`` with each artifact's visible namespaces (the export's rows)."""
    found = artifact_search(**filters)
    counted = _counted(filters["namespaces"], filters.get("namespace") or None)
    return found.annotate(visible_namespaces=_visible_namespaces(counted))


def digest_names(namespaces: set[str] | None, algorithm: str, hex_value: str) -> list[str]:
    """The visible names of one digest, sorted."""
    qs = visible_artifacts(namespaces).filter(algorithm=algorithm, hex=hex_value)
    return sorted(qs.values_list("uri", flat=True))
