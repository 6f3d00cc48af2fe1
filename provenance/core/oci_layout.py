"""cosign's registry layout for attestations and image signatures, as pure data.

For an image ``repo@sha256:<hex>``, cosign (and Chains' ``oci`` storage, legacy "dsse" format)
keeps, in the image's repository or in a configured one:

- ``sha256-<hex>.att``: an OCI image whose layers are DSSE envelopes (media type
  ``application/vnd.dsse.envelope.v1+json``), each annotated with an empty
  ``dev.cosignproject.cosign/signature`` and its ``predicateType``;
- ``sha256-<hex>.sig``: an OCI image whose layers are simple-signing payloads
  (``application/vnd.dev.cosign.simplesigning.v1+json``), the base64 signature of each in the
  ``dev.cosignproject.cosign/signature`` annotation.

A new layer is appended to what the tag already holds; a layer whose digest is already there is
not added again (Chains' dedup check). The image config is rebuilt from the layer list the way
go-containerregistry's ``mutate.Append`` leaves it (one ``diff_ids`` and ``history`` entry per
layer, zero timestamps), so publishing the same layers twice gives the same manifest.

Nothing here does I/O; ``provenance.registry`` moves these bytes.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from .errors import ProvenanceError
from .hints import image_repository

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)

DSSE_LAYER = "application/vnd.dsse.envelope.v1+json"
SIMPLE_SIGNING_LAYER = "application/vnd.dev.cosign.simplesigning.v1+json"
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
PREDICATE_TYPE_ANNOTATION = "predicateType"
COSIGN_SIGNATURE_TYPE = "cosign container image signature"

_ZERO_TIME = "0001-01-01T00:00:00Z"
_REPOSITORY_PATH = re.compile(
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
)
_HOST = re.compile(r"[A-Za-z0-9.-]+(?::[0-9]{1,5})?|\[[0-9a-fA-F:]+\](?::[0-9]{1,5})?")
_HEX = re.compile(r"[a-f0-9]{64}")


class OciLayoutError(ProvenanceError):
    """A reference or a stored manifest that cannot be used (never worth a retry)."""


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True, slots=True)
class Repository:
    """A repository: ``host[:port]`` and the path under it (``index.docker.io`` for Hub)."""

    host: str
    path: str

    @property
    def name(self) -> str:
        return f"{self.host}/{self.path}"

    @classmethod
    def parse(cls, value: str) -> Repository:
        """``host[:port]/path`` exactly (Chains' ``storage.oci.repository``): a registry host is
        required, there is no Docker Hub defaulting and no tag or digest."""
        host, sep, path = value.strip().partition("/")
        if not sep or not _HOST.fullmatch(host) or not _REPOSITORY_PATH.fullmatch(path):
            raise OciLayoutError(f"{value!r} is not a repository (expected host[:port]/path)")
        return cls(host=host, path=path)


@dataclass(frozen=True, slots=True)
class ImageDigest:
    """An image by digest: the subject an attestation or signature is about."""

    repository: Repository
    hex: str

    @property
    def digest(self) -> str:
        return f"sha256:{self.hex}"

    @classmethod
    def from_subject(cls, name: str, hex_digest: str) -> ImageDigest:
        """From an attestation subject (Chains names an image subject by its repository, as
        go-containerregistry normalises it) and its sha256."""
        if not _HEX.fullmatch(hex_digest):
            raise OciLayoutError(f"{hex_digest!r} is not a sha256 hex digest")
        parsed = image_repository(f"{name.removeprefix('oci://')}@sha256:{hex_digest}")
        if parsed is None:
            raise OciLayoutError(f"{name!r} is not an image repository")
        host, _, path = parsed[0].partition("/")
        return cls(repository=Repository(host=host, path=path), hex=hex_digest)

    def tag(self, suffix: str) -> str:
        """``sha256-<hex>.<suffix>``: cosign's tag for what is attached to this image."""
        return f"sha256-{self.hex}.{suffix}"


def image_subject(uri: str, algorithm: str, hex_value: str) -> ImageDigest | None:
    """The image a subject names, or None when it is not an OCI image.

    Chains names image subjects as go-containerregistry normalises them: an explicit registry
    host, no scheme, no tag (``index.docker.io/library/busybox``). Anything else (a file name,
    a git or package URL, a bare ``busybox``) is not published.
    """
    if algorithm != "sha256" or "://" in uri or "/" not in uri:
        return None
    host = uri.split("/", 1)[0]
    if not ("." in host or ":" in host or host == "localhost"):
        return None
    try:
        image = ImageDigest.from_subject(uri, hex_value)
    except OciLayoutError:
        return None
    return image if image.repository.name == uri else None


@dataclass(frozen=True, slots=True)
class Layer:
    """A layer to attach: its exact bytes, media type and annotations."""

    data: bytes = field(repr=False)
    media_type: str
    annotations: Mapping[str, str]

    @property
    def digest(self) -> str:
        return sha256_digest(self.data)

    def descriptor(self) -> dict[str, Any]:
        return {
            "mediaType": self.media_type,
            "size": len(self.data),
            "digest": self.digest,
            "annotations": dict(self.annotations),
        }


def attestation_layer(envelope: bytes, predicate_type: str) -> Layer:
    """A DSSE envelope as cosign attaches it in ``.att`` (``cosign attest``)."""
    return Layer(
        data=envelope,
        media_type=DSSE_LAYER,
        annotations={SIGNATURE_ANNOTATION: "", PREDICATE_TYPE_ANNOTATION: predicate_type},
    )


def simple_signing_payload(image: ImageDigest) -> bytes:
    """The payload cosign and Chains sign for an image (sigstore's ``payload.Cosign``): Go's
    ``json.Marshal`` of the struct, so field order and compact form are fixed."""
    return orjson.dumps(
        {
            "critical": {
                "identity": {"docker-reference": image.repository.name},
                "image": {"docker-manifest-digest": image.digest},
                "type": COSIGN_SIGNATURE_TYPE,
            },
            "optional": None,
        }
    )


def signature_layer(payload: bytes, signature: bytes) -> Layer:
    """A simple-signing payload and its signature, as cosign attaches them in ``.sig``."""
    return Layer(
        data=payload,
        media_type=SIMPLE_SIGNING_LAYER,
        annotations={SIGNATURE_ANNOTATION: base64.b64encode(signature).decode()},
    )


@dataclass(frozen=True, slots=True)
class Appended:
    """The manifest and config to write, or nothing when the layer is already there."""

    manifest: bytes | None
    config: bytes | None
    media_type: str


def _config(layer_digests: list[str]) -> bytes:
    return orjson.dumps(
        {
            "architecture": "",
            "created": _ZERO_TIME,
            "history": [{"created": _ZERO_TIME} for _ in layer_digests],
            "os": "",
            "rootfs": {"type": "layers", "diff_ids": layer_digests},
            "config": {},
        }
    )


def layers_of(manifest: bytes, media_type: str, reference: str) -> list[dict[str, Any]]:
    """The layer descriptors of a stored signature image; OciLayoutError if it is not one."""
    try:
        doc = orjson.loads(manifest)
    except orjson.JSONDecodeError:
        raise OciLayoutError(f"{reference} holds a manifest that is not JSON") from None
    kind = doc.get("mediaType", media_type) if isinstance(doc, dict) else None
    if kind not in MANIFEST_TYPES or not isinstance(doc.get("layers"), list):
        raise OciLayoutError(f"{reference} holds a {kind or 'non-manifest'}, not an image manifest")
    layers = doc["layers"]
    if not all(isinstance(x, dict) and isinstance(x.get("digest"), str) for x in layers):
        raise OciLayoutError(f"{reference} holds a manifest with malformed layers")
    return list(layers)


def append_layer(existing: tuple[bytes, str] | None, layer: Layer, reference: str) -> Appended:
    """The manifest (and config) that has the existing layers plus ``layer``.

    ``existing`` is the stored manifest and its media type, or None when the tag is new. An
    existing Docker-typed manifest stays Docker-typed, so older readers keep reading it.
    """
    media_type = OCI_MANIFEST
    layers: list[dict[str, Any]] = []
    if existing is not None:
        layers = layers_of(existing[0], existing[1], reference)
        media_type = orjson.loads(existing[0]).get("mediaType", existing[1])
        if any(x["digest"] == layer.digest for x in layers):
            return Appended(manifest=None, config=None, media_type=media_type)
    layers.append(layer.descriptor())
    config = _config([x["digest"] for x in layers])
    manifest = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": {
            "mediaType": DOCKER_CONFIG if media_type == DOCKER_MANIFEST else OCI_CONFIG,
            "size": len(config),
            "digest": sha256_digest(config),
        },
        "layers": layers,
    }
    return Appended(manifest=orjson.dumps(manifest), config=config, media_type=media_type)
