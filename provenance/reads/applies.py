"""Which statement applies: of the attestations naming a digest, the one a reader and the
deployment gate rely on in each namespace, and what each of the others is.

Supersession is per (run, scope, subjects) (docs/backend.md), so one artifact can have several
current attestations: a per-run and a per-artifact statement of the same run after the
namespace switched scope, the statements of two runs that built the same digest, those of
other namespaces. The rule, per namespace (its settings as they are now):

1. only current (not superseded) attestations count;
2. of those, the namespace's scope (or the scope asked for) comes first, then its format;
3. then the newest (highest id, the last signed);
4. of that ranking, the first that verifies now: a row that does not verify is not a statement
   anyone signed (a row written into the database directly, say), so it cannot push a genuine
   one aside; it is set aside itself ("does not verify"). When none verifies, the first
   applies anyway, so the gate and the pages say why it fails.

With a scope asked for (the gate's ``scope=``), only that scope counts. Without one, when no
current attestation of the namespace's scope names the digest yet (a recompute still pending),
the newest current one of another scope stands in, and the sentence says so.

The artifact and attestation pages and the gate (``reads.gate``) all ask :func:`coverage`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from provenance.config import NamespaceConfig, format_label
from provenance.models import Attestation

from .attestations import attestations_naming
from .namespaces import namespace_retention
from .verify import (
    VERIFY_COLUMNS,
    KeyRing,
    check,
    key_ring,
    signed_of_row,
    subject_links,
    with_chain_link,
)

APPLIES = "applies"
OTHER_SCOPE = "other-scope"
EARLIER = "earlier"
SUPERSEDED = "superseded"
UNVERIFIED = "does-not-verify"
ROLES = (APPLIES, OTHER_SCOPE, EARLIER, UNVERIFIED, SUPERSEDED)

_COLUMNS = ("id", "namespace", "scope", "format", "superseded_by_id", "run__name")


@dataclass(frozen=True, slots=True)
class Standing:
    """One attestation naming the artifact and what it is for a reader."""

    attestation: int
    namespace: str
    scope: str
    format: str
    role: str
    text: str
    superseded_by: int | None = None


@dataclass(frozen=True, slots=True)
class Coverage:
    """One namespace's answer: the attestation that applies (None: none does) and why, in one
    sentence, and every attestation of the namespace naming the artifact, that one first."""

    namespace: str
    scope: str
    format: str
    applies: int | None
    sentence: str
    standings: tuple[Standing, ...]

    def standing_of(self, attestation: int) -> Standing | None:
        return next((s for s in self.standings if s.attestation == attestation), None)


def coverage(
    *,
    namespaces: set[str] | None,
    digest: str,
    namespace: str | None = None,
    scope: str | None = None,
) -> list[Coverage]:
    """For each visible namespace with an attestation naming ``digest`` (``alg:hex``; only
    ``namespace`` when given), which one applies; by namespace name. Two queries."""
    qs = attestations_naming(namespaces=namespaces, digest=digest)
    if namespace:
        qs = qs.filter(namespace=namespace)
    rows = list(qs.values(*_COLUMNS))
    by_namespace: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        by_namespace.setdefault(row["namespace"], []).append(row)
    configs = namespace_retention(sorted(by_namespace))
    verifies = _Verifier()
    return [
        choose(name, by_namespace[name], configs[name], scope, verifies=verifies)
        for name in sorted(by_namespace)
    ]


class _Verifier:
    """Whether one attestation verifies now (``reads.verify``), for rule 4: two queries each,
    and the key ring read once, on first use."""

    def __init__(self) -> None:
        self.ring: KeyRing | None = None

    def __call__(self, attestation: int) -> bool:
        qs = with_chain_link(Attestation.objects.filter(pk=attestation))
        row = qs.values(*VERIFY_COLUMNS).first()
        if row is None:
            return False
        self.ring = self.ring or key_ring()
        return check(signed_of_row(row, subject_links([attestation])), self.ring).ok


def choose(
    namespace: str,
    rows: Sequence[Mapping[str, Any]],
    config: NamespaceConfig,
    scope: str | None = None,
    *,
    verifies: Callable[[int], bool] | None = None,
) -> Coverage:
    """The rule (module docstring) over one namespace's rows (``_COLUMNS``); ``verifies``
    answers rule 4 (None: every row counts as verifying). It is asked in ranking order and no
    further than the first that verifies, so a digest named by many statements costs one check
    per namespace, not one per statement."""
    wanted = scope or config.scope
    current = [r for r in rows if r["superseded_by_id"] is None]
    eligible = [r for r in current if r["scope"] == wanted] if scope else current
    ranked = sorted(
        eligible,
        key=lambda r: (r["scope"] == wanted, r["format"] == config.format, r["id"]),
        reverse=True,
    )
    failing: set[int] = set()
    chosen = ranked[0] if ranked else None
    for row in ranked:
        if verifies is None or verifies(row["id"]):
            chosen = row
            break
        failing.add(row["id"])
    else:  # none verifies: the first applies still, so that what is wrong with it is said
        if chosen is not None:
            failing.discard(chosen["id"])
    label = format_label(config.format)
    settings = f"{namespace}'s settings ({wanted}, {label})"
    if scope:
        settings = f"{namespace}'s settings, {scope} statements only"
    if chosen is None:
        sentence = f"No current {wanted} attestation names this artifact in {namespace}."
        standings = [_other(r, None, wanted, namespace, scope is not None) for r in rows]
        return Coverage(namespace, wanted, config.format, None, sentence, _ordered(standings))
    sentence = f"Under {settings}, attestation #{chosen['id']} covers this artifact: "
    if chosen["scope"] != wanted:
        sentence += (
            f"no current {wanted} statement names it yet, so the newest current "
            f"{chosen['scope']} statement (run {chosen['run__name']}) stands in."
        )
    elif chosen["format"] != config.format:
        sentence += (
            f"it is the newest current {wanted} statement naming it (run "
            f"{chosen['run__name']}), signed as {format_label(chosen['format'])} before the "
            "namespace's format changed."
        )
    else:
        sentence += (
            f"it is the newest current {wanted} statement naming it (run {chosen['run__name']})."
        )
    applies = Standing(
        chosen["id"],
        namespace,
        chosen["scope"],
        chosen["format"],
        APPLIES,
        f"applies under {namespace}'s settings",
    )
    standings = [applies] + [
        _unverified(r) if r["id"] in failing else _other(r, chosen, wanted, namespace, bool(scope))
        for r in rows
        if r is not chosen
    ]
    return Coverage(namespace, wanted, config.format, chosen["id"], sentence, _ordered(standings))


def _other(
    row: Mapping[str, Any],
    chosen: Mapping[str, Any] | None,
    wanted: str,
    namespace: str,
    asked: bool,
) -> Standing:
    """What an attestation that does not apply is, in words (``asked``: ``wanted`` is the
    scope asked for, not the namespace's)."""
    run = row["run__name"]
    if row["superseded_by_id"] is not None:
        role = SUPERSEDED
        text = f"superseded by #{row['superseded_by_id']} (run {run})"
    elif row["scope"] != wanted:
        role = OTHER_SCOPE
        text = (
            f"a {row['scope']} statement of run {run}, still current because each scope is "
            f"superseded on its own, but {namespace} signs {wanted} statements"
        )
        if asked:
            text = f"a {row['scope']} statement of run {run}, not of the scope asked for ({wanted})"
    else:
        role = EARLIER
        newer = f" than #{chosen['id']}" if chosen is not None else ""
        text = f"an older current {row['scope']} statement{newer} (run {run})"
    return Standing(
        row["id"],
        row["namespace"],
        row["scope"],
        row["format"],
        role,
        text,
        row["superseded_by_id"],
    )


def _unverified(row: Mapping[str, Any]) -> Standing:
    text = (
        f"a current {row['scope']} statement of run {row['run__name']} that does not verify "
        "now (its page says why), so it cannot apply"
    )
    return Standing(row["id"], row["namespace"], row["scope"], row["format"], UNVERIFIED, text)


def _ordered(standings: list[Standing]) -> tuple[Standing, ...]:
    """The one that applies first, then current ones, then superseded, newest first."""
    rank = {APPLIES: 0, OTHER_SCOPE: 1, EARLIER: 1, UNVERIFIED: 1, SUPERSEDED: 2}
    return tuple(sorted(standings, key=lambda s: (rank[s.role], -s.attestation)))


# Subject digests of one attestation whose coverage its page says (two queries each).
SUBJECTS_SHOWN = 5


@dataclass(frozen=True, slots=True)
class SubjectCoverage:
    """For one subject digest of an attestation: the coverage in the attestation's namespace,
    what the attestation itself is there, and the other visible namespaces' coverage."""

    digest: str
    names: tuple[str, ...]
    own: Coverage | None
    this: Standing | None
    others: tuple[Coverage, ...]


def subjects_coverage(attestation: Any, namespaces: set[str] | None) -> list[SubjectCoverage]:
    """The attestation page's "which statement applies", for its first ``SUBJECTS_SHOWN``
    subject digests (a ``shown`` attestation: its ``subject_rows`` are fetched with it)."""
    names: dict[tuple[str, str], list[str]] = {}
    for row in attestation.subject_rows:
        names.setdefault((row["algorithm"], row["hex"]), []).append(row["uri"])
    found = []
    for (algorithm, hex_value), uris in list(names.items())[:SUBJECTS_SHOWN]:
        digest = f"{algorithm}:{hex_value}"
        every = coverage(namespaces=namespaces, digest=digest)
        own = next((c for c in every if c.namespace == attestation.namespace), None)
        found.append(
            SubjectCoverage(
                digest,
                tuple(uris),
                own,
                own.standing_of(attestation.pk) if own else None,
                tuple(c for c in every if c.namespace != attestation.namespace),
            )
        )
    return found
