"""The dashboard's one search box: digests (full or prefix, with or without ``alg:``), image
references (``name@sha256:…``, ``name:tag``), git commits, run and pipeline names."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, F, Func, Max, Q, TextField, Value

from provenance.core.digests import ALGORITHM, MIN_PREFIX, read_digest
from provenance.models import Artifact, Attestation, RunKind, RunRecord

from .artifacts import visible_artifacts
from .attestations import listed
from .runs import RUN_LIST_FIELDS
from .visibility import visible

# Search reads the statements of this many most recent visible attestations for a git commit or
# an image tag (statements are not indexed); older ones are found by digest, name or run.
SEARCH_STATEMENT_WINDOW = 2000
SEARCH_GROUP_LIMIT = 20
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
    attestations: list[Attestation] = field(default_factory=list)
    runs: list[RunRecord] = field(default_factory=list)
    pipelines: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return (
            len(self.digests)
            + len(self.artifacts)
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


def _statements_containing(
    namespaces: set[str] | None, text: str, subject_uri: str = ""
) -> list[Attestation]:
    """Recent visible attestations whose statement contains ``text`` (bounded window), and
    with ``subject_uri``, only those naming that subject."""
    recent = visible(Attestation.objects.all(), namespaces)
    if subject_uri:
        recent = recent.filter(subjects__uri=subject_uri)
    window = recent.order_by("-id").values("id")[:SEARCH_STATEMENT_WINDOW]
    decoded = Func(F("statement"), Value("UTF8"), function="convert_from", output_field=TextField())
    return list(
        listed(Attestation.objects.filter(id__in=window))
        .annotate(statement_text=decoded)
        .filter(statement_text__contains=text)
        .order_by("-id")[:SEARCH_GROUP_LIMIT]
    )


def search_results(query: str, *, namespaces: set[str] | None) -> SearchResults:
    """What the search box finds for ``query`` among what the caller may see."""
    text = query.strip()[:300]
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
        results.artifacts = list(
            visible_artifacts(namespaces)
            .filter(uri=name, algorithm=algorithm, hex__startswith=hex_value)
            .order_by("uri")[:SEARCH_GROUP_LIMIT]
        )
    elif pair is not None and len(pair[1]) >= MIN_PREFIX:
        explicit = ":" in lowered
        results.understood.append("a digest" + ("" if explicit else " (or a prefix)"))
        results.digests = _digest_hits(namespaces, pair[0] if explicit else None, pair[1])
        if not explicit and 7 <= len(pair[1]) <= 40:
            results.understood.append("a git commit")
            results.attestations = _statements_containing(namespaces, pair[1])
            results.notes.append(
                f"Git commits are looked up in the statements of the {SEARCH_STATEMENT_WINDOW} "
                "most recent attestations you can see."
            )
    elif tag_ref is not None:
        results.understood.append("an image reference by tag")
        results.artifacts = list(
            visible_artifacts(namespaces)
            .filter(uri=tag_ref["name"])
            .order_by("uri", "hex")[:SEARCH_GROUP_LIMIT]
        )
        # Statements record digests, not tags: a tag is usually a version or a commit, which
        # the statement does carry (parameters, resolved dependencies), so look for the tag
        # among attestations of that image.
        results.attestations = _statements_containing(
            namespaces, tag_ref["tag"], subject_uri=tag_ref["name"]
        )
        results.notes.append(
            f"Tags are looked up in the statements of the {SEARCH_STATEMENT_WINDOW} most recent "
            "attestations you can see; a tag can move, the digest is what was signed."
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
