"""The dashboard's one search box: digests (full or prefix, with or without ``alg:``), image
references (``name@sha256:…``, ``name:tag``), git commits, run and pipeline names.

Whatever names an artifact — its full digest, a prefix of it, ``name@digest``, ``name:tag`` —
lists the attestations *of* it the same way: those whose signed subjects are that artifact (per
run and per artifact alike), found through the subject table, never by where a text happens to
appear in a statement. Only a git commit, which is not a subject, is looked for in statement
texts ("mentioning it"), and a tag, which is never signed, only orders the image's attestations.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from django.db.models import (
    BooleanField,
    Case,
    Count,
    F,
    Func,
    Max,
    Q,
    QuerySet,
    TextField,
    Value,
    When,
)

from provenance.core.digests import ALGORITHM, MIN_PREFIX, read_digest
from provenance.models import Artifact, Attestation, RunKind, RunRecord

from .artifacts import visible_artifacts
from .attestations import listed, naming
from .runs import RUN_LIST_FIELDS
from .visibility import visible

# Search reads the statements of this many most recent visible attestations for a git commit or
# an image tag (statements are not indexed); older ones are found by digest, name or run.
SEARCH_STATEMENT_WINDOW = 2000
SEARCH_GROUP_LIMIT = 20
SEARCH_MAX_LENGTH = 300  # the search form's limit; a longer query is refused, not cut
IMAGE_DIGEST_REF = re.compile(rf"^(?P<name>[^@\s]+)@(?P<digest>{ALGORITHM}:\S+)$")
IMAGE_TAG_REF = re.compile(r"^(?P<name>[^\s:@]+(?::\d+)?/[^\s:@]+):(?P<tag>[\w][\w.-]{0,127})$")


@dataclass
class DigestHit:
    algorithm: str
    hex: str
    uris: list[str]


@dataclass
class SearchResults:
    query: str
    understood: list[str] = field(default_factory=list)
    digests: list[DigestHit] = field(default_factory=list)
    artifacts: list[Artifact] = field(default_factory=list)
    # Attestations whose subject is the artifact searched for; then those (others) whose
    # statement mentions the text searched for (a git commit).
    attestations_of: list[Attestation] = field(default_factory=list)
    attestations: list[Attestation] = field(default_factory=list)
    runs: list[RunRecord] = field(default_factory=list)
    pipelines: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return (
            len(self.digests)
            + len(self.artifacts)
            + len(self.attestations_of)
            + len(self.attestations)
            + len(self.runs)
            + len(self.pipelines)
        )


def _digest_hits(
    namespaces: set[str] | None, algorithm: str | None, prefix: str
) -> list[DigestHit]:
    if len(prefix) < MIN_PREFIX:
        return []
    qs = visible_artifacts(namespaces).filter(hex__startswith=prefix)
    if algorithm:
        qs = qs.filter(algorithm=algorithm)
    hits: dict[tuple[str, str], DigestHit] = {}
    for uri, alg, hex_value in qs.values_list("uri", "algorithm", "hex").order_by("hex", "uri")[
        :200
    ]:
        hit = hits.setdefault((alg, hex_value), DigestHit(alg, hex_value, []))
        if uri not in hit.uris:
            hit.uris.append(uri)
    return list(hits.values())[:SEARCH_GROUP_LIMIT]


_STATEMENT_TEXT = Func(
    F("statement"), Value("UTF8"), function="convert_from", output_field=TextField()
)


def _attestations_of(
    namespaces: set[str] | None, artifacts: QuerySet[Artifact], mentioning: str = ""
) -> list[Attestation]:
    """Visible attestations with a subject among ``artifacts``, newest first; with
    ``mentioning``, those of the most recent (bounded window) whose statement contains it
    first, each annotated ``mentions``."""
    qs = visible(Attestation.objects.filter(naming(artifacts)), namespaces)
    if not mentioning:
        return list(listed(qs).order_by("-id")[:SEARCH_GROUP_LIMIT])
    window = qs.order_by("-id").values("id")[:SEARCH_STATEMENT_WINDOW]
    mentions = Case(
        When(statement_text__contains=mentioning, then=Value(True)),
        default=Value(False),
        output_field=BooleanField(),
    )
    return list(
        listed(Attestation.objects.filter(id__in=window))
        .annotate(statement_text=_STATEMENT_TEXT)
        .annotate(mentions=mentions)
        .order_by("-mentions", "-id")[:SEARCH_GROUP_LIMIT]
    )


def _statements_containing(
    namespaces: set[str] | None, text: str, other_than: list[Attestation]
) -> list[Attestation]:
    """Recent visible attestations (bounded window) whose statement contains ``text``, but
    for those already listed (``other_than``)."""
    recent = visible(Attestation.objects.all(), namespaces)
    window = recent.order_by("-id").values("id")[:SEARCH_STATEMENT_WINDOW]
    return list(
        listed(Attestation.objects.filter(id__in=window))
        .exclude(id__in=[a.pk for a in other_than])
        .annotate(statement_text=_STATEMENT_TEXT)
        .filter(statement_text__contains=text)
        .order_by("-id")[:SEARCH_GROUP_LIMIT]
    )


def search_results(query: str, *, namespaces: set[str] | None) -> SearchResults:
    """What the search box finds for ``query`` among what the caller may see."""
    text = query.strip()[:SEARCH_MAX_LENGTH]
    results = SearchResults(query=text)
    if not text:
        return results
    lowered = text.lower()
    ref = IMAGE_DIGEST_REF.match(lowered)
    ref_digest = read_digest(ref["digest"]) if ref is not None else None
    tag_ref = IMAGE_TAG_REF.match(text)
    pair = read_digest(lowered)
    if ref is not None and ref_digest is not None:
        results.understood.append("an image reference by digest")
        name = text[: text.index("@")]
        algorithm, hex_value = ref_digest
        results.digests = _digest_hits(namespaces, algorithm, hex_value)
        named = visible_artifacts(namespaces).filter(
            uri=name, algorithm=algorithm, hex__startswith=hex_value
        )
        results.artifacts = list(named.order_by("uri")[:SEARCH_GROUP_LIMIT])
        results.attestations_of = _attestations_of(namespaces, named)
    elif pair is not None and len(pair[1]) >= MIN_PREFIX:
        explicit = ":" in lowered
        results.understood.append("a digest" + ("" if explicit else " (or a prefix)"))
        results.digests = _digest_hits(namespaces, pair[0] if explicit else None, pair[1])
        digests = visible_artifacts(namespaces).filter(hex__startswith=pair[1])
        if explicit:
            digests = digests.filter(algorithm=pair[0])
        results.attestations_of = _attestations_of(namespaces, digests)
        if not explicit and 7 <= len(pair[1]) <= 40:
            results.understood.append("a git commit")
            results.attestations = _statements_containing(
                namespaces, pair[1], results.attestations_of
            )
            results.notes.append(
                f"Git commits are looked up in the statements of the {SEARCH_STATEMENT_WINDOW} "
                "most recent attestations you can see."
            )
    elif tag_ref is not None:
        results.understood.append("an image reference by tag")
        image = visible_artifacts(namespaces).filter(uri=tag_ref["name"])
        results.artifacts = list(image.order_by("uri", "hex")[:SEARCH_GROUP_LIMIT])
        # A tag is never signed (statements name digests) and can move: list every attestation
        # of the image, those whose statement mentions the tag (a version or a commit in the
        # parameters, say) first.
        tag = tag_ref["tag"]
        results.attestations_of = _attestations_of(namespaces, image, mentioning=tag)
        mentioning = sum(1 for a in results.attestations_of if getattr(a, "mentions", False))
        results.notes.append(
            f"A tag is not part of what is signed and can move: these are the attestations of "
            f"every digest of {tag_ref['name']}. "
            + (
                f"{mentioning} of them mention {tag} in their statement and are listed first"
                if mentioning
                else f"None of their statements mentions {tag}"
            )
            + f" (of the {SEARCH_STATEMENT_WINDOW} most recent attestations of the image)."
        )
    if len(text) >= 2 and ref_digest is None:
        if not results.artifacts:
            results.artifacts = list(
                visible_artifacts(namespaces)
                .filter(uri__icontains=text)
                .order_by("uri", "hex")[:SEARCH_GROUP_LIMIT]
            )
        results.runs = list(
            visible(RunRecord.objects.only(*RUN_LIST_FIELDS), namespaces)
            .filter(Q(name__icontains=text) | Q(uid=text))
            .order_by(F("start_time").desc(nulls_last=True), "-id")[:SEARCH_GROUP_LIMIT]
        )
        results.pipelines = [
            dict(row)
            for row in visible(RunRecord.objects.filter(kind=RunKind.PIPELINE_RUN), namespaces)
            .filter(definition__icontains=text)
            .values("definition", "namespace")
            .annotate(runs=Count("id"), latest=Max("start_time"))
            .order_by("definition", "namespace")[:SEARCH_GROUP_LIMIT]
        ]
        if results.runs or results.pipelines:
            results.understood.append("a run or pipeline name")
    return results
