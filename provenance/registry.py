"""OCI registry client: chainsweb's only egress.

Everything chainsweb sends outside its own cluster services goes through this module, and only
the publishing queue calls it: the web app and the signing workers never open a connection to a
registry. It speaks the OCI distribution API v2 (https://github.com/opencontainers/
distribution-spec/blob/main/spec.md) over urllib3:

- authentication: anonymous; HTTP basic with credentials from a docker ``config.json``
  (``auths.<host>.auth`` = base64 ``user:password``, or ``username``/``password``); bearer tokens
  per the distribution token spec (``WWW-Authenticate: Bearer realm=...,service=...,scope=...``,
  a GET on the realm with the basic credentials, ``token``/``access_token`` in the answer).
  Credential helpers (``credsStore``, ``credHelpers``) are programs to run; they are not used.
- TLS with the system roots or ``SSL_CERT_FILE``; ``insecure`` means unverified TLS, or plain
  HTTP when the registry does not speak TLS (local registries);
- blobs: HEAD to skip what is there, then POST + PUT (monolithic upload); manifests by tag.

Errors say whether trying again can help: ``RetryableRegistryError`` (connection refused or
reset, timeout, 429, 5xx, a tag that changed under us) or ``PermanentRegistryError`` (401/403
after authenticating, 404 on a push, a bad reference, a TLS certificate that does not verify).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    InsecureRequestWarning,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)

from provenance.core.oci_layout import (
    DOCKER_MANIFEST_LIST,
    MANIFEST_TYPES,
    OCI_INDEX,
    ImageDigest,
    Layer,
    OciLayoutError,
    Repository,
    append_layer,
    attestation_layer,
    layers_of,
    sha256_digest,
    signature_layer,
)

DEFAULT_TIMEOUT = 15.0
USER_AGENT = "chainsweb"
DOCKER_HUB_HOSTS = ("index.docker.io", "docker.io", "registry-1.docker.io")
# Indexes too: a tag holding one must be seen (and refused), not taken for an absent tag.
ACCEPTED_TYPES = (*MANIFEST_TYPES, OCI_INDEX, DOCKER_MANIFEST_LIST)
MAX_MANIFEST = 4 * 1024 * 1024  # the distribution spec's advised limit
_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')


class RegistryError(Exception):
    """A registry operation failed; ``retryable`` says whether trying later can help."""

    retryable = False


class RetryableRegistryError(RegistryError):
    retryable = True


class PermanentRegistryError(RegistryError):
    pass


class RegistryAuthError(PermanentRegistryError):
    """Refused (401/403) even with the credentials we have, or none were found."""


# --- configuration -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RegistryOptions:
    """How to reach registries: credentials by host, TLS roots, insecure mode, timeout."""

    credentials: Mapping[str, tuple[str, str]] = field(default_factory=dict, repr=False)
    ca_file: str | None = None
    insecure: bool = False
    timeout: float = DEFAULT_TIMEOUT

    @classmethod
    def from_environ(
        cls, environ: Mapping[str, str], *, insecure: bool = False, timeout: float = DEFAULT_TIMEOUT
    ) -> RegistryOptions:
        """Credentials from ``REGISTRY_AUTH_FILE`` (podman, skopeo), else
        ``$DOCKER_CONFIG/config.json``, else ``~/.docker/config.json``; roots from
        ``SSL_CERT_FILE``."""
        path: Path | None = None
        if environ.get("REGISTRY_AUTH_FILE"):
            path = Path(environ["REGISTRY_AUTH_FILE"])
        elif environ.get("DOCKER_CONFIG"):
            path = Path(environ["DOCKER_CONFIG"]) / "config.json"
        elif environ.get("HOME") and (Path(environ["HOME"]) / ".docker/config.json").exists():
            path = Path(environ["HOME"]) / ".docker/config.json"
        credentials = docker_credentials(_read_config(path)) if path else {}
        return cls(
            credentials=credentials,
            ca_file=environ.get("SSL_CERT_FILE") or None,
            insecure=insecure,
            timeout=timeout,
        )


def _read_config(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text())
    except OSError as exc:
        raise PermanentRegistryError(f"cannot read registry credentials {path}: {exc}") from None
    except ValueError:
        raise PermanentRegistryError(f"registry credentials {path} are not JSON") from None
    if not isinstance(doc, dict):
        raise PermanentRegistryError(f"registry credentials {path} are not a JSON object")
    return doc


def _host_of(key: str) -> str:
    """``https://index.docker.io/v1/`` and ``host:port`` alike → ``host:port``."""
    host = urlsplit(key if "://" in key else "//" + key).netloc or key
    return "index.docker.io" if host in DOCKER_HUB_HOSTS else host


def docker_credentials(config: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    """``auths`` of a docker ``config.json`` as {host: (user, password)}."""
    auths = config.get("auths") or {}
    if not isinstance(auths, dict):
        raise PermanentRegistryError("registry credentials: auths is not an object")
    found: dict[str, tuple[str, str]] = {}
    for key, entry in auths.items():
        if not isinstance(entry, dict):
            continue
        user, password = entry.get("username"), entry.get("password")
        if isinstance(entry.get("auth"), str) and entry["auth"]:
            try:
                user, _, password = (
                    base64.b64decode(entry["auth"], validate=True).decode().partition(":")
                )
            except (ValueError, UnicodeDecodeError):
                raise PermanentRegistryError(
                    f"registry credentials: auth for {key} is not base64 user:password"
                ) from None
        if isinstance(user, str) and isinstance(password, str) and user:
            found[_host_of(key)] = (user, password)
    return found


# --- the client --------------------------------------------------------------------------------


@dataclass
class _Auth:
    """What a registry asked for at ``/v2/``, and the bearer tokens got so far, by scope."""

    scheme: str  # "https" or "http"
    kind: str = ""  # "", "basic" or "bearer"
    realm: str = ""
    service: str = ""
    tokens: dict[str, str] = field(default_factory=dict, repr=False)


class RegistryClient:
    """A connection pool to registries; one per worker process is enough."""

    def __init__(self, options: RegistryOptions) -> None:
        self.options = options
        timeout = urllib3.Timeout(connect=options.timeout, read=options.timeout)
        tls: dict[str, Any] = {"cert_reqs": "CERT_REQUIRED"}
        if options.ca_file:
            tls["ca_certs"] = options.ca_file
        if options.insecure:
            tls = {"cert_reqs": "CERT_NONE", "assert_hostname": False}
            # Asked for explicitly, per namespace; a warning on every request would be noise.
            urllib3.disable_warnings(InsecureRequestWarning)
        self._pool = urllib3.PoolManager(timeout=timeout, retries=False, **tls)
        self._hosts: dict[str, _Auth] = {}

    # -- transport ------------------------------------------------------------------------------

    def _send(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None = None
    ) -> urllib3.BaseHTTPResponse:
        host = urlsplit(url).netloc
        try:
            return self._pool.request(
                method,
                url,
                body=body,
                headers={"User-Agent": USER_AGENT, **headers},
                redirect=False,
                preload_content=True,
            )
        except SSLError as exc:
            raise PermanentRegistryError(f"TLS with {host} failed: {_reason(exc)}") from None
        except HTTPError as exc:  # refused, reset, timed out, DNS: all may pass
            raise RetryableRegistryError(f"cannot reach {host}: {_reason(exc)}") from None

    def _api_host(self, repo: Repository) -> str:
        return "registry-1.docker.io" if repo.host == "index.docker.io" else repo.host

    def _ping(self, host: str) -> _Auth:
        """``GET /v2/``: which scheme works (insecure mode may fall back to HTTP) and which
        authentication the registry wants."""
        known = self._hosts.get(host)
        if known is not None:
            return known
        schemes = ["https", "http"] if self.options.insecure else ["https"]
        response = None
        for scheme in schemes:
            try:
                response = self._send("GET", f"{scheme}://{host}/v2/", {})
            except PermanentRegistryError:  # TLS refused: a plain-HTTP registry, if insecure
                if scheme == schemes[-1]:
                    raise
                continue
            except RetryableRegistryError:
                if scheme == schemes[-1]:
                    raise
                continue
            auth = _Auth(scheme=scheme)
            if response.status == 401:
                _parse_challenge(response.headers.get("WWW-Authenticate", ""), auth)
            elif response.status == 404:
                raise PermanentRegistryError(
                    f"{host} does not serve the registry API (/v2/ is 404)"
                )
            elif response.status >= 500 or response.status == 429:
                raise RetryableRegistryError(f"{host} answered HTTP {response.status} on /v2/")
            self._hosts[host] = auth
            return auth
        raise RetryableRegistryError(f"cannot reach {host}")  # pragma: no cover - loop returns

    def _authorization(self, host: str, auth: _Auth, scope: str) -> dict[str, str]:
        credentials = self.options.credentials.get(_host_of(host))
        if auth.kind == "basic":
            if credentials is None:
                raise RegistryAuthError(
                    f"{host} wants a login and the registry credentials have none for it"
                )
            return {"Authorization": "Basic " + _basic(credentials)}
        if auth.kind == "bearer":
            if scope not in auth.tokens:
                auth.tokens[scope] = self._token(host, auth, scope, credentials)
            return {"Authorization": "Bearer " + auth.tokens[scope]}
        return {}

    def _token(
        self, host: str, auth: _Auth, scope: str, credentials: tuple[str, str] | None
    ) -> str:
        query = urlencode(
            {"service": auth.service, "scope": scope} if auth.service else {"scope": scope}
        )
        headers = {"Authorization": "Basic " + _basic(credentials)} if credentials else {}
        response = self._send("GET", f"{auth.realm}?{query}", headers)
        if response.status in (401, 403):
            who = f"as {credentials[0]}" if credentials else "anonymously"
            raise RegistryAuthError(
                f"the token service of {host} refused {scope} {who} (HTTP {response.status})"
            )
        _raise_for_status(response, f"token for {host}")
        try:
            answer = json.loads(response.data)
            token = answer.get("token") or answer.get("access_token")
        except (ValueError, AttributeError):
            token = None
        if not isinstance(token, str) or not token:
            raise PermanentRegistryError(f"the token service of {host} gave no token")
        return token

    def _call(
        self,
        method: str,
        repo: Repository,
        path: str,
        *,
        push: bool,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        url: str | None = None,
    ) -> urllib3.BaseHTTPResponse:
        host = self._api_host(repo)
        auth = self._ping(host)
        scope = f"repository:{repo.path}:{'pull,push' if push else 'pull'}"
        target = url or f"{auth.scheme}://{host}/v2/{repo.path}/{path}"
        # An upload Location on another host (object storage) gets no registry credentials.
        if urlsplit(target).netloc != host:
            response = self._send(method, target, headers or {}, body)
            _raise_for_status(response, f"{repo.name} upload", push=True)
            return response
        response = self._send(
            method, target, {**(headers or {}), **self._authorization(host, auth, scope)}, body
        )
        if response.status == 401 and auth.kind != "basic":
            # A registry may ask for auth only on some paths, or a token may have expired.
            _parse_challenge(response.headers.get("WWW-Authenticate", ""), auth)
            auth.tokens.pop(scope, None)
            if auth.kind:
                response = self._send(
                    method,
                    target,
                    {**(headers or {}), **self._authorization(host, auth, scope)},
                    body,
                )
        if response.status in (401, 403):
            raise RegistryAuthError(
                f"{repo.name}: {'push' if push else 'pull'} refused (HTTP {response.status}"
                f"{_error_detail(response)})"
            )
        return response

    # -- blobs and manifests --------------------------------------------------------------------

    def blob_exists(self, repo: Repository, digest: str) -> bool:
        response = self._call("HEAD", repo, f"blobs/{digest}", push=True)
        if response.status == 404:
            return False
        _raise_for_status(response, f"{repo.name}@{digest}")
        return True

    def blob_push(self, repo: Repository, data: bytes) -> str:
        """Upload ``data`` unless the repository has it; its digest."""
        digest = sha256_digest(data)
        if self.blob_exists(repo, digest):
            return digest
        started = self._call("POST", repo, "blobs/uploads/", push=True, body=b"")
        _raise_for_status(started, f"upload to {repo.name}", push=True)
        location = started.headers.get("Location")
        if not location:
            raise PermanentRegistryError(f"{repo.name}: the upload answer has no Location")
        auth = self._hosts[self._api_host(repo)]
        upload = urljoin(f"{auth.scheme}://{self._api_host(repo)}/", location)
        upload += ("&" if "?" in upload else "?") + urlencode({"digest": digest})
        done = self._call(
            "PUT",
            repo,
            "",
            push=True,
            url=upload,
            body=data,
            headers={"Content-Type": "application/octet-stream"},
        )
        _raise_for_status(done, f"upload to {repo.name}", push=True)
        return digest

    def manifest_get(self, repo: Repository, reference: str) -> tuple[bytes, str] | None:
        """The manifest at a tag or digest and its media type, or None when there is none."""
        response = self._call(
            "GET",
            repo,
            f"manifests/{reference}",
            push=True,
            headers={"Accept": ", ".join(ACCEPTED_TYPES)},
        )
        if response.status == 404:
            return None
        _raise_for_status(response, f"{repo.name}:{reference}")
        if len(response.data) > MAX_MANIFEST:
            raise PermanentRegistryError(f"{repo.name}:{reference}: the manifest is too large")
        return response.data, response.headers.get("Content-Type", "")

    def manifest_put(
        self, repo: Repository, reference: str, manifest: bytes, media_type: str
    ) -> str:
        response = self._call(
            "PUT",
            repo,
            f"manifests/{reference}",
            push=True,
            body=manifest,
            headers={"Content-Type": media_type},
        )
        _raise_for_status(response, f"{repo.name}:{reference}", push=True)
        return response.headers.get("Docker-Content-Digest") or sha256_digest(manifest)


def _basic(credentials: tuple[str, str]) -> str:
    return base64.b64encode(f"{credentials[0]}:{credentials[1]}".encode()).decode()


def _parse_challenge(header: str, auth: _Auth) -> None:
    kind, _, params = header.strip().partition(" ")
    values = dict(_CHALLENGE_PARAM.findall(params))
    if kind.lower() == "basic":
        auth.kind = "basic"
    elif kind.lower() == "bearer" and values.get("realm"):
        auth.kind, auth.realm, auth.service = "bearer", values["realm"], values.get("service", "")


def _reason(exc: Exception) -> str:
    """A short cause, without urllib3's object reprs."""
    # NewConnectionError is a ConnectTimeoutError subclass in urllib3: test it first.
    if isinstance(exc, NameResolutionError):
        return "unknown host"
    if isinstance(exc, NewConnectionError):
        return "connection refused" if "refused" in str(exc).lower() else "cannot connect"
    if isinstance(exc, ReadTimeoutError):
        return "timed out waiting for an answer"
    if isinstance(exc, ConnectTimeoutError):
        return "timed out connecting"
    if isinstance(exc, ProtocolError):
        return "connection broken"
    return str(getattr(exc, "reason", None) or exc)


def _error_detail(response: urllib3.BaseHTTPResponse) -> str:
    """``: CODE message`` from the distribution error body, when there is one."""
    try:
        errors = json.loads(response.data).get("errors") or []
        first = errors[0]
        return f": {first.get('code', '')} {first.get('message', '')}".rstrip()
    except (ValueError, AttributeError, IndexError, TypeError):
        return ""


def _raise_for_status(response: urllib3.BaseHTTPResponse, what: str, push: bool = False) -> None:
    status = response.status
    if status < 300:
        return
    detail = _error_detail(response)
    if status == 429 or status >= 500:
        raise RetryableRegistryError(f"{what}: HTTP {status}{detail}")
    if status == 404 and push:
        raise PermanentRegistryError(f"{what}: the repository does not exist (HTTP 404{detail})")
    raise PermanentRegistryError(f"{what}: HTTP {status}{detail}")


# --- publishing --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Publication:
    """Where a layer is: ``reference`` (``repo:sha256-<hex>.att``), the manifest digest, the
    layer digest, and whether this call added it (False: it was already there)."""

    reference: str
    manifest_digest: str
    layer_digest: str
    appended: bool


def _publish(client: RegistryClient, repo: Repository, tag: str, layer: Layer) -> Publication:
    reference = f"{repo.name}:{tag}"
    try:
        existing = client.manifest_get(repo, tag)
        plan = append_layer(existing, layer, reference)
        if plan.manifest is None or plan.config is None:
            assert existing is not None
            return Publication(reference, sha256_digest(existing[0]), layer.digest, False)
        client.blob_push(repo, layer.data)
        client.blob_push(repo, plan.config)
        digest = client.manifest_put(repo, tag, plan.manifest, plan.media_type)
        # Appending is read-modify-write; if another writer replaced the tag in between, our
        # layer is gone and a retry appends it to theirs.
        stored = client.manifest_get(repo, tag)
        if stored is None or not any(
            x["digest"] == layer.digest for x in layers_of(stored[0], stored[1], reference)
        ):
            raise RetryableRegistryError(f"{reference} changed while publishing")
    except OciLayoutError as exc:
        raise PermanentRegistryError(str(exc)) from None
    return Publication(reference, digest, layer.digest, True)


def attestation_publish(
    client: RegistryClient,
    *,
    envelope: bytes,
    predicate_type: str,
    image: ImageDigest,
    target: Repository | None = None,
) -> Publication:
    """Attach a DSSE envelope to ``image`` at ``sha256-<hex>.att``, in ``target`` when set
    (Chains' ``storage.oci.repository``), else in the image's own repository."""
    return _publish(
        client,
        target or image.repository,
        image.tag("att"),
        attestation_layer(envelope, predicate_type),
    )


def signature_publish(
    client: RegistryClient,
    *,
    payload: bytes,
    signature: bytes,
    image: ImageDigest,
    target: Repository | None = None,
) -> Publication:
    """Attach a cosign image signature (``simple_signing_payload(image)`` and its signature) to
    ``image`` at ``sha256-<hex>.sig``."""
    return _publish(
        client, target or image.repository, image.tag("sig"), signature_layer(payload, signature)
    )
