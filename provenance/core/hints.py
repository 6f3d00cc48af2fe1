"""Type hinting: which results name artifacts, and which of those are valid (spec §6).

Everything here is a pure function of a run's results. Invalid hints are dropped silently, as
Chains does; they never fail the statement.
"""

from __future__ import annotations

import ipaddress
import re
import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .digests import IMAGE_REFERENCE_DIGEST, parse_digest
from .tekton import Result

IMAGE_URL = "IMAGE_URL"
IMAGE_DIGEST = "IMAGE_DIGEST"
IMAGES = "IMAGES"
ARTIFACT_URI = "ARTIFACT_URI"
ARTIFACT_DIGEST = "ARTIFACT_DIGEST"
ARTIFACT_INPUTS = "ARTIFACT_INPUTS"
ARTIFACT_OUTPUTS = "ARTIFACT_OUTPUTS"
GIT_URL = "CHAINS-GIT_URL"
GIT_COMMIT = "CHAINS-GIT_COMMIT"

DEFAULT_REGISTRY = "index.docker.io"
_REPOSITORY_CHARS = re.compile(r"[a-z0-9_\-./]{2,255}")
_TAG = re.compile(r"[A-Za-z0-9_.\-]{1,128}")
# ASCII characters Go's net/url accepts in a host, and an optional ":port".
_HOST_CHARS = frozenset("!\"$&'()*+,-.:;<=>[]_~" + string.ascii_letters + string.digits)
_PORT = re.compile(r"(:[0-9]*)?")


@dataclass(frozen=True, slots=True)
class Artifact:
    """An artifact named by a hint: a subject name or material URI and one digest."""

    uri: str
    algorithm: str
    hex: str

    @property
    def digest(self) -> dict[str, str]:
        return {self.algorithm: self.hex}


# --- validation --------------------------------------------------------------------------------


def image_repository(reference: str) -> tuple[str, str] | None:
    """Parse ``repo[:tag]@sha256:<hex>`` like go-containerregistry's ``name.NewDigest``.

    Returns the normalised repository name (registry defaulted to ``index.docker.io`` and
    ``library/`` added for single-component Docker Hub names, tag dropped) and the hex digest.
    """
    parts = reference.split("@")
    if len(parts) != 2:
        return None
    base, digest = parts
    if not IMAGE_REFERENCE_DIGEST.fullmatch(digest):
        return None
    # A valid tag is dropped; when the tag part does not parse, Go goes on with the whole name
    # (which then fails as a repository, a ':' being no repository character).
    repository = _tagged_repository(base) or _repository_name(base)
    if repository is None:
        return None
    return repository, digest.removeprefix("sha256:")


def _tagged_repository(name: str) -> str | None:
    """``name.NewTag``: the repository name of ``repo[:tag]``, or None when it does not parse."""
    parts = name.split(":")
    base = name
    if len(parts) > 1 and "/" not in parts[-1]:
        base, tag = ":".join(parts[:-1]), parts[-1]
        if not _TAG.fullmatch(tag):
            return None
    return _repository_name(base)


def _repository_name(name: str) -> str | None:
    """``name.NewRepository(name).Name()``, or None when Go refuses the name."""
    if not name:
        return None
    registry = ""
    repo = name
    first, sep, rest = name.partition("/")
    if sep and (first == "localhost" or "." in first or ":" in first):
        registry, repo = first, rest
    if not _REPOSITORY_CHARS.fullmatch(repo) or not _is_uri_authority(registry):
        return None
    if registry in ("", "docker.io"):
        registry = DEFAULT_REGISTRY
    if "/" not in repo and registry == DEFAULT_REGISTRY:
        repo = "library/" + repo
    return f"{registry}/{repo}"


def _is_uri_authority(registry: str) -> bool:
    """go-containerregistry's ``checkRegistry``: Go's ``url.Parse("//" + registry).Host`` must
    give the registry back unchanged (``pkg:oci`` is refused: ``oci`` is not a port)."""
    if not registry:
        return True
    if any(char in "#?%" or char < " " or char == "\x7f" for char in registry):
        return False
    if any(char.isascii() and char not in _HOST_CHARS for char in registry):
        return False
    if registry.rfind("[") > 0:
        return False
    if registry.startswith("["):
        close = registry.rfind("]")
        if close < 0 or not _PORT.fullmatch(registry[close + 1 :]):
            return False
        try:
            return ipaddress.ip_address(registry[1:close]).version == 6
        except ValueError:
            return False
    colon = registry.rfind(":")
    return colon < 0 or bool(_PORT.fullmatch(registry[colon:]))


# --- extraction --------------------------------------------------------------------------------


def _pairs(results: Sequence[Result], url_suffix: str, digest_suffix: str) -> list[tuple[str, str]]:
    # Pairs keyed by the free marker before the suffix. Chains keeps them in a Go map, so its
    # order over several pairs is random; we keep first-occurrence order.
    pairs: dict[str, list[str]] = {}
    for result in results:
        value = result.string_value
        for suffix, slot in ((url_suffix, 0), (digest_suffix, 1)):
            if result.name.endswith(suffix) and value:
                marker = result.name[: -len(suffix)]
                pairs.setdefault(marker, ["", ""])[slot] = value.strip()
    return [(url, digest) for url, digest in pairs.values() if url and digest]


def _split_images(value: str) -> list[str]:
    return [item.strip() for item in re.split(r"[,\n]", value) if item.strip()]


def build_artifact_outputs(results: Sequence[Result]) -> list[Artifact]:
    """``*ARTIFACT_OUTPUTS`` objects marked ``isBuildArtifact: "true"`` with a valid uri/digest."""
    found = []
    for result in results:
        obj = result.object_value
        if result.name.endswith(ARTIFACT_OUTPUTS) and obj and obj.get("isBuildArtifact") == "true":
            artifact = _structured(obj)
            if artifact is not None:
                found.append(artifact)
    return found


def structured_artifacts(results: Sequence[Result], suffix: str) -> list[Artifact]:
    """Valid ``*ARTIFACT_INPUTS`` or ``*ARTIFACT_OUTPUTS`` objects, marker or not."""
    found = []
    for result in results:
        obj = result.object_value
        if result.name.endswith(suffix) and obj is not None:
            artifact = _structured(obj)
            if artifact is not None:
                found.append(artifact)
    return found


def input_artifacts(results: Sequence[Result]) -> list[Artifact]:
    """Valid ``*ARTIFACT_INPUTS`` with the digest as parsed (algorithm lower-cased, hex trimmed),
    which is how Chains writes them as materials."""
    found = []
    for artifact in structured_artifacts(results, ARTIFACT_INPUTS):
        parsed = parse_digest(f"{artifact.algorithm}:{artifact.hex}")
        assert parsed is not None  # structured_artifacts only returns valid digests
        found.append(Artifact(artifact.uri, parsed[0], parsed[1]))
    return found


def _structured(obj: dict[str, str]) -> Artifact | None:
    uri = obj.get("uri", "")
    digest = obj.get("digest", "")
    if not uri or not digest or parse_digest(digest) is None:
        return None
    # The subject keeps the digest text as written (Chains splits the raw string).
    algorithm, hex_part = digest.split(":")
    return Artifact(uri, algorithm, hex_part)


def images(results: Sequence[Result], include_build_artifacts: bool = True) -> list[Artifact]:
    """Output images: ``*IMAGE_URL``/``*IMAGE_DIGEST`` pairs, ``IMAGES``, and build-artifact
    outputs that parse as image references, all normalised (spec §6.1, §6.3)."""
    found = []
    for url, digest in _pairs(results, IMAGE_URL, IMAGE_DIGEST):
        parsed = image_repository(f"{url}@{digest}")
        if parsed is not None:
            found.append(Artifact(parsed[0], "sha256", parsed[1]))
    for result in results:
        if result.name == IMAGES:
            for reference in _split_images(result.string_value):
                parsed = image_repository(reference)
                if parsed is not None:
                    found.append(Artifact(parsed[0], "sha256", parsed[1]))
    if include_build_artifacts:
        for artifact in build_artifact_outputs(results):
            parsed = image_repository(f"{artifact.uri}@{artifact.algorithm}:{artifact.hex}")
            if parsed is not None:
                found.append(Artifact(parsed[0], "sha256", parsed[1]))
    return found


def artifact_uri_pairs(results: Sequence[Result]) -> list[Artifact]:
    """``*ARTIFACT_URI``/``*ARTIFACT_DIGEST`` pairs with a valid digest (raw uri kept)."""
    found = []
    for uri, digest in _pairs(results, ARTIFACT_URI, ARTIFACT_DIGEST):
        if parse_digest(digest) is None:
            continue
        algorithm, _, hex_part = digest.partition(":")
        found.append(Artifact(uri, algorithm, hex_part))
    return found


def subjects_v02(results: Sequence[Result]) -> list[Artifact]:
    """Subjects of one run for slsa/v1 and slsa/v2alpha3: images, URI pairs, outputs."""
    return merge(
        [
            *images(results),
            *artifact_uri_pairs(results),
            *structured_artifacts(results, ARTIFACT_OUTPUTS),
        ]
    )


def subjects_build_artifacts(results: Sequence[Result]) -> list[Artifact]:
    """Subjects of one result list for slsa/v2alpha4: build-artifact outputs, then images."""
    return merge([*build_artifact_outputs(results), *images(results)])


def is_subject_result(result: Result) -> bool:
    """v2alpha4: results that are never byproducts because they are (or try to be) subjects."""
    name = result.name
    if name.endswith(IMAGE_URL) or name.endswith(IMAGE_DIGEST) or name == IMAGES:
        return True
    if name.endswith(ARTIFACT_OUTPUTS):
        obj = result.object_value
        return obj is None or obj.get("isBuildArtifact") == "true"
    return False


def git_source(sources: Iterable[Iterable[tuple[str, object]]]) -> tuple[str, str]:
    """``CHAINS-GIT_URL``/``CHAINS-GIT_COMMIT`` from (name, value) lists; later sources win.

    Chains reads ``ParamValue.StringVal``: an array or object value (or none) counts as ``""``.
    """
    url = commit = ""
    for source in sources:
        for name, value in source:
            if not isinstance(value, str):
                value = ""
            if name == GIT_URL:
                url = value
            elif name == GIT_COMMIT:
                commit = value
    return url, commit


# --- de-duplication ----------------------------------------------------------------------------


def merge(artifacts: Iterable[Artifact]) -> list[Artifact]:
    """Drop exact duplicates (same uri and digest), keeping first-occurrence order."""
    return list(dict.fromkeys(artifacts))
