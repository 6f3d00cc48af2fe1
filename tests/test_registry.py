"""Publishing to a real OCI registry (Debian's docker-registry), read back with skopeo and
verified with securesystemslib and cryptography against the PEM public key."""

from __future__ import annotations

import base64
import itertools
import json
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from provenance.core import dsse
from provenance.core.oci_layout import (
    DSSE_LAYER,
    OCI_MANIFEST,
    SIGNATURE_ANNOTATION,
    SIMPLE_SIGNING_LAYER,
    ImageDigest,
    Repository,
    simple_signing_payload,
)
from provenance.core.signing import KeySigner, generate_private_key_pem, load_public_key
from provenance.registry import (
    PermanentRegistryError,
    RegistryAuthError,
    RegistryClient,
    RegistryOptions,
    RetryableRegistryError,
    attestation_publish,
    docker_credentials,
    signature_publish,
)
from tests.core.test_dsse import sslib_verify
from tests.registry_server import (
    PASSWORD,
    USER,
    Registry,
    SlowProxy,
    free_port,
    running_registry,
)

SLSA_V1 = "https://slsa.dev/provenance/v1"
_names = itertools.count()


def statement(n: int) -> bytes:
    return json.dumps(
        {"_type": "https://in-toto.io/Statement/v1", "predicateType": SLSA_V1, "n": n}
    ).encode()


@pytest.fixture(scope="module")
def signer() -> KeySigner:
    return KeySigner.from_private_pem(generate_private_key_pem("ecdsa-p256"))


@pytest.fixture(scope="module")
def plain(tmp_path_factory) -> Iterator[Registry]:
    with running_registry(tmp_path_factory.mktemp("plain")) as registry:
        yield registry


def client_for(
    registry: Registry | None = None, *, user: str = USER, password: str = PASSWORD, **kw: Any
) -> RegistryClient:
    credentials = {registry.host: (user, password)} if registry and registry.auth else {}
    options = {"insecure": True, "timeout": 5.0, **kw}
    return RegistryClient(RegistryOptions(credentials=credentials, **options))


def image_in(registry: Registry | str) -> ImageDigest:
    host = registry if isinstance(registry, str) else registry.host
    n = next(_names)
    return ImageDigest.from_subject(f"{host}/team/app{n}", f"{n:064x}")


def att_ref(image: ImageDigest, repository: Repository | None = None) -> str:
    return f"{(repository or image.repository).path}:{image.tag('att')}"


def verify_simple_signing(public_pem: str, payload: bytes, signature_b64: str) -> None:
    key = load_public_key(public_pem)
    signature = base64.b64decode(signature_b64)
    if isinstance(key, ed25519.Ed25519PublicKey):
        key.verify(signature, payload)
    else:
        key.verify(signature, payload, ec.ECDSA(hashes.SHA256()))


# --- what lands in the registry ------------------------------------------------------------------


def test_attestation_lands_in_cosign_layout_and_verifies_with_securesystemslib(
    plain, signer, tmp_path
):
    image = image_in(plain)
    envelope = dsse.sign(statement(1), signer).to_json()
    publication = attestation_publish(
        client_for(), envelope=envelope, predicate_type=SLSA_V1, image=image
    )
    assert publication.appended
    assert publication.reference == f"{plain.host}/{att_ref(image)}"
    raw = plain.raw_manifest(att_ref(image))
    assert raw["mediaType"] == OCI_MANIFEST and raw["schemaVersion"] == 2
    (layer,) = raw["layers"]
    assert layer["mediaType"] == DSSE_LAYER
    assert layer["annotations"] == {SIGNATURE_ANNOTATION: "", "predicateType": SLSA_V1}
    pulled = plain.pull(att_ref(image), tmp_path / "att")
    blob = pulled["layers"][0]["_blob"]
    assert blob == envelope
    assert sslib_verify(blob, signer.public_key_pem, signer.key_id) == statement(1)


def test_appending_keeps_what_is_there_and_republishing_adds_nothing(plain, signer, tmp_path):
    image = image_in(plain)
    client = client_for()
    first, second = (dsse.sign(statement(n), signer).to_json() for n in (1, 2))
    attestation_publish(client, envelope=first, predicate_type=SLSA_V1, image=image)
    appended = attestation_publish(client, envelope=second, predicate_type=SLSA_V1, image=image)
    again = attestation_publish(client_for(), envelope=first, predicate_type=SLSA_V1, image=image)
    assert appended.appended and not again.appended
    assert again.manifest_digest == appended.manifest_digest
    pulled = plain.pull(att_ref(image), tmp_path / "att")
    assert [x["_blob"] for x in pulled["layers"]] == [first, second]
    for layer in pulled["layers"]:
        sslib_verify(layer["_blob"], signer.public_key_pem, signer.key_id)
    # The image config lists each layer once, in order, as go-containerregistry writes it.
    config = json.loads((tmp_path / "att" / pulled["config"]["digest"][7:]).read_bytes())
    assert config["rootfs"]["diff_ids"] == [x["digest"] for x in pulled["layers"]]


@pytest.mark.parametrize("algorithm", ["ecdsa-p256", "ed25519"])
def test_image_signature_is_cosigns_simple_signing_layer(plain, tmp_path, algorithm):
    key = KeySigner.from_private_pem(generate_private_key_pem(algorithm))
    image = image_in(plain)
    payload = simple_signing_payload(image)
    signature_publish(client_for(), payload=payload, signature=key.sign(payload), image=image)
    pulled = plain.pull(f"{image.repository.path}:{image.tag('sig')}", tmp_path / "sig")
    (layer,) = pulled["layers"]
    assert layer["mediaType"] == SIMPLE_SIGNING_LAYER
    assert json.loads(layer["_blob"]) == {
        "critical": {
            "identity": {"docker-reference": image.repository.name},
            "image": {"docker-manifest-digest": image.digest},
            "type": "cosign container image signature",
        },
        "optional": None,
    }
    verify_simple_signing(
        key.public_key_pem, layer["_blob"], layer["annotations"][SIGNATURE_ANNOTATION]
    )


def test_repository_override_takes_the_tags_and_keeps_the_image_identity(plain, signer, tmp_path):
    image = image_in("registry.example.com:5000")  # never contacted: the override replaces it
    target = Repository.parse(f"{plain.host}/signatures/store")
    client = client_for()
    attestation_publish(
        client,
        envelope=dsse.sign(statement(3), signer).to_json(),
        predicate_type=SLSA_V1,
        image=image,
        target=target,
    )
    payload = simple_signing_payload(image)
    signature_publish(
        client, payload=payload, signature=signer.sign(payload), image=image, target=target
    )
    att = plain.pull(f"signatures/store:{image.tag('att')}", tmp_path / "att")
    sig = plain.pull(f"signatures/store:{image.tag('sig')}", tmp_path / "sig")
    assert len(att["layers"]) == 1
    identity = json.loads(sig["layers"][0]["_blob"])["critical"]["identity"]
    assert identity == {"docker-reference": "registry.example.com:5000/" + image.repository.path}


# --- authentication ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def basic_auth(tmp_path_factory) -> Iterator[Registry]:
    with running_registry(tmp_path_factory.mktemp("htpasswd"), auth="htpasswd") as registry:
        yield registry


@pytest.fixture(scope="module")
def token_auth(tmp_path_factory) -> Iterator[Registry]:
    with running_registry(tmp_path_factory.mktemp("token"), auth="token") as registry:
        yield registry


def test_basic_auth_with_credentials_from_docker_config(basic_auth, signer, tmp_path):
    folder = tmp_path / "docker"
    folder.mkdir()
    auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    (folder / "config.json").write_text(json.dumps({"auths": {basic_auth.host: {"auth": auth}}}))
    options = RegistryOptions.from_environ({"DOCKER_CONFIG": str(folder)}, insecure=True)
    image = image_in(basic_auth)
    envelope = dsse.sign(statement(4), signer).to_json()
    attestation_publish(
        RegistryClient(options), envelope=envelope, predicate_type=SLSA_V1, image=image
    )
    pulled = basic_auth.pull(att_ref(image), tmp_path / "att")
    assert pulled["layers"][0]["_blob"] == envelope


def test_bearer_tokens_from_the_token_service(token_auth, signer, tmp_path):
    auth_file = tmp_path / "auth.json"
    credentials = {"username": USER, "password": PASSWORD}
    auth_file.write_text(json.dumps({"auths": {f"https://{token_auth.host}": credentials}}))
    options = RegistryOptions.from_environ({"REGISTRY_AUTH_FILE": str(auth_file)}, insecure=True)
    image = image_in(token_auth)
    envelope = dsse.sign(statement(5), signer).to_json()
    attestation_publish(
        RegistryClient(options), envelope=envelope, predicate_type=SLSA_V1, image=image
    )
    assert token_auth.tokens is not None
    scopes = {r.get("scope") for r in token_auth.tokens.requests}
    assert f"repository:{image.repository.path}:pull,push" in scopes
    assert {r.get("service") for r in token_auth.tokens.requests} == {"registry.test"}
    assert token_auth.pull(att_ref(image), tmp_path / "att")["layers"][0]["_blob"] == envelope


@pytest.mark.parametrize("registry_name", ["basic_auth", "token_auth"])
def test_wrong_or_missing_credentials_are_a_permanent_auth_error(registry_name, request, signer):
    registry = request.getfixturevalue(registry_name)
    envelope = dsse.sign(statement(6), signer).to_json()
    for client in (client_for(registry, password="wrong"), client_for(None)):
        with pytest.raises(RegistryAuthError) as info:
            attestation_publish(
                client, envelope=envelope, predicate_type=SLSA_V1, image=image_in(registry)
            )
        assert not info.value.retryable


# --- TLS ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_registry(tmp_path_factory) -> Iterator[Registry]:
    with running_registry(tmp_path_factory.mktemp("tls"), tls=True) as registry:
        yield registry


def test_tls_with_the_ca_from_ssl_cert_file(tls_registry, signer):
    assert tls_registry.ca_file is not None
    envelope = dsse.sign(statement(7), signer).to_json()
    options = RegistryOptions.from_environ({"SSL_CERT_FILE": str(tls_registry.ca_file)})
    verified = attestation_publish(
        RegistryClient(options),
        envelope=envelope,
        predicate_type=SLSA_V1,
        image=image_in(tls_registry),
    )
    assert verified.appended
    with pytest.raises(PermanentRegistryError, match="TLS with 127.0.0.1") as info:
        attestation_publish(
            RegistryClient(RegistryOptions()),
            envelope=envelope,
            predicate_type=SLSA_V1,
            image=image_in(tls_registry),
        )
    assert not info.value.retryable
    unverified = attestation_publish(
        client_for(), envelope=envelope, predicate_type=SLSA_V1, image=image_in(tls_registry)
    )
    assert unverified.appended


# --- failures: what is worth a retry ------------------------------------------------------------


def test_registry_down_is_retryable_and_a_retry_after_restart_loses_nothing(tmp_path, signer):
    registry = Registry(folder=tmp_path / "flaky")
    registry.folder.mkdir()
    image = image_in(registry)
    first, second = (dsse.sign(statement(n), signer).to_json() for n in (10, 11))
    with pytest.raises(RetryableRegistryError, match="connection refused"):
        attestation_publish(client_for(), envelope=first, predicate_type=SLSA_V1, image=image)
    registry.start()
    try:
        attestation_publish(client_for(), envelope=first, predicate_type=SLSA_V1, image=image)
        registry.stop()
        with pytest.raises(RetryableRegistryError) as info:
            attestation_publish(client_for(), envelope=second, predicate_type=SLSA_V1, image=image)
        assert info.value.retryable
        registry.start()
        attestation_publish(client_for(), envelope=second, predicate_type=SLSA_V1, image=image)
        blobs = [x["_blob"] for x in registry.pull(att_ref(image), tmp_path / "att")["layers"]]
        assert blobs == [first, second]
    finally:
        registry.stop()


def test_slow_registry_times_out_as_retryable_and_succeeds_with_patience(plain, signer):
    proxy = SlowProxy(plain.port, delay=1.5)
    try:
        host = f"127.0.0.1:{proxy.port}"
        image = image_in(host)
        envelope = dsse.sign(statement(12), signer).to_json()
        with pytest.raises(RetryableRegistryError, match="timed out"):
            attestation_publish(
                client_for(timeout=0.5), envelope=envelope, predicate_type=SLSA_V1, image=image
            )
        done = attestation_publish(
            client_for(timeout=10), envelope=envelope, predicate_type=SLSA_V1, image=image
        )
        assert done.reference.startswith(host)
    finally:
        proxy.close()
    stored = plain.raw_manifest(att_ref(image))
    assert len(stored["layers"]) == 1


@pytest.fixture
def not_a_registry(tmp_path) -> Iterator[str]:
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0),
        lambda *a: SimpleHTTPRequestHandler(*a, directory=str(tmp_path)),  # type: ignore[misc]
    )
    server.RequestHandlerClass.log_message = lambda *a: None  # type: ignore[method-assign]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_host_without_the_registry_api_is_permanent(not_a_registry, signer):
    with pytest.raises(PermanentRegistryError, match="does not serve the registry API") as info:
        attestation_publish(
            client_for(),
            envelope=dsse.sign(statement(13), signer).to_json(),
            predicate_type=SLSA_V1,
            image=image_in(not_a_registry),
        )
    assert not info.value.retryable


def test_a_read_only_registry_refuses_the_push_permanently(tmp_path, signer):
    with (
        running_registry(tmp_path / "ro", readonly=True) as registry,
        pytest.raises(PermanentRegistryError, match="HTTP 405") as info,
    ):
        attestation_publish(
            client_for(),
            envelope=dsse.sign(statement(14), signer).to_json(),
            predicate_type=SLSA_V1,
            image=image_in(registry),
        )
    assert not info.value.retryable


def test_a_port_with_nothing_behind_it_is_retryable(signer):
    image = image_in(f"127.0.0.1:{free_port()}")
    with pytest.raises(RetryableRegistryError, match="connection refused"):
        attestation_publish(
            client_for(),
            envelope=dsse.sign(statement(15), signer).to_json(),
            predicate_type=SLSA_V1,
            image=image,
        )


def test_an_index_at_the_tag_is_not_overwritten(plain, signer, tmp_path):
    image = image_in(plain)
    client = client_for()
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [],
        }
    ).encode()
    client.manifest_put(
        image.repository, image.tag("att"), index, "application/vnd.oci.image.index.v1+json"
    )
    with pytest.raises(PermanentRegistryError, match="not an image manifest"):
        attestation_publish(
            client,
            envelope=dsse.sign(statement(16), signer).to_json(),
            predicate_type=SLSA_V1,
            image=image,
        )


def test_docker_config_problems_are_permanent(tmp_path):
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(PermanentRegistryError, match="not JSON"):
        RegistryOptions.from_environ({"DOCKER_CONFIG": str(tmp_path)})
    (tmp_path / "config.json").write_text(json.dumps({"auths": {"h": {"auth": "%%%"}}}))
    with pytest.raises(PermanentRegistryError, match="not base64 user:password"):
        RegistryOptions.from_environ({"DOCKER_CONFIG": str(tmp_path)})


def test_docker_config_forms_of_credentials():
    def b64(text: str) -> str:
        return base64.b64encode(text.encode()).decode()

    found = docker_credentials(
        {
            "auths": {
                "https://index.docker.io/v1/": {"auth": b64("hub-user:pa:ss")},
                "registry.local:5000": {"username": "u", "password": "p"},
                "http://plain.example/": {"auth": b64("x:y")},
                "helper.example": {},  # a credential helper's placeholder: nothing usable
            },
            "credsStore": "desktop",
        }
    )
    assert found == {
        "index.docker.io": ("hub-user", "pa:ss"),
        "registry.local:5000": ("u", "p"),
        "plain.example": ("x", "y"),
    }
    assert "pa:ss" not in repr(RegistryOptions(credentials=found))
