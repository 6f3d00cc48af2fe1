"""cosign's registry layout as data: tags, layers, the simple-signing payload, appending."""

from __future__ import annotations

import json

import pytest

from provenance.core import oci_layout as oci
from provenance.core.oci_layout import ImageDigest, OciLayoutError, Repository

HEX = "ab" * 32


def test_simple_signing_payload_is_byte_for_byte_what_go_marshals():
    image = ImageDigest.from_subject("busybox", HEX)
    assert oci.simple_signing_payload(image) == (
        b'{"critical":{"identity":{"docker-reference":"index.docker.io/library/busybox"},'
        b'"image":{"docker-manifest-digest":"sha256:' + HEX.encode() + b'"},'
        b'"type":"cosign container image signature"},"optional":null}'
    )


@pytest.mark.parametrize(
    ("subject", "host", "path"),
    [
        ("busybox", "index.docker.io", "library/busybox"),
        ("docker.io/team/app", "index.docker.io", "team/app"),
        ("gcr.io/project/app:v1.2", "gcr.io", "project/app"),
        ("oci://127.0.0.1:5000/team/app", "127.0.0.1:5000", "team/app"),
    ],
)
def test_subjects_name_repositories_as_go_containerregistry_does(subject, host, path):
    image = ImageDigest.from_subject(subject, HEX)
    assert image.repository == Repository(host, path)
    assert image.tag("att") == f"sha256-{HEX}.att" and image.digest == f"sha256:{HEX}"


@pytest.mark.parametrize(
    ("subject", "hex_digest"),
    [("Not A Repo", HEX), ("gcr.io/app", "xyz"), ("gcr.io/app", HEX.upper())],
)
def test_bad_subjects_are_refused(subject, hex_digest):
    with pytest.raises(OciLayoutError):
        ImageDigest.from_subject(subject, hex_digest)


@pytest.mark.parametrize("value", ["registry.local:5000/att/store", "[::1]:5000/a", "gcr.io/p/r"])
def test_repository_override_parses(value):
    assert Repository.parse(value).name == value


@pytest.mark.parametrize("value", ["noslash", "gcr.io/", "gcr.io/UPPER", "gcr.io/a:tag", "/a/b"])
def test_repository_override_refuses_what_is_not_host_and_path(value):
    with pytest.raises(OciLayoutError, match="host\\[:port\\]/path"):
        Repository.parse(value)


def test_appending_to_nothing_then_to_itself():
    layer = oci.attestation_layer(b'{"payload":1}', "https://slsa.dev/provenance/v1")
    first = oci.append_layer(None, layer, "r:t")
    assert first.manifest is not None and first.config is not None
    manifest = json.loads(first.manifest)
    assert manifest["mediaType"] == oci.OCI_MANIFEST
    assert manifest["config"]["mediaType"] == oci.OCI_CONFIG
    assert manifest["layers"] == [layer.descriptor()]
    assert json.loads(first.config)["rootfs"]["diff_ids"] == [layer.digest]
    again = oci.append_layer((first.manifest, oci.OCI_MANIFEST), layer, "r:t")
    assert again.manifest is None
    other = oci.signature_layer(b"p", b"\x01\x02")
    both = oci.append_layer((first.manifest, oci.OCI_MANIFEST), other, "r:t")
    assert both.manifest is not None
    assert [x["digest"] for x in json.loads(both.manifest)["layers"]] == [
        layer.digest,
        other.digest,
    ]
    assert other.annotations == {oci.SIGNATURE_ANNOTATION: "AQI="}


def test_a_docker_typed_signature_image_stays_docker_typed():
    existing = {
        "schemaVersion": 2,
        "mediaType": oci.DOCKER_MANIFEST,
        "config": {"mediaType": oci.DOCKER_CONFIG, "size": 2, "digest": "sha256:" + "0" * 64},
        "layers": [
            {"mediaType": oci.SIMPLE_SIGNING_LAYER, "size": 1, "digest": "sha256:" + "1" * 64}
        ],
    }
    layer = oci.signature_layer(b"p", b"s")
    appended = oci.append_layer((json.dumps(existing).encode(), oci.DOCKER_MANIFEST), layer, "r:t")
    assert appended.manifest is not None
    manifest = json.loads(appended.manifest)
    assert manifest["mediaType"] == oci.DOCKER_MANIFEST == appended.media_type
    assert manifest["config"]["mediaType"] == oci.DOCKER_CONFIG
    assert manifest["layers"][0] == existing["layers"][0] and len(manifest["layers"]) == 2


@pytest.mark.parametrize(
    ("stored", "match"),
    [
        (b"{", "not JSON"),
        (
            json.dumps({"mediaType": oci.OCI_INDEX, "manifests": []}).encode(),
            "not an image manifest",
        ),
        (
            json.dumps({"mediaType": oci.OCI_MANIFEST, "layers": [{"size": 1}]}).encode(),
            "malformed",
        ),
        (b"[]", "not an image manifest"),
    ],
)
def test_what_is_not_a_signature_image_is_never_overwritten(stored, match):
    layer = oci.attestation_layer(b"e", "p")
    with pytest.raises(OciLayoutError, match=match):
        oci.append_layer((stored, oci.OCI_MANIFEST), layer, "r:t")
