"""A real OCI registry for tests: Debian's ``docker-registry`` (the CNCF distribution registry).

Each instance runs on a free loopback port with its storage in a temporary folder, optionally
behind htpasswd basic auth, behind bearer tokens from a small token service (the distribution
token spec: ES256 JWTs with an ``x5c`` certificate the registry trusts), or over TLS. Also here:
a TCP proxy that answers slowly, and skopeo to read back what was pushed, as an independent
client.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import ipaddress
import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

from tests.local_http import send_json

REGISTRY_BIN = "/usr/bin/docker-registry"
SKOPEO = "/usr/bin/skopeo"
USER, PASSWORD = "ci-bot", "s3cret-pass"
SERVICE, ISSUER = "registry.test", "chainsweb-test-token-service"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def self_signed(common_name: str, folder: Path, ip: str | None = None) -> tuple[Path, Path]:
    """A self-signed P-256 certificate (and key), valid for ``ip`` when given."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    )
    if ip:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]), critical=False
        )
    cert = builder.sign(key, hashes.SHA256())
    cert_file, key_file = folder / f"{common_name}.crt", folder / f"{common_name}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


class TokenService:
    """Issues registry tokens to USER/PASSWORD for whatever scope is asked (distribution's
    token spec), signed with a key whose certificate the registry has as root bundle."""

    def __init__(self, folder: Path) -> None:
        self.cert_file, key_file = self_signed("token-signer", folder)
        self.key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
        cert = x509.load_pem_x509_certificate(self.cert_file.read_bytes())
        self.x5c = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
        self.requests: list[dict[str, str]] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.realm = f"http://127.0.0.1:{self.server.server_port}/token"

    def token(self, scope: str) -> str:
        def b64url(data: bytes) -> str:
            return base64.urlsafe_b64encode(data).decode().rstrip("=")

        access = []
        if scope:
            kind, name, actions = scope.split(":")
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "sub": USER,
            "aud": SERVICE,
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": base64.b16encode(str(time.monotonic_ns()).encode()).decode(),
            "access": access,
        }
        header = {"typ": "JWT", "alg": "ES256", "x5c": [self.x5c]}
        signing_input = (
            f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
        )
        assert isinstance(self.key, ec.EllipticCurvePrivateKey)
        r, s = decode_dss_signature(
            self.key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
        )
        return f"{signing_input}.{b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        service = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                query = {k: v[-1] for k, v in parse_qs(urlsplit(self.path).query).items()}
                service.requests.append(query)
                expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
                if self.headers.get("Authorization") != expected:
                    return send_json(self, 401, {"errors": [{"code": "UNAUTHORIZED"}]})
                send_json(self, 200, {"token": service.token(query.get("scope", ""))})

        return Handler

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Registry:
    """One docker-registry process; ``host`` is ``127.0.0.1:<port>``."""

    folder: Path
    auth: str = ""  # "", "htpasswd" or "token"
    tls: bool = False
    readonly: bool = False
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    ca_file: Path | None = None
    tokens: TokenService | None = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def config(self) -> str:
        lines = [
            "version: 0.1",
            "log: {level: error, accesslog: {disabled: true}}",
            "storage:",
            f"  filesystem: {{rootdirectory: {self.folder / 'storage'}}}",
        ]
        if self.readonly:
            lines.append("  maintenance: {readonly: {enabled: true}}")
        lines += ["http:", f"  addr: {self.host}", "  secret: not-a-secret-only-a-test"]
        if self.tls:
            cert, key = self_signed("registry", self.folder, ip="127.0.0.1")
            self.ca_file = cert
            lines.append(f"  tls: {{certificate: {cert}, key: {key}}}")
        if self.auth == "htpasswd":
            entry = subprocess.run(
                ["htpasswd", "-Bbn", USER, PASSWORD], check=True, capture_output=True, text=True
            ).stdout.strip()
            (self.folder / "htpasswd").write_text(entry + "\n")
            lines += ["auth:", f"  htpasswd: {{realm: test, path: {self.folder / 'htpasswd'}}}"]
        elif self.auth == "token":
            self.tokens = TokenService(self.folder)
            lines += [
                "auth:",
                f"  token: {{realm: '{self.tokens.realm}', service: {SERVICE}, issuer: {ISSUER}, "
                f"rootcertbundle: {self.tokens.cert_file}}}",
            ]
        return "\n".join(lines) + "\n"

    def start(self) -> Registry:
        config = self.folder / "config.yml"
        if not config.exists():
            config.write_text(self.config())
        self.process = subprocess.Popen(
            [REGISTRY_BIN, "serve", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"docker-registry exited: {self.process.stderr.read()!r}")  # type: ignore[union-attr]
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5),
            ):
                return self
            time.sleep(0.05)
        raise RuntimeError(f"docker-registry did not listen on {self.host}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.tokens is not None:
            self.tokens.close()
            self.tokens = None

    # -- reading back with skopeo ---------------------------------------------------------------

    def _skopeo_args(self) -> list[str]:
        args = ["--tls-verify=false"]
        if self.auth:
            args.append(f"--creds={USER}:{PASSWORD}")
        return args

    def raw_manifest(self, reference: str) -> dict[str, Any]:
        out = subprocess.run(
            [SKOPEO, "inspect", "--raw", *self._skopeo_args(), f"docker://{self.host}/{reference}"],
            check=True,
            capture_output=True,
        ).stdout
        return dict(json.loads(out))

    def pull(self, reference: str, into: Path) -> dict[str, Any]:
        """``skopeo copy`` to a ``dir:`` layout; the manifest, with each layer's bytes under
        ``_blob`` of its descriptor."""
        if into.exists():
            shutil.rmtree(into)
        src = ["--src-tls-verify=false"] + ([f"--src-creds={USER}:{PASSWORD}"] if self.auth else [])
        subprocess.run(
            [SKOPEO, "copy", "--quiet", *src, f"docker://{self.host}/{reference}", f"dir:{into}"],
            check=True,
            capture_output=True,
        )
        manifest = json.loads((into / "manifest.json").read_text())
        for layer in manifest["layers"]:
            layer["_blob"] = (into / layer["digest"].removeprefix("sha256:")).read_bytes()
        return dict(manifest)


@contextlib.contextmanager
def running_registry(folder: Path, **kwargs: Any) -> Iterator[Registry]:
    folder.mkdir(parents=True, exist_ok=True)
    registry = Registry(folder=folder, **kwargs).start()
    try:
        yield registry
    finally:
        registry.stop()


class SlowProxy:
    """A TCP proxy to ``target`` that holds every answer back for ``delay`` seconds."""

    def __init__(self, target_port: int, delay: float) -> None:
        self.target_port, self.delay = target_port, delay
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.closing = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closing.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with client, socket.create_connection(("127.0.0.1", self.target_port)) as upstream:
            threading.Thread(target=self._pump, args=(client, upstream, 0.0), daemon=True).start()
            self._pump(upstream, client, self.delay)

    def _pump(self, src: socket.socket, dst: socket.socket, delay: float) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                if delay:
                    time.sleep(delay)
                dst.sendall(data)

    def close(self) -> None:
        self.closing.set()
        self.listener.close()
