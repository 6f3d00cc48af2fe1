"""Comparing two attestations (the compare page and ``GET /api/v1/attestations/<id>/diff``), and
the attestation an artifact's history compares with: the previous build of the same image.

``head`` is the attestation the reader is on, ``base`` the one it is compared with: the diff
reads from ``base`` to ``head`` (what changed going from the older to the newer, when the
links are followed).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Case, QuerySet, Subquery, Value, When

from provenance.core.statement_diff import StatementDiff, statement_diff
from provenance.core.statements import StatementError
from provenance.models import Artifact, Attestation

from .attestations import attestation_get, naming
from .visibility import visible


@dataclass(frozen=True, slots=True)
class Comparison:
    head: Attestation
    base: Attestation
    diff: StatementDiff | None
    error: str = ""

    @property
    def settings_changed(self) -> bool:
        return bool(self.head.settings != self.base.settings)


def attestation_compare(*, pk: int, other: int, namespaces: set[str] | None) -> Comparison | None:
    """``pk`` (head) against ``other`` (base); None when either is unknown or invisible, so a
    caller cannot tell one from the other."""
    head = attestation_get(pk=pk, namespaces=namespaces)
    base = attestation_get(pk=other, namespaces=namespaces)
    if head is None or base is None:
        return None
    try:
        diff = statement_diff(
            bytes(base.statement),
            bytes(head.statement),
            before_settings=base.settings if isinstance(base.settings, dict) else None,
            after_settings=head.settings if isinstance(head.settings, dict) else None,
            labels=(f"attestation #{base.pk}", f"attestation #{head.pk}"),
        )
    except StatementError as exc:
        return Comparison(head, base, None, str(exc))
    return Comparison(head, base, diff)


def previous_build(pk: int, namespaces: set[str] | None) -> int | None:
    """The current attestation of the previous build of the image(s) attestation ``pk`` names:
    in its namespace, of another run that started before its run, naming a subject of the same
    name with another digest; of the same scope first. None when there is none. One query."""
    this = Attestation.objects.filter(pk=pk)
    names = Artifact.objects.filter(attestations=pk)
    others = Artifact.objects.filter(uri__in=names.values("uri")).exclude(
        hex__in=names.values("hex")
    )
    qs: QuerySet[Attestation] = visible(
        Attestation.objects.filter(
            naming(others),
            namespace=Subquery(this.values("namespace")[:1]),
            superseded_by__isnull=True,
            run__start_time__lt=Subquery(this.values("run__start_time")[:1]),
        ).exclude(run_id=Subquery(this.values("run_id")[:1])),
        namespaces,
    )
    same_scope = Case(
        When(scope=Subquery(this.values("scope")[:1]), then=Value(0)), default=Value(1)
    )
    return qs.order_by(same_scope, "-run__start_time", "-id").values_list("pk", flat=True).first()


def superseded_by_settings(attestation: Attestation) -> bool:
    """Was this attestation superseded because its namespace's settings changed (rather than
    its run's state)? False when it is current."""
    if attestation.superseded_by_id is None:
        return False
    newer = Attestation.objects.filter(pk=attestation.superseded_by_id)
    return bool(newer.values_list("settings", flat=True).first() != attestation.settings)
